"""Hidden tests judged in the grading process (grading/judge.py): answers are plain data, decoded without
running anything from the kernel; a kernel that misbehaves fails the exercise with a message; nothing the
kernel does can pass a check it does not compute. Each test talks to a real kernel."""
import math

import nbformat
import pytest
import torch
from nbclient import NotebookClient

from grading.judge import KernelQuestions, as_released, is_judged, judge
from vae_helpers.answers import decode, encode

KL = ("def kl_to_standard_normal(mu, logvar):\n"
      "    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1)\n")
JUDGE_KL = '''
from vae_helpers.answers import student_functions
from vae_helpers.checks import PASSED, expect_close, expect_gradient
import torch
kl_to_standard_normal, = student_functions("kl_to_standard_normal")
mu = torch.tensor([[1.0, -2.0]], dtype=torch.float64, requires_grad=True)
logvar = torch.tensor([[0.5, 0.0]], dtype=torch.float64)
kl = kl_to_standard_normal(mu, logvar)
expect_close("KL", kl, 0.5 * (logvar.exp() + mu.detach() ** 2 - 1 - logvar).sum(1))
expect_close("dKL/dmu", expect_gradient("KL as a function of mu", kl, mu), mu.detach())
print(PASSED)
'''


@pytest.fixture(scope="module")
def kernel():
    """A kernel started as grading starts one, and the questions grading asks it."""
    client = NotebookClient(nbformat.v4.new_notebook(), kernel_name="python3", timeout=60)
    with client.setup_kernel():
        yield client


def run(client, code):
    cell = nbformat.v4.new_code_cell(code)
    client.nb.cells = [cell]
    client.execute_cell(cell, 0)
    return cell


def verdict(outputs):
    """'passed', or the error line of a failed judge."""
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    return errors[0] if errors else "passed"


@pytest.mark.parametrize("value", [
    torch.arange(6, dtype=torch.float32).reshape(2, 3), torch.tensor([True, False]), torch.zeros(0, 4),
    torch.tensor([1.5], dtype=torch.bfloat16), (1, 2.5, "x", None, [True]), float("nan")])
def test_answers_travel_as_data_and_come_back_equal(value):
    back = decode(encode(value))
    if isinstance(value, torch.Tensor):
        assert back.dtype == value.dtype and torch.equal(back, value)
    elif isinstance(value, float):
        assert math.isnan(back)
    else:
        assert back == value


def test_anything_else_comes_back_as_its_type_name_only():
    import numpy as np

    class Sneaky(torch.Tensor):
        pass

    for value, name in ((np.zeros(3), "ndarray"), (torch.zeros(2).as_subclass(Sneaky), "Sneaky"), (len, "builtin_function_or_method")):
        back = decode(encode(value))
        assert type(back).__name__ == name and not isinstance(back, torch.Tensor)


@pytest.mark.parametrize("data", [
    {"pickle": "gASVAAAA"}, {"tensor": {"dtype": "object", "shape": [1], "data": ""}},
    {"tensor": {"dtype": "float32", "shape": [2], "data": "AAAA"}}, {"tuple": [{"tuple": [1]}], "x": 1},
    {"tensor": {"dtype": "float32", "shape": [-1], "data": ""}}])
def test_an_answer_in_any_other_form_is_refused(data):
    with pytest.raises(ValueError):
        decode(data)


def test_a_judged_cell_runs_released_in_the_kernel():
    source = ("# Graded cell\n### BEGIN HIDDEN TESTS\n# judged in the grading process\nsecret = 1\n"
              "### END HIDDEN TESTS\nvisible = 2\n### BEGIN HIDDEN TESTS\nmore = 3\n### END HIDDEN TESTS\n")
    cell = nbformat.v4.new_code_cell(source, metadata={"nbgrader": {"grade": True, "grade_id": "t", "points": 1,
                                                                   "solution": False}})
    assert is_judged(cell)
    assert "secret" not in as_released(source) and "more" not in as_released(source) and "visible" in as_released(source)
    cell.source = source.replace("# judged in the grading process\n", "")
    assert not is_judged(cell)


def test_a_right_answer_passes_with_its_gradient_asked_of_the_kernel(kernel):
    run(kernel, KL)
    outputs = judge(JUDGE_KL, KernelQuestions(kernel), "kl")
    assert verdict(outputs) == "passed" and "public tests passed" in outputs[0].text


@pytest.mark.parametrize("answer, reason", [
    ("return -0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1)", "AssertionError: KL: expected"),
    ("return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1).detach()",
     "requires_grad=False"),
    ("return torch.tensor([0.5 * (math.exp(0.5) + 1 - 1 - 0.5) + 0.5 * (1 + 4 - 1)], dtype=torch.float64)",
     "requires_grad=False"),
    ("import numpy; return numpy.zeros(1)", "expected a torch.Tensor, got ndarray"),
    ("raise ValueError('not yet')", "ValueError: not yet"),
])
def test_a_wrong_answer_fails_with_the_reason(kernel, answer, reason):
    run(kernel, f"import math, torch\ndef kl_to_standard_normal(mu, logvar):\n    {answer}\n")
    assert reason in verdict(judge(JUDGE_KL, KernelQuestions(kernel), "kl"))


def test_a_function_never_written_fails_as_it_would_in_the_notebook(kernel):
    run(kernel, "globals().pop('kl_to_standard_normal', None)")
    assert verdict(judge(JUDGE_KL, KernelQuestions(kernel), "kl")) == \
        "NameError: name 'kl_to_standard_normal' is not defined"


@pytest.mark.parametrize("attack, reason", [
    # answers forged without computing: a fake serve that shows a made-up answer
    ("import vae_helpers.answers as a, json\n"
     "from IPython.display import display\n"
     "a.serve = lambda: display({a.MIME_TYPE: json.dumps({'result': 0.0, 'nonce': 'guess'})}, raw=True)\n",
     "a question it was not asked"),
    ("import vae_helpers.answers as a\na.serve = lambda: None\n", "0 answers"),
    ("import vae_helpers.answers as a, time\na.serve = lambda: time.sleep(30)\n", "did not answer within 2 s"),
    ("import vae_helpers.answers as a\na.serve = lambda: print('x' * 2**21)\n", "more output than grading reads"),
    ("import vae_helpers.answers as a\ndef serve():\n    raise SystemError('no')\na.serve = serve\n",
     "raised SystemError instead of answering"),
])
def test_a_kernel_that_misbehaves_fails_the_exercise_with_a_message(kernel, attack, reason):
    run(kernel, KL)
    run(kernel, attack)
    try:
        assert reason in verdict(judge(JUDGE_KL, KernelQuestions(kernel, seconds=2, max_bytes=2**20), "kl"))
    finally:
        run(kernel, "import importlib, vae_helpers.answers\nimportlib.reload(vae_helpers.answers)")


LENT = '''
import torch
from vae_helpers.answers import lend, student_functions
from vae_helpers.checks import PASSED, expect_close
class Decoder:
    def __init__(self):
        self.scale = 3.0
    def decode(self, z):
        return self.scale * z ** 2
decoder = lend(Decoder(), values=["scale"], methods=["decode"])
reconstruct, = student_functions("reconstruct", replacing={"helper": lambda z: z + 1})
z = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
out = reconstruct(decoder, z)
expect_close("decoded", out, 3.0 * (z.detach() + 1) ** 2)
(gradient,) = torch.autograd.grad(out.sum(), z)
expect_close("gradient through the kernel and back", gradient, 6.0 * (z.detach() + 1))
print(PASSED)
'''


def test_a_lent_method_is_computed_here_and_differentiable_through_the_kernel(kernel):
    run(kernel, "def helper(z):\n    return z * 100  # wrong: the judge's version replaces it\n"
                "def reconstruct(decoder, z):\n    assert not hasattr(decoder, '_obj')\n"
                "    return decoder.decode(helper(z))\n")
    assert verdict(judge(LENT, KernelQuestions(kernel), "lent")) == "passed"


def test_an_earlier_exercise_that_passed_is_not_replaced(kernel):
    """The judge's version stands in for a student function only where the student's own failed."""
    from grading.judge import Verdicts

    run(kernel, "def helper(z):\n    return z * 100\ndef reconstruct(decoder, z):\n    return decoder.decode(helper(z))\n")
    verdicts = Verdicts()
    verdicts.judged_by["helper"], verdicts.passed = "test_helper", {"test_helper"}
    assert verdict(judge(LENT, KernelQuestions(kernel), "lent", verdicts)).startswith("AssertionError: decoded")


def test_the_kernel_may_ask_for_nothing_that_was_not_lent(kernel):
    run(kernel, "import json\ndef helper(z):\n    return z\n"
                "def reconstruct(decoder, z):\n"
                "    raise ValueError(input(json.dumps({'callback': 99, 'method': 'anything', 'args': []})))\n")
    assert "may not ask" in verdict(judge(LENT, KernelQuestions(kernel), "lent"))
