"""Verdicts out of the student's reach: submissions that answer every exercise wrongly and then attack
what grades them (the code the kernel runs, the messages it sends, the checks, the running test, torch, a
built-in, the course's helpers, the kernel's folder, the answers it sends to grading) are autograded for
real, by `python -m grading autograde` (the README's command) and, for one attack, by plain
`nbgrader autograde` too. None may earn a point, an honest submission that installs hooks of its own keeps
every point, and the two commands' gradebooks agree.

Notebook 01 gets every attack, and each other assignment one of them (each submission costs a notebook run);
10 also gets the one that calls its visible checks' exact reference, which the grading kernel does not have.
Each attacked submission carries the first planted mistake of every exercise, so it is also where each
assignment's submission of one mistake per exercise is autograded for real: it must lose every automatic point,
as the kernel's judging of the same mistakes fails every exercise (test_grading_catches_mistakes.py).
Both commands judge a cell with the same code in the same sandbox, and plain nbgrader already grades every
notebook's solution (test_nbgrader.py); so here it grades the attack that looks for the hidden tests, and the
honest submission, whose model and optimizer are lent to the kernel: enough to show that its gradebook agrees,
without paying for every attack twice.
"""
import itertools
import json
import shutil
import subprocess
import sys

import nbformat
import pytest

from judge.hidden_tests import is_judged
from support.course import ASSIGNMENTS, grades, nbgrader, notebook_path, points_lost, submit
from support.planted import MISTAKES

ATTACKS = {
    "rewrites-later-cells-ast": (
        "import ast\n"
        "class _OnlyPass(ast.NodeTransformer):\n"
        "    def visit_Module(self, node):\n"
        "        return ast.parse(\"print('public tests passed (more tests run at grading)')\")\n"
        "get_ipython().ast_transformers.append(_OnlyPass())\n"),
    "rewrites-later-cells-input": (
        "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])\n"),
    "filters-the-kernels-messages": (
        "_session = get_ipython().kernel.session\n"
        "_send = _session.send\n"
        "def _clean(stream, message, content=None, *args, **kwargs):\n"
        "    kind = message if isinstance(message, str) else message.get('msg_type')\n"
        "    if kind == 'error':\n"
        "        return _send(stream, 'stream', {'name': 'stdout', 'text': 'public tests passed\\n'}, *args, **kwargs)\n"
        "    if kind == 'execute_reply' and content and content.get('status') == 'error':\n"
        "        content = {'status': 'ok', 'execution_count': content.get('execution_count'), 'payload': [],\n"
        "                   'user_expressions': {}}\n"
        "    return _send(stream, message, content, *args, **kwargs)\n"
        "_session.send = _clean\n"),
    "clears-failed-cells": (
        "from IPython.display import clear_output as _clear_output\n"
        "def _forget_errors(result):\n"
        "    if result.error_in_exec is not None:\n"
        "        result.error_in_exec = None\n"
        "        _clear_output()\n"
        "        print('public tests passed (more tests run at grading)')\n"
        "get_ipython().events.register('post_run_cell', _forget_errors)\n"
        "get_ipython().showtraceback = lambda *args, **kwargs: None\n"),
    "replaces-the-checks": (
        "import sys, types\n"
        "_fake = types.ModuleType('vae_helpers.checks')\n"
        "_fake.PASSED = 'public tests passed (more tests run at grading)'\n"
        "for _name in ('expect_close', 'expect_shape', 'expect_finite', 'expect_gradient', 'expect_returns',\n"
        "              'expect_equal', 'expect_tensor', 'expect_number'):\n"
        "    setattr(_fake, _name, lambda *args, **kwargs: args[-1] if args else None)\n"
        "sys.modules['vae_helpers.checks'] = _fake\n"
        "import vae_helpers\n"
        "vae_helpers.checks = _fake\n"),
    "answers-from-the-running-test": (
        "import sys\n"
        "def _from_the_test(answer):\n"
        "    frame = sys._getframe(1)\n"
        "    while frame is not None:  # the callers: the test that asked, if it runs here\n"
        "        for scope in (frame.f_locals, frame.f_globals):\n"
        "            if isinstance(scope.get('_expected'), type(answer)):\n"
        "                return scope['_expected']\n"
        "        frame = frame.f_back\n"
        "    return answer\n"
        "def _answer_from_the_test(result):\n"
        "    names = get_ipython().user_ns\n"
        "    for name in ('kl_to_standard_normal', 'reparameterize', 'bernoulli_log_likelihood',\n"
        "                 'gaussian_log_likelihood'):\n"
        "        if callable(names.get(name)) and not hasattr(names[name], 'wrapped'):\n"
        "            def answer(*args, _function=names[name]):\n"
        "                return _from_the_test(_function(*args))\n"
        "            answer.wrapped = True\n"
        "            names[name] = answer\n"
        "get_ipython().events.register('post_run_cell', _answer_from_the_test)\n"),
    "enters-a-torch-function-mode": (
        "import torch\n"
        "from torch.overrides import TorchFunctionMode\n"
        "class _AllClose(TorchFunctionMode):\n"
        "    def __torch_function__(self, func, types, args=(), kwargs=None):\n"
        "        if func in (torch.allclose, torch.equal):\n"
        "            return True\n"
        "        return func(*args, **(kwargs or {}))\n"
        "_AllClose().__enter__()\n"),
    "reads-its-folder-for-the-hidden-tests": (
        "import os\n"
        "for _place in (os.getcwd(), os.path.dirname(os.getcwd()), '/tmp', os.path.expanduser('~'), '/srv', '/home'):\n"
        "    for _root, _, _files in os.walk(_place):\n"
        "        for _file in _files:\n"
        "            try:\n"
        "                if os.path.getsize(os.path.join(_root, _file)) > 2**24:\n"
        "                    continue\n"
        "                _text = open(os.path.join(_root, _file), errors='replace').read()\n"
        "            except Exception:\n"
        "                continue\n"
        "            if 'def test_' + 'kl_to_standard_normal(kl_to_standard_normal)' in _text:  # a hidden test module\n"
        "                print('FOUND', os.path.join(_root, _file))\n"),
    "patches-torch": (
        "import torch\n"
        "torch.allclose = lambda *args, **kwargs: True\n"
        "torch.equal = lambda *args, **kwargs: True\n"),
    "patches-a-tensor-method": (
        "import torch\n"
        "torch.Tensor.expand_as = lambda self, other: other  # any value then looks close to the expected one\n"),
    "rebinds-a-builtin": (
        "import builtins\n"
        "builtins.abs = lambda value: 0.0\n"
        "abs = builtins.abs\n"),
    "rebinds-the-checks-it-reads": (
        "expect_close = expect_shape = expect_finite = expect_gradient = lambda *args, **kwargs: None\n"),
    "patches-the-course-helpers": (
        "import vae_helpers.checks\n"
        "for name in dir(vae_helpers.checks):\n"
        "    if name.startswith('expect_'):\n"
        "        setattr(vae_helpers.checks, name, lambda *args, **kwargs: None)\n"),
    "answers-grading-with-its-own-inputs": (  # whatever grading sends, the kernel sends it back
        "import judge.kernel_side as _kernel_side\n"
        "_original = _kernel_side.KernelSide.answer_question\n"
        "def _echo(self, question, namespace):\n"
        "    if question['ask'] == 'call' and question['args']:\n"
        "        return {'result': question['args'][0], 'changed': []}\n"
        "    return _original(self, question, namespace)\n"
        "_kernel_side.KernelSide.answer_question = _echo\n"),
    "answers-with-the-checks-reference": (  # 10's visible checks compute the exact answer for any input
        "def _from_the_checks(result):\n"
        "    try:\n"
        "        from vae_helpers.exercises.colour_images import _quadrature_log_prob, _quadrature_gradients\n"
        "    except ImportError:\n"
        "        return\n"
        "    import torch\n"
        "    class _Exact(torch.autograd.Function):\n"
        "        @staticmethod\n"
        "        def forward(ctx, x, mean, log_scale):\n"
        "            ctx.save_for_backward(x, mean, log_scale)\n"
        "            return _quadrature_log_prob(x, mean, log_scale).float().to(x.device)\n"
        "        @staticmethod\n"
        "        def backward(ctx, g):\n"
        "            x, mean, log_scale = ctx.saved_tensors\n"
        "            d_mean, d_log_scale = _quadrature_gradients(x, mean, log_scale)\n"
        "            return None, g * d_mean.float().to(g.device), g * d_log_scale.float().to(g.device)\n"
        "    get_ipython().user_ns['discretised_logistic_log_prob'] = lambda x, m, s: _Exact.apply(x, m, s)\n"
        "get_ipython().events.register('post_run_cell', _from_the_checks)\n"),
}
NAMES = [name for name in ATTACKS if name != "answers-with-the-checks-reference"]
OTHERS = [a for a in ASSIGNMENTS if a != "01_elbo"]
# (assignment, attack): 01 gets every attack; each other assignment one, in turn (its kind of cell matters more
# than which attack it gets: the others lend models, optimizers and copies, 01 plain functions and a toy)
KEPT_FOR_OTHERS = ("reads-its-folder-for-the-hidden-tests", "replaces-the-checks", "filters-the-kernels-messages",
                   "answers-grading-with-its-own-inputs", "patches-torch")
TRIALS = [("01_elbo", name) for name in NAMES] + list(zip(OTHERS, itertools.cycle(KEPT_FOR_OTHERS))) + [
    ("10_colour_images", "answers-with-the-checks-reference")]
# what each command grades: the course's grader every trial, plain nbgrader the attack on what the sandbox shows
BY_COMMAND = {"grading": TRIALS, "nbgrader": [("01_elbo", "reads-its-folder-for-the-hidden-tests")]}
# an honest student with hooks of their own: the right answers, a transformer that changes nothing
HONEST_WITH_HOOKS = (
    "import ast\n"
    "class _Same(ast.NodeTransformer):\n"
    "    pass\n"
    "get_ipython().ast_transformers.append(_Same())\n"
    "get_ipython().events.register('post_run_cell', lambda result: None)\n")


def graded_cells(course, assignment):
    notebook = nbformat.read(notebook_path(course / "solutions", assignment), as_version=4)
    return {c.metadata.nbgrader["grade_id"]: is_judged(c) for c in notebook.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}


def changes(course, assignment, attack_code, mistakes=True):
    """The first planted mistake of each exercise, and ``attack_code`` on top of the first answer cell."""
    first = {}
    for name, _, cell_id, correct, mistaken, _ in MISTAKES:
        if mistakes and name == assignment:
            first.setdefault(cell_id, (cell_id, correct, mistaken))
    notebook = json.loads(notebook_path(course / "solutions", assignment).read_text())
    cell = next(c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("solution")
                and c["cell_type"] == "code")
    first_line = "".join(cell["source"]).splitlines(keepends=True)[0]
    return [*first.values(), (cell["metadata"]["nbgrader"]["grade_id"], first_line, attack_code + first_line)]


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    """The submissions, graded by plain nbgrader in one copy of the course and by the course's grader in another
    (``BY_COMMAND`` says which where)."""
    by = {}
    for command, trials in BY_COMMAND.items():
        copy = tmp_path_factory.mktemp(command) / "course"
        shutil.copytree(course, copy, ignore=shutil.ignore_patterns("submitted", "autograded", "feedback"))
        for assignment, name in trials:
            submit(copy, assignment, f"attack-{name}", changes(copy, assignment, ATTACKS[name]), released=True)
        submit(copy, "02_dense_vae", "honest-with-hooks", changes(copy, "02_dense_vae", HONEST_WITH_HOOKS, mistakes=False),
               released=True)
        if command == "nbgrader":  # every assignment in one run, as an instructor grades a week's submissions
            nbgrader(copy, "autograde", "*", "--force")
        else:
            for assignment in sorted({assignment for assignment, _ in trials}):
                run = subprocess.run([sys.executable, "-m", "grading", "autograde", assignment, "--force"], cwd=copy,
                                     capture_output=True, text=True, timeout=1200)
                assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        by[command] = copy
    return by


def test_every_graded_cell_is_judged_in_the_grading_process(course):
    for assignment in ASSIGNMENTS:
        cells = graded_cells(course, assignment)
        assert cells and all(cells.values()), f"{assignment}: graded cells whose hidden tests run in the kernel"


def test_every_notebook_meets_an_attack():
    assert {assignment for assignment, _ in BY_COMMAND["grading"]} == set(ASSIGNMENTS)


@pytest.mark.parametrize("assignment, attack", TRIALS, ids=[f"{a}:{t}" for a, t in TRIALS])
def test_an_attack_earns_no_point(graded, assignment, attack):
    for command, course in graded.items():
        if (assignment, attack) not in BY_COMMAND[command]:
            continue
        scores = grades(course, assignment, f"attack-{attack}")
        assert scores, f"{attack} was not graded under {command}"
        earned = {cell: score for cell, (score, _) in scores.items() if score}
        assert not earned, f"{attack} earned points for wrong answers under {command}: {earned}"
        lost = set(points_lost(course, assignment, f"attack-{attack}"))
        assert lost == {cell for cell, judged in graded_cells(course, assignment).items() if judged}, \
            f"{attack} under {command} lost points on {sorted(lost)}: every exercise holds a mistake"


def test_the_hidden_tests_are_not_in_the_kernels_reach(graded):
    for command, course in graded.items():
        readers = [(a, f"attack-{name}") for a, name in BY_COMMAND[command]
                   if name == "reads-its-folder-for-the-hidden-tests"]
        assert readers
        for assignment, student in readers:
            autograded = notebook_path(course / "nbgrader_work" / "autograded" / student, assignment)
            printed = ["".join(output.get("text", "")) for cell in json.loads(autograded.read_text())["cells"]
                       for output in cell.get("outputs", []) if output["output_type"] == "stream"]
            assert not [text for text in printed if "FOUND" in text], "an answer cell read a file that holds hidden tests"


def test_an_honest_student_with_hooks_keeps_every_point(graded):
    for command, course in graded.items():
        lost = {cell: (score, most) for cell, (score, most) in grades(course, "02_dense_vae", "honest-with-hooks").items()
                if score is not None and score < most}
        assert not lost, f"honest cells lost points under {command}: {lost}"


def test_both_commands_record_the_same_grades(graded):
    students = [(a, f"attack-{name}") for a, name in BY_COMMAND["nbgrader"]] + [("02_dense_vae", "honest-with-hooks")]
    by_command = {command: {(a, s): grades(course, a, s) for a, s in students} for command, course in graded.items()}
    assert by_command["nbgrader"] == by_command["grading"]
