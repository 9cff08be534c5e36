"""The student's and the instructor's journeys in JupyterLab, checked in a real browser.

Each lab is started as students and instructors start theirs, but on a throw-away copy of the course,
and each test checks what the page shows. A failing test leaves a screenshot named after it in
test-artifacts/browser/ (or in $BROWSER_ARTIFACTS). Without Chromium or Playwright the module is
skipped, except on CI (CI=true), where that is a failure.
"""
import os
import re
import shutil
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest

from support.course import ASSIGNMENTS, REPO, notebook_path, skip_or_fail, why_no_browser, write_completed_notebook


skip_or_fail(why_no_browser(), "browser tests")

from playwright.sync_api import expect  # noqa: E402  (only once we know it is there)

from support.browser import (  # noqa: E402
    NOT_RUN, RUN_TIMEOUT_MS, UI_TIMEOUT_MS, choose_menu, code_cell, notebook_tab, open_notebook,
    outputs, prompts, replace_source, validate, wait_until_no_cell_is_queued)
from support.browser import browser  # noqa: E402,F401  (a fixture)
from support.lab import copy_course, running_lab  # noqa: E402

expect.set_options(timeout=UI_TIMEOUT_MS)

ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", REPO / "test-artifacts" / "browser"))

EXERCISES_OF_01 = ["kl_to_standard_normal", "reparameterize", "bernoulli_log_likelihood and gaussian_log_likelihood",
                   "elbo", "importance_weighted_bound"]

KL_SIGNATURE = """def kl_to_standard_normal(mu, logvar):
    '''KL( N(mu, diag(exp(logvar))) || N(0, I) ) for each row, summed over latent dimensions.

    mu, logvar: tensors of shape (batch, d). Returns a tensor of shape (batch,).
    '''
"""
KL_WITH_A_FLIPPED_SIGN = KL_SIGNATURE + "    return -0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1)\n"
KL_RIGHT = KL_SIGNATURE + "    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1)\n"


@pytest.fixture(scope="module")
def student_lab(tmp_path_factory):
    """`jupyter lab course`, run where nbgrader_config.py is, as students do, with the student tools only
    (`python hub/tools_by_role.py student`, here into a folder of its own)."""
    root = tmp_path_factory.mktemp("student")
    copy_course(REPO, root, "course")
    student_tools = tmp_path_factory.mktemp("student-tools")
    subprocess.run([sys.executable, REPO / "hub" / "tools_by_role.py", "student", "--config-dir", student_tools],
                   check=True, capture_output=True)
    with running_lab(root, "course", tmp_path_factory.mktemp("student-lab-settings"), student_tools) as lab:
        yield lab


@pytest.fixture(scope="module")
def instructor_lab(tmp_path_factory):
    """`jupyter lab .` at the root of the course, as instructors do."""
    root = tmp_path_factory.mktemp("instructor")
    copy_course(REPO, root, "solutions", "course")
    with running_lab(root, ".", tmp_path_factory.mktemp("instructor-lab-settings")) as lab:
        yield lab


def browser_page(browser, request, lab):
    """A new browser page; a screenshot of it if the test fails; no kernel left running afterwards."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    failures_before = request.session.testsfailed
    yield page
    if request.session.testsfailed > failures_before:  # pytest counts the test's failure before teardown
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
    context.close()
    lab.shut_down_kernels()


@pytest.fixture
def student_page(browser, request, student_lab):
    yield from browser_page(browser, request, student_lab)


@pytest.fixture
def instructor_page(browser, request, instructor_lab):
    yield from browser_page(browser, request, instructor_lab)


def copy_of_student_notebook(lab, assignment, name):
    """Copy the untouched student notebook of ``assignment`` next to it as ``name``; its path in the lab."""
    shutil.copy(notebook_path(lab.root, assignment), lab.root / assignment / name)
    return f"{assignment}/{name}"


def completed_notebook(lab, assignment, name="completed.ipynb"):
    """The student notebook with every exercise answered from solutions/, saved next to it as ``name``."""
    write_completed_notebook(notebook_path(lab.root, assignment), notebook_path(REPO / "solutions", assignment),
                             lab.root / assignment / name)
    return f"{assignment}/{name}"


def test_the_course_opens_on_its_assignments_and_their_list(student_page, student_lab):
    student_page.goto(student_lab.url("/lab"))
    folders = student_page.locator(".jp-FileBrowser .jp-DirListing-content .jp-DirListing-itemText")
    expect(folders).to_have_text(ASSIGNMENTS)

    choose_menu(student_page, "Nbgrader", "Assignment List")
    assignment_list = student_page.locator("#nbgrader-assignment-list")
    expect(assignment_list.locator("#course_list_default")).not_to_have_text("Loading, please wait...")
    expect(assignment_list).to_contain_text("Released assignments")
    expect(assignment_list).not_to_contain_text("Error fetching")


def test_a_notebook_just_opened_has_no_unsaved_changes(student_page, student_lab):
    open_notebook(student_page, student_lab, "01_elbo/01_elbo.ipynb")
    student_page.wait_for_timeout(3_000)  # time for JupyterLab to fill in what it learns from the kernel
    expect(notebook_tab(student_page, "01_elbo.ipynb"),
           "the tab shows unsaved changes: JupyterLab changed the notebook's metadata on opening it"
           ).not_to_have_class(re.compile(r"\bjp-mod-dirty\b"), timeout=1_000)


def test_run_all_stops_at_the_first_exercise_until_it_is_answered(student_page, student_lab):
    page = student_page
    open_notebook(page, student_lab, copy_of_student_notebook(student_lab, "01_elbo", "typed_answer.ipynb"))
    choose_menu(page, "Run", "Run All Cells")
    exercise, graded = code_cell(page, "def kl_to_standard_normal"), code_cell(page, "# Graded cell of Exercise 1:")
    stub_error = "NotImplementedError: kl_to_standard_normal is yours to write: replace this line with your code."
    expect(outputs(graded, stub_error)).to_be_visible(timeout=RUN_TIMEOUT_MS)
    wait_until_no_cell_is_queued(page)
    ran = [prompt != NOT_RUN for prompt in prompts(page)]
    assert ran[:3] == [True, True, True], "the setup cell, exercise 1 and its graded cell run"
    assert not any(ran[3:]), "no cell runs after the first error"

    replace_source(page, exercise, KL_WITH_A_FLIPPED_SIGN)
    page.keyboard.press("Shift+Enter")  # runs the exercise, selects its graded cell
    page.keyboard.press("Shift+Enter")
    expect(outputs(graded, "AssertionError: KL with mu = 1, logvar = 0 (one dimension): expected [0.5], got [-0.5]")
           ).to_be_visible(timeout=RUN_TIMEOUT_MS)

    replace_source(page, exercise, KL_RIGHT)
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    expect(outputs(graded, "public tests passed")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(outputs(graded, "Error")).to_have_count(0)


def test_validate_names_every_unfinished_exercise(student_page, student_lab):
    open_notebook(student_page, student_lab, copy_of_student_notebook(student_lab, "01_elbo", "untouched.ipynb"))
    dialog = validate(student_page)
    expect(dialog).to_contain_text("The following cell failed")
    for number, exercise in enumerate(EXERCISES_OF_01, start=1):
        expect(dialog).to_contain_text(f"# Graded cell of Exercise {number}: {exercise}.")
    # each exercise by its name and the reason, in a screen or two: no graded cell's code, no traceback
    expect(dialog).to_contain_text("NotImplementedError: kl_to_standard_normal is yours to write")
    expect(dialog).not_to_contain_text("Traceback")
    report = dialog.locator(".jp-Dialog-body").inner_text().splitlines()
    assert len(report) <= 40, f"{len(report)} lines for {len(EXERCISES_OF_01)} unfinished exercises"


def test_validate_shows_a_checks_whole_message_within_the_dialog(student_page, student_lab):
    """A check's message and its hint are one long line; the dialog shows it in a box that does not wrap, so the
    report wraps it (grading/validation.py), and nothing runs off to the right."""
    path = completed_notebook(student_lab, "01_elbo", "kl_flipped.ipynb")
    notebook = student_lab.root / path
    notebook.write_text(notebook.read_text().replace("return 0.5 * (logvar.exp()", "return -0.5 * (logvar.exp()", 1))
    open_notebook(student_page, student_lab, path)
    dialog = validate(student_page)
    expect(dialog).to_contain_text("expected [0.5], got [-0.5]")
    expect(dialog).to_contain_text("Hint:")
    overflowing = dialog.locator("pre").evaluate_all(
        "boxes => boxes.filter(box => box.scrollWidth > box.clientWidth + 1).map(box => box.innerText.slice(0, 80))")
    assert not overflowing, f"lines wider than the dialog: {overflowing}"


def test_validate_passes_a_completed_notebook(student_page, student_lab):
    open_notebook(student_page, student_lab, completed_notebook(student_lab, "01_elbo"))
    expect(validate(student_page)).to_contain_text("Success! Your notebook passes all the tests.")


NOTE_A_TRAINING_BAR = """() => {
  window.sawTrainingBar = false;
  new MutationObserver(() => {
    for (const output of document.querySelectorAll('.jp-CodeCell .jp-OutputArea-output')) {
      const cell = output.closest('.jp-CodeCell');
      if (output.querySelector('.widget-hprogress') && output.textContent.includes('epoch 1/')
          && cell.querySelector('.jp-InputArea').textContent.includes('history = train(')) {
        window.sawTrainingBar = true;
      }
    }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def test_training_shows_a_progress_bar_then_its_figure(student_page, student_lab):
    """03 trains with vae_helpers' train(), which shows tqdm's widget (02 has the student's own loop)."""
    page = student_page
    open_notebook(page, student_lab, completed_notebook(student_lab, "03_conv_vae"))
    # The bar lives only while an epoch runs (a fraction of a second in fast mode on a quick machine), so the
    # page itself notes whether one ever showed in the training cell, named after its epoch.
    page.evaluate(NOTE_A_TRAINING_BAR)
    choose_menu(page, "Run", "Run All Cells")
    training = code_cell(page, "history = train(")
    page.wait_for_function("window.sawTrainingBar === true", timeout=RUN_TIMEOUT_MS)

    figure = training.locator(".jp-RenderedImage img").first
    expect(figure).to_be_attached(timeout=RUN_TIMEOUT_MS)
    expect(page.locator(".jp-OutputArea-output", has_text="Traceback")).to_have_count(0)
    figure.scroll_into_view_if_needed()
    size = figure.bounding_box()
    assert size["width"] > 200 and size["height"] > 100, f"the loss curves are drawn {size}"


def nbgrader_menu(page, lab):
    """The items of JupyterLab's Nbgrader menu, and the titles of the side bars' tabs."""
    page.goto(lab.url("/lab"))
    page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
    items = [item.inner_text().strip() for item in page.locator(".lm-Menu-content .lm-Menu-item").all()
             if item.is_visible()]
    page.keyboard.press("Escape")
    tabs = [tab.get_attribute("title") or "" for tab in page.locator(".jp-SideBar .lm-TabBar-tab").all()]
    return items, tabs


def test_students_see_the_student_tools_only(student_page, student_lab, instructor_page, instructor_lab):
    items, tabs = nbgrader_menu(student_page, student_lab)
    assert items == ["Assignment List"], items
    assert not any("Create Assignment" in tab for tab in tabs), tabs
    with pytest.raises(urllib.error.HTTPError, match="404"):
        student_lab.get("/formgrader")
    items, tabs = nbgrader_menu(instructor_page, instructor_lab)  # the same installation, all of nbgrader's tools
    assert {"Assignment List", "Course List", "Formgrader"} <= set(items), items
    assert any("Create Assignment" in tab for tab in tabs), tabs


def test_formgrader_lists_the_assignments_without_exchange_errors(instructor_page, instructor_lab):
    instructor_page.goto(instructor_lab.url("/formgrader"))
    for assignment in ASSIGNMENTS:
        expect(instructor_page.get_by_role("row").filter(has_text=assignment)).to_have_count(1)
    expect(instructor_page.locator("body")).not_to_contain_text(
        re.compile("exchange directory|does not exist|could not be created", re.I), use_inner_text=True)
