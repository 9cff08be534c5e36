"""The classic VAE mistakes (tests/support/planted.py) judged as autograde judges them: correct answers
written differently from the instructor's earn every point, and a submission with a mistake in every
exercise at once loses points on exactly those exercises.

Each variant is judged in a kernel that holds the solution's answers (tests/support/answers_kernel.py),
through the judge's questions, as autograde judges it. The submission of one mistake per exercise is also
autograded for real, once: test_grading_out_of_reach.py grades each assignment's, with an attack on top, and
finds that it earns no point. Each mistake on its own is judged in this process (tests/test_hidden_tests.py),
which is much faster.
"""
import itertools

import pytest

from support.answers_kernel import AnswersKernel
from support.course import ASSIGNMENTS
from support.hidden import graded_cells
from support.planted import ALTERNATIVES, MISTAKES


def first_of_each_exercise(assignment):
    """The first planted mistake of each exercise of ``assignment``: one submission's worth."""
    planted = sorted((m for m in MISTAKES if m[0] == assignment), key=lambda m: m[2])
    return [next(group) for _, group in itertools.groupby(planted, key=lambda m: m[2])]


def as_changes(mistakes):
    return [(m[2], m[3], m[4]) for m in mistakes]


@pytest.fixture(scope="module")
def judged():
    """{key: {graded cell: its error or None}}, each set of alternative answers ((assignment, number)) and
    each assignment's submission of one mistake per exercise ((assignment, "all at once")) judged in a kernel
    that holds the solution's answers."""
    results = {}
    for assignment in ASSIGNMENTS:
        with AnswersKernel(assignment) as kernel:
            for number, changes in enumerate(a[1] for a in ALTERNATIVES if a[0] == assignment):
                results[assignment, number] = kernel.judged_with(changes)
            results[assignment, "all at once"] = kernel.judged_with(as_changes(first_of_each_exercise(assignment)))
    return results


ALTERNATIVE_SETS = [(a, n) for a in sorted({a[0] for a in ALTERNATIVES})
                    for n in range(sum(1 for other in ALTERNATIVES if other[0] == a))]


@pytest.mark.parametrize("assignment, number", ALTERNATIVE_SETS, ids=[f"{a}:alternative-{n}" for a, n in ALTERNATIVE_SETS])
def test_correct_answers_in_another_style_earn_every_point(judged, assignment, number):
    failed = {cell: error for cell, error in judged[assignment, number].items() if error}
    assert not failed, f"correct alternative answers fail {failed}"


def test_every_graded_cell_meets_a_mistake():
    for assignment in ASSIGNMENTS:
        graded = {cell_id for cell_id, _, _, _ in graded_cells(assignment)}
        assert graded == {m[5] for m in MISTAKES if m[0] == assignment}, assignment


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_mistake_in_every_exercise_fails_every_exercise_where_autograde_judges_it(judged, assignment):
    failing = {cell for cell, error in judged[assignment, "all at once"].items() if error}
    assert failing == {m[5] for m in first_of_each_exercise(assignment)}
