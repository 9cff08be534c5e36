"""The densities that section 9 of 01_elbo differentiates, for its linear-Gaussian toy model (a ``model`` with
``decoder_mean(z)`` and ``logvar``, as the notebook's ``LinearGaussianModel``): written with torch.distributions,
so that the section compares gradient estimators without repeating the exercises' own steps."""
import math

import torch
from torch.distributions import Normal


def log_likelihood(model, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """log p(x | z) of the toy model for each row of ``x`` (batch, 3) and ``z`` (batch, 2): shape (batch,)."""
    return Normal(model.decoder_mean(z), math.exp(0.5 * model.logvar)).log_prob(x).sum(-1)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))) for each row of ``z``, ``mu`` and ``logvar`` (batch, d): shape (batch,)."""
    return Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
