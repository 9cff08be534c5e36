"""A re-run that does not train again: what a call trained (or computed at length), kept across kernel restarts.

Run All after a restart executes the same code on the same data from the same seeds, so every training call
reaches the result it reached before. ``@remembered`` keeps that result on disk the first time and loads it the
next time, in seconds, with one printed line that says so. A call's key is everything that decides it:

* the code: every cell this kernel has executed, in order, up to the one that makes the call (a changed answer
  or setting anywhere before it trains again), and the source of the course's helpers;
* the data: the content of every dataset ``load_images`` has loaded;
* the seed: the state of every random number generator when the call starts;
* its place: the n-th remembered call of its cell, so that a loop's calls are told apart;
* the library, the machine's kind and the settings: Python, PyTorch and NumPy versions, the device, the run mode
  and the course's environment variables.

A remembered function must change nothing but the modules and optimizers it is given (restored in place on a
hit) and must return what else it makes (loaded on a hit). The random number generators are left as the call
left them, and what it printed is printed again, so the cells after it run as they did.

On in a Jupyter kernel in student mode. Off outside IPython (no code history to key on), whenever nbgrader runs
the notebook (Validate and grading train, in fast mode), and in fast mode unless ``VAE_COURSE_CACHE`` names a
folder. ``VAE_COURSE_RETRAIN=1`` trains every call again and keeps the new results. The folder is
``VAE_COURSE_CACHE``, else ``~/.cache/vae-course`` (or under ``XDG_CACHE_HOME``); past ``LIMIT_BYTES`` the
entries used longest ago are deleted, so there is nothing to manage.
"""
import functools
import hashlib
import io
import os
import platform
import random
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from .budget import FALSE_WORDS, run_mode, switched_on

CACHE_VARIABLE = "VAE_COURSE_CACHE"
RETRAIN_VARIABLE = "VAE_COURSE_RETRAIN"
LIMIT_BYTES = 2 * 1024 ** 3
LOADED = "from the cache; set"  # in the line a call prints when it loads instead of training
_HELPERS = Path(__file__).resolve().parent


def cache_folder() -> Path | None:
    """Where remembered calls are kept, or None where they are not (see the module's docstring)."""
    configured = os.environ.get(CACHE_VARIABLE, "").strip()
    if run_mode() == "autograde" or (configured and configured.lower() in FALSE_WORDS) or _code_so_far() is None:
        return None
    if configured:
        return Path(configured).expanduser()
    if run_mode() != "full":
        return None
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vae-course"


def retraining() -> bool:
    return switched_on(RETRAIN_VARIABLE)


# ---------------------------------------------------------------- the key

_datasets = {}  # id of a loaded dataset's images -> [images, labels] until a key needs it, then its fingerprint


def note_dataset(images: torch.Tensor, labels: torch.Tensor) -> None:
    """Count a loaded dataset's content in every later call's key (``load_images`` calls this). Its content is
    read only when a key is made, so that loading costs nothing where nothing is remembered."""
    _datasets.setdefault(id(images), [images, labels])


def _dataset_fingerprints() -> list:
    """The fingerprint of each loaded dataset's content, each computed once."""
    for key, value in _datasets.items():
        if isinstance(value, list):
            digest = hashlib.blake2b(digest_size=16)
            for tensor in value:
                digest.update(str((tensor.dtype, tuple(tensor.shape))).encode())
                digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
            _datasets[key] = digest.hexdigest()
    return sorted(_datasets.values())


def _code_so_far():
    """The sources of the cells this kernel has run, in order, the current one last; None outside IPython."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    if shell is None or not hasattr(shell, "history_manager"):
        return None
    return list(shell.history_manager.input_hist_parsed)


@functools.lru_cache(maxsize=1)
def _helpers_source() -> str:
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(_HELPERS.rglob("*.py")):
        digest.update(path.relative_to(_HELPERS).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def _random_states() -> dict:
    states = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_random_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states:
        torch.cuda.set_rng_state_all(states["cuda"])


def _device_kind() -> str:
    from .device import describe, get_device

    device = get_device()
    return describe(device) if device.type != "cpu" else "cpu"


def _key(name: str, place: tuple, code: list, states: dict) -> str:
    settings = sorted((k, v) for k, v in os.environ.items() if k.startswith("VAE_COURSE_") and k != RETRAIN_VARIABLE)
    digest = hashlib.blake2b(digest_size=20)
    for part in (name, place, "\x00".join(code), _helpers_source(), _dataset_fingerprints(), settings,
                 run_mode(), platform.python_version(), torch.__version__, np.__version__, _device_kind()):
        digest.update(repr(part).encode() + b"\x1f")
    for name_of, state in sorted(states.items()):
        digest.update(name_of.encode() + _state_bytes(state))
    return digest.hexdigest()


def _state_bytes(state) -> bytes:
    """A random number generator's state as bytes (tensors and arrays by content, the rest by repr)."""
    if isinstance(state, torch.Tensor):
        return state.cpu().numpy().tobytes()
    if isinstance(state, np.ndarray):
        return state.tobytes()
    if isinstance(state, (list, tuple)):
        return b"\x1e".join(_state_bytes(part) for part in state)
    return repr(state).encode()


# ---------------------------------------------------------------- what a call changes

def _trained_objects(arguments) -> list:
    """The modules and optimizers among ``arguments`` (also inside lists, tuples and dicts), in a fixed order."""
    found = []

    def visit(value, depth):
        if isinstance(value, (torch.nn.Module, torch.optim.Optimizer)):
            found.append(value)
        elif depth < 3 and isinstance(value, (list, tuple)):
            for item in value:
                visit(item, depth + 1)
        elif depth < 3 and isinstance(value, dict):
            for item in value.values():
                visit(item, depth + 1)

    visit(arguments, 0)
    return found


def _state_of(thing) -> dict:
    state = {"state_dict": thing.state_dict()}
    if isinstance(thing, torch.nn.Module):
        state["training"] = [module.training for module in thing.modules()]
    return state


def _restore(thing, state: dict) -> None:
    thing.load_state_dict(state["state_dict"])
    if isinstance(thing, torch.nn.Module):
        for module, training in zip(thing.modules(), state["training"]):
            module.training = training


class _Tee(io.TextIOBase):
    """Writes to the stream it wraps and keeps a copy."""

    def __init__(self, stream):
        self.stream, self.kept = stream, io.StringIO()

    def write(self, text):
        self.kept.write(text)
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()


@contextmanager
def _printing_kept():
    tee = _Tee(sys.stdout)
    sys.stdout = tee
    try:
        yield tee.kept
    finally:
        sys.stdout = tee.stream


# ---------------------------------------------------------------- the decorator

_calls = {"cell": None, "count": 0, "inside": False}


def _place() -> tuple:
    """(the cell execution's number, the number of remembered calls it has made so far)."""
    shell = sys.modules["IPython"].get_ipython()
    if _calls["cell"] != shell.execution_count:
        _calls.update(cell=shell.execution_count, count=0)
    _calls["count"] += 1
    return _calls["count"]


def remembered(function=None, *, unless_given=()):
    """Keep what ``function`` trains, so that a re-run of the notebook loads it instead (the module's docstring).

    A call that passes any keyword argument named in ``unless_given`` (e.g. a callback whose effects could not
    be replayed) runs as usual and is not kept.
    """
    if function is None:
        return functools.partial(remembered, unless_given=unless_given)

    @functools.wraps(function)
    def call(*args, **kwargs):
        folder = cache_folder()
        if folder is None or _calls["inside"] or any(kwargs.get(name) is not None for name in unless_given):
            return function(*args, **kwargs)
        code = _code_so_far()
        path = folder / f"{_key(function.__qualname__, _place(), code, _random_states())}.pt"
        trained = _trained_objects((args, kwargs))
        if path.exists() and not retraining():
            kept = _load(path, function.__qualname__)
            if kept is not None:
                for thing, state in zip(trained, kept["states"]):
                    _restore(thing, state)
                _set_random_states(kept["random"])
                print(kept["printed"], end="")
                print(f"{function.__qualname__}: loaded what it computed in {kept['seconds']:.1f} s on "
                      f"{kept['when']} {LOADED} {RETRAIN_VARIABLE}=1 to train again.")
                os.utime(path)
                return kept["returned"]
        started = time.perf_counter()
        _calls["inside"] = True
        try:
            with _printing_kept() as printed:
                returned = function(*args, **kwargs)
        finally:
            _calls["inside"] = False
        _store(path, {"returned": returned, "states": [_state_of(thing) for thing in trained],
                      "random": _random_states(), "printed": printed.getvalue(),
                      "seconds": time.perf_counter() - started, "when": time.strftime("%Y-%m-%d %H:%M")})
        return returned

    return call


def _load(path: Path, name: str):
    try:
        return torch.load(path, weights_only=False)
    except Exception as error:  # a file cut short, or a class that no longer exists
        print(f"{name}: the cache's copy could not be read ({type(error).__name__}: {error}); training again.")
        return None


def _store(path: Path, entry: dict) -> None:
    """Write ``entry`` whole or not at all, then keep the folder under ``LIMIT_BYTES``."""
    partial = path.with_suffix(f".{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(entry, partial)
        os.replace(partial, path)
    except Exception as error:  # a full disk, or a result that cannot be saved: the run goes on
        print(f"(not kept in the cache: {type(error).__name__}: {error})")
        partial.unlink(missing_ok=True)
        return
    entries = sorted(path.parent.glob("*.pt"), key=lambda p: p.stat().st_mtime, reverse=True)
    total = 0
    for entry_path in entries:
        total += entry_path.stat().st_size
        if total > LIMIT_BYTES and entry_path != path:
            entry_path.unlink(missing_ok=True)
