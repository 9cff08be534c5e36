import math

import pytest
import torch
from torch import nn

from vae_helpers.metrics import (floored_scale, importance_weighted_bound, negative_elbo, negative_log_likelihood,
                                 posterior)


class OneLatentModel(nn.Module):
    """Bernoulli pixels whose logits are linear in a 1-D latent: log p(x) is a 1-D integral."""

    def __init__(self, normal_encoder=False):
        super().__init__()
        self.weight = torch.tensor([2.0, -1.5, 0.5, 3.0]).view(1, 1, 2, 2)
        self.bias = torch.tensor([0.3, 0.0, -0.7, 0.2]).view(1, 1, 2, 2)
        self.normal_encoder = normal_encoder

    def encode(self, x):
        mu = (x.flatten(1) @ torch.tensor([[0.4], [-0.3], [0.1], [0.5]])) - 0.2
        logvar = torch.full_like(mu, -1.0)
        return torch.distributions.Normal(mu, torch.exp(0.5 * logvar)) if self.normal_encoder else (mu, logvar)

    def decode(self, z):
        return z.view(-1, 1, 1, 1) * self.weight + self.bias


def exact_negative_log_likelihood(model, x):
    """-log p(x), integrating p(x | z) p(z) over z on a fine grid."""
    z = torch.linspace(-8, 8, 20001, dtype=torch.float64)
    logits = model.decode(z).double().unsqueeze(1)            # (grid, 1, 1, 2, 2)
    targets = x.double().unsqueeze(0)                           # (1, batch, 1, 2, 2)
    log_px_z = (targets * torch.nn.functional.logsigmoid(logits)
                + (1 - targets) * torch.nn.functional.logsigmoid(-logits)).flatten(2).sum(-1)
    log_joint = log_px_z + torch.distributions.Normal(0.0, 1.0).log_prob(z).unsqueeze(1)
    log_px = torch.logsumexp(log_joint, 0) + math.log(z[1] - z[0])
    return float(-log_px.mean())


@pytest.fixture
def batches():
    x = torch.tensor([[1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 1.0]]).view(3, 1, 2, 2)
    return [(x, torch.zeros(3))]


@pytest.mark.parametrize("normal_encoder", [False, True])
def test_importance_sampled_likelihood_approaches_the_exact_one(batches, normal_encoder):
    torch.manual_seed(0)
    model = OneLatentModel(normal_encoder)
    exact = exact_negative_log_likelihood(model, batches[0][0])
    assert negative_log_likelihood(model, batches, k=20000) == pytest.approx(exact, abs=0.03)


def test_likelihood_is_tighter_than_the_elbo_and_improves_with_k(batches):
    torch.manual_seed(0)
    model = OneLatentModel()
    exact = exact_negative_log_likelihood(model, batches[0][0])
    elbo_runs = [negative_elbo(model, batches) for _ in range(2000)]
    k1_runs = [negative_log_likelihood(model, batches, k=1) for _ in range(2000)]
    k100 = sum(negative_log_likelihood(model, batches, k=100) for _ in range(50)) / 50
    mean_elbo, mean_k1 = sum(elbo_runs) / len(elbo_runs), sum(k1_runs) / len(k1_runs)
    assert mean_elbo == pytest.approx(mean_k1, abs=0.1), "k = 1 is the ELBO (with a sampled KL)"
    assert exact < k100 < mean_elbo - 0.1


def test_elbo_samples_z_rather_than_using_the_mean(batches):
    model = OneLatentModel()
    runs = {round(negative_elbo(model, batches), 6) for _ in range(5)}
    assert len(runs) > 1, "the ELBO must be evaluated with sampling on"


def test_posterior_accepts_both_encoder_conventions(batches):
    x = batches[0][0]
    a, b = posterior(OneLatentModel(False), x), posterior(OneLatentModel(True), x)
    assert torch.allclose(a.loc, b.loc) and torch.allclose(a.scale, b.scale)
    assert torch.allclose(a.scale, torch.full_like(a.scale, math.exp(-0.5))), "std is exp(0.5 * logvar)"


def test_metrics_run_the_model_in_eval_mode_and_restore_its_mode(batches):
    class RecordsMode(OneLatentModel):
        def encode(self, x):
            modes.append(self.training)
            return super().encode(x)

    modes, model = [], RecordsMode()
    for metric in (negative_elbo, negative_log_likelihood):
        model.train()
        metric(model, batches)
        assert model.training, f"{metric.__name__} must leave a training model in training mode"
    assert modes and not any(modes), "the metrics must evaluate in eval mode (dropout off)"


def test_likelihood_is_right_when_decoded_one_sample_at_a_time(batches):
    torch.manual_seed(3)
    model = OneLatentModel()
    exact = exact_negative_log_likelihood(model, batches[0][0])
    assert negative_log_likelihood(model, batches, k=5000, max_decoded=3) == pytest.approx(exact, abs=0.05)


def test_likelihood_decodes_at_most_max_decoded_images_at_once(batches):
    model = OneLatentModel()
    sizes = []
    decode = model.decode
    model.decode = lambda z: sizes.append(len(z)) or decode(z)
    negative_log_likelihood(model, batches, k=100, max_decoded=30)
    assert max(sizes) <= 30 and sum(sizes) == 100 * 3


def test_importance_weighted_bound_takes_any_proposal_and_reaches_log_p_of_each_image(batches):
    """A proposal other than the encoder's (a wide one here) still gives a bound that tends to log p(x)."""
    model, x = OneLatentModel(), batches[0][0]
    exact = [-exact_negative_log_likelihood(model, image.unsqueeze(0)) for image in x]
    wide = torch.distributions.Normal(torch.zeros(3, 1), torch.full((3, 1), 2.0))
    bound = importance_weighted_bound(model.decode, x, wide, k=20000, max_decoded=3000)
    assert bound.shape == (3,)
    assert bound.tolist() == pytest.approx(exact, abs=0.03)


def test_floored_scale_floors_each_pixel_s_and_carries_no_gradient():
    log_scale = torch.log(torch.tensor([0.01, 0.05, 0.2])).requires_grad_()
    s = floored_scale(log_scale, 0.05)
    assert torch.allclose(s, torch.tensor([0.05, 0.05, 0.2])) and not s.requires_grad
    assert torch.allclose(floored_scale(log_scale), torch.tensor([0.01, 0.05, 0.2]))
