"""Checks for the tests after each exercise, the visible ones and those run at grading.

Each raises ``AssertionError`` with a message that says what was expected and what
came, so a student knows exactly what to fix.
"""
import functools
import itertools
import inspect
import linecache
import re

import torch
from torch.utils._pytree import tree_leaves

from judge.arguments_kept import called_keeping_arguments
from judge.wire import digits_to_tell_apart, shortened
from vae_helpers.lending import AsLent

PASSED = "public tests passed (more tests run at grading)"


def _preview(t: torch.Tensor, n: int = 4, digits: int = 4) -> str:
    values = t.detach().flatten()[:n].tolist()
    more = ", ..." if t.numel() > n else ""
    return "[" + ", ".join(f"{v:.{digits}g}" for v in values) + more + "]"


def expect_tensor(name: str, value) -> None:
    """``value`` must be a torch tensor (not ``None``, a float or a NumPy array)."""
    if not isinstance(value, torch.Tensor):
        hint = " Did you forget to `return` it?" if value is None else ""
        raise AssertionError(f"{name}: expected a torch.Tensor, got {type(value).__name__}.{hint}")
    if type(value) not in (torch.Tensor, torch.nn.Parameter):  # a subclass could redefine comparisons
        raise AssertionError(f"{name}: expected a plain torch.Tensor, got the subclass {type(value).__name__}.")


def expect_shape(name: str, value, shape) -> None:
    """``value`` must be a tensor of exactly ``shape``."""
    expect_tensor(name, value)
    if tuple(value.shape) != tuple(shape):
        raise AssertionError(f"{name}: expected shape {tuple(shape)}, got {tuple(value.shape)}.")


def expect_finite(name: str, value, hint: str = "") -> None:
    """``value`` must hold no NaN or infinity."""
    expect_tensor(name, value)
    bad = ~torch.isfinite(value)
    if bad.any():
        raise AssertionError(f"{name}: expected finite values, got {int(bad.sum())} NaN/inf "
                             f"among {value.numel()} (first values {_preview(value)})." + (f" Hint: {hint}" if hint else ""))


# what PyTorch says when tensors' shapes do not fit together: a broadcast, a loss's target and input, a matrix
# product, a view or reshape, a convolution's input, a concatenation, a distribution's value
SHAPE_MISMATCH = re.compile(r"must match the size of tensor|must match the existing size|"
                            r"must be the same as input size|different to the input size|shapes cannot be multiplied|"
                            r"is invalid for input of size|input to conv\w*, but got input of size|to have \d+ channels|"
                            r"Sizes of tensors must match|not broadcastable|must have same number of dimensions",
                            re.IGNORECASE)


def shape_mismatch(error: BaseException) -> bool:
    """True when ``error`` is PyTorch's complaint that two tensors' shapes do not fit together."""
    return isinstance(error, (RuntimeError, ValueError)) and SHAPE_MISMATCH.search(str(error)) is not None


def lent_model_error(error: BaseException) -> bool:
    """True when ``error`` is one that a model lent as grading lends it causes, and for no error of the student's
    own code: ``next()`` of its empty ``parameters()`` (StopIteration; at grading, where the kernel reports it, a
    RuntimeError naming it), the first item of that empty list (an IndexError raised on a line that reads
    ``parameters()``), an attribute of it that it does not lend (an AttributeError raised by the lent model
    itself, ``vae_helpers.lending.AsLent``), or at grading something asked of it that was not lent. A misspelt
    function or method of the student's own (``F.onehot``) or an index of a list of their own raises the same
    kinds of error, from their own code: those are not the lent model's."""
    message = str(error)
    if isinstance(error, StopIteration):
        return True
    if isinstance(error, RuntimeError):
        return "StopIteration" in message or "not lent" in message
    frames = _traceback_frames(error)
    if isinstance(error, AttributeError):
        return "a lent model's" in message or any(_is_lent_lookup(frame) for frame, _ in frames)
    if isinstance(error, IndexError) and "list index out of range" in message and frames:
        frame, line = frames[-1]
        return "parameters(" in linecache.getline(frame.f_code.co_filename, line)
    return False


def _traceback_frames(error: BaseException):
    """[(frame, line number)] of ``error``'s traceback, the frame that raised it last."""
    frames, tb = [], error.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    return frames


def _is_lent_lookup(frame) -> bool:
    """True for a frame of a lent model's own attribute lookup (``AsLent.__getattr__``)."""
    return frame.f_code is AsLent.__getattr__.__code__


def expect_returns(name: str, function, *args, hint="", shape_hint: str = "", lent_hint: str = ""):
    """Call ``function(*args)`` and return its result; an error it raises fails the check, named. An exercise
    not yet written keeps its own NotImplementedError, whose message says so in full. A StopIteration (at grading,
    where the kernel reports it, a RuntimeError) fails it too: ``next(model.parameters())`` of a lent model.
    Where the error says that two tensors' shapes do not fit together (``shape_mismatch``), ``shape_hint``, when
    given, is the hint instead of ``hint``: it names the shapes the call was given, the likely cause. Where the
    error is one a lent model causes (``lent_model_error``), ``lent_hint``, when given, is the hint instead, and
    it is given for no other error. ``hint`` may be a function of the error that returns the hint, for an
    exercise whose likely mistakes each raise an error of their own."""
    try:
        return function(*args)
    except NotImplementedError:
        raise
    except (StopIteration, ValueError, TypeError, RuntimeError, IndexError, AttributeError) as error:
        if lent_hint and lent_model_error(error):
            hint = lent_hint
        elif shape_hint and shape_mismatch(error):
            hint = shape_hint
        elif callable(hint):
            hint = hint(error)
        # next() on an empty iterator (in a check, next(model.parameters()) of a lent model) has no message
        got = ("StopIteration (next() of an empty iterator)" if isinstance(error, StopIteration)
               else f"{type(error).__name__}: {shortened(str(error), 160)}")
        got += "" if got.endswith((".", "?", "!", "]")) else "."
        raise AssertionError(f"{name}: expected a result, got {got}" + (f" Hint: {hint}" if hint else "")) from None


def expect_written(functions, exercises) -> None:
    """Stops a cell that uses answers still left as their stubs, naming the exercises to finish first; called deep
    inside a later cell (a training loop, say), a stub would stop it with a long traceback. ``exercises``: the names
    of the notebook's exercises' functions, in order. A stub is a function whose only name is NotImplementedError."""
    stubs = [f"Exercise {exercises.index(f.__name__) + 1} ({f.__name__})" for f in functions
             if f.__code__.co_names == ("NotImplementedError",)]
    if len(stubs) == 1:
        raise NotImplementedError(f"this cell needs {stubs[0]}, still a stub: write it, run its cell and its graded "
                                  f"cell, then run this cell again.")
    if stubs:
        raise NotImplementedError(f"this cell needs {' and '.join(stubs)}, still stubs: write them, run their cells "
                                  f"and their graded cells, then run this cell again.")


def answering(answer):
    """The student's function or ``nn.Module`` class, each call of it (of a model it builds) made through
    ``judge.arguments_kept.called_keeping_arguments``, which fails a call that changes a tensor it is given.
    Anything else, and a grading-side ``Remote`` (whose calls already are), is returned as it is."""
    if getattr(answer, "keeps_its_arguments", False):
        return answer
    if isinstance(answer, type) and issubclass(answer, torch.nn.Module):
        def __call__(model, *args, **kwargs):
            return called_keeping_arguments(model, args, kwargs, lambda: answer.__call__(model, *args, **kwargs))
        return type(answer.__name__, (answer,), {"__call__": __call__, "__qualname__": answer.__qualname__,
                                                  "__module__": answer.__module__, "keeps_its_arguments": True})
    if not inspect.isfunction(answer):
        return answer

    @functools.wraps(answer)
    def kept(*args, **kwargs):
        return called_keeping_arguments(answer, args, kwargs)
    kept.keeps_its_arguments = True
    return kept


def checking_answers(check):
    """A visible check, which calls the student's functions and classes it is given through ``answering``."""
    @functools.wraps(check)
    def checked(*args, **kwargs):
        return check(*map(answering, args), **{name: answering(value) for name, value in kwargs.items()})
    return checked


def expect_value_error(name: str, function, *args, why: str,
                       hint: str = "raise ValueError(...) (an assert is skipped when Python runs with -O).",
                       naming: str | tuple = "") -> ValueError:
    """``function(*args)`` must raise the ValueError that the exercise promises its caller for ``why``, its message
    naming ``naming`` where given (the argument at fault, as a word of its own in any case: "step" is not named by
    "warmup_steps", and "Step must be ..." names it; a tuple: any one of the arguments at fault), and this returns it;
    an assert or another error fails, named with its message, and so does no error."""
    names = (naming,) if isinstance(naming, str) else tuple(naming)
    try:
        function(*args)
    except ValueError as error:
        if not any(re.search(rf"(?<![\w]){re.escape(one)}", str(error), re.IGNORECASE) for one in names):
            raise AssertionError(f"{name}: expected a ValueError whose message names {' or '.join(names)}, the "
                                 f"argument at fault, got ValueError({shortened(str(error), 160)!r}). Hint: say in "
                                 f"the message which argument is wrong and what it was.") from None
        return error
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - an assert, or PyTorch's own error: the caller is promised a ValueError
        got = type(error).__name__ + (f": {shortened(str(error), 160)}" if str(error) else " (with no message)")
        raise AssertionError(f"{name}: expected a ValueError for {why}, got {got}. Hint: {hint}") from None
    raise AssertionError(f"{name}: expected a ValueError for {why}, got no error.")


def expect_equal(name: str, value, expected, hint: str = "") -> None:
    """``value`` (a number, shape, dtype, ...) must equal ``expected``."""
    if type(value) is not type(expected) or value != expected:
        raise AssertionError(f"{name}: expected {expected!r}, got {value!r:.200}." + (f" Hint: {hint}" if hint else ""))


def expect_parameter_count(name: str, module: torch.nn.Module, count: int, droppable_biases=(), hint: str = "") -> None:
    """``module`` must have ``count`` parameters, less the bias of any of the layers followed by a batch norm
    (``droppable_biases``, their sizes): each may be made with bias=False, the norm's shift standing in for it."""
    got = sum(p.numel() for p in module.parameters())
    accepted = {count - sum(dropped) for size in range(len(droppable_biases) + 1)
                for dropped in itertools.combinations(droppable_biases, size)}
    if got not in accepted:
        dropped = (f" (or less {' or '.join(map(str, droppable_biases))} for each layer followed by a batch norm that "
                   f"has bias=False)") if droppable_biases else ""
        raise AssertionError(f"{name}: expected {count}{dropped}, got {got}." + (f" Hint: {hint}" if hint else ""))


def expect_not_affine(name: str, function, a: torch.Tensor, b: torch.Tensor, hint: str = "") -> None:
    """``function`` must not be affine: f(a) + f(b) = f(a + b) + f(0) for every pair would show a layer's missing
    non-linearity, which leaves a network's size and shapes unchanged."""
    if torch.allclose(function(a) + function(b), function(a + b) + function(torch.zeros_like(a)), atol=1e-5):
        raise AssertionError(f"{name}: expected a non-linear map, got f(a) + f(b) = f(a + b) + f(0) for all {len(a)} "
                             f"pairs tried, as an affine map gives." + (f" Hint: {hint}" if hint else ""))


def expect_relu_network(name: str, model, function, *inputs: torch.Tensor, hint: str = "") -> None:
    """``function(*inputs)``, computed by ``model``'s linear layers and ReLUs, must be positively homogeneous once every
    bias is 0: f(2 x) = 2 f(x); and constant once every bias is -1000, every hidden unit then far below 0, where a
    ReLU gives 0 whatever the input. Another non-linearity in a ReLU's place fails one or the other, though it leaves
    the parameters and shapes as they are and the map non-affine: sigmoid and tanh the first, a leaky ReLU the second.
    The biases are set through ``model``'s state_dict (a lent model's too), and ``model`` is put in eval mode."""
    state = model.state_dict()
    model.eval()

    def with_every_bias(bias):
        model.load_state_dict({key: torch.full_like(value, bias) if key.rsplit(".", 1)[-1] == "bias" else value
                               for key, value in state.items()})
        return function(*inputs), function(*(2 * t for t in inputs))

    once, twice = with_every_bias(0.0)
    expect_close(f"{name} with every bias 0, at twice its input: twice the output (linear layers and ReLUs are "
                 f"positively homogeneous)", twice, 2 * once, atol=1e-4, rtol=1e-4, hint=hint)
    once, twice = with_every_bias(-1000.0)
    expect_close(f"{name} with every bias -1000, its output at twice its input less its output at the input: 0 (every "
                 f"hidden unit is far below 0, where a ReLU gives 0 whatever the input)", twice - once,
                 torch.zeros_like(once), atol=1e-4, rtol=0, hint=hint)


def _type_name(value) -> str:
    """The type of ``value`` as a message names it: NumPy's and PyTorch's types with their module, as they are
    written (``numpy.float64``, ``torch.Tensor``)."""
    module = type(value).__module__
    return f"{module}.{type(value).__name__}" if module in ("numpy", "torch") else type(value).__name__


def expect_python_float(name: str, value) -> None:
    """``value`` must be a Python float: the one rule for an exercise that returns a plain number, in Validate and at
    grading alike (the wire carries a NumPy number as itself, ``judge.wire``). A NumPy float compares equal to one
    but is a type of its own; an int, a tensor or a NumPy array is not a float."""
    if type(value) is float:
        return
    if value is None:
        raise AssertionError(f"{name}: expected a Python float, got None. Hint: did you forget to `return` it?")
    raise AssertionError(f"{name}: expected a Python float, got {_type_name(value)}. Hint: float(x) turns a number "
                         "into one, x.item() a one-element tensor or NumPy array.")


def expect_number(name: str, value, expected: float, atol: float, hint="") -> None:
    """``value`` must be a Python float (``expect_python_float``) within ``atol`` of ``expected``; ``hint`` may be a
    function of the value, as ``expect_close``'s."""
    expect_python_float(name, value)
    if not abs(value - expected) <= atol:
        if callable(hint):
            hint = hint(torch.tensor(value))
        raise AssertionError(f"{name}: expected {expected!r}, got {value!r}." + (f" Hint: {hint}" if hint else ""))


def hint_by_value(known, otherwise: str = "", atol: float = 1e-4, rtol: float = 1e-3):
    """A hint chosen from the wrong value a check received (``expect_close``'s ``hint``): of ``known``, [(the value
    a mistake gives, a number or tensor, its hint)], the hint of the one nearest the value among those it matches
    within ``atol`` and ``rtol`` (two mistakes may give values closer than a tolerance), else ``otherwise``, which
    states what is expected without guessing a cause."""
    def choose(value: torch.Tensor) -> str:
        matched = []
        for given, hint in known:
            given = torch.as_tensor(given, dtype=value.dtype, device=value.device)
            if given.dim() == 0 or given.shape == value.shape:
                if torch.allclose(value, given.expand_as(value), atol=atol, rtol=rtol):
                    matched.append(((value - given).abs().max().item(), hint))
        return min(matched, key=lambda pair: pair[0])[1] if matched else otherwise
    return choose


def expect_close(name: str, value, expected, atol: float = 1e-5, rtol: float = 1e-4, hint="",
                 offsets: dict | None = None) -> None:
    """``value`` must match ``expected`` (tensor or number) elementwise within tolerance, an integer or bool value
    compared as the numbers it holds (cast to its dtype, every expected number but 0 would read True). ``offsets`` maps
    the constant error of a known mistake (value - expected, the same everywhere) to what it means: when
    the error is one of them, the message names that mistake instead of giving the hint. ``hint`` may be a
    function of the value received that returns the hint (``hint_by_value``), so that it names the cause that
    value shows."""
    expect_tensor(name, value)
    if not (value.is_floating_point() or value.is_complex()):  # compared as numbers: True is 1, not "non-zero"
        value = value.double()
    expected = torch.as_tensor(expected, dtype=value.dtype, device=value.device)
    if value.shape != expected.shape and expected.dim() > 0:
        raise AssertionError(f"{name}: expected shape {tuple(expected.shape)}, got {tuple(value.shape)}.")
    expect_finite(name, value)
    if not torch.allclose(value, expected.expand_as(value), atol=atol, rtol=rtol):
        error = value - expected
        worst = error.abs().max().item()
        wrong = ~torch.isclose(value, expected.expand_as(value), atol=atol, rtol=rtol).flatten()
        digits = digits_to_tell_apart(max(value.abs().max().item(), expected.abs().max().item()), worst)
        if wrong.all():
            message = (f"{name}: expected {_preview(expected, digits=digits)}, got {_preview(value, digits=digits)} "
                       f"(largest difference {worst:.3g}).")
        else:  # the preview shows where they differ
            at = wrong.nonzero().flatten()
            shown = at[:4]
            message = (f"{name}: {len(at)} of {value.numel()} values are wrong; at flat indices "
                       f"{shown.tolist()}{', ...' if len(at) > 4 else ''}: expected "
                       f"{_preview(expected.expand_as(value).flatten()[shown], digits=digits)}, got "
                       f"{_preview(value.flatten()[shown], digits=digits)} (largest difference {worst:.3g}).")
        for offset, meaning in (offsets or {}).items():
            if torch.allclose(error, torch.full_like(error, offset), atol=atol, rtol=0):
                raise AssertionError(f"{message} Every value is {offset:+.4g} off: {meaning}")
        if callable(hint):
            hint = hint(value.detach())
        raise AssertionError(message + (f" Hint: {hint}" if hint else ""))


def expect_uncorrelated(name: str, z: torch.Tensor, atol: float, hint: str = "") -> None:
    """The first two columns of ``z``, samples in its rows, must be uncorrelated within ``atol``: each entry
    drawn with noise of its own."""
    centred = (z - z.mean(0)).detach()
    correlation = (centred[:, 0] * centred[:, 1]).mean() / (centred[:, 0].std() * centred[:, 1].std())
    expect_close(name, correlation, 0.0, atol=atol, rtol=0, hint=hint)


def expect_gradient(name: str, output: torch.Tensor, wrt: torch.Tensor, hint: str = "") -> torch.Tensor:
    """``output`` must depend differentiably on ``wrt``; returns d(sum of output)/d(wrt)."""
    expect_tensor(name, output)
    hint = f" Hint: {hint}" if hint else ""
    if not output.requires_grad:
        raise AssertionError(f"{name}: expected a result that carries gradients back to its inputs, "
                             f"got one with requires_grad=False (was it computed under no_grad, "
                             f"with .detach(), .sample() or from NumPy?)." + hint)
    try:
        (gradient,) = torch.autograd.grad(output.sum(), wrt, allow_unused=True, retain_graph=True)
    except RuntimeError as error:
        if "modified by an inplace operation" not in str(error):
            raise
        raise AssertionError(f"{name}: the gradient cannot be computed: an in-place operation (add_, mul_, sub_, "
                             f"exp_, x[...] = ...) changed a tensor that autograd kept to compute it. Hint: use "
                             f"operations that make new tensors (x + y, not x.add_(y)).") from None
    if gradient is None:
        raise AssertionError(f"{name}: expected the result to depend on its input, "
                             f"but no gradient reaches it." + hint)
    return gradient


def expect_gradient_close(name: str, output: torch.Tensor, wrt: torch.Tensor, expected, atol: float = 1e-5,
                          rtol: float = 1e-4, hint: str = "") -> torch.Tensor:
    """d(sum of ``output``)/d(``wrt``) must match ``expected``: a result that carries no gradient to ``wrt``
    (detached, drawn with .sample(), turned into a number) fails with ``hint`` as a wrong gradient does."""
    gradient = expect_gradient(name, output, wrt, hint=hint)
    expect_close(name, gradient, expected, atol=atol, rtol=rtol, hint=hint)
    return gradient


def kl_hint(expected: float, beta: float | None = None, batch: int | None = None, dimensions: int | None = None,
            otherwise: str = "0.5 * (variance + mu^2 - 1 - logvar) per latent dimension, summed over them; "
                             "exp(logvar) is the variance.", reversed_kl: float | None = None):
    """The hint for a KL to N(0, I) that came out wrong where ``expected`` was due, chosen from its value
    (``hint_by_value``): the sign flipped, the KL weighted by ``beta``, summed over a ``batch`` of images, averaged
    over its ``dimensions``, or taken the other way round (``reversed_kl``, KL(N(0, I) || q))."""
    known = [(-expected, "a KL is never negative: the sign of its terms is flipped.")]
    if reversed_kl is not None:
        known.append((reversed_kl, "this is KL(prior || q), the KL the other way round: the KL term is KL(q || prior)."))
    if beta is not None:
        known.append((beta * expected, "return the KL unweighted: beta weighs it in the loss only."))
    if batch is not None:
        known.append((batch * expected, f"this is the sum over the batch of {batch} images: average over the batch "
                                        "instead."))
    if dimensions is not None:
        known.append((expected / dimensions, f"this is the mean over the {dimensions} latent dimensions: sum over them "
                                             "instead."))
    return hint_by_value(known, otherwise=otherwise)


GREY_LEVELS_AND_BERNOULLI = ("torch.distributions.Bernoulli accepts only pixels that are exactly 0 or 1 unless you "
                             "pass validate_args=False; binary_cross_entropy_with_logits takes grey levels as they "
                             "are.")

KL_GRADIENT = ("the loss must carry the KL's gradient to mu and logvar: keep the KL a tensor in the loss (no .item(), "
               ".detach() or torch.no_grad()).")


def expect_kl_gradients(name: str, loss: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float,
                        hint: str = KL_GRADIENT) -> None:
    """A training loss, ``reconstruction + beta * KL`` averaged over the batch, with ``mu`` and ``logvar`` the
    code distributions it was given (requiring grad): its gradient in them must be the closed-form KL's,
    beta * mu / B and beta * 0.5 * (exp(logvar) - 1) / B, so that training sees the KL. ``hint`` is given where
    no gradient reaches them; a wrong gradient gets the hint its value shows (``kl_gradient_hint``)."""
    batch = len(mu)
    for wrt, given, expected in (("mu", mu, beta * mu.detach() / batch),
                                 ("logvar", logvar, beta * 0.5 * (logvar.detach().exp() - 1) / batch)):
        gradient = expect_gradient(f"the gradient of {name} in {wrt}", loss, given, hint=hint)
        expect_close(f"the gradient of {name} in {wrt}", gradient, expected, hint=kl_gradient_hint(wrt, expected, beta))


def kl_gradient_hint(wrt: str, expected: torch.Tensor, beta: float):
    """The hint for a loss whose gradient in ``wrt`` (mu or logvar) reaches it but is not the KL's ``expected``,
    chosen from its value (``hint_by_value``): the KL left unweighted, or a term of it cut from the graph."""
    return hint_by_value([(expected / beta, f"this is the KL's gradient unweighted: the loss weighs the KL by beta "
                                            f"= {beta:g}.")],
                         otherwise=f"this is neither the KL's gradient nor none: check each term of the KL that holds "
                                   f"{wrt}, and that none of them is cut from the graph.")


# what an error says when tensors on two devices met, in a run as on a GPU (``called_as_on_a_gpu``): PyTorch's own
# words, the meta device named (the CPU's stand-in), or a lent model's request that failed so at grading
DEVICE_MISMATCH = re.compile(r"(?i:same device|expected device|two devices|device mismatch)|\bmeta\b")
# what PyTorch says of an operation the stand-in GPU cannot run (a gap of the course's, not the answer's mistake)
NOT_RUN_ON_THE_STAND_IN = re.compile(r"Found no NVIDIA driver|Torch not compiled with CUDA enabled|"
                                     r"must be on supported devices")
MADE_WITHOUT_A_DEVICE = ("a tensor made without a device (torch.randn(shape), torch.zeros(n, k), torch.arange(k), "
                         "torch.tensor(a list), torch.Tensor(a list), torch.from_numpy(an array), a module built "
                         "without device=, ...) or with one that names the CPU (\"cpu\", torch.device(\"cpu\")) is made on "
                         "the CPU, also on a GPU, while the inputs are on the GPU")


def called_as_on_a_gpu(function, *args, **kwargs):
    """``function(*args, **kwargs)`` on the CPU tensors given, run as it would run on a GPU with its inputs there
    (``judge.on_a_gpu``): a tensor that the call makes without a device is on the CPU, and an operation
    that mixes one of one dimension or more with the inputs raises; a tensor the result holds on the CPU comes back
    on PyTorch's meta device. At grading, where ``function`` runs in the student's kernel, the kernel runs the call
    so."""
    in_the_kernel = getattr(type(function), "_called_as_on_a_gpu", None)  # the judge's stand-in for a student function
    if in_the_kernel is not None:
        return in_the_kernel(function, *args, **kwargs)
    from judge.on_a_gpu import AsOnAGPU

    with AsOnAGPU() as run:
        return run.seen(run.placed(function)(*run.placed(args), **run.placed(kwargs)))


def expect_on_device(name: str, function, *args, shape=None, hint: str = "", lent_hint: str = ""):
    """Call ``function(*args)`` on the CPU tensors given, run as on a GPU (``called_as_on_a_gpu``), and return its
    result: every tensor it returns must be where the inputs are (the first of shape ``shape``), with the values the
    same call gives on the CPU with the same random numbers (code that asks where it runs computes the same). A tensor made
    without a device, which on a GPU stays on the CPU, fails the check, named, with ``hint``, whether it reached the
    result or an operation met it with the inputs (a 0-dim one mixes, as on a GPU). Every value stays exact. Any
    other error is the answer's own, reported as ``expect_returns`` reports it (with ``lent_hint``)."""
    from judge.on_a_gpu import each_tensor

    where = f"{name}, run as on a GPU (its inputs there)"
    copies = each_tensor(list(args), lambda t: t.detach().clone().requires_grad_(t.requires_grad))
    seed, state = int(torch.randint(2**31, (1,))), torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)  # the same random numbers as the call on the CPU below
        result = called_as_on_a_gpu(function, *args)
    except Exception as error:  # noqa: BLE001 - sorted below: the stand-in's gap, a device's error, the answer's own
        torch.random.set_rng_state(state)
        if NOT_RUN_ON_THE_STAND_IN.search(str(error)):  # the course's limit: the device is not judged
            print(f"{where}: not checked: the stand-in for a GPU cannot run an operation this code uses "
                  f"({shortened(str(error).splitlines()[0], 160)}); the device is not judged here.")
            return expect_returns(name, function, *args, lent_hint=lent_hint)
        if not DEVICE_MISMATCH.search(str(error)):
            def again():
                raise error
            return expect_returns(name, again, lent_hint=lent_hint)
        raise AssertionError(f"{where}: it fails where a tensor it made meets the inputs ({type(error).__name__}): "
                             f"{MADE_WITHOUT_A_DEVICE}." + (f" Hint: {hint}" if hint else "")) from None
    outputs = [t for t in tree_leaves(result) if isinstance(t, torch.Tensor)]  # also in dicts
    if shape is not None:
        expect_shape(where, outputs[0] if outputs else result, shape)
    expect_tensor(name, outputs[0] if outputs else result)
    if any(t.device.type == "meta" for t in outputs):
        raise AssertionError(f"{where}: expected its result on the GPU, where the inputs are, got a tensor on the CPU: "
                             f"{MADE_WITHOUT_A_DEVICE}." + (f" Hint: {hint}" if hint else ""))
    def on_the_cpu():
        torch.manual_seed(seed)
        return [t for t in tree_leaves(function(*each_tensor(copies, torch.clone))) if isinstance(t, torch.Tensor)]

    def same(first, second):
        return len(first) == len(second) and all(
            a.shape == b.shape and torch.allclose(a.detach().double(), b.detach().double(), atol=1e-5, rtol=1e-4,
                                                  equal_nan=True) for a, b in zip(first, second))
    try:
        # the same call on the CPU; twice where it differs, for a call whose random numbers torch does not draw
        # (NumPy's, Python's) differs from itself, and then the two devices cannot be told apart by their values
        if not same(outputs, on_the_cpu()) and same(*(on_the_cpu(), on_the_cpu())):
            raise AssertionError(f"{where}: its result differs from the same call's on the CPU, with the same random "
                                 "numbers: the code must compute the same values wherever its inputs are.")
    except AssertionError:
        raise
    except Exception:  # noqa: BLE001 - code that runs only on a GPU ("cuda" written in it): no CPU call to compare
        pass
    finally:
        torch.random.set_rng_state(state)
    return result


def expect_logvar_of_its_own(name: str, mu: torch.Tensor, logvar: torch.Tensor) -> None:
    """``mu`` and ``logvar``, what an encoder returned for a batch, must differ: the mu head returned twice gives
    the right shapes and the right number of parameters, and a logvar that is mu."""
    expect_equal(f"{name}: mu and logvar differ", torch.equal(mu, logvar), False,
                 hint="logvar needs a head of its own: the mu head's output returned twice gives logvar = mu.")


REPARAMETERISE = ("z = mu + sigma * eps with eps = torch.randn_like(mu): a draw of torch.normal(mu, sigma) passes "
                  "back zero gradients to mu and sigma, and .sample() none.")


def expect_draws_of_q(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> None:
    """``z``, what a forward pass drew from q(z | x) = N(1.5, 0.5^2) in each of its entries, ``mu`` and ``logvar``
    the 1.5s and log 0.25s it was given (both requiring grad): the draws' mean and spread, a noise of their own for
    each entry, and their gradients, dz/dmu = 1 and dz/dlogvar = (z - mu) / 2."""
    if len(z) > 1 and (z.detach() - z.detach()[:1]).abs().max() < 1e-6 < z.detach().std():
        raise AssertionError(f"z for {len(z):,} images with the same q: every image drew the same z. Hint: each entry "
                             "needs a noise of its own, torch.randn_like(mu); a noise of the shape of one row "
                             "(mu[0]) is shared by every image.")
    expect_close("mean of z for mu = 1.5", z.mean(), 1.5, atol=0.01, rtol=0, hint="z = mu + sigma * epsilon.")
    if z.detach().std() < 1e-3:
        raise AssertionError(f"std of z for logvar = log 0.25: expected 0.5, got {z.detach().std().item():.3g}: z does "
                             "not vary. Hint: forward must draw a noise, as notebook 01's reparameterize did; z = mu "
                             "is the mean of q, not a draw from it.")
    expect_close("std of z for logvar = log 0.25", z.std(), 0.5, atol=0.01, rtol=0,
                 hint="sigma = exp(0.5 * logvar) is the standard deviation; exp(logvar) is the variance.")
    expect_uncorrelated("correlation between two latent dimensions of z", z, atol=0.06,
                        hint="each entry of z needs a noise of its own: torch.randn_like(mu), not one per image.")
    expect_gradient_close("dz/dmu, z as a function of mu (the reparameterisation trick)", z, mu, torch.ones_like(mu),
                          hint=REPARAMETERISE)
    expect_gradient_close("dz/dlogvar, z as a function of logvar", z, logvar, 0.5 * (z - mu).detach(),
                          hint="sigma = exp(0.5 * logvar) must stay in the graph (no .detach()): the reconstruction "
                               "term trains the encoder's variances through it.")


class CodesAsImages(torch.nn.Module):
    """A stand-in for a model's decoder (or its ``decode``): keeps what it is given (``given``: the code, and the
    labels of a conditional decoder) and returns logits of ``shape`` for each code, zeros where the code is. They
    are contiguous and shaped as a real decoder's, so that a forward which reshapes what its decoder returns
    (``.view(-1, 784)``, ``.view_as(x)``) works on them as well; zeros, so that they cross the judge's wire as one
    number (``judge.wire``)."""

    def __init__(self, shape):
        super().__init__()
        self.shape, self.given = tuple(shape), None

    def forward(self, z, *conditions):
        self.given = (z, *conditions)
        return torch.zeros(len(z), *self.shape, dtype=z.dtype, device=z.device)


def expect_draw_on_device(name: str, model, *inputs, latent_dim: int = 20, image_shape=(784,)) -> None:
    """``model(*inputs)`` run as on a GPU (``expect_on_device``) with stand-ins for ``model.encode``, which returns
    a mu and a logvar of shape (batch, ``latent_dim``) where the inputs are, and for ``model.decode``, which returns
    logits of ``image_shape`` made from the z it is given (``CodesAsImages``): forward's draw and everything it
    returns must be there too, so a noise made on the CPU fails here, as it would on a GPU. The stand-ins replace the
    model's own encode and decode for good."""
    batch = len(inputs[0])
    model.encode = lambda x, *_: (torch.zeros(batch, latent_dim, device=x.device),  # made where the inputs are
                                  torch.zeros(batch, latent_dim, device=x.device))
    model.decode = CodesAsImages(image_shape).forward  # a module there would not hide the class's decode
    expect_on_device(name, model, *inputs, shape=(batch, *image_shape),
                     hint="draw the noise on the device of mu and logvar (torch.randn_like(mu)), not on the CPU.")


class _ZeroEncoder(torch.nn.Module):
    """A stand-in for a model's ``encoder`` whose q = N(0, I) has its loc and scale where the inputs are (the CPU,
    the GPU's place in a run as on a GPU), whatever the image."""

    def __init__(self, latent_dim):
        super().__init__()
        self.latent_dim = latent_dim

    def forward(self, x):
        return torch.distributions.Normal(torch.zeros(len(x), self.latent_dim, device=x.device),
                                          torch.ones(len(x), self.latent_dim, device=x.device))


CALL_THE_ENCODER_AND_DECODER = ("forward calls self.encoder(x), which returns q, and self.decoder(z), nothing else "
                                "of them: the checks replace them by models lent as at grading.")


def expect_draw_on_device_of_q(name: str, model, images: torch.Tensor, latent_dim: int = 20) -> None:
    """``model(images)`` run as on a GPU (``expect_on_device``) with stand-ins for ``model.encoder``, whose q has
    its loc and scale where the images are, and for ``model.decoder``, which returns logits of the images' shape made
    from the z it is given (``CodesAsImages``): forward's draw must be on q's device, so a noise made on the CPU fails
    here, as it would on a GPU. The stand-ins replace the model's own networks for good, lent as at grading
    (``AsLent``)."""
    model.encoder = AsLent(_ZeroEncoder(latent_dim))
    model.decoder = AsLent(CodesAsImages(images.shape[1:]))
    expect_on_device(name, model, images, shape=tuple(images.shape),
                     hint="draw z with q.rsample(), which makes its noise on the device of q's tensors.",
                     lent_hint=CALL_THE_ENCODER_AND_DECODER)


def called_without_gradients(function, *args, **kwargs):
    """``function(*args, **kwargs)`` run in ``torch.inference_mode()``: no autograd, so an answer that asks for a
    closed form cannot be found by an optimiser instead. At grading, the kernel runs the call so."""
    in_the_kernel = getattr(type(function), "_called_without_gradients", None)  # the judge's stand-in
    if in_the_kernel is not None:
        return in_the_kernel(function, *args, **kwargs)
    with torch.inference_mode():
        return function(*args, **kwargs)


def largest_tensor_made(function, *args, **kwargs):
    """``function(*args, **kwargs)`` and the number of elements of the largest tensor that one torch function or
    tensor method made while it ran, a view counted as the tensor it views: what one step of the call held at
    once. At grading, where ``function`` runs in the student's kernel, the kernel measures the call."""
    in_the_kernel = getattr(type(function), "_largest_tensor_made", None)  # the judge's stand-in for a student function
    if in_the_kernel is not None:
        return in_the_kernel(function, *args, **kwargs)
    from judge.kernel_side import TensorSizes

    with TensorSizes() as sizes:
        result = function(*args, **kwargs)
    return result, sizes.largest
