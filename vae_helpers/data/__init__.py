"""Image datasets loaded once into memory as tensors, and mini-batches drawn from memory.

``load_images(name, split)`` returns uint8 images of shape (N, 28, 28) and int64 labels; for the colour
datasets (``cifar10``, ``photographs``: see ``colour.py``) of shape (N, 3, 32, 32).
Sources, tried in this order (never a silent switch to other data):

1. the course data folder (``VAE_COURSE_DATA``, default ``data/`` at the repository root),
   in torchvision's layout: ``<folder>/MNIST/raw/t10k-images-idx3-ubyte[.gz]``,
   ``<folder>/cifar-10-batches-py/data_batch_1`` and so on;
2. for Fashion-MNIST, Debian's ``dataset-fashion-mnist`` package folder;
3. torchvision's download into the data folder.

``VAE_COURSE_DATASET=digits`` (or another name) replaces whatever a notebook asks for,
with a printed note; the test suite uses it to run on scikit-learn's bundled 8x8 digits,
scaled up to 28x28. While nbgrader runs a notebook (autograde, Validate), the bundled digits
are the default too, with a printed note: grades never depend on the data, and the grading
machine needs no dataset. A notebook of colour images gets the colour stand-in for the bundled
digits, the photograph patches (and a grey one the digits for the patches): each bundled
dataset stands for the other, so one setting serves every notebook.

``python -m vae_helpers.data download`` fetches the datasets (see ``__main__.py``).
"""
import functools
import gzip
import importlib.util
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..budget import run_mode
from ..remember import note_dataset
from . import colour

DATA_VARIABLE = "VAE_COURSE_DATA"
DATASET_VARIABLE = "VAE_COURSE_DATASET"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
_DIGIT_CLASSES = tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class _Source:
    title: str
    folder: str  # torchvision's class name, which is also its folder under the root
    classes: tuple
    system_folder: Path | None = None


_SOURCES = {
    "mnist": _Source("MNIST", "MNIST", _DIGIT_CLASSES),
    "fashion-mnist": _Source("Fashion-MNIST", "FashionMNIST", _FASHION_CLASSES, DEBIAN_FASHION_MNIST),
}
COLOUR_DATASETS = ("cifar10", "photographs")
BUNDLED = {"grey": "digits", "colour": "photographs"}  # each needs no download and stands in for the other
DATASET_NAMES = (*_SOURCES, "digits", *COLOUR_DATASETS)


class DatasetNotFoundError(FileNotFoundError):
    """No source could provide the requested dataset; the message lists what was tried.

    ``title`` names the dataset, ``folder`` is where its files belong, ``tried`` lists each
    source tried and why it failed, one line each.
    """

    def __init__(self, message: str, title: str = "", folder: Path | None = None, tried: tuple = ()):
        super().__init__(message)
        self.title, self.folder, self.tried = title, folder, tuple(tried)


@dataclass(frozen=True)
class ImageData:
    """Images (uint8, N x 28 x 28, or N x 3 x 32 x 32 in colour), integer labels (N,), the dataset's name and
    class names (for the photograph patches, the photographs')."""

    images: torch.Tensor
    labels: torch.Tensor
    name: str
    classes: tuple

    def __len__(self):
        return len(self.labels)

    def take(self, n: int) -> "ImageData":
        """The first ``n`` examples (all of them if there are fewer)."""
        return ImageData(self.images[:n], self.labels[:n], self.name, self.classes)

    def binarized(self, seed: int = 0) -> "ImageData":
        """Every pixel drawn once as 0 or 1 with its grey level as the probability of 1, from ``seed``.

        Binary images give a Bernoulli decoder a true likelihood; one fixed draw of the test set
        lets every model be measured on the same images.
        """
        ink = torch.bernoulli(self.images.float() / 255, generator=torch.Generator().manual_seed(seed))
        return ImageData(ink.to(torch.uint8) * 255, self.labels, f"{self.name}, binarised", self.classes)


def disjoint(train: ImageData, test: ImageData, held_out: int = 2_000) -> tuple[ImageData, ImageData]:
    """``train`` and ``test`` with no image in both. Where they are the same images (only MNIST's test
    files are at hand, as in the benchmark's MNIST-test), the last ``held_out`` become the test set and
    the others the training set; otherwise both are returned as they are."""
    if len(train) != len(test) or not torch.equal(train.images, test.images):
        return train, test
    if not 0 < held_out < len(test):
        raise ValueError(f"disjoint: held_out must be between 1 and {len(test) - 1}, got {held_out}.")
    kept = len(test) - held_out
    return (ImageData(train.images[:kept], train.labels[:kept], train.name, train.classes),
            ImageData(test.images[kept:], test.labels[kept:], test.name, test.classes))


def data_dir() -> Path:
    """The course data folder: ``$VAE_COURSE_DATA``, else ``data/`` at the repository root."""
    configured = os.environ.get(DATA_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    return Path(__file__).resolve().parents[2] / "data"


def _normalised(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def kind(name: str) -> str:
    """``"colour"`` for a dataset of colour images, else ``"grey"``."""
    return "colour" if _normalised(name) in COLOUR_DATASETS else "grey"


def resolve_name(name: str) -> str:
    """The dataset that ``load_images(name)`` will really load.

    ``$VAE_COURSE_DATASET`` when set; else the bundled dataset (the digits, or for colour the photograph
    patches) while nbgrader runs the notebook; else ``name``. A bundled dataset named for the other kind of
    images stands for that kind's bundled one; any other dataset of the other kind is refused.
    """
    configured = os.environ.get(DATASET_VARIABLE)
    wanted = kind(name)
    chosen = _normalised(configured or (BUNDLED[wanted] if run_mode() == "autograde" else name))
    if chosen not in DATASET_NAMES:
        source = f"{DATASET_VARIABLE}={chosen!r}" if configured else repr(name)
        raise ValueError(f"Unknown dataset {source}: choose one of {', '.join(DATASET_NAMES)}.")
    if kind(chosen) != wanted:
        if chosen in BUNDLED.values():
            return BUNDLED[wanted]
        choices = [other for other in DATASET_NAMES if kind(other) == wanted]
        raise ValueError(f"{DATASET_VARIABLE}={chosen!r} names {kind(chosen)} images, and {name!r} is a dataset of "
                         f"{wanted} images: set it to one of {', '.join(choices)}, or unset it.")
    return chosen


def _replacement_note(name: str, chosen: str) -> str:
    configured = os.environ.get(DATASET_VARIABLE)
    if configured and _normalised(configured) != chosen:  # the bundled dataset of one kind for the other's
        return (f"{DATASET_VARIABLE}={configured}: loading the bundled {chosen!r} instead of {name!r} "
                f"({chosen!r} stands for {_normalised(configured)!r} in notebooks of {kind(chosen)} images).")
    if configured:
        return f"{DATASET_VARIABLE}={chosen}: loading {chosen!r} instead of {name!r}."
    return (f"nbgrader is running this notebook: loading the bundled {chosen!r} instead of {name!r} "
            f"(grades never depend on the data; set {DATASET_VARIABLE} to choose one).")


def load_images(name: str = "mnist", split: str = "train") -> ImageData:
    """Load a dataset split into memory, once per process (later calls reuse it)."""
    if split not in _IDX_FILES:
        raise ValueError(f"Unknown split {split!r}: choose 'train' or 'test'.")
    chosen = resolve_name(name)
    if chosen != _normalised(name):
        print(_replacement_note(name, chosen))
    if chosen == "digits":
        data = _load_digits(split)
    elif chosen == "photographs":
        data = _load_photographs(split)
    elif chosen == "cifar10":
        data = _load_cifar10(split, data_dir())
    else:
        data = _load_idx_dataset(chosen, split, data_dir())
    note_dataset(data.images, data.labels)  # what is trained on it is remembered for this content only
    return data


def _folders(source: _Source, root: Path) -> list[Path]:
    """Where the IDX files of ``source`` may already be, in the order they are tried."""
    return [root / source.folder / "raw"] + ([source.system_folder] if source.system_folder else [])


def _local_files(split: str, folder: Path):
    """``(images path, labels path)`` of ``split`` in ``folder``; None for a missing one."""
    return tuple(_find(folder, stem) for stem in _IDX_FILES[split])


def available_datasets(root: Path | None = None, images: str = "grey") -> dict:
    """``{name: where it comes from}`` for the datasets of ``images`` (``"grey"`` or ``"colour"``) this machine can
    load without a download."""
    root = data_dir() if root is None else root
    found = {}
    if images == "colour":
        if not any(colour.missing_cifar10_files(split, root) for split in colour.CIFAR10_FILES):
            found["cifar10"] = str(root / colour.CIFAR10_FOLDER)
        found["photographs"] = "patches of photographs bundled with scikit-learn and matplotlib"
        return found
    for name, source in _SOURCES.items():
        for folder in _folders(source, root):
            if all(all(_local_files(split, folder)) for split in _IDX_FILES):
                found[name] = str(folder)
                break
    found["digits"] = "bundled with scikit-learn"
    return found


@functools.lru_cache(maxsize=None)
def _load_photographs(split: str) -> ImageData:
    images, labels, names = colour.load_photograph_patches(split)
    return ImageData(images, labels, "photograph patches (32x32)", names)


@functools.lru_cache(maxsize=None)
def _load_cifar10(split: str, root: Path) -> ImageData:
    missing = colour.missing_cifar10_files(split, root)
    if not missing:
        return ImageData(*colour.read_cifar10(split, root), "CIFAR-10", colour.CIFAR10_CLASSES)
    tried = [f"{root / colour.CIFAR10_FOLDER}: no {', '.join(missing)}"]
    try:
        return ImageData(*colour.download_cifar10(split, root), "CIFAR-10", colour.CIFAR10_CLASSES)
    except Exception as error:  # torchvision raises several kinds when offline
        reason = str(error).strip().splitlines() or [""]
        tried.append(f"torchvision download into {root}: {type(error).__name__}: {reason[-1]}")
    raise DatasetNotFoundError(_cifar10_not_found_message(split, root, tried), "CIFAR-10",
                               root / colour.CIFAR10_FOLDER, tried)


def _cifar10_not_found_message(split: str, root: Path, tried: list) -> str:
    lines = [f"Could not load CIFAR-10 ({split} split): it is not on this machine and the download failed.", "",
             "Available right now: photographs (patches of photographs bundled with scikit-learn and matplotlib).",
             "To use them, change the notebook's first code cell to  DATASET = 'photographs'",
             f"(or set {DATASET_VARIABLE}=photographs before starting Jupyter).", "",
             "To get CIFAR-10 itself: connect to the internet once and run "
             "`python -m vae_helpers.data download --dataset cifar10`;",
             f"  or copy the folder {colour.CIFAR10_FOLDER}/ of the Python version of CIFAR-10 "
             f"(cifar-10-python.tar.gz, unpacked) into {root};",
             f"  or point {DATA_VARIABLE} to a folder that holds {colour.CIFAR10_FOLDER}/.",
             "", "Tried, in order:"] + [f"  {i}. {t}" for i, t in enumerate(tried, 1)]
    return "\n".join(lines)


@functools.lru_cache(maxsize=None)
def _load_idx_dataset(name: str, split: str, root: Path) -> ImageData:
    source = _SOURCES[name]
    tried = []
    for folder in _folders(source, root):
        images_path, labels_path = _local_files(split, folder)
        if images_path and labels_path:
            return ImageData(read_idx(images_path), read_idx(labels_path).long(), source.title, source.classes)
        missing = [stem for stem, path in zip(_IDX_FILES[split], (images_path, labels_path)) if path is None]
        tried.append(f"{folder}: no {' or '.join(m + '[.gz]' for m in missing)}")
    try:
        return _download(source, split, root)
    except Exception as error:  # torchvision raises several kinds when offline
        reason = str(error).strip().splitlines() or [""]
        tried.append(f"torchvision download into {root}: {type(error).__name__}: {reason[-1]}")
    raise DatasetNotFoundError(_not_found_message(name, split, root, tried), source.title,
                               root / source.folder / "raw", tried)


def _download(source: _Source, split: str, root: Path) -> ImageData:
    """torchvision's download of ``source`` into ``root``; a failed one leaves no empty folders behind."""
    import torchvision.datasets

    raw = root / source.folder / "raw"
    created = [folder for folder in (root, raw.parent, raw) if not folder.exists()]
    try:
        dataset_class = getattr(torchvision.datasets, source.folder)
        downloaded = dataset_class(root=str(root), train=(split == "train"), download=True)
    except Exception:
        for folder in reversed(created):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    return ImageData(downloaded.data.clone(), downloaded.targets.long(), source.title, source.classes)


def _not_found_message(name: str, split: str, root: Path, tried: list) -> str:
    source = _SOURCES[name]
    others = {other: where for other, where in available_datasets(root).items() if other != name}
    lines = [f"Could not load {source.title} ({split} split): it is not on this machine and the download failed.",
             "", "Available right now: " + "; ".join(f"{other} ({where})" for other, where in others.items()) + ".",
             f"To use one, change the notebook's first code cell to  DATASET = {next(iter(others))!r}",
             f"(or set {DATASET_VARIABLE}={next(iter(others))} before starting Jupyter).", "",
             "To get " + source.title + " itself: connect to the internet once and run "
             "`python -m vae_helpers.data download`;",
             f"  or copy the four IDX files ({', '.join(sum(_IDX_FILES.values(), ()))}, plain or .gz) "
             f"into {root / source.folder / 'raw'};",
             f"  or point {DATA_VARIABLE} to a folder that holds {source.folder}/raw/ with them."]
    if source.system_folder is not None:
        lines.append("  or, on Debian/Ubuntu, `sudo apt-get install dataset-fashion-mnist`.")
    lines += ["", "Tried, in order:"] + [f"  {i}. {t}" for i, t in enumerate(tried, 1)]
    return "\n".join(lines)


def _find(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: Path) -> torch.Tensor:
    """Read an IDX file of unsigned bytes (MNIST's format, plain or gzipped) into a uint8 tensor."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (bad header {raw[:4].hex()}).")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(raw) - offset != math.prod(shape):
        raise ValueError(f"{path} is truncated or corrupt: header says {shape}, "
                         f"found {len(raw) - offset} bytes of data. Delete it and fetch it again.")
    return torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape).copy())


def bundled_digits():
    """scikit-learn's 1,797 digits, (8x8 grey levels 0..16, labels), as ``sklearn.datasets.load_digits`` gives them,
    read from the file scikit-learn ships: importing scikit-learn would take a second of every notebook run that
    grading does on the digits."""
    places = importlib.util.find_spec("sklearn").submodule_search_locations
    table = np.loadtxt(Path(places[0]) / "datasets" / "data" / "digits.csv.gz", delimiter=",", dtype=np.float32)
    return torch.from_numpy(table[:, :-1].reshape(-1, 8, 8)), torch.from_numpy(table[:, -1].astype(np.int64))


@functools.lru_cache(maxsize=None)
def _load_digits(split: str) -> ImageData:
    grey_levels, labels = bundled_digits()
    images = grey_levels.unsqueeze(1) / 16.0
    # MNIST digits fill a 20x20 box centred in 28x28: do the same.
    images = F.pad(F.interpolate(images, size=(20, 20), mode="bilinear", align_corners=False), (4, 4, 4, 4))
    images = (images.clamp(0, 1) * 255).round().to(torch.uint8).squeeze(1)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    n_test = 297
    chosen = order[n_test:] if split == "train" else order[:n_test]
    return ImageData(images[chosen], labels[chosen], "digits (scikit-learn, 28x28)", _DIGIT_CLASSES)


class Batches:
    """Mini-batches from an in-memory ``ImageData``, reshuffled every epoch.

    Each batch is ``(x, y)``: ``x`` float in [0, 1] of shape (B, 1, 28, 28) (colour: (B, 3, 32, 32)) on ``device``,
    ``y`` the int64 labels. With ``binarize``, every pass draws each pixel anew as 0 or 1 with
    its grey level as the probability of 1 (dynamic binarisation). The images go to the device
    once, as uint8; no per-image transforms run during training.
    """

    def __init__(self, data: ImageData, batch_size: int = 128, shuffle: bool = True,
                 device: torch.device | str = "cpu", binarize: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        self.images = data.images.to(device)
        self.labels = data.labels.to(device)
        self.batch_size, self.shuffle, self.binarize = batch_size, shuffle, binarize
        self.device = torch.device(device)

    def __len__(self):
        return math.ceil(len(self.labels) / self.batch_size)

    def __iter__(self):
        n = len(self.labels)
        order = torch.randperm(n, device=self.device) if self.shuffle else torch.arange(n, device=self.device)
        for start in range(0, n, self.batch_size):
            index = order[start:start + self.batch_size]
            x = self.images[index]
            x = (x.unsqueeze(1) if x.dim() == 3 else x).float().div_(255)
            if self.binarize:
                x = torch.bernoulli(x)
            yield x, self.labels[index]
