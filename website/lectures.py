"""A lecture as the site shows it: the student notebook, the outputs of an executed run, math as MathML, launch
buttons, and alt text for its figures."""
import re
from pathlib import Path

import nbformat

from grading.feedback import latex_to_mathml

REPOSITORY = "vae-hands-on/vae-hands-on"  # on GitHub: where Binder and Colab open the student notebooks
COURSE = Path(__file__).resolve().parents[1] / "course"


def is_answer(cell) -> bool:
    """True for a cell the student writes (an nbgrader solution cell): the site shows its stub, with no output."""
    return bool(cell.metadata.get("nbgrader", {}).get("solution"))


def launch_buttons(assignment: str) -> str:
    """Markdown: buttons that open the student notebook on Binder and on Colab, and what the outputs are."""
    path = f"course/{assignment}/{assignment}.ipynb"
    binder = f"https://mybinder.org/v2/gh/{REPOSITORY}/HEAD?urlpath=lab/tree/{path}"
    colab = f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/{path}"
    return (f"[![Launch on Binder](https://mybinder.org/badge_logo.svg)]({binder}) "
            f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab})\n\n"
            "*The outputs below are those of one run of the notebook with its exercises solved; the solutions are "
            "yours to write.*")


def alt_text(markdown: str) -> str:
    """A figure's alt text from the text that introduces it: its heading, and the first sentence of its first
    paragraph, without markup."""
    text = re.sub(r"<math.*?</math>", "(a formula)", markdown, flags=re.DOTALL)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their words
    text = re.sub(r"[*_`]", "", text)
    paragraphs = [" ".join(part.split()) for part in text.split("\n\n") if part.strip()]
    headings = [part.lstrip("# ") for part in paragraphs if part.startswith("#")]
    prose = [part for part in paragraphs if not part.startswith("#")]
    sentence = re.split(r"(?<=[a-z)\]][.!?])\s+(?=[A-Z])", prose[0], maxsplit=1)[0] if prose else ""
    return ": ".join(part for part in (headings[0] if headings else "", sentence) if part)[:300]


def lecture(assignment: str, executed: Path | None):
    """The student notebook of ``assignment``, each non-answer cell with the outputs of its namesake (same cell
    id) in the executed notebook ``executed`` (none where it is None), markdown math as MathML, and the launch
    buttons under its title."""
    notebook = nbformat.read(COURSE / assignment / f"{assignment}.ipynb", as_version=4)
    outputs = {}
    if executed is not None:
        outputs = {cell.id: cell.outputs for cell in nbformat.read(executed, as_version=4).cells
                   if cell.cell_type == "code"}
    introduction = ""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = latex_to_mathml(cell.source)
            introduction = cell.source
            continue
        cell.outputs = [] if is_answer(cell) else outputs.get(cell.id, [])
        if any("image/png" in output.get("data", {}) for output in cell.outputs):
            cell.metadata["mystnb"] = {"image": {"alt": alt_text(introduction) or f"A figure of {assignment}"}}
    title, _, rest = notebook.cells[0].source.partition("\n")  # the buttons right under the lecture's title
    notebook.cells[0].source = f"{title}\n\n{launch_buttons(assignment)}\n{rest}"
    return notebook
