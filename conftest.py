"""Settings applied before any notebook kernel starts, for the suite in tests/ and for a notebook run cell by cell
(`python -m pytest solutions/NN_name`, nbval).

Kernels started by nbval and nbgrader inherit this process's environment, so the notebooks run in fast mode on
scikit-learn's bundled digits (set either variable yourself to run on other settings, e.g.
VAE_COURSE_DATASET=mnist).
"""
import os

import torch

os.environ.setdefault("VAE_COURSE_FAST", "1")
os.environ.setdefault("VAE_COURSE_DATASET", "digits")
os.environ.setdefault("MPLBACKEND", "Agg")
# Two pytest workers share two cores: one PyTorch thread per process, in the workers and in every
# kernel they start, so that their threads do not fight over the cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
