"""Hidden tests of 02_dense_vae: the dense VAE, its loss, one epoch of training and the Gaussian decoder's
negative log-likelihood."""
import math

import torch
from torch import nn

from vae_helpers.checks import (expect_close, expect_draw_on_device, expect_equal, expect_gradient, expect_gradient_close,
                                expect_kl_gradients, expect_number, expect_relu_network, expect_shape,
                                expect_uncorrelated)
from vae_helpers.exercises import dense_vae as checks  # noqa: F401 (visible checks)
from vae_helpers.lending import AsLent  # noqa: F401 (the notebook's, for the visible checks: grading lends its model)

device = torch.device("cpu")  # the visible checks' models are the judge's, computed here


def test_dense_vae(DenseVAE):
    torch.manual_seed(2024)
    model = DenseVAE()
    expect_equal("number of parameters (784-400-20)", sum(p.numel() for p in model.parameters()), 652_824)
    for x in (torch.rand(3, 1, 28, 28), torch.rand(1, 784)):
        mu, logvar = model.encode(x)
        expect_shape(f"mu from encode(x of shape {tuple(x.shape)})", mu, (len(x), 20))
        expect_shape(f"logvar from encode(x of shape {tuple(x.shape)})", logvar, (len(x), 20))
        expect_equal("encode gives logvar equal to mu (logvar needs a layer of its own)", torch.equal(mu, logvar), False)
    expect_equal("some logvar below 0 from a new model's encode(500 random images) (logvar = log sigma^2 is any "
                 "real number)", bool((model.encode(torch.rand(500, 784))[1] < 0).any()), True)
    expect_shape("decode(z of shape (7, 20))", model.decode(torch.randn(7, 20)), (7, 784))
    expect_equal("decode returns some negative values (logits, not probabilities)",
                 bool((model.decode(4 * torch.randn(500, 20)) < 0).any()), True)
    images = torch.rand(6, 784)
    expect_equal("encode in train mode is one function of the image (no dropout or noise)",
                 torch.equal(model.encode(images)[0], model.encode(images)[0]), True)
    fresh = DenseVAE()
    expect_relu_network("mu from encode (ReLU after the hidden layer)", fresh, lambda x: fresh.encode(x)[0], images)
    expect_relu_network("decode (ReLU after the hidden layer)", fresh, fresh.decode, torch.randn(6, 20))
    # forward: feed a known code distribution in, catch the z it passes to decode
    n = 5_000
    mu = torch.full((n, 20), 1.5, requires_grad=True)
    logvar = torch.full((n, 20), math.log(0.25), requires_grad=True)
    seen = {}

    def capture(z):
        seen["z"] = z
        return torch.zeros(len(z), 784)  # zeros: logits of the right shape that cross the wire as one number

    model.encode = lambda x: (mu, logvar)
    model.decode = capture
    logits, returned_mu, returned_logvar = model(torch.zeros(n, 1, 28, 28))
    z = seen["z"]
    expect_equal("forward returns the (mu, logvar) that encode gave",
                 torch.equal(returned_mu, mu) and torch.equal(returned_logvar, logvar), True)
    expect_close("mean of z for mu = 1.5", z.mean(), 1.5, atol=0.01, rtol=0)
    expect_close("std of z for logvar = log 0.25", z.std(), 0.5, atol=0.01, rtol=0)
    expect_gradient("z (reparameterise: no .sample(), no torch.normal)", z, mu)
    expect_uncorrelated("correlation between two latent dimensions of z (each needs its own noise: torch.randn_like(mu))",
                        z, atol=0.06)
    expect_gradient_close("dz/dmu must be 1", z, mu, torch.ones_like(mu), atol=1e-8, rtol=1e-5)
    expect_gradient_close("dz/dlogvar must be (z - mu) / 2 (sigma = exp(0.5 logvar) kept in the graph)", z, logvar,
                          0.5 * (z - mu).detach(), atol=1e-5, rtol=1e-5)
    model.eval()
    images = torch.rand(4, 1, 28, 28)
    model(images)
    first = seen["z"]
    model(images)
    expect_equal("forward draws z ~ q in eval mode too (two passes give two z)", torch.equal(first, seen["z"]), False)
    model.train()
    expect_draw_on_device("forward(3 images) when encode returns mu and logvar of shape (3, 20) (draw the noise "
                          "on their device)", model, torch.rand(3, 1, 28, 28))


def test_vae_loss(vae_loss):
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(6, 784, generator=g) * 3
    x = torch.rand(6, 1, 28, 28, generator=g)
    mu = torch.randn(6, 20, generator=g)
    logvar = torch.randn(6, 20, generator=g)
    flat = x.reshape(6, 784)
    reconstruction = (torch.clamp(logits, min=0) - logits * flat + torch.log1p(torch.exp(-logits.abs()))).sum(1).mean()
    kl = 0.5 * (torch.exp(logvar) + mu ** 2 - 1 - logvar).sum(1).mean()
    for beta in (1.0, 0.3):
        loss, got_reconstruction, got_kl = vae_loss(logits, x, mu, logvar, beta=beta)
        for name, term in (("loss", loss), ("reconstruction", got_reconstruction), ("kl", got_kl)):
            expect_shape(f"the {name} term", term, ())
        expect_close("reconstruction: BCE with logits, summed over pixels, batch mean", got_reconstruction,
                     reconstruction, atol=1e-8, rtol=1e-5)
        expect_close("the kl term (unweighted: beta weighs it in the loss only): closed form, summed over latents, batch mean", got_kl, kl, atol=1e-8, rtol=1e-5)
        expect_close("loss = reconstruction + beta * KL", loss, reconstruction + beta * kl, atol=1e-8, rtol=1e-5)
    differentiable = logits.clone().requires_grad_(True)
    gradient, = torch.autograd.grad(vae_loss(differentiable, x, mu, logvar)[0], differentiable)
    expect_close("gradient in the logits is wrong", gradient, (torch.sigmoid(logits) - flat) / 6, atol=1e-6, rtol=1e-5)
    mu_grad, logvar_grad = mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
    expect_kl_gradients("the loss (beta = 0.3)", vae_loss(logits, x, mu_grad, logvar_grad, beta=0.3)[0], mu_grad,
                        logvar_grad, beta=0.3)


def reference_vae_loss(logits, x, mu, logvar, beta=1.0):
    """The notebook's vae_loss: Bernoulli reconstruction summed over pixels and closed-form KL, batch means."""
    target = x.reshape(logits.shape)
    reconstruction = (torch.clamp(logits, min=0) - logits * target + torch.log1p(torch.exp(-logits.abs()))).sum(1).mean()
    kl = 0.5 * (torch.exp(logvar) + mu ** 2 - 1 - logvar).sum(1).mean()
    return reconstruction + beta * kl, reconstruction, kl


# grade each exercise on its own: while the student's train_epoch runs, the vae_loss it calls is the version here
ANSWERS = {"vae_loss": reference_vae_loss}


class Tiny(nn.Module):
    """Deterministic: z = mu, so that every gradient can be recomputed exactly. It sees each image of 28 x 28
    pixels through the means of its four quarters, so it takes the images only as they come, and its 784 logits
    suit a vae_loss written for 784 pixels."""

    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(4, 2), nn.Linear(2, 784)

    def forward(self, x):
        mu = self.enc(nn.functional.avg_pool2d(x, 14).flatten(1))
        return self.dec(mu), mu, torch.zeros_like(mu)


class Recorder(torch.optim.SGD):
    """SGD with lr 0.05 that records the gradients it steps with."""

    def __init__(self, params):
        super().__init__(params, lr=0.05)
        self.grads = []

    def step(self, closure=None):
        self.grads.append([p.grad.clone() for p in self.param_groups[0]["params"]])
        return super().step(closure)


def test_train_epoch(train_epoch):
    torch.manual_seed(2024)
    data = [(torch.rand(n, 1, 28, 28), torch.zeros(n)) for n in (4, 4, 2)]
    model = Tiny()
    shadow = Tiny()
    shadow.load_state_dict(model.state_dict())
    optimizer = Recorder(model.parameters())
    mean = train_epoch(model, data, optimizer, beta=0.5)
    expect_equal("optimizer steps in an epoch of 3 batches", len(optimizer.grads), 3)
    losses = []
    for (x, _), recorded in zip(data, optimizer.grads):
        logits, mu, logvar = shadow(x)
        loss = reference_vae_loss(logits, x, mu, logvar, beta=0.5)
        expected = torch.autograd.grad(loss[0], list(shadow.parameters()))
        for got_gradient, expected_gradient in zip(recorded, expected):
            expect_close("gradient at an optimizer step with beta = 0.5 (its own batch's loss only, with the KL weighted by beta)",
                         got_gradient, expected_gradient, atol=1e-5, rtol=1e-5)
        with torch.no_grad():
            for p, gradient in zip(shadow.parameters(), expected):
                p -= 0.05 * gradient
        losses.append(loss[0].item())
    expect_number("mean loss over batches of 4, 4 and 2 images (weight each batch by its size)", mean,
                  (4 * losses[0] + 4 * losses[1] + 2 * losses[2]) / 10, atol=1e-2)


def test_gaussian_nll(gaussian_nll):
    torch.manual_seed(7)
    x, mean = torch.rand(5, 784), torch.rand(5, 784)
    for s in (0.02, 0.3, 1.5):
        expect_close(f"gaussian_nll with s = {s}", gaussian_nll(x, mean, torch.tensor(math.log(s))),
                     -torch.distributions.Normal(mean, s).log_prob(x).sum(1), atol=1e-2, rtol=1e-5)
    log_scale = (torch.randn(784) * 0.5 - 2).requires_grad_()
    got = gaussian_nll(x.view(5, 1, 28, 28), mean, log_scale, 0.1)
    expect_shape("gaussian_nll(x (5, 1, 28, 28), mean (5, 784), log_scale (784,), 0.1)", got, (5,))
    scale = log_scale.detach().exp().clamp(min=0.1)
    expect_close("gaussian_nll with one s per pixel and a floor of 0.1", got,
                 -torch.distributions.Normal(mean, scale).log_prob(x).sum(1), atol=1e-2, rtol=1e-5)
    gradient, = torch.autograd.grad(got.sum(), log_scale)
    above = (log_scale.detach().exp() > 0.1).float()
    expected_gradient = (5 - ((x - mean) ** 2 / scale ** 2).sum(0)) * above
    expect_close("d gaussian_nll / d log_scale (zero where the floor holds s)", gradient, expected_gradient,
                 atol=1e-2, rtol=1e-4)
    trained_mean = mean.clone().requires_grad_()
    gradient, = torch.autograd.grad(gaussian_nll(x, trained_mean, torch.tensor(math.log(0.3))).sum(), trained_mean)
    expect_close("d gaussian_nll / d mean with s = 0.3 ((mean - x) / s^2)", gradient, (mean - x) / 0.09, atol=1e-3,
                 rtol=1e-4)
