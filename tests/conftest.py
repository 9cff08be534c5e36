"""Test-suite settings, applied before any notebook kernel starts.

Kernels started by nbval and nbgrader inherit this process's environment, so the
notebooks run in fast mode on scikit-learn's bundled digits (set either variable
yourself to run the suite on other settings, e.g. VAE_COURSE_DATASET=mnist).
"""
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from nbgrader.api import Gradebook

os.environ.setdefault("VAE_COURSE_FAST", "1")
os.environ.setdefault("VAE_COURSE_DATASET", "digits")
os.environ.setdefault("MPLBACKEND", "Agg")
# Two pytest workers share two cores: one PyTorch thread per process, in the workers and in every
# kernel they start, so that their threads do not fight over the cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]

# The tiers of each test module: what it needs (grading: nbgrader and kernels; browser: Chromium; hub: a JupyterHub
# with Unix users; root: creates users) and whether it runs for minutes (slow). A module not named here is a unit
# module. The notebooks in solutions/, which nbval runs cell by cell, are "notebooks" and slow.
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
    "test_sandbox": ("grading",),
    "test_validate": ("grading", "slow"),
}


def pytest_collection_modifyitems(items):
    """Mark every test with its module's tiers, so that `-m "not slow"` is the quick loop."""
    for item in items:
        path = Path(str(item.fspath))
        tiers = ("notebooks", "slow") if path.suffix == ".ipynb" else TIERS.get(path.stem, ("unit",))
        for tier in tiers:
            item.add_marker(tier)


def why_no_browser():
    """What is missing to drive a browser here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    if not shutil.which("chromium"):
        return "no `chromium` on PATH (e.g. apt-get install chromium)"
    return None


def skip_or_fail(missing, tests):
    """Skip the calling test, or the module that calls it at import, because of ``missing`` (printed),
    or fail on CI (CI=true), where ``tests`` must run."""
    if not missing:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"The {tests} must run on CI, but {missing}.", pytrace=False)
    warnings.warn(f"{tests} skipped: {missing}", pytest.PytestWarning)  # shown without -rs
    pytest.skip(f"{tests} skipped: {missing}", allow_module_level=True)


def notebook_path(folder, assignment):
    """Where nbgrader keeps an assignment's notebook: ``<folder>/<assignment>/<assignment>.ipynb``."""
    return Path(folder) / assignment / f"{assignment}.ipynb"


ASSIGNMENTS = sorted(p.name for p in (REPO / "solutions").iterdir() if notebook_path(p.parent, p.name).is_file())


@pytest.fixture
def clean_env(monkeypatch):
    """No course variables set: the defaults a student gets."""
    for name in ("VAE_COURSE_FAST", "VAE_COURSE_DATASET", "VAE_COURSE_DATA", "VAE_COURSE_DEVICE",
                 "NBGRADER_EXECUTION"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def without_datasets(folder):
    """The environment of a grading machine that holds no dataset: no course dataset named, an empty
    data folder, so any attempt to load MNIST would fail (downloads fail here too)."""
    env = {name: value for name, value in os.environ.items() if name != "VAE_COURSE_DATASET"}
    (Path(folder) / "no-data").mkdir(exist_ok=True)
    return {**env, "VAE_COURSE_DATA": str(Path(folder) / "no-data")}


def nbgrader(folder, *args, env=None):
    """Run an nbgrader command in ``folder``; fail with its log if it does not exit 0."""
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=folder,
                            capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    """A throw-away course folder: the repository's config and solutions, a fresh gradebook."""
    root = tmp_path_factory.mktemp("course")
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "solutions", root / "solutions")
    nbgrader(root, "generate_assignment", "*", "--force")
    return root


def grades(course, assignment, student):
    """{grade_id: (auto_score, max_score)} for every graded cell of a submission."""
    with Gradebook(f"sqlite:///{course / 'nbgrader_work' / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(assignment, assignment, student)
        return {g.name: (g.auto_score, g.max_score) for g in notebook.grades}


def points_lost(course, assignment, student):
    """{grade_id: points lost} for every cell nbgrader scored itself below full marks.

    Tests score automatically; so does nbgrader an unchanged written answer (0 points).
    """
    return {name: maximum - score for name, (score, maximum) in grades(course, assignment, student).items()
            if score is not None and score < maximum}


def plant(notebook, cell_id, correct, mistaken):
    """Replace ``correct`` (which must stand exactly once) in the solution cell ``cell_id``."""
    (cell,) = [c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == cell_id]
    source = "".join(cell["source"])
    assert source.count(correct) == 1, f"{correct!r} should stand exactly once in cell {cell_id}"
    cell["source"] = source.replace(correct, mistaken)


def without_solution_markers(source):
    """A solution cell's source as a student who did everything would have it: the markers removed."""
    return "".join(line for line in source.splitlines(keepends=True)
                   if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def write_completed_notebook(student_notebook, solution_notebook, target):
    """Save ``student_notebook`` with every solution cell answered from ``solution_notebook``, as ``target``."""
    notebook = json.loads(Path(student_notebook).read_text())
    solutions = json.loads(Path(solution_notebook).read_text())
    answers = {cell["metadata"]["nbgrader"]["grade_id"]: "".join(cell["source"])
               for cell in solutions["cells"] if cell["metadata"].get("nbgrader", {}).get("solution")}
    for cell in notebook["cells"]:
        nbgrader = cell["metadata"].get("nbgrader", {})
        if nbgrader.get("solution"):
            cell["source"] = without_solution_markers(answers[nbgrader["grade_id"]]) or "My answer."
    Path(target).write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


def submit(course, assignment, student, changes, released=False):
    """The solution notebook with ``changes`` planted, as ``student``'s submission; with ``released``, the
    notebook the student was given, every answer cell filled in from the solution, as a student hands it in."""
    notebook = json.loads(notebook_path(course / "solutions", assignment).read_text())
    if released:
        completed = course / f"{student}-completed.ipynb"
        write_completed_notebook(notebook_path(course / "course", assignment),
                                 notebook_path(course / "solutions", assignment), completed)
        notebook = json.loads(completed.read_text())
        completed.unlink()
    for cell_id, correct, changed in changes:
        plant(notebook, cell_id, correct, changed)
    submission = notebook_path(course / "nbgrader_work" / "submitted" / student, assignment)
    submission.parent.mkdir(parents=True)
    submission.write_text(json.dumps(notebook))
