"""The nbgrader pipeline, run for real: release generation, drift, leaks, autograding, feedback."""
import csv
import html
import json
import re
import shutil

import pytest
from nbgrader.utils import get_username

from conftest import ASSIGNMENTS, REPO, grades, nbgrader, notebook_path, points_lost

REGENERATE = 'nbgrader generate_assignment "*" --force'
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def read(path):
    return json.loads(path.read_text())


def lines_of(text):
    """The set of stripped lines of a text: a secret leaks when one stands as a whole line."""
    return {line.strip() for line in text.splitlines()}


def blocks(source, markers):
    """The lines between each pair of markers."""
    begin, end = markers
    found, inside = [], False
    for line in source.splitlines():
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif inside:
            found.append(line.strip())
    return found


def secret_lines(notebook, kinds=(SOLUTION_MARKERS, HIDDEN_MARKERS), answers=True):
    """Distinctive lines of solution code, hidden tests and written model answers.

    Lines that also stand in a public part of the notebook (``return x``, a method that
    a hidden test rebuilds) are left out: seeing them gives nothing away.
    """
    secrets, public = [], []
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        lines = [line.strip() for line in source.splitlines()]
        if cell["cell_type"] == "markdown" and cell["metadata"].get("nbgrader", {}).get("solution"):
            secrets += lines if answers else []
            continue
        hidden = [line for markers in kinds for line in blocks(source, markers)]
        secrets += hidden
        public += [line for line in lines if line not in hidden]
    return {line for line in secrets if len(line) >= 16 and line not in public}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_course_is_what_nbgrader_generates(course, assignment):
    generated = notebook_path(course / "course", assignment)
    committed = notebook_path(REPO / "course", assignment)
    assert committed.is_file(), f"{committed} is missing: run `{REGENERATE}` and commit course/"
    if generated.read_text() != committed.read_text():
        new, old = read(generated)["cells"], read(committed)["cells"]
        differing = [f"cell {i} ({n.get('id')})" for i, (n, o) in enumerate(zip(new, old)) if n != o]
        if len(new) != len(old):
            differing.append(f"{len(old)} cells committed, {len(new)} generated")
        pytest.fail(f"course/{assignment} has drifted from solutions/ ({', '.join(differing) or 'notebook metadata'}): "
                    f"run `{REGENERATE}` and commit course/.")


def test_every_release_has_a_source():
    released = sorted(p.name for p in (REPO / "course").iterdir() if p.is_dir())
    assert released == ASSIGNMENTS, "course/ must hold exactly the assignments in solutions/"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_solution_or_hidden_test_leaks_into_course(assignment):
    source = read(notebook_path(REPO / "solutions", assignment))
    release = read(notebook_path(REPO / "course", assignment))
    released_text = "\n".join("".join(cell["source"]) for cell in release["cells"])
    for marker in (*SOLUTION_MARKERS, *HIDDEN_MARKERS):
        assert marker not in released_text
    secrets = secret_lines(source)
    assert secrets, "the source notebook should hold solutions and hidden tests"
    leaked = sorted(secrets & lines_of(released_text))
    assert not leaked, f"course/{assignment} shows solution or hidden-test lines: {leaked[:5]}"
    assert all(not cell.get("outputs") for cell in release["cells"] if cell["cell_type"] == "code")


@pytest.fixture(scope="module")
def autograded(course, tmp_path_factory):
    """Two submissions per assignment, arriving the two ways nbgrader supports.

    Through the exchange: the instructor releases, a student (this OS account, as nbgrader
    names students by account) fetches, fills in the instructor's solutions and submits,
    and the instructor collects. From outside (an LMS download): the untouched student
    notebook is placed in submitted/untouched/. Then the instructor autogrades.
    Returns {role: student id}.
    """
    students = {"solution": get_username(), "untouched": "untouched"}
    exchange = f"--Exchange.root={course / 'nbgrader_work' / 'exchange'}"
    for assignment in ASSIGNMENTS:
        nbgrader(course, "release_assignment", assignment, "--force")
        home = tmp_path_factory.mktemp("student")
        nbgrader(home, "fetch_assignment", assignment, "--course", "vae-hands-on", exchange)
        shutil.copy(notebook_path(REPO / "solutions", assignment), home / assignment)
        nbgrader(home, "submit", assignment, "--course", "vae-hands-on", exchange)
        nbgrader(course, "collect", assignment)
        untouched = course / "nbgrader_work" / "submitted" / "untouched" / assignment
        untouched.mkdir(parents=True)
        shutil.copy(notebook_path(REPO / "course", assignment), untouched)
        nbgrader(course, "autograde", assignment, "--force")
    return students


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_every_automatic_point(course, autograded, assignment):
    scores = grades(course, assignment, autograded["solution"])
    automatic = {name: s for name, s in scores.items() if s[0] is not None}
    manual = {name for name, s in scores.items() if s[0] is None}
    assert automatic and manual, "each notebook has automatic tests and a written answer"
    lost = points_lost(course, assignment, autograded["solution"])
    assert not lost, f"the solution loses points in {lost}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_student_notebook_scores_zero(course, autograded, assignment):
    scores = grades(course, assignment, autograded["untouched"])
    assert scores, "no grades recorded"
    earned = {name: s for name, s in scores.items() if s[0]}
    assert not earned, f"an untouched notebook earns points in {earned}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_does_not_reveal_hidden_tests(course, autograded, assignment):
    nbgrader(course, "generate_feedback", assignment, "--force")
    source = read(notebook_path(REPO / "solutions", assignment))
    hidden = secret_lines(source, kinds=(HIDDEN_MARKERS,), answers=False)
    assert hidden, "the source notebook should hold hidden tests"
    for role, student in autograded.items():
        page = (course / "nbgrader_work" / "feedback" / student / assignment / f"{assignment}.html").read_text()
        text = html.unescape(re.sub(r"<[^>]+>", "", page))  # code is split into highlighted spans
        assert role == "untouched" or "public tests passed" in text
        assert role == "solution" or "NotImplementedError" in text, "feedback should say why points were lost"
        shown = sorted(hidden & lines_of(text))
        assert not shown, f"feedback for the {role} submission shows hidden tests: {shown[:3]}"


def test_grades_export_lists_every_student_and_assignment(course, autograded):
    nbgrader(course, "export", "--to", "grades.csv")
    with open(course / "grades.csv") as handle:
        scores = {(row["student_id"], row["assignment"]): float(row["raw_score"]) for row in csv.DictReader(handle)}
    for assignment in ASSIGNMENTS:
        assert scores[autograded["solution"], assignment] > 0
        assert scores[autograded["untouched"], assignment] == 0
