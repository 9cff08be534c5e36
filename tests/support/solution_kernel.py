"""A solution notebook run once in a live kernel, whose exercises are then judged again and again with
answers changed, as autograde judges a submission (judge/), without grading whole submissions.

Autograde runs a submission's cells in a kernel and judges each graded cell in the grading process, from
what the student's functions compute on the hidden tests' own inputs; a judged cell never reads what
earlier cells left in the kernel. So an answer changed in one exercise is judged exactly as autograde
would judge it by redefining that answer in a kernel that ran the solution, and judging the graded cells
from there on with the verdicts that the earlier ones gave.
"""
import copy
import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode

from judge import hidden_tests
from judge.grading_side import KernelQuestions, Verdicts
from support.course import planted


class SolutionKernel:
    """The solution notebook of an assignment, run in a kernel that stays up (a context manager)."""

    def __init__(self, solution, workdir=None):
        """The notebook ``solution``, to run (``with``) in ``workdir``, a fresh copy of its folder."""
        self.solution, self.workdir = Path(solution), workdir
        self.notebook = nbformat.read(solution, as_version=4)
        self.judged = {index: cell.source for index, cell in enumerate(self.notebook.cells) if hidden_tests.is_judged(cell)}
        self.hidden_tests = hidden_tests.load(self.solution.stem, self.solution.parents[2] / hidden_tests.FOLDER)
        released = copy.deepcopy(self.notebook)
        for index, source in self.judged.items():
            released.cells[index].source = hidden_tests.as_released(source)
        self.client = NotebookClient(released, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(workdir)}})
        self.graded_cells = [name for _, name in self._graded_names()]
        self.cell_index = {cell.metadata.nbgrader["grade_id"]: index for index, cell in enumerate(self.notebook.cells)
                           if cell.metadata.get("nbgrader", {}).get("solution")}

    def __enter__(self):
        shutil.copytree(self.solution.parent, self.workdir, ignore=shutil.ignore_patterns("*.ipynb"))
        self._kernel = self.client.setup_kernel()
        self._kernel.__enter__()
        try:
            for index, cell in enumerate(self.client.nb.cells):
                if cell.cell_type == "code":
                    self.client.execute_cell(cell, index)
            self.verdicts = Verdicts()
            self.solution_outputs = self._judge_from(0, self.verdicts)
        except BaseException:
            self._kernel.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        return self._kernel.__exit__(*exc)

    def judged_with(self, changes):
        """{graded cell: its error, or None} for the cells autograde judges from the first changed one on, with
        ``changes`` [(solution cell, correct, changed)] made to the answers (then put back); every cell before
        keeps the verdict it had."""
        sources = {}
        for cell_id, correct, changed in changes:
            sources[cell_id] = planted(sources.get(cell_id, self.notebook.cells[self.cell_index[cell_id]].source),
                                       correct, changed)
        first = min(self.cell_index[cell_id] for cell_id in sources)
        try:
            for cell_id, source in sources.items():
                self._run(source, self.cell_index[cell_id])
            verdicts = Verdicts()
            verdicts.judged_by = dict(self.verdicts.judged_by)
            verdicts.passed = {name for index, name in self._graded_names() if index < first} & self.verdicts.passed
            return self._judge_from(first, verdicts)
        finally:
            for cell_id in sources:
                self._run(self.notebook.cells[self.cell_index[cell_id]].source, self.cell_index[cell_id])

    def _graded_names(self):
        return [(index, self.notebook.cells[index].metadata.nbgrader["grade_id"]) for index in self.judged]

    def _judge_from(self, first, verdicts):
        results = {}
        for index, name in self._graded_names():
            if index >= first:
                outputs = hidden_tests.judge_cell(self.judged[index], self.hidden_tests, KernelQuestions(self.client),
                                                  name, verdicts)
                errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
                results[name] = errors[0] if errors else None
        return results

    def _run(self, source, index):
        self.client.execute_cell(NotebookNode(cell_type="code", source=source, metadata={}, outputs=[]), index)
