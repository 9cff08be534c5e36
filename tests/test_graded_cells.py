"""Graded cells show no check's expected value and no hint: each calls one function of its notebook's module
in vae_helpers.exercises, so a hint reaches a student only with the wrong answer it is about."""
import ast
import importlib

import pytest

from judge import hidden_tests
from support.course import ASSIGNMENTS
from support.hidden import graded_cells


def exercise_module(assignment):
    """The topic of ``assignment`` (``09_vq_vae``: ``vq_vae``), the name of its module of checks."""
    return importlib.import_module(f"vae_helpers.exercises.{assignment.split('_', 1)[1]}")


def the_call(source):
    """The one statement of a graded cell's released source, which must be ``checks.NAME(...)``: its NAME."""
    statements = ast.parse(hidden_tests.as_released(source)).body
    assert len(statements) == 1, f"{len(statements)} statements instead of one call of the notebook's checks"
    call = statements[0].value if isinstance(statements[0], ast.Expr) else None
    assert (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name) and call.func.value.id == "checks"), \
        f"not a call of checks.NAME(...): {ast.unparse(statements[0])}"
    return call.func.attr


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_graded_cell_calls_one_check_of_its_notebook_s_module(assignment):
    module = exercise_module(assignment)
    called = []
    for cell_id, _, source, _ in graded_cells(assignment):
        name = the_call(source)
        assert callable(getattr(module, name, None)), f"{cell_id}: {module.__name__} has no function {name}"
        called.append(name)
    # needs(...), which stops a later cell whose answers are still stubs, is the one public function that is no check
    public = {name for name, value in vars(module).items() if callable(value) and not name.startswith("_")
              and getattr(value, "__module__", None) == module.__name__ and name != "needs"}
    assert public == set(called), f"{module.__name__}: checks no graded cell calls: {sorted(public - set(called))}"
