"""Colour images, uint8 of shape (N, 3, 32, 32): CIFAR-10, and patches of the photographs installed packages ship.

* ``cifar10``: CIFAR-10 (Krizhevsky, 2009) in torchvision's layout, ``<data folder>/cifar-10-batches-py/``
  (``data_batch_1`` to ``data_batch_5``, ``test_batch``: pickled dictionaries whose ``b"data"`` holds one
  image per row, 1,024 red, then green, then blue bytes), else torchvision's download into the data folder.
* ``photographs``: 32 x 32 patches of three photographs that scikit-learn and matplotlib (both in the course's
  requirements) install, cut at full size and at half size, every 8 pixels. The training patches come from two
  photographs, the test patches from the third: no patch of a test photograph is seen in training. Nothing to
  download: it is what the tests, grading and an offline lab use, as the bundled digits are for the grey images.
  (scikit-image's sample photographs are not used: the course does not require scikit-image, and the dataset must
  be the same on every machine.)
"""
import functools
import importlib.util
import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

PATCH, STRIDE, SCALES = 32, 8, (1.0, 0.5)
# (package, path inside it, name): the training photographs first, the test photograph last
PHOTOGRAPHS = {
    "train": (("sklearn", "datasets/images/china.jpg", "china"),
              ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "grace_hopper")),
    "test": (("sklearn", "datasets/images/flower.jpg", "flower"),),
}


def photograph_path(package: str, inside: str) -> Path:
    """Where ``package`` keeps the file ``inside`` it, without importing the package."""
    return Path(importlib.util.find_spec(package).submodule_search_locations[0]) / inside


def patches(image: torch.Tensor, size: int = PATCH, stride: int = STRIDE) -> torch.Tensor:
    """Every ``size`` x ``size`` patch of ``image`` (3, H, W) whose corner lies on a multiple of ``stride``:
    shape (N, 3, size, size), in reading order."""
    tiles = image.unfold(1, size, stride).unfold(2, size, stride)  # (3, rows, columns, size, size)
    return tiles.permute(1, 2, 0, 3, 4).reshape(-1, 3, size, size)


def scaled(image: torch.Tensor, scale: float) -> torch.Tensor:
    """``image`` (3, H, W, uint8) resized by ``scale`` with an antialiasing filter, uint8 again."""
    if scale == 1.0:
        return image
    size = [round(side * scale) for side in image.shape[1:]]
    resized = F.interpolate(image[None].float(), size=size, mode="bilinear", antialias=True, align_corners=False)
    return resized[0].round().clamp(0, 255).to(torch.uint8)


@functools.lru_cache(maxsize=None)
def load_photograph_patches(split: str):
    """(images uint8 (N, 3, 32, 32), labels: the photograph of each patch, photograph names), in a fixed shuffled
    order, so that the first n patches of a split are spread over its photographs."""
    from PIL import Image  # Pillow comes with matplotlib

    images, labels, names = [], [], []
    for number, (package, inside, name) in enumerate(PHOTOGRAPHS[split]):
        with Image.open(photograph_path(package, inside)) as opened:
            photograph = torch.from_numpy(np.array(opened.convert("RGB"))).permute(2, 0, 1).contiguous()
        cut = torch.cat([patches(scaled(photograph, scale)) for scale in SCALES])
        images.append(cut)
        labels.append(torch.full((len(cut),), number, dtype=torch.int64))
        names.append(name)
    images, labels = torch.cat(images), torch.cat(labels)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    return images[order].contiguous(), labels[order], tuple(names)


def read_cifar10_batch(path: Path):
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of one CIFAR-10 batch file."""
    with open(path, "rb") as handle:
        try:
            batch = pickle.load(handle, encoding="bytes")
        except Exception as error:
            raise ValueError(f"{path} is not a CIFAR-10 batch file ({type(error).__name__}: {error}). "
                             "Delete it and fetch it again.") from None
    try:
        data, labels = batch[b"data"], batch[b"labels"]
    except (KeyError, TypeError):
        raise ValueError(f"{path} is not a CIFAR-10 batch file: no b'data' and b'labels' in it. "
                         "Delete it and fetch it again.") from None
    data = np.asarray(data, dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise ValueError(f"{path} is truncated or corrupt: {data.shape} image bytes for {len(labels)} labels, "
                         "expected (N, 3072) for N labels. Delete it and fetch it again.")
    return torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()), torch.tensor(labels, dtype=torch.int64)


def missing_cifar10_files(split: str, root: Path) -> list:
    """The names of ``split``'s CIFAR-10 files that are not in ``root``/cifar-10-batches-py."""
    return [name for name in CIFAR10_FILES[split] if not (root / CIFAR10_FOLDER / name).is_file()]


def read_cifar10(split: str, root: Path):
    """(images, labels) of ``split`` from the files in ``root``/cifar-10-batches-py, all of which must be there."""
    parts = [read_cifar10_batch(root / CIFAR10_FOLDER / name) for name in CIFAR10_FILES[split]]
    return torch.cat([images for images, _ in parts]), torch.cat([labels for _, labels in parts])


def download_cifar10(split: str, root: Path):
    """torchvision's download of CIFAR-10 into ``root``; a failed one leaves no empty folders behind."""
    import torchvision.datasets

    created = [folder for folder in (root, root / CIFAR10_FOLDER) if not folder.exists()]
    try:
        downloaded = torchvision.datasets.CIFAR10(root=str(root), train=(split == "train"), download=True)
    except Exception:
        for folder in reversed(created):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    return (torch.from_numpy(np.ascontiguousarray(downloaded.data.transpose(0, 3, 1, 2))),
            torch.tensor(downloaded.targets, dtype=torch.int64))
