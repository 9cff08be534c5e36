"""The course as the tests use it: the repository, its assignments, nbgrader run in a course folder, the
gradebook's scores, submissions with planted changes, and what a test needs from the machine."""
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

REPO = Path(__file__).resolve().parents[2]


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


def planted(source, correct, changed):
    """``source`` with ``correct``, which must stand in it exactly once, replaced by ``changed``."""
    assert source.count(correct) == 1, f"{correct!r} should stand exactly once in:\n{source}"
    return source.replace(correct, changed)


def plant(notebook, cell_id, correct, mistaken):
    """Replace ``correct`` (which must stand exactly once) in the solution cell ``cell_id``."""
    (cell,) = [c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == cell_id]
    cell["source"] = planted("".join(cell["source"]), correct, mistaken)


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
