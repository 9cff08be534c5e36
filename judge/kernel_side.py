"""The judge's side in the student's kernel: it answers the grading process's questions (protocol:
``judge/__init__.py``) and asks it about what it lent.

A question calls a student's function or class on the inputs sent (measuring, if asked, the largest tensor
the call made: ``TensorSizes``; or running it, if asked, as on a GPU: ``AsOnAGPU``), reads or sets an attribute
of what it returned, lists its items, or gives a gradient. What it returns is sent as ``wire`` data; any other object
stays here, under a handle. An object of the grading process passed to the student's code is a stand-in
(``_Lent``, ``_LentModule``) whose attributes and methods are requests to the grading process, computed
there; a ``copy`` is a small network built here from its layers and weights, lent to the student's code as
every model is (``vae_helpers.lending.AsLent``), which that code may change.
"""
import contextlib
import itertools
import json

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from judge.arguments_kept import positional_names, same, snapshot
from judge.on_a_gpu import AsOnAGPU, OnTheGPU, on_the_cpu
from judge.wire import COPY_LAYERS, MAX_ITEMS, MIME_TYPE, QUESTION_KEY, Wire, bridged, shortened, tensors_in
from vae_helpers.lending import AsLent

# what the grading process sends the kernel to run: answer the question in this request's metadata
ASKING = "__import__('judge.kernel_side', fromlist=['answer']).answer()"


class TensorSizes(TorchFunctionMode):
    """While it is active (``with TensorSizes() as sizes``): ``sizes.largest``, the number of elements of the
    largest tensor that one torch function or tensor method returned, a view counted as the tensor it views.
    It measures how much a step of the code held at once, as a call asked with ``measure`` reports it."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        for tensor in tensors_in([result]):
            tensor = tensor.held if isinstance(tensor, OnTheGPU) else tensor
            if tensor.layout == torch.strided:
                self.largest = max(self.largest, tensor.untyped_storage().nbytes() // tensor.element_size())
        return result


class _Lent:
    """In the kernel: an object of the grading process lent to the student's code (see ``lend``)."""

    def __init__(self, wire, spec):
        object.__setattr__(self, "_lent", (wire, spec["id"]))
        _set_lent_values(self, wire, spec)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        wire, lent_id = object.__getattribute__(self, "_lent")
        return wire.request_attribute(lent_id, name)

    def __call__(self, *args, **kwargs):
        wire, lent_id = self._lent
        return wire.request_call(lent_id, "__call__", args, kwargs)


class _LentModule(nn.Module):
    """In the kernel: a module of the grading process lent to the student's code, computed there."""

    def __init__(self, wire, spec):
        super().__init__()
        self._lent, self._parts = (wire, spec["id"]), [str(name) for name in spec.get("parts", [])]
        _set_lent_values(self, wire, spec)

    def forward(self, *args, **kwargs):
        wire, lent_id = self._lent
        return wire.request_call(lent_id, "__call__", args, kwargs)

    def train(self, mode=True):
        wire, lent_id = self._lent
        wire.request_call(lent_id, "train", (bool(mode),), {})
        return super().train(mode)

    def zero_grad(self, set_to_none=True):
        wire, lent_id = self._lent
        wire.request_call(lent_id, "zero_grad", (bool(set_to_none),), {})

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.startswith("_"):
                raise
        wire, lent_id = self._lent
        return wire.request_attribute(lent_id, name)

    def __len__(self):
        return len(self._parts)

    def __iter__(self):
        return (getattr(self, name) for name in self._parts)

    def __getitem__(self, index):
        """A part by position, or a slice of them as an ``nn.Sequential``, as ``nn.Sequential`` offers."""
        if isinstance(index, slice):
            return nn.Sequential(*list(self)[index])
        return getattr(self, self._parts[index])


def _set_lent_values(stand_in, wire, spec):
    for name, value in spec["values"].items():
        object.__setattr__(stand_in, name, wire.decode(value))
    for method, (weight, bias) in spec["affine"].items():
        w, b = getattr(stand_in, weight), getattr(stand_in, bias)
        object.__setattr__(stand_in, method, lambda z, w=w, b=b: z @ w.T + b)


class KernelSide(Wire):
    """The kernel's side: the objects it answered with (by handle) and what was lent to it, for one cell."""

    def __init__(self, cell=None):
        super().__init__()
        self.cell, self.objects, self.lent, self.keeping = cell, {}, {}, True

    def may_differentiate(self, tensor):
        return True

    def encode_object(self, value):
        if isinstance(value, (_Lent, _LentModule)):
            return {"lent_ref": value._lent[1]}
        if not self.keeping:  # an argument of a call back to grading: the kernel's objects stay here
            return super().encode_object(value)
        self.objects[len(self.objects)] = value
        return {"handle": {"handle": len(self.objects) - 1, "type": type(value).__name__[:60]}}

    def decode_other(self, kind, body):
        if kind == "remote" and body in self.objects:
            return self.objects[body]
        if kind == "lent" and type(body) is dict:
            if body["id"] not in self.lent:
                self.lent[body["id"]] = (_LentModule if body.get("module") else _Lent)(self, body)
            return self.lent[body["id"]]
        if kind == "copy" and type(body) is dict:
            if body["id"] not in self.lent:
                layers = [COPY_LAYERS[name](*args) for name, args in body["layers"]]
                module = nn.Sequential(*layers)
                module.load_state_dict({key: self.decode(value) for key, value in body["state"].items()})
                self.lent[body["id"]] = AsLent(module)  # lent as every model is: its parameters not listed
            return self.lent[body["id"]]
        return super().decode_other(kind, body)

    def _request(self, request):
        """A request to the grading process (kernel → grading), answered on the kernel's stdin channel."""
        self.keeping = False
        try:
            encoded = json.dumps(request)
        finally:
            self.keeping = True
        answer = json.loads(input(encoded))
        if "raised" in answer:
            if answer["raised"][0] == "AssertionError":  # a check's verdict on how the code used what was lent
                raise AssertionError(answer["raised"][1])
            raise RuntimeError(f"grading could not answer: {answer['raised'][1]}")
        return answer

    def request_attribute(self, lent_id, name):
        with AsOnAGPU.paused():  # the judge's own work
            answer = self._request({"callback": lent_id, "getattr": name})
            if answer.get("callable"):
                return lambda *args, **kwargs: self.request_call(lent_id, name, args, kwargs)
            return AsOnAGPU.made_where_the_inputs_are(self.decode(answer["result"]))

    def request_call(self, lent_id, method, args, kwargs):
        """A lent object's method, computed by the grading process, differentiable in its arguments."""
        args, kwargs = AsOnAGPU.sent((args, kwargs))  # a lent model is where the inputs are
        with AsOnAGPU.paused():  # the judge's own work: tensors sent and received as they are
            return AsOnAGPU.made_where_the_inputs_are(self._request_call(lent_id, method, args, kwargs))

    def _request_call(self, lent_id, method, args, kwargs):
        self.keeping = False
        try:
            request = {"callback": lent_id, "method": method, "args": self.encode(list(args)),
                       "kwargs": self.encode(dict(kwargs))}
        finally:
            self.keeping = True
        inputs = [t for t in tensors_in([args, kwargs]) if t.requires_grad]
        answer = self._request(request)
        result = self.decode(answer["result"])
        anchored = not inputs  # a backward must still reach grading: its parameters take their gradients
        inputs = inputs or [torch.zeros((), requires_grad=True)]

        def ask_gradients(grad_outputs):
            with AsOnAGPU.paused():  # the judge's own work, in a backward the student's code started
                reply = self._request({"callback_gradient": answer["handle"],
                                       "grad_outputs": [self.encode(on_the_cpu(g)) for g in grad_outputs]})
                gradients = self.decode(reply["result"])
            return [None] if anchored and gradients == [] else gradients

        result, old, new = bridged(result, inputs, ask_gradients)
        for their_id, tensor in list(self.received.items()):  # the grading process's ids now name these
            for before, after in zip(old, new):
                if tensor is before:
                    self.received[their_id] = after
        return result

    def answer_question(self, question, namespace):
        ask = question["ask"]
        if ask == "gradient":  # a backward through the student's code, which may raise as the code itself can
            try:
                grads = self.gradients(question["of"], [self.decode(g) for g in question["grad_outputs"]], question["wrt"])
            except Exception as error:
                return _raised(error)
            return {"result": self.encode(grads)}
        if ask == "copy_parameters":
            return {"result": self.encode([p.detach() for p in self.lent[question["id"]].model.parameters()])}
        target = question["target"]
        if "name" in target:
            if target["name"] not in namespace:
                return {"missing": target["name"]}
            obj = namespace[target["name"]]
        else:
            obj = self.objects[target["handle"]]
        replaced = {name: namespace.get(name) for name in question.get("replacing", {})}
        namespace.update({name: self.decode(lent) for name, lent in question.get("replacing", {}).items()})
        try:
            if ask == "call":
                args, kwargs = self.decode(question["args"]), self.decode(question["kwargs"])
                given = [(t, snapshot(t)) for t in tensors_in([args, kwargs])]
                torch.manual_seed(question["seed"])  # the judge's samples, the same at every grading
                sizes = TensorSizes() if question.get("measure") else contextlib.nullcontext()
                as_on_a_gpu = AsOnAGPU() if question.get("as_on_a_gpu") else None
                gradients = torch.inference_mode() if question.get("without_gradients") else contextlib.nullcontext()
                with sizes, gradients, as_on_a_gpu or contextlib.nullcontext():
                    if as_on_a_gpu is not None:  # the inputs, and the model called, on the GPU
                        obj, args, kwargs = as_on_a_gpu.placed(obj), *as_on_a_gpu.placed((args, kwargs))
                    result = obj(*args, **kwargs)
                if as_on_a_gpu is not None:
                    result = as_on_a_gpu.seen(result)  # what it made on the CPU travels as on the meta device
                changed = [[index, self.encode(t.detach())] for index, (t, before) in enumerate(given)
                           if before is not None and not same(t, before)]
            elif ask == "signature":
                result = positional_names(obj)
            elif ask == "getattr":
                result = getattr(obj, question["name"])
            elif ask == "setattr":
                result = setattr(obj, question["name"], self.decode(question["value"]))
            elif ask == "iterate":
                result = list(itertools.islice(iter(obj), MAX_ITEMS + 1))
                if len(result) > MAX_ITEMS:
                    raise ValueError(f"it yields more than {MAX_ITEMS} items")
            else:
                raise ValueError(f"unknown question {ask!r}")
        except Exception as error:
            return _raised(error)
        finally:
            namespace.update(replaced)
        answer = {"result": self.encode(result)}
        if ask == "call":
            answer["changed"] = changed
            if question.get("measure"):
                answer["largest"] = sizes.largest
        return answer


def _raised(error):
    """The student's error, reported by name and message."""
    return {"raised": [type(error).__name__, shortened(str(error), 2000)]}


_wire = KernelSide()


def answer():
    """Answer the question (grading → kernel) that came with this execute request, in its metadata, as one
    output of type ``MIME_TYPE``: what ``ASKING`` runs."""
    global _wire
    from IPython import get_ipython
    from IPython.display import display

    shell = get_ipython()
    question = shell.kernel.get_parent("shell")["metadata"][QUESTION_KEY]
    if question.get("cell") != _wire.cell:  # a new graded cell: what the earlier ones kept is not needed
        _wire = KernelSide(question.get("cell"))
    reply = _wire.answer_question(question, shell.user_ns)
    reply["nonce"] = question["nonce"]
    display({MIME_TYPE: json.dumps(reply)}, raw=True)
