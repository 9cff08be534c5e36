"""The visible checks of 10_colour_images's exercises, one function per graded cell."""
import math

import numpy as np
import torch

from judge.arguments_kept import in_place_hint
from vae_helpers.checks import (PASSED, checking_answers, expect_close, expect_finite, expect_gradient,
                                expect_on_device, expect_returns, expect_shape, expect_written, _preview)

LEVELS = 256
_HALF_BIN = 0.5 / (LEVELS - 1)


def _quadrature_log_mass(lower: np.ndarray, upper: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """log of the logistic's mass on [lower, upper] (edges in pixel units, -inf and inf allowed): its density
    integrated by Simpson's rule in float64, in the log domain so that bins hundreds of scales from the mean keep
    their value. Accurate to about 1e-6 nats for any inputs (a bin is cut to the 100 scales next to the point of it
    nearest the mean, beyond which the density is below e^-50 of its value there)."""
    lower, upper = (lower - mean) / scale, (upper - mean) / scale  # the bin, in scales from the mean
    nearest = np.clip(0.0, lower, upper)
    a, b = np.maximum(lower, nearest - 50), np.minimum(upper, nearest + 50)
    steps = 4000
    t = a[..., None] + (b - a)[..., None] * np.linspace(0.0, 1.0, steps + 1)
    log_density = -np.abs(t) - 2 * np.log(1 + np.exp(-np.abs(t)))  # the standard logistic's, e^-|t| / (1 + e^-|t|)^2
    weights = np.ones(steps + 1)
    weights[1:-1:2], weights[2:-1:2] = 4, 2
    top = log_density.max(-1)
    return top + np.log((weights * np.exp(log_density - top[..., None])).sum(-1) * (b - a) / (3 * steps))


def _bins(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor):
    """Each level's bin (the tail beyond it for levels 0 and 1), its mean and its scale, broadcast to one shape, as
    float64 arrays (lower, upper, mean, scale)."""
    x, mean, log_scale = (np.asarray(t.detach().cpu(), dtype=np.float64) for t in torch.broadcast_tensors(x, mean,
                                                                                                          log_scale))
    lower = np.where(x < _HALF_BIN, -np.inf, x - _HALF_BIN)
    upper = np.where(x > 1 - _HALF_BIN, np.inf, x + _HALF_BIN)
    return lower, upper, mean, np.exp(log_scale)


def _quadrature_log_prob(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """log P(level) of a discretised logistic by another route than an answer's: the logistic density integrated
    over the level's bin (the tail beyond it for levels 0 and 1), ``_quadrature_log_mass``; as a float32 tensor of
    x's shape."""
    return torch.from_numpy(_quadrature_log_mass(*_bins(x, mean, log_scale))).float()


def _quadrature_gradients(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor):
    """The gradients of log P(level) in the mean and in the log-scale, float64 tensors of x's shape. With the bin
    [a, b] in scales from the mean and f the logistic density, P = F(b) - F(a) moves with the mean by
    -(f(b) - f(a)) / s and with the log-scale by -(b f(b) - a f(a)); each f / P is taken in logs, P by
    quadrature, so that both stay exact hundreds of scales from the mean."""
    lower, upper, mean_, scale = _bins(x, mean, log_scale)
    log_mass = _quadrature_log_mass(lower, upper, mean_, scale)

    def density_over_mass(edge):  # f(t) / P and t f(t) / P at a bin's edge t (0 at an infinite edge)
        t = (edge - mean_) / scale
        finite = np.isfinite(t)
        t = np.where(finite, t, 0.0)
        log_density = -np.abs(t) - 2 * np.log(1 + np.exp(-np.abs(t)))
        ratio = np.exp(np.where(finite, log_density - log_mass, -np.inf))
        return ratio, t * ratio

    at_upper, t_at_upper = density_over_mass(upper)
    at_lower, t_at_lower = density_over_mass(lower)
    return (torch.from_numpy(-(at_upper - at_lower) / scale), torch.from_numpy(-(t_at_upper - t_at_lower)))


def _name_another_quantity(name: str, returned: torch.Tensor, centre: float, log_s: float) -> None:
    """Raises a message of its own when the 256 levels' values (mean ``centre``, log-scale ``log_s``) are log P's
    relatives rather than log P: the probabilities, -log P, or log P in bits."""
    levels = torch.arange(LEVELS).double() / (LEVELS - 1)
    log_p = _quadrature_log_prob(levels, torch.full((LEVELS,), centre), torch.full((LEVELS,), log_s)).double()
    got = returned.detach().cpu().double()
    others = ((log_p.exp(), "the probabilities themselves: return their natural logarithm, log P."),
              (-log_p, "-log P: return log P itself (the loss takes its negative)."),
              (log_p / math.log(2), "log P in bits (base 2): return it in nats, the natural logarithm."))
    for values, meaning in others:
        if got.shape == values.shape and torch.allclose(got, values, atol=1e-3, rtol=1e-3):
            raise AssertionError(f"{name}: expected 1, got {got.exp().sum().item():.4g}: the values returned are "
                                 f"{meaning}")


def _levels_hint(probabilities: torch.Tensor, centre: float, scale: float) -> str:
    """What the 256 levels' probabilities (mean ``centre``, scale ``scale``) that do not sum to 1 say of the answer:
    bins of another width, edge levels without their tails, edge levels with each other's tail, or the general
    hint."""
    got = probabilities.detach().cpu().double().numpy()
    levels = np.arange(LEVELS) / (LEVELS - 1)
    def mass(lower, upper):
        lower, upper = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
        return np.exp(_quadrature_log_mass(lower, upper, np.full_like(lower, centre), np.full_like(lower, scale)))
    inside = mass(levels[1:-1] - _HALF_BIN, levels[1:-1] + _HALF_BIN)
    standardised = (levels[1:-1] - centre) / scale
    density_times_width = np.exp(-standardised - 2 * np.logaddexp(0, -standardised)) / scale / (LEVELS - 1)
    if not np.allclose(density_times_width, inside, rtol=1e-3, atol=1e-9) and np.allclose(
            got[1:-1], density_times_width, rtol=1e-3, atol=1e-9):  # where the two differ, the approximation
        return ("the levels 1 to 254 get the logistic's density at the level times the bin's width, an approximation "
                "of the bin's mass that is far off where the scale is not much wider than a bin: take the mass "
                "itself, the difference of the CDF at the bin's two edges.")
    ratio = got[1:-1] / inside
    width_in_scales = 1 / (LEVELS - 1) / scale
    if np.allclose(ratio, np.exp(width_in_scales), rtol=1e-4):  # a factor that follows the scale, not the bins
        return (f"the levels 1 to 254 get e^d = {np.exp(width_in_scales):.4g} times their probability, d = (1/255) / s "
                f"= {width_in_scales:.4g} the bin's width in scales: the bins are right, and a factor e^d - 1 stands "
                f"where 1 - e^(-d) belongs (sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b) (1 - e^(b - a))).")
    if np.all(np.isfinite(ratio)) and np.ptp(ratio) < 0.05 * np.median(ratio) and abs(np.median(ratio) - 1) > 2e-3:
        factor = np.median(ratio)
        if any(abs(factor / widths - 1) < 3e-3 for widths in (2.0, 0.5, 255 / 256, 256 / 255)):  # bins' widths
            return (f"the levels 1 to 254 get about {factor:.3g} times their probability: a level's bin is "
                    f"[x - 0.5/255, x + 0.5/255], 1/255 wide (the levels are 1/255 apart), not about {factor:.3g}/255.")
        return (f"the levels 1 to 254 get about {factor:.3g} times their probability, the same factor at every level: "
                f"a factor of each level's mass is missing or too many, or approximated; the mass of a bin is the "
                f"CDF at its upper edge less the CDF at its lower edge, exactly.")
    if np.allclose(got[1:-1], inside, rtol=1e-3, atol=1e-7):
        edges = np.array([0.0, 1.0])
        without_tails = mass(edges - _HALF_BIN, edges + _HALF_BIN)
        swapped = mass([-_HALF_BIN, -np.inf], [np.inf, 1 + _HALF_BIN])
        if np.allclose(got[[0, -1]], without_tails, rtol=1e-3, atol=1e-7):
            return ("the levels 1 to 254 are right; levels 0 and 255 have only their own bins, and the mass "
                    "beyond them is missing: level 0 takes everything below 0.5/255 (the logistic goes on below 0), "
                    "level 255 everything above 1 - 0.5/255.")
        if np.allclose(got[[0, -1]], swapped, rtol=1e-3, atol=1e-7):
            return ("the levels 1 to 254 are right; levels 0 and 255 have each other's tail: level 0 takes all the "
                    "mass below its bin's upper edge, 0.5/255, level 255 all the mass above its bin's lower edge, "
                    "1 - 0.5/255. (With the mean at 0.5 a CDF taken of mean - x, not x - mean, looks the same: the "
                    "CDF rises with x.)")
        right = mass([-np.inf, 1 - _HALF_BIN], [_HALF_BIN, np.inf])
        wrong = [level for level, got_one, right_one in ((0, got[0], right[0]), (255, got[-1], right[1]))
                 if not np.isclose(got_one, right_one, rtol=1e-3, atol=1e-7)]
        if wrong == [0]:
            return ("the levels 1 to 255 are right, level 0 is not: it takes all the mass below its bin's upper edge, "
                    "0.5/255.")
        if wrong == [255]:
            return ("the levels 0 to 254 are right, level 255 is not: it takes all the mass above its bin's lower "
                    "edge, 1 - 0.5/255.")
        return ("the levels 1 to 254 are right, levels 0 and 255 are not: level 0 takes all the mass below its bin's "
                "upper edge, 0.5/255, level 255 all the mass above its bin's lower edge, 1 - 0.5/255.")
    return ("a distribution over the 256 levels: each level's bin is 1/255 wide, centred on the level, and the two "
            "edge levels take all the mass beyond their bins (the logistic goes on below 0 and above 1), with "
            "CDF(y) = sigmoid((y - mean) / s) and the scale s = exp(log_scale).")


EXERCISES = ("discretised_logistic_log_prob", "bits_per_dim")


def needs(*answers) -> None:
    """Stops a cell that uses an exercise's answer still left as its stub, naming the exercise (``expect_written``)."""
    expect_written(answers, EXERCISES)


_BELOW_THE_MEAN = ("below the mean, far from it, both CDFs are tiny, and in float32 sigmoid(t) is exactly 0 for t "
                   "below about -88, while its log, about t there, is an ordinary number: work with the logs")
_ABOVE_THE_MEAN = ("above the mean, both CDFs are close to 1 (in float32 sigmoid(t) is exactly 1 for t above about 17), "
                   "and so is exp(log CDF(upper) - log CDF(lower)) where the difference goes through their logs: there "
                   "the upper tails, 1 - CDF(y) = sigmoid(-(y - mean) / s), are small and keep their digits")


def _sides(of: torch.Tensor, x: torch.Tensor, mean: torch.Tensor) -> str:
    """What goes wrong on each side of the mean where ``of`` is True: the tiny CDFs below it, the CDFs close to 1
    above it."""
    of, above = of.cpu(), (x > mean).cpu()
    return "; ".join(side for side, where in ((_BELOW_THE_MEAN, ~above), (_ABOVE_THE_MEAN, above)) if (of & where).any())


def _rounded_away_hint(got: torch.Tensor, x: torch.Tensor, mean: torch.Tensor) -> str:
    """The hint for -inf or NaN among the values: a probability rounded to 0 or 1, or a difference rounded to 0,
    on the side of the mean where it happened."""
    sides = _sides(~torch.isfinite(got.detach()), x, mean)
    return ("a float keeps about 7 significant digits in float32: the log of a bin's mass is -inf where the mass, "
            f"or a difference it is computed as, rounds to 0. {sides[:1].upper()}{sides[1:]}.")


def _digits_lost_hint(got: torch.Tensor, expected: torch.Tensor, x: torch.Tensor, mean: torch.Tensor,
                      log_scale: torch.Tensor, atol: float) -> str:
    """The hint for values right near the mean and wrong only at pixels many scales from it: a float's digits lost
    in probabilities near 1 (or ""; where the values are wrong near the mean too, the general hint)."""
    wrong = ((got.detach().cpu().float() - expected).abs() > atol + 1e-4 * expected.abs())
    scales_away = ((x - mean).abs() * torch.exp(-log_scale)).detach().cpu()
    if not wrong.any() or wrong.all() or scales_away[wrong].min() < 5:
        return ""
    nearest, farthest = scales_away[wrong].min(), scales_away[wrong].max()
    where = (f"1 pixel {nearest:.0f} scales" if wrong.sum() == 1 else
             f"{int(wrong.sum())} pixels {nearest:.0f} to {farthest:.0f} scales")
    return (f"right within a few scales of the mean, off at {where} from it, where a float keeps only so many "
            f"significant digits (about 7 in float32, 16 in float64) of what the bin's mass is computed from: "
            f"{_sides(wrong, x, mean)}.")


def _beyond_0_and_1_hint(got: torch.Tensor, expected: torch.Tensor, mean: torch.Tensor, atol: float) -> str:
    """The hint for values wrong only where the mean lies outside [0, 1] (a mean clamped, or rejected), or ""."""
    wrong = (got.detach().cpu().float() - expected).abs() > atol + 1e-4 * expected.abs()
    beyond = (mean < 0) | (mean > 1)
    if not wrong.any() or (wrong & ~beyond).any():
        return ""
    return ("the values are wrong only where the mean lies outside [0, 1]: a decoder's mean may lie there (the "
            "logistic then puts most of its mass on an edge level); use the mean as given, without clamping it.")


_GRADIENT = ("every term of log P carries its gradient back to mean and log_scale: no .detach(), .item(), .data, "
             "torch.no_grad() or NumPy on any part of it.")


def _expect_gradients(name: str, log_prob, x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor,
                      atol: float) -> None:
    """log_prob's gradients in mean and log_scale at (x, mean, log_scale) must be finite and match the quadrature's,
    within ``atol`` and a relative 1e-3: a part of the computation cut from the graph changes them."""
    mean, log_scale = mean.clone().requires_grad_(True), log_scale.clone().requires_grad_(True)
    got = expect_returns(f"discretised_logistic_log_prob {name}", log_prob, x, mean, log_scale, hint=in_place_hint)
    expected = _quadrature_gradients(x, mean, log_scale)
    for argument, wrt, expected_gradient in zip(("mean", "log_scale"), (mean, log_scale), expected):
        gradient = expect_gradient(f"the gradient of log P in {argument} {name}", got, wrt, hint=_GRADIENT)
        expect_finite(f"the gradient of log P in {argument} {name}", gradient,
                      hint="torch.where passes back the gradient of both branches: a branch that is inf or NaN where "
                           "it is not chosen still makes a NaN gradient. Make every branch finite everywhere.")
        expect_close(f"the gradient of log P in {argument} {name}", gradient, expected_gradient.float(), atol=atol,
                     rtol=1e-3, hint=_GRADIENT)


@checking_answers
def discretised_logistic_log_prob(log_prob):
    """Checks the shape, that the inputs are left unchanged, that the 256 levels' probabilities sum to 1 (narrow and
    wide scales), values on random levels (edges included), means (some beyond 0 and 1) and log-scales up to 0.5, the
    edge bins, finite and exact values (to 0.01 nats) at pixels far from their mean, inside and at the edges, the
    gradients' values there and at the random inputs, and the device."""
    generator = torch.Generator().manual_seed(10)
    x = torch.randint(0, LEVELS, (2, 3, 4, 4), generator=generator).float() / (LEVELS - 1)
    x[0, 0, 0, 0], x[1, 2, 3, 3] = 0.0, 1.0  # both edge levels among them
    mean = torch.rand(2, 3, 4, 4, generator=generator) * 1.2 - 0.1
    log_scale = torch.empty(2, 3, 4, 4).uniform_(-3.9, 0.5, generator=generator)
    call = "discretised_logistic_log_prob(x, mean, log_scale), each of shape (2, 3, 4, 4)"
    got = expect_returns(call, log_prob, x, mean, log_scale,
                         hint=lambda error: in_place_hint(error) or "x, mean and log_scale have the same shape; so "
                                                                   "has the result.")
    expect_shape(call, got, x.shape)

    every_level = torch.arange(LEVELS).float() / (LEVELS - 1)
    for centre, log_s in ((0.5, math.log(0.2)), (0.02, math.log(0.05)), (0.97, math.log(0.01)), (0.3, 0.0),
                          (1.0, math.log(0.004))):
        returned = log_prob(every_level, torch.full((LEVELS,), centre), torch.full((LEVELS,), log_s))
        probabilities = returned.exp()
        total = probabilities.sum()
        name = (f"the probabilities of the 256 levels 0, 1/255, ..., 1, summed, for mean {centre} and scale "
                f"{math.exp(log_s):.3g}")
        _name_another_quantity(name, returned, centre, log_s)
        expect_finite(name, total, hint="a NaN is often the log of a negative number. The scale is s = exp(log_scale), "
                                        "which is never negative, and a bin's upper edge, x + 0.5/255, is above its "
                                        "lower edge once both are measured from the mean as (y - mean) / s.")
        if not abs(total.item() - 1.0) <= 1e-3:
            expect_close(name, total, 1.0, atol=1e-3, rtol=0,
                         hint=_levels_hint(probabilities, centre, math.exp(log_s)))

    name = ("discretised_logistic_log_prob on random levels from 0 to 255 (k / 255), means from -0.1 to 1.1 and "
            "log-scales from -3.9 to 0.5")
    expect_finite(name, got, hint=_rounded_away_hint(got, x, mean))
    expected = _quadrature_log_prob(x, mean, log_scale)
    expect_close(name, got, expected, atol=5e-3, rtol=1e-4,
                 hint=_digits_lost_hint(got, expected, x, mean, log_scale, atol=5e-3) or
                 _beyond_0_and_1_hint(got, expected, mean, atol=5e-3) or
                 "the log of the logistic's mass on the level's bin, [x - 0.5/255, x + 0.5/255] (for levels 0 and 255, "
                 "everything beyond), with CDF(y) = sigmoid((y - mean) / s) and the scale s = exp(log_scale).")
    edges = torch.tensor([0.0, 1.0, 0.0, 1.0])
    edge_means, edge_log_scales = torch.tensor([0.1, 0.9, -0.05, 1.05]), torch.log(torch.tensor([0.1, 0.1, 0.02, 0.02]))
    expect_close("log P of the edge levels 0 and 1 (k = 0 and 255) for means 0.1, 0.9, -0.05, 1.05",
                 log_prob(edges, edge_means, edge_log_scales), _quadrature_log_prob(edges, edge_means, edge_log_scales),
                 atol=1e-3, rtol=1e-4, hint="level 0 takes all the mass below its bin's upper edge, level 255 all the "
                                           "mass above its bin's lower edge.")

    # a decoder that has learnt small scales: pixels far from their mean, at the edges and inside, above and below
    far = torch.tensor([0, 255, 230, 25, 0, 128, 133, 128, 26, 230, 51]) / (LEVELS - 1)
    far_mean = torch.tensor([1.0, 0.0, 0.1, 0.9, 0.3, 128 / 255, 128 / 255, 0.1, 0.5, 0.1, 0.9])
    far_log_scale = torch.tensor([-7.0, -7.0, math.log(0.02), math.log(0.02), -7.0, -7.0, -7.0, -7.0, -7.0, -5.0,
                                  -5.0])
    far_got = expect_returns("discretised_logistic_log_prob at pixels far from their mean", log_prob, far, far_mean,
                             far_log_scale, hint=in_place_hint)
    name = ("log P of pixels far from their mean (level 0 at mean 1 and level 255 at mean 0 with log_scale -7; "
            "128/255 at mean 0.1 and 26/255 at mean 0.5 with log_scale -7, about 440 scales away; ...)")
    expect_finite(name, far_got, hint=_rounded_away_hint(far_got, far, far_mean))
    expect_close(name + ", to within 0.01 nats", far_got,
                 _quadrature_log_prob(far, far_mean, far_log_scale), atol=1e-2, rtol=0,
                 hint="exact even there: the log of the bin's mass itself, not of a rounded sigmoid or a clamped one, "
                      "nor an approximation of the mass (the density at the bin's centre times the bin's width is "
                      "0.68 nats off where the bin is 4.3 scales wide, at log_scale -7, and the pixel a few levels "
                      "from the mean).")
    _expect_gradients("at the random levels, means and log-scales", log_prob, x, mean, log_scale, atol=1e-2)
    # the gradients just above the notebook's floor of log_scale, -7: a clamp there changes no value, only the
    # gradient at the floor itself
    above_floor = torch.where(far_log_scale <= -7.0, -6.9, far_log_scale)
    _expect_gradients("at pixels far from their mean (log_scale -6.9 where it was -7)", log_prob, far, far_mean,
                      above_floor, atol=5e-2)
    expect_on_device("discretised_logistic_log_prob(x, mean, log_scale)", log_prob, x, mean, log_scale, shape=x.shape,
                     hint="make any tensor you need on the device of x (torch.full_like, or plain Python numbers).")
    print(PASSED)


def _name_a_known_mistake(name: str, got: torch.Tensor, expected: torch.Tensor, nll: torch.Tensor, dims: int,
                          scale: float) -> None:
    """Raises a message of its own when ``got`` is what nats instead of bits, a sum over the dimensions instead of a
    mean, nll's sign turned, or the change of variables counted once per image, gives."""
    got = got.detach().cpu().double()
    expected, nll = expected.double(), nll.double()
    mistakes = ((expected * math.log(2), "these are nats, not bits: each value is ln 2 = 0.693 times the expected one. "
                                         "Bits are a log to base 2: divide the nats by ln 2, and the change of "
                                         "variables is log2(scale) bits."),
                (nll / dims + math.log2(scale), "the nats per dimension are not turned into bits: divide them by "
                                                "ln 2 as well."),
                (expected * dims, f"each value is {dims} times the expected one: bits per image, not per dimension. "
                                  f"Divide by the number of dimensions, the product of image_shape ({dims} here)."),
                (nll / math.log(2) + math.log2(scale), f"bits per image plus the per-dimension offset: divide the "
                                                        f"bits of an image by its {dims} dimensions (the product "
                                                        f"of image_shape)."),
                (-nll / (dims * math.log(2)) + math.log2(scale), "nll is -log p(y) already, a cost: take it as it "
                                                                  "comes (more nats, more bits)."),
                ((nll + math.log(scale)) / (dims * math.log(2)), f"the change of variables is counted once per image, "
                                                                  f"not once per dimension: the cube has a side of "
                                                                  f"1/scale in each of its {dims} dimensions."))
    for values, meaning in mistakes:
        if got.shape == values.shape and torch.allclose(got, values, atol=1e-3, rtol=1e-4):
            raise AssertionError(f"{name}: expected {_preview(expected)}, got {_preview(got)}: {meaning}")


@checking_answers
def bits_per_dim(bits_per_dim):
    """Checks the shape, that nll is left unchanged, values for images of 8-bit colour (scale 256), for a discrete
    model (scale 1) and for 16 levels (scale 16), and the device."""
    nll = torch.tensor([-2000.0, 0.0, 5000.0])
    got = expect_returns("bits_per_dim(nll of shape (3,), (3, 32, 32), 256)", bits_per_dim, nll, (3, 32, 32), 256)
    expect_shape("bits_per_dim(nll of shape (3,), (3, 32, 32), 256)", got, (3,))
    dims = 3 * 32 * 32
    expected = nll / (dims * math.log(2)) + 8.0
    offsets = {-8.0: "the change of variables from [0, 1] to the 256 levels is missing.",
               -16.0: "the change of variables from [0, 1] to the 256 levels goes the wrong way.",
               math.log2(255) - 8.0: "the levels are 256 cubes of side 1/scale, not 255."}
    name = "bits_per_dim(nll = [-2000, 0, 5000] nats, a density on [0, 1]^3072, scale 256)"
    expect_finite(name, got)
    _name_a_known_mistake(name, got, expected, nll, dims, 256)
    expect_close(name, got, expected,
                 atol=1e-4, rtol=1e-5, offsets=offsets,
                 hint="bits (a log to base 2), per dimension (the 3 x 32 x 32 sub-pixels), and the probability of a "
                      "level is the density integrated over that level's cube, of side 1 / scale.")
    grey = bits_per_dim(torch.tensor([500.0, 1500.0]), (1, 28, 28), 256)
    expect_close("bits_per_dim(nll = [500, 1500], (1, 28, 28), 256)", grey,
                 torch.tensor([500.0, 1500.0]) / (784 * math.log(2)) + 8.0, atol=1e-4, rtol=1e-5, offsets=offsets,
                 hint="the number of dimensions is the product of image_shape, whatever its length.")
    for shape in ((3, 24, 40), (28, 28), (2, 3, 12, 12)):  # a wide picture, one without channels, a pair of pictures
        expect_close(f"bits_per_dim(nll = [500, 1500], {shape}, 256)",
                     expect_returns(f"bits_per_dim(nll = [500, 1500], {shape}, 256)", bits_per_dim,
                                    torch.tensor([500.0, 1500.0]), shape, 256,
                                    hint="image_shape may have any length: (3, 32, 32), (28, 28), (2, 3, 12, 12)."),
                     torch.tensor([500.0, 1500.0]) / (math.prod(shape) * math.log(2)) + 8.0, atol=1e-4, rtol=1e-5,
                     hint="the number of dimensions is the product of image_shape, whatever its length and sides.")
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
