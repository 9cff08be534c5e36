"""Questions that grading asks a notebook's kernel, and the plain data the answers travel as.

When a notebook is graded, the hidden tests run in the grading process, not in the kernel that runs the
student's code (``grading/judge.py``); ``student_functions`` gives them the student's functions. They
ask the kernel to compute: call one of the student's
functions on inputs they give, or give the gradient of an earlier result. ``serve`` answers one
question in the kernel. The answer goes back as JSON: numbers, strings, lists, tensors (dtype, shape
and the raw bytes), and for any other object only its type's name. ``decode`` reads it in the grading
process without running anything from the kernel, so an answer can be wrong, but never more than data.
"""
import base64
import json
import math

import numpy as np
import torch

MIME_TYPE = "application/x-vae-answer+json"
QUESTION_KEY = "vae-question"  # where a request from grading carries its question
# tensors travel with these dtypes only; anything else is "an object"
DTYPES = {name: getattr(torch, name) for name in (
    "float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")}
MAX_ANSWER_BYTES = 64 * 2**20
MAX_DEPTH = 8
_kept = {}  # handle -> (inputs that require grad, tensor outputs), kept until grading asks for gradients
judging = None  # while the grading process judges a cell: the student's kernel (grading.judge.Student)


def student_functions(*names, replacing=None):
    """The student's functions ``names``, as a judged graded cell's hidden tests call them: in the
    grading process, calls to the student's kernel, during which each name in ``replacing`` (the
    student's functions of other exercises) calls the grading process's version instead, so that an
    exercise is graded on its own; in a notebook (the instructor's solution), the notebook's own functions."""
    if judging is not None:
        return tuple(judging.function(name, replacing or {}) for name in names)
    from IPython import get_ipython
    return tuple(get_ipython().user_ns[name] for name in names)


def lend(obj, values=(), methods=(), affine=None):
    """``obj`` as the student's functions may use it when a judged cell passes it to them: its ``values``
    (tensors, numbers) travel with the call; each of its ``methods`` called in the kernel is computed in
    the grading process, and differentiable there; each method in ``affine``, {name: (weight, bias)},
    is the affine map ``z @ weight.T + bias`` of two of its values, computed in the kernel (a toy model's
    decoder: the model's definition, no exercise's answer). In a notebook: ``obj`` itself."""
    return judging.lend(obj, values, methods, affine or {}) if judging is not None else obj


def in_grading_process():
    """True while the grading process judges a cell (see ``student_functions``)."""
    return judging is not None


def encode(value, depth=0):
    """``value`` as JSON-ready data (see the module)."""
    if depth > MAX_DEPTH:
        return {"object": "nested too deeply"}
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {"float": repr(value)}
    if type(value) in (list, tuple):
        items = [encode(item, depth + 1) for item in value]
        return items if type(value) is list else {"tuple": items}
    if type(value) in (torch.Tensor, torch.nn.Parameter) and str(value.dtype).removeprefix("torch.") in DTYPES:
        data = value.detach().cpu().contiguous()
        raw = (data.view(torch.int16) if data.dtype == torch.bfloat16 else data).numpy().tobytes()
        return {"tensor": {"dtype": str(value.dtype).removeprefix("torch."), "shape": list(data.shape),
                           "requires_grad": value.requires_grad, "data": base64.b64encode(raw).decode()}}
    return {"object": type(value).__name__}


class RemoteObject:
    """An object the kernel named but did not send (a NumPy array, a tensor subclass, a module...)."""

    def __repr__(self):
        return f"<{type(self).__name__} in the student's kernel>"


def decode(data, depth=0):
    """The value ``data`` (from ``encode``) stands for: plain Python values and tensors only."""
    if depth > MAX_DEPTH:
        raise ValueError("the answer is nested too deeply")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [decode(item, depth + 1) for item in data]
    if type(data) is not dict or len(data) != 1:
        raise ValueError("the answer is not in the expected form")
    (kind, body), = data.items()
    if kind == "tuple" and type(body) is list:
        return tuple(decode(item, depth + 1) for item in body)
    if kind == "float" and body in ("nan", "inf", "-inf"):
        return float(body)
    if kind == "object" and type(body) is str:
        name = "".join(c for c in body[:60] if c.isalnum() or c == "_") or "object"
        return type(name, (RemoteObject,), {})()
    if kind == "tensor" and type(body) is dict:
        return _decode_tensor(body)
    raise ValueError(f"the answer holds an unknown kind of value ({kind!r:.40})")


def _decode_tensor(body):
    dtype, shape = DTYPES.get(body.get("dtype")), body.get("shape")
    if dtype is None or type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError("the answer holds a tensor of unknown dtype or shape")
    raw = base64.b64decode(body.get("data", ""), validate=True)
    numpy_dtype = np.dtype(np.int16) if dtype == torch.bfloat16 else torch.empty(0, dtype=dtype).numpy().dtype
    if len(raw) != math.prod(shape) * numpy_dtype.itemsize:
        raise ValueError("the answer holds a tensor whose data does not fit its shape")
    tensor = torch.from_numpy(np.frombuffer(raw, dtype=numpy_dtype).copy()).reshape(shape)
    tensor = tensor.view(torch.bfloat16) if dtype == torch.bfloat16 else tensor
    if body.get("requires_grad") is True and tensor.is_floating_point():
        tensor.requires_grad_(True)  # it carried gradients where it was computed
    return tensor


def tensors_in(value):
    """The tensors in ``value`` (nested lists and tuples), in order."""
    if isinstance(value, torch.Tensor):
        return [value]
    if type(value) in (list, tuple):
        return [t for item in value for t in tensors_in(item)]
    return []


class Lent:
    """In the kernel: an object of the grading process lent to the student's function (see ``lend``)."""

    def __init__(self, lent):
        for name, value in lent["values"].items():
            setattr(self, name, decode(value))
        for method in lent["methods"]:
            setattr(self, method, _calling_back(lent["id"], method))
        for method, (weight, bias) in lent["affine"].items():
            setattr(self, method, lambda z, w=getattr(self, weight), b=getattr(self, bias): z @ w.T + b)


def _calling_back(lent_id, method):
    def call(*args):
        return _CallBack.apply({"lent": lent_id, "method": method, "plain": args}, *tensors_in(list(args)))
    return call


def _ask_grading(request):
    """A request to the grading process, answered on the kernel's stdin channel: (result, its handle)."""
    answer = json.loads(input(json.dumps(request)))
    if "raised" in answer:
        raise RuntimeError(f"grading could not answer: {answer['raised'][1]}")
    return decode(answer["result"]), answer.get("handle")


class _CallBack(torch.autograd.Function):
    """A lent method's result, computed by the grading process, with its gradient asked of it too."""

    @staticmethod
    def forward(ctx, call, *tensors):
        args = call["plain"]
        result, ctx.handle = _ask_grading({
            "callback": call["lent"], "method": call["method"], "args": [encode(a) for a in args],
            "requires_grad": [t.requires_grad for t in tensors]})
        if not isinstance(result, torch.Tensor):
            raise TypeError("a lent method must return one tensor")
        return result.detach()

    @staticmethod
    def backward(ctx, grad_output):
        gradients, _ = _ask_grading({"callback_gradient": ctx.handle, "grad_output": encode(grad_output)})
        return (None, *gradients)


def _answer(question, namespace):
    if question["ask"] == "call":
        if question["handle"] == 0:  # a new graded cell: the earlier ones' results are no longer needed
            _kept.clear()
        function = namespace.get(question["name"])
        if function is None:
            return {"missing": question["name"]}
        args = [Lent(arg["lent"]) if type(arg) is dict and "lent" in arg else decode(arg) for arg in question["args"]]
        kwargs = {name: decode(value) for name, value in question.get("kwargs", {}).items()}
        for arg, wants_grad in zip(args, question["requires_grad"]):
            if wants_grad:
                arg.requires_grad_(True)
        torch.manual_seed(question["seed"])  # the judge's samples, the same at every grading
        replaced = {name: namespace.get(name) for name in question.get("replacing", {})}
        namespace.update({name: _calling_back(lent_id, "__call__") for name, lent_id in question.get("replacing", {}).items()})
        try:
            result = function(*args, **kwargs)
        except Exception as error:  # the student's error, reported by name and message
            return {"raised": [type(error).__name__, str(error)[:2000]]}
        finally:
            namespace.update(replaced)
        inputs = [arg for arg in args if isinstance(arg, torch.Tensor) and arg.requires_grad]
        outputs = [t for t in tensors_in(result) if t.requires_grad]
        if inputs and outputs:
            _kept[question["handle"]] = (inputs, outputs)
        return {"result": encode(result)}
    if question["ask"] == "gradient":
        inputs, outputs = _kept[question["handle"]]
        grads = [decode(g) for g in question["grad_outputs"]]
        pairs = [(o, g) for o, g in zip(outputs, grads) if g is not None]
        gradients = torch.autograd.grad([o for o, _ in pairs], inputs, [g for _, g in pairs],
                                        retain_graph=True, allow_unused=True)
        return {"result": encode(list(gradients))}
    raise ValueError(f"unknown question {question['ask']!r}")


def serve():
    """Answer the question that grading sent with this request (in its metadata), shown as one output of
    type ``MIME_TYPE``."""
    from IPython import get_ipython
    from IPython.display import display

    shell = get_ipython()
    question = shell.kernel.get_parent("shell")["metadata"][QUESTION_KEY]
    answer = _answer(question, shell.user_ns)
    answer["nonce"] = question["nonce"]
    display({MIME_TYPE: json.dumps(answer)}, raw=True)
