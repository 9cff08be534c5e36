"""Hidden tests run in this process, on the solution's functions or on a planted mistake's, as autograde
judges them but without nbgrader or a kernel: seconds for a whole notebook.

The answer cells of a solution notebook are run here after the notebook's imports and definitions (its
functions, classes and upper-case constants; nothing else of the notebook runs: no data, no training);
each graded cell's visible checks and hidden test then run with ``judge.hidden_tests.run_on``. As the judge
does, each call of a student function gets its own seed drawn from the test's random numbers, and a student
function of another exercise is the hidden tests' version (``ANSWERS``) unless its own exercise passed.
"""
import ast
import functools

import nbformat
import torch

from judge import hidden_tests
from support.course import REPO, planted

SPECIAL = {"ANSWERS", "DEFAULT_DTYPE"}  # a hidden test module's names that are no notebook constant


def cells_of(assignment):
    """The code cells of ``assignment``'s solution notebook, in order, each with its nbgrader metadata
    (empty where it has none)."""
    notebook = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in cells:
        cell.metadata.setdefault("nbgrader", {})
    return cells


def graded_cells(assignment):
    """[(grade id, hidden test's name, the cell's source, its index among the code cells)] of the judged
    cells, in order."""
    named = [(index, cell, hidden_tests.hidden_test_name(cell)) for index, cell in enumerate(cells_of(assignment))]
    return [(cell.metadata.nbgrader["grade_id"], test, cell.source, index) for index, cell, test in named if test]


def is_definition(node):
    """True for what a notebook defines rather than does: an import, a function, a class, or a constant
    (``N_CLASSES = 10``: an assignment to upper-case names)."""
    if isinstance(node, ast.Assign):
        return all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets)
    return isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))


def definitions(assignment):
    """The source of each of the notebook's definitions, in order (see ``is_definition``), its magics left out."""
    found = []
    for cell in cells_of(assignment):
        code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        found += [ast.unparse(node) for node in ast.parse(code).body if is_definition(node)]
    return found


def answer_sources(assignment, changes=()):
    """{answer cell: its source}, in order, with ``changes`` [(answer cell, correct, changed)] planted."""
    sources = {cell.metadata.nbgrader["grade_id"]: cell.source for cell in cells_of(assignment)
               if cell.metadata.nbgrader.get("solution")}
    for cell_id, correct, changed in changes:
        sources[cell_id] = planted(sources[cell_id], correct, changed)
    return sources


def first_changed(assignment, changes):
    """The index among the code cells of the first answer cell that ``changes`` touch (0 when none). As in
    autograde, the graded cells before it keep the verdict the solution has there (passed)."""
    answer_index = {cell.metadata.nbgrader["grade_id"]: index for index, cell in enumerate(cells_of(assignment))
                    if cell.metadata.nbgrader.get("solution")}
    return min((answer_index[cell_id] for cell_id, _, _ in changes), default=0)


def answers(assignment, module, changes=()):
    """The namespace the solution's answer cells make after the notebook's definitions, with ``changes``
    planted. A definition that needs what only running the notebook makes (data, a trained model) is left
    out; the notebook's constants that the hidden tests' ``module`` also defines stand in for those computed
    from data (``N_CLASSES = len(train_data.classes)``)."""
    namespace = {"__name__": f"solution_{assignment}"}
    namespace.update({name: value for name, value in vars(module).items() if name.isupper() and name not in SPECIAL})
    for definition in definitions(assignment):
        try:
            exec(compile(definition, assignment, "exec"), namespace)
        except NameError:  # it needs what running the notebook makes
            continue
    for cell_id, source in answer_sources(assignment, changes).items():
        exec(compile(source, f"{assignment}:{cell_id}", "exec"), namespace)
    return namespace


def as_judged(function):
    """``function`` (or a class, as it builds its objects) called as the judge calls a student's: on a seed of its
    own, drawn from the caller's random numbers, which go on as if the call had been made elsewhere."""
    def seeded(call):
        seed = int(torch.randint(2**31, (1,), device="cpu"))
        state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            return call()
        finally:
            torch.random.set_rng_state(state)

    if isinstance(function, type):
        def __init__(self, *args, **kwargs):
            seeded(lambda: function.__init__(self, *args, **kwargs))
        return type(function.__name__, (function,), {"__init__": __init__, "__qualname__": function.__qualname__})

    @functools.wraps(function)
    def call(*args, **kwargs):
        return seeded(lambda: function(*args, **kwargs))
    return call


def judged(assignment, changes=()):
    """{grade id: the error of its checks, or None}, each graded cell of ``assignment`` run with the solution's
    answers, ``changes`` planted; the cells before the first changed answer are not run again
    (``first_changed``)."""
    module = hidden_tests.load(assignment, REPO / hidden_tests.FOLDER)
    namespace = answers(assignment, module, changes)
    stand_ins = getattr(module, "ANSWERS", {})
    own = {name: namespace[name] for name in stand_ins if name in namespace}
    first = first_changed(assignment, changes)
    passed_names, results = set(), {}
    for cell_id, test, source, index in graded_cells(assignment):
        names = hidden_tests.student_names(module, test)
        if index < first:
            results[cell_id] = None
            passed_names.update(names)
            continue
        for name in stand_ins:  # another exercise's function: the student's only where it passed
            if name not in names:
                namespace[name] = own[name] if name in passed_names else stand_ins[name]
        try:
            hidden_tests.run_on(module, test, hidden_tests.as_released(source),
                                {name: as_judged(namespace[name]) for name in names}, cell=cell_id)
        except Exception as error:  # noqa: BLE001  (the verdict)
            results[cell_id] = f"{type(error).__name__}: {error}"
        else:
            results[cell_id] = None
            passed_names.update(names)
        for name in own:
            namespace[name] = own[name]
    return results
