"""Hidden tests judged in the grading process (judge/): answers are plain data, decoded without running
anything from the kernel; a kernel that misbehaves fails the exercise with a message; nothing the kernel
does can pass a check it does not compute; what the student's code does to its tensor arguments is seen
by the checks after the call; tensors on the meta device travel both ways, and a call may run as on a GPU.
Each test that judges a cell writes a small hidden test module into its tmp_path and talks to a real kernel."""
import inspect
import math
import re

import nbformat
import pytest
import torch
from nbclient import NotebookClient

import judge
from judge import grading_side, hidden_tests, kernel_side, wire
from judge.grading_side import KernelQuestions, Verdicts
from judge.hidden_tests import as_released, hidden_test_name, is_judged
from judge.kernel_side import ASKING, KernelSide
from judge.wire import decode, encode
from vae_helpers.checks import MADE_WITHOUT_A_DEVICE

KL = ("def kl_to_standard_normal(mu, logvar):\n"
      "    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1)\n")
JUDGE_KL = '''
import torch
from vae_helpers.checks import PASSED, expect_close, expect_gradient, expect_shape


def test_kl(kl_to_standard_normal):
    mu = torch.tensor([[1.0, -2.0]], dtype=torch.float64, requires_grad=True)
    logvar = torch.tensor([[0.5, 0.0]], dtype=torch.float64)
    kl = kl_to_standard_normal(mu, logvar)
    expect_close("KL", kl, 0.5 * (logvar.exp() + mu.detach() ** 2 - 1 - logvar).sum(1))
    expect_close("dKL/dmu", expect_gradient("KL as a function of mu", kl, mu), mu.detach())
'''
# the cell's visible checks run in the grading process too, on the module's names
KL_CELL = 'expect_shape("KL of one image", kl_to_standard_normal(torch.zeros(1, 2), torch.zeros(1, 2)), (1,))\nprint(PASSED)\n'


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


def graded(visible, test):
    """A graded cell's source: its visible checks and the hidden region naming ``test``."""
    return f"{visible}### BEGIN HIDDEN TESTS\n# hidden test: {test}\n### END HIDDEN TESTS\n"


def judged(kernel, folder, module_source, test, visible="", verdicts=None, **limits):
    """The outputs of the cell whose hidden test is ``test`` of a module of ``module_source``, written into
    ``folder`` and loaded as the judge loads one, judged on ``kernel``."""
    (folder / "hidden.py").write_text(module_source)
    module = hidden_tests.load("hidden", folder)
    return hidden_tests.judge_cell(graded(visible, test), module, KernelQuestions(kernel, **limits), test, verdicts)


def verdict(outputs):
    """'passed', or the error line of a failed judge."""
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    return errors[0] if errors else "passed"


def printed(outputs):
    return "".join(o.text for o in outputs if o.output_type == "stream")


# what travels

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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.bool])
def test_a_tensor_on_the_meta_device_travels_as_its_dtype_and_shape(dtype):
    data = encode(torch.zeros(3, 4, dtype=dtype, device="meta"))
    assert "data" not in data["tensor"] and data["tensor"]["device"] == "meta"
    back = decode(data)
    assert back.device.type == "meta" and back.dtype == dtype and back.shape == (3, 4)


def test_both_sides_number_only_the_tensors_that_travel_as_tensors():
    """A changed argument is named by its place among the tensors sent: one that travels as an object (a
    complex tensor, a dict with other keys than strings) must not shift the places of the others."""
    changed = torch.ones(2)
    arguments = [torch.zeros(2, dtype=torch.complex64), {1: torch.zeros(2)}, {"b": changed}]
    assert wire.tensors_in(arguments) == [changed]
    assert [type(t) for t in wire.tensors_in(decode(encode(arguments)))] == [torch.Tensor]


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


def test_a_subclass_of_a_list_tuple_or_dict_travels_as_that_plain_kind():
    """What a check reads of it in the notebook (unpacking, an index, a key) it reads at grading: a namedtuple or an
    OrderedDict that an answer returns is no object of the kernel's, and its tensors are numbered as the others."""
    import collections

    Pair = collections.namedtuple("Pair", "mu logvar")
    mu, logvar, loss = torch.zeros(2), torch.ones(2), torch.tensor(3.0)
    value = [Pair(mu, logvar), collections.OrderedDict(loss=loss), torch.Size([2, 3])]
    back = decode(encode(value))
    assert type(back[0]) is tuple and torch.equal(back[0][1], logvar)
    assert type(back[1]) is dict and torch.equal(back[1]["loss"], loss) and back[2] == (2, 3)
    assert wire.tensors_in(value) == [mu, logvar, loss] and len(wire.tensors_in(back)) == 3


def test_a_numpy_number_travels_as_itself():
    """A check that wants a Python float (``expect_python_float``) must judge at grading what it judges in the
    notebook: a NumPy number comes back a NumPy number of its dtype, not a float nor an object named after it."""
    import numpy as np

    for value in (np.float64(0.25), np.float32(-1.5), np.int64(3), np.bool_(True), np.float64("inf")):
        back = decode(encode(value))
        assert type(back) is type(value) and back == value
    for data in ({"numpy": ["object", 1]}, {"numpy": ["float64", "0.5"]}, {"numpy": ["int8", 1000]}):
        with pytest.raises(ValueError):
            decode(data)


@pytest.mark.parametrize("value", [{"loss": torch.tensor(1.5), "n": 3}, torch.distributions.Normal(torch.zeros(2), torch.ones(2))])
def test_dicts_and_normals_travel_as_data(value):
    back = decode(encode(value))
    if isinstance(value, dict):
        assert back.keys() == value.keys() and torch.equal(back["loss"], value["loss"]) and back["n"] == 3
    else:
        assert type(back) is torch.distributions.Normal and torch.equal(back.loc, value.loc)


@pytest.mark.parametrize("shape", [[2**23], [2**14, 2**14], [2**23, 0]])
def test_an_answer_may_hold_no_tensor_larger_than_grading_reads(shape):
    with pytest.raises(ValueError, match="shape|larger"):
        decode({"tensor": {"dtype": "float32", "shape": shape, "data": ""}})


@pytest.mark.parametrize("value", [torch.zeros(5000, 1, 28, 28), torch.full((64, 64), -1000.0, dtype=torch.float64),
                                   torch.full((4096,), float("nan")), torch.ones(100, 100, dtype=torch.int64)])
def test_a_tensor_of_one_repeated_entry_travels_as_that_entry_and_is_read_whole(value):
    sent = encode(value)
    assert "fill" in sent["tensor"] and "data" not in sent["tensor"] and len(sent["tensor"]["fill"]) < 20
    back = KernelSide().decode(sent)
    assert back.shape == value.shape and back.dtype == value.dtype and back.is_contiguous()
    assert torch.equal(back, value) or bool(torch.isnan(back).all())
    back[0] = 1  # a tensor of its own, whose entries may be changed one by one


def test_a_tensor_whose_entries_differ_even_in_the_sign_of_a_zero_travels_whole():
    zeros = torch.zeros(8192)
    zeros[-1] = -0.0
    sent = encode(zeros)
    assert "data" in sent["tensor"] and "fill" not in sent["tensor"]
    assert torch.equal(torch.signbit(decode(sent)), torch.signbit(zeros))
    assert "data" in encode(torch.zeros(100))["tensor"], "small ones travel as they are"


def test_the_fills_of_one_message_make_no_more_than_a_message_may_hold():
    """A few bytes of fill never make more in the grading process than the bytes a message may carry."""
    fill = encode(torch.zeros(2**21))["tensor"]  # 8 MB of float32 each
    decode({"tuple": [{"tensor": fill}] * 8})  # 64 MB: what one answer may hold
    with pytest.raises(ValueError, match="more than grading reads"):
        decode({"tuple": [{"tensor": fill}] * 9})
    decode({"tuple": [{"tensor": fill}] * 8})  # each message has its own room


# the protocol as judge/__init__.py states it

def test_the_protocol_names_what_the_code_does(monkeypatch):
    """ASKING runs judge.kernel_side.answer; each kind of question the protocol lists is one the kernel
    answers; the answers' fields are those it names."""
    monkeypatch.setattr(kernel_side, "answer", lambda: "answered")
    assert eval(ASKING) == "answered"
    for name in set(re.findall(r"``([A-Z][A-Z_]+)``", judge.__doc__)):  # ASKING, QUESTION_KEY, MIME_TYPE, ...
        assert any(hasattr(module, name) for module in (wire, kernel_side, grading_side)), name
    for name in re.findall(r"``(\w+_side|wire|hidden_tests)``", judge.__doc__):
        assert inspect.ismodule(getattr(judge, name)), name
    kinds = re.findall(r'"(\w+)"', re.search(r'\{"ask": ([^}]*?), "target"', judge.__doc__).group(1))
    assert kinds == ["call", "signature", "getattr", "setattr", "iterate", "gradient", "copy_parameters"]
    handled = inspect.getsource(KernelSide.answer_question)
    assert all(f'ask == "{kind}"' in handled for kind in kinds)
    side = KernelSide()
    call = {"ask": "call", "target": {"name": "f"}, "args": encode([torch.ones(2)]), "kwargs": encode({}), "seed": 0}
    assert side.answer_question(call, {}) == {"missing": "f"}
    assert side.answer_question(call, {"f": lambda x: 1 / 0})["raised"][0] == "ZeroDivisionError"
    assert side.answer_question(call, {"f": lambda x: x.sum()}) == {"result": encode(torch.tensor(2.0)), "changed": []}
    assert side.answer_question(dict(call, ask="signature"), {"f": lambda x, *rest, y=1: x}) == {"result": ["x"]}
    assert side.answer_question(dict(call, ask="other"), {"f": len}) == {"raised": ["ValueError", "unknown question 'other'"]}
    assert side.answer_question(dict(call, measure=True), {"f": lambda x: x[:, None] * x}) == \
        {"result": encode(torch.ones(2, 2)), "changed": [], "largest": 4}


def test_a_judged_cell_runs_released_in_the_kernel():
    def cell(source, grade=True):
        return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {"grade": grade, "grade_id": "t", "points": 1,
                                                                       "solution": False}})

    source = graded("# Graded cell\nvisible = 2\n", "test_t")
    assert is_judged(cell(source)) and hidden_test_name(cell(source)) == "test_t"
    assert "hidden test" not in as_released(source) and "visible = 2" in as_released(source)
    for other in (source.replace("# hidden test: test_t\n", "# hidden test: test_t\nsecret = 1\n"),  # more than the line
                  source + graded("more = 3\n", "test_u"),  # two hidden regions
                  source.replace("# hidden test: test_t", "secret = 1")):  # a hidden region of code
        assert not is_judged(cell(other)) and hidden_test_name(cell(other)) is None
    assert not is_judged(cell(source, grade=False))
    assert not is_judged(nbformat.v4.new_markdown_cell(source))


# answers judged

def test_a_right_answer_passes_with_its_gradient_asked_of_the_kernel(kernel, tmp_path):
    run(kernel, KL)
    outputs = judged(kernel, tmp_path, JUDGE_KL, "test_kl", KL_CELL)
    assert verdict(outputs) == "passed" and "public tests passed" in outputs[0].text


@pytest.mark.parametrize("answer, reason", [
    ("return -0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1)", "AssertionError: KL: expected"),
    ("return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1).detach()",
     "requires_grad=False"),
    ("return torch.tensor([0.5 * (math.exp(0.5) + 1 - 1 - 0.5) + 0.5 * (1 + 4 - 1)], dtype=torch.float64)",
     "requires_grad=False"),
    ("import numpy; return numpy.zeros(1)", "expected a torch.Tensor, got ndarray"),
    ("raise ValueError('not yet')", "ValueError: not yet"),
    # its backward fails in the kernel: the student's error, named, not a kernel that would not answer
    ("e = mu.exp(); e.add_(1)\n    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1) + 0 * e.sum(1)",
     "the gradient cannot be computed: an in-place operation"),
])
def test_a_wrong_answer_fails_with_the_reason(kernel, tmp_path, answer, reason):
    run(kernel, f"import math, torch\ndef kl_to_standard_normal(mu, logvar):\n    {answer}\n")
    assert reason in verdict(judged(kernel, tmp_path, JUDGE_KL, "test_kl", KL_CELL))


def test_a_function_never_written_fails_as_it_would_in_the_notebook(kernel, tmp_path):
    run(kernel, "globals().pop('kl_to_standard_normal', None)")
    assert verdict(judged(kernel, tmp_path, JUDGE_KL, "test_kl", KL_CELL)) == \
        "NameError: name 'kl_to_standard_normal' is not defined"


def test_only_ordinary_errors_of_the_students_code_keep_their_type(kernel, tmp_path):
    run(kernel, "def kl_to_standard_normal(mu, logvar):\n    raise StopIteration('no')\n")
    assert verdict(judged(kernel, tmp_path, JUDGE_KL, "test_kl")) == "RuntimeError: StopIteration: no"


@pytest.mark.parametrize("attack, reason", [
    # answers forged without computing: a fake answer() that shows a made-up answer
    ("import judge.kernel_side as k, json\n"
     "from IPython.display import display\n"
     "k.answer = lambda: display({k.MIME_TYPE: json.dumps({'result': 0.0, 'nonce': 'guess'})}, raw=True)\n",
     "a question it was not asked"),
    ("import judge.kernel_side as k\nk.answer = lambda: None\n", "0 answers"),
    ("import judge.kernel_side as k, time\nk.answer = lambda: time.sleep(30)\n", "did not answer within 2 s"),
    ("import judge.kernel_side as k\nk.answer = lambda: print('x' * 2**21)\n", "more output than grading reads"),
    ("import judge.kernel_side as k\ndef answer():\n    raise SystemError('no')\nk.answer = answer\n",
     "raised SystemError instead of answering"),
])
def test_a_kernel_that_misbehaves_fails_the_exercise_with_a_message(kernel, tmp_path, attack, reason):
    run(kernel, KL)
    run(kernel, attack)
    try:
        assert reason in verdict(judged(kernel, tmp_path, JUDGE_KL, "test_kl", seconds=2, max_bytes=2**20))
    finally:
        run(kernel, "import importlib, judge.kernel_side\nimportlib.reload(judge.kernel_side)")


# what the hidden tests lend

LENT = '''
import torch
from vae_helpers.checks import PASSED, expect_close

ANSWERS = {"helper": lambda z: z + 1}


class Decoder:
    def __init__(self):
        self.scale = 3.0

    def decode(self, z):
        return self.scale * z ** 2


def test_lent(reconstruct, student):
    decoder = student.lend(Decoder(), values=["scale"], methods=["decode"])
    z = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    out = reconstruct(decoder, z)
    expect_close("decoded", out, 3.0 * (z.detach() + 1) ** 2)
    (gradient,) = torch.autograd.grad(out.sum(), z)
    expect_close("gradient through the kernel and back", gradient, 6.0 * (z.detach() + 1))
    print(PASSED)
'''


def test_a_lent_method_is_computed_here_and_differentiable_through_the_kernel(kernel, tmp_path):
    run(kernel, "def helper(z):\n    return z * 100  # wrong: the judge's version replaces it\n"
                "def reconstruct(decoder, z):\n    assert not hasattr(decoder, '_obj')\n"
                "    return decoder.decode(helper(z))\n")
    assert verdict(judged(kernel, tmp_path, LENT, "test_lent")) == "passed"


def test_an_earlier_exercise_that_passed_is_not_replaced(kernel, tmp_path):
    """The judge's version stands in for a student function only where the student's own failed."""
    run(kernel, "def helper(z):\n    return z * 100\ndef reconstruct(decoder, z):\n    return decoder.decode(helper(z))\n")
    verdicts = Verdicts()
    verdicts.judged_by["helper"], verdicts.passed = "test_helper", {"test_helper"}
    assert verdict(judged(kernel, tmp_path, LENT, "test_lent", verdicts=verdicts)).startswith("AssertionError: decoded")


def test_the_kernel_may_ask_for_nothing_that_was_not_lent(kernel, tmp_path):
    run(kernel, "import json\ndef helper(z):\n    return z\n"
                "def reconstruct(decoder, z):\n"
                "    raise ValueError(input(json.dumps({'callback': 99, 'method': 'anything', 'args': []})))\n")
    assert "may not ask" in verdict(judged(kernel, tmp_path, LENT, "test_lent"))


def test_the_kernel_reads_no_private_attribute_of_what_is_lent(kernel, tmp_path):
    run(kernel, "import json\ndef reconstruct(decoder, z):\n"
                "    raise ValueError(input(json.dumps({'callback': 0, 'getattr': '__globals__'})))\n")
    assert "not lent" in verdict(judged(kernel, tmp_path, LENT, "test_lent"))


MODEL = '''
import torch
from vae_helpers.checks import PASSED, expect_close, expect_equal


def test_model(Doubler):
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


def test_a_model_stays_in_the_kernel_and_is_asked_through_its_handle(kernel, tmp_path):
    run(kernel, "import torch\nclass Doubler(torch.nn.Module):\n"
                "    def __init__(self, n):\n        super().__init__()\n        self.bias = torch.nn.Parameter(torch.ones(n))\n"
                "    def head(self, h):\n        return h + self.bias\n"
                "    def forward(self, x):\n        return self.head(2 * x)\n")
    assert verdict(judged(kernel, tmp_path, MODEL, "test_model")) == "passed"


TRAINING = '''
import torch
from vae_helpers.checks import PASSED, expect_close


def test_training(step, student):
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    x = torch.randn(4, 2)
    expected = model.weight.detach() - 0.5 * torch.autograd.grad(model(x).pow(2).mean(), model.weight)[0]
    step(model, optimizer, x)  # the judge's model and optimizer, lent: their gradients and step happen here
    expect_close("the lent model's weight after a step", model.weight.detach(), expected)
    copy = student.lend_copy(torch.nn.Sequential(torch.nn.Linear(2, 1)))
    step(copy, None, x)  # the student code zeroes the copy's weight
    expect_close("the copy's weight, read back", student.parameters_of(copy)[0], torch.zeros(1, 2))
    print(PASSED)
'''


def test_a_lent_model_trains_here_and_a_lent_copy_changes_there(kernel, tmp_path):
    run(kernel, "import torch\ndef step(model, optimizer, x):\n"
                "    if optimizer is None:  # a copy, lent as a model is (no parameters listed), which lives here\n"
                "        assert list(model.parameters()) == [], 'a lent copy listed its parameters'\n"
                "        model.model[0].weight.data.zero_()\n"
                "        return\n"
                "    optimizer.zero_grad()\n    model(x).pow(2).mean().backward()\n    optimizer.step()\n")
    assert verdict(judged(kernel, tmp_path, TRAINING, "test_training")) == "passed"


WALK = '''
import torch
from vae_helpers.checks import PASSED


def test_walk(walk, student):
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    copy = student.lend_copy(torch.nn.Sequential(torch.nn.Linear(2, 1)))
    weight = copy.obj[0].weight.detach().clone()
    print(walk(model, copy, torch.optim.SGD(model.parameters(), lr=0.1)))
    assert torch.equal(copy.obj[0].weight, weight), "the judge's module changed"
    print(PASSED)
'''


def test_nothing_leads_from_what_is_lent_to_the_rest_of_the_grading_process(kernel, tmp_path):
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
    outputs = judged(kernel, tmp_path, WALK, "test_walk")
    assert verdict(outputs) == "passed"
    replies = printed(outputs)
    assert replies.count("not lent to it") == 5 and replies.count("may not ask") == 1 and "'result'" not in replies, replies


PARTS = '''
import torch
from torch import nn
from vae_helpers.checks import PASSED, expect_close, expect_equal


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(2, 1)
        self.scale = 2.0


def test_parts(encode, student):
    torch.manual_seed(0)
    model = Model()
    z = torch.randn(3, 2, requires_grad=True)  # a backward here reaches the kernel
    out = encode(student.lend(model, methods=()), z)
    expect_close("the encoder's output, computed here", out, model.encoder(z).detach())
    out.sum().backward()
    expect_close("the gradient in the part's weight", model.encoder.weight.grad, z.detach().sum(0, keepdim=True))
    print(PASSED)
'''


def test_a_lent_modules_parts_are_lent_in_turn_and_nothing_else_of_them(kernel, tmp_path):
    """Code written for the notebook's model reaches its networks by name (``model.encoder(z)``): a lent
    module's parts answer as the module does, computed and differentiated in the grading process, and no
    attribute of theirs that is not lent (a part's weight) is read."""
    run(kernel, "def encode(model, z):\n    return model.encoder(z)\n")
    assert verdict(judged(kernel, tmp_path, PARTS, "test_parts")) == "passed"
    run(kernel, "import json\ndef encode(model, z):\n    part = model.encoder\n"
                "    raise ValueError(input(json.dumps({'callback': part._lent[1], 'getattr': 'weight'})))\n")
    assert "not lent" in verdict(judged(kernel, tmp_path, PARTS, "test_parts"))


SEQUENCE = '''
import torch
from torch import nn
from vae_helpers.checks import PASSED, expect_close


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 4))


def test_sequence(encode, student):
    torch.manual_seed(0)
    model = Model()
    z = torch.randn(5, 2)
    expect_close("the layers' output, computed here", encode(student.lend(model, methods=()), z),
                 model.layers(z).detach())
    print(PASSED)
'''


@pytest.mark.parametrize("body", [
    "return model.layers[-1](model.layers[:2](z))",
    "for layer in model.layers:\n        z = layer(z)\n    return z",
    "assert len(model.layers) == 3 and model.layers[-1].out_features == 4 and model.layers[0].in_features == 2\n"
    "    return model.layers(z)",
], ids=["indexed and sliced", "iterated", "measured"])
def test_a_lent_sequence_of_layers_is_indexed_iterated_and_measured_as_the_notebooks_own(kernel, tmp_path, body):
    """Code written for the notebook's model may index its ``nn.Sequential`` networks (``model.classifier[-1]``),
    iterate over them and read a PyTorch layer's sizes (``out_features``): a lent module offers the same."""
    run(kernel, f"def encode(model, z):\n    {body}\n")
    assert verdict(judged(kernel, tmp_path, SEQUENCE, "test_sequence")) == "passed"


def test_a_lent_layers_tensors_stay_in_the_grading_process(kernel, tmp_path):
    run(kernel, "def encode(model, z):\n    return z @ model.layers[0].weight.T\n")
    assert "not lent" in verdict(judged(kernel, tmp_path, SEQUENCE, "test_sequence"))


# what the student's code does to its tensor arguments

IN_PLACE = '''
import math

import torch
from vae_helpers.checks import PASSED, expect_equal

REQUIRES_GRAD = False


def test_kept(f):
    mu = torch.zeros(3, requires_grad=REQUIRES_GRAD)
    f(mu)
    expect_equal("the given mu is not changed in place", bool(torch.equal(mu.detach(), torch.zeros(3))), True)
    print(PASSED)


def test_unchanged(f):
    for name, mu in (("mu", torch.tensor([0.5, -1.0])), ("mu holding NaN", torch.tensor([math.nan, 1.0])),
                     ("an int tensor", torch.tensor([1, 2]))):
        version = mu._version  # a tensor the judge writes the kernel's values into counts one more version
        f(mu)
        expect_equal(f"the version of {name}, which the call did not change", mu._version, version)
    print(PASSED)
'''
CHANGES = {  # what the student's code does to the argument it is given: mu becomes ones
    "add_": ("def f(mu):\n    mu.add_(1)\n    return mu.sum()\n", False),
    "optimizer on mu.detach()": ("import torch\ndef f(mu):\n    mu = mu.detach().requires_grad_()\n"
                                 "    optimizer = torch.optim.SGD([mu], lr=1.0)\n    (-mu.sum()).backward()\n"
                                 "    optimizer.step()\n    return mu.detach().clone()\n", True),
}


def in_place(requires_grad):
    return IN_PLACE.replace("REQUIRES_GRAD = False", f"REQUIRES_GRAD = {requires_grad}")


@pytest.mark.parametrize("change", CHANGES)
def test_a_tensor_argument_changed_in_place_fails_the_call_with_the_argument_named(kernel, tmp_path, change):
    code, requires_grad = CHANGES[change]
    run(kernel, code)
    assert verdict(judged(kernel, tmp_path, in_place(requires_grad), "test_kept")).startswith(
        "AssertionError: f: changed its argument mu in place (3 of its 3 values, the first from 0 to 1). "
        "Hint: compute new tensors")


WITHHELD = '''
def taken_away(*args, **kwargs):
    raise AssertionError("f called helper, which the checks take away")


WITHHELD = {"helper": taken_away}


def test_f(f):
    assert f(2) == 4
'''


def test_a_withheld_function_of_the_notebook_raises_while_the_students_code_runs_and_is_back_after(kernel, tmp_path):
    run(kernel, "def helper(x):\n    return 2 * x\ndef f(x):\n    return helper(x)\n")
    assert verdict(judged(kernel, tmp_path, WITHHELD, "test_f")) == \
        "AssertionError: f called helper, which the checks take away"
    assert run(kernel, "print(helper(3))").outputs[0]["text"] == "6\n"
    run(kernel, "def f(x):\n    return x + x\n")
    assert verdict(judged(kernel, tmp_path, WITHHELD, "test_f")) == "passed"


WITHOUT_GRADIENTS = '''
import torch
from vae_helpers.checks import called_without_gradients


def test_f(f):
    assert called_without_gradients(f, torch.tensor([3.0])).item() == 6.0
'''


def test_a_call_asked_without_gradients_runs_in_the_kernel_with_no_autograd(kernel, tmp_path):
    run(kernel, "import torch\ndef f(x):\n    y = x.clone().requires_grad_()\n    (y ** 2).sum().backward()\n"
                "    return y.grad\n")
    assert "does not require grad" in verdict(judged(kernel, tmp_path, WITHOUT_GRADIENTS, "test_f"))
    run(kernel, "def f(x):\n    return 2 * x\n")
    assert verdict(judged(kernel, tmp_path, WITHOUT_GRADIENTS, "test_f")) == "passed"


def test_a_tensor_argument_left_as_it_was_is_not_reported_changed(kernel, tmp_path):
    run(kernel, "def f(mu):\n    mu.mul_(1)  # in place, to the same values\n    return mu.sum()\n")
    assert verdict(judged(kernel, tmp_path, in_place(False), "test_unchanged")) == "passed"
    side, nan = KernelSide(), torch.tensor([math.nan, 2.0])
    call = {"ask": "call", "target": {"name": "f"}, "args": encode([nan, torch.tensor([1, 2])]), "kwargs": encode({}), "seed": 0}
    assert side.answer_question(call, {"f": lambda *tensors: [t.mul_(1) for t in tensors] and 0})["changed"] == []
    changed = side.answer_question(call, {"f": lambda a, b: (b.add_(1), 0)[1]})["changed"]
    assert len(changed) == 1 and changed[0][0] == 1 and torch.equal(decode(changed[0][1]), torch.tensor([2, 3]))


def test_a_tensor_argument_whose_shape_is_changed_in_place_fails_with_a_message(kernel, tmp_path):
    run(kernel, "def f(mu):\n    mu.unsqueeze_(0)\n    return mu.sum()\n")
    assert verdict(judged(kernel, tmp_path, in_place(False), "test_kept")) == (
        "AssertionError: the call changed the shape of its tensor argument of shape (3,) in place; "
        "leave the tensors you are given as they are")


# the meta device

META = '''
import torch
from vae_helpers.checks import PASSED, expect_equal


def test_noise(noise):
    x = torch.zeros(3, 4, device="meta")
    out = noise(x)
    expect_equal("the device of noise(x) for x on the meta device", out.device.type, "meta")
    expect_equal("the shape of noise(x) for x of shape (3, 4)", tuple(out.shape), (3, 4))
    print(PASSED)
'''


@pytest.mark.parametrize("body, reason", [
    ("torch.randn_like(x)", "passed"),
    ("torch.randn(x.shape)",
     "AssertionError: the device of noise(x) for x on the meta device: expected 'meta', got 'cpu'."),
])
def test_a_tensor_on_the_meta_device_travels_both_ways(kernel, tmp_path, body, reason):
    run(kernel, f"import torch\ndef noise(x):\n    return {body}\n")
    assert verdict(judged(kernel, tmp_path, META, "test_noise")) == reason


def judged_both_ways(kernel, tmp_path, student_code, module, test, name, reason):
    """``test`` of ``module`` gives ``reason`` when it judges ``name`` of ``student_code`` in the kernel, and the
    same verdict when it runs on the plain function here."""
    run(kernel, student_code)
    assert verdict(judged(kernel, tmp_path, module, test)) == reason
    namespace = {}
    exec(student_code, namespace)
    (tmp_path / "plain.py").write_text(module)
    plain = getattr(hidden_tests.load("plain", tmp_path), test)
    if reason == "passed":
        plain(namespace[name])
    else:
        with pytest.raises(AssertionError, match=re.escape(reason.removeprefix("AssertionError: "))):
            plain(namespace[name])


GPU_RUN = '''
import torch
from vae_helpers.checks import PASSED, expect_on_device


def test_made_where_its_input_is(one_hot):
    expect_on_device("one_hot(y, 3)", one_hot, torch.tensor([2, 0, 1]), 3, shape=(3, 3), hint="device=y.device.")
    print(PASSED)
'''
MADE_ON_THE_CPU = MADE_WITHOUT_A_DEVICE + ". Hint: device=y.device."


@pytest.mark.parametrize("body, reason", [
    ("torch.eye(k, device=y.device)[y.tolist()]", "passed"),  # the values of y read in the kernel
    ("torch.nn.functional.one_hot(y.cpu(), k).to(y.device) * torch.tensor(1.0)", "passed"),  # a scalar stays
    ("torch.eye(k)[y.tolist()]", "AssertionError: one_hot(y, 3), run as on a GPU (its inputs there): expected its "
                                 "result on the GPU, where the inputs are, got a tensor on the CPU: " + MADE_ON_THE_CPU),
    ("torch.eye(k)[y]", "AssertionError: one_hot(y, 3), run as on a GPU (its inputs there): it fails where a tensor it "
                        "made meets the inputs (RuntimeError): " + MADE_ON_THE_CPU),
    ("(y[:, None] == torch.arange(k)).float()", "AssertionError: one_hot(y, 3), run as on a GPU (its inputs there): it "
                                                "fails where a tensor it made meets the inputs (RuntimeError): "
                                                + MADE_ON_THE_CPU),
    ("y.view(2, 2)", "AssertionError: one_hot(y, 3): expected a result, got RuntimeError: shape '[2, 2]' is invalid "
                     "for input of size 3."),
])
def test_a_call_may_run_in_the_kernel_as_on_a_gpu(kernel, tmp_path, body, reason):
    """A tensor the student's function makes without a device is made in the kernel, where the function runs, so
    the kernel runs the call as on a GPU (``judge.on_a_gpu``), its inputs' values readable there; the
    same check, run on the plain function, runs it so here. The student's own error is reported as such."""
    judged_both_ways(kernel, tmp_path, f"import torch\ndef one_hot(y, k):\n    return {body}\n", GPU_RUN,
                     "test_made_where_its_input_is", "one_hot", reason)


GPU_RUN_LENT = '''
import torch
from torch import nn
from vae_helpers.checks import PASSED, expect_on_device


class Joined(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(5, 2)

    def forward(self, h, one_hot):
        return self.linear(torch.cat([h, one_hot], dim=1))


def test_lent(encode, student):
    model = student.lend(Joined().requires_grad_(False), methods=())
    expect_on_device("encode(model, h, y)", encode, model, torch.zeros(3, 2), torch.tensor([2, 0, 1]), shape=(3, 2),
                     hint="device=h.device.")
    print(PASSED)
'''


@pytest.mark.parametrize("one_hot, passes", [
    ("torch.nn.functional.one_hot(y, 3).to(h)", True),
    ("torch.eye(3, device=h.device)[y.tolist()]", True),
    ("torch.eye(3)[y]", False),  # CPU rows indexed by the GPU's labels
    ("torch.nn.functional.one_hot(y.cpu(), 3).float()", False),  # the lent model, on the GPU, meets CPU one-hots
])
def test_a_lent_model_called_in_a_run_as_on_a_gpu_gets_what_the_call_made(kernel, tmp_path, one_hot, passes):
    """The judge's own work in the kernel (a request to the grading process) is not run as on a GPU: what the
    call made travels as it is, and the lent model, computed in the grading process, meets it there."""
    run(kernel, f"import torch\ndef encode(model, h, y):\n    return model(h, {one_hot})\n")
    got = verdict(judged(kernel, tmp_path, GPU_RUN_LENT, "test_lent"))
    assert got == "passed" if passes else got.startswith(
        "AssertionError: encode(model, h, y), run as on a GPU (its inputs there): it fails where a tensor it made "
        "meets the inputs"), got


def test_a_backward_through_a_lent_model_in_a_run_as_on_a_gpu_reaches_the_call(kernel, tmp_path):
    """A gradient through a lent model (06's decoder, as refine_posterior steps through it) goes from the GPU the
    call runs on to the grading process that computes the model, and back."""
    run(kernel, "import torch\ndef encode(model, h, y):\n    h = h.detach().clone().requires_grad_()\n"
                "    model(h, torch.nn.functional.one_hot(y, 3).to(h)).sum().backward()\n    return h.grad * 1\n")
    assert verdict(judged(kernel, tmp_path, GPU_RUN_LENT, "test_lent")) == "passed"


# what a call held at once

SIZES = '''
from vae_helpers.checks import PASSED, largest_tensor_made


def test_sizes(pairwise):
    x = torch.arange(12.0).view(6, 2)
    result, largest = largest_tensor_made(pairwise, x, chunk=2)
    expect_equal("the shape of pairwise(6 rows, chunk=2)", tuple(result.shape), (6, 6))
    assert largest <= 6 * 6, f"one step made {largest} numbers"
    print(PASSED)
'''


@pytest.mark.parametrize("body, reason", [
    ("torch.cat([(part[:, None] - x).pow(2).sum(-1) for part in x.split(chunk)])", "passed"),
    ("(x[:, None] - x).pow(2).sum(-1)", "AssertionError: one step made 72 numbers"),
])
def test_a_call_may_be_measured_by_the_largest_tensor_it_made_in_the_kernel(kernel, tmp_path, body, reason):
    """The kernel reports the largest tensor one torch operation made while a call ran (the differences of
    all 6 × 6 pairs of 2-D rows: 72 numbers at once; taken 2 rows at a time, 24, and the 36 distances), and
    the same check, run on the plain function, measures it here."""
    judged_both_ways(kernel, tmp_path, f"import torch\ndef pairwise(x, chunk):\n    return {body}\n",
                     "import torch\nfrom vae_helpers.checks import expect_equal\n" + SIZES, "test_sizes", "pairwise", reason)
