"""Seconds per training epoch of the course's VAEs: the in-memory pipeline against torchvision's.

Both pipelines feed the same model (notebook 03's classes, read from the solution notebook),
the same loss, optimizer, batch size and training loop (``vae_helpers.train``); only where the
batches come from differs:

* **in memory**: ``vae_helpers.Batches``, uint8 images already on the device, one index and one
  division per batch;
* **reference**: ``torchvision.datasets.MNIST``'s per-image path (a PIL image, then
  ``transforms.ToTensor()``) batched by ``torch.utils.data.DataLoader``, moved to the device batch by
  batch, as in pytorch/examples' VAE.

Epochs of the two pipelines alternate, so both see the same machine load.

It also times the dense VAE's epochs with one PyTorch thread and with one per usable CPU, idle and beside a
process that keeps a core busy: what a shared hub or Binder does to a notebook.

And it times the training loop against what bounds it: the dense VAE's epoch beside its matrix products alone
(the limit no loop on these threads can beat), and each model with PyTorch's default Adam (one for-each update
per step) beside the settings the notebooks use (``COURSE_SETTINGS``: the fused Adam, and the convolutional
model in the channels-last layout that oneDNN's convolutions prefer). Both compute the same updates; and it profiles
one epoch of each, to say where the time goes.
"""
import ast
import contextlib
import io
import json
import multiprocessing
import statistics
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.datasets import MNIST

from vae_helpers import Batches, seed_everything, train
from vae_helpers.data import ImageData
from vae_helpers.device import usable_cpus

BATCH_SIZE = 128
MODELS = {"dense": "DenseVAE", "conv": "ConvVAE"}
LOSS = "negative_elbo_terms"


def notebook_definitions(path: Path) -> dict:
    """Run only the imports, classes and functions of a notebook's code cells; return its namespace.

    Training and figures are skipped, so the benchmark measures exactly the notebook's models
    without repeating their code here.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    to_python = TransformerManager().transform_cell
    kept = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    namespace = {}
    for cell in json.loads(Path(path).read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse(to_python("".join(cell["source"])))
        tree.body = [node for node in tree.body if isinstance(node, kept)]
        exec(compile(tree, str(path), "exec"), namespace)
    return namespace


class TorchvisionMNIST(MNIST):
    """torchvision's MNIST dataset over images already in memory.

    Items come from torchvision's own ``MNIST.__getitem__``: index the uint8 tensor, make a PIL
    image, apply ``transforms.ToTensor()``. Only the file reading of its ``__init__`` is skipped.
    """

    def __init__(self, data: ImageData):  # noqa: super().__init__ would look for files
        self.data, self.targets = data.images, data.labels
        self.transform, self.target_transform = transforms.ToTensor(), None


class OnDevice:
    """Batches of a DataLoader moved to ``device``, as a training loop over a DataLoader does."""

    def __init__(self, loader: DataLoader, device: torch.device):
        self.loader, self.device = loader, device

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for x, y in self.loader:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)


def pipelines(data: ImageData, device: torch.device) -> dict:
    """The two batch sources, same data and batch size, reshuffled every epoch."""
    on_cuda = device.type == "cuda"
    loader = DataLoader(TorchvisionMNIST(data), batch_size=BATCH_SIZE, shuffle=True,
                        num_workers=1 if on_cuda else 0, pin_memory=on_cuda)
    return {"in memory": Batches(data, batch_size=BATCH_SIZE, device=device),
            "DataLoader + ToTensor": OnDevice(loader, device)}


def course_optimizer(model: torch.nn.Module, fused: bool = True) -> torch.optim.Optimizer:
    """The notebooks' optimizer: Adam at 1e-3, fused into one kernel per step (``fused=False``: PyTorch's default)."""
    return torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_of_an_epoch(model, loss_fn, batches, optimizer, device: torch.device) -> float:
    """Seconds of one quiet epoch of ``vae_helpers.train``, the device's queued work included."""
    _synchronize(device)
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        train(model, loss_fn, batches, optimizer, epochs=1, progress=False)
    _synchronize(device)
    return time.perf_counter() - started


def seconds_per_epoch(definitions: dict, data: ImageData, device: torch.device, repeats: int) -> list[dict]:
    """For each model: the median seconds per epoch of each pipeline over ``repeats`` epochs, and the ratio.

    Each pipeline first trains one untimed epoch, which pays for one-off allocations and kernel setup.
    """
    loss_fn = definitions[LOSS]
    sources = pipelines(data, device)
    rows = []
    for label in MODELS:
        runs = {name: (*_prepared(definitions, label, COURSE_SETTINGS[label], device), []) for name in sources}
        for _ in range(1 + repeats):
            for name, batches in sources.items():
                model, optimizer, times = runs[name]
                times.append(seconds_of_an_epoch(model, loss_fn, batches, optimizer, device))
        memory, reference = (statistics.median(runs[name][2][1:]) for name in sources)
        rows.append({"model": label, "images": len(data), "epochs": repeats,
                     "in memory s": memory, "reference s": reference, "speed-up": reference / memory})
    return rows


def _keep_a_core_busy():
    """What another user's job on a shared machine does to a notebook."""
    while True:
        pass


@contextlib.contextmanager
def load(busy_cores: int):
    """``busy_cores`` other processes spinning for as long as the block runs."""
    others = [multiprocessing.get_context("spawn").Process(target=_keep_a_core_busy, daemon=True)
              for _ in range(busy_cores)]
    for other in others:
        other.start()
    try:
        yield
    finally:
        for other in others:
            other.terminate()
            other.join()


def seconds_per_epoch_by_threads(definitions: dict, data: ImageData, repeats: int) -> list[dict]:
    """The dense VAE's median seconds per CPU epoch with one PyTorch thread and with one per usable CPU (the
    course's choice where no quota is set), on an idle machine and beside a process that keeps one core busy.

    The two thread counts alternate epoch by epoch within each load, so they see the same machine.
    """
    counts = sorted({1, usable_cpus()})
    before, rows = torch.get_num_threads(), []
    try:
        for busy in (0, 1):
            with load(busy):
                times = {count: [] for count in counts}
                models = {count: _prepared(definitions, "dense", COURSE_SETTINGS["dense"], torch.device("cpu"))
                          for count in counts}
                batches = Batches(data, batch_size=BATCH_SIZE)
                for _ in range(1 + repeats):
                    for count in counts:
                        model, optimizer = models[count]
                        torch.set_num_threads(count)
                        times[count].append(seconds_of_an_epoch(model, definitions[LOSS], batches, optimizer,
                                                                torch.device("cpu")))
                rows += [{"busy cores": busy, "threads": count, "images": len(data), "epochs": repeats,
                          "seconds": statistics.median(times[count][1:])} for count in counts]
    finally:
        torch.set_num_threads(before)
    return rows


# How each model trains in the notebooks, against PyTorch's defaults: the optimizer and the convolutional layout.
COURSE_SETTINGS = {"dense": {"fused": True, "channels_last": False}, "conv": {"fused": True, "channels_last": True}}
DEFAULT_SETTINGS = {"fused": False, "channels_last": False}


def matrix_product_seconds(model: torch.nn.Module, images: int, batch_size: int, device: torch.device) -> float:
    """Seconds for the matrix products of one epoch of ``model``'s linear layers alone: for each batch and layer,
    the forward product and the backward products for the weight and (but for the layer that reads the images)
    for the input, on tensors made once. No loop that trains the model on these threads can be faster."""
    shapes = [(layer.in_features, layer.out_features) for layer in model.modules() if isinstance(layer, torch.nn.Linear)]
    weights = [torch.randn(outputs, inputs, device=device) for inputs, outputs in shapes]
    sizes = [min(batch_size, images - start) for start in range(0, images, batch_size)]
    tensors = {size: [(torch.randn(size, inputs, device=device), torch.randn(size, outputs, device=device))
                      for inputs, outputs in shapes] for size in set(sizes)}
    _synchronize(device)
    started = time.perf_counter()
    for size in sizes:
        for layer, (weight, (x, grad)) in enumerate(zip(weights, tensors[size])):
            torch.mm(x, weight.t())
            torch.mm(grad.t(), x)
            if layer:
                torch.mm(grad, weight)
    _synchronize(device)
    return time.perf_counter() - started


# What each of an epoch's operators is, by its name in PyTorch's profiler: the first category whose words the name
# holds. Operators of no category are element-wise operations and reductions (the loss, ReLU, the reparameterisation).
PROFILE_CATEGORIES = {"matrix products": ("aten::mm", "aten::addmm", "aten::bmm"),
                      "convolutions": ("convolution",),
                      "batch normalisation": ("batch_norm",),
                      "the optimizer's update": ("adam", "optimizer.", "_foreach_"),
                      "the batches (indexing, converting)": ("aten::index", "aten::_to_copy", "aten::randperm")}
OTHER_OPERATORS = "element-wise operations and reductions"
OUTSIDE_OPERATORS = "outside any operator (Python, autograd's bookkeeping)"


def epoch_profile(definitions: dict, data: ImageData, label: str, device: torch.device) -> dict:
    """Where one epoch of ``label``'s model with the notebooks' settings spends its time, by PyTorch's profiler:
    {category: seconds} of the operators' own time on the training thread (``PROFILE_CATEGORIES``), and the rest of
    the epoch's wall time as ``OUTSIDE_OPERATORS``. The profiler's own cost falls mostly on the many short operators,
    so the shares of the long ones (the products, the convolutions) are if anything too small."""
    model, optimizer = _prepared(definitions, label, COURSE_SETTINGS[label], device)
    batches = Batches(data, batch_size=BATCH_SIZE, device=device)
    seconds_of_an_epoch(model, definitions[LOSS], batches, optimizer, device)  # one-off allocations and setup
    activities = [torch.profiler.ProfilerActivity.CPU]
    with torch.profiler.profile(activities=activities) as profiler:
        wall = seconds_of_an_epoch(model, definitions[LOSS], batches, optimizer, device)
    spent = {category: 0.0 for category in (*PROFILE_CATEGORIES, OTHER_OPERATORS)}
    for event in profiler.key_averages():
        name = event.key.lower()
        category = next((category for category, words in PROFILE_CATEGORIES.items()
                         if any(word.lower() in name for word in words)), OTHER_OPERATORS)
        if category == OTHER_OPERATORS and not name.startswith("aten::"):
            continue  # a range around operators (autograd's nodes, the profiler's own): its operators count
        spent[category] += event.self_cpu_time_total / 1e6
    spent[OUTSIDE_OPERATORS] = max(0.0, wall - sum(spent.values()))
    return {"model": label, "images": len(data), "wall s": wall, "seconds": spent}


def _prepared(definitions: dict, label: str, settings: dict, device: torch.device):
    seed_everything(0)
    model = definitions[MODELS[label]]().to(device)
    if settings["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    return model, course_optimizer(model, fused=settings["fused"])


def loop_against_its_limit(definitions: dict, data: ImageData, device: torch.device, repeats: int) -> list[dict]:
    """For each model, the median seconds per epoch with PyTorch's default Adam and with the notebooks' settings,
    epochs alternating; for the dense VAE also its matrix products alone, timed between the same epochs."""
    batches, rows = Batches(data, batch_size=BATCH_SIZE, device=device), []
    for label in MODELS:
        runs = {name: (*_prepared(definitions, label, settings, device), [])
                for name, settings in (("default", DEFAULT_SETTINGS), ("course", COURSE_SETTINGS[label]))}
        limits = []
        for _ in range(1 + repeats):
            for model, optimizer, times in runs.values():
                times.append(seconds_of_an_epoch(model, definitions[LOSS], batches, optimizer, device))
            if label == "dense":
                limits.append(matrix_product_seconds(runs["course"][0], len(data), BATCH_SIZE, device))
        default, course = (statistics.median(runs[name][2][1:]) for name in ("default", "course"))
        row = {"model": label, "images": len(data), "epochs": repeats, "default s": default, "course s": course,
               "speed-up": default / course, "settings": COURSE_SETTINGS[label]}
        if limits:
            row["limit s"] = statistics.median(limits[1:])
            row["of the limit"] = row["limit s"] / course
        rows.append(row)
    return rows
