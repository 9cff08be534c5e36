"""The tiers the suite's modules are marked with (tests/conftest.py), so that `-m "not slow"` is the quick loop."""

# The tiers of each test module: what it needs (grading: nbgrader and kernels; browser: Chromium; hub: a JupyterHub
# with Unix users; root: creates users) and whether it runs for minutes (slow). A module not named here is a unit
# module.
TIERS = {
    "test_browser": ("browser", "slow"),
    "test_colab": ("grading", "slow"),
    "test_collect": ("grading", "root"),
    "test_feedback": ("grading",),
    "test_grading_a_class": ("grading", "slow"),
    "test_grading_a_term": ("grading", "browser", "slow"),
    "test_grading_catches_mistakes": ("grading", "slow"),
    "test_grading_out_of_reach": ("grading", "slow"),
    "test_hub": ("hub", "browser", "root", "slow"),
    "test_judge": ("grading",),
    "test_lms_archives": ("grading",),
    "test_nbgrader": ("grading", "slow"),
    "test_remember": ("slow",),
    "test_sandbox": ("grading",),
    "test_validate": ("grading", "slow"),
    "test_website": ("browser", "slow"),
}

# The modules that run longest, longest first (each module's time in the junit report of the CI run of 2026-12-07:
# 373 s to 73 s; test_website, newer, placed by its own time). pytest-xdist hands whole modules to its workers in
# collection order (--no-loadscope-reorder; its default orders them by their number of tests, which put the hub's
# dozen long tests last), so the longest start first and no worker finishes alone on one at the end.
LONGEST_FIRST = ("test_grading_out_of_reach", "test_hub", "test_nbgrader", "test_grading_a_class",
                 "test_grading_catches_mistakes", "test_validate", "test_browser", "test_website", "test_grading_a_term",
                 "test_hidden_tests", "test_remember")
