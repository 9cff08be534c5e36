"""A call of the student's code leaves the tensors it is given as they were.

An answer that writes into its inputs (``mean.clamp_(0, 1)``, ``nll /= n``) changes its caller's data, and a
check that computes its expected value from those inputs after the call would judge the answer against its own
mistake. So every call of a student's function, class or model, wherever a check makes it, goes through
``called_keeping_arguments``: in the grading process (``grading_side.Remote``, where the kernel's changes are
copied back first), and in the notebook and under pytest (``vae_helpers.checks.answering``). A change fails the
call with the argument named.
"""
import inspect

import torch
from torch import nn

from judge.wire import digits_to_tell_apart, tensors_in

IN_PLACE = ("compute new tensors (a + b, a * 2, a.clamp(0, 1)) instead of changing the ones you are given "
            "(a += b, a.mul_(2), a.clamp_(0, 1), a[...] = ...): they are the caller's.")


def in_place_hint(error: BaseException) -> str:
    """The hint for an error an answer raised by changing a tensor it was given in place: autograd's refusal (it
    requires grad), or a write into a tensor whose entries share memory (an expanded one); else none."""
    return IN_PLACE if any(words in str(error) for words in ("in-place", "written-to tensor")) else ""


def snapshot(tensor):
    """A copy of an argument's values, to see whether the call changed them (None on the meta device)."""
    return None if tensor.device.type == "meta" else tensor.detach().clone()


def same(tensor, before):
    """True when ``tensor`` holds what its ``snapshot`` held (NaN where it held NaN)."""
    return tensor.shape == before.shape and tensor.dtype == before.dtype and bool(
        torch.equal(tensor.detach(), before) or (tensor.is_floating_point() and torch.allclose(
            tensor.detach(), before, rtol=0, atol=0, equal_nan=True)))


def called_keeping_arguments(function, args, kwargs, call=None):
    """``function(*args, **kwargs)`` (or ``call()``, which makes that call elsewhere and writes its changes back
    into the arguments); raise an ``AssertionError`` naming the first tensor argument it changed."""
    given = [(tensor, snapshot(tensor)) for tensor in tensors_in([list(args), dict(kwargs)])]
    result = call() if call is not None else function(*args, **kwargs)
    for index, (tensor, before) in enumerate(given):
        if before is not None and not same(tensor, before):
            changed = _what_changed(before, tensor.detach())
            _put_back(tensor, before)  # the caller's data (a check's constants, the notebook's) as it was
            raise AssertionError(f"{_name_of(function)}: changed {_argument(function, args, kwargs, index)} in place "
                                 f"({changed}). Hint: {IN_PLACE}")
    return result


def _put_back(tensor, before):
    with torch.no_grad():
        if tensor.shape == before.shape and tensor.dtype == before.dtype:
            tensor.copy_(before)
        else:
            tensor.data = before


def _name_of(function):
    return getattr(function, "__name__", None) or type(function).__name__


def _what_changed(before, after):
    if before.shape != after.shape or before.dtype != after.dtype:
        return f"its shape or dtype, from {tuple(before.shape)} {before.dtype} to {tuple(after.shape)} {after.dtype}"
    differ = (before != after) & ~(before.isnan() & after.isnan()) if before.is_floating_point() else before != after
    first, then = before[differ][0].item(), after[differ][0].item()
    digits = digits_to_tell_apart(max(abs(first), abs(then)), abs(first - then))
    return f"{int(differ.sum())} of its {before.numel()} values, the first from {first:.{digits}g} to {then:.{digits}g}"


def _argument(function, args, kwargs, index):
    """'its argument mean' (or 'a tensor inside its argument xs', or 'its 2nd argument' where the names are not
    known) for the ``index``-th tensor among the call's arguments, counted as ``tensors_in`` counts them."""
    names = positional_names(function)
    entries = [(names[i] if i < len(names) else None, value) for i, value in enumerate(args)] + list(kwargs.items())
    for position, (name, value) in enumerate(entries):
        inside = tensors_in([value])
        if index < len(inside):
            what = f"argument {name}" if name else f"{_ordinal(position + 1)} argument"
            return f"its {what}" if len(inside) == 1 and inside[0] is value else f"a tensor inside its {what}"
        index -= len(inside)
    return "one of its arguments"


def positional_names(function):
    """The names of the parameters ``function`` takes by position (a model's, of its ``forward``)."""
    try:
        parameters = inspect.signature(function.forward if isinstance(function, nn.Module) else function).parameters
    except (TypeError, ValueError):
        return []
    names = []
    for parameter in parameters.values():
        if parameter.kind not in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            break
        names.append(parameter.name)
    return names


def _ordinal(n):
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"
