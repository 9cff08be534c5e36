"""Hidden tests of 10_colour_images: the discretised logistic's log-probability of a level, and bits per dimension
of 8-bit images from a continuous model's -log density."""
import math

import torch
import torch.nn.functional as F

from vae_helpers.checks import expect_close, expect_finite, expect_gradient, expect_on_device, expect_shape
from vae_helpers.exercises import colour_images as checks  # noqa: F401 (visible checks)

HALF_BIN = 0.5 / 255


def exact_log_prob(x, mean, log_scale):
    """log P(level) of a discretised logistic in float64 (an answer is computed in its own dtype)."""
    x, mean, log_scale = (t.double() for t in (x, mean, log_scale))
    upper = (x - mean + HALF_BIN) * torch.exp(-log_scale)
    lower = (x - mean - HALF_BIN) * torch.exp(-log_scale)
    inside = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))
    return torch.where(x < HALF_BIN, F.logsigmoid(upper), torch.where(x > 1 - HALF_BIN, F.logsigmoid(-lower), inside))


def reference_log_prob(x, mean, log_scale):
    return exact_log_prob(x, mean, log_scale).to(x.dtype)


def reference_bits_per_dim(nll, image_shape, scale=256):
    return nll / (math.prod(image_shape) * math.log(2)) + math.log2(scale)


ANSWERS = {"discretised_logistic_log_prob": reference_log_prob, "bits_per_dim": reference_bits_per_dim}


def test_discretised_logistic_log_prob(discretised_logistic_log_prob):
    g = torch.Generator().manual_seed(2024)
    x = torch.randint(0, 256, (3, 3, 8, 8), generator=g).float() / 255
    x[0, 0, 0] = 0.0  # edge levels in every image
    x[1, 1, 1] = 1.0
    mean = torch.rand(3, 3, 8, 8, generator=g) * 1.2 - 0.1
    log_scale = torch.empty(3, 3, 8, 8).uniform_(-3.9, 0.5, generator=g)
    got = discretised_logistic_log_prob(x, mean, log_scale)
    expect_shape("log P for x, mean and log_scale of shape (3, 3, 8, 8)", got, (3, 3, 8, 8))
    expect_close("log P of random levels, means and log-scales", got, exact_log_prob(x, mean, log_scale).float(),
                 atol=5e-3, rtol=1e-4)
    levels = torch.arange(256).float() / 255
    for centre, scale in ((0.0, 0.3), (0.5, 0.004), (1.0, 0.05), (0.3, 1.0)):
        total = discretised_logistic_log_prob(levels, torch.full((256,), centre),
                                              torch.full((256,), math.log(scale))).exp().sum()
        expect_close(f"the 256 levels' probabilities summed, mean {centre}, scale {scale}", total, 1.0, atol=1e-3, rtol=0)
    # pixels far from their mean: edge levels, and levels inside at their mean, a few levels
    # from it with log_scale -7, and 28 to 630 scales above and below it
    far = torch.tensor([0, 255, 204, 51, 255, 0, 153, 157, 160, 40, 217, 100, 60]) / 255
    far_mean = torch.tensor([0.95, 0.05, 0.1, 0.95, 0.2, 0.7, 0.6, 0.6, 0.05, 0.7, 0.3, 0.9, 0.3]).requires_grad_(True)
    far_log_scale = torch.tensor([-7.0, -7.0, math.log(0.025), math.log(0.025), -6.5, -6.0, -7.0, -7.0, -7.0, -6.0,
                                  -5.5, -6.5, -4.5]).requires_grad_(True)
    far_got = discretised_logistic_log_prob(far, far_mean, far_log_scale)
    expect_finite("log P of pixels far from their mean", far_got)
    expect_close("log P of pixels far from their mean, to within 0.01 nats", far_got,
                 exact_log_prob(far, far_mean.detach(), far_log_scale.detach()).float(), atol=1e-2, rtol=0)
    # the gradients just above the notebook's floor of -7: a clamp there (PixelCNN++'s own) changes no value
    # the notebook computes, only the gradient at the floor itself
    above_floor = torch.where(far_log_scale <= -7.0, -6.9, far_log_scale).detach().requires_grad_(True)
    far_got = discretised_logistic_log_prob(far, far_mean, above_floor)
    exact_at = [far_mean.detach().double().requires_grad_(True), above_floor.detach().double().requires_grad_(True)]
    exact_gradients = torch.autograd.grad(exact_log_prob(far, *exact_at).sum(), exact_at)
    for name, wrt, exact_gradient in zip(("mean", "log_scale"), (far_mean, above_floor), exact_gradients):
        gradient = expect_gradient(f"log P of pixels far from their mean, in {name}", far_got, wrt)
        expect_finite(f"gradient of log P in {name} at pixels far from their mean", gradient)
        expect_close(f"gradient of log P in {name} at pixels far from their mean", gradient, exact_gradient.float(),
                     atol=5e-2, rtol=1e-3)
    expect_on_device("log P of x, mean and log_scale", discretised_logistic_log_prob, x, mean, log_scale,
                     shape=(3, 3, 8, 8))


def test_bits_per_dim(bits_per_dim):
    nll = torch.tensor([-3000.0, 100.0, 7000.0, 12000.0])
    for shape, scale in (((3, 32, 32), 256), ((3, 16, 16), 256), ((1, 28, 28), 1), ((3, 32, 32), 1), ((3, 8, 8), 32),
                         ((3, 20, 36), 256), ((64, 48), 256), ((2, 3, 8, 8), 256)):
        got = bits_per_dim(nll, shape, scale)
        expect_shape(f"bits_per_dim(nll of shape (4,), {tuple(shape)}, {scale})", got, (4,))
        expect_close(f"bits_per_dim(nll, {tuple(shape)}, {scale})", got,
                     nll / (math.prod(shape) * math.log(2)) + math.log2(scale), atol=1e-4, rtol=1e-5)
    expect_on_device("bits_per_dim(nll of shape (2,), (3, 32, 32), 256)", bits_per_dim, torch.zeros(2), (3, 32, 32), 256,
                     shape=(2,))
