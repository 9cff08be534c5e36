"""log p(x) of a model with a 2-D latent space, by numerical quadrature on a grid in z.

With two latent dimensions, log p(x) = log ∫ p(x, z) dz needs no bound: sum p(x, z) over a fine
grid that covers the posterior and multiply by the area of one cell (the midpoint rule). Each image
gets a grid of its own, placed in two passes: a coarse, wide one around a guess (the encoder's q, say),
whose weights give the posterior's mean and spread, then coarse ones around those until the box holds
the posterior, then a fine one on the same box. ``coarse`` in the
result is the same integral at twice the fine grid's spacing, so that every call says how much halving
the spacing moved it.
"""
from typing import Callable, NamedTuple

import torch

from .remember import remembered


class Quadrature(NamedTuple):
    """The result of ``log_evidence_2d``, each of shape (batch,) or (batch, 2)."""
    log_evidence: torch.Tensor   # log p(x), float64, on the fine grid
    coarse: torch.Tensor         # the same on a grid of the same box at twice the spacing (the convergence check)
    mean: torch.Tensor           # the posterior mean E[z | x], from the grid's weights
    std: torch.Tensor            # the posterior standard deviation of each coordinate
    edge_mass: torch.Tensor      # the posterior's mass in the grid's outermost ring of cells (should be ~0)


def _grid_pass(log_joint, center, scale, half_width, points, max_points, dtype):
    """One grid of points × points cells per image, center ± half_width · scale: log ∫, mean, std, edge mass."""
    batch = len(center)
    steps = (torch.arange(points, dtype=torch.float64) + 0.5) / points * 2 - 1  # cell midpoints in (-1, 1)
    t = torch.stack(torch.meshgrid(steps, steps, indexing="ij"), -1).view(-1, 2).to(center.device)  # (P, 2)
    spacing = 2 * half_width * scale / points                                                      # (batch, 2)
    z = center + half_width * scale * t.unsqueeze(1)                                                # (P, batch, 2)
    # float64 codes, so that the grid's spacing is exact; log_joint gets them in the caller's dtype
    chunk = max(1, max_points // batch)
    log_f = torch.cat([log_joint(part.to(dtype)).double() for part in z.split(chunk)])             # (P, batch)
    log_cell = spacing.log().sum(-1)
    log_evidence = torch.logsumexp(log_f, 0) + log_cell
    weights = torch.softmax(log_f, 0).unsqueeze(-1)                                                 # (P, batch, 1)
    mean = (weights * z).sum(0)
    std = (weights * (z - mean) ** 2).sum(0).sqrt()
    edge = (t.abs().amax(-1) > 1 - 2 / points).view(-1, 1, 1)
    return log_evidence, mean, std, (weights * edge).sum((0, 2)), spacing


@remembered  # thousands of decoder evaluations per image: a notebook's re-run loads the result
@torch.no_grad()
def log_evidence_2d(log_joint: Callable[[torch.Tensor], torch.Tensor], center: torch.Tensor, scale: torch.Tensor,
                    points: int = 48, half_width: float = 7.0, search_width: float = 12.0,
                    edge_tolerance: float = 1e-4, max_passes: int = 5, max_points: int = 2_000) -> Quadrature:
    """log p(x) = log ∫ exp(log_joint(z)) dz for each image of a batch, z in two dimensions.

    ``log_joint(z)`` takes codes of shape (P, batch, 2), one column per image, and returns log p(x, z) of
    shape (P, batch). ``center`` and ``scale`` (batch, 2) are a first guess of each posterior's mean and
    standard deviation. A first grid of (points/2)² cells spans center ± search_width · scale; the next
    spans the posterior's mean ± half_width · its standard deviation as the grid before measured them,
    until the outermost ring of cells holds at most ``edge_tolerance`` of the posterior's mass (at most
    ``max_passes`` grids). The fine grid, points × points cells, spans that last box, and ``coarse`` is
    the integral on the same box in (points/2)² cells (midpoint rule).
    At most ``max_points`` codes go to ``log_joint`` at once, in ``center``'s dtype (a decoder's 784 logits of
    2,000 codes take 6 MB; the result does not depend on it); the sums run in float64.
    """
    if center.shape[-1] != 2 or center.shape != scale.shape:
        raise ValueError(f"log_evidence_2d: center and scale must both have shape (batch, 2), got "
                         f"{tuple(center.shape)} and {tuple(scale.shape)}.")
    if points < 4 or points % 2:
        raise ValueError(f"log_evidence_2d: points is the number of cells per side of the fine grid and must be "
                         f"even and >= 4, got {points}.")
    dtype, center, scale = center.dtype, center.double(), scale.double()
    box, searching = (center, scale, search_width), True
    for _ in range(max_passes):
        coarse, mean, std, edge_mass, spacing = _grid_pass(log_joint, *box, points // 2, max_points, dtype)
        outgrown = torch.ones_like(edge_mass, dtype=torch.bool) if searching else edge_mass > edge_tolerance
        if not outgrown.any():
            break  # each box, around its posterior's own moments, holds all but a trace of it
        std = torch.maximum(std, spacing / 2)  # a posterior narrower than one cell still gets a box of its own
        redo = outgrown.unsqueeze(-1)
        box = (torch.where(redo, mean, box[0]), torch.where(redo, std, box[1]), half_width)
        searching = False
    else:
        coarse = _grid_pass(log_joint, *box, points // 2, max_points, dtype)[0]
    log_evidence, mean, std, edge_mass, _ = _grid_pass(log_joint, *box, points, max_points, dtype)
    return Quadrature(log_evidence, coarse, mean, std, edge_mass)


__all__ = ["Quadrature", "log_evidence_2d"]
