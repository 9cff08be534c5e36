"""A training loop and an evaluation loop for any model and loss, with per-example means."""
import time

import torch

from .budget import run_mode
from .remember import remembered


def progress_bar(iterable, enabled: bool = True, **options):
    """``tqdm`` as a notebook widget when ipywidgets is there, else as plain text.

    Always off under nbgrader, whose saved outputs would only show the widget's placeholder.
    """
    try:
        import ipywidgets  # noqa: F401  (tqdm's widget bar needs it)
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm import tqdm
    return tqdm(iterable, disable=not enabled or run_mode() == "autograde", **options)


POSTFIX_EVERY = 20  # batches between updates of the progress bar's loss


class _PerExampleMeans:
    """Means over examples of each batch's scalar terms, weighting a batch by its size.

    The sums stay tensors on the model's device until read: reading a value back waits for the GPU.
    """

    def __init__(self):
        self.sums, self.seen = {}, 0

    def add(self, terms: dict, batch_size: int):
        self.seen += batch_size
        for name, value in terms.items():
            self.sums[name] = self.sums.get(name, 0.0) + value.detach() * batch_size

    def means(self) -> dict:
        if not self.seen:
            raise ValueError("the batches held no examples; check the dataset and the batch size.")
        return {name: float(total) / self.seen for name, total in self.sums.items()}


def _terms(loss_fn, model, x, y) -> dict:
    """``loss_fn(model, x, y)`` as a dict of terms; a plain tensor becomes ``{"loss": tensor}``."""
    terms = loss_fn(model, x, y)
    return {"loss": terms} if isinstance(terms, torch.Tensor) else terms


@remembered(unless_given=("after_epoch",))
def train(model: torch.nn.Module, loss_fn, batches, optimizer: torch.optim.Optimizer,
          epochs: int, progress: bool = True, report_every: int = 1, after_epoch=None) -> dict:
    """Train ``model`` for ``epochs`` passes over ``batches``; return the history.

    ``loss_fn(model, x, y)`` returns either the loss tensor to minimise, or a dict of
    scalar tensors whose ``"loss"`` entry is minimised and whose other entries (e.g.
    reconstruction and KL terms) are only recorded. The history maps every term to its
    mean over each epoch's examples: ``{"loss": [epoch 1, epoch 2, ...], ...}``. A line with the
    means is printed every ``report_every`` epochs and after the last; meanwhile a progress bar moves
    with every batch (one at a time: each epoch's goes when the epoch ends). ``after_epoch(epoch)``, if
    given, is called after each epoch (to measure the model as it trains).

    A notebook's re-run loads the trained model, the optimizer's state and the history from the cache
    (``vae_helpers.remember``); with ``after_epoch``, whose effects a re-run could not repeat, the call trains
    every time, unless the function around it is ``@remembered``.
    """
    history = {}
    for epoch in range(1, epochs + 1):
        model.train()
        started, epoch_means = time.perf_counter(), _PerExampleMeans()
        bar = progress_bar(batches, enabled=progress, desc=f"epoch {epoch}/{epochs}", leave=False)
        for step, (x, y) in enumerate(bar):
            terms = _terms(loss_fn, model, x, y)
            if "loss" not in terms:
                raise KeyError(f"loss_fn returned the terms {sorted(terms)}; it must include 'loss'.")
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimizer.step()
            epoch_means.add(terms, len(x))
            if not bar.disable and step % POSTFIX_EVERY == 0:
                bar.set_postfix(loss=f"{float(terms['loss'].detach()):.2f}", refresh=False)
        for name, mean in epoch_means.means().items():
            history.setdefault(name, []).append(mean)
        if after_epoch is not None:
            after_epoch(epoch)
        if epoch % report_every and epoch != epochs:
            continue
        summary = ", ".join(f"{name} {values[-1]:.2f}" for name, values in history.items())
        print(f"epoch {epoch}/{epochs}: {summary} ({time.perf_counter() - started:.1f} s)")
    return history


@torch.no_grad()
def evaluate(model: torch.nn.Module, loss_fn, batches) -> dict:
    """The mean over the examples of ``batches`` of every term ``loss_fn`` returns.

    ``loss_fn`` is one that ``train`` takes. The model runs in eval mode without gradients
    and is put back in the mode it was in; z is still sampled if the model samples it.
    Returns ``{"loss": ..., "kl": ...}`` as Python floats.
    """
    was_training = model.training
    model.eval()
    means = _PerExampleMeans()
    try:
        for x, y in batches:
            means.add(_terms(loss_fn, model, x, y), len(x))
    finally:
        model.train(was_training)
    return means.means()
