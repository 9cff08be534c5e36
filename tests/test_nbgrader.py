"""The nbgrader pipeline, run for real: release generation, drift, leaks, autograding, feedback."""
import csv
import re
import shutil

import pytest
from nbgrader.utils import get_username

from support.course import (ASSIGNMENTS, REPO, grades, nbgrader, notebook_path, points_lost, skip_or_fail, why_no_browser,
                            without_datasets)
from support.notebook_text import HIDDEN_MARKERS, SOLUTION_MARKERS, lines_of, read, secret_lines, visible_text

REGENERATE = 'nbgrader generate_assignment "*" --force'
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
    release = read(notebook_path(REPO / "course", assignment))
    released_text = "\n".join("".join(cell["source"]) for cell in release["cells"])
    for marker in (*SOLUTION_MARKERS, *HIDDEN_MARKERS):
        assert marker not in released_text
    secrets = secret_lines(assignment)
    assert secrets, "the source notebook should hold solutions and hidden tests"
    leaked = sorted(secrets & lines_of(released_text))
    assert not leaked, f"course/{assignment} shows solution or hidden-test lines: {leaked[:5]}"
    assert all(not cell.get("outputs") for cell in release["cells"] if cell["cell_type"] == "code")


# phrases that state an exercise's step or a written answer, which the released text must not give (the README's
# table of notebooks, the released notebook and the figures it draws); they belong in a check's hint after a wrong
# answer or in the model answer
GIVE_AWAYS = {
    "07_richer_posteriors_and_priors": ["conditional variance", "1/Λ_ii", "s / Λ", "at the posterior mean"],
    "08_semi_supervised": ["their entropy", "entropy of q(y"],
    "09_vq_vae": ["codebook's norms", "entropy of a point mass", "no entropy of q"],
    "10_colour_images": ["expm1", "log1p", "pile up on", "may be negative"],
}


@pytest.mark.parametrize("assignment", sorted(GIVE_AWAYS))
def test_no_step_is_given_away_in_the_readme_or_the_released_text(assignment):
    release = read(notebook_path(REPO / "course", assignment))
    texts = {"README.md": (REPO / "README.md").read_text(), f"course/{assignment}": "\n".join(
        "".join(cell["source"]) for cell in release["cells"]), "vae_helpers/plots.py": (REPO / "vae_helpers" /
                                                                                      "plots.py").read_text()}
    given = [(where, phrase) for where, text in texts.items() for phrase in GIVE_AWAYS[assignment] if phrase in text]
    assert not given, f"{assignment}'s steps or written answers are given away: {given}"


def test_released_stubs_name_the_function_to_write():
    for assignment in ASSIGNMENTS:
        release = read(notebook_path(REPO / "course", assignment))
        stubs = [line.strip() for cell in release["cells"] if cell["metadata"].get("nbgrader", {}).get("solution")
                 for line in "".join(cell["source"]).splitlines() if "NotImplementedError" in line]
        assert stubs, f"course/{assignment} has no exercise stubs"
        bare = [stub for stub in stubs if not re.fullmatch(r'raise NotImplementedError\("[\w.]+ is yours to write: '
                                                             r'replace this line with your code\."\)', stub)]
        assert not bare, f"course/{assignment}: stubs that do not name their function: {bare}"


@pytest.fixture(scope="module")
def autograded(course, tmp_path_factory):
    """Two submissions per assignment, arriving the two ways nbgrader supports, graded on a
    machine that holds no dataset.

    Through the exchange: the instructor releases, a student (this OS account, as nbgrader
    names students by account) fetches, fills in the instructor's solutions and submits,
    and the instructor collects. From an LMS: the untouched student notebook, downloaded as
    ``untouched_<assignment>.ipynb``, goes into nbgrader_work/downloaded/<assignment>/archive/
    and ``nbgrader zip_collect`` files it. Then the instructor autogrades and generates feedback for
    every assignment at once, and releases each one's. Returns {role: student id} and {assignment: the
    log of its commands and of the two shared ones}.
    """
    students = {"solution": get_username(), "untouched": "untouched"}
    exchange = f"--Exchange.root={course / 'nbgrader_work' / 'exchange'}"
    logs = {}
    for assignment in ASSIGNMENTS:
        nbgrader(course, "release_assignment", assignment, "--force")
        home = tmp_path_factory.mktemp("student")
        nbgrader(home, "fetch_assignment", assignment, "--course", "vae-hands-on", exchange)
        shutil.copy(notebook_path(REPO / "solutions", assignment), home / assignment)
        nbgrader(home, "submit", assignment, "--course", "vae-hands-on", exchange)
        nbgrader(course, "collect", assignment)
        archive = course / "nbgrader_work" / "downloaded" / assignment / "archive"
        archive.mkdir(parents=True)
        shutil.copy(notebook_path(REPO / "course", assignment), archive / f"untouched_{assignment}.ipynb")
        logs[assignment] = nbgrader(course, "zip_collect", assignment).stderr
    # every assignment at once, as an instructor grades a week's submissions (and one nbgrader start each)
    graded = nbgrader(course, "autograde", "*", "--force", env=without_datasets(course)).stderr
    graded += nbgrader(course, "generate_feedback", "*", "--force").stderr
    for assignment in ASSIGNMENTS:
        logs[assignment] += graded + nbgrader(course, "release_feedback", assignment).stderr
    return students, logs


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_every_automatic_point(course, autograded, assignment):
    students, _ = autograded
    scores = grades(course, assignment, students["solution"])
    automatic = {name: s for name, s in scores.items() if s[0] is not None}
    manual = {name for name, s in scores.items() if s[0] is None}
    assert automatic and manual, "each notebook has automatic tests and a written answer"
    lost = points_lost(course, assignment, students["solution"])
    assert not lost, f"the solution loses points in {lost}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_cell_of_the_solution_runs_without_error_when_graded(course, autograded, assignment):
    """The solution notebook, executed top to bottom by autograde in fast mode on a machine without datasets:
    no cell, graded or not (figures, training, tables), ends in an error. This is the suite's run of every
    notebook; `python -m pytest solutions/NN_name` runs one cell by cell (nbval) while you write it."""
    students, _ = autograded
    executed = read(notebook_path(course / "nbgrader_work" / "autograded" / students["solution"], assignment))
    errors = [f"cell {index}: {output.get('ename')}: {output.get('evalue', '')[:300]}"
              for index, cell in enumerate(executed["cells"]) for output in cell.get("outputs", [])
              if output.get("output_type") == "error"]
    assert not errors, f"the solution of {assignment} fails when it runs: {errors}"
    unexecuted = [index for index, cell in enumerate(executed["cells"])
                  if cell["cell_type"] == "code" and cell["source"] and cell.get("execution_count") is None]
    assert not unexecuted, f"cells of {assignment} that autograde did not run: {unexecuted}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_student_notebook_scores_zero(course, autograded, assignment):
    students, _ = autograded
    scores = grades(course, assignment, students["untouched"])
    assert scores, "no grades recorded"
    earned = {name: s for name, s in scores.items() if s[0]}
    assert not earned, f"an untouched notebook earns points in {earned}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_is_clean_and_reveals_no_hidden_test(course, autograded, assignment):
    students, _ = autograded
    hidden = secret_lines(assignment, kinds=(HIDDEN_MARKERS,), answers=False)
    assert hidden, "the source notebook should hold hidden tests"
    # the instructor's solution, submitted, may match a hidden reference version line for line
    own_code = secret_lines(assignment, kinds=(SOLUTION_MARKERS,), answers=False)
    for role, student in students.items():
        page = (course / "nbgrader_work" / "feedback" / student / assignment / f"{assignment}.html").read_text()
        text = visible_text(page)
        assert "DatasetNotFoundError" not in text, f"the {role} feedback shows a dataset error"
        assert "<math" in page and "$$" not in text, "math must be MathML, readable offline"
        if role == "solution":
            assert "public tests passed" in text and "Traceback" not in text
        else:
            assert "is yours to write: replace this line with your code" in text, "feedback should say why"
        shown = sorted(hidden & lines_of(text) - (own_code if role == "solution" else set()))
        assert not shown, f"feedback for the {role} submission shows hidden tests: {shown[:3]}"


def test_feedback_names_each_exercise_and_shows_its_whole_error(course, autograded):
    """The untouched notebook's feedback, read in a browser as narrow as a phone's."""
    skip_or_fail(why_no_browser(), "browser tests")
    from support.browser import launched_browser

    students, _ = autograded
    assignment = "01_elbo"
    exercises = [cell["source"][0].removeprefix("# Graded cell of ").strip().rstrip(".")
                 for cell in read(notebook_path(REPO / "solutions", assignment))["cells"]
                 if cell["metadata"].get("nbgrader", {}).get("grade") and cell["cell_type"] == "code"]
    feedback = course / "nbgrader_work" / "feedback" / students["untouched"] / assignment / f"{assignment}.html"
    with launched_browser() as browser:
        page = browser.new_page(viewport={"width": 480, "height": 800})
        page.goto(feedback.as_uri())
        summary = [text for text in page.locator("#toc li a").all_inner_texts() if text != "Comment"]
        assert summary == exercises + ["Written response"]
        errors = page.locator(".output_error pre")
        assert errors.count() >= len(exercises), "each unanswered exercise fails with its message"
        cut = [error.inner_text() for error in errors.all()
               if error.evaluate("e => e.scrollWidth > e.clientWidth || e.parentElement.scrollWidth > "
                                 "e.parentElement.clientWidth")]
        assert not cut, f"error lines cut off on the right: {cut}"


def test_feedback_is_released_to_exchange_students_and_kept_for_lms_ones(autograded, course):
    """release_feedback must not stop at a submission that never passed through the exchange."""
    students, logs = autograded
    released = list((course / "nbgrader_work" / "exchange" / "vae-hands-on" / "feedback").glob("*.html"))
    assert len(released) == len(ASSIGNMENTS), "one feedback file per assignment for the exchange's student"
    for assignment in ASSIGNMENTS:
        assert "(collected from an LMS; upload their feedback from" in logs[assignment]
        assert (course / "nbgrader_work" / "feedback" / students["untouched"] / assignment / f"{assignment}.html").is_file()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_grading_log_holds_only_what_needs_attention(autograded, assignment):
    """zip_collect and release_feedback of one assignment, autograde and generate_feedback of all."""
    _, logs = autograded
    log = logs[assignment]
    for noise in ("SAWarning", "has changed!", "without encryption", "not recognized", "Traceback",
                  "Directory not found", "Alternative text is missing"):
        assert noise not in log, f"the autograde log of {assignment} shows {noise!r}:\n{log[-2000:]}"


def test_grades_export_lists_every_student_and_assignment_under_nbgrader_work(course, autograded):
    students, _ = autograded
    nbgrader(course, "export")
    assert not (course / "grades.csv").exists(), "instructor outputs stay under nbgrader_work/"
    with open(course / "nbgrader_work" / "grades.csv") as handle:
        scores = {(row["student_id"], row["assignment"]): float(row["raw_score"]) for row in csv.DictReader(handle)}
    for assignment in ASSIGNMENTS:
        assert scores[students["solution"], assignment] > 0
        assert scores[students["untouched"], assignment] == 0


def test_released_notebooks_carry_the_kernel_metadata_jupyterlab_fills_in():
    """JupyterLab marks a notebook modified as soon as it opens when its language_info differs from
    what the kernel reports; students would see unsaved changes they never made."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    try:
        reported = client.kernel_info(reply=True)["content"]["language_info"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    for assignment in ASSIGNMENTS:
        metadata = read(notebook_path(REPO / "course", assignment))["metadata"]
        assert metadata["language_info"] == reported, \
            f"course/{assignment}: language_info {metadata['language_info']} is not what the kernel reports"
        assert metadata["kernelspec"]["name"] == "python3"
