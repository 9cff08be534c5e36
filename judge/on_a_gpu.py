"""A call run as it would run on a GPU, on a machine without one: a second device whose tensors hold their values
on the CPU.

PyTorch's ``PrivateUse1`` backend, named ``gpu``, is that device. A tensor on it (``OnTheGPU``) is a PyTorch tensor
whose ``device`` is ``gpu:0`` and whose values a CPU tensor holds; every operation on it goes through PyTorch's
dispatcher to ``_computed``, which refuses what a GPU refuses and computes the rest on the held values. So where a
tensor is follows from how it was made, by PyTorch's own rules, and not from a list of the ways to make one: a tensor
made without a device, from NumPy, by a legacy constructor or by a module built without a device is a plain CPU
tensor, and meets the inputs as a CPU tensor meets a GPU's. Every value stays exact.

While ``AsOnAGPU`` is active: the inputs it ``placed`` are on the GPU; a device named ``"cuda"`` or ``"gpu"``, read
from a tensor there (``x.device``, ``str(x.device)``) or chosen by the notebook (``vae_helpers.get_device()``) is the
GPU; ``.numpy()`` of a GPU's tensor raises with PyTorch's words; ``seen`` gives a result back with its GPU tensors as
the CPU tensors they hold and its CPU tensors on PyTorch's ``meta`` device, which is how a check sees "made on the
CPU".
"""
import contextlib
import copy

import torch
from torch import nn
from torch.distributions import Distribution
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode, return_and_correct_aliasing
from torch.utils._pytree import tree_leaves, tree_map

from vae_helpers.lending import AsLent


def _the_gpu() -> torch.device:
    """The second device, PyTorch's ``PrivateUse1`` backend named ``gpu``, set up once in a process. It says it is
    available only while a run is active, so that outside one nothing that asks for an accelerator
    (``torch.accelerator``) picks it."""
    if torch._C._get_privateuse1_backend_name() == "privateuseone":
        from torch.utils import backend_registration

        class WhileARunIsActive(backend_registration._DummyPrivateUse1Hook):
            def is_available(self) -> bool:
                return bool(AsOnAGPU.running)

        class Backend(backend_registration._DummyBackendModule):
            def is_available(self) -> bool:
                return bool(AsOnAGPU.running)

        backend_registration._setup_privateuseone_for_python_backend("gpu", backend_module=Backend(),
                                                                     hook=WhileARunIsActive())
    return torch.device(torch._C._get_privateuse1_backend_name(), 0)


GPU = _the_gpu()
GPU_NAMES = ("cuda", GPU.type)
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
    """A tensor on the GPU whose values ``held``, a CPU tensor, holds."""

    @staticmethod
    def __new__(cls, held: torch.Tensor, requires_grad: bool = False):
        tensor = torch.Tensor._make_wrapper_subclass(
            cls, held.size(), strides=held.stride(), storage_offset=held.storage_offset(), dtype=held.dtype,
            layout=held.layout, device=GPU, requires_grad=requires_grad)
        tensor.held = held
        return tensor

    def __repr__(self, *, tensor_contents=None):
        return f"{torch._tensor_str._str(self.held)[:-1]}, device='{GPU}')"

    @property
    def is_cuda(self) -> bool:  # the GPU it stands for
        return True

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        return _computed(func, args, kwargs or {})


def _held(value):
    return value.held if isinstance(value, OnTheGPU) else value


def _computed(func, args, kwargs):
    """``func`` as a GPU runs it: it refuses to mix a GPU's tensor with a CPU tensor of one dimension or more (or a
    0-dim one, outside pointwise operations), computes on the values the GPU's tensors hold, and puts its result
    where the device it names is, else where its inputs are."""
    tensors = [value for value in tree_leaves((args, kwargs)) if isinstance(value, torch.Tensor)]
    any_on_the_gpu = any(isinstance(tensor, OnTheGPU) for tensor in tensors)
    if any_on_the_gpu and func not in MOVES:
        _refuse_a_mix(func, args, tensors)
    device = kwargs.get("device")
    to_the_gpu = device.type == GPU.type if device is not None else any_on_the_gpu
    computed_kwargs = {**kwargs, "device": torch.device("cpu")} if to_the_gpu and device is not None else kwargs
    result = func(*tree_map(_held, args), **tree_map(_held, computed_kwargs))
    if func is aten._local_scalar_dense.default:
        return result
    if to_the_gpu:
        result = tree_map(lambda value: OnTheGPU(value) if isinstance(value, torch.Tensor) else value, result)
    return return_and_correct_aliasing(func, args, kwargs, result) if any_on_the_gpu else result


def _refuse_a_mix(func, args, tensors):
    cpu = [tensor for tensor in tensors if not isinstance(tensor, OnTheGPU)]
    if func in INDEXING:
        indexed, indices = args[0], [index for index in (args[1] or []) if isinstance(index, torch.Tensor)]
        if isinstance(indexed, OnTheGPU):  # its indices may be on the CPU
            cpu = [tensor for tensor in cpu if not any(tensor is index for index in indices)]
    takes_numbers = torch.Tag.pointwise in func.tags or func in TAKING_A_NUMBER or func in INDEXING
    if any(tensor.dim() > 0 or not takes_numbers for tensor in cpu):
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
    """``tensor`` on the GPU: the same values, in the same graph (a gradient reaches ``tensor``)."""
    if isinstance(tensor, OnTheGPU) or tensor.device.type == "meta":
        return tensor
    return _ToTheGPU.apply(tensor) if tensor.requires_grad else OnTheGPU(tensor)


def _an_input_on_the_gpu(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` as an input made on the GPU: a leaf (requiring a gradient if it does) sharing its values, so that a
    change in place is seen in both, as the call's caller sees it."""
    if isinstance(tensor, OnTheGPU) or tensor.device.type == "meta":
        return tensor
    return OnTheGPU(tensor.detach(), requires_grad=tensor.requires_grad)


def on_the_cpu(tensor: torch.Tensor) -> torch.Tensor:
    """A GPU's ``tensor`` as the CPU tensor that holds its values, in the same graph."""
    if not isinstance(tensor, OnTheGPU):
        return tensor
    return _ToTheCPU.apply(tensor) if tensor.requires_grad else tensor.held


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


def _each_tensor(value, change):
    """``value`` with ``change`` applied to each tensor in it: in lists, tuples, dicts and distributions."""
    if isinstance(value, torch.Tensor):
        return change(value)
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        return type(value)(_each_tensor(item, change) for item in value)
    if type(value) is dict:
        return {key: _each_tensor(item, change) for key, item in value.items()}
    if isinstance(value, Distribution):
        changed = copy.copy(value)
        changed.__dict__.update({name: change(item) for name, item in vars(value).items()
                                 if isinstance(item, torch.Tensor)})
        return changed
    return value


class AsOnAGPU(TorchFunctionMode):
    """While it is active (``with AsOnAGPU() as run``), PyTorch runs as on a machine with a GPU where ``run.placed``
    put the inputs (this module's docstring). ``AsOnAGPU.paused()`` turns it off for the judge's own work."""

    running = []  # the runs now active, innermost last

    def __init__(self):
        super().__init__()
        self.pauses = 0
        self.moved = []  # (module, name, its own tensor) for each weight placed on the GPU for the run
        from vae_helpers.device import get_device
        self.chosen = get_device()  # the notebook's device, which stands for the GPU in the run
        self.computing = _Computing(self)

    def __enter__(self):
        AsOnAGPU.running.append(self)
        torch.Generator = _GeneratorOnTheGPU  # made where it is asked for, the GPU included
        super().__enter__()
        self.computing.__enter__()
        return self

    def __exit__(self, *exc):
        self.computing.__exit__(*exc)
        super().__exit__(*exc)
        AsOnAGPU.running.remove(self)
        if not AsOnAGPU.running:
            torch.Generator = torch._C.Generator
        for module, kind, name, own in reversed(self.moved):  # each weight back, with what the run changed
            placed = getattr(module, kind)[name]
            if isinstance(own, nn.Parameter) and placed is not None and placed.grad is not None:
                own.grad = on_the_cpu(placed.grad)
            getattr(module, kind)[name] = own
        self.moved.clear()

    def placed(self, value):
        """``value`` on the GPU: each tensor in it, and the weights of each module in it or that it is (put back at
        the end of the run, each the same object, with what the run changed)."""
        if isinstance(value, AsLent):  # a model lent: its own parameters are not listed
            self.placed(value.model)
            return value
        if isinstance(value, nn.Module):
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
        if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
            return type(value)(self.placed(item) for item in value)
        if type(value) is dict:
            return {key: self.placed(item) for key, item in value.items()}
        return _each_tensor(value, _an_input_on_the_gpu)

    def seen(self, value, scalars=True):
        """``value`` as a check reads it: each GPU tensor the CPU tensor that holds it, each CPU tensor a meta
        tensor of its dtype and shape (with ``scalars=False`` a 0-dim one stays: it mixes with a GPU's tensors)."""
        def read(tensor):
            if isinstance(tensor, OnTheGPU):
                return on_the_cpu(tensor)
            away = tensor.device.type != "meta" and (scalars or tensor.dim() > 0)
            return torch.empty(tensor.shape, dtype=tensor.dtype, device="meta") if away else tensor
        return _each_tensor(value, read)

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
        return _each_tensor(value, on_the_gpu) if AsOnAGPU.running else value

    def names_the_gpu(self, device) -> bool:
        """Whether ``device`` (a ``torch.device``, text or a CUDA ordinal) is the GPU in the run."""
        if isinstance(device, int) and not isinstance(device, bool):
            return True
        if device is self.chosen:
            return True
        if isinstance(device, str):
            return device.strip().split(":")[0].lower() in GPU_NAMES
        return isinstance(device, torch.device) and device.type in GPU_NAMES

    def _device(self, device):
        return GPU if self.names_the_gpu(device) else device

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if self.pauses:
            return func(*args, **kwargs)
        if func in TO_NUMPY and isinstance(args[0], OnTheGPU):
            raise TypeError(f"can't convert {GPU} device type tensor to numpy. Use Tensor.cpu() to copy the tensor to "
                            "host memory first.")
        if func is torch.Tensor.tolist and isinstance(args[0], OnTheGPU):
            return args[0].held.tolist()
        if func in (torch.Tensor.__getitem__, torch.Tensor.__setitem__) and isinstance(args[0], OnTheGPU):
            args = (args[0], _listed_indices_as_tensors(args[1]), *args[2:])
        if func is torch.Tensor.cuda:
            func, args, kwargs = torch.Tensor.to, (args[0], GPU), {"non_blocking": kwargs.get("non_blocking", False)}
        if func in (torch.Tensor.to, torch._C._nn._parse_to):
            args = tuple(self._device(value) if isinstance(value, (str, torch.device, int)) and not isinstance(
                value, bool) and index > (0 if func is torch.Tensor.to else -1) else value
                for index, value in enumerate(args))
        else:
            args = tuple(self._device(value) if isinstance(value, torch.device) else value for value in args)
        if "device" in kwargs and kwargs["device"] is not None:
            kwargs["device"] = self._device(kwargs["device"])
        if func in MADE_FROM_DATA:
            return self._made_from_data(func, args, kwargs)
        if func is torch.Tensor.new_tensor or (func is torch.Tensor.new and len(args) == 2 and isinstance(
                args[1], (list, tuple)) and not isinstance(args[1], torch.Size)):  # data, where the tensor is
            kwargs.setdefault("dtype", args[0].dtype)
            if kwargs.get("device") is None:
                kwargs["device"] = GPU if isinstance(args[0], OnTheGPU) else args[0].device
            return self._made_from_data(torch.tensor, args[1:], kwargs)
        if func is torch.Tensor.pin_memory:  # a copy kept on the CPU, ready to move: here the CPU tensor itself
            return args[0]
        generator = kwargs.get("generator")
        if generator is not None and kwargs.get("device") is GPU and generator.device.type == "cpu":
            raise RuntimeError(f"Expected a '{GPU.type}' device type for generator but found 'cpu'")
        return func(*args, **kwargs)


    @staticmethod
    def _made_from_data(func, args, kwargs):
        """``torch.tensor(data)`` and its kin, which PyTorch computes out of the dispatcher's sight. From a tensor: a
        copy (``torch.tensor``) or the tensor itself, moved where ``device`` says. From other data: made on the CPU
        from the values it holds (a list's GPU numbers are read), then put where ``device`` says."""
        data, rest = (args[0], args[1:]) if args else (kwargs.pop("data"), ())
        if isinstance(data, torch.Tensor):
            made = data.detach().clone() if func is torch.tensor else data
            moves = {key: kwargs[key] for key in ("device", "dtype") if kwargs.get(key) is not None}
            return made.to(**moves) if moves else made
        to_the_gpu = kwargs.get("device") is GPU
        if to_the_gpu:
            kwargs["device"] = torch.device("cpu")
        made = func(tree_map(_held, data), *rest, **kwargs)
        return OnTheGPU(made) if to_the_gpu else made


def _listed_indices_as_tensors(index):
    """An index with its lists of numbers as CPU tensors, which is what PyTorch makes of them (out of the
    dispatcher's sight, so here first)."""
    if isinstance(index, tuple):
        return tuple(_listed_indices_as_tensors(part) for part in index)
    if isinstance(index, list) and all(isinstance(item, (int, bool, list)) for item in index):
        return torch.tensor(index)
    return index


class _Computing(TorchDispatchMode):
    """The dispatcher's side of a run: an operation that makes a tensor on the GPU from sizes alone (a factory
    given ``device``, a move from the CPU) is computed on the CPU and its result put on the GPU."""

    def __init__(self, run):
        super().__init__()
        self.run = run

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        device = kwargs.get("device")
        if device is not None and device.type == GPU.type and not self.run.pauses:
            return _computed(func, args, kwargs)
        return func(*args, **kwargs)  # a GPU's tensor among the arguments takes it to OnTheGPU.__torch_dispatch__
