"""Helpers that the course notebooks share: device and seeds, run budgets, data, training,
figures and the checks behind the visible tests. One module per purpose."""
from .budget import choose, run_mode
from .data import Batches, load_images
from .device import describe, get_device, seed_everything, use_usable_cpus
from .plots import give_shown_figures_alt_text
from .remember import remembered
from .training import evaluate, progress_bar, train
from .tracebacks import show_errors_without_helper_frames

use_usable_cpus()
show_errors_without_helper_frames()
give_shown_figures_alt_text()
__all__ = ["Batches", "choose", "describe", "evaluate", "get_device", "load_images", "progress_bar", "remembered",
           "run_mode", "seed_everything", "train"]
