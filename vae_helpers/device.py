"""Pick the compute device, the number of CPU threads and seed every random number generator, in one
place each."""
import functools
import os
import random
from pathlib import Path

import numpy as np
import torch


def get_device() -> torch.device:
    """Return the best available device: CUDA, then Apple MPS, then CPU.

    Set ``VAE_COURSE_DEVICE`` (e.g. ``cpu``) to force one. Each device is made once (the machine's own when this
    module is imported) and returned by every call: an answer that calls this is judged "as on a GPU" with the
    notebook's chosen device, not with a device it made itself naming the CPU.
    """
    mps = getattr(torch.backends, "mps", None)
    return _device_named(os.environ.get("VAE_COURSE_DEVICE") or (
        "cuda" if torch.cuda.is_available() else "mps" if mps is not None and mps.is_available() else "cpu"))


@functools.lru_cache(maxsize=None)
def _device_named(name: str) -> torch.device:
    return torch.device(name)


get_device()


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (all devices) with ``seed``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA and MPS device


def cgroup_cpu_quota(proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")):
    """The CPU time this process's control groups allow, in CPUs (1.5 = one and a half), or None if unlimited.

    Binder, JupyterHub spawners and Kubernetes limit a notebook this way, while ``os.cpu_count()`` still
    reports every core of the machine. Reads cgroup v2 (``cpu.max``) and v1 (``cpu.cfs_quota_us``), at the
    process's own group and each group above it.
    """
    try:
        lines = Path(proc_cgroup).read_text().splitlines()
    except OSError:
        return None
    quotas = []
    for line in lines:
        _, controllers, group = line.split(":", 2)
        if controllers and "cpu" not in controllers.split(","):
            continue
        base = Path(root) if not controllers else next(
            (Path(root) / name for name in (controllers, "cpu") if (Path(root) / name).is_dir()), None)
        if base is None:
            continue
        folder = base / group.strip("/")
        for level in [folder, *folder.parents]:
            quotas.append(_quota_of(level, v2=not controllers))
            if level == base:
                break
    quotas = [q for q in quotas if q is not None]
    return min(quotas) if quotas else None


def _quota_of(folder: Path, v2: bool):
    try:
        if v2:
            limit, period = (folder / "cpu.max").read_text().split()
            return None if limit == "max" else int(limit) / int(period)
        limit = int((folder / "cpu.cfs_quota_us").read_text())
        return None if limit < 0 else limit / int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None


def usable_cpus() -> int:
    """The CPUs this process may really use: those it may run on, and no more than its CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return max(1, min(cpus, int(quota))) if quota is not None else cpus


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def use_usable_cpus() -> None:
    """One PyTorch thread per usable CPU (more threads than CPUs slow training several times over on a
    shared machine), unless OMP_NUM_THREADS or MKL_NUM_THREADS says how many."""
    if not any(os.environ.get(name) for name in THREAD_VARIABLES):
        torch.set_num_threads(usable_cpus())


def describe(device: torch.device) -> str:
    """The device as a setup line shows it: ``cpu (2 threads)``, ``cuda (NVIDIA H200)``."""
    if device.type == "cpu":
        threads = torch.get_num_threads()
        return f"cpu ({threads} thread{'s' if threads != 1 else ''})"
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return str(device)
