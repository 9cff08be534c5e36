"""Test-suite settings, applied before any notebook kernel starts.

Kernels started by nbval and nbgrader inherit this process's environment, so the
notebooks run in fast mode on scikit-learn's bundled digits (set either variable
yourself to run the suite on other settings, e.g. VAE_COURSE_DATASET=mnist).
"""
import os
from pathlib import Path

import pytest

os.environ.setdefault("VAE_COURSE_FAST", "1")
os.environ.setdefault("VAE_COURSE_DATASET", "digits")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(p.name for p in (REPO / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())


@pytest.fixture
def clean_env(monkeypatch):
    """No course variables set: the defaults a student gets."""
    for name in ("VAE_COURSE_FAST", "VAE_COURSE_DATASET", "VAE_COURSE_DATA", "VAE_COURSE_DEVICE",
                 "NBGRADER_EXECUTION"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch
