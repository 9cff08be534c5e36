"""What a notebook or a page shows, line by line: the lines that must never leak from solutions and hidden
tests, and the text a reader of an HTML page sees."""
import html
import json
import re

from judge.hidden_tests import FOLDER
from support.course import REPO

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def read(path):
    return json.loads(path.read_text())


def lines_of(text):
    """The set of stripped lines of a text: a secret leaks when one stands as a whole line."""
    return {line.strip() for line in text.splitlines()}


def visible_text(page):
    """The text a reader of an HTML page sees: no styles or scripts, tags removed (code is split into
    highlighted spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.DOTALL)))


def split_blocks(source, marker_pairs):
    """(lines between any pair of markers, lines outside them), each stripped."""
    inside, outside, end = [], [], None
    for line in (line.strip() for line in source.splitlines()):
        if end is None and any(line == begin for begin, _ in marker_pairs):
            end = dict(marker_pairs)[line]
        elif line == end:
            end = None
        else:
            (inside if end else outside).append(line)
    return inside, outside


def secret_lines(assignment, kinds=(SOLUTION_MARKERS, HIDDEN_MARKERS), answers=True):
    """Distinctive lines of ``assignment``'s solution code, hidden tests (its module in hidden_tests/ too) and
    written model answers.

    Lines that also stand in a public part of the notebook (``return x``, a method that
    a hidden test rebuilds) are left out: seeing them gives nothing away.
    """
    secrets, public, notebook = [], [], set()
    for cell in read(REPO / "solutions" / assignment / f"{assignment}.ipynb")["cells"]:
        source = "".join(cell["source"])
        notebook |= lines_of(source)
        if cell["cell_type"] == "markdown" and cell["metadata"].get("nbgrader", {}).get("solution"):
            secrets += [line.strip() for line in source.splitlines()] if answers else []
            continue
        _, shown = split_blocks(source, (SOLUTION_MARKERS, HIDDEN_MARKERS))
        secrets += split_blocks(source, kinds)[0]
        public += shown
    if HIDDEN_MARKERS in kinds:  # a reference version may repeat the solution's lines: those are the solution's
        secrets += [line for line in lines_of((REPO / FOLDER / f"{assignment}.py").read_text())
                    if line not in notebook and not line.startswith(("import ", "from ", "#", '"""'))]
    return {line for line in secrets if len(line) >= 16 and line not in public}
