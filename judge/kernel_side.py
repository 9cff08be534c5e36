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
import gc
import itertools
import json
import weakref

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

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
            if tensor.layout == torch.strided:
                self.largest = max(self.largest, tensor.untyped_storage().nbytes() // tensor.element_size())
        return result


# torch's functions that make a tensor from sizes or data alone: without a device, on the CPU (even on a GPU)
FACTORIES = frozenset(getattr(torch, name) for name in (
    "randn", "rand", "randint", "randperm", "zeros", "ones", "full", "empty", "empty_strided", "eye", "arange",
    "range", "linspace", "logspace", "tensor", "as_tensor", "asarray", "normal", "tril_indices", "triu_indices",
    "scalar_tensor"))
_DEVICE = torch._C.TensorBase.__dict__["device"]  # PyTorch's own reading of a tensor's device
# tensor methods that copy a tensor to another device
MOVES = frozenset((torch.Tensor.to, torch.Tensor.cpu, torch.Tensor.type_as))
_DATA = torch._C.TensorBase.__dict__["data"]  # ``tensor.data = other``, by which ``module.to(device)`` moves a weight
# tensor methods that give a tensor's values to NumPy, which a GPU's tensor refuses
TO_NUMPY = frozenset((torch.Tensor.numpy, torch.Tensor.__array__))
# tensor methods that read only the other tensor's shape: x.expand_as(other) stays where x is, wherever other is
SHAPED_AFTER = frozenset((torch.Tensor.expand_as, torch.Tensor.view_as, torch.Tensor.reshape_as))


def _tensors_among(values):
    """The tensors among ``values`` and in the lists and tuples there, one level deep (an operation's inputs)."""
    for value in values:
        if isinstance(value, torch.Tensor):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from (item for item in value if isinstance(item, torch.Tensor))


class AsOnAGPU(TorchFunctionMode):
    """While it is active, a call on CPU tensors runs as it would on a GPU, the CPU in the GPU's place. Every tensor
    that existed when the run began (the inputs, a model's weights, what was lent) is on the GPU, and so is what the
    run computes from them or makes where they are (``torch.randn_like(x)``, ``x.new_zeros(n)``,
    ``torch.zeros(n, device=x.device)``) and what a lent model returns. Every other tensor the run makes is on the
    CPU: one a torch factory makes without a device (``torch.randn(shape)``, ``torch.zeros(n, k)``,
    ``torch.arange(k)``, ``torch.tensor(...)``, also the 0-dim ones a distribution makes of plain numbers) or with
    one that names the CPU (``"cpu"``, ``torch.device("cpu")``, a CPU tensor's device), what ``.cpu()`` returns,
    what is computed from such tensors alone, and any tensor made where torch's functions do not see it (the legacy
    ``torch.Tensor([...])`` and ``torch.FloatTensor(...)``, ``torch.from_numpy``, ``torch.frombuffer``,
    ``torch.from_dlpack``, the parameters of a module built in the call). Every value stays exact and readable. As
    on a GPU, an operation that meets a tensor on the GPU and one of one dimension or more on the CPU raises
    ("Expected all tensors to be on the same device"), while a 0-dim CPU tensor mixes (a scalar), indexing and
    copying between the two are allowed, and a GPU's tensor refuses to give NumPy its values. ``run.seen(result)``
    gives a result with every tensor on the CPU replaced by one on PyTorch's ``meta`` device (its dtype and shape),
    which is how the checks and the wire see "on the CPU". ``AsOnAGPU.paused()`` turns it off for the judge's own
    work (a request to the grading process). A device written as text from a tensor's (``str(x.device)``,
    ``x.device.type``) is read as the CPU, the machine this runs on."""

    running = []  # the runs now active, innermost last

    def __init__(self):
        super().__init__()
        self.pauses = 0
        self.before = _TensorSet()  # the tensors that existed when the run began: on the GPU
        self.here = _TensorSet()  # the tensors the run made on the GPU
        self.elsewhere = _TensorSet()  # the tensors the run made on the CPU, as torch's functions saw them
        self.cpu_devices = []  # the device objects that name the CPU: read from its tensors, or made naming it

    def __enter__(self):
        for value in gc.get_objects():  # a tensor made later where torch's functions do not see it is on the CPU
            if issubclass(type(value), torch._C.TensorBase):
                self.before.add(value)
        AsOnAGPU.running.append(self)
        self._shadowed = torch.Tensor.__dict__.get("device")
        torch.Tensor.device = property(self._device_of)  # a tensor's device is read without a torch function
        return super().__enter__()

    def __exit__(self, *exc):
        AsOnAGPU.running.remove(self)
        if self._shadowed is None:
            del torch.Tensor.device
        else:
            torch.Tensor.device = self._shadowed
        return super().__exit__(*exc)

    def on_the_cpu(self, tensor) -> bool:
        """Whether ``tensor`` is on the CPU in this run: made there, or made where torch's functions do not see it."""
        return tensor in self.elsewhere or (tensor not in self.here and tensor not in self.before)

    def _device_of(self, tensor):
        """``tensor.device``; the object read from a tensor on the CPU is remembered, so that a tensor made with
        ``device=that`` (as a distribution of plain numbers draws its samples) is on the CPU too."""
        device = _DEVICE.__get__(tensor)
        if not self.pauses and self.on_the_cpu(tensor):
            self.cpu_devices.append(device)
        return device

    def names_the_cpu(self, device) -> bool:
        """A device written as a string ``"cpu"``, made in the run naming the CPU (``torch.device("cpu")``) or read
        from a tensor on the CPU names the CPU; any other (``x.device`` of an input, a device the notebook chose
        before the call) is where the inputs are: on the machine that runs this their device is the CPU too, so
        only where the device came from tells them apart."""
        if isinstance(device, str):
            return device.strip().lower().startswith("cpu")
        return any(device is known for known in self.cpu_devices)

    @staticmethod
    @contextlib.contextmanager
    def paused():
        """Every active run turned off while the judge does its own work (a request to the grading process)."""
        runs = list(AsOnAGPU.running)
        for run in runs:
            run.pauses += 1
        try:
            yield
        finally:
            for run in runs:
                run.pauses -= 1

    @staticmethod
    def made_where_the_inputs_are(value):
        """``value``, what a lent model returned to every active run: its tensors are on the GPU, where it is."""
        for run in AsOnAGPU.running:
            run._place(value, on_the_cpu=False)
        return value

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.pauses:
            return func(*args, **kwargs)
        if func is torch.device:
            device = func(*args, **kwargs)
            if self.names_the_cpu(args[0] if args else kwargs.get("type")):
                self.cpu_devices.append(device)
            return device
        inputs = list(_tensors_among([*args, *kwargs.values()]))
        if func in FACTORIES and not inputs:
            result = func(*args, **kwargs)
            self._place(result, on_the_cpu=kwargs.get("device") is None or self.names_the_cpu(kwargs["device"]))
            return result
        on_the_cpu = [tensor for tensor in inputs if self.on_the_cpu(tensor)]
        on_the_gpu = [tensor for tensor in inputs if not self.on_the_cpu(tensor)]
        if func in TO_NUMPY and on_the_gpu:
            raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to "
                            "host memory first.")
        if getattr(func, "__self__", None) is _DATA and func.__name__ == "__set__":  # a tensor given another's data
            func(*args, **kwargs)
            self._place(args[0], on_the_cpu=self.on_the_cpu(args[1]))
            return None
        if func in MOVES:
            result = func(*args, **kwargs)
            if result is args[0]:  # nothing to copy here, where both devices are the CPU: a GPU run copies
                result = result.view_as(result)
            self._place(result, on_the_cpu=self._moved_to_the_cpu(func, args, kwargs))
            return result
        if func in SHAPED_AFTER:  # the other tensor gives only its shape: the result stays where the tensor is
            result = func(*args, **kwargs)
            self._place(result, on_the_cpu=self.on_the_cpu(args[0]))
            return result
        if self._mixes(func, args, on_the_cpu, on_the_gpu):
            raise RuntimeError("Expected all tensors to be on the same device, but found at least two devices, "
                               "cuda:0 and cpu: a tensor made on the CPU met the inputs, on the GPU")
        result = func(*args, **kwargs)
        if inputs and not _in_place(func, kwargs):  # a device named in the call decides; else the inputs do
            device = kwargs.get("device")
            self._place(result, on_the_cpu=self.names_the_cpu(device) if device is not None else not on_the_gpu)
        return result

    def _mixes(self, func, args, on_the_cpu, on_the_gpu) -> bool:
        """Whether ``func`` meets tensors on both devices where a GPU refuses: any operation that meets a tensor on
        the GPU and a CPU tensor of one dimension or more, except that a GPU's tensor may be indexed by CPU
        indices, written through them, and copied to or from the CPU."""
        if func in (torch.Tensor.copy_, torch._has_compatible_shallow_copy_type):  # a copy; a comparison of types
            return False
        if func in (torch.Tensor.__getitem__, torch.Tensor.__setitem__):
            indexed, index = args[0], list(_tensors_among(args[1:2] if isinstance(args[1], torch.Tensor) else
                                                           args[1] if isinstance(args[1], (list, tuple)) else ()))
            if self.on_the_cpu(indexed):  # a CPU tensor indexed by the GPU's indices
                return indexed.dim() > 0 and any(not self.on_the_cpu(t) and t.dim() > 0 for t in index)
            written = args[2:3] if func is torch.Tensor.__setitem__ else ()
            return bool(index) and any(isinstance(value, torch.Tensor) and self.on_the_cpu(value) and value.dim() > 0
                                       for value in written)  # values through indices come from the same device
        return bool(on_the_gpu) and any(tensor.dim() > 0 for tensor in on_the_cpu)

    def _moved_to_the_cpu(self, func, args, kwargs) -> bool:
        """Whether ``tensor.to(...)``, ``.cpu()`` or ``.type_as(...)`` puts its result on the CPU: ``.cpu()`` does;
        ``.to(other)`` and ``.type_as(other)`` follow ``other``; ``.to(a device)`` goes where that device is
        (``names_the_cpu``); ``.to(a dtype)`` stays."""
        if func is torch.Tensor.cpu:
            return True
        tensor, rest = args[0], [*args[1:], *kwargs.values()]
        others = [value for value in rest if isinstance(value, torch.Tensor)]
        if others:
            return self.on_the_cpu(others[0])
        devices = [value for value in rest if isinstance(value, (str, torch.device))]
        if devices:
            return self.names_the_cpu(devices[0])
        return self.on_the_cpu(tensor)

    def _place(self, result, on_the_cpu):
        for tensor in tensors_in([result]):
            (self.elsewhere if on_the_cpu else self.here).add(tensor)
            (self.here if on_the_cpu else self.elsewhere).discard(tensor)

    def seen(self, value, scalars=True):
        """``value`` with each tensor on the CPU (also in lists, tuples and dicts) replaced by a meta tensor of its
        dtype and shape; with ``scalars=False`` a 0-dim one stays (it mixes with a GPU's tensors)."""
        if isinstance(value, torch.Tensor):
            away = self.on_the_cpu(value) and (scalars or value.dim() > 0)
            return torch.empty(value.shape, dtype=value.dtype, device="meta") if away else value
        if isinstance(value, (list, tuple)):
            return type(value)(self.seen(item, scalars) for item in value)
        if isinstance(value, dict):
            return {key: self.seen(item, scalars) for key, item in value.items()}
        return value

    @staticmethod
    def sent(value):
        """``value`` as the innermost active run sends it to a lent model, which is on the GPU: its CPU tensors of
        one dimension or more on the meta device, where the lent model's computation meets them and raises."""
        return AsOnAGPU.running[-1].seen(value, scalars=False) if AsOnAGPU.running else value


class _TensorSet:
    """A set of tensors by identity that keeps none of them alive (a WeakSet compares tensors by value)."""

    def __init__(self):
        self.references = {}

    def __contains__(self, tensor):
        reference = self.references.get(id(tensor))
        return reference is not None and reference() is tensor

    def add(self, tensor):
        key = id(tensor)
        self.references[key] = weakref.ref(tensor, lambda _: self.references.pop(key, None))

    def discard(self, tensor):
        if tensor in self:
            del self.references[id(tensor)]


def _in_place(func, kwargs) -> bool:
    """An operation that writes into a tensor it was given, which stays where it is."""
    name = getattr(func, "__name__", "")
    return kwargs.get("out") is not None or func is torch.Tensor.__setitem__ or (
        name.endswith("_") and not name.endswith("__"))


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
            reply = self._request({"callback_gradient": answer["handle"],
                                       "grad_outputs": [self.encode(g) for g in grad_outputs]})
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
                given = [(t, _snapshot(t)) for t in tensors_in([args, kwargs])]
                torch.manual_seed(question["seed"])  # the judge's samples, the same at every grading
                sizes = TensorSizes() if question.get("measure") else contextlib.nullcontext()
                as_on_a_gpu = AsOnAGPU() if question.get("as_on_a_gpu") else None
                with sizes, as_on_a_gpu or contextlib.nullcontext():
                    result = obj(*args, **kwargs)
                if as_on_a_gpu is not None:
                    result = as_on_a_gpu.seen(result)  # what it made on the CPU travels as on the meta device
                changed = [[index, self.encode(t.detach())] for index, (t, before) in enumerate(given)
                           if before is not None and not _same(t, before)]
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


def _snapshot(tensor):
    """A copy of an argument's values, to see whether the call changed them (None on the meta device)."""
    return None if tensor.device.type == "meta" else tensor.detach().clone()


def _same(tensor, before):
    return tensor.shape == before.shape and tensor.dtype == before.dtype and bool(
        torch.equal(tensor.detach(), before) or (tensor.is_floating_point() and torch.allclose(
            tensor.detach(), before, rtol=0, atol=0, equal_nan=True)))


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
