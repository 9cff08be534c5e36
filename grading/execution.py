"""How ``nbgrader autograde`` runs a submission: in the sandbox, its judged cells' hidden tests in the grading
process (grading/judge.py), and to the end even if its kernel dies.

nbgrader's ``Execute`` gives up on a submission whose kernel dies (a cell that calls ``os._exit``,
crashes the interpreter or is killed), leaves it ungraded and makes the whole run exit 1. Here the
cell that killed the kernel gets an error that says so, a fresh kernel re-runs the cells before it,
and grading goes on, so every other cell earns what it earns.
"""
import contextlib
import copy
import os
import shutil
import stat
import tempfile

from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Enum

from grading.judge import KernelQuestions, Verdicts, as_released, is_judged, judge
from grading.sandbox import SandboxedKernelManager, sandbox_problem

KERNEL_DIED = ("The kernel died while this cell ran (it exited, crashed, or was killed). The cells after it "
               "ran in a fresh kernel that first re-ran the cells before it.")


class SandboxUnavailable(RuntimeError):
    """No sandbox can start here, and the instructor did not ask to grade without one."""


def unavailable_message(problem):
    """What to tell an instructor whose machine cannot sandbox student code."""
    return (f"Student code runs only in a sandbox, and {problem}. Nothing was graded. To grade code you trust "
            "without a sandbox, add --SandboxedExecute.sandbox=off to nbgrader (or --unsandboxed to "
            "`python -m grading autograde`).")


@contextlib.contextmanager
def folder_without_notebooks(resources):
    """Run the kernel in a private copy of the submission's files without its notebooks: nbgrader executes
    in the folder where it has just written the notebook being graded, hidden tests put back. What the
    kernel writes there comes back to the submission's folder afterwards, plain files only (no link)."""
    submission = resources["metadata"]["path"]
    with tempfile.TemporaryDirectory(prefix="submission-") as copy:
        shutil.copytree(submission, copy, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.ipynb"))
        resources["metadata"]["path"] = copy
        try:
            yield
        finally:
            resources["metadata"]["path"] = submission
            for folder, _, files in os.walk(copy):
                for name in files:
                    written = os.path.join(folder, name)
                    if stat.S_ISREG(os.lstat(written).st_mode) and not name.endswith(".ipynb"):
                        target = os.path.join(submission, os.path.relpath(written, copy))
                        os.makedirs(os.path.dirname(target), exist_ok=True)
                        shutil.copyfile(written, target, follow_symlinks=False)


class SandboxedExecute(Execute):
    """nbgrader's ``Execute``, with each kernel in the sandbox, judged cells judged here and a dead kernel
    survived."""

    sandbox = Enum(["required", "off"], "required", help=(
        "'required': student code runs only in the sandbox, and grading stops where none can start. "
        "'off': student code runs with the grader's own rights (only for code you trust).")).tag(config=True)
    _announced = False  # the unsandboxed warning is given once per process

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.sandbox == "required":
            problem = sandbox_problem()
            if problem:
                raise SandboxUnavailable(unavailable_message(problem))
            self.kernel_manager_class = SandboxedKernelManager
        elif not SandboxedExecute._announced:
            SandboxedExecute._announced = True
            self.log.warning("GRADING WITHOUT A SANDBOX (sandbox=off): student code runs with your rights and can "
                             "read the hidden tests, the gradebook and other submissions.")

    def preprocess(self, nb, resources=None, km=None):
        NotebookClient.__init__(self, nb, km)  # as nbconvert's ExecutePreprocessor does
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        # the kernel runs a judged cell as released; its hidden tests run here (grading/judge.py)
        self.judged = {index: cell.source for index, cell in enumerate(self.nb.cells) if is_judged(cell)}
        self.verdicts = Verdicts()
        for index, source in self.judged.items():
            self.nb.cells[index].source = as_released(source)
        died_in, start = set(), 0
        try:
            with folder_without_notebooks(self.resources):
                while start is not None:
                    with self.setup_kernel():
                        info = self.wait_for_reply(self.kc.kernel_info())
                        self.nb.metadata["language_info"] = info["content"]["language_info"]
                        start = self._run_cells(start, died_in, resources)
        finally:
            for index, source in self.judged.items():
                self.nb.cells[index].source = source
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _run_cells(self, start, died_in, resources):
        """Run the cells from ``start`` on (first re-running the earlier ones that lived); the index to
        go on from once the kernel has died, or None at the end."""
        for index, cell in enumerate(self.nb.cells):
            if index in died_in or cell.cell_type != "code":
                continue
            try:
                if index < start:
                    self.execute_cell(copy.deepcopy(cell), index, store_history=True)
                else:
                    self.preprocess_cell(cell, resources, index)
                    if index in self.judged:
                        cell.outputs = judge(self.judged[index], KernelQuestions(self),
                                             cell.metadata.nbgrader["grade_id"], self.verdicts)
            except DeadKernelError:
                died_in.add(index)
                cell.outputs.append(NotebookNode(output_type="error", ename="DeadKernelError", evalue=KERNEL_DIED,
                                                 traceback=[f"DeadKernelError: {KERNEL_DIED}"]))
                self.log.warning("The kernel died in cell %d; going on in a fresh kernel.", index)
                return index + 1
        return None
