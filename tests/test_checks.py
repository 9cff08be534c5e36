import math
import os
import re
from pathlib import Path
from unittest import mock

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from nbclient import NotebookClient

from vae_helpers import get_device
from vae_helpers.checks import (answering, checking_answers, expect_close, expect_equal, expect_finite, expect_gradient, expect_number,
                                expect_on_device, expect_python_float, expect_returns, expect_shape, expect_tensor,
                                expect_uncorrelated, expect_value_error, expect_written)


def test_expect_tensor_says_what_came_and_hints_at_a_missing_return():
    with pytest.raises(AssertionError, match=r"kl: expected a torch.Tensor, got NoneType\. Did you forget to `return`"):
        expect_tensor("kl", None)
    with pytest.raises(AssertionError, match="got float"):
        expect_tensor("kl", 0.5)


def test_expect_on_device_fails_an_answer_that_makes_its_tensors_on_the_cpu():
    """The call runs as on a GPU (``called_as_on_a_gpu``): a tensor made without a device is where a GPU run
    leaves it, away from the inputs, whether it reaches the result or meets them; only a 0-dim one mixes."""
    mu = torch.zeros(3, 2)
    expect_on_device("z", lambda m: m + torch.randn_like(m), mu, shape=(3, 2))
    expect_on_device("pair", lambda m: (m, m.exp()), mu)
    with pytest.raises(AssertionError, match=r"z, run as on a GPU \(its inputs there\): expected shape \(3, 2\), got \(3,\)"):
        expect_on_device("z", lambda m: m.sum(1), mu, shape=(3, 2))
    with pytest.raises(AssertionError, match=r"pair, run as on a GPU .* expected its result on the GPU, where the inputs "
                                             r"are, got a tensor on the CPU: a tensor made without a "
                                             r"device"):
        expect_on_device("pair", lambda m: (m, torch.zeros(2)), mu)
    with pytest.raises(AssertionError, match=r"z, run as on a GPU .* fails where a tensor it made meets the inputs "
                                             r"\(RuntimeError\): .* Hint: where mu is"):
        expect_on_device("z", lambda m: m + torch.randn(m.shape), mu, hint="where mu is")
    with pytest.raises(AssertionError, match=r"expected its result on the GPU"):
        expect_on_device("z", lambda m: torch.randn(m.shape), mu)
    with pytest.raises(AssertionError, match=r"fails where a tensor it made meets the inputs"):  # a matrix product too
        expect_on_device("z", lambda m: m.T @ torch.ones(3, 2), mu)
    with pytest.raises(AssertionError, match="expected a torch.Tensor, got NoneType"):
        expect_on_device("z", lambda m: None, mu)
    with pytest.raises(AssertionError, match=r"fails where a tensor it made meets the inputs"):  # one element, 1-dim
        expect_on_device("z", lambda m: m + torch.tensor([1.0]), mu)
    with pytest.raises(AssertionError, match=r"expected its result on the GPU"):
        expect_on_device("z", lambda m: m.cpu(), mu)


def test_a_run_as_on_a_gpu_keeps_every_value_and_lets_0_dim_cpu_tensors_mix():
    """As on a GPU, a 0-dim CPU tensor mixes with the inputs (a product of a shape, a number made a tensor); a
    tensor moved to the inputs' device carries its values; nothing is replaced by zeros."""
    nll = torch.tensor([100.0, 2000.0])
    bits = expect_on_device("bits", lambda n: n / (torch.tensor((3, 32, 32)).prod() * math.log(2)) + torch.tensor(8.0),
                            nll)
    assert torch.allclose(bits, nll / (3072 * math.log(2)) + 8)
    moved = expect_on_device("moved", lambda n: n + torch.arange(2).to(n), nll)
    assert moved.tolist() == [100.0, 2001.0]
    shuffled = expect_on_device("indexed", lambda n: n[torch.tensor([1, 0])], nll)
    assert shuffled.tolist() == [2000.0, 100.0]


def test_expect_on_device_catches_a_cpu_tensor_behind_a_distribution():
    """A torch.distributions object validates its arguments by reading their values: built from the inputs it
    runs, and one built from a tensor made on the CPU fails as on a GPU, as does a CPU noise added after it."""
    Normal, kl = torch.distributions.Normal, torch.distributions.kl_divergence
    mu = torch.zeros(3, 2)
    expect_on_device("z", lambda m: Normal(m, m.exp()).rsample(), mu, shape=(3, 2))
    expect_on_device("kl", lambda m: kl(Normal(m, m.exp()), Normal(torch.zeros_like(m), torch.ones_like(m))), mu)
    expect_on_device("kl", lambda m: kl(Normal(m, m.exp()), Normal(0.0, 1.0)), mu)
    with pytest.raises(AssertionError, match="made without a device"):
        expect_on_device("kl", lambda m: kl(Normal(m, m.exp()), Normal(torch.zeros(m.shape), torch.ones(m.shape))), mu)
    with pytest.raises(AssertionError, match="made without a device"):
        expect_on_device("z", lambda m: m + Normal(m, m.exp()).stddev * torch.randn(m.shape), mu)
    with pytest.raises(AssertionError, match="made without a device"):  # a standard normal's draws, on the CPU
        expect_on_device("z", lambda m: m + m.exp() * Normal(0.0, 1.0).sample(m.shape), mu)
    with pytest.raises(AssertionError, match="made without a device"):
        expect_on_device("log q(y)", lambda m: torch.distributions.Categorical(logits=m).log_prob(torch.arange(3)),
                         torch.zeros(3, 4))


def test_expect_on_device_passes_answers_that_read_values_and_use_scalars():
    """The inputs' values can be read (a GPU's tensors can be copied to the CPU); a copy back to the inputs'
    device is where they are; a 0-dim tensor made without a device mixes with them, as a CPU scalar with a GPU's
    tensors."""
    y = torch.tensor([2, 0, 1])
    expect_on_device("one_hot", lambda y: torch.eye(3, device=y.device)[y.tolist()], y, shape=(3, 3))
    expect_on_device("one_hot", lambda y: torch.nn.functional.one_hot(y.cpu(), 3).to(y.device), y, shape=(3, 3))
    expect_on_device("one_hot", lambda y: torch.eye(3)[y.cpu()].to(y.device), y, shape=(3, 3))
    expect_on_device("one_hot", lambda y: torch.zeros(3, 3).type_as(y.float()), y, shape=(3, 3))
    expect_on_device("log", lambda m: m * torch.tensor(2 * math.pi).log() + torch.tensor(1.0), torch.zeros(3, 2))
    with pytest.raises(AssertionError, match="expected its result on the GPU"):
        expect_on_device("one_hot", lambda y: torch.eye(3)[y.tolist()], y)
    with pytest.raises(AssertionError, match="fails where a tensor it made meets the inputs"):  # CPU rows, GPU indices
        expect_on_device("one_hot", lambda y: torch.eye(3)[y].to(y.device), y)
    with pytest.raises(AssertionError, match="fails where a tensor it made meets the inputs"):
        expect_on_device("one_hot", lambda y: torch.zeros(3, 3).index_put_((torch.arange(3), y), torch.tensor(1.0)), y)
    with pytest.raises(AssertionError, match="expected its result on the GPU"):  # the device named as a string
        expect_on_device("one_hot", lambda y: torch.nn.functional.one_hot(y, 3).to("cpu"), y)
    with pytest.raises(AssertionError, match="expected its result on the GPU"):
        expect_on_device("one_hot", lambda y: torch.zeros(3, 3, device="cpu"), y)
    expect_on_device("z", lambda m: m + torch.normal(mean=torch.zeros_like(m), std=torch.ones_like(m)), torch.zeros(3, 2))
    expect_on_device("z", lambda m: m + torch.as_tensor(m) * 2, torch.zeros(3, 2))


# tensors a call makes where torch's functions do not see them, or with a device made in code that names the CPU
MADE_ON_THE_CPU = {
    "torch.Tensor([...])": lambda m: torch.Tensor([1.0, 2.0]),
    "torch.FloatTensor([...])": lambda m: torch.FloatTensor([1.0, 2.0]),
    "torch.LongTensor([...])": lambda m: torch.LongTensor([1, 0]),
    "torch.from_numpy": lambda m: torch.from_numpy(np.ones(2, dtype=np.float32)),
    "torch.frombuffer": lambda m: torch.frombuffer(bytearray(8), dtype=torch.float32),
    "torch.from_dlpack": lambda m: torch.from_dlpack(np.ones(2, dtype=np.float32)),
    "device=torch.device('cpu')": lambda m: torch.ones(2, device=torch.device("cpu")),
    ".to(torch.device('cpu'))": lambda m: m[0].to(torch.device("cpu")),
    "a module built in the call": lambda m: torch.nn.Linear(2, 2).weight[0],
}


@pytest.mark.parametrize("made", MADE_ON_THE_CPU.values(), ids=MADE_ON_THE_CPU.keys())
def test_a_run_as_on_a_gpu_puts_what_the_call_makes_out_of_torchs_sight_on_the_cpu(made):
    """A tensor that did not exist when the run began and that no torch function made where the inputs are is on
    the CPU, however it was made (a legacy constructor, NumPy, a buffer, DLPack, a module's weights, a device object
    that names the CPU): it fails where it meets the inputs and where it is returned."""
    mu = torch.zeros(3, 2)
    with pytest.raises(AssertionError, match="fails where a tensor it made meets the inputs"):
        expect_on_device("z", lambda m: m + made(m), mu)
    with pytest.raises(AssertionError, match="expected its result on the GPU"):
        expect_on_device("z", made, mu)


def test_a_run_as_on_a_gpu_keeps_on_the_gpu_what_is_made_where_the_inputs_are():
    """The same tensors made or moved where the inputs are pass: a device read from an input (also through
    ``torch.device(x.device)`` or written as text), a module built or moved there, the notebook's chosen device,
    a device named "cuda"."""
    mu = torch.zeros(3, 2)
    expect_on_device("z", lambda m: m + torch.ones(2, device=m.device), mu)
    expect_on_device("z", lambda m: m + torch.ones(2, device=torch.device(m.device)), mu)
    expect_on_device("z", lambda m: torch.zeros(3, 2, device=str(m.device)), mu)
    expect_on_device("z", lambda m: torch.zeros(3, 2, device=m.device.type), mu)
    expect_on_device("z", lambda m: m + torch.Tensor([1.0, 2.0]).to(m), mu)
    expect_on_device("z", lambda m: m + torch.from_numpy(np.ones(2, dtype=np.float32)).to(m.device), mu)
    expect_on_device("z", lambda m: torch.nn.Linear(2, 2).to(m.device)(m), mu, shape=(3, 2))
    expect_on_device("z", lambda m: torch.nn.Linear(2, 2, device=m.device)(m), mu, shape=(3, 2))
    expect_on_device("z", lambda m: torch.nn.Linear(2, 2).to(get_device())(m), mu, shape=(3, 2))
    expect_on_device("z", lambda m: m + torch.ones(2, device=get_device()), mu)  # the course's choice, made once
    expect_on_device("z", lambda m: m + torch.ones(2, device="cuda") + torch.ones(2).cuda(), mu)
    expect_on_device("z", lambda m: m + torch.zeros_like(torch.ones(2), device=m.device), mu)  # device= decides
    expect_on_device("z", lambda m: m + torch.as_tensor(torch.ones(2), device=m.device), mu)
    expect_on_device("z", lambda m: m + torch.ones(1).new_zeros(2, device=m.device), mu)
    expect_on_device("z", lambda m: torch.func.grad(lambda a: (a ** 2).sum())(m), mu)
    expect_on_device("z", lambda m: torch.vmap(lambda row: row * 2)(m), mu)


def test_a_run_as_on_a_gpu_leaves_where_it_was_what_is_not_an_input():
    """Only the inputs are on the GPU: a tensor or a model of the notebook that the call was not given is where it
    was made, as on a GPU when the notebook did not move it, and so is a device made naming the CPU."""
    mu = torch.zeros(3, 2)
    weights, prior_mean, chosen = torch.nn.Linear(2, 2), torch.zeros(2), torch.device("cpu")
    for made in (lambda m: weights(m), lambda m: m + prior_mean, lambda m: m + torch.ones(2, device=chosen)):
        with pytest.raises(AssertionError, match="fails where a tensor it made meets the inputs"):
            expect_on_device("z", made, mu)


def test_a_run_as_on_a_gpu_follows_pytorchs_rules_for_a_gpu():
    """Where PyTorch on a GPU refuses or moves, the run does too: a 0-dim CPU tensor is a number only to a
    pointwise operation (``torch.stack`` and ``torch.cat`` refuse it), ``torch.tensor`` of GPU numbers is made on
    the CPU, ``.type(torch.FloatTensor)`` copies to the CPU, a CPU generator cannot draw on the GPU."""
    mu = torch.zeros(3, 2)
    expect_on_device("z", lambda m: m * torch.tensor(2.0) + torch.where(m > 0, m, torch.tensor(0.0)), mu)
    for made in (lambda m: torch.stack([m[0, 0], torch.tensor(1.0)]), lambda m: torch.cat([m[0], torch.tensor([1.0])]),
                 lambda m: m + torch.tensor([m[0, 0], m[0, 1]])):
        with pytest.raises(AssertionError, match="fails where a tensor it made meets the inputs"):
            expect_on_device("z", made, mu)
    with pytest.raises(AssertionError, match="expected its result on the GPU"):
        expect_on_device("z", lambda m: m.type(torch.FloatTensor), mu)
    with pytest.raises(AssertionError, match="generator"):
        expect_on_device("z", lambda m: m + torch.randn(2, generator=torch.Generator(), device=m.device), mu)
    # an operation CUDA runs as the ones it is made of is judged by them: a 0-dim CPU pos_weight is a number to
    # binary_cross_entropy_with_logits's multiplication, a 1-dim one is refused there
    target = torch.ones(3, 2)
    expect_on_device("bce", lambda m, t: F.binary_cross_entropy_with_logits(m, t, pos_weight=torch.tensor(2.0)),
                     mu, target)
    with pytest.raises(AssertionError, match="fails where a tensor it made meets the inputs"):
        expect_on_device("bce", lambda m, t: F.binary_cross_entropy_with_logits(m, t, pos_weight=torch.ones(2)),
                         mu, target)


def test_a_run_as_on_a_gpu_puts_the_model_it_calls_there_and_gives_its_weights_back():
    from vae_helpers.checks import called_as_on_a_gpu

    """A module called as on a GPU has its weights there for the call; after it, they are the same objects as
    before, with what the call changed (values and gradients)."""
    model = torch.nn.Linear(2, 1)
    weight = model.weight

    def step(x):
        model(x).sum().backward()
        with torch.no_grad():
            model.weight.add_(1.0)
        return model(x)

    class Stepped(torch.nn.Module):
        def forward(self, x):
            return step(x)

    before = weight.detach().clone()
    outer = Stepped()
    outer.model = model  # a part of the module called: placed with it
    assert called_as_on_a_gpu(outer, torch.ones(4, 2)).shape == (4, 1)
    assert model.weight is weight and torch.equal(weight.detach(), before + 1)
    assert weight.grad is not None and weight.grad.device.type == "cpu" and torch.equal(weight.grad, torch.full((1, 2), 4.0))


def test_a_run_as_on_a_gpu_keeps_a_tensor_shaped_after_another_where_it_was():
    """``expand_as``, ``view_as`` and ``reshape_as`` read only the other tensor's shape: a CPU floor expanded to an
    input's shape is still on the CPU, and meets the input as a GPU refuses."""
    mu = torch.zeros(3, 2)
    with pytest.raises(AssertionError, match="fails where a tensor it made meets the inputs"):
        expect_on_device("z", lambda m: torch.maximum(m, torch.tensor(0.5).expand_as(m)), mu)
    with pytest.raises(AssertionError, match="fails where a tensor it made meets the inputs"):
        expect_on_device("z", lambda m: m + torch.zeros(6).view_as(m), mu)
    expect_on_device("z", lambda m: m.reshape_as(torch.zeros(3, 2)) + 1, mu)


def test_a_run_as_on_a_gpu_refuses_numpy_the_inputs_values_as_cuda_does():
    """``.numpy()`` of a GPU's tensor raises, with PyTorch's words and its fix; of a copy on the CPU it works."""
    mu = torch.zeros(3, 2)
    with pytest.raises(AssertionError, match=r"expected a result, got TypeError: can't convert cuda:0 device type "
                                             r"tensor to numpy\. Use Tensor\.cpu\(\)"):
        expect_on_device("z", lambda m: torch.from_numpy(m.numpy() * 2), mu)
    with pytest.raises(AssertionError, match="can't convert cuda:0"):
        expect_on_device("z", lambda m: torch.as_tensor(np.asarray(m)).to(m.device), mu)
    expect_on_device("z", lambda m: torch.from_numpy(m.cpu().numpy() * 2).to(m.device), mu)


def test_expect_on_device_reports_the_answers_own_error_as_expect_returns_does():
    mu = torch.zeros(3, 2)
    with pytest.raises(AssertionError, match=r"^z: expected a result, got RuntimeError: mat1 and mat2 shapes cannot be "
                                             r"multiplied \(3x2 and 5x5\)\.$"):
        expect_on_device("z", lambda m: m @ torch.ones(5, 5, device=m.device), mu, hint="where mu is")
    with pytest.raises(NotImplementedError):  # an exercise not yet written says so itself
        expect_on_device("z", lambda m: (_ for _ in ()).throw(NotImplementedError("write it")), mu)


def test_a_run_as_on_a_gpu_ends_with_the_call():
    from vae_helpers.checks import called_as_on_a_gpu
    assert called_as_on_a_gpu(lambda: torch.zeros(2, 2)).device.type == "meta"
    assert torch.zeros(2, 2).device.type == "cpu" and called_as_on_a_gpu(lambda: torch.zeros(())).device.type == "meta"


def test_expect_value_error_names_what_came_instead():
    """The ValueError an exercise promises is returned; an assert (even with no message), another error or none
    fails, saying which."""
    def checked(n):
        if n < 0:
            raise ValueError("n must be >= 0")

    def asserted(n):  # a bare assert, as Python raises it outside pytest's rewriting
        raise AssertionError

    assert str(expect_value_error("f(-1)", checked, -1, why="a negative n")) == "n must be >= 0"
    with pytest.raises(AssertionError, match=r"^f\(-1\): expected a ValueError for a negative n, got AssertionError "
                                             r"\(with no message\)\. Hint: raise ValueError"):
        expect_value_error("f(-1)", asserted, -1, why="a negative n")
    with pytest.raises(AssertionError, match=r"got TypeError: bad operand"):
        expect_value_error("f(-1)", lambda n: -"x", -1, why="a negative n")
    with pytest.raises(AssertionError, match=r"^f\(1\): expected a ValueError for a negative n, got no error\.$"):
        expect_value_error("f(1)", checked, 1, why="a negative n")


def test_a_long_error_is_cut_at_a_word_end_and_says_so():
    """An error that prints a tensor or a traceback is cut to its words up to the limit, with a note of the cut."""
    long = "mat1 and mat2 shapes cannot be multiplied: " + " ".join(f"value{i}" for i in range(100))

    def fails():
        raise RuntimeError(long)

    with pytest.raises(AssertionError) as caught:
        expect_returns("f", fails)
    kept, note = re.fullmatch(r"f: expected a result, got RuntimeError: (.*) \.\.\. \[(\d+) more characters cut\]",
                              str(caught.value)).groups()
    assert long.startswith(kept) and long[len(kept)] == " " and len(kept) + int(note) == len(long)


def test_expect_uncorrelated_fails_noise_shared_between_entries():
    noise = torch.randn(20_000, 2, generator=torch.Generator().manual_seed(0))
    expect_uncorrelated("z", noise, atol=0.05)
    with pytest.raises(AssertionError, match=r"z: expected \[0\], got \[(1|0.9999)\] .* Hint: a noise of its own"):
        expect_uncorrelated("z", noise[:, :1].expand(20_000, 2), atol=0.05, hint="a noise of its own")


def test_expect_shape_reports_both_shapes():
    expect_shape("z", torch.zeros(3, 2), (3, 2))
    with pytest.raises(AssertionError, match=r"z: expected shape \(3,\), got \(3, 2\)"):
        expect_shape("z", torch.zeros(3, 2), (3,))


def test_expect_finite_counts_bad_values():
    expect_finite("x", torch.ones(3))
    with pytest.raises(AssertionError, match="2 NaN/inf among 3"):
        expect_finite("x", torch.tensor([1.0, math.nan, math.inf]))
    with pytest.raises(AssertionError, match=r"1 NaN/inf among 1 \(first values \[nan\]\)\. Hint: use log_softmax\.$"):
        expect_finite("x", torch.tensor([math.nan]), hint="use log_softmax.")


def test_expect_close_reports_expected_got_difference_and_hint():
    expect_close("kl", torch.tensor([0.5, 1.0]), torch.tensor([0.5, 1.0 + 1e-7]))
    expect_close("mean", torch.tensor(2.98), 3.0, atol=0.05)
    with pytest.raises(AssertionError) as error:
        expect_close("kl", torch.tensor([-0.5]), torch.tensor([0.5]), hint="check the sign.")
    assert str(error.value) == "kl: expected [0.5], got [-0.5] (largest difference 1). Hint: check the sign."
    with pytest.raises(AssertionError, match=r"expected shape \(2,\), got \(3,\)"):
        expect_close("kl", torch.zeros(3), torch.zeros(2))
    with pytest.raises(AssertionError, match="NaN"):
        expect_close("kl", torch.tensor([math.nan]), torch.tensor([0.0]))


def test_expect_close_shows_enough_digits_to_see_a_small_difference():
    with pytest.raises(AssertionError, match=r"expected \[12\.347\], got \[12\.345\] \(largest difference 0\.002"):
        expect_close("nll", torch.tensor([12.345, 3.0], dtype=torch.float64), torch.tensor([12.347, 3.0]), atol=1e-5)
    with pytest.raises(AssertionError, match=r"expected \[1\.5, 3\], got \[1, 2\]"):
        expect_close("x", torch.tensor([1.0, 2.0]), torch.tensor([1.5, 3.0]))


def test_expect_close_names_a_known_mistake_from_its_constant_offset():
    offsets = {math.log(4): "log p(y) is missing.", -1.0: "one too few."}
    expected = torch.tensor([-3.0, -5.0])
    with pytest.raises(AssertionError) as error:
        expect_close("bound", expected + math.log(4), expected, atol=1e-3, hint="the generic hint.", offsets=offsets)
    assert str(error.value).endswith("Every value is +1.386 off: log p(y) is missing.")
    with pytest.raises(AssertionError) as error:  # an offset that is not the same everywhere: the hint
        expect_close("bound", expected + torch.tensor([math.log(4), 0.0]), expected, atol=1e-3,
                     hint="the generic hint.", offsets=offsets)
    assert str(error.value).endswith("Hint: the generic hint.")


def test_expect_gradient_returns_the_gradient_and_names_a_cut_graph():
    mu = torch.tensor([1.0, 2.0], requires_grad=True)
    assert torch.equal(expect_gradient("z", mu * 3, mu), torch.full((2,), 3.0))
    with pytest.raises(AssertionError, match="requires_grad=False"):
        expect_gradient("z", (mu * 3).detach(), mu)
    other = torch.ones(2, requires_grad=True)
    with pytest.raises(AssertionError, match="no gradient reaches it"):
        expect_gradient("z", other * 2, mu)


def test_expect_tensor_refuses_a_subclass_that_could_redefine_comparisons():
    class AlwaysClose(torch.Tensor):
        pass

    expect_tensor("weights", torch.nn.Parameter(torch.zeros(2)))
    with pytest.raises(AssertionError, match="expected a plain torch.Tensor, got the subclass AlwaysClose"):
        expect_tensor("kl", torch.zeros(2).as_subclass(AlwaysClose))


def test_expect_equal_and_expect_number_show_both_values():
    expect_equal("parameters", 652_824, 652_824)
    with pytest.raises(AssertionError, match=r"parameters: expected 652824, got 652800\. Hint: two heads"):
        expect_equal("parameters", 652_800, 652_824, hint="two heads")
    with pytest.raises(AssertionError, match="expected True, got 1"):
        expect_equal("flag", 1, True)  # same value, other type: not what was asked for
    expect_number("weight", 1.2, 1.2 + 1e-12, atol=1e-9)
    with pytest.raises(AssertionError, match=r"weight: expected 1\.2, got 4\."):
        expect_number("weight", 4.0, 1.2, atol=1e-9)
    with pytest.raises(AssertionError, match=r"expected a Python float, got torch\.Tensor\. Hint: .*x\.item\(\)"):
        expect_number("mean loss", torch.tensor(1.2), 1.2, atol=1e-9)


@pytest.mark.parametrize("value, name", [(np.float64(0.5), "numpy.float64"), (np.mean([0.5, 0.5]), "numpy.float64"),
                                         (np.float32(0.5), "numpy.float32"), (0, "int"), (np.array(0.5), "numpy.ndarray"),
                                         (torch.tensor(0.5), "torch.Tensor")])
def test_a_python_float_is_a_float_and_nothing_that_only_compares_equal_to_one(value, name):
    """One rule for an exercise that returns a number: a NumPy float passes isinstance(x, float) and equals the
    float, yet it is not what the exercise promises; the message names its type and how to make a float."""
    expect_python_float("weight", 0.5)
    with pytest.raises(AssertionError, match=rf"weight: expected a Python float, got {re.escape(name)}\. Hint: float\(x\)"):
        expect_python_float("weight", value)


def test_expect_returns_turns_an_error_into_a_named_check():
    assert expect_returns("sum", sum, [1, 2]) == 3
    with pytest.raises(AssertionError, match=r"log-likelihood\(grey\): expected a result, got ValueError: .*Hint: 0 or 1"):
        expect_returns("log-likelihood(grey)", torch.distributions.Bernoulli(logits=torch.zeros(2)).log_prob,
                       torch.tensor([0.4, 1.0]), hint="0 or 1")
    with pytest.raises(AssertionError, match=r"bins: expected a result, got IndexError: .*Hint: the last bin"):
        expect_returns("bins", lambda: torch.zeros(4)[torch.tensor([4])], hint="the last bin")
    with pytest.raises(AssertionError, match=r"shift\(b a plain number\): expected a result, got AttributeError: "
                                             r"'float' object has no attribute 'unsqueeze'"):
        expect_returns("shift(b a plain number)", lambda b: torch.zeros(2) + b.unsqueeze(-1), 0.3)


@pytest.mark.parametrize("mismatched", [
    lambda: torch.zeros(3, 1, 28, 28) - torch.zeros(3, 784),
    lambda: torch.nn.functional.binary_cross_entropy_with_logits(torch.zeros(2, 784), torch.zeros(2, 1, 28, 28)),
    lambda: torch.nn.Linear(784, 4)(torch.zeros(5, 1, 28, 28)),
    lambda: torch.zeros(5, 100).view(-1, 784),
    lambda: torch.nn.Conv2d(1, 2, 4)(torch.zeros(5, 784)),
    lambda: torch.cat([torch.zeros(2, 3), torch.zeros(3, 3)], 1),
], ids=["broadcast", "bce-target", "matmul", "view", "conv-input", "cat"])
def test_expect_returns_gives_the_shape_hint_where_shapes_do_not_fit(mismatched):
    with pytest.raises(AssertionError, match=r"loss\(x\): expected a result, got \w+Error: .*Hint: x comes as \(batch"):
        expect_returns("loss(x)", mismatched, hint="another cause", shape_hint="x comes as (batch, 1, 28, 28).")


def test_expect_returns_keeps_its_hint_for_an_error_that_is_not_about_shapes():
    bernoulli = torch.distributions.Bernoulli(logits=torch.zeros(2, 784))  # checks its support: "Tensor of shape"
    with pytest.raises(AssertionError, match=r"Hint: 0 or 1$"):
        expect_returns("log-likelihood(grey)", bernoulli.log_prob, torch.full((2, 784), 0.4), hint="0 or 1",
                       shape_hint="x comes as (batch, 1, 28, 28).")
    with pytest.raises(AssertionError, match=r"ambiguous\. Hint: one s per pixel$"):
        expect_returns("nll(s per pixel)", lambda s: max(s, torch.tensor(0.1)), torch.rand(784),
                       hint="one s per pixel", shape_hint="x comes as (batch, 1, 28, 28).")


def test_expect_returns_gives_the_lent_hint_only_for_what_a_lent_model_causes():
    from vae_helpers.lending import AsLent
    lent = AsLent(torch.nn.Linear(2, 2))
    for lent_error in (lambda: next(lent.parameters()), lambda: list(lent.parameters())[0], lambda: lent.weight,
                       lambda: lent.device):
        with pytest.raises(AssertionError, match=r"Hint: lent$"):
            expect_returns("f(lent model)", lent_error, hint="own", lent_hint="lent")
    with pytest.raises(AssertionError, match=r"got AttributeError: the model lent to your code has no attribute 'encode'\. "
                                             r"Hint: lent$"):  # named as the student sees it, not as the stand-in's class
        expect_returns("f(lent model)", lambda: lent.encode, hint="own", lent_hint="lent")
    for own_error, match in ((lambda: torch.zeros(2, requires_grad=True).detach().sum().backward(), "own"),
                             (lambda: torch.optim.Adam([torch.zeros(2, requires_grad=True) * 2]), "own"),
                             (lambda: torch.cat([torch.zeros(2, 3), torch.zeros(2)], 1), "shapes"),
                             (lambda: torch.nn.functional.onehot(torch.tensor([1]), 2), "own"),  # a misspelt name
                             (lambda: torch.zeros(2).one_hot(2), "own"),
                             (lambda: [lent(torch.zeros(1, 2)), lent(torch.ones(1, 2))][2], "own")):  # a list of its own
        with pytest.raises(AssertionError, match=rf"Hint: {match}$"):
            expect_returns("f(lent model)", own_error, hint=lambda error: "own", shape_hint="shapes", lent_hint="lent")


def test_expect_written_names_each_exercise_still_a_stub_and_passes_a_written_one():
    def first(x):
        raise NotImplementedError("first is yours to write: replace this line with your code.")

    def second(x):
        raise NotImplementedError("second is yours to write: replace this line with your code.")

    def written(x):
        return torch.zeros(1) + x

    def begun(x):  # a start left before the stub's line: its own NotImplementedError says so when it is called
        y = torch.zeros(1) + x
        raise NotImplementedError("begun is yours to write: replace this line with your code.")

    exercises = ("first", "written", "second", "begun")
    with pytest.raises(NotImplementedError, match=r"^this cell needs Exercise 1 \(first\), still a stub: write it"):
        expect_written([first, written], exercises)
    with pytest.raises(NotImplementedError, match=r"needs Exercise 1 \(first\) and Exercise 3 \(second\), still stubs"):
        expect_written([first, second], exercises)
    expect_written([written, begun], exercises)


def test_an_answer_that_changes_a_tensor_it_is_given_fails_with_the_argument_named_and_how_much():
    def f(x, mean):
        return x - mean.clamp_(0, 1)

    mean = torch.tensor([-0.5, 0.5, 1.5])
    with pytest.raises(AssertionError, match=r"^f: changed its argument mean in place \(2 of its 3 values, "
                                             r"the first from -0.5 to 0\)\. Hint: compute new tensors"):
        answering(f)(torch.zeros(3), mean)
    assert mean.tolist() == [-0.5, 0.5, 1.5]  # put back: the caller's data is as it was for the next call
    with pytest.raises(AssertionError, match=r"the first from 0\.49020001 to 0\.49020103\)"):  # digits that differ
        answering(lambda x: x.add_(1e-6))(torch.tensor([0.4902]))
    with pytest.raises(AssertionError, match=r"^f: changed its argument mean in place"):
        answering(f)(torch.zeros(3), mean=torch.tensor([-0.5, 0.5, 1.5]))
    assert torch.equal(answering(f)(torch.zeros(2), torch.tensor([0.5, 1.0])), torch.tensor([-0.5, -1.0]))

    def g(*tensors):
        tensors[1][0].mul_(2)

    with pytest.raises(AssertionError, match=r"^g: changed a tensor inside its 2nd argument in place \(2 of its 2"):
        answering(g)(torch.ones(1), [torch.ones(2), torch.ones(3)])


def test_a_model_whose_forward_changes_its_input_fails_and_its_class_is_still_the_students():
    class Halving(torch.nn.Module):
        def forward(self, images):
            return images.mul_(0.5)

    checked = answering(Halving)
    assert checked.__name__ == "Halving" and issubclass(checked, Halving) and answering(checked) is checked
    with pytest.raises(AssertionError, match=r"^Halving: changed its argument images in place \(4 of its 4 values"):
        checked()(torch.ones(2, 2))
    assert answering(torch.nn.Linear(2, 2)).__class__ is torch.nn.Linear  # a model, not a class: as it is


def test_a_visible_check_calls_the_answers_it_is_given_through_answering():
    seen = []

    @checking_answers
    def check(answer, data):
        seen.append(data)
        return answer(data)

    data = torch.ones(2)
    with pytest.raises(AssertionError, match=r"^doubled: changed its argument x in place"):
        check(doubled, data)
    assert seen == [data]


def doubled(x):
    return x.mul_(2)


def test_a_notebook_shows_the_course_s_messages_without_the_helpers_frames(tmp_path):
    """What a student sees when a check fails or no dataset is there: their cell, then the message."""
    cells = ["import torch\nimport vae_helpers\nfrom vae_helpers.checks import expect_close",
             "expect_close('KL with mu = 1', torch.tensor([-0.5]), torch.tensor([0.5]), hint='check the sign')",
             "vae_helpers.load_images('mnist')",
             "def mine():\n    return [1][2]\nmine()"]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    environment = {**os.environ, "VAE_COURSE_DATA": str(tmp_path), "VAE_COURSE_DATASET": ""}
    with mock.patch.dict(os.environ, environment):
        NotebookClient(notebook, allow_errors=True, kernel_name="python3").execute()
    shown = ["\n".join(re.sub(r"\x1b\[[0-9;]*m", "", line) for line in cell.outputs[-1].traceback)
             for cell in notebook.cells[1:]]
    for text, message in zip(shown, ["AssertionError: KL with mu = 1: expected [0.5], got [-0.5]",
                                     "DatasetNotFoundError: Could not load MNIST", "IndexError"]):
        assert message in text, text
        assert not re.search(r"File .*vae_helpers[/\\]", text), f"a helper's frame is shown:\n{text}"
    assert "in mine()" in shown[2], "the student's own frames stay"


def test_expect_returns_leaves_an_unwritten_exercise_its_own_message():
    def stub(x):
        raise NotImplementedError("stub is yours to write: replace this line with your code.")

    with pytest.raises(NotImplementedError, match="^stub is yours to write: replace this line with your code.$"):
        expect_returns("stub(a long description of its arguments, as a graded cell names them)", stub, 1)


def test_the_colour_checks_reference_holds_no_step_and_agrees_with_the_hidden_tests_exact_one():
    """10's visible checks (installed, readable) compare with the logistic density integrated by quadrature, not with
    Exercise 1's method, and agree with the hidden test's exact log-probability to 1e-4 nats, and with its gradients,
    hundreds of scales from the mean and at the edge levels too."""
    import importlib.util
    import inspect
    from pathlib import Path

    from vae_helpers.exercises import colour_images

    source = inspect.getsource(colour_images)
    for step in ("logsigmoid", "expm1", "log1p", "softplus", "torch.sigmoid"):
        assert step not in source, step
    path = Path(__file__).resolve().parents[1] / "hidden_tests" / "10_colour_images.py"
    spec = importlib.util.spec_from_file_location("hidden_10_colour_images", path)
    hidden = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hidden)
    generator = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randint(0, 256, (500,), generator=generator) / 255, torch.tensor([0.0, 1.0, 0.5, 0.1])])
    mean = torch.cat([torch.rand(500, generator=generator) * 1.4 - 0.2, torch.tensor([1.0, 0.0, 0.1, 0.5])])
    log_scale = torch.cat([torch.empty(500).uniform_(-7, 1, generator=generator), torch.full((4,), -7.0)])
    expected = hidden.exact_log_prob(x, mean, log_scale)
    assert expected.min() < -1000
    torch.testing.assert_close(colour_images._quadrature_log_prob(x, mean, log_scale).double(), expected,
                               atol=1e-4, rtol=1e-6)
    at = [mean.double().requires_grad_(True), log_scale.double().requires_grad_(True)]
    exact_gradients = torch.autograd.grad(hidden.exact_log_prob(x, *at).sum(), at)
    for got, exact in zip(colour_images._quadrature_gradients(x, mean, log_scale), exact_gradients):
        torch.testing.assert_close(got, exact, atol=1e-4, rtol=1e-5)


def test_the_conv_checks_stored_values_are_the_hidden_tests_reference_architectures():
    """03's visible checks compare an encoder and a decoder given fixed parameters with stored values, not with
    a reference module (installed, readable): these are the hidden tests' reference modules' values, and those of
    each of their ReLUs left out, which the hints name."""
    import importlib.util
    import inspect
    from pathlib import Path

    from torch import nn

    from vae_helpers.exercises import conv_vae

    assert "nn.ReLU" not in inspect.getsource(conv_vae)
    path = Path(__file__).resolve().parents[1] / "hidden_tests" / "03_conv_vae.py"
    spec = importlib.util.spec_from_file_location("hidden_03_conv_vae", path)
    hidden = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hidden)

    def without(module, part, index):
        if part is not None:
            layers = list(getattr(module, part))
            assert isinstance(layers[index], nn.ReLU)
            setattr(module, part, nn.Sequential(*layers[:index], *layers[index + 1:]))
        conv_vae._load_fixed_parameters(module)
        return module.eval()

    encoders = {None: without(hidden.ReferenceConvEncoder(), None, 0),
                "the first convolution's batch normalisation": without(hidden.ReferenceConvEncoder(), "features", 2),
                "the second convolution's batch normalisation": without(hidden.ReferenceConvEncoder(), "features", 5)}
    stored = {None: conv_vae.ENCODER_ON_FIXED, **conv_vae.ENCODER_WITHOUT_A_RELU}
    assert stored.keys() == encoders.keys()
    for where, encoder in encoders.items():
        with torch.no_grad():
            got = (encoder(conv_vae.FIXED_IMAGES).loc * conv_vae.ENCODER_PROJECTION).sum(1)
        torch.testing.assert_close(got, torch.tensor(stored[where]), atol=1e-5, rtol=0, msg=str(where))
    decoders = {None: without(hidden.ReferenceConvDecoder(), None, 0),
                "the first dense layer": without(hidden.ReferenceConvDecoder(), "expand", 1),
                "the second dense layer": without(hidden.ReferenceConvDecoder(), "expand", 3),
                "the first transposed convolution's batch normalisation":
                    without(hidden.ReferenceConvDecoder(), "upsample", 2)}
    stored = {None: conv_vae.DECODER_ON_FIXED, **conv_vae.DECODER_WITHOUT_A_RELU}
    assert stored.keys() == decoders.keys()
    for where, decoder in decoders.items():
        with torch.no_grad():
            got = (decoder(conv_vae.FIXED_CODES) * conv_vae.DECODER_PROJECTION).flatten(1).sum(1)
        torch.testing.assert_close(got, torch.tensor(stored[where]), atol=1e-4, rtol=0, msg=str(where))


def test_expect_on_device_reads_every_tensor_of_a_result_in_a_dict():
    mu = torch.zeros(3, 2)
    expect_on_device("parts", lambda m: {"z": m + 1, "kl": m.sum()}, mu)
    with pytest.raises(AssertionError, match="expected its result on the GPU"):
        expect_on_device("parts", lambda m: {"z": m + 1, "kl": torch.zeros(())}, mu)


def test_a_run_as_on_a_gpu_takes_the_idioms_that_make_a_tensor_where_another_is():
    """``x.new_tensor(data)``, ``x.new(a list)``, a generator made on the inputs' device, ``x.is_cuda``, a pinned
    copy moved there: each works as on a GPU."""
    mu = torch.zeros(3, 2)
    expect_on_device("z", lambda m: m + m.new_tensor(0.5) + m.new_tensor([1.0, 2.0]) + m.new([3.0, 4.0]), mu)
    expect_on_device("z", lambda m: m + torch.rand(2, device=m.device, generator=torch.Generator(device=m.device)), mu)
    expect_on_device("z", lambda m: m + torch.ones(2, device="cuda" if m.is_cuda else "cpu"), mu)
    expect_on_device("z", lambda m: m + torch.ones(2).pin_memory().to(m.device), mu)

    def made_on_the_default_device(m):
        torch.set_default_device(m.device)
        try:
            return m + torch.tensor([0.5, 1.0]) + torch.zeros(2)
        finally:
            torch.set_default_device(None)
    expect_on_device("z", made_on_the_default_device, mu)
    with pytest.raises(AssertionError, match="fails where a tensor it made meets the inputs"):
        expect_on_device("z", lambda m: m + torch.ones(1).new_tensor([1.0, 2.0]), mu)
    assert torch.Generator is torch._C.Generator  # as before the runs


def test_expect_on_device_does_not_judge_what_the_stand_in_cannot_run(capsys):
    """An operation the stand-in for a GPU cannot run is the course's limit: the device is not judged, said so."""
    def beyond(m):
        if m.device.type != "cpu":
            raise RuntimeError("Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU")
        return m * 2
    assert expect_on_device("z", beyond, torch.ones(3, 2)).tolist() == [[2.0, 2.0]] * 3
    assert "not checked: the stand-in for a GPU cannot run" in capsys.readouterr().out


def test_a_run_as_on_a_gpu_reads_as_cuda_and_formats_its_numbers():
    """Code that asks where it runs hears CUDA (``x.is_cuda``, ``x.device.type``, ``.type('torch.cuda...')``), a 0-dim
    GPU tensor formats as its number (a progress print), and a printed tensor shows its gradient's origin."""
    mu = torch.zeros(3, 2)
    expect_on_device("z", lambda m: m + torch.ones(2, device="cuda" if m.device.type == "cuda" else "cpu"), mu)
    expect_on_device("z", lambda m: (print(f"sum {m.sum():.2f}"), m * 2)[1], mu)
    expect_on_device("z", lambda m: torch.ones(3, 2).type("torch.cuda.DoubleTensor") + m, mu)
    printed = []
    expect_on_device("z", lambda m: (printed.append(repr(m.requires_grad_() * 2)), m.detach())[1], mu.clone())
    assert "device='cuda:0', grad_fn=<MulBackward0>" in printed[0]


def test_a_run_as_on_a_gpu_changes_a_placed_models_weights_as_pytorch_does():
    """``p.data = ...`` and a module's dtype conversion reach the values a GPU tensor holds."""
    def doubled(x):
        model = torch.nn.Linear(2, 1).to(x.device)
        model.weight.data = torch.ones(1, 2, device=x.device)
        torch.nn.init.zeros_(model.bias)
        return model.double()(x.double())
    assert expect_on_device("z", doubled, torch.ones(3, 2)).tolist() == [[2.0]] * 3


def test_a_run_as_on_a_gpu_leaves_pytorch_as_it_was(tmp_path):
    """Nothing of a run stays: in a fresh process, a backward before the first run and training after it work, and
    PyTorch's accelerator, generator and module conversion are as before."""
    script = tmp_path / "fresh.py"
    script.write_text(
        "import torch\n"
        "from vae_helpers.checks import expect_on_device\n"
        "before = (torch.accelerator.current_accelerator(), torch.Generator,\n"
        "          torch.__future__.get_overwrite_module_params_on_conversion())\n"
        "w = torch.ones(2, requires_grad=True)\n"
        "(w * 2).sum().backward()\n"
        "def refine(m):\n"
        "    m = m.detach().clone().requires_grad_()\n"
        "    optimizer = torch.optim.Adam([m], lr=0.1)\n"
        "    for _ in range(3):\n"
        "        optimizer.zero_grad()\n"
        "        (m ** 2).sum().backward()\n"
        "        optimizer.step()\n"
        "    return m.detach()\n"
        "expect_on_device('refine', refine, torch.ones(3, 2))\n"
        "after = (torch.accelerator.current_accelerator(), torch.Generator,\n"
        "         torch.__future__.get_overwrite_module_params_on_conversion())\n"
        "assert before == after, (before, after)\n"
        "print('as before')\n")
    import subprocess
    import sys
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert run.stdout.strip() == "as before", run.stderr[-2000:]


def test_expect_on_device_compares_the_values_with_the_same_call_on_the_cpu():
    """Code that asks where it runs must compute the same there: an answer that returns something else on the GPU
    fails; one that draws random numbers draws the same ones in both runs, and passes."""
    mu = torch.ones(3, 2)
    expect_on_device("z", lambda m: m + torch.randn_like(m), mu)
    with pytest.raises(AssertionError, match="differs from the same call's on the CPU"):
        expect_on_device("z", lambda m: torch.zeros_like(m) if m.is_cuda else m + torch.tensor([1.0, 2.0]), mu)
    assert torch.equal(mu, torch.ones(3, 2))
    # noise from NumPy's or Python's generators, moved where the inputs are: not comparable, and not a mistake
    expect_on_device("z", lambda m: m + torch.from_numpy(np.random.randn(3, 2)).to(m), mu)
    import random
    expect_on_device("z", lambda m: m + random.random(), mu)


def test_a_run_as_on_a_gpu_reads_every_result_and_argument_as_pytorch_does():
    """Named results (a namedtuple, torch's (values, indices)) are read like tuples: on the GPU they pass, on the
    CPU they fail; ``.to`` takes its arguments as PyTorch does (a dtype alone, None and a dtype, a tensor); a
    pickled GPU tensor stays one; a CPU number is read by a GPU operation, never written by one; a default device
    set in the call ends with it."""
    import collections
    import pickle
    Pair = collections.namedtuple("Pair", "first second")
    mu = torch.ones(3, 2)
    expect_on_device("pair", lambda m: Pair(m * 2, m + 1), mu)
    expect_on_device("min", lambda m: m.min(-1), mu)
    with pytest.raises(AssertionError, match="expected its result on the GPU"):
        expect_on_device("pair", lambda m: Pair(m.cpu(), m), mu)
    expect_on_device("z", lambda m: torch.nn.Linear(2, 2, device=m.device).to(m.dtype)(m), mu)
    expect_on_device("z", lambda m: m.to(None, torch.float64) + torch.nn.Linear(2, 2).to(m)(m), mu)
    expect_on_device("z", lambda m: pickle.loads(pickle.dumps(m)).requires_grad_() * 2, mu)
    with pytest.raises(AssertionError, match="fails where a tensor it made meets the inputs"):
        expect_on_device("z", lambda m: torch.tensor(0.0).add_(m.sum()) + m, mu)

    expect_on_device("z", lambda m: torch.ones(2).type(m.type()) * m, mu)

    from vae_helpers.checks import called_as_on_a_gpu

    def device_entered(m):
        torch.device(m.device).__enter__()  # and never left: the run ends it
        return torch.zeros(2) + m
    assert called_as_on_a_gpu(device_entered, mu).shape == (3, 2)
    assert torch.tensor([1.0]).device.type == "cpu"

    def default_device_set(m):
        torch.set_default_device(m.device)
        return torch.zeros(2) + m
    assert called_as_on_a_gpu(default_device_set, mu).shape == (3, 2)
    assert torch.zeros(2).device.type == "cpu" and torch.get_default_device().type == "cpu"


def test_the_bounds_are_checked_on_a_model_other_than_the_notebooks_toy():
    """A bound that reads the notebook's ``toy`` instead of the model it is given passes on the notebook's toy and
    fails on another one, visibly (review 17 A)."""
    from support.hidden import cells_of
    from vae_helpers.exercises import elbo as checks

    namespace, sources = {}, {}
    torch.set_default_dtype(torch.float64)  # as 01's setup cell sets it
    try:
        exec("import math\nimport torch\nimport torch.nn.functional as F\n", namespace)
        for cell in cells_of("01_elbo"):
            grade_id = cell.metadata.nbgrader.get("grade_id", "")
            if cell.metadata.nbgrader.get("solution"):
                sources[grade_id] = cell.source
            if "toy = LinearGaussianModel" in cell.source or "class LinearGaussianModel" in cell.source:
                exec(cell.source, namespace)
        for grade_id in ("kl_to_standard_normal", "reparameterize", "log_likelihoods"):
            exec(sources[grade_id], namespace)
        for grade_id in ("elbo", "importance_weighted_bound"):
            exec(sources[grade_id].replace("model.decoder_mean(", "toy.decoder_mean(").replace("model.logvar", "toy.logvar"),
                 namespace)
            with pytest.raises(AssertionError, match=r"another toy model .* Hint: use the model your function is given"):
                getattr(checks, grade_id)(namespace[grade_id], *(namespace[name] for name in
                                                                  ("toy", "x_toy", "post_mu", "post_logvar")))
    finally:
        torch.set_default_dtype(torch.float32)
