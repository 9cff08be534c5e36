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


@pytest.mark.parametrize("value", [{"loss": torch.tensor(1.5), "n": 3}, torch.distributions.Normal(torch.zeros(2), torch.ones(2))])
def test_dicts_and_normals_travel_as_data(value):
    back = decode(encode(value))
    if isinstance(value, dict):
        assert back.keys() == value.keys() and torch.equal(back["loss"], value["loss"]) and back["n"] == 3
    else:
        assert type(back) is torch.distributions.Normal and torch.equal(back.loc, value.loc)


MODEL = '''
import torch
from vae_helpers.answers import student_functions
from vae_helpers.checks import PASSED, expect_close, expect_equal
Doubler, = student_functions("Doubler")
model = Doubler(3)
expect_equal("parameters", sum(p.numel() for p in model.parameters()), 3)
x = torch.ones(2, 3, requires_grad=True)
expect_close("forward", model(x), 2 * torch.ones(2, 3) + 1)
(gradient,) = torch.autograd.grad(model(x).sum(), x)
expect_close("gradient through the kernel", gradient, 2 * torch.ones(2, 3))
seen = {}
def capture(h):
    seen["h"] = h
    return h * 0
model.head = capture  # replaced by a function of the judge, as a hidden test replaces a method
model(x)
(gradient,) = torch.autograd.grad(seen["h"].sum(), x)
expect_close("gradient of what the kernel passed to the judge's function", gradient, 2 * torch.ones(2, 3))
print(PASSED)
'''


def test_a_model_stays_in_the_kernel_and_is_asked_through_its_handle(kernel):
    run(kernel, "import torch\nclass Doubler(torch.nn.Module):\n"
                "    def __init__(self, n):\n        super().__init__()\n        self.bias = torch.nn.Parameter(torch.ones(n))\n"
                "    def head(self, h):\n        return h + self.bias\n"
                "    def forward(self, x):\n        return self.head(2 * x)\n")
    assert verdict(judge(MODEL, KernelQuestions(kernel), "model")) == "passed"


TRAINING = '''
import torch
from vae_helpers.answers import lend_copy, lent_parameters, student_functions
from vae_helpers.checks import PASSED, expect_close
step, = student_functions("step")
torch.manual_seed(0)
model = torch.nn.Linear(2, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
x = torch.randn(4, 2)
expected = model.weight.detach() - 0.5 * torch.autograd.grad(model(x).pow(2).mean(), model.weight)[0]
step(model, optimizer, x)  # the judge's model and optimizer, lent: their gradients and step happen here
expect_close("the lent model's weight after a step", model.weight.detach(), expected)
copy = lend_copy(torch.nn.Sequential(torch.nn.Linear(2, 1)))
step(copy, None, x)  # the student code zeroes the copy's weight
expect_close("the copy's weight, read back", lent_parameters(copy)[0], torch.zeros(1, 2))
print(PASSED)
'''


def test_a_lent_model_trains_here_and_a_lent_copy_changes_there(kernel):
    run(kernel, "import torch\ndef step(model, optimizer, x):\n"
                "    if optimizer is None:\n        model[0].weight.data.zero_()\n        return\n"
                "    optimizer.zero_grad()\n    model(x).pow(2).mean().backward()\n    optimizer.step()\n")
    assert verdict(judge(TRAINING, KernelQuestions(kernel), "training")) == "passed"


def test_the_kernel_reads_no_private_attribute_of_what_is_lent(kernel):
    run(kernel, "import json\ndef reconstruct(decoder, z):\n"
                "    raise ValueError(input(json.dumps({'callback': 0, 'getattr': '__globals__'})))\n")
    assert "not lent" in verdict(judge(LENT, KernelQuestions(kernel), "lent"))


WALK = '''
import torch
from vae_helpers.answers import lend_copy, student_functions
from vae_helpers.checks import PASSED
walk, = student_functions("walk")
torch.manual_seed(0)
model = torch.nn.Linear(2, 1)
copy = lend_copy(torch.nn.Sequential(torch.nn.Linear(2, 1)))
weight = copy.obj[0].weight.detach().clone()
print(walk(model, copy, torch.optim.SGD(model.parameters(), lr=0.1)))
assert torch.equal(copy.obj[0].weight, weight), "the judge's module changed"
print(PASSED)
'''


def test_nothing_leads_from_what_is_lent_to_the_rest_of_the_grading_process(kernel):
    """A lent module, optimizer or copy answers only what it is lent for: no method that returns an object to
    walk on (a generator's frame, its built-ins, exec), no attribute of torch's, no request on the copy's module."""
    run(kernel, "import json\ndef ask(request):\n    return json.loads(input(json.dumps(request)))\n"
                "def walk(model, copy, optimizer):\n"
                "    module, opt = model._lent[1], optimizer._lent[1]\n"
                "    return [json.dumps(reply) for reply in (\n"
                "            ask({'callback': module, 'method': 'parameters', 'args': [], 'kwargs': {'dict': []}}),\n"
                "            ask({'callback': module, 'getattr': 'weight'}), ask({'callback': module, 'getattr': 'forward'}),\n"
                "            ask({'callback': opt, 'getattr': 'param_groups'}),\n"
                "            ask({'callback': opt, 'method': 'add_param_group', 'args': [{'dict': []}], 'kwargs': {'dict': []}}),\n"
                "            ask({'callback': module, 'method': '__call__', 'args': [{'lent_ref': opt}], 'kwargs': {'dict': []}}),\n"
                "            ask({'callback': 'copy 0', 'method': 'load_state_dict', 'args': [], 'kwargs': {'dict': []}}))]\n")
    outputs = judge(WALK, KernelQuestions(kernel), "walk")
    assert verdict(outputs) == "passed"
    replies = outputs[0].text
    assert replies.count("not lent to it") == 5 and replies.count("may not ask") == 1 and "'result'" not in replies, replies


@pytest.mark.parametrize("shape", [[2**23], [2**14, 2**14], [2**23, 0]])
def test_an_answer_may_hold_no_tensor_larger_than_grading_reads(shape):
    with pytest.raises(ValueError, match="shape|larger"):
        decode({"tensor": {"dtype": "float32", "shape": shape, "data": ""}})


def test_only_ordinary_errors_of_the_students_code_keep_their_type(kernel):
    run(kernel, "def kl_to_standard_normal(mu, logvar):\n    raise StopIteration('no')\n")
    assert verdict(judge(JUDGE_KL, KernelQuestions(kernel), "kl")) == "RuntimeError: no"
