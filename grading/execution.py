"""How ``nbgrader autograde`` runs a submission: in the sandbox, and to the end even if its kernel dies.

nbgrader's ``Execute`` gives up on a submission whose kernel dies (a cell that calls ``os._exit``,
crashes the interpreter or is killed), leaves it ungraded and makes the whole run exit 1. Here the
cell that killed the kernel gets an error that says so, a fresh kernel re-runs the cells before it,
and grading goes on, so every other cell earns what it earns.
"""
import copy

from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Enum

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


class SandboxedExecute(Execute):
    """nbgrader's ``Execute``, with each kernel in the sandbox and a dead kernel survived."""

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
        died_in, start = set(), 0
        while start is not None:
            with self.setup_kernel():
                info = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                start = self._run_cells(start, died_in, resources)
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
            except DeadKernelError:
                died_in.add(index)
                cell.outputs.append(NotebookNode(output_type="error", ename="DeadKernelError", evalue=KERNEL_DIED,
                                                 traceback=[f"DeadKernelError: {KERNEL_DIED}"]))
                self.log.warning("The kernel died in cell %d; going on in a fresh kernel.", index)
                return index + 1
        return None
