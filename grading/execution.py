"""How ``nbgrader autograde`` runs a submission: in the sandbox, its judged cells' hidden tests in the grading
process (judge/), and to the end even if its kernel dies.

nbgrader's ``Execute`` gives up on a submission whose kernel dies (a cell that calls ``os._exit``,
crashes the interpreter or is killed), leaves it ungraded and makes the whole run exit 1. Here the
cell that killed the kernel gets an error that says so, a fresh kernel re-runs the cells before it,
and grading goes on, so every other cell earns what it earns.
"""
import contextlib
import copy
import json
import os
import shutil
import stat
import tempfile
import time

from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Enum

from judge import hidden_tests
from judge.grading_side import KernelQuestions, Verdicts
from grading.sandbox import SandboxedKernelManager, sandbox_problem

KERNEL_DIED = ("The kernel died while this cell ran (it exited, crashed, or was killed). The cells after it "
               "ran in a fresh kernel that first re-ran the cells before it.")


# Before the line of its log that says where a submission's grading went (bench.grading reads it): JSON of the seconds
# of "kernel start" (each kernel, to its first answer), "cells" (the student's cells, run in the kernel), "judging" (the
# hidden tests, run here and asking the kernel), "judging CPU" (this process's CPU while judging) and "judging by cell"
# ({grade id: seconds}).
TIMING_MARK = "Where the grading went: "
TIMED_PARTS = ("kernel start", "cells", "judging", "judging CPU")


class SandboxUnavailable(RuntimeError):
    """No sandbox can start here, and the instructor did not ask to grade without one."""


def unavailable_message(problem):
    """What to tell an instructor whose machine cannot sandbox student code."""
    return (f"Student code runs only in a sandbox, and {problem}. Nothing was graded. To grade code you trust "
            "without a sandbox, add --SandboxedExecute.sandbox=off to nbgrader (or --unsandboxed to "
            "`python -m grading autograde`).")


# What the kernel may write into the submission's autograded folder (the notebooks themselves write nothing).
COPY_BACK_FILES = 100
COPY_BACK_BYTES = 32 * 2**20


@contextlib.contextmanager
def folder_without_notebooks(resources, log):
    """Run the kernel in a private copy of the submission's files without its notebooks: nbgrader executes
    in the folder where it has just written the notebook being graded, hidden tests put back. What the
    kernel writes there comes back to the submission's folder afterwards: plain files only (no link), at
    most ``COPY_BACK_FILES`` of them and ``COPY_BACK_BYTES`` in all; ``log`` says what was left out. A link
    handed in is copied as a link: the grader never reads through it."""
    submission = resources["metadata"]["path"]
    with tempfile.TemporaryDirectory(prefix="submission-") as copy:
        shutil.copytree(submission, copy, symlinks=True, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.ipynb"))
        handed_in = {path: fingerprint(path) for path in files_in(copy)}
        resources["metadata"]["path"] = copy
        try:
            yield
        finally:
            resources["metadata"]["path"] = submission
            written = [path for path in files_in(copy) if fingerprint(path) != handed_in.get(path)]
            copy_back(written, copy, submission, log)


def files_in(folder):
    """Every file under ``folder`` but notebooks, sorted."""
    return sorted(os.path.join(parent, name) for parent, _, names in os.walk(folder)
                  for name in names if not name.endswith(".ipynb"))


def fingerprint(path):
    """What tells a file the kernel changed from one it left as it was handed in (None: out of reach)."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_mode, info.st_size, info.st_mtime_ns


def copy_back(written, copy, submission, log):
    """Copy the plain files among ``written`` (paths in ``copy``) to the same places in ``submission``, up
    to the limits and never through a link; log one line naming the files left out."""
    copied, size, left_out = 0, 0, []
    for path in written:
        try:
            source = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue  # a link, or out of reach
        with open(source, "rb") as readable:
            info = os.fstat(source)
            if not stat.S_ISREG(info.st_mode):
                continue
            relative = os.path.relpath(path, copy)
            within = copied < COPY_BACK_FILES and size + info.st_size <= COPY_BACK_BYTES
            if within and write_plain(os.path.join(submission, relative), readable.read(info.st_size)):
                copied, size = copied + 1, size + info.st_size
            else:
                left_out.append(f"{relative} ({info.st_size} bytes)")
    if left_out:
        shown = ", ".join(left_out[:5]) + (f" and {len(left_out) - 5} more" if len(left_out) > 5 else "")
        log.warning("Not copied into %s: %s; what a notebook writes comes back only as plain files (not through "
                    "a link), up to %d files and %d MiB in all.",
                    submission, shown, COPY_BACK_FILES, COPY_BACK_BYTES // 2**20)


def write_plain(target, data):
    """Write ``data`` to the file ``target``, unless a link or a folder is in the way; whether it was written."""
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        written = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    except OSError:
        return False
    with open(written, "wb") as kept:
        kept.write(data)
    return True


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
        # the kernel runs a judged cell as released; its hidden test runs here (judge/)
        self.judged = {index: cell.source for index, cell in enumerate(self.nb.cells) if hidden_tests.is_judged(cell)}
        self.hidden_tests = hidden_tests.load(resources["nbgrader"]["notebook"]) if self.judged else None
        self.verdicts = Verdicts()
        self.timing = {**dict.fromkeys(TIMED_PARTS, 0.0), "judging by cell": {}}
        for index, source in self.judged.items():
            self.nb.cells[index].source = hidden_tests.as_released(source)
        died_in, start = set(), 0
        try:
            with folder_without_notebooks(self.resources, self.log):
                while start is not None:
                    starting = time.perf_counter()
                    with self.setup_kernel():
                        info = self.wait_for_reply(self.kc.kernel_info())
                        self.timing["kernel start"] += time.perf_counter() - starting
                        self.nb.metadata["language_info"] = info["content"]["language_info"]
                        start = self._run_cells(start, died_in, resources)
        finally:
            for index, source in self.judged.items():
                self.nb.cells[index].source = source
        self.log.info("%s%s", TIMING_MARK, json.dumps(self.timing))
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _run_cells(self, start, died_in, resources):
        """Run the cells from ``start`` on (first re-running the earlier ones that lived); the index to
        go on from once the kernel has died, or None at the end."""
        for index, cell in enumerate(self.nb.cells):
            if index in died_in or cell.cell_type != "code":
                continue
            try:
                running = time.perf_counter()
                if index < start:
                    self.execute_cell(copy.deepcopy(cell), index, store_history=True)
                else:
                    self.preprocess_cell(cell, resources, index)
                self.timing["cells"] += time.perf_counter() - running
                if index >= start and index in self.judged:
                    judging, judging_cpu = time.perf_counter(), time.process_time()
                    cell.outputs = hidden_tests.judge_cell(self.judged[index], self.hidden_tests, KernelQuestions(self),
                                                           cell.metadata.nbgrader["grade_id"], self.verdicts)
                    spent = time.perf_counter() - judging
                    self.timing["judging"] += spent
                    self.timing["judging CPU"] += time.process_time() - judging_cpu
                    self.timing["judging by cell"][cell.metadata.nbgrader["grade_id"]] = spent
            except DeadKernelError:
                died_in.add(index)
                cell.outputs.append(NotebookNode(output_type="error", ename="DeadKernelError", evalue=KERNEL_DIED,
                                                 traceback=[f"DeadKernelError: {KERNEL_DIED}"]))
                self.log.warning("The kernel died in cell %d; going on in a fresh kernel.", index)
                return index + 1
        return None
