"""What a user does in JupyterLab in a real browser: open, run, type, validate."""
import re
from contextlib import contextmanager
from pathlib import Path

import shutil

import pytest
from playwright.sync_api import expect, sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

UI_TIMEOUT_MS = 30_000  # the tests' default for any wait
KERNEL_START_TIMEOUT_MS = 60_000
RUN_TIMEOUT_MS = 180_000  # running a whole notebook, or nbgrader validating one, on a busy 2-core machine

NOT_RUN = "[ ]:"  # the prompt of a code cell that has not run


@contextmanager
def launched_browser():
    """Debian's Chromium, driven by Playwright, until the block ends."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser():
    """The browser of one test module."""
    with launched_browser() as browser:
        yield browser


def open_notebook(page, lab, path):
    """Open the notebook at ``path`` (relative to the lab's folder) and wait for its kernel to be idle."""
    page.goto(lab.url(f"/lab/tree/{path}"))
    expect(notebook_tab(page, Path(path).name)).to_be_visible()
    wait_for_idle_kernel(page)


def notebook_tab(page, name):
    """The main area's tab of the open document ``name``."""
    return page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=name)


def wait_for_idle_kernel(page):
    """Wait until the status bar reads e.g. "Python 3 (ipykernel) | Idle"."""
    status = page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\(ipykernel\) \| Idle$"))
    expect(status).to_be_visible(timeout=KERNEL_START_TIMEOUT_MS)


def choose_menu(page, menu, item):
    """Click ``item`` in the menu bar's ``menu``, e.g. Run > Run All Cells."""
    page.get_by_role("menuitem", name=menu, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


def code_cell(page, text):
    """The notebook's code cell whose source contains ``text``."""
    return page.locator(".jp-Notebook .jp-CodeCell").filter(
        has=page.locator(".jp-InputArea", has_text=text))


def outputs(cell, text):
    """``cell``'s outputs that contain ``text``."""
    return cell.locator(".jp-OutputArea-output", has_text=text)


def prompts(page):
    """Every code cell's prompt, e.g. ["[1]:", "[2]:", "[ ]:"]."""
    return [prompt.strip() for prompt in
            page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").all_text_contents()]


def wait_until_no_cell_is_queued(page):
    """Wait until no cell shows the "[*]:" prompt of a cell that is running or waiting to run."""
    expect(page.locator(".jp-Notebook .jp-InputPrompt", has_text="[*]")).to_have_count(0, timeout=RUN_TIMEOUT_MS)


def replace_source(page, cell, source):
    """Select everything in ``cell``'s editor and type ``source`` instead (pasted: no auto-indent)."""
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(source)


def validate(page):
    """Press the notebook's Validate button; return nbgrader's result dialog."""
    page.get_by_role("button", name="Validate").click()
    dialog = page.locator(".jp-Dialog", has_text="Validation Results")
    expect(dialog).to_be_visible(timeout=RUN_TIMEOUT_MS)
    return dialog
