import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from grading.feedback import HideHiddenTests, latex_to_mathml


def cell_with_error(graded):
    hidden = "### BEGIN HIDDEN TESTS\nassert secret_check()\n### END HIDDEN TESTS"
    cell = new_code_cell(hidden if graded else "assert secret_check()")
    cell.metadata["nbgrader"] = {"grade": graded, "solution": False, "locked": True, "grade_id": "t",
                                 "points": 1, "schema_version": 3}
    cell.outputs = [new_output("error", ename="AssertionError", evalue="KL is wrong",
                               traceback=["\x1b[0;31mAssertionError\x1b[0m", "----> 2 assert secret_check()",
                                          "AssertionError: KL is wrong"])]
    return cell


def test_graded_cells_lose_their_hidden_tests_and_keep_only_the_error_line():
    notebook = new_notebook(cells=[cell_with_error(graded=True)])
    trimmed, _ = HideHiddenTests().preprocess(notebook, {})
    assert "secret_check" not in trimmed.cells[0].source
    assert trimmed.cells[0].outputs[0].traceback == ["AssertionError: KL is wrong"]
    nbformat.validate(trimmed)


def test_other_cells_keep_their_traceback():
    notebook = new_notebook(cells=[cell_with_error(graded=False)])
    trimmed, _ = HideHiddenTests().preprocess(notebook, {})
    assert "----> 2 assert secret_check()" in trimmed.cells[0].outputs[0].traceback


def test_math_becomes_mathml_and_prose_and_unreadable_latex_stay():
    text = r"The KL $\mathrm{KL}(q \| p)$ costs $$\frac12 \sum_j \mu_j^2$$ nats, and \$5 stays; $\badmacro{$"
    converted = latex_to_mathml(text)
    assert converted.count("<math") == 2 and 'display="block"' in converted
    assert "\\frac12" not in converted and "The KL " in converted and " nats, and \\$5 stays" in converted
