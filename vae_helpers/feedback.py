"""nbgrader feedback that shows students why a graded cell failed, but not its hidden code.

IPython tracebacks quote the lines around the failing call, so the traceback of a failed
hidden test would print the test itself. ``TrimGradedTracebacks`` reduces the error output of
every graded cell to its last line, e.g. ``AssertionError: KL differs from the closed form``.
nbgrader_config.py runs it when generating feedback.
"""
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor


class TrimGradedTracebacks(NbGraderPreprocessor):
    """Keep only ``ErrorName: message`` of the errors in graded cells."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and utils.is_grade(cell):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
