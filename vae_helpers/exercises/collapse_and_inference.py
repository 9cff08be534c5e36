"""The visible checks of notebook 06's exercises: free bits, a refined posterior, the prior's quantile grid and the
aggregate posterior's density."""
import math

import torch
from torch import nn

from vae_helpers.checks import (PASSED, checking_answers, expect_close, expect_equal, expect_finite, expect_on_device,
                                expect_returns, expect_shape, expect_value_error, largest_tensor_made)
from vae_helpers.lending import WHAT_TO_USE, AsLent


@checking_answers
def free_bits_kl(free_bits_kl):
    """Check ``free_bits_kl`` on small KL tables: a scalar of the right value with and without free nats, for a
    batch of one image and with every dimension below the floor, run as on a GPU (``expect_on_device``), its
    gradient, and a ValueError for a negative ``free_bits``."""
    kl = torch.tensor([[0.1, 2.0, 0.0], [0.3, 4.0, 0.0]])
    expect_shape("free_bits_kl(kl of shape (2, 3), 0.5)", free_bits_kl(kl, 0.5), ())
    expect_close("free_bits_kl([[0.1, 2, 0], [0.3, 4, 0]], free_bits=0.5)", free_bits_kl(kl, 0.5), 4.0,
                 hint="average each dimension over the batch (0.2, 3.0, 0.0), raise each to at least 0.5 "
                      "(0.5, 3.0, 0.5), then sum.")
    expect_close("free_bits_kl(kl, 0.0): no free bits, the ordinary KL per image", free_bits_kl(kl, 0.0), 3.2,
                 hint="with free_bits = 0 it is kl summed over dimensions and averaged over images.")
    expect_close("free_bits_kl([[0, 2], [2, 0]], free_bits=1.0)",
                 free_bits_kl(torch.tensor([[0.0, 2.0], [2.0, 0.0]]), 1.0),
                 2.0, hint="average over the batch first (1, 1), then clamp: clamping each image first gives 3.")
    expect_close("free_bits_kl([[0.1, 1, 2]], free_bits=0.5): a batch of one image",
                 free_bits_kl(torch.tensor([[0.1, 1.0, 2.0]]), 0.5), 3.5,
                 hint="keep the batch dimension, even of size 1 (no squeeze): (0.5, 1, 2) sums to 3.5.")
    below = torch.tensor([[0.1, 0.2], [0.3, 0.0]], requires_grad=True)
    name = "free_bits_kl([[0.1, 0.2], [0.3, 0]], free_bits=1.0): every dimension below the floor"
    term = free_bits_kl(below, 1.0)
    if not isinstance(term, torch.Tensor):
        raise AssertionError(f"{name}: expected a torch.Tensor, got {type(term).__name__}. Hint: a Python max() "
                             f"returns the number free_bits itself where the KL is below it, so that with every "
                             f"dimension below the floor the sum is a float: use torch operations on kl, so that the "
                             f"result is a tensor that carries gradients.")
    expect_shape(name, term, ())
    expect_close(name, term, 2.0, hint="each dimension's average (0.2, 0.1) is raised to 1.0: 1.0 + 1.0.")
    expect_equal(f"{name}, for a kl that requires grad: the result carries gradients back to kl", term.requires_grad,
                 True, hint="compute it with torch operations on kl itself: a dimension below the floor gets a "
                            "gradient of 0, but the result is still a function of kl.")
    expect_on_device("free_bits_kl(kl of shape (2, 3), 0.5)", free_bits_kl, kl.detach(), 0.5, shape=(),
                     hint="a floor made as a new tensor (torch.full((d,), free_bits), torch.tensor([...])) is made on "
                          "the CPU: make it on kl's device (torch.full_like, device=kl.device), or compare with the "
                          "plain number free_bits.")
    kl = torch.tensor([[0.1, 2.0], [0.3, 4.0]], requires_grad=True)
    term = free_bits_kl(kl, 0.5)
    expect_equal("free_bits_kl(kl, 0.5) for a kl that requires grad carries gradients back to kl (nothing detached, "
                 "no torch.no_grad())", term.requires_grad, True,
                 hint="the KL term is trained through: compute it with torch operations on kl itself, with no "
                      ".detach(), .item(), .tolist() or torch.no_grad() and no new tensor made from its values.")
    gradient, = torch.autograd.grad(term, kl)
    expect_close("the gradient of free_bits_kl([[0.1, 2], [0.3, 4]], 0.5) with respect to kl", gradient,
                 torch.tensor([[0.0, 0.5], [0.0, 0.5]]),
                 hint="a dimension below the floor gets no gradient; above it, each image's KL counts 1 / batch.")
    error = expect_value_error("free_bits_kl(kl, -0.5)", free_bits_kl, kl, -0.5, why="a negative free_bits")
    print(f"a negative free_bits: ValueError({error})")
    print(PASSED)


REFINED_WHERE_MU_IS = ("optimise copies made where mu and logvar are (mu.detach().clone()), never on the CPU: the "
                       "decoder and the images are on the GPU with them.")


@checking_answers
def refine_posterior(refine_posterior, elbo_per_image):
    """Check ``refine_posterior`` on a small decoder and six images, with the notebook's ``elbo_per_image``: a
    decoder as grading lends it (``AsLent``), the shapes, no gradient history, the given tensors and the decoder
    left unchanged, run as on a GPU (``expect_on_device``), the ELBO risen after 100 steps with logvar optimised
    too, as far as a reference run of Adam's,
    no move with ``steps=0`` or ``lr=0``, Adam's first step with ``steps=1`` (``_expect_one_adam_step``) and a second
    that is not a new Adam's first. The given mu and logvar are neither the prior's nor any constant, as an encoder's."""
    torch.manual_seed(0)
    decoder = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 784))
    with torch.no_grad():  # large weights, so that the images' likelihood depends strongly on z
        decoder[0].weight.mul_(3)
        decoder[2].weight.mul_(8)
    before = [p.detach().clone() for p in decoder.parameters()]
    x = torch.bernoulli(torch.full((6, 1, 28, 28), 0.3))
    given = torch.Generator().manual_seed(1)  # as if from an encoder: neither the prior's 0 nor any other constant
    mu = (0.3 * torch.randn(6, 4, generator=given)).requires_grad_()
    logvar = (-0.5 + 0.2 * torch.randn(6, 4, generator=given)).requires_grad_()
    mu_given, logvar_given = mu.detach().clone(), logvar.detach().clone()
    expect_returns("refine_posterior(AsLent(decoder), 6 images, mu, logvar, 3 steps): the decoder as grading lends it",
                   refine_posterior, AsLent(decoder), x, mu, logvar, 3, hint=_refinement_error,
                   lent_hint=WHAT_TO_USE + " (mu.device, mu.dtype).")
    expect_on_device("refine_posterior(AsLent(decoder), 6 images, mu, logvar, 2 steps)", refine_posterior,
                     AsLent(decoder), x, mu, logvar, 2, shape=(6, 4), hint=REFINED_WHERE_MU_IS,
                     lent_hint=WHAT_TO_USE + " (mu.device, mu.dtype).")
    new_mu, new_logvar = refine_posterior(decoder, x, mu, logvar, steps=100)
    expect_shape("mu from refine_posterior (6 images, 4 latent dimensions)", new_mu, (6, 4))
    expect_shape("logvar from refine_posterior", new_logvar, (6, 4))
    expect_equal("the returned mu and logvar carry no gradient history (return .detach()ed tensors)",
                 new_mu.requires_grad or new_logvar.requires_grad, False)
    expect_equal("the mu and logvar you were given are left unchanged (work on copies)",
                 bool(mu.eq(mu_given).all() and logvar.eq(logvar_given).all()), True)
    expect_equal("the decoder's parameters are left unchanged (give the optimizer mu and logvar only)",
                 all(torch.equal(b, p) for b, p in zip(before, decoder.parameters())), True)
    with torch.no_grad():
        start = elbo_per_image(decoder, x, mu, logvar, 2000).mean().item()
        end = elbo_per_image(decoder, x, new_mu, new_logvar, 2000).mean().item()
    print(f"mean ELBO of the 6 images: {start:.1f} at the start, {end:.1f} after 100 steps")
    assert (new_mu - mu).abs().max() > 0 or (new_logvar - logvar).abs().max() > 0, (
        "refine_posterior: neither mu nor logvar moved in 100 steps. Hint: each step must compute the loss, "
        "optimizer.zero_grad(), loss.backward() and then optimizer.step(): a step taken with no gradient (before "
        "the backward, or none at all) moves nothing.")
    assert (new_logvar - logvar).abs().mean() > 0.1, ("refine_posterior: logvar hardly changed; it must be optimised "
                                                      "together with mu.")
    rise = (f"refine_posterior: expected the mean ELBO to rise by more than 50 nats in 100 steps, from {start:.1f}; "
            f"got {end:.1f}")
    if end <= start + 50:
        with torch.no_grad():
            swapped = elbo_per_image(decoder, x, new_logvar, new_mu, 2000).mean().item()
            logged = elbo_per_image(decoder, x, new_mu, new_logvar.clamp(min=1e-30).log(), 2000).mean().item()
        if swapped > start + 50:
            raise AssertionError(f"{rise}, but {swapped:.1f} with the two returned tensors taken the other way round. "
                                 f"Hint: return (mu, logvar), in that order.")
        if (new_logvar > 0).all() and logged > start + 50:  # a variance is positive; a log-variance here is not
            raise AssertionError(f"{rise}, but {logged:.1f} with the log of the second returned tensor. Hint: return "
                                 f"the log-variance, logvar, not the variance.")
    same_mu, same_logvar = refine_posterior(decoder, x, mu, logvar, steps=0)
    expect_close("mu from refine_posterior with steps=0 (no step: the given mu)", same_mu, mu_given, atol=0,
                 hint="start from the mu and logvar you are given, and take steps optimizer steps: with steps=0 the "
                      "loop takes none.")
    expect_close("logvar from refine_posterior with steps=0 (the given logvar)", same_logvar, logvar_given, atol=0,
                 hint="start from the mu and logvar you are given.")
    expect_equal("refine_posterior with steps=0: a returned tensor requires gradients",
                 same_mu.requires_grad or same_logvar.requires_grad, False,
                 hint="return new tensors without gradient history, also when no step is taken: the caller's own "
                      "mu and logvar still carry the encoder's graph.")
    still_mu, still_logvar = refine_posterior(decoder, x, mu, logvar, steps=3, lr=0.0)
    expect_close("mu from refine_posterior with steps=3, lr=0.0 (steps of length 0)", still_mu, mu_given,
                 atol=0, hint="use the learning rate you are given, lr, for the optimizer.")
    one_mu, one_logvar = refine_posterior(decoder, x, mu, logvar, steps=1)
    _expect_one_adam_step("refine_posterior(decoder, 6 images, mu, logvar, steps=1)", one_mu, one_logvar, mu, logvar,
                         lr=1e-2)
    two_mu, two_logvar = refine_posterior(decoder, x, mu, logvar, steps=2)
    moved = torch.cat([(two_mu - mu).detach().abs().flatten(), (two_logvar - logvar).detach().abs().flatten()])
    if ((moved - 2e-2).abs().lt(1e-5) | moved.lt(1e-5)).all():
        raise AssertionError("refine_posterior(decoder, 6 images, mu, logvar, steps=2): expected Adam's second step to "
                             "follow its moments, got every coordinate moved by exactly 0 or 2 lr, as two first steps "
                             "of two new Adams give (each moves every coordinate by lr). Hint: make one Adam before the "
                             "loop, not a new one each step: a new Adam forgets its moments.")
    assert end > start, (f"{rise}: it fell, the steps went down the ELBO. Hint: an optimizer minimises its loss: the "
                         f"loss is minus the ELBO (with maximize=True, the ELBO itself, not both).")
    assert end > start + 50, (f"{rise}. Hint: make one torch.optim.Adam([mu, logvar], lr=lr) "
                              f"before the loop and have it minimise minus the ELBO (so that the ELBO rises); the "
                              f"steps of torch.optim.SGD or of a rule written by hand are not Adam's, and at this lr "
                              f"they do not get there.")
    reference = _reference_refinement(elbo_per_image, decoder, x, mu, logvar, steps=100)
    print(f"the same 100 steps of a reference Adam run: {reference:.1f}")
    assert end > reference - 10, (
        f"refine_posterior: expected the mean ELBO after 100 steps within 10 nats of a reference run of Adam with "
        f"the same lr and n_samples, {reference:.1f}; got {end:.1f}, lower: the steps climbed another objective. Hint: "
        f"each step's loss is minus the mean of elbo_per_image(decoder, x, mu, logvar, n_samples) at the current mu "
        f"and logvar, each argument as it is given (logvar a log-variance, n_samples passed on).")
    assert end < reference + 10, (
        f"refine_posterior: expected the mean ELBO after 100 steps within 10 nats of a reference run of Adam with "
        f"the same lr and n_samples, {reference:.1f}; got {end:.1f}, higher: the steps were not Adam's with this lr. "
        f"Hint: make one Adam before the loop, not a new one each step (a new Adam forgets its moments, and its first "
        f"step moves every coordinate by about lr whatever the gradient), and zero the gradients before each "
        f"backward, so that each step follows its own gradient alone.")
    print(PASSED)


def _expect_one_adam_step(name, new_mu, new_logvar, mu, logvar, lr):
    """``new_mu`` and ``new_logvar``, what one step of Adam with ``lr`` made of ``mu`` and ``logvar``: Adam's first
    step moves every coordinate by lr, whatever its gradient, so the number of steps taken shows."""
    moved = torch.cat([(new_mu - mu).detach().abs().flatten(), (new_logvar - logvar).detach().abs().flatten()])
    if torch.allclose(moved, torch.full_like(moved, lr), rtol=1e-3, atol=0):
        return
    still, typical = int((moved < 1e-3 * lr).sum()), moved.median().item()
    if still:
        cause = f"{still} of the {moved.numel()} coordinates did not move: no step was taken there"
    elif torch.allclose(moved, torch.full_like(moved, typical), rtol=1e-3, atol=0):
        cause = f"every coordinate moved by {typical:.3g}, one Adam step with lr = {typical:.3g}, not the lr given"
    else:
        cause = "more than one step was taken, or steps that are not Adam's"
    raise AssertionError(f"{name}: expected one Adam step to move every coordinate of mu and logvar by lr = {lr:g} "
                         f"(Adam's first step is lr times the sign of the gradient), got moves from "
                         f"{moved.min().item():.3g} to {moved.max().item():.3g}: {cause}. Hint: take exactly `steps` "
                         f"optimizer steps, each after its own backward, with one torch.optim.Adam made with lr.")


def _refinement_error(error):
    """The likely cause of an error of refine_posterior's own (not the lent decoder's), for its hint."""
    message = str(error)
    if "non-leaf" in message:
        return ("an optimizer takes leaf tensors only: copy mu and logvar cut from their history, "
                "mu.detach().clone().requires_grad_(), and the same for logvar.")
    if "does not require grad" in message:
        return ("the loss has no gradient: the steps must run with gradients on (no torch.no_grad() around them), "
                "from copies of mu and logvar that require grad (.requires_grad_()).")
    if "second time" in message:
        return ("each step's backward frees the graph it went through: compute the loss anew in every step, inside "
                "the loop, from the current mu and logvar.")
    return ""


def _reference_refinement(elbo_per_image, decoder, x, mu, logvar, steps, lr=1e-2, n_samples=8):
    """The mean ELBO (2,000 draws) after ``steps`` steps of Adam up the ELBO of ``n_samples`` draws, from mu and
    logvar: what refine_posterior should reach, within the noise of its draws."""
    mu, logvar = mu.detach().clone().requires_grad_(), logvar.detach().clone().requires_grad_()
    optimizer = torch.optim.Adam([mu, logvar], lr=lr)
    for _ in range(steps):
        loss = -elbo_per_image(decoder, x, mu, logvar, n_samples).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return elbo_per_image(decoder, x, mu, logvar, 2000).mean().item()


@checking_answers
def prior_quantile_grid(prior_quantile_grid):
    """Check ``prior_quantile_grid``: the shape, dtype and values of a 4 × 4 grid laid out as a picture, the
    grid of one point, and a ValueError for ``n = 0``."""
    grid = prior_quantile_grid(4)
    expect_shape("prior_quantile_grid(4)", grid, (4, 4, 2))
    expect_equal("the dtype of prior_quantile_grid(4) (the decoder takes float32)", grid.dtype, torch.float32)
    expect_finite("prior_quantile_grid(4)", grid)
    layout = "grid[i, j] = (v_j, v_{n-1-i}): z1 depends on the column j only, z2 on the row i only."
    expect_equal("z1, the first coordinate, is the same down each column of prior_quantile_grid(4)",
                 bool(torch.allclose(grid[:, :, 0], grid[:1, :, 0].expand(4, 4))), True, hint=layout)
    expect_equal("z2, the second coordinate, is the same along each row of prior_quantile_grid(4)",
                 bool(torch.allclose(grid[:, :, 1], grid[:, :1, 1].expand(4, 4))), True, hint=layout)
    v = [-1.1503, -0.3186, 0.3186, 1.1503]  # the quantiles 1/8, 3/8, 5/8, 7/8 of N(0, 1)
    expect_close("the top row of prior_quantile_grid(4): z1 left to right", grid[0, :, 0], torch.tensor(v), atol=1e-4,
                 hint=_quantile_hint(grid[0, :, 0], v))
    expect_close("z2 down the first column of prior_quantile_grid(4)", grid[:, 0, 1], torch.tensor(v[::-1]), atol=1e-4,
                 hint="grid[i, j] = (v_j, v_{n-1-i}): the top row has the largest z2.")
    expect_close("prior_quantile_grid(1): the median of the prior", prior_quantile_grid(1), torch.zeros(1, 1, 2),
                 atol=1e-6)
    error = expect_value_error("prior_quantile_grid(0)", prior_quantile_grid, 0, why="a grid of no points")
    print(f"n = 0: ValueError({error})")
    print(PASSED)


def _quantile_hint(top, v):
    """The hint for a wrong top row ``top`` of the grid, ``v`` the right one: the known wrong grids named by their
    values (the quantiles of N(0, 1/2) that erfinv gives without its sqrt(2), the n + 1 equal intervals' edges,
    evenly spaced values), else the idea again, without the formula."""
    top = top.detach().float().cpu()
    normal = torch.distributions.Normal(0.0, 1.0)
    known = [(torch.tensor(v) / math.sqrt(2), "each value is 1/sqrt(2) of the right one: these are the quantiles of "
                                              "N(0, 1/2). Phi^-1(p) = sqrt(2) erfinv(2p - 1)."),
             (normal.icdf(torch.arange(1, 5) / 5), "these are the edges of 5 intervals of equal prior mass; the "
                                                   "grid has 4 intervals per axis, and each point splits the mass of "
                                                   "its own interval in half.")]
    for values, hint in known:
        if torch.allclose(top, values, atol=1e-3):
            return hint
    if torch.allclose(top.flip(0), torch.tensor(v), atol=1e-3):
        return "the values are right, in reverse order: z1 grows along a row, left to right."
    if torch.allclose(top[1:] - top[:-1], (top[1] - top[0]).expand(3), atol=1e-3):
        return ("these are evenly spaced in z: the points must be evenly spaced in prior probability, so they crowd "
                "near 0, where the prior's mass is.")
    return ("each axis is cut into n intervals of equal prior mass, and v_k splits the k-th interval's mass in half: "
            "what share of the prior's mass lies below v_k?")


@checking_answers
def log_aggregate_posterior(log_aggregate_posterior):
    """Check ``log_aggregate_posterior``: the shape and values of log q(z) for one posterior and for two, a code
    far from both (finite, right), the same numbers taken in chunks as in one piece, run as on a GPU
    (``expect_on_device``), and no step that holds more numbers at once than ``chunk`` codes need."""
    # variances 1 and 16: half the log-variances' sum, log 4, is none of log d, log N and log of the number of codes
    one_mu, one_logvar = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0, math.log(16.0)]])
    z = torch.tensor([[0.0, 0.0], [1.0, -2.0], [3.0, 1.0]])
    got = log_aggregate_posterior(z, one_mu, one_logvar)
    expect_shape("log_aggregate_posterior(3 codes, 1 posterior)", got, (3,))
    # with one posterior, q(z) is that Gaussian: -0.5 * sum_j ((z_j - mu_j)^2 / var_j + log var_j + log 2 pi)
    expect_close("log q(z) with a single posterior N((1, -2), diag(1, 16))", got,
                 torch.tensor([-0.5 * (1 + 4 / 16 + math.log(16)) - math.log(2 * math.pi),
                               -0.5 * math.log(16) - math.log(2 * math.pi),
                               -0.5 * (4 + 9 / 16 + math.log(16)) - math.log(2 * math.pi)]), atol=1e-4,
                 hint="the log-density of a diagonal Gaussian, summed over the d dimensions; exp(logvar) is the "
                      "variance.",
                 offsets={-math.log(4): "the log-variances' term counts twice: each dimension's log-density has "
                                        "-0.5 * logvar.",
                          -math.log(2): "with one posterior q(z) is that Gaussian: the average is over the N "
                                        "posteriors (1 here), so subtract log N, not log d (d = 2 here).",
                          -math.log(3): "with one posterior q(z) is that Gaussian: the average is over the N "
                                        "posteriors (1 here), so subtract log N, not log of the number of codes "
                                        "(3 here)."})
    two_mu, two_logvar = torch.tensor([[-3.0, 0.0], [3.0, 0.0]]), torch.zeros(2, 2)
    expect_close("log q(z) at the mean of one of two posteriors 6 standard deviations apart",
                 log_aggregate_posterior(torch.tensor([[-3.0, 0.0]]), two_mu, two_logvar),
                 torch.tensor([-math.log(2 * math.pi) - math.log(2)]), atol=1e-3,
                 hint="q is the average of the N densities, not of their logarithms and not their sum: each density "
                      "counts 1/N (the other one adds e^-18 here).",
                 offsets={math.log(2): "log q(z) is log 2 = log N too high. Either the average lacks its 1/N (subtract "
                                       "log N once), or the mixture was taken in each dimension alone: each posterior's "
                                       "density is of the whole vector z, so sum its log-density over the d dimensions "
                                       "first, then combine the N posteriors."})
    # a code at a posterior's mean and one 40 standard deviations from both, in one call (so in one chunk)
    near_and_far = log_aggregate_posterior(torch.tensor([[-3.0, 0.0], [40.0, 40.0]]), two_mu, two_logvar)
    name = "log q(z) for two codes in one call, one at a posterior's mean, one 40 standard deviations from both"
    hint = ("far from every posterior the densities are 0 in float32: never form them, combine their logarithms "
            "(torch.logsumexp), each code's with its own largest term, not one shift for the whole chunk.")
    expect_finite(name, near_and_far, hint=hint)
    expect_close(name, near_and_far, torch.tensor([-math.log(2 * math.pi) - math.log(2),
                                                   -(37 ** 2 + 40 ** 2) / 2 - math.log(2 * math.pi) - math.log(2)]),
                 atol=1e-2, hint=hint)
    codes = torch.randn(7, 2)
    expect_close("log_aggregate_posterior(7 codes, chunk=2): the same numbers as in one piece",
                 log_aggregate_posterior(codes, two_mu, two_logvar, chunk=2),
                 log_aggregate_posterior(codes, two_mu, two_logvar),
                 atol=1e-5, hint="take z chunk rows at a time and concatenate the pieces in order; none may be left out.")
    expect_on_device("log_aggregate_posterior(7 codes, 2 posteriors, chunk=3)", log_aggregate_posterior, codes,
                     two_mu, two_logvar, 3, shape=(7,),
                     hint="make every tensor from the ones you are given or on their device: concatenate the chunks' "
                          "results (torch.cat), or make the tensor to fill with device=z.device, and any weights or "
                          "logits of the N posteriors with device=mu.device, never on the CPU.")
    generator = torch.Generator().manual_seed(6)
    many_codes, mu, logvar = (torch.randn(rows, 3, generator=generator) for rows in (60, 50, 50))
    got, largest = largest_tensor_made(log_aggregate_posterior, many_codes, mu, logvar - 1, chunk=7)
    expect_shape("log_aggregate_posterior(60 codes, 50 posteriors, chunk=7)", got, (60,))
    if largest > 7 * 50 * 3:
        raise AssertionError(
            f"log_aggregate_posterior(60 codes, 50 posteriors in 3 dimensions, chunk=7): one step made a tensor of "
            f"{largest:,} numbers, more than the {7 * 50 * 3:,} (chunk × N × d) that 7 codes at a time need. "
            f"Hint: chunk is there so that M × N × d numbers are never held at once (for the notebook's 10,000 codes "
            f"and 10,000 posteriors, 800 MB): compute log q for chunk rows of z at a time, then concatenate "
            f"(z.split(chunk) cuts z into pieces of chunk rows; z.chunk(chunk) into chunk pieces).")
    print(PASSED)
