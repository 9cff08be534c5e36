"""A training loop for any model and loss, with a progress bar and a per-epoch history."""
import time

import torch

from .budget import run_mode


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


def train(model: torch.nn.Module, loss_fn, batches, optimizer: torch.optim.Optimizer,
          epochs: int, progress: bool = True) -> dict:
    """Train ``model`` for ``epochs`` passes over ``batches``; return the history.

    ``loss_fn(model, x, y)`` returns either the loss tensor to minimise, or a dict of
    scalar tensors whose ``"loss"`` entry is minimised and whose other entries (e.g.
    reconstruction and KL terms) are only recorded. The history maps every term to its
    mean over each epoch's examples: ``{"loss": [epoch 1, epoch 2, ...], ...}``.
    """
    history = {}
    for epoch in range(1, epochs + 1):
        model.train()
        started, seen, totals = time.perf_counter(), 0, {}
        bar = progress_bar(batches, enabled=progress, desc=f"epoch {epoch}/{epochs}", leave=False)
        for step, (x, y) in enumerate(bar):
            terms = loss_fn(model, x, y)
            if isinstance(terms, torch.Tensor):
                terms = {"loss": terms}
            if "loss" not in terms:
                raise KeyError(f"loss_fn returned the terms {sorted(terms)}; it must include 'loss'.")
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimizer.step()
            n = len(x)
            seen += n
            # Sums stay tensors on the model's device: reading a value back waits for the GPU.
            for name, value in terms.items():
                totals[name] = totals.get(name, 0.0) + value.detach() * n
            if not bar.disable and step % POSTFIX_EVERY == 0:
                bar.set_postfix(loss=f"{float(terms['loss'].detach()):.2f}", refresh=False)
        for name, total in totals.items():
            history.setdefault(name, []).append(float(total) / seen)
        summary = ", ".join(f"{name} {values[-1]:.2f}" for name, values in history.items())
        print(f"epoch {epoch}/{epochs}: {summary} ({time.perf_counter() - started:.1f} s)")
    return history
