"""The tiers the suite's modules are marked with (tests/conftest.py), so that `-m "not slow"` is the quick loop."""

# The tiers of each test module: what it needs (grading: nbgrader and kernels; browser: Chromium; hub: a JupyterHub
# with Unix users; root: creates users) and whether it runs for minutes (slow). A module not named here is a unit
# module.
TIERS = {
    "test_browser": ("browser", "slow"),
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
}
