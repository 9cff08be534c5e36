"""A term of grading as an instructor lives it, from a fresh clone with the README's LMS commands:
the first grading needs no hidden step, a corrected resubmission is graded again, the export lists
only the assignments the class was given, and a course/ that differs from solutions/ stops grading."""
import csv
import json
import re
import shutil
import subprocess
import sys

import pytest

from nbgrader.api import Gradebook

from support.course import REPO, grades, nbgrader, notebook_path, skip_or_fail, why_no_browser
from support.lab import running_lab
from support.student_payloads import assert_nothing_runs, with_payloads

ASSIGNMENT = "01_elbo"


def grading(course, *args):
    return subprocess.run([sys.executable, "-m", "grading", *args], cwd=course, capture_output=True, text=True,
                          timeout=900)


def hand_in(course, student, notebook):
    """An LMS download: ``<student>_<notebook>.ipynb`` in the archive folder zip_collect reads."""
    archive = course / "nbgrader_work" / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True, exist_ok=True)
    shutil.copy(notebook, archive / f"{student}_{ASSIGNMENT}.ipynb")


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory):
    """What `git clone` gives an instructor: the configuration, solutions/, hidden_tests/ and course/, no gradebook."""
    root = tmp_path_factory.mktemp("clone")
    shutil.copy(REPO / "nbgrader_config.py", root)
    for folder in ("solutions", "hidden_tests", "course"):
        shutil.copytree(REPO / folder, root / folder)
    return root


def total(course, student):
    return sum(score or 0 for score, _ in grades(course, ASSIGNMENT, student).values())


def test_a_fresh_clone_grades_its_first_lms_downloads(fresh_clone, tmp_path):
    # ada's answers are right, and her written answer and one cell of hers try to run script in the viewer's page
    answers = tmp_path / f"{ASSIGNMENT}.ipynb"
    answers.write_text(json.dumps(with_payloads(json.loads(notebook_path(REPO / "solutions", ASSIGNMENT).read_text()))))
    hand_in(fresh_clone, "ada", answers)
    hand_in(fresh_clone, "bob", notebook_path(REPO / "course", ASSIGNMENT))  # untouched
    nbgrader(fresh_clone, "zip_collect", ASSIGNMENT)
    run = grading(fresh_clone, "autograde", ASSIGNMENT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{ASSIGNMENT} was not in the gradebook: recorded it from" in run.stdout
    assert f"{ASSIGNMENT}: 2 graded, 0 failed" in run.stdout
    assert total(fresh_clone, "ada") > 0 and total(fresh_clone, "bob") == 0
    released = notebook_path(fresh_clone / "course", ASSIGNMENT)
    assert released.read_bytes() == notebook_path(REPO / "course", ASSIGNMENT).read_bytes(), "course/ is left as it is"


def test_a_corrected_resubmission_is_graded_again(fresh_clone):
    before = total(fresh_clone, "ada")
    hand_in(fresh_clone, "bob", notebook_path(REPO / "solutions", ASSIGNMENT))  # bob's corrected notebook
    nbgrader(fresh_clone, "zip_collect", "--force", ASSIGNMENT)
    run = grading(fresh_clone, "autograde", ASSIGNMENT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{ASSIGNMENT}: 1 graded, 0 failed, 0 timed out, 1 already graded" in run.stdout
    assert "Submitted again since they were graded, so graded anew: bob." in run.stdout
    assert total(fresh_clone, "bob") == before and total(fresh_clone, "ada") == before


def test_the_export_lists_only_the_assignments_given(fresh_clone):
    nbgrader(fresh_clone, "generate_assignment", "02_dense_vae", "--force")  # prepared, never given
    nbgrader(fresh_clone, "export")
    with open(fresh_clone / "nbgrader_work" / "grades.csv") as table:
        rows = list(csv.DictReader(table))
    assert {(row["assignment"], row["student_id"]) for row in rows} == {(ASSIGNMENT, "ada"), (ASSIGNMENT, "bob")}


def written_answer_cell():
    (cell,) = [c for c in json.loads(notebook_path(REPO / "solutions", ASSIGNMENT).read_text())["cells"]
               if c["cell_type"] == "markdown" and c["metadata"].get("nbgrader", {}).get("grade")]
    return cell["metadata"]["nbgrader"]["grade_id"], cell["metadata"]["nbgrader"]["points"]


def test_feedback_shows_the_scores_given_by_hand(fresh_clone):
    nbgrader(fresh_clone, "generate_feedback", ASSIGNMENT)
    answer, points = written_answer_cell()
    with Gradebook(f"sqlite:///{fresh_clone / 'nbgrader_work' / 'gradebook.db'}") as gradebook:  # as Formgrader does
        grade = gradebook.find_grade(answer, ASSIGNMENT, ASSIGNMENT, "ada")
        grade.manual_score = points
        gradebook.db.commit()
    refused = subprocess.run([sys.executable, "-m", "nbgrader", "release_feedback", ASSIGNMENT], cwd=fresh_clone,
                             capture_output=True, text=True)
    assert refused.returncode != 0 and "The gradebook changed after the feedback of ada, bob was made" in refused.stderr
    nbgrader(fresh_clone, "generate_feedback", ASSIGNMENT)
    feedback = (fresh_clone / "nbgrader_work" / "feedback" / "ada" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert f"Written response</a> (Score: {float(points)} / {float(points)})" in feedback
    nbgrader(fresh_clone, "release_feedback", ASSIGNMENT)


def test_the_hand_grading_view_shows_formulas_without_a_network(fresh_clone, tmp_path):
    """Formgrader's page for grading ada's written answer, opened in a browser that reaches only the lab."""
    skip_or_fail(why_no_browser(), "browser tests")
    from playwright.sync_api import expect
    from support.browser import launched_browser

    with Gradebook(f"sqlite:///{fresh_clone / 'nbgrader_work' / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "ada").id
    with running_lab(fresh_clone, ".", tmp_path) as lab, launched_browser() as browser:
        page = browser.new_page()
        page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
        page.goto(lab.url(f"/formgrader/submissions/{submission}/"))
        prose = page.locator(".text_cell_render")
        expect(prose.first).to_be_visible()
        expect(prose.locator("math").first).to_be_attached()
        raw_latex = [text for text in prose.all_inner_texts() if re.search(r"\$[^$]*\\[A-Za-z]", text)]
        assert not raw_latex, f"raw LaTeX in the grading view: {raw_latex[0][:200]}"


def test_nothing_a_student_wrote_or_printed_runs_where_staff_or_the_student_look(fresh_clone, tmp_path):
    """ada's payloads, in Formgrader's hand-grading view (as her instructor) and in her feedback page."""
    skip_or_fail(why_no_browser(), "browser tests")
    from support.browser import launched_browser

    with Gradebook(f"sqlite:///{fresh_clone / 'nbgrader_work' / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "ada").id
    feedback = fresh_clone / "nbgrader_work" / "feedback" / "ada" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    with running_lab(fresh_clone, ".", tmp_path) as lab, launched_browser() as browser:
        grading_view = browser.new_page()
        assert_nothing_runs(grading_view, lambda: grading_view.goto(lab.url(f"/formgrader/submissions/{submission}/")))
        feedback_page = browser.new_page()
        assert_nothing_runs(feedback_page, lambda: feedback_page.goto(feedback.as_uri()))


def test_a_file_that_is_not_a_notebook_is_named_at_collect_and_kept_out_of_the_grades(fresh_clone):
    archive = fresh_clone / "nbgrader_work" / "downloaded" / ASSIGNMENT / "archive"
    whole = notebook_path(REPO / "solutions", ASSIGNMENT).read_text()
    (archive / f"cy_{ASSIGNMENT}.ipynb").write_text(whole[: len(whole) // 2])  # an upload cut off halfway
    collect = nbgrader(fresh_clone, "zip_collect", "--force", ASSIGNMENT)
    assert f"cy_{ASSIGNMENT}.ipynb: cy's file is not a notebook that can be graded" in collect.stderr
    assert "File > Download" in collect.stderr

    run = grading(fresh_clone, "autograde", ASSIGNMENT)
    assert run.returncode == 1, "a submission was not graded"
    assert "1 unreadable (needs a look)" in run.stdout
    (line,) = [line for line in run.stdout.splitlines() if line.strip().startswith("cy ")]
    assert "unreadable" in line and "kept out of the grades" in line and "ask cy to download" in line

    export = nbgrader(fresh_clone, "export")
    assert f"Not exported: cy, {ASSIGNMENT} (unreadable, needs a look)" in export.stderr
    with open(fresh_clone / "nbgrader_work" / "grades.csv") as table:
        assert "cy" not in {row["student_id"] for row in csv.DictReader(table)}


def test_a_student_no_longer_in_the_download_folder_is_no_longer_collected(fresh_clone):
    archive = fresh_clone / "nbgrader_work" / "downloaded" / ASSIGNMENT / "archive"
    (archive / f"cy_{ASSIGNMENT}.ipynb").unlink()
    collect = nbgrader(fresh_clone, "zip_collect", "--force", ASSIGNMENT)
    assert "cy has no file in" in collect.stderr
    assert not (fresh_clone / "nbgrader_work" / "submitted" / "cy").joinpath(ASSIGNMENT).exists()
    (aside,) = (fresh_clone / "nbgrader_work" / "withdrawn" / ASSIGNMENT).iterdir()
    assert aside.name.startswith("cy-") and (aside / f"{ASSIGNMENT}.ipynb").is_file(), "nothing is lost"
    assert {p.parent.name for p in (fresh_clone / "nbgrader_work" / "submitted").glob(f"*/{ASSIGNMENT}")} == {"ada", "bob"}


def test_grading_stops_where_course_differs_from_solutions(tmp_path):
    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    for folder in ("solutions", "course"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    released = notebook_path(tmp_path / "course", ASSIGNMENT)
    notebook = json.loads(released.read_text())
    notebook["cells"][0]["source"] = ["An instructor's edit made in course/ alone."]
    released.write_text(json.dumps(notebook))
    submitted = notebook_path(tmp_path / "nbgrader_work" / "submitted" / "ada", ASSIGNMENT)
    submitted.parent.mkdir(parents=True)
    shutil.copy(notebook_path(REPO / "solutions", ASSIGNMENT), submitted)
    run = grading(tmp_path, "autograde", ASSIGNMENT)
    assert run.returncode != 0
    assert f"course/{ASSIGNMENT} differs from what" in run.stderr and "nothing was graded" in run.stderr
    assert f"nbgrader generate_assignment {ASSIGNMENT} --force" in run.stderr
    assert not (tmp_path / "nbgrader_work" / "autograded").exists()
    again = grading(tmp_path, "autograde", ASSIGNMENT)
    assert again.returncode != 0 and "differs from what" in again.stderr, "the check is made again next time"
