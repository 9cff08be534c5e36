"""The hidden tests themselves, run in this process on the solution and on each planted mistake
(tests/support/hidden.py): the solution passes every one, each mistake fails its own exercise and no other,
and each correct answer in another style passes. The graded cells and the modules agree: each graded cell's
hidden region is one line naming a test of its notebook's module, and each test is named by one cell.
"""
import ast
import inspect
import re
import types

import pytest

from support.course import ASSIGNMENTS, REPO
from judge import hidden_tests
from support.hidden import cells_of, graded_cells, judged
from support.planted import ALTERNATIVES, CAUGHT_VISIBLY, MISTAKES, NAMED_BY_THE_VISIBLE_CHECKS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_graded_cell_names_one_test_of_its_notebooks_module(assignment):
    module = hidden_tests.load(assignment, REPO / hidden_tests.FOLDER)
    graded = [cell for cell in cells_of(assignment) if cell.metadata.nbgrader.get("grade") and "### BEGIN HIDDEN" in cell.source]
    for cell in graded:
        region = re.search(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S).group(1)
        assert region == f"# hidden test: {cell.metadata.nbgrader['grade_id']}\n", \
            f"{assignment}: the hidden region of {cell.metadata.nbgrader['grade_id']} holds more than the line naming its test"
    named = [test for _, test, _, _ in graded_cells(assignment)]
    defined = sorted(name for name in vars(module) if name.startswith("test_") and callable(getattr(module, name)))
    assert len(named) == len(graded) and sorted(named) == defined, f"{assignment}: cells name {named}, the module defines {defined}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_module_defines_each_name_once(assignment):
    tree = ast.parse((REPO / hidden_tests.FOLDER / f"{assignment}.py").read_text())
    names = [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    assert len(names) == len(set(names)), f"{assignment}: defined twice: {sorted({n for n in names if names.count(n) > 1})}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_solution_passes_every_hidden_test(assignment):
    failed = {cell: error for cell, error in judged(assignment).items() if error}
    assert not failed


@pytest.mark.parametrize("assignment, mistake, cell_id, correct, mistaken, losing_cell", MISTAKES,
                         ids=[f"{m[0]}:{m[1]}" for m in MISTAKES])
def test_each_planted_mistake_fails_its_own_exercise_only(assignment, mistake, cell_id, correct, mistaken, losing_cell):
    verdicts = judged(assignment, [(cell_id, correct, mistaken)])
    assert verdicts[losing_cell], f"{mistake} went unnoticed by {losing_cell}"
    elsewhere = {cell: error for cell, error in verdicts.items() if error and cell != losing_cell}
    assert not elsewhere, f"{mistake} also fails {elsewhere}"


def visible_verdict(monkeypatch, assignment, mistake):
    """The error of the graded cell that ``mistake`` must lose, judged with every hidden test emptied, so that only
    a graded cell's visible checks judge, as Validate does."""
    _, _, cell_id, correct, mistaken, losing_cell = next(m for m in MISTAKES if m[:2] == (assignment, mistake))
    run_on = hidden_tests.run_on

    def visible_only(module, test, visible, functions, student=None, cell=None):
        emptied = types.ModuleType(module.__name__)
        emptied.__dict__.update(vars(module))

        def nothing(*args, **kwargs):
            return None
        nothing.__signature__ = inspect.signature(getattr(module, test))
        setattr(emptied, test, nothing)
        return run_on(emptied, test, visible, functions, student, cell)

    monkeypatch.setattr(hidden_tests, "run_on", visible_only)
    return judged(assignment, [(cell_id, correct, mistaken)])[losing_cell]


@pytest.mark.parametrize("assignment, mistake", CAUGHT_VISIBLY, ids=[f"{a}:{m}" for a, m in CAUGHT_VISIBLY])
def test_each_mistake_the_visible_checks_promise_to_catch_fails_them(monkeypatch, assignment, mistake):
    """Validate fails on each such mistake."""
    assert visible_verdict(monkeypatch, assignment, mistake), f"{mistake} passes the visible checks"


@pytest.mark.parametrize("assignment, mistake", sorted(NAMED_BY_THE_VISIBLE_CHECKS),
                         ids=[f"{a}:{m}" for a, m in sorted(NAMED_BY_THE_VISIBLE_CHECKS)])
def test_the_visible_checks_name_the_cause_of_each_such_mistake(monkeypatch, assignment, mistake):
    """Validate's message names what went wrong (the argument changed in place, the gradient cut), not a numeric
    mismatch elsewhere."""
    error = visible_verdict(monkeypatch, assignment, mistake) or ""
    words = NAMED_BY_THE_VISIBLE_CHECKS[(assignment, mistake)]
    assert all(word in error for word in words), f"{mistake}: {error!r} does not say {words}"


def test_each_mistake_named_by_the_visible_checks_is_planted():
    planted = {(assignment, mistake) for assignment, mistake, *_ in MISTAKES}
    assert not set(NAMED_BY_THE_VISIBLE_CHECKS) - planted


ALTERNATIVE_SETS = [(a, n, changes) for a in sorted({a[0] for a in ALTERNATIVES})
                    for n, changes in enumerate(c for other, c in ALTERNATIVES if other == a)]


@pytest.mark.parametrize("assignment, number, changes", ALTERNATIVE_SETS,
                         ids=[f"{a}:alternative-{n}" for a, n, _ in ALTERNATIVE_SETS])
def test_correct_answers_in_another_style_pass_every_hidden_test(assignment, number, changes):
    failed = {cell: error for cell, error in judged(assignment, changes).items() if error}
    assert not failed
