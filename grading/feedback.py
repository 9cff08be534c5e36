"""The feedback students receive: no hidden test shown, math readable offline.

``nbgrader_config.py`` runs ``HideHiddenTests`` when generating feedback, after nbgrader's
``GetGrades``, and ``RenderMath`` in every HTML that nbgrader makes: the feedback and Formgrader's
hand-grading view.
"""
import re

from latex2mathml.converter import convert
from nbconvert.preprocessors import Preprocessor
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests
from traitlets import Bool, List

# "$$...$$" (display) or "$...$" (inline), not preceded by a backslash.
_MATH = re.compile(r"(?<!\\)\$\$(?P<display>.+?)(?<!\\)\$\$|(?<!\\)\$(?P<inline>[^$\n]+?)(?<!\\)\$", re.DOTALL)


class HideHiddenTests(ClearHiddenTests):
    """nbgrader's ``ClearHiddenTests``, and the error of each graded cell cut to ``ErrorName: message``.

    IPython tracebacks quote the lines around the failing call, so the traceback of a failed
    hidden test would print the test itself; its last line, e.g.
    ``AssertionError: KL differs from the closed form``, says why without showing how.
    """

    # nbconvert's HTML exporter sets display_data_priority for every preprocessor; nbgrader's own
    # preprocessors do not declare it configurable and each logs "Config option not recognized".
    display_data_priority = List(ClearHiddenTests.display_data_priority.default_value).tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.cell_type == "code" and utils.is_grade(cell):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


def latex_to_mathml(text: str) -> str:
    """Markdown with every ``$...$`` and ``$$...$$`` replaced by MathML (which browsers draw themselves).

    A formula the converter cannot read is left as it was.
    """
    def mathml(match):
        display = match["display"] is not None
        try:
            return convert(match["display"] if display else match["inline"], display="block" if display else "inline")
        except Exception:  # a student's own LaTeX may be anything
            return match[0]

    return _MATH.sub(mathml, text)


class RenderMath(Preprocessor):
    """Math in markdown cells as MathML, so a page read offline shows formulas, not raw LaTeX.

    nbconvert's HTML loads MathJax from the internet to typeset the LaTeX; without a network a
    student would read ``\\mathrm{KL}\\big(q(z \\mid x)\\,\\|\\,p(z)\\big)``.
    """

    enabled = Bool(True)  # nbconvert's preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "markdown":
            cell.source = latex_to_mathml(cell.source)
        return cell, resources
