"""Submissions that answer every exercise wrongly and then try to talk the tests round (patching torch, a
Tensor method, a built-in, the checks the tests read or the course's helpers) are autograded for real:
they must earn no point. Where a graded cell's hidden tests still run in the kernel, grading must say
why, so that the instructor reviews them; where they are judged in the grading process (all of 01), the
attempt changes nothing there and nothing needs a review.

Notebook 01 gets every attempt, and each other assignment one of them, in turn (each submission costs
a full notebook run; tests/test_integrity.py covers each kind of replacement alone, in seconds).
"""
import json
import shutil

import nbformat
import pytest
from nbgrader.utils import is_grade

from conftest import ASSIGNMENTS, grades, nbgrader, notebook_path, submit
from grading.judge import is_judged
from test_grading_catches_mistakes import MISTAKES

ATTEMPTS = {
    "patches-torch": (
        "import torch\n"
        "torch.allclose = lambda *args, **kwargs: True\n"
        "torch.equal = lambda *args, **kwargs: True\n"),
    "patches-a-tensor-method": (
        "import torch\n"
        "torch.Tensor.expand_as = lambda self, other: other  # any value then looks close to the expected one\n"),
    "rebinds-a-builtin": (
        "import builtins\n"
        "builtins.abs = lambda value: 0.0\n"
        "abs = builtins.abs\n"),
    "rebinds-the-checks-it-reads": (
        "expect_close = expect_shape = expect_finite = expect_gradient = lambda *args, **kwargs: None\n"),
    "patches-the-course-helpers": (
        "import vae_helpers.checks\n"
        "for name in dir(vae_helpers.checks):\n"
        "    if name.startswith('expect_'):\n"
        "        setattr(vae_helpers.checks, name, lambda *args, **kwargs: None)\n"),
}
# attempts that replace something in a module: the hidden tests detect these and say so
DETECTED = {"patches-torch", "patches-a-tensor-method", "rebinds-a-builtin", "patches-the-course-helpers"}
MANUAL_REVIEW = "reviews it by hand"
NAMES = list(ATTEMPTS)
TRIALS = [("01_elbo", attempt) for attempt in NAMES] + [
    (assignment, NAMES[i]) for i, assignment in enumerate(a for a in ASSIGNMENTS if a != "01_elbo")]


def wrong_answers(assignment):
    """The first planted mistake of each exercise: every exercise is answered, and wrongly."""
    first = {}
    for a, _, cell_id, correct, mistaken, _ in MISTAKES:
        if a == assignment:
            first.setdefault(cell_id, (cell_id, correct, mistaken))
    return list(first.values())


def with_attempt(course, assignment, attempt):
    """The change that puts ``attempt`` at the top of the notebook's first answer cell."""
    notebook = json.loads(notebook_path(course / "solutions", assignment).read_text())
    cell = next(c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("solution")
                and c["cell_type"] == "code")
    first_line = "".join(cell["source"]).splitlines(keepends=True)[0]
    return cell["metadata"]["nbgrader"]["grade_id"], first_line, ATTEMPTS[attempt] + first_line


@pytest.fixture(scope="module")
def tampering_course(course, tmp_path_factory):
    """The trials, autograded in a course of their own."""
    copy = tmp_path_factory.mktemp("tampering") / "course"
    shutil.copytree(course, copy, ignore=shutil.ignore_patterns("submitted", "autograded", "feedback"))
    for assignment, attempt in TRIALS:
        submit(copy, assignment, f"tamper-{attempt}", wrong_answers(assignment) + [with_attempt(copy, assignment, attempt)])
    for assignment in sorted({assignment for assignment, _ in TRIALS}):
        nbgrader(copy, "autograde", assignment, "--student=tamper-*", "--force")
    return copy


@pytest.mark.parametrize("assignment, attempt", TRIALS, ids=[f"{a}:{t}" for a, t in TRIALS])
def test_tampering_earns_no_point(tampering_course, assignment, attempt):
    scores = grades(tampering_course, assignment, f"tamper-{attempt}")
    earned = {name: score for name, (score, _) in scores.items() if score}
    assert not earned, f"{attempt} earned points for wrong answers: {earned}"
    autograded = notebook_path(tampering_course / "nbgrader_work" / "autograded" / f"tamper-{attempt}", assignment)
    said = MANUAL_REVIEW in autograded.read_text()
    tripwired = attempt in DETECTED and not all_graded_cells_judged(tampering_course, assignment)
    assert said == tripwired, f"{attempt}: grading {'did not say' if not said else 'said'} it needs a manual review"


def all_graded_cells_judged(course, assignment):
    """True when no graded cell of ``assignment`` runs its hidden tests in the kernel (grading/judge.py),
    so that the tripwire has nothing to guard."""
    notebook = nbformat.read(notebook_path(course / "solutions", assignment), as_version=4)
    return all(is_judged(cell) for cell in notebook.cells if cell.cell_type == "code" and is_grade(cell))
