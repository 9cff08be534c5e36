"""Hidden tests as Python: one module per notebook, ``hidden_tests/NN_topic.py``, beside ``solutions/``.

A graded cell's hidden region is one line, ``# hidden test: test_NAME``, naming a function of its notebook's
module. nbgrader removes the region from the students' notebooks; the module itself is never released,
never copied into a submission's folder and never seen by the grading sandbox. A module holds:

- ``test_NAME(...)``, one per graded cell: its parameters name the student functions and classes it tests
  (and ``student``, when it lends objects to the student's code: ``student.lend``, ``student.lend_copy``,
  ``student.parameters_of``); it raises, through the ``vae_helpers.checks`` functions or ``assert``, when
  an answer is wrong;
- ``ANSWERS``: {name: the module's own version of a student function}. While a later exercise's code runs,
  each stands in for the student's one unless that passed its own exercise, so that each exercise is graded
  on its own; the cell's visible checks call these versions of the functions their cell does not test;
- ``WITHHELD``, where it is needed: {name: a function that raises}, a function of the notebook that the student's
  code may not use, in its place while that code runs (07's ``gap_of_diagonal_q``, which an optimiser would
  minimise for ``best_diagonal_q``); the visible checks take it away in the notebook alike;
- what the visible checks use of the notebook's earlier cells: plain names of the module, or those
  ``notebook_objects(student)`` returns, when they must be lent; and ``DEFAULT_DTYPE``, where the
  notebook's setup sets one.

``judge_cell`` runs a cell's visible checks and then its test in the grading process, on the student's
kernel (``judge.grading_side``); ``run_on`` runs them on plain functions, as pytest does with the solution's
and each planted mistake's.
"""
import contextlib
import importlib.util
import inspect
import io
import re
import zlib
from pathlib import Path

import torch
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests

from judge.grading_side import HIDDEN_TEST_MODULES, Student, Verdicts, torch_state_kept
from vae_helpers.checks import answering
from vae_helpers.lending import AsLent

FOLDER = "hidden_tests"  # where the modules are, in the course folder (where nbgrader runs)
HIDDEN_LINE = re.compile(r"# hidden test: (test_[A-Za-z0-9_]+)")
NOTEBOOK_NAME = re.compile(r"[A-Za-z0-9_]+")
BEGIN, END = ClearHiddenTests.begin_test_delimeter.default_value, ClearHiddenTests.end_test_delimeter.default_value


def hidden_test_name(cell):
    """The name of the hidden test of a graded code cell whose hidden region is its one line; else None."""
    if cell.cell_type != "code" or not utils.is_grade(cell):
        return None
    regions = re.findall(rf"^### {re.escape(BEGIN)}\n(.*?)^### {re.escape(END)}$", cell.source, re.M | re.S)
    if len(regions) != 1:
        return None
    found = HIDDEN_LINE.fullmatch(regions[0].strip())
    return found.group(1) if found else None


def is_judged(cell):
    """True for a graded cell whose hidden test is judged in the grading process (see the module)."""
    return hidden_test_name(cell) is not None


def as_released(source):
    """A graded cell's source without its hidden region, as the student was given it."""
    cell = NotebookNode(cell_type="code", source=source, metadata={})
    ClearHiddenTests()._remove_hidden_test_region(cell)
    return cell.source


def load(notebook, folder=FOLDER):
    """The hidden test module of ``notebook`` (its name, as ``06_collapse_and_inference``), loaded afresh
    from ``folder``, so that nothing one submission's grading did to it reaches the next."""
    if not NOTEBOOK_NAME.fullmatch(notebook):
        raise ValueError(f"no hidden tests for a notebook named {notebook!r}")
    path = Path(folder) / f"{notebook}.py"
    if not path.is_file():
        raise FileNotFoundError(f"the hidden tests of {notebook} are not in {path.resolve()}: grade in the "
                                f"course folder, which holds {FOLDER}/ beside solutions/")
    spec = importlib.util.spec_from_file_location(HIDDEN_TEST_MODULES + notebook, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def student_names(module, test):
    """The student functions and classes that ``test`` of ``module`` takes."""
    return [name for name in inspect.signature(getattr(module, test)).parameters if name != "student"]


class InProcess:
    """The student as a hidden test sees them when it runs on plain functions (pytest): what it lends is
    the object itself; a copy is lent as grading lends it to the kernel (``AsLent``)."""

    def lend(self, obj, values=(), methods=(), affine=None):
        return obj

    def lend_copy(self, module):
        return AsLent(module)

    def parameters_of(self, lent):
        return [p.detach() for p in lent.model.parameters()]


def run_on(module, test, visible, functions, student=None, cell=None):
    """Run a graded cell's ``visible`` checks, then ``test`` of ``module``, with ``functions`` {name: the
    student's function or class}; raise what fails. ``student`` is the kernel (``grading_side.Student``)
    or, on plain functions, ``InProcess``."""
    student = student or InProcess()
    functions = {name: answering(function) for name, function in functions.items()}
    namespace = dict(vars(module), **getattr(module, "ANSWERS", {}))
    with torch_state_kept():
        torch.manual_seed(zlib.crc32(test.encode()))  # the same random numbers, so the same messages, at every grading
        torch.set_default_dtype(getattr(module, "DEFAULT_DTYPE", torch.float32))
        if hasattr(module, "notebook_objects"):
            namespace.update(module.notebook_objects(student))
        namespace.update(functions)
        exec(compile(visible, f"<graded cell {cell or test}>", "exec"), namespace)
        takes = inspect.signature(getattr(module, test)).parameters
        getattr(module, test)(**{name: student if name == "student" else functions[name] for name in takes})


def judge_cell(source, module, ask, cell, verdicts=None):
    """Judge the graded cell ``cell`` (its whole ``source``) in the grading process, asking the kernel
    through ``ask``: the cell's outputs, what its checks printed and, if one failed, its error.
    ``verdicts`` carries what earlier judged cells of the notebook found, and records this one's."""
    verdicts = verdicts if verdicts is not None else Verdicts()
    test = hidden_test_name(NotebookNode(cell_type="code", source=source, metadata={"nbgrader": {"grade": True}}))
    student = Student(ask, verdicts, cell)
    printed, error = io.StringIO(), None
    with contextlib.redirect_stdout(printed):
        try:
            names = student_names(module, test)
            stand_ins = {name: f for name, f in getattr(module, "ANSWERS", {}).items() if name not in names}
            stand_ins.update(getattr(module, "WITHHELD", {}))
            functions = {name: student.function(name, stand_ins) for name in names}
            run_on(module, test, as_released(source), functions, student, cell)
        except DeadKernelError:
            raise
        except Exception as failure:  # noqa: BLE001  (any failure of a check is the verdict)
            error = failure
    outputs = [NotebookNode(output_type="stream", name="stdout", text=printed.getvalue())] if printed.getvalue() else []
    if error is None:
        verdicts.passed.add(cell)
    else:
        ename, evalue = type(error).__name__, str(error)
        outputs.append(NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]))
    return outputs
