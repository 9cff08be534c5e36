"""Test-suite settings, applied before any notebook kernel starts.

Kernels started by nbval and nbgrader inherit this process's environment, so the
notebooks run in fast mode on scikit-learn's bundled digits (set either variable
yourself to run the suite on other settings, e.g. VAE_COURSE_DATASET=mnist).
"""
import os
import shutil
from pathlib import Path

import pytest
import torch

from support.course import REPO, nbgrader
from support.tiers import TIERS

os.environ.setdefault("VAE_COURSE_FAST", "1")
os.environ.setdefault("VAE_COURSE_DATASET", "digits")
os.environ.setdefault("MPLBACKEND", "Agg")
# Two pytest workers share two cores: one PyTorch thread per process, in the workers and in every
# kernel they start, so that their threads do not fight over the cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)


def pytest_collection_modifyitems(items):
    """Mark every test with its module's tiers, so that `-m "not slow"` is the quick loop."""
    for item in items:
        path = Path(str(item.fspath))
        tiers = ("notebooks", "slow") if path.suffix == ".ipynb" else TIERS.get(path.stem, ("unit",))
        for tier in tiers:
            item.add_marker(tier)


@pytest.fixture
def clean_env(monkeypatch):
    """No course variables set: the defaults a student gets."""
    for name in ("VAE_COURSE_FAST", "VAE_COURSE_DATASET", "VAE_COURSE_DATA", "VAE_COURSE_DEVICE",
                 "NBGRADER_EXECUTION"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    """A throw-away course folder: the repository's config, solutions and hidden tests, a fresh gradebook."""
    root = tmp_path_factory.mktemp("course")
    shutil.copy(REPO / "nbgrader_config.py", root)
    for folder in ("solutions", "hidden_tests"):
        shutil.copytree(REPO / folder, root / folder)
    nbgrader(root, "generate_assignment", "*", "--force")
    return root
