"""Verdicts out of the student's reach: submissions that answer the judged exercises wrongly and then
attack the kernel itself (the code it runs, the messages it sends, the checks, the running test, torch,
its folder) are autograded for real, by plain `nbgrader autograde` and by `python -m grading autograde`.
None may earn a point on an exercise judged in the grading process (grading/judge.py), an honest
submission that installs hooks of its own keeps every point, and the two commands' gradebooks agree."""
import json
import shutil
import subprocess
import sys

import nbformat
import pytest

from conftest import grades, nbgrader, notebook_path, submit
from grading.judge import is_judged
from test_grading_catches_mistakes import MISTAKES

ASSIGNMENT = "01_elbo"
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
        "vae_helpers.checks = _fake\n"
        "sys.modules['vae_helpers.integrity'] = types.ModuleType('vae_helpers.integrity')\n"),
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
        "for _place in (os.getcwd(), '/tmp', os.path.expanduser('~')):\n"
        "    for _root, _, _files in os.walk(_place):\n"
        "        for _file in _files:\n"
        "            try:\n"
        "                if os.path.getsize(os.path.join(_root, _file)) > 2**24:\n"
        "                    continue\n"
        "                _text = open(os.path.join(_root, _file), errors='replace').read()\n"
        "            except Exception:\n"
        "                continue\n"
        "            if '_torch.Generator().manual_' + 'seed(11)' in _text:  # a line of 01's hidden tests\n"
        "                print('FOUND', os.path.join(_root, _file), _text)\n"),
}
# an honest student with hooks of their own: the right answers, a transformer that changes nothing
HONEST_WITH_HOOKS = (
    "import ast\n"
    "class _Same(ast.NodeTransformer):\n"
    "    pass\n"
    "get_ipython().ast_transformers.append(_Same())\n"
    "get_ipython().events.register('post_run_cell', lambda result: None)\n")


def judged_cells(course):
    notebook = nbformat.read(notebook_path(course / "solutions", ASSIGNMENT), as_version=4)
    return {c.metadata.nbgrader["grade_id"] for c in notebook.cells if is_judged(c)}


def changes(course, attack_code, mistakes=True):
    """The first planted mistake of each judged exercise, and ``attack_code`` on top of the first answer cell."""
    judged = judged_cells(course)
    first = {}
    for assignment, _, cell_id, correct, mistaken, test in MISTAKES:
        if mistakes and assignment == ASSIGNMENT and test in judged:
            first.setdefault(cell_id, (cell_id, correct, mistaken))
    notebook = json.loads(notebook_path(course / "solutions", ASSIGNMENT).read_text())
    cell = next(c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("solution")
                and c["cell_type"] == "code")
    first_line = "".join(cell["source"]).splitlines(keepends=True)[0]
    return [*first.values(), (cell["metadata"]["nbgrader"]["grade_id"], first_line, attack_code + first_line)]


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    """The submissions, graded by plain nbgrader in one copy of the course and by the course's grader in another."""
    by = {}
    for command in ("nbgrader", "grading"):
        copy = tmp_path_factory.mktemp(command) / "course"
        shutil.copytree(course, copy, ignore=shutil.ignore_patterns("submitted", "autograded", "feedback"))
        for name, code in ATTACKS.items():
            submit(copy, ASSIGNMENT, f"attack-{name}", changes(copy, code), released=True)
        submit(copy, ASSIGNMENT, "honest-with-hooks", changes(copy, HONEST_WITH_HOOKS, mistakes=False), released=True)
        if command == "nbgrader":
            nbgrader(copy, "autograde", ASSIGNMENT, "--force")
        else:
            run = subprocess.run([sys.executable, "-m", "grading", "autograde", ASSIGNMENT, "--force"], cwd=copy,
                                 capture_output=True, text=True, timeout=1200)
            assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        by[command] = copy
    return by


def test_some_exercises_are_judged_in_the_grading_process(course):
    assert len(judged_cells(course)) >= 3


@pytest.mark.parametrize("attack", ATTACKS)
def test_an_attack_on_the_kernel_earns_no_point_on_a_judged_exercise(graded, attack):
    for command, course in graded.items():
        scores = grades(course, ASSIGNMENT, f"attack-{attack}")
        earned = {cell: score for cell, (score, _) in scores.items() if score and cell in judged_cells(course)}
        assert not earned, f"{attack} earned points for wrong answers under {command}: {earned}"


def test_the_hidden_tests_are_not_in_the_kernels_reach(graded):
    for course in graded.values():
        autograded = notebook_path(course / "nbgrader_work" / "autograded" / "attack-reads-its-folder-for-the-hidden-tests",
                                   ASSIGNMENT)
        printed = ["".join(output.get("text", "")) for cell in json.loads(autograded.read_text())["cells"]
                   for output in cell.get("outputs", []) if output["output_type"] == "stream"]
        assert not [text for text in printed if "FOUND" in text], "an answer cell read a file that holds hidden tests"


def test_an_honest_student_with_hooks_keeps_every_point(graded):
    for command, course in graded.items():
        lost = {cell: (score, most) for cell, (score, most) in grades(course, ASSIGNMENT, "honest-with-hooks").items()
                if score is not None and score < most}
        assert not lost, f"honest cells lost points under {command}: {lost}"


def test_both_commands_record_the_same_grades(graded):
    students = [f"attack-{name}" for name in ATTACKS] + ["honest-with-hooks"]
    by_command = {command: {s: grades(course, ASSIGNMENT, s) for s in students} for command, course in graded.items()}
    assert by_command["nbgrader"] == by_command["grading"]
