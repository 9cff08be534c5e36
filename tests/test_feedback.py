import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from vae_helpers.feedback import TrimGradedTracebacks


def cell_with_error(graded):
    cell = new_code_cell("### BEGIN HIDDEN TESTS\nassert secret_check()\n### END HIDDEN TESTS")
    cell.metadata["nbgrader"] = {"grade": graded, "solution": False, "locked": True, "grade_id": "t",
                                 "points": 1, "schema_version": 3}
    cell.outputs = [new_output("error", ename="AssertionError", evalue="KL is wrong",
                               traceback=["\x1b[0;31mAssertionError\x1b[0m", "----> 2 assert secret_check()",
                                          "AssertionError: KL is wrong"])]
    return cell


def test_graded_cells_keep_only_the_error_line():
    notebook = new_notebook(cells=[cell_with_error(graded=True)])
    trimmed, _ = TrimGradedTracebacks().preprocess(notebook, {})
    assert trimmed.cells[0].outputs[0].traceback == ["AssertionError: KL is wrong"]
    nbformat.validate(trimmed)


def test_other_cells_keep_their_traceback():
    notebook = new_notebook(cells=[cell_with_error(graded=False)])
    trimmed, _ = TrimGradedTracebacks().preprocess(notebook, {})
    assert "----> 2 assert secret_check()" in trimmed.cells[0].outputs[0].traceback
