"""log_evidence_2d against integrals known in closed form."""
import math

import pytest
import torch

from vae_helpers.quadrature import log_evidence_2d

# A linear-Gaussian model with a 2-D latent: p(z) = N(0, I), p(x | z) = N(Wz + b, s² I), so p(x) = N(b, WWᵀ + s² I).
W = torch.tensor([[1.0, 0.9], [0.8, 1.0], [0.3, -0.2], [2.0, -1.0]], dtype=torch.float64)
B = torch.tensor([0.1, -0.2, 0.0, 0.5], dtype=torch.float64)
NOISE_VAR = 0.05
X = torch.tensor([[1.0, 1.2, 0.1, 0.3], [-2.0, -1.5, 0.4, -1.0], [4.0, 3.0, 0.0, 6.0]], dtype=torch.float64)


def linear_gaussian_log_joint(z):
    """log p(x, z) for z of shape (P, 3, 2), one column per image of X."""
    likelihood = torch.distributions.Normal(z @ W.T + B, math.sqrt(NOISE_VAR)).log_prob(X).sum(-1)
    return likelihood + torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)


def exact_log_evidence():
    covariance = W @ W.T + NOISE_VAR * torch.eye(4, dtype=torch.float64)
    return torch.distributions.MultivariateNormal(B, covariance).log_prob(X)


def posterior_moments():
    precision = torch.eye(2, dtype=torch.float64) + W.T @ W / NOISE_VAR
    covariance = torch.linalg.inv(precision)
    return (X - B) @ W @ covariance.T / NOISE_VAR, covariance.diagonal().sqrt().expand(len(X), 2)


def test_a_linear_gaussian_model_from_a_poor_first_guess():
    """The posteriors are narrow (std about 0.1) and correlated; the first guess is off by several stds."""
    mean, std = posterior_moments()
    guess = mean + torch.tensor([0.4, -0.3], dtype=torch.float64)
    result = log_evidence_2d(linear_gaussian_log_joint, guess, 2.5 * std)
    assert torch.allclose(result.log_evidence, exact_log_evidence(), atol=1e-6, rtol=0)
    assert torch.allclose(result.mean, mean, atol=1e-6)
    assert torch.allclose(result.std, std, atol=1e-4)
    assert result.edge_mass.max() < 1e-8
    assert (result.log_evidence - result.coarse).abs().max() < 1e-3


def test_the_prior_as_a_first_guess_in_float32():
    """Codes reach log_joint in center's dtype; the evidence is still summed in float64."""
    seen = []

    def log_joint(z):
        seen.append(z.dtype)
        return linear_gaussian_log_joint(z.double())

    result = log_evidence_2d(log_joint, torch.zeros(3, 2), torch.ones(3, 2), points=96)
    assert set(seen) == {torch.float32}
    assert result.log_evidence.dtype == torch.float64
    assert torch.allclose(result.log_evidence, exact_log_evidence(), atol=1e-4, rtol=0)


def mixture_log_joint(narrow):
    """exp(log_joint) = 5 · (0.3 N(a, narrow² I) + 0.7 N(b, 0.2² I)), modes 2.5 apart: its integral is 5."""
    a, b = torch.tensor([-1.0, 0.5], dtype=torch.float64), torch.tensor([1.5, 1.0], dtype=torch.float64)

    def log_joint(z):
        first = torch.distributions.Normal(a, narrow).log_prob(z).sum(-1) + math.log(0.3)
        second = torch.distributions.Normal(b, 0.2).log_prob(z).sum(-1) + math.log(0.7)
        return torch.logaddexp(first, second) + math.log(5.0)

    return log_joint, torch.stack([a, b])


def test_two_separate_modes_from_either_one():
    log_joint, guess = mixture_log_joint(narrow=0.15)
    result = log_evidence_2d(log_joint, guess, torch.full((2, 2), 0.3, dtype=torch.float64), points=96)
    assert torch.allclose(result.log_evidence, torch.full((2,), math.log(5.0), dtype=torch.float64), atol=1e-4)
    assert (result.log_evidence - result.coarse).abs().max() < 1e-2  # cells of 0.36 on a mode of std 0.15


def test_a_mode_narrower_than_the_cells_shows_in_the_check():
    """One box for both modes: cells of 0.18 cannot resolve a mode of std 0.05, and coarse and fine disagree."""
    log_joint, guess = mixture_log_joint(narrow=0.05)
    result = log_evidence_2d(log_joint, guess, torch.full((2, 2), 0.3, dtype=torch.float64), points=96)
    assert (result.log_evidence - result.coarse).abs().min() > 1e-2


def test_a_coarse_grid_says_so():
    """Too few cells for the posterior: the coarse and fine integrals disagree, and the check shows it."""
    mean, std = posterior_moments()
    result = log_evidence_2d(linear_gaussian_log_joint, mean, std, points=4, half_width=7.0)
    assert (result.log_evidence - result.coarse).abs().max() > 1e-2


@pytest.mark.parametrize("points", [0, 3, 7])
def test_points_must_be_even_and_at_least_four(points):
    with pytest.raises(ValueError, match="points"):
        log_evidence_2d(linear_gaussian_log_joint, torch.zeros(3, 2), torch.ones(3, 2), points=points)


def test_center_and_scale_must_be_pairs():
    with pytest.raises(ValueError, match=r"shape \(batch, 2\)"):
        log_evidence_2d(linear_gaussian_log_joint, torch.zeros(3, 3), torch.ones(3, 3))
