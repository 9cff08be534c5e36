"""Test-set measures of a trained VAE with Bernoulli pixels, in nats per image, and the scale a Gaussian
decoder uses (``floored_scale``).

A model needs ``encode(x)``, returning ``(mu, logvar)`` or a ``torch.distributions.Normal``,
and ``decode(z)``, returning one logit per pixel.
"""
import math

import torch
import torch.nn.functional as F
from torch.distributions import Normal

from .remember import remembered
from .training import evaluate


def posterior(model, x) -> Normal:
    """q(z | x) as a ``Normal``, whichever of the two encoder conventions the model follows."""
    encoded = model.encode(x)
    if isinstance(encoded, Normal):
        return encoded
    mu, logvar = encoded
    return Normal(mu, torch.exp(0.5 * logvar))


def _log_bernoulli(x, logits):
    """log p(x | z) summed over pixels; ``logits`` has x's shape, maybe after sample dimensions."""
    return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none") \
        .flatten(logits.dim() - x.dim() + 1).sum(-1)


def negative_elbo(model, batches) -> float:
    """Mean negative ELBO over the batches, with z sampled from q(z | x) (not its mean)."""
    def batch_negative_elbo(model, x, _):
        q = posterior(model, x)
        logits = model.decode(q.sample()).reshape(x.shape)
        kl = torch.distributions.kl_divergence(q, Normal(torch.zeros_like(q.loc), torch.ones_like(q.scale)))
        return (-_log_bernoulli(x, logits) + kl.flatten(1).sum(1)).mean()

    return evaluate(model, batch_negative_elbo, batches)["loss"]


def importance_weighted_bound(decode, x, q: Normal, k: int, max_decoded: int = 2048) -> torch.Tensor:
    """The k-sample importance-weighted bound L_k of each image of ``x``, with ``q`` as the proposal.

    ``decode(z)`` gives Bernoulli logits; ``q`` is a ``Normal`` over the codes, one row per image. At most
    ``max_decoded`` images are decoded at once, which bounds the memory whatever k. Shape (batch,).
    """
    samples_at_once = max(1, max_decoded // len(x))
    log_weights = []
    for start in range(0, k, samples_at_once):
        z = q.sample((min(samples_at_once, k - start),))  # (samples, batch, latent)
        logits = decode(z.flatten(0, 1)).reshape(len(z), *x.shape)
        prior = Normal(torch.zeros_like(z), torch.ones_like(z))
        log_weights.append(_log_bernoulli(x, logits) + prior.log_prob(z).sum(-1) - q.log_prob(z).sum(-1))
    return torch.logsumexp(torch.cat(log_weights), dim=0) - math.log(k)


@remembered  # k decodings of thousands of test images take seconds: a notebook's re-run loads the figure
def negative_log_likelihood(model, batches, k: int = 100, max_decoded: int = 2048) -> float:
    """Mean importance-sampled estimate of -log p(x), with k samples from q(z | x) per image.

    It is the negative of the k-sample importance-weighted bound, so it lies below the negative
    ELBO and approaches -log p(x) as k grows. At most ``max_decoded`` images are decoded at once,
    which bounds the memory whatever k and the batch size.
    """
    def batch_negative_log_likelihood(model, x, _):
        return -importance_weighted_bound(model.decode, x, posterior(model, x), k, max_decoded).mean()

    return evaluate(model, batch_negative_log_likelihood, batches)["loss"]


def floored_scale(log_scale: torch.Tensor, min_scale: float = 0.0) -> torch.Tensor:
    """The scale s of a Gaussian decoder whose log s is ``log_scale`` (one value, or one per pixel), floored at
    ``min_scale`` pixel by pixel as notebook 02's ``gaussian_nll`` floors it, without gradients: for its tables
    and plots."""
    return torch.clamp(torch.exp(log_scale.detach()), min=min_scale)
