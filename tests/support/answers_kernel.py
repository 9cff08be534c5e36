"""A solution's answers defined in a live kernel and judged there through the judge's questions, as autograde
judges a submission (judge/), with answers changed again and again, without grading whole submissions.

Autograde runs a submission's cells in a kernel and judges each graded cell in the grading process, from what
the student's functions compute on the hidden tests' own inputs; a judged cell reads nothing else that earlier
cells left in the kernel. So the kernel here holds only what the answers need: the notebook's definitions and
its answer cells (tests/support/hidden.py chooses them, as for the judging in this process), in the default
dtype the notebook sets. No data is loaded and nothing trains, so a notebook is judged in seconds, through the
same wire as at grading.
"""
from nbclient import NotebookClient
from nbformat import v4

from judge import hidden_tests
from judge.grading_side import KernelQuestions, Verdicts
from support.course import REPO
from support.hidden import answer_sources, definitions, first_changed, graded_cells

# the notebook's definitions, each run on its own; one that needs what running the notebook makes is left out
DEFINE = """import torch
for __definition in __definitions:
    try:
        exec(__definition, globals())
    except NameError:
        pass
del __definition, __definitions
"""


class AnswersKernel:
    """The answers of an assignment's solution, defined in a kernel that stays up (a context manager)."""

    def __init__(self, assignment):
        self.assignment = assignment
        self.hidden_tests = hidden_tests.load(assignment, REPO / hidden_tests.FOLDER)
        self.graded = graded_cells(assignment)
        self.client = NotebookClient(v4.new_notebook(), timeout=600, kernel_name="python3")

    def __enter__(self):
        self._kernel = self.client.setup_kernel()
        self._kernel.__enter__()
        try:
            dtype = getattr(self.hidden_tests, "DEFAULT_DTYPE", None)
            self._run(f"__definitions = {definitions(self.assignment)!r}\n{DEFINE}"
                      + (f"torch.set_default_dtype({dtype})\n" if dtype is not None else ""))
            self._define(answer_sources(self.assignment))
        except BaseException:
            self._kernel.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        return self._kernel.__exit__(*exc)

    def judged_with(self, changes=()):
        """{graded cell: its error, or None} with ``changes`` [(answer cell, correct, changed)] made to the
        answers (then put back); the cells before the first changed answer are not judged again
        (``first_changed``)."""
        changed = {cell_id for cell_id, _, _ in changes}
        first = first_changed(self.assignment, changes)
        self._define({cell_id: source for cell_id, source in answer_sources(self.assignment, changes).items()
                      if cell_id in changed})
        try:
            verdicts, results = Verdicts(), {}
            for cell_id, test, source, index in self.graded:
                if index < first:
                    verdicts.judged_by.update(dict.fromkeys(hidden_tests.student_names(self.hidden_tests, test), cell_id))
                    verdicts.passed.add(cell_id)
                    results[cell_id] = None
                    continue
                outputs = hidden_tests.judge_cell(source, self.hidden_tests, KernelQuestions(self.client), cell_id,
                                                  verdicts)
                errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
                results[cell_id] = errors[0] if errors else None
            return results
        finally:
            self._define({cell_id: source for cell_id, source in answer_sources(self.assignment).items()
                          if cell_id in changed})

    def _define(self, sources):
        for source in sources.values():
            self._run(source)

    def _run(self, source):
        cell = v4.new_code_cell(source)
        self.client.nb.cells = [cell]
        self.client.execute_cell(cell, 0)
