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


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_per_epoch(definitions: dict, data: ImageData, device: torch.device, repeats: int) -> list[dict]:
    """For each model: the median seconds per epoch of each pipeline over ``repeats`` epochs, and the ratio.

    Each pipeline first trains one untimed epoch, which pays for one-off allocations and kernel setup.
    """
    loss_fn = definitions[LOSS]
    sources = pipelines(data, device)
    rows = []
    for label, class_name in MODELS.items():
        runs = {}
        for name in sources:
            seed_everything(0)
            model = definitions[class_name]().to(device)
            runs[name] = (model, torch.optim.Adam(model.parameters(), lr=1e-3), [])
        for _ in range(1 + repeats):
            for name, batches in sources.items():
                model, optimizer, times = runs[name]
                _synchronize(device)
                started = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    train(model, loss_fn, batches, optimizer, epochs=1, progress=False)
                _synchronize(device)
                times.append(time.perf_counter() - started)
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
                models = {}
                for count in counts:
                    seed_everything(0)
                    model = definitions[MODELS["dense"]]()
                    models[count] = (model, torch.optim.Adam(model.parameters(), lr=1e-3))
                batches = Batches(data, batch_size=BATCH_SIZE)
                for _ in range(1 + repeats):
                    for count in counts:
                        model, optimizer = models[count]
                        torch.set_num_threads(count)
                        started = time.perf_counter()
                        with contextlib.redirect_stdout(io.StringIO()):
                            train(model, definitions[LOSS], batches, optimizer, epochs=1, progress=False)
                        times[count].append(time.perf_counter() - started)
                rows += [{"busy cores": busy, "threads": count, "images": len(data), "epochs": repeats,
                          "seconds": statistics.median(times[count][1:])} for count in counts]
    finally:
        torch.set_num_threads(before)
    return rows
