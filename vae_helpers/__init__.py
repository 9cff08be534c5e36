"""Helpers that the course notebooks share: device and seeds, run budgets, data, training,
figures and the checks behind the visible tests. One module per purpose."""
from .budget import choose, run_mode
from .data import Batches, load_images
from .device import get_device, seed_everything
from .training import evaluate, train

__all__ = ["Batches", "choose", "evaluate", "get_device", "load_images", "run_mode", "seed_everything", "train"]
from . import integrity  # last: it records the modules above as the notebook starts
