"""The visible checks of 10_colour_images's exercises, one function per graded cell."""
import math

import numpy as np
import torch

from vae_helpers.checks import PASSED, expect_close, expect_finite, expect_on_device, expect_returns, expect_shape

LEVELS = 256
_HALF_BIN = 0.5 / (LEVELS - 1)


def _quadrature_log_prob(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """log P(level) of a discretised logistic by another route than an answer's: the logistic density integrated
    over the level's bin (the tail beyond it for levels 0 and 1) by Simpson's rule in float64, in the log domain so
    that bins hundreds of scales from the mean keep their value; as a float32 tensor of x's shape. Accurate to about
    1e-6 nats for any inputs (a bin is cut to the 100 scales next to the point of it nearest the mean, beyond which
    the density is below e^-50 of its value there)."""
    x, mean, log_scale = (np.asarray(t.detach().cpu(), dtype=np.float64) for t in torch.broadcast_tensors(x, mean,
                                                                                                          log_scale))
    scale = np.exp(log_scale)
    lower = np.where(x < _HALF_BIN, -np.inf, (x - mean - _HALF_BIN) / scale)  # the bin, in scales from the mean
    upper = np.where(x > 1 - _HALF_BIN, np.inf, (x - mean + _HALF_BIN) / scale)
    nearest = np.clip(0.0, lower, upper)
    a, b = np.maximum(lower, nearest - 50), np.minimum(upper, nearest + 50)
    steps = 4000
    t = a[..., None] + (b - a)[..., None] * np.linspace(0.0, 1.0, steps + 1)
    log_density = -np.abs(t) - 2 * np.log(1 + np.exp(-np.abs(t)))  # the standard logistic's, e^-|t| / (1 + e^-|t|)^2
    weights = np.ones(steps + 1)
    weights[1:-1:2], weights[2:-1:2] = 4, 2
    top = log_density.max(-1)
    log_mass = top + np.log((weights * np.exp(log_density - top[..., None])).sum(-1) * (b - a) / (3 * steps))
    return torch.from_numpy(log_mass).float()


_ROUNDED_AWAY = ("in float32, sigmoid(t) is exactly 0 for t below about -88 and exactly 1 for t above about 17: the "
                 "log of such a sigmoid, or of the difference of two sigmoids that both round to 1, is -inf. Compute "
                 "the logarithm without forming those probabilities first.")


def _levels(*shape, generator=None):
    """Sub-pixels k / 255 of random levels k, as Batches gives them."""
    return torch.randint(0, LEVELS, shape, generator=generator).float() / (LEVELS - 1)


def discretised_logistic_log_prob(log_prob):
    """Checks the shape, that the 256 levels' probabilities sum to 1, values on random levels inside, the edge bins,
    finite and exact values (to 0.01 nats) and finite gradients at pixels far from their mean, inside and at the
    edges, and the device."""
    generator = torch.Generator().manual_seed(10)
    x = (torch.randint(1, LEVELS - 1, (2, 3, 4, 4), generator=generator).float()) / (LEVELS - 1)  # levels 1 to 254
    mean = torch.rand(2, 3, 4, 4, generator=generator)
    log_scale = torch.empty(2, 3, 4, 4).uniform_(-3.9, -1, generator=generator)
    got = expect_returns("discretised_logistic_log_prob(x, mean, log_scale), each of shape (2, 3, 4, 4)", log_prob,
                         x, mean, log_scale, hint="x, mean and log_scale have the same shape; so has the result.")
    expect_shape("discretised_logistic_log_prob(x, mean, log_scale), each of shape (2, 3, 4, 4)", got, x.shape)

    every_level = torch.arange(LEVELS).float() / (LEVELS - 1)
    for centre, log_s in ((0.5, math.log(0.2)), (0.02, math.log(0.05)), (0.97, math.log(0.01))):
        total = log_prob(every_level, torch.full((LEVELS,), centre), torch.full((LEVELS,), log_s)).exp().sum()
        name = (f"the probabilities of the 256 levels 0, 1/255, ..., 1, summed, for mean {centre} and scale "
                f"{math.exp(log_s):.3g}")
        expect_finite(name, total, hint="a NaN is often the log of a negative number. The scale is s = exp(log_scale), "
                                        "which is never negative, and a bin's upper edge, x + 0.5/255, is above its "
                                        "lower edge once both are measured from the mean as (y - mean) / s.")
        expect_close(name, total, 1.0, atol=1e-3, rtol=0,
                     hint="a distribution over the 256 levels: each level's bin is 1/255 wide, centred on the level, "
                          "and the two edge levels take all the mass beyond their bins (the logistic goes on below 0 "
                          "and above 1), with CDF(y) = sigmoid((y - mean) / s).")

    name = "discretised_logistic_log_prob on random levels from 1 to 254 (k / 255), means and log-scales"
    expect_finite(name, got, hint=_ROUNDED_AWAY)
    expect_close(name, got, _quadrature_log_prob(x, mean, log_scale), atol=5e-3, rtol=1e-4,
                 hint="the log of the logistic's mass on the level's bin, [x - 0.5/255, x + 0.5/255], with "
                      "CDF(y) = sigmoid((y - mean) / s) and the scale s = exp(log_scale).")
    edges = torch.tensor([0.0, 1.0, 0.0, 1.0])
    edge_means, edge_log_scales = torch.tensor([0.1, 0.9, -0.05, 1.05]), torch.log(torch.tensor([0.1, 0.1, 0.02, 0.02]))
    expect_close("log P of the edge levels 0 and 1 (k = 0 and 255) for means 0.1, 0.9, -0.05, 1.05",
                 log_prob(edges, edge_means, edge_log_scales), _quadrature_log_prob(edges, edge_means, edge_log_scales),
                 atol=1e-3, rtol=1e-4, hint="level 0 takes all the mass below its bin's upper edge, level 255 all the "
                                           "mass above its bin's lower edge.")

    # a decoder that has learnt small scales: pixels far from their mean, at the edges and inside, above and below
    far = torch.tensor([0, 255, 230, 25, 0, 128, 133, 128, 26, 230, 51]) / (LEVELS - 1)
    far_mean = torch.tensor([1.0, 0.0, 0.1, 0.9, 0.3, 128 / 255, 128 / 255, 0.1, 0.5, 0.1, 0.9]).requires_grad_(True)
    far_log_scale = torch.tensor([-7.0, -7.0, math.log(0.02), math.log(0.02), -7.0, -7.0, -7.0, -7.0, -7.0, -5.0,
                                  -5.0]).requires_grad_(True)
    far_got = expect_returns("discretised_logistic_log_prob at pixels far from their mean", log_prob, far, far_mean,
                             far_log_scale)
    name = ("log P of pixels far from their mean (level 0 at mean 1 and level 255 at mean 0 with log_scale -7; "
            "128/255 at mean 0.1 and 26/255 at mean 0.5 with log_scale -7, about 440 scales away; ...)")
    expect_finite(name, far_got, hint=_ROUNDED_AWAY)
    expect_close(name + ", to within 0.01 nats", far_got,
                 _quadrature_log_prob(far, far_mean, far_log_scale), atol=1e-2, rtol=0,
                 hint="exact even there: the log of the bin's mass itself, not of a rounded sigmoid or a clamped one, "
                      "nor an approximation of the mass (the density at the bin's centre times the bin's width is "
                      "0.68 nats off where the bin is 4.3 scales wide, at log_scale -7, and the pixel a few levels "
                      "from the mean).")
    gradients = torch.autograd.grad(far_got.sum(), [far_mean, far_log_scale], allow_unused=True)
    for name, gradient in zip(("mean", "log_scale"), gradients):
        if gradient is None:
            raise AssertionError(f"the gradient of log P in {name}: expected one, got None: the result does not "
                                 f"depend on {name}.")
        expect_finite(f"the gradient of log P in {name} at pixels far from their mean", gradient,
                      hint="torch.where passes back the gradient of both branches: a branch that is inf or NaN where "
                           "it is not chosen still makes a NaN gradient. Make every branch finite everywhere.")
    expect_on_device("discretised_logistic_log_prob(x, mean, log_scale)", log_prob, x, mean, log_scale, shape=x.shape,
                     hint="make any tensor you need on the device of x (torch.full_like, or plain Python numbers).")
    print(PASSED)


def bits_per_dim(bits_per_dim):
    """Checks the shape, values for images of 8-bit colour (scale 256), for a discrete model (scale 1) and for 16
    levels (scale 16), and the device."""
    nll = torch.tensor([-2000.0, 0.0, 5000.0])
    got = expect_returns("bits_per_dim(nll of shape (3,), (3, 32, 32), 256)", bits_per_dim, nll, (3, 32, 32), 256)
    expect_shape("bits_per_dim(nll of shape (3,), (3, 32, 32), 256)", got, (3,))
    dims = 3 * 32 * 32
    expected = nll / (dims * math.log(2)) + 8.0
    offsets = {-8.0: "the change of variables from [0, 1] to the 256 levels is missing.",
               -16.0: "the change of variables from [0, 1] to the 256 levels goes the wrong way.",
               math.log2(255) - 8.0: "the levels are 256 cubes of side 1/scale, not 255."}
    expect_close("bits_per_dim(nll = [-2000, 0, 5000] nats, a density on [0, 1]^3072, scale 256)", got, expected,
                 atol=1e-4, rtol=1e-5, offsets=offsets,
                 hint="bits (a log to base 2), per dimension (the 3 x 32 x 32 sub-pixels), and the probability of a "
                      "level is the density integrated over that level's cube, of side 1 / scale.")
    grey = bits_per_dim(torch.tensor([500.0, 1500.0]), (1, 28, 28), 256)
    expect_close("bits_per_dim(nll = [500, 1500], (1, 28, 28), 256)", grey,
                 torch.tensor([500.0, 1500.0]) / (784 * math.log(2)) + 8.0, atol=1e-4, rtol=1e-5, offsets=offsets,
                 hint="the number of dimensions is the product of image_shape, whatever its length.")
    discrete = bits_per_dim(torch.tensor([4000.0, 8000.0]), (3, 32, 32), 1)
    expect_close("bits_per_dim(nll = [4000, 8000], (3, 32, 32), scale 1): a discrete model's -log P, in bits per "
                 "dimension", discrete, torch.tensor([4000.0, 8000.0]) / (dims * math.log(2)), atol=1e-4, rtol=1e-5,
                 hint="with scale 1 each level's cube has side 1: take the scale from the argument, not 256.")
    coarse = bits_per_dim(torch.tensor([100.0, 900.0]), (3, 16, 16), 16)
    expect_close("bits_per_dim(nll = [100, 900], (3, 16, 16), scale 16): a density over y = (k + u) / 16, levels "
                 "k from 0 to 15", coarse, torch.tensor([100.0, 900.0]) / (768 * math.log(2)) + 4.0, atol=1e-4,
                 rtol=1e-5, offsets={-4.0: "the change of variables from [0, 1] to the 16 levels is missing.",
                                     4.0: "8 bits whatever the scale: the levels' cubes here have side 1/16."},
                 hint="the offset follows the scale: each level's cube has side 1 / scale.")
    expect_on_device("bits_per_dim(nll of shape (4,), (3, 32, 32), 256)", bits_per_dim, torch.zeros(4), (3, 32, 32), 256,
                     shape=(4,),
                     hint="compute with nll and Python numbers; a tensor you make goes on nll's device.")
    print(PASSED)
