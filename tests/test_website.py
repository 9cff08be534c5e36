"""The course's site, built as `python -m website` builds it, from every solution notebook executed in fast mode on
the bundled data, then read in a real browser: pages load, math and figures render, links resolve, and no
solution or hidden test appears anywhere in what was built, beyond what the student notebooks show."""
import functools
import html
import http.server
import re
import threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from playwright.sync_api import expect

from bench import notebooks
from support.browser import browser  # noqa: F401 (a fixture)
from support.course import ASSIGNMENTS, REPO, notebook_path, skip_or_fail, why_no_browser
from support.notebook_text import lines_of, read, secret_lines
from vae_helpers.data import DATASET_VARIABLE
from website.build import build

skip_or_fail(why_no_browser(), "site's browser tests")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site's folder, built from the solutions executed in fast mode on the digits (and the photographs)."""
    executed = tmp_path_factory.mktemp("executed")
    with notebooks.environment({DATASET_VARIABLE: "digits"}):
        for assignment in ASSIGNMENTS:
            run = notebooks.execute(REPO / "solutions" / assignment / f"{assignment}.ipynb", "fast",
                                    keep=executed / f"{assignment}.ipynb")
            assert run["error"] is None, f"{assignment} failed in fast mode: {run['error']}"
    output = tmp_path_factory.mktemp("site")
    assert build([executed], output) == [], "every lecture has its outputs"
    return output


@pytest.fixture(scope="module")
def served(site):
    """The site served over HTTP on 127.0.0.1, as a host would serve it."""
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def page_lines(path: Path) -> set:
    """A built file's lines as a reader could find them: tags left out, the HTML's entities decoded."""
    return lines_of(html.unescape(re.sub(r"<[^>]+>", "", path.read_text(errors="replace"))))


@functools.cache
def released_lines() -> frozenset:
    """Every line of every student notebook in course/: public already (a later notebook may show, as its own
    code, a line that answers an earlier one)."""
    return frozenset(line for assignment in ASSIGNMENTS for cell in read(notebook_path(REPO / "course", assignment))["cells"]
                     for line in lines_of("".join(cell["source"])))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_solution_or_hidden_test_is_anywhere_in_the_site(site, assignment):
    secrets = secret_lines(assignment) - released_lines()
    assert secrets
    built = [path for path in site.rglob("*") if path.is_file() and path.suffix in (".html", ".txt", ".ipynb", ".js",
                                                                                     ".json", ".md")]
    leaks = {str(path.relative_to(site)): sorted(secrets & page_lines(path))[:3] for path in built}
    leaks = {path: lines for path, lines in leaks.items() if lines}
    assert not leaks, f"{assignment}'s solution or hidden-test lines in the site: {leaks}"


def test_each_lecture_shows_its_run_and_every_link_resolves(served, site, browser):  # noqa: F811
    page = browser.new_page()
    page.goto(served)
    expect(page.locator("article h1")).to_contain_text("Variational Autoencoders, hands on")
    lectures = page.locator("nav a[href*='lectures/']")
    expect(lectures).to_have_count(len(ASSIGNMENTS))
    targets = {}
    for assignment in ASSIGNMENTS:
        page.goto(urljoin(served, f"lectures/{assignment}.html"))
        expect(page.locator("a[href*='colab.research.google.com']").first).to_have_attribute(
            "href", re.compile(f"course/{assignment}/{assignment}.ipynb$"))
        formulas = page.locator("article math")
        assert formulas.count() > 5, f"{assignment}: its formulas are not MathML"
        assert formulas.first.bounding_box()["height"] > 5, f"{assignment}: a formula is not drawn"
        assert "$$" not in page.locator("article").inner_text(), f"{assignment}: raw LaTeX left in the text"
        figures = page.locator("article img[src*='_images/']")
        assert figures.count() > 0, f"{assignment}: no figure of the run"
        for index in range(figures.count()):
            figure = figures.nth(index)
            figure.scroll_into_view_if_needed()
            assert figure.evaluate("image => image.complete && image.naturalWidth > 0"), \
                f"{assignment}: figure {index} did not load"
            assert len(figure.get_attribute("alt") or "") > 10, f"{assignment}: figure {index} has no alt text"
        for href in page.locator("a[href]").evaluate_all("links => links.map(link => link.href)"):
            targets.setdefault(href, assignment)
    for guide in ("students", "instructors", "hub", "grading-at-scale", "sandbox-and-judge", "developing",
                  "BENCHMARKS"):
        page.goto(urljoin(served, f"{guide}.html"))
        expect(page.locator("article h1")).to_have_count(1)
        for href in page.locator("a[href]").evaluate_all("links => links.map(link => link.href)"):
            targets.setdefault(href, guide)
    broken = [f"{href} (from {where})" for href, where in targets.items()
              if href.startswith(served) and not (site / urlparse(href).path.lstrip("/")).exists()]
    assert not broken, f"links to pages the site does not have: {broken[:10]}"
