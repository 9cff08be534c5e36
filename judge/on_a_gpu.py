"""A call run as it would run on a GPU, on a machine without one: tensors on CUDA whose values the CPU holds.

A tensor on the stand-in GPU (``OnTheGPU``) reads as a CUDA tensor to Python (``x.device`` is ``cuda:0``,
``x.is_cuda`` is True) and is a CPU tensor to PyTorch's engine (autograd, the optimizers' kernels); every operation on
it goes through PyTorch's dispatcher to ``_computed``, which refuses what a GPU refuses (a GPU tensor meeting a CPU
tensor of one dimension or more, or a 0-dim one outside a pointwise operation; an operation that CUDA runs as the
operations it is made of, by those) and computes the rest on the values it holds. So where a tensor is follows from how PyTorch made it, not from a list of the ways to make one: a tensor made
from an input, or with its device, is on the GPU; one made without a device, from NumPy, by a legacy constructor or
by a module built without a device is a plain CPU tensor, and meets the inputs as a CPU tensor meets a GPU's. Every
value stays exact, and nothing is registered with PyTorch: outside a run, PyTorch is as it was.

While ``AsOnAGPU`` is active: the inputs it ``placed`` are on the GPU; a device named ``"cuda"``, read from a tensor
there (``x.device``, ``str(x.device)``) or chosen by the notebook (``vae_helpers.get_device()``) is the GPU;
``.numpy()`` of a GPU's tensor raises with PyTorch's words; ``seen`` gives a
result back with its GPU tensors as the CPU tensors they hold and its CPU tensors on PyTorch's ``meta`` device, which
is how a check sees "made on the CPU".
"""
import contextlib
import copy
import functools

import torch
from torch import nn
from torch.distributions import Distribution
from torch.overrides import TorchFunctionMode, _get_current_function_mode_stack
from torch.utils._python_dispatch import TorchDispatchMode, _get_current_dispatch_mode_stack, return_and_correct_aliasing
from torch.utils._device import _device_constructors
from torch.utils._pytree import tree_leaves, tree_map

from vae_helpers.lending import AsLent

GPU = torch.device("cuda", 0)  # what a tensor on the stand-in reads as
CPU = torch.device("cpu")
aten = torch.ops.aten
# operations that move values between devices: allowed across them, as on a GPU
MOVES = frozenset((aten.copy_.default, aten._to_copy.default, aten._local_scalar_dense.default))
# operations whose index tensors may stay on the CPU while the tensor they index is on the GPU
INDEXING = frozenset((aten.index.Tensor, aten.index_put.default, aten.index_put_.default,
                      aten._index_put_impl_.default))
# operations that take a 0-dim CPU tensor as a number beside a GPU's tensors, besides the pointwise ones
TAKING_A_NUMBER = frozenset((aten.masked_fill.Tensor, aten.masked_fill_.Tensor, aten.fill.Tensor, aten.fill_.Tensor))
TO_NUMPY = frozenset((torch.Tensor.numpy, torch.Tensor.__array__))
MADE_FROM_DATA = frozenset((torch.tensor, torch.as_tensor, torch.asarray))


class OnTheGPU(torch.Tensor):
    """A tensor on the GPU: CUDA's to Python, a CPU tensor to PyTorch's engine, its values held by ``held``."""

    @staticmethod
    def __new__(cls, held: torch.Tensor, requires_grad: bool = False):
        tensor = torch.Tensor._make_wrapper_subclass(
            cls, held.size(), strides=held.stride(), storage_offset=held.storage_offset(), dtype=held.dtype,
            layout=held.layout, device=held.device, requires_grad=requires_grad)
        tensor.held = held
        return tensor

    device = property(lambda self: GPU, doc="The GPU it stands for.")
    is_cuda = property(lambda self: True)
    is_cpu = property(lambda self: False)

    def get_device(self) -> int:
        return GPU.index

    def __reduce_ex__(self, protocol):  # pickled as what it is, never as a CUDA tensor of PyTorch's
        return OnTheGPU, (self.held.detach().clone(), self.requires_grad)

    def __repr__(self, *, tensor_contents=None):
        extra = f", grad_fn=<{type(self.grad_fn).__name__}>" if self.grad_fn is not None else (
            ", requires_grad=True" if self.requires_grad else "")
        return f"{torch._tensor_str._str(self.held.detach())[:-1]}, device='{GPU}'{extra})"

    def __format__(self, spec):
        return self.held.item().__format__(spec) if self.dim() == 0 else object.__format__(self, spec)

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        return _computed(func, args, kwargs or {})


def _held(value):
    return value.held if isinstance(value, OnTheGPU) else value


def _computed(func, args, kwargs):
    """``func`` as a GPU runs it: it refuses to mix a GPU's tensor with a CPU tensor of one dimension or more (or a
    0-dim one, outside pointwise operations), computes on the values the GPU's tensors hold, and leaves its result on
    the GPU (a device named here is PyTorch's own, the CPU the GPU's tensors are to it: a call that names the CPU
    is moved there by ``AsOnAGPU`` first)."""
    tensors = [value for value in tree_leaves((args, kwargs)) if isinstance(value, torch.Tensor)]
    if func not in MOVES and not all(isinstance(tensor, OnTheGPU) for tensor in tensors) and _composite_on_cuda(func):
        # CUDA runs it as the operations it is made of (binary_cross_entropy_with_logits, stack): each is judged
        return func._op_dk(torch._C.DispatchKey.CompositeExplicitAutograd, *args, **kwargs)
    if func not in MOVES:
        _refuse_a_mix(func, args, tensors)
    result = func(*tree_map(_held, args), **tree_map(_held, kwargs))
    if func is aten._local_scalar_dense.default:
        return result
    result = tree_map(lambda value: OnTheGPU(value) if isinstance(value, torch.Tensor) else value, result)
    return return_and_correct_aliasing(func, args, kwargs, result)


@functools.cache
def _composite_on_cuda(func) -> bool:
    """Whether CUDA has no kernel of its own for ``func`` and runs its composite implementation, which checks no
    devices itself."""
    def has(key):
        return torch._C._dispatch_has_kernel_for_dispatch_key(func.name(), key)
    return not has("CUDA") and has("CompositeExplicitAutograd")


def _refuse_a_mix(func, args, tensors):
    cpu = [tensor for tensor in tensors if not isinstance(tensor, OnTheGPU)]
    if func in INDEXING:
        indexed, indices = args[0], [index for index in (args[1] or []) if isinstance(index, torch.Tensor)]
        if isinstance(indexed, OnTheGPU):  # its indices may be on the CPU
            cpu = [tensor for tensor in cpu if not any(tensor is index for index in indices)]
    takes_numbers = torch.Tag.pointwise in func.tags or func in TAKING_A_NUMBER or func in INDEXING
    written = [argument for argument, given in zip(func._schema.arguments, args) if argument.alias_info is not None
               and argument.alias_info.is_write and isinstance(given, torch.Tensor) and not isinstance(given, OnTheGPU)]
    if written or any(tensor.dim() > 0 or not takes_numbers for tensor in cpu):  # a CPU number is read, not written
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, {GPU} "
                           f"and cpu! (when checking the arguments of {func})")


class _ToTheGPU(torch.autograd.Function):
    """A CPU tensor's values, differentiably, on the GPU (its gradient comes back to the CPU)."""

    @staticmethod
    def forward(ctx, tensor):
        return OnTheGPU(tensor.detach())

    @staticmethod
    def backward(ctx, gradient):
        return _held(gradient)


class _ToTheCPU(torch.autograd.Function):
    """A GPU tensor's values, differentiably, as the CPU tensor that holds them."""

    @staticmethod
    def forward(ctx, tensor):
        return tensor.held.detach()

    @staticmethod
    def backward(ctx, gradient):
        return OnTheGPU(gradient)


def on_the_gpu(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` on the GPU: the same values, in the same graph (a gradient reaches ``tensor``); a leaf stays one."""
    if isinstance(tensor, OnTheGPU) or tensor.device.type == "meta":
        return tensor
    if tensor.requires_grad and tensor.grad_fn is not None:
        return _ToTheGPU.apply(tensor)
    return OnTheGPU(tensor.detach(), requires_grad=tensor.requires_grad)


def on_the_cpu(tensor: torch.Tensor) -> torch.Tensor:
    """A GPU's ``tensor`` as the CPU tensor that holds its values, in the same graph."""
    if not isinstance(tensor, OnTheGPU):
        return tensor
    return _ToTheCPU.apply(tensor) if tensor.requires_grad else tensor.held


def each_tensor(value, change, other=lambda value: value):
    """``value`` with ``change`` applied to each tensor in it (in lists, tuples, dicts and distributions) and
    ``other`` to anything else it holds."""
    if isinstance(value, torch.Tensor):
        return change(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple keeps its kind
        return type(value)(*(each_tensor(item, change, other) for item in value))
    if isinstance(value, (list, tuple)):  # torch's named results (values, indices) as the plain kind, as on the wire
        return (list if isinstance(value, list) else tuple)(each_tensor(item, change, other) for item in value)
    if isinstance(value, dict):
        return {key: each_tensor(item, change, other) for key, item in value.items()}
    if isinstance(value, Distribution):
        changed = copy.copy(value)
        changed.__dict__.update({name: change(item) for name, item in vars(value).items()
                                 if isinstance(item, torch.Tensor)})
        return changed
    return other(value)


class _GeneratorOnTheGPU(torch.Generator):
    """``torch.Generator(device=...)`` while a run is active: a GPU's generator for a device that is the GPU (its
    numbers drawn on the CPU that holds the GPU's values), else the plain one."""

    def __new__(cls, device="cpu"):
        run = AsOnAGPU.running[-1] if AsOnAGPU.running else None
        if run is None or not run.names_the_gpu(device):
            return torch._C.Generator(device)
        return super().__new__(cls, "cpu")

    @property
    def device(self) -> torch.device:
        return GPU


class AsOnAGPU(TorchFunctionMode):
    """While it is active (``with AsOnAGPU() as run``), PyTorch runs as on a machine with a GPU where ``run.placed``
    put the inputs (this module's docstring). ``AsOnAGPU.paused()`` turns it off for the judge's own work."""

    running = []  # the runs now active, innermost last

    def __init__(self):
        super().__init__()
        self.pauses = 0
        self.moved = []  # (module, kind, name, its own tensor) for each weight placed on the GPU for the run
        from vae_helpers.device import get_device
        self.chosen = get_device()  # the notebook's device, which stands for the GPU in the run
        self.computing = 0  # operations on GPU tensors now running, whose helper tensors are on the GPU
        self.helpers = _HelpersOnTheGPU(self)

    def __enter__(self):
        # what the call may change of PyTorch's state: the modes below this one, the default device
        self.below = list(_get_current_function_mode_stack())
        self.default_device = (getattr(torch._GLOBAL_DEVICE_CONTEXT, "device_context", None),
                               torch.utils._device.CURRENT_DEVICE)
        if not AsOnAGPU.running:  # a machine with a GPU: its generators; a module moved there gets new weights
            self.replaced = (torch.Generator, torch.__future__.get_overwrite_module_params_on_conversion())
            torch.Generator = _GeneratorOnTheGPU
            torch.__future__.set_overwrite_module_params_on_conversion(True)
        AsOnAGPU.running.append(self)
        super().__enter__()
        self.helpers.__enter__()
        return self

    def __exit__(self, *exc):
        while _get_current_dispatch_mode_stack()[-1:] not in ([self.helpers], []):  # modes the call left active
            torch._C._pop_torch_dispatch_stack()
        self.helpers.__exit__(*exc)
        # PyTorch's modes and default device as they were before the run, whatever the call entered and left
        # active (``torch.device(...).__enter__()``, ``torch.set_default_device``, which reorder the stack)
        while torch._C._len_torch_function_stack():
            torch._C._pop_torch_function_stack()
        for mode in self.below:
            torch._C._push_on_torch_function_stack(mode)
        torch._GLOBAL_DEVICE_CONTEXT.device_context, torch.utils._device.CURRENT_DEVICE = self.default_device
        AsOnAGPU.running.remove(self)
        if not AsOnAGPU.running:
            torch.Generator = self.replaced[0]
            torch.__future__.set_overwrite_module_params_on_conversion(self.replaced[1])
        for module, kind, name, own in reversed(self.moved):  # each weight back, with what the run changed
            placed = getattr(module, kind)[name]
            if isinstance(own, nn.Parameter) and placed is not None and placed.grad is not None:
                own.grad = on_the_cpu(placed.grad)
            getattr(module, kind)[name] = own
        self.moved.clear()

    def placed(self, value):
        """``value`` on the GPU: each tensor in it (a leaf there, as a caller on a GPU makes it), and the weights of
        each module in it or that it is (put back at the end of the run, each the same object, with what the run
        changed)."""
        return each_tensor(value, lambda tensor: on_the_gpu(tensor.detach().requires_grad_(tensor.requires_grad)),
                           other=self._weights_placed)

    def _weights_placed(self, value):
        """``value``, with its weights on the GPU for the run if it is a module (or a model lent, ``AsLent``)."""
        if isinstance(value, AsLent):  # a model lent: its own parameters are not listed
            self._weights_placed(value.model)
        elif isinstance(value, nn.Module):
            for module in value.modules():
                for kind in ("_parameters", "_buffers"):
                    for name, own in getattr(module, kind).items():
                        if own is not None and not isinstance(own, OnTheGPU):
                            self.moved.append((module, kind, name, own))
                            placed = OnTheGPU(own.detach())
                            if isinstance(own, nn.Parameter):
                                placed = nn.Parameter(placed, own.requires_grad)
                                placed.grad = None if own.grad is None else OnTheGPU(own.grad)
                            getattr(module, kind)[name] = placed
        return value

    def seen(self, value, scalars=True):
        """``value`` as a check reads it: each GPU tensor the CPU tensor that holds it, each CPU tensor a meta
        tensor of its dtype and shape (with ``scalars=False`` a 0-dim one stays: it mixes with a GPU's tensors)."""
        def read(tensor):
            if isinstance(tensor, OnTheGPU):
                return on_the_cpu(tensor)
            away = tensor.device.type != "meta" and (scalars or tensor.dim() > 0)
            return torch.empty(tensor.shape, dtype=tensor.dtype, device="meta") if away else tensor
        return each_tensor(value, read)

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
    def sent(value):
        """``value`` as the innermost active run sends it to a lent model, which is on the GPU (``seen`` with
        scalars kept: a CPU tensor reaches the model on the meta device, where its computation raises)."""
        return AsOnAGPU.running[-1].seen(value, scalars=False) if AsOnAGPU.running else value

    @staticmethod
    def made_where_the_inputs_are(value):
        """``value``, what a lent model returned: on the GPU, where it is, if a run is active."""
        return each_tensor(value, on_the_gpu) if AsOnAGPU.running else value

    def names_the_gpu(self, device) -> bool:
        """Whether ``device`` (a ``torch.device``, text or a CUDA ordinal) is the GPU in the run: CUDA, or the
        notebook's chosen device."""
        if isinstance(device, int) and not isinstance(device, bool):
            return True
        if device is self.chosen:
            return True
        if isinstance(device, str):
            return device.strip().split(":")[0].lower() == "cuda"
        return isinstance(device, torch.device) and device.type == "cuda"

    def where(self, device):
        """``device`` as the run reads it: the GPU, the CPU, or None (not named)."""
        if device is None:
            return None
        return GPU if self.names_the_gpu(device) else torch.device(device)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if self.pauses:
            return func(*args, **kwargs)
        first = args[0] if args else None
        on_the_gpu_first = isinstance(first, OnTheGPU)
        if func in TO_NUMPY and on_the_gpu_first:
            raise TypeError(f"can't convert {GPU} device type tensor to numpy. Use Tensor.cpu() to copy the tensor to "
                            "host memory first.")
        if func is torch.Tensor.tolist and on_the_gpu_first:
            return first.held.tolist()
        if func is torch.Tensor.pin_memory:  # a copy kept on the CPU, ready to move: here the CPU tensor itself
            return first
        if getattr(func, "__self__", None) is _DATA and func.__name__ == "__set__":  # ``tensor.data = other``
            func(*args, **kwargs)
            if on_the_gpu_first:
                first.held = _held(args[1])
            return None
        if func in (torch.Tensor.__getitem__, torch.Tensor.__setitem__) and on_the_gpu_first:
            args = (first, _listed_indices_as_tensors(args[1]), *args[2:])
        if func is torch.Tensor.cpu:
            return on_the_cpu(first)
        if func is torch.Tensor.cuda:
            return self._moved(first, GPU, {})
        if func is torch.Tensor.to:
            return self._to(first, args[1:], kwargs)
        if func is torch.Tensor.type_as:
            return self._to(first, args[1:2], {})
        if func is torch.Tensor.type and len(args) == 1 and not kwargs and on_the_gpu_first:  # its type's name
            return first.held.type().replace("torch.", "torch.cuda.", 1)
        if func is torch.Tensor.type and (len(args) > 1 or kwargs):
            return self._typed(first, args[1] if len(args) > 1 else kwargs.get("dtype"))
        if func is torch._C._nn._parse_to:  # a module's .to(...): the notebook's device, or a GPU tensor's, is the GPU
            parsed = func(*(GPU if value is self.chosen else _held(value) for value in args),
                          **{key: _held(value) for key, value in kwargs.items()})
            on_the_gpu_given = any(isinstance(value, OnTheGPU) for value in (*args, *kwargs.values()))
            return (GPU, *parsed[1:]) if on_the_gpu_given else parsed
        if func in _device_constructors() and kwargs.get("device") is None and \
                torch.get_default_device().type == "cuda":  # made where torch.set_default_device says: the GPU
            kwargs["device"] = GPU
        if func in MADE_FROM_DATA:
            return self._made_from_data(func, args, kwargs)
        if func is torch.Tensor.new_tensor or (func is torch.Tensor.new and len(args) == 2 and isinstance(
                args[1], (list, tuple)) and not isinstance(args[1], torch.Size)):  # data, where the tensor is
            kwargs.setdefault("dtype", first.dtype)
            kwargs["device"] = kwargs.get("device") or first.device
            return self._made_from_data(torch.tensor, args[1:], kwargs)
        if kwargs.get("device") is not None and self.where(kwargs["device"]) == CPU:  # made on the CPU, from values
            args, kwargs = each_tensor((args, kwargs), on_the_cpu)
            return func(*args, **kwargs)
        if kwargs.get("device") is not None and self.where(kwargs["device"]) == GPU:  # made on the GPU
            generator = kwargs.get("generator")
            if generator is not None and generator.device.type == "cpu":
                raise RuntimeError("Expected a 'cuda' device type for generator but found 'cpu'")
            kwargs["device"] = CPU
            return each_tensor(func(*args, **kwargs), on_the_gpu)
        if not any(isinstance(value, OnTheGPU) for value in tree_leaves((args, kwargs))):
            return func(*args, **kwargs)
        self.computing += 1  # what PyTorch makes for the operation's own use, it makes on the GPU
        try:
            return func(*args, **kwargs)
        finally:
            self.computing -= 1

    def _to(self, tensor, args, kwargs):
        """``tensor.to(...)``, its arguments read by PyTorch's own parser: to the device named (the GPU or the CPU) or
        that of the tensor given, with the dtype, copy and memory format asked."""
        def device_named(value):
            return isinstance(value, (str, torch.device, int)) and not isinstance(value, bool)
        other = next((value for value in (*args, *kwargs.values()) if isinstance(value, torch.Tensor)), None)
        named = next((value for value in (*args, kwargs.get("device")) if device_named(value)), None)
        parsed = torch._C._nn._parse_to(*(CPU if device_named(value) else _held(value) for value in args),
                                        **{key: CPU if key == "device" and value is not None else _held(value)
                                           for key, value in kwargs.items() if key != "copy"})
        _, dtype, non_blocking, memory_format = parsed
        device = other.device if other is not None else self.where(named)
        return self._moved(tensor, device, {"dtype": dtype, "non_blocking": non_blocking,
                                            "memory_format": memory_format, "copy": kwargs.get("copy")})

    @staticmethod
    def _moved(tensor, device, options):
        """``tensor`` with ``options`` (dtype, copy, memory format) applied, on ``device`` (None: where it is)."""
        if device is not None and device.type == "cpu":
            tensor = on_the_cpu(tensor)
        options = {key: value for key, value in options.items() if value is not None}
        moved = tensor.to(**options) if options else tensor
        return on_the_gpu(moved) if device is not None and device.type == "cuda" else moved

    def _typed(self, tensor, kind):
        """``tensor.type(kind)``: a CUDA type name is the GPU, any other the CPU, with the type's dtype."""
        name = kind if isinstance(kind, str) else f"{getattr(kind, '__module__', 'torch')}.{kind.__name__}" \
            if isinstance(kind, type) else None
        if name is None:  # a dtype
            return self._moved(tensor, None, {"dtype": kind})
        on_cuda = ".cuda." in name
        dtype = torch.empty(0).type(name.replace(".cuda.", ".")).dtype
        return self._moved(tensor, GPU if on_cuda else CPU, {"dtype": dtype})

    @staticmethod
    def _made_from_data(func, args, kwargs):
        """``torch.tensor(data)`` and its kin, which PyTorch computes out of the dispatcher's sight. From a tensor: a
        copy (``torch.tensor``) or the tensor itself, moved where ``device`` says. From other data: made on the CPU
        from the values it holds (a list's GPU numbers are read), then put where ``device`` says."""
        data, rest = (args[0], args[1:]) if args else (kwargs.pop("data"), ())
        run = AsOnAGPU.running[-1]
        device = run.where(kwargs.pop("device", None))
        if isinstance(data, torch.Tensor):
            made = data.detach().clone() if func is torch.tensor else data
            return run._moved(made, device, {"dtype": kwargs.get("dtype")})
        made = func(tree_map(_held, data), *rest, **kwargs, device=CPU)  # not where a default device would put it
        return on_the_gpu(made) if device is not None and device.type == "cuda" else made


_DATA = torch._C.TensorBase.__dict__["data"]  # ``tensor.data = other`` sets through it


def _listed_indices_as_tensors(index):
    """An index with its lists of numbers as CPU tensors, which is what PyTorch makes of them (out of the
    dispatcher's sight, so here first)."""
    if isinstance(index, tuple):
        return tuple(_listed_indices_as_tensors(part) for part in index)
    if isinstance(index, list) and all(isinstance(item, (int, bool, list)) for item in index):
        return torch.tensor(index)
    return index


class _HelpersOnTheGPU(TorchDispatchMode):
    """The dispatcher's side of a run: a tensor PyTorch makes from sizes alone inside an operation on GPU tensors
    (``F.one_hot``'s classes, made with the input's options) is made on the GPU, as PyTorch makes it there."""

    def __init__(self, run):
        super().__init__()
        self.run = run

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        made = func(*args, **kwargs)
        if self.run.computing and not self.run.pauses and not any(
                isinstance(value, torch.Tensor) for value in tree_leaves((args, kwargs))):
            return tree_map(lambda value: OnTheGPU(value) if isinstance(value, torch.Tensor) else value, made)
        return made
