"""Hidden tests of 01_elbo: the KL to the prior, the reparameterisation trick, the log-likelihoods, the ELBO
and the importance-weighted bound, the last two on linear Gaussian toy models whose evidence is exact."""
import math

import torch

from vae_helpers.checks import (expect_close, expect_equal, expect_finite, expect_gradient, expect_on_device,
                                expect_shape, expect_uncorrelated)
from vae_helpers.exercises import elbo as checks  # noqa: F401 (visible checks)

DEFAULT_DTYPE = torch.float64  # as the notebook's setup cell sets it


class Toy:
    """A linear Gaussian model, z ~ N(0, I), x | z ~ N(W z + b, exp(logvar) I), built here so that grading
    relies on no notebook object."""

    def __init__(self, logvar, W=((0.0, 2.0), (1.0, 0.0), (0.0, -1.0)), b=(1.0, 0.0, -0.5)):
        self.W = torch.tensor(W, dtype=torch.float64)
        self.b = torch.tensor(b, dtype=torch.float64)
        self.logvar = logvar

    def decoder_mean(self, z):
        return z @ self.W.T + self.b

    def log_evidence(self, x):
        covariance = self.W @ self.W.T + math.exp(self.logvar) * torch.eye(len(self.b), dtype=torch.float64)
        return torch.distributions.MultivariateNormal(self.b, covariance).log_prob(x)


def lent_toy(student, logvar, **shape):
    """A toy model the student's function may use: its W, b, logvar and decoder_mean (z @ W.T + b)."""
    return student.lend(Toy(logvar, **shape), values=["W", "b", "logvar"], affine={"decoder_mean": ("W", "b")})


def notebook_objects(student):
    """The notebook's toy model, its four observations and their exact posterior, made here."""
    toy = lent_toy(student, math.log(0.3), W=((1.5, 0.0), (0.0, 1.0), (1.0, 0.0)), b=(0.5, -1.0, 0.0))
    torch.manual_seed(0)  # the notebook's seed_everything(0) before toy.sample(4)
    x_toy = toy.decoder_mean(torch.randn(4, 2, dtype=torch.float64)) \
        + math.exp(0.5 * toy.logvar) * torch.randn(4, 3, dtype=torch.float64)
    post_mu, post_logvar = exact_posterior(toy, x_toy)
    return {"toy": toy, "x_toy": x_toy, "post_mu": post_mu, "post_logvar": post_logvar}


def exact_log_evidence(model, x):
    """log p(x) of the toy ``model``, from its Gaussian marginal."""
    W, s2 = model.W, math.exp(model.logvar)
    covariance = W @ W.T + s2 * torch.eye(3, dtype=torch.float64)
    d = x - model.b
    return -0.5 * (3 * math.log(2 * math.pi) + torch.logdet(covariance) + (d @ torch.linalg.inv(covariance) * d).sum(1))


def exact_elbo(model, x, qm, qv):
    """The ELBO of the toy ``model`` for q = N(qm, exp(qv)), in closed form."""
    W, s2 = model.W, math.exp(model.logvar)
    mean = qm @ W.T + model.b
    reconstruction = -1.5 * (math.log(2 * math.pi) + model.logvar) \
        - 0.5 * ((x - mean) ** 2 + torch.exp(qv) @ (W ** 2).T).sum(1) / s2
    return reconstruction - 0.5 * (torch.exp(qv) + qm ** 2 - 1 - qv).sum(1)


def exact_posterior(model, x):
    """The mean and log-variance of p(z | x) for each observation ``x`` of the toy ``model``."""
    noise_var = math.exp(model.logvar)
    var = 1.0 / (1.0 + (model.W ** 2).sum(0) / noise_var)
    mean = var * ((x - model.b) @ model.W) / noise_var
    return mean, torch.log(var).expand_as(mean)


def reference_kl(mu, logvar):
    return 0.5 * (torch.exp(logvar) + mu * mu - 1.0 - logvar).sum(1)


def reference_reparameterize(mu, logvar):
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def reference_gaussian(x, mean, logvar):
    logvar = torch.as_tensor(logvar, dtype=x.dtype)
    return (-0.5 * (math.log(2 * math.pi) + logvar + (x - mean) ** 2 / torch.exp(logvar))).expand_as(x).flatten(1).sum(1)


ANSWERS = {"kl_to_standard_normal": reference_kl, "reparameterize": reference_reparameterize,
           "gaussian_log_likelihood": reference_gaussian}


def test_kl_to_standard_normal(kl_to_standard_normal):
    g = torch.Generator().manual_seed(11)
    mu = torch.randn(7, 3, generator=g, dtype=torch.float64) * 2
    logvar = torch.randn(7, 3, generator=g, dtype=torch.float64) * 1.5
    expected = 0.5 * (torch.exp(logvar) + mu * mu - 1.0 - logvar).sum(1)
    got = kl_to_standard_normal(mu.clone(), logvar.clone())
    expect_shape("KL must have shape (batch,)", got, (7,))
    expect_close("KL differs from the closed form on random inputs", got, expected, atol=1e-8, rtol=1e-6)
    got32 = kl_to_standard_normal(mu.float(), logvar.float())
    expect_close("KL wrong in float32", got32.double(), expected, atol=1e-4, rtol=1e-4)
    m = mu.clone().requires_grad_(True)
    kl_to_standard_normal(m, logvar).sum().backward()
    expect_close("dKL/dmu on random inputs (it must equal mu)", m.grad, mu, atol=1e-8, rtol=1e-6)
    v = logvar.clone().requires_grad_(True)
    expect_close("dKL/dlogvar on random inputs (it must equal (exp(logvar) - 1) / 2)",
                 expect_gradient("the KL as a function of logvar", kl_to_standard_normal(mu, v), v),
                 (logvar.exp() - 1) / 2, atol=1e-8, rtol=1e-6)


def test_reparameterize(reparameterize):
    torch.manual_seed(2024)
    mu = torch.tensor([[-1.0, 0.5]]).repeat(50_000, 1).requires_grad_(True)
    logvar = torch.tensor([[0.0, math.log(0.25)]]).repeat(50_000, 1).requires_grad_(True)
    z = reparameterize(mu, logvar)
    expect_shape("z must have the shape of mu", z, (50_000, 2))
    expect_gradient("z (no .sample(), no torch.normal, no .detach())", z, mu)
    grad_mu, grad_logvar = torch.autograd.grad(z.sum(), [mu, logvar])
    expect_close("dz/dmu must be 1", grad_mu, torch.ones_like(grad_mu), atol=1e-8, rtol=1e-5)
    expect_close("dz/dlogvar must be (z - mu) / 2", grad_logvar, 0.5 * (z - mu).detach(), atol=1e-6, rtol=1e-5)
    expect_close("mean of z for mu = [-1, 0.5]", z.mean(0), [-1.0, 0.5], atol=0.02, rtol=0)
    expect_close("std of z for logvar = [0, log 0.25]", z.std(0), [1.0, 0.5], atol=0.02, rtol=0)
    expect_uncorrelated("correlation between the two entries of z (each entry needs its own noise)", z, atol=0.05)
    expect_equal("two calls give the same z (each call must draw fresh noise)",
                 torch.equal(reparameterize(mu, logvar), reparameterize(mu, logvar)), False)
    expect_on_device("reparameterize(mu, logvar) for mu and logvar of shape (3, 5)", reparameterize,
                     torch.zeros(3, 5), torch.zeros(3, 5), shape=(3, 5))


def test_log_likelihoods(bernoulli_log_likelihood, gaussian_log_likelihood):
    torch.manual_seed(2024)
    g = torch.Generator().manual_seed(5)
    x = (torch.rand(4, 1, 6, 6, generator=g, dtype=torch.float64) > 0.5).double()
    logits = torch.randn(4, 1, 6, 6, generator=g, dtype=torch.float64) * 3
    p = 1 / (1 + torch.exp(-logits))
    expected = (x * torch.log(p) + (1 - x) * torch.log(1 - p)).flatten(1).sum(1)
    got = bernoulli_log_likelihood(x, logits)
    expect_shape("Bernoulli log-likelihood must have shape (batch,)", got, (4,))
    expect_close("Bernoulli log-likelihood wrong on random logits", got, expected, atol=1e-6, rtol=1e-6)
    soft = torch.rand(4, 1, 6, 6, generator=g, dtype=torch.float64)
    expected_soft = (soft * torch.log(p) + (1 - soft) * torch.log(1 - p)).flatten(1).sum(1)
    expect_close("Bernoulli log-likelihood wrong for grey-level targets", bernoulli_log_likelihood(soft, logits),
                 expected_soft, atol=1e-6, rtol=1e-6)
    expect_finite("Bernoulli log-likelihood with logits up to about +-1000", bernoulli_log_likelihood(x, logits * 100))
    far = logits * 100
    expect_close("Bernoulli log-likelihood with logits up to about +-1000",
                 bernoulli_log_likelihood(x, far), (x * far - torch.nn.functional.softplus(far)).flatten(1).sum(1),
                 atol=1e-6, rtol=1e-9)
    x = torch.randn(5, 3, generator=g, dtype=torch.float64)
    mean = torch.randn(5, 3, generator=g, dtype=torch.float64)
    logvar = torch.randn(5, 3, generator=g, dtype=torch.float64)
    expected = (-0.5 * (math.log(2 * math.pi) + logvar + (x - mean) ** 2 / torch.exp(logvar))).sum(1)
    got = gaussian_log_likelihood(x, mean, logvar)
    expect_shape("Gaussian log-likelihood must have shape (batch,)", got, (5,))
    expect_close("Gaussian log-likelihood wrong on random inputs", got, expected, atol=1e-6, rtol=1e-6)
    expected = (-0.5 * (math.log(2 * math.pi) - 1.0 + (x - mean) ** 2 / math.exp(-1.0))).sum(1)
    expect_close("Gaussian log-likelihood wrong with a scalar logvar", gaussian_log_likelihood(x, mean, -1.0), expected,
                 atol=1e-6, rtol=1e-6)
    expected = (-0.5 * (math.log(2 * math.pi) + logvar[:1] + x ** 2 / torch.exp(logvar[:1]))).sum(1)
    expect_close("Gaussian log-likelihood wrong with a broadcast logvar", gaussian_log_likelihood(x, 0.0, logvar[:1]),
                 expected, atol=1e-6, rtol=1e-6)
    images = torch.randn(3, 1, 4, 4, generator=g, dtype=torch.float64)
    mean = torch.randn(3, 1, 4, 4, generator=g, dtype=torch.float64)
    expected = (-0.5 * (math.log(2 * math.pi) - 0.5 + (images - mean) ** 2 / math.exp(-0.5))).flatten(1).sum(1)
    expect_close("Gaussian log-likelihood of images of shape (3, 1, 4, 4) (sum over every dimension but the batch)",
                 gaussian_log_likelihood(images, mean, -0.5), expected, atol=1e-6, rtol=1e-6)
    far = torch.tensor([[-40.0, 12.0, 35.5]], dtype=torch.float64)  # as the importance-weighted bound meets
    expected = -0.5 * (3 * (math.log(2 * math.pi) + math.log(0.5)) + ((far - 1.0) ** 2).sum(1) / 0.5)
    expect_close("Gaussian log-likelihood in float64 far from the mean (about -2,900): computed in float64 throughout",
                 gaussian_log_likelihood(far, 1.0, math.log(0.5)), expected, atol=1e-7, rtol=0)
    logits = logits.clone().requires_grad_()
    expect_close("the gradient of the Bernoulli log-likelihood in the logits (x - sigmoid(logits))",
                 expect_gradient("the Bernoulli log-likelihood as a function of the logits",
                                 bernoulli_log_likelihood(soft, logits), logits),
                 soft - torch.sigmoid(logits.detach()), atol=1e-6, rtol=1e-6)
    decoded = mean.clone().requires_grad_()
    log_variance = torch.randn(3, 1, 4, 4, generator=g, dtype=torch.float64).requires_grad_()
    ll = gaussian_log_likelihood(images, decoded, log_variance)
    variance, error = log_variance.detach().exp(), images - mean
    expect_close("the gradient of the Gaussian log-likelihood in its mean ((x - mean) / variance)",
                 expect_gradient("the Gaussian log-likelihood as a function of its mean", ll, decoded),
                 error / variance, atol=1e-6, rtol=1e-6)
    expect_close("the gradient of the Gaussian log-likelihood in its log-variance (((x - mean)^2 / variance - 1) / 2)",
                 expect_gradient("the Gaussian log-likelihood as a function of its log-variance", ll, log_variance),
                 (error ** 2 / variance - 1) / 2, atol=1e-6, rtol=1e-6)


def test_elbo(elbo, student):
    model = lent_toy(student, math.log(0.5))
    torch.manual_seed(2024)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 3, generator=g, dtype=torch.float64) * 2
    qm = torch.randn(3, 2, generator=g, dtype=torch.float64)
    qv = torch.randn(3, 2, generator=g, dtype=torch.float64) * 0.5 - 1
    exact = exact_elbo(model, x, qm, qv)
    # many samples at little cost: 5,000 copies of each row x 4 samples = 20,000 samples per row
    copies = 5_000
    got = elbo(x.repeat(copies, 1), qm.repeat(copies, 1), qv.repeat(copies, 1), model, n_samples=4)
    expect_shape(f"ELBO of {copies * 3} observations must have shape (batch,)", got, (copies * 3,))
    got = got.view(copies, 3).mean(0)
    expect_close("ELBO differs from its exact value for random q", got, exact, atol=0.16, rtol=0)  # 4 standard errors
    pm, pv = exact_posterior(model, x)
    at_posterior = elbo(x.repeat(copies, 1), pm.repeat(copies, 1), pv.repeat(copies, 1), model, n_samples=4).view(copies, 3).mean(0)
    expect_close("ELBO must reach log p(x) at the posterior", at_posterior, exact_log_evidence(model, x), atol=0.03, rtol=0)
    single = elbo(x.repeat(4000, 1), qm.repeat(4000, 1), qv.repeat(4000, 1), model, n_samples=1).view(4000, 3).mean(0)
    expect_close("ELBO with n_samples=1 must be unbiased", single, exact, atol=0.4, rtol=0)  # 4 standard errors
    qm_many = qm.repeat(20_000, 1).requires_grad_(True)  # 20,000 copies x 4 samples = 80,000 samples per row
    qv_many = qv.repeat(20_000, 1).requires_grad_(True)
    estimate = elbo(x.repeat(20_000, 1), qm_many, qv_many, model, n_samples=4)
    grad = expect_gradient("the ELBO in q_mu", estimate, qm_many)
    exact_grad = (x - model.decoder_mean(qm)) @ model.W / math.exp(model.logvar) - qm
    expect_close("gradient of the ELBO in q_mu is wrong", grad.view(20_000, 3, 2).mean(0), exact_grad, atol=0.12, rtol=1e-5)
    grad = expect_gradient("the ELBO in q_logvar (the draw must carry gradients to it: nothing detached)", estimate,
                           qv_many)
    # E log p(x|z) = -0.5 (|x - W mu - b|^2 + sum_j e^qv_j |W_j|^2) / s^2 + const, minus the KL's 0.5 (e^qv - 1)
    exact_grad = -0.5 * qv.exp() * (model.W ** 2).sum(0) / math.exp(model.logvar) - 0.5 * (qv.exp() - 1)
    expect_close("gradient of the ELBO in q_logvar is wrong (the draw must carry gradients to q_logvar)",
                 grad.view(20_000, 3, 2).mean(0), exact_grad, atol=0.12, rtol=1e-5)


def test_importance_weighted_bound(importance_weighted_bound, student):
    model = lent_toy(student, math.log(0.5))
    torch.manual_seed(2024)
    x = torch.randn(3, 3, generator=torch.Generator().manual_seed(8), dtype=torch.float64) * 2
    pm, pv = exact_posterior(model, x)
    for k in (1, 7):
        got = importance_weighted_bound(x, pm, pv, model, k)
        expect_shape("bound must have shape (batch,)", got, (3,))
        expect_close("bound must be exact at the posterior", got, exact_log_evidence(model, x), atol=1e-6, rtol=1e-5)
    qm, qv = pm + 0.3, pv + 0.3
    l1 = importance_weighted_bound(x.repeat(4000, 1), qm.repeat(4000, 1), qv.repeat(4000, 1), model, 1).view(4000, 3).mean(0)
    expect_close("L_1 must equal the ELBO on average", l1, exact_elbo(model, x, qm, qv), atol=0.12, rtol=1e-5)
    l20 = importance_weighted_bound(x.repeat(4000, 1), qm.repeat(4000, 1), qv.repeat(4000, 1), model, 20).view(4000, 3).mean(0)
    # L_20 sits a few hundredths of a nat below log p(x); 0.02 allows for the noise of the mean of 4000 estimates
    top = exact_log_evidence(model, x) + 0.02
    expect_equal(f"L_20 = {l20.tolist()} between L_1 + 0.3 = {(l1 + 0.3).tolist()} and log p(x) + 0.02 = "
                 f"{top.tolist()}", bool((l20 > l1 + 0.3).all() and (l20 < top).all()), True)
    zeros = torch.zeros(1, 2, dtype=torch.float64)
    far = torch.tensor([[30.0, -20.0, 25.0]], dtype=torch.float64)
    lk = importance_weighted_bound(far, zeros, zeros, lent_toy(student, math.log(1e-4)), 10)
    expect_finite("L_10 for an observation far from the model (compute it in log space: logsumexp)", lk)
