"""The data the judge's two sides send each other (the protocol: ``judge/__init__.py``).

Values travel as JSON: numbers, strings, lists, tuples, dicts (a subclass of one, a namedtuple or an
OrderedDict, as that plain kind), tensors (dtype, shape and raw bytes; on the ``meta`` device, dtype and shape
alone) and Normal distributions; a NumPy number travels as itself (its dtype and value), so that a check that
wants a Python float judges at grading what it judges in the notebook; anything else travels as what each side
makes of it (``Wire.encode_object``, ``Wire.decode_other``). A tensor that carries gradients travels with an
id, so that each side can ask the other for the gradient of what it sent with respect to what it received.
"""
import base64
import itertools
import math

import numpy as np
import torch
from torch import nn
from torch.distributions import Normal

MIME_TYPE = "application/x-vae-answer+json"
QUESTION_KEY = "vae-question"  # where a request from grading carries its question
# tensors travel with these dtypes only; anything else is "an object"
DTYPES = {name: getattr(torch, name) for name in (
    "float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")}
# NumPy's numbers, by dtype name: each travels as itself (``np.float64(0.5)``, not 0.5 nor an object)
NUMPY_NUMBERS = {name: np.dtype(name).type for name in (
    "float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool")}
MAX_ANSWER_BYTES = 64 * 2**20  # all that one question's answer may send
MAX_DEPTH = 8
MAX_ITEMS = 10_000  # what one question may list
MAX_DIMENSION, MAX_ELEMENTS = 2**22, 2**26  # the largest tensor an answer may hold
FILL_ELEMENTS = 4096  # a tensor of at least this many equal entries travels as one of them (``Wire``)


def shortened(text: str, limit: int) -> str:
    """``text``, or where it is longer than ``limit`` characters (an error that prints a tensor or a traceback), its
    words up to there and a note of how much was cut."""
    if len(text) <= limit:
        return text
    kept = text[:limit]
    end = max(kept.rfind(" "), kept.rfind("\n"))
    kept = (kept[:end] if end > 0 else kept).rstrip(" ,;:")
    return f"{kept} ... [{len(text) - len(kept)} more characters cut]"


def digits_to_tell_apart(largest: float, difference: float) -> int:
    """Significant digits that show a ``difference`` between numbers up to ``largest`` in size (4 at least, 12 at
    most, and 12 for a difference that is not finite)."""
    if not math.isfinite(difference):
        return 12
    return min(12, max(4, 2 + math.ceil(math.log10(max(largest, difference, 1e-30) / max(difference, 1e-30)))))


# the layers a lent copy of a module may have (``lend_copy``), each built from its integer arguments
COPY_LAYERS = {"Linear": nn.Linear, "Tanh": nn.Tanh, "ReLU": nn.ReLU, "Sigmoid": nn.Sigmoid, "Flatten": nn.Flatten}


class AnswerError(AssertionError):
    """The other side did not answer properly; a judged exercise fails with this message."""


class RemoteObject:
    """An object the other side named but did not send (a NumPy array, a tensor subclass, ...)."""

    def __repr__(self):
        return f"<{type(self).__name__} in the student's kernel>"


def travels_as_tensor(value):
    """True for a tensor that ``Wire.encode`` sends as one (any other travels as an object)."""
    return type(value) in (torch.Tensor, nn.Parameter) and str(value.dtype).removeprefix("torch.") in DTYPES


def tensors_in(value, depth=0):
    """The tensors in ``value`` that travel as tensors (in nested lists, tuples, dicts and Normals, as
    ``Wire.encode`` sends them), in order: both sides number them alike."""
    if depth > MAX_DEPTH:
        return []
    if travels_as_tensor(value):
        return [value]
    if type(value) is Normal:
        return [t for item in (value.loc, value.scale) for t in tensors_in(item, depth + 1)]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in tensors_in(item, depth + 1)]
    if isinstance(value, dict) and all(type(key) is str for key in value):
        return [t for item in value.values() for t in tensors_in(item, depth + 1)]
    return []


def with_tensors(value, replacements):
    """``value`` with each tensor whose id() is in ``replacements`` replaced."""
    if isinstance(value, torch.Tensor):
        return replacements.get(id(value), value)
    if type(value) is Normal:
        return Normal(replacements.get(id(value.loc), value.loc), replacements.get(id(value.scale), value.scale),
                      validate_args=False)
    if isinstance(value, (list, tuple)):
        return (list if isinstance(value, list) else tuple)(with_tensors(item, replacements) for item in value)
    if isinstance(value, dict):
        return {key: with_tensors(item, replacements) for key, item in value.items()}
    return value


class Bridge(torch.autograd.Function):
    """Tensors computed on the other side, made differentiable here: the gradient of each input (a tensor
    sent there) is asked of the other side with ``ask_gradients(grad_outputs)``."""

    @staticmethod
    def forward(ctx, ask_gradients, n_inputs, *tensors):
        ctx.ask, ctx.inputs, ctx.n_outputs = ask_gradients, [(t.shape, t.dtype) for t in tensors[:n_inputs]], len(tensors) - n_inputs
        return tuple(t.clone() for t in tensors[n_inputs:])

    @staticmethod
    def backward(ctx, *grad_outputs):
        gradients = ctx.ask(list(grad_outputs))
        if type(gradients) is not list or len(gradients) != len(ctx.inputs):
            raise AnswerError("a gradient question was answered with something else")
        for gradient, (shape, _) in zip(gradients, ctx.inputs):
            if gradient is not None and (not isinstance(gradient, torch.Tensor) or gradient.shape != shape):
                raise AnswerError("a gradient question was answered with a gradient of the wrong shape")
        gradients = [g if g is None else g.to(dtype) for g, (_, dtype) in zip(gradients, ctx.inputs)]
        return (None, None, *gradients, *([None] * ctx.n_outputs))


def bridged(value, inputs, ask_gradients):
    """``value`` with its tensors that carry gradients made differentiable in ``inputs`` (see ``Bridge``)."""
    outputs = [t for t in tensors_in(value) if t.requires_grad]
    if not (inputs and outputs):
        return value, outputs, outputs
    new = Bridge.apply(ask_gradients, len(inputs), *inputs, *(t.detach() for t in outputs))
    return with_tensors(value, dict(zip(map(id, outputs), new))), outputs, list(new)


class Wire:
    """Values as one side sends and reads them. Tensors that carry gradients travel with an id; each side
    keeps those it sent (``sent``) and those it read (``received``), so that a gradient can be asked of it.

    A large tensor whose every entry is the same travels as that one entry (``fill``): a test's images of zeros
    are tens of megabytes otherwise. What the fills of one message make counts against ``MAX_ANSWER_BYTES``, as
    the bytes of a tensor sent whole do, so that a few bytes never make more than a message could hold."""

    def __init__(self):
        self.sent, self._sent_ids, self.received, self._ids = {}, {}, {}, itertools.count()
        self._room = MAX_ANSWER_BYTES

    def encode(self, value, depth=0):
        """``value`` as JSON-ready data (see the module)."""
        if depth > MAX_DEPTH:
            return {"object": "nested too deeply"}
        if value is None or type(value) in (bool, int, str):
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"float": repr(value)}
        if isinstance(value, (list, tuple)):
            items = [self.encode(item, depth + 1) for item in value]
            return items if isinstance(value, list) else {"tuple": items}
        if isinstance(value, dict) and all(type(key) is str for key in value):
            return {"dict": [[key, self.encode(item, depth + 1)] for key, item in value.items()]}
        if travels_as_tensor(value):
            return {"tensor": self._encode_tensor(value)}
        if type(value) in NUMPY_NUMBERS.values():
            return {"numpy": [value.dtype.name, self.encode(value.item(), depth + 1)]}
        if type(value) is Normal:
            return {"normal": [self.encode(value.loc, depth + 1), self.encode(value.scale, depth + 1)]}
        return self.encode_object(value)

    def _encode_tensor(self, value):
        body = {"dtype": str(value.dtype).removeprefix("torch."), "shape": list(value.shape),
                "requires_grad": value.requires_grad}
        if value.device.type == "meta":  # a tensor without data: its dtype and shape say all of it
            body["device"] = "meta"
        else:
            data = value.detach().cpu().contiguous()
            bits = data.view({2: torch.int16, 4: torch.int32, 8: torch.int64}[data.element_size()]) \
                if data.is_floating_point() else data  # equal bit for bit: -0.0 is not 0.0, a NaN is itself
            if data.numel() >= FILL_ELEMENTS and bool((bits == bits.flatten()[0]).all()):
                data, key = data.flatten()[:1], "fill"
            else:
                key = "data"
            raw = (data.view(torch.int16) if data.dtype == torch.bfloat16 else data).numpy().tobytes()
            body[key] = base64.b64encode(raw).decode()
        if value.requires_grad and self.may_differentiate(value):
            if id(value) not in self._sent_ids:
                self._sent_ids[id(value)] = f"{next(self._ids)}"
                self.sent[self._sent_ids[id(value)]] = value
            body["id"] = self._sent_ids[id(value)]
        return body

    def may_differentiate(self, tensor):
        """Whether the other side may ask for gradients with respect to ``tensor`` (sent now)."""
        return False

    def encode_object(self, value):
        return {"object": type(value).__name__}

    def decode(self, data, depth=0):
        """The value ``data`` (from ``encode``) stands for."""
        if depth > MAX_DEPTH:
            raise ValueError("the answer is nested too deeply")
        if depth == 0:
            self._room = MAX_ANSWER_BYTES  # what this message's fills may make
        if data is None or type(data) in (bool, int, float, str):
            return data
        if type(data) is list:
            return [self.decode(item, depth + 1) for item in data]
        if type(data) is not dict or len(data) != 1:
            raise ValueError("the answer is not in the expected form")
        (kind, body), = data.items()
        if kind == "tuple" and type(body) is list:
            return tuple(self.decode(item, depth + 1) for item in body)
        if kind == "dict" and type(body) is list and all(type(p) is list and len(p) == 2 and type(p[0]) is str for p in body):
            return {key: self.decode(item, depth + 1) for key, item in body}
        if kind == "float" and body in ("nan", "inf", "-inf"):
            return float(body)
        if kind == "object" and type(body) is str:
            name = "".join(c for c in body[:60] if c.isalnum() or c == "_") or "object"
            return type(name, (RemoteObject,), {})()
        if kind == "tensor" and type(body) is dict:
            tensor = _decode_tensor(body, self)
            if body.get("requires_grad") is True and tensor.is_floating_point():
                return self.received_tensor(body.get("id"), tensor)
            return tensor
        if kind == "numpy" and type(body) is list and len(body) == 2 and body[0] in NUMPY_NUMBERS:
            number = self.decode(body[1], depth + 1)
            if type(number) not in (bool, int, float):
                raise ValueError("the answer holds a NumPy number that is not a number")
            try:
                return NUMPY_NUMBERS[body[0]](number)
            except OverflowError:
                raise ValueError("the answer holds a NumPy number out of its dtype's range") from None
        if kind == "normal" and type(body) is list and len(body) == 2:
            loc, scale = (self.decode(item, depth + 1) for item in body)
            if not (isinstance(loc, torch.Tensor) and isinstance(scale, torch.Tensor)):
                raise ValueError("the answer holds a Normal whose loc or scale is not a tensor")
            return Normal(loc, scale, validate_args=False)
        return self.decode_other(kind, body)

    def received_tensor(self, their_id, tensor):
        """``tensor``, read with the id the other side gave it: it carried gradients where it was computed."""
        if type(their_id) is str and their_id in self.received:
            return self.received[their_id]
        tensor.requires_grad_(True)
        if type(their_id) is str:
            self.received[their_id] = tensor
        return tensor

    def decode_other(self, kind, body):
        raise ValueError(f"the answer holds an unknown kind of value ({kind!r:.40})")

    def gradients(self, of, grad_outputs, wrt):
        """The gradients of the tensors this side sent (ids ``of``) with respect to those it received
        (ids ``wrt``), for ``grad_outputs``: a list with None where a tensor does not depend on it."""
        pairs = [(self.sent[i], g) for i, g in zip(of, grad_outputs) if i in self.sent and g is not None]
        found = [self.received[i] for i in wrt if i in self.received]
        if not (pairs and found):
            return [None] * len(wrt)
        grads = iter(torch.autograd.grad([t for t, _ in pairs], found, [g.to(t.dtype) for t, g in pairs],
                                         retain_graph=True, allow_unused=True))
        return [next(grads) if i in self.received else None for i in wrt]


def _decode_tensor(body, wire):
    dtype, shape = DTYPES.get(body.get("dtype")), body.get("shape")
    if dtype is None or type(shape) is not list or not all(type(n) is int and 0 <= n <= MAX_DIMENSION for n in shape):
        raise ValueError("the answer holds a tensor of unknown dtype or shape")
    if len(shape) > MAX_DEPTH or math.prod(shape) > MAX_ELEMENTS:
        raise ValueError("the answer holds a tensor larger than grading reads")
    if body.get("device") == "meta":
        return torch.empty(shape, dtype=dtype, device="meta")
    filled = "fill" in body
    raw = base64.b64decode(body.get("fill" if filled else "data", ""), validate=True)
    numpy_dtype = np.dtype(np.int16) if dtype == torch.bfloat16 else torch.empty(0, dtype=dtype).numpy().dtype
    if len(raw) != (1 if filled else math.prod(shape)) * numpy_dtype.itemsize:
        raise ValueError("the answer holds a tensor whose data does not fit its shape")
    if filled:
        wire._room -= math.prod(shape) * numpy_dtype.itemsize
        if wire._room < 0:
            raise ValueError("the answer holds more than grading reads")
    tensor = torch.from_numpy(np.frombuffer(raw, dtype=numpy_dtype).copy())
    tensor = tensor.expand(math.prod(shape)).clone().reshape(shape) if filled else tensor.reshape(shape)
    return tensor.view(torch.bfloat16) if dtype == torch.bfloat16 else tensor


_PLAIN = Wire()
encode, decode = _PLAIN.encode, _PLAIN.decode  # plain data only, no ids


