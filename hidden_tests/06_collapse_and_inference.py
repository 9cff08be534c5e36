"""Hidden tests of 06_collapse_and_inference: free bits, refining a posterior, the prior's quantile grid and
the aggregate posterior's density."""
import math

import torch
from torch import nn

from vae_helpers.checks import (expect_close, expect_equal, expect_finite, expect_on_device, expect_shape,
                                expect_value_error, largest_tensor_made)
from vae_helpers.exercises import collapse_and_inference as checks  # the visible checks, and one step's check


def elbo_per_image(decoder, x, mu, logvar, n_samples=1):
    """The notebook's ELBO of each image (Bernoulli decoder, N(0, I) prior), as the checks measure it."""
    z = mu + torch.exp(0.5 * logvar) * torch.randn(n_samples, *mu.shape, device=mu.device)
    logits = decoder(z.flatten(0, 1)).view(n_samples, len(x), -1)
    log_likelihood = -nn.functional.binary_cross_entropy_with_logits(
        logits, x.flatten(1).expand_as(logits), reduction="none").sum(-1)
    return log_likelihood.mean(0) - 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(1)


def test_free_bits_kl(free_bits_kl):
    g = torch.Generator().manual_seed(2024)
    kl = (torch.rand(7, 5, generator=g) * 2.0).requires_grad_()
    for floor in (0.0, 0.3, 0.9, 1.2, 5.0):
        expected = kl.detach().mean(0).clamp(min=floor).sum()
        got = free_bits_kl(kl, floor)
        expect_shape(f"free_bits_kl(kl of shape (7, 5), {floor})", got, ())
        expect_close(f"free_bits_kl(kl of shape (7, 5), free_bits={floor})", got, expected, atol=1e-5, rtol=1e-5)
        expect_equal(f"free_bits_kl(kl of shape (7, 5), {floor}) carries gradients back to kl", got.requires_grad,
                     True)
        gradient, = torch.autograd.grad(got, kl)
        expect_close(f"gradient of free_bits_kl(kl of shape (7, 5), {floor})", gradient,
                     (kl.detach().mean(0) > floor).float().expand(7, 5) / 7, atol=1e-6, rtol=1e-5)
    expect_close("free_bits_kl for one image", free_bits_kl(torch.tensor([[0.2, 0.7, 3.0]]), 0.5), 4.2, atol=1e-5, rtol=1e-5)
    expect_close("free_bits_kl with every dimension below the floor", free_bits_kl(torch.full((3, 4), 0.1), 0.25),
                 1.0, atol=1e-5, rtol=1e-5)
    expect_on_device("free_bits_kl(kl of shape (7, 5), 1.2)", free_bits_kl, kl.detach(), 1.2, shape=(),
                     hint="make the floor on kl's device, or compare with the plain number free_bits.")
    expect_value_error("free_bits_kl(kl, -1.0)", free_bits_kl, kl, -1.0, why="a negative free_bits")


def test_refine_posterior(refine_posterior, student):
    torch.manual_seed(1)
    decoder = nn.Sequential(nn.Linear(3, 32), nn.Tanh(), nn.Linear(32, 784))
    with torch.no_grad():
        decoder[0].weight.mul_(3)
        decoder[2].weight.mul_(8)
    parameters = [p.detach().clone() for p in decoder.parameters()]
    in_kernel = student.lend_copy(decoder)  # the student's code works on a copy; its parameters are read back
    x = torch.bernoulli(torch.rand(1, 1, 28, 28).expand(5, 1, 28, 28))
    mu0, logvar0 = torch.randn(5, 3), torch.full((5, 3), -1.0)
    mu, logvar = mu0.clone().requires_grad_(), logvar0.clone().requires_grad_()
    unchanged = refine_posterior(in_kernel, x, mu, logvar, 0)
    expect_close("refine_posterior with steps=0 returns mu unchanged", unchanged[0], mu0, atol=0, rtol=0)
    expect_close("refine_posterior with steps=0 returns logvar unchanged", unchanged[1], logvar0, atol=0, rtol=0)
    expect_equal("refine_posterior with steps=0 returns tensors without gradient history",
                 unchanged[0].requires_grad or unchanged[1].requires_grad, False)
    one_mu, one_logvar = refine_posterior(in_kernel, x, mu, logvar, 1, lr=2e-2)
    checks._expect_one_adam_step("refine_posterior with steps=1, lr=2e-2", one_mu, one_logvar, mu0, logvar0, lr=2e-2)
    expect_on_device("refine_posterior(the decoder, 5 images, mu, logvar, 2 steps)", refine_posterior, in_kernel, x,
                     mu, logvar, 2, shape=(5, 3), hint=checks.REFINED_WHERE_MU_IS)
    new_mu, new_logvar = refine_posterior(in_kernel, x, mu, logvar, 150, lr=2e-2)
    expect_equal("the decoder's parameters are not changed",
                 all(torch.equal(b, p) for b, p in zip(parameters, student.parameters_of(in_kernel))), True)
    expect_equal("returned tensors have no gradient history", new_mu.requires_grad or new_logvar.requires_grad, False)
    with torch.no_grad():
        start = elbo_per_image(decoder, x, mu0, logvar0, 4000)
        end = elbo_per_image(decoder, x, new_mu, new_logvar, 4000)
    torch.manual_seed(2)
    best_mu, best_logvar = mu0.clone().requires_grad_(), logvar0.clone().requires_grad_()
    optimizer = torch.optim.Adam([best_mu, best_logvar], lr=2e-2)
    for _ in range(150):
        loss = -elbo_per_image(decoder, x, best_mu, best_logvar, 8).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        best = elbo_per_image(decoder, x, best_mu, best_logvar, 4000)
    expect_equal("every image's ELBO rises", bool((end > start).all()), True)
    expect_equal("the mean ELBO after 150 steps with lr=2e-2 reaches the reference's, less 10 nats",
                 bool(end.mean() >= best.mean() - 10.0), True)
    expect_equal("logvar is optimised too: its mean |change| is at least half the reference's",
                 bool((new_logvar - logvar0).abs().mean() >= 0.5 * (best_logvar.detach() - logvar0).abs().mean()), True)


def test_prior_quantile_grid(prior_quantile_grid):
    for n in (2, 5, 10):
        grid = prior_quantile_grid(n)
        expect_shape(f"prior_quantile_grid({n})", grid, (n, n, 2))
        u = (torch.arange(n, dtype=torch.float64) + 0.5) / n
        v = (math.sqrt(2) * torch.erfinv(2 * u - 1)).float()
        expect_close(f"z1 of prior_quantile_grid({n})", grid[..., 0], v.expand(n, n), atol=1e-4, rtol=1e-4)
        expect_close(f"z2 of prior_quantile_grid({n})", grid[..., 1], v.flip(0).unsqueeze(1).expand(n, n),
                     atol=1e-4, rtol=1e-4)
        mass = 0.5 * (1 + torch.erf(grid[0, :, 0].double() / math.sqrt(2)))
        expect_close(f"the prior's CDF at the grid's z1 values (n = {n})", mass.float(), u.float(), atol=1e-4, rtol=0)
    expect_value_error("prior_quantile_grid(0)", prior_quantile_grid, 0, why="a grid of no points")


def exact_log_aggregate_posterior(z, mu, logvar):
    """log q(z) of the mixture of N(mu_n, diag exp(logvar_n)), in double precision."""
    z, mu, logvar = z.double(), mu.double(), logvar.double()
    log_n = -0.5 * ((z[:, None] - mu[None]) ** 2 / logvar.exp()[None] + logvar[None] + math.log(2 * math.pi)).sum(-1)
    return torch.logsumexp(log_n, 1) - math.log(len(mu))


def test_log_aggregate_posterior(log_aggregate_posterior):
    g = torch.Generator().manual_seed(2024)
    mu = torch.randn(50, 3, generator=g) * 2
    logvar = torch.randn(50, 3, generator=g) * 0.5 - 1
    z = torch.randn(40, 3, generator=g) * 3
    for chunk in (1000, 7, 1):
        got = log_aggregate_posterior(z, mu, logvar, chunk=chunk)
        expect_shape(f"log q(z) of 40 codes (chunk={chunk})", got, (40,))
        expect_close(f"log q(z) of 40 codes under 50 posteriors in 3 dimensions (chunk={chunk})", got.double(),
                     exact_log_aggregate_posterior(z, mu, logvar), atol=1e-3, rtol=1e-5)
    _, largest = largest_tensor_made(log_aggregate_posterior, z, mu, logvar, chunk=4)
    assert largest <= 4 * 50 * 3, (f"log_aggregate_posterior(40 codes, 50 posteriors in 3 dimensions, chunk=4): one step "
                                   f"made a tensor of {largest:,} numbers, more than 4 codes at a time need; chunk "
                                   f"is the number of codes to take at a time")
    expect_close("log q(z) with every posterior given twice (q is their average: it must not change)",
                 log_aggregate_posterior(z, mu.repeat(2, 1), logvar.repeat(2, 1)).double(),
                 exact_log_aggregate_posterior(z, mu, logvar), atol=1e-3, rtol=1e-5)
    expect_on_device("log q(z) of 40 codes under 50 posteriors (chunk=7)", log_aggregate_posterior, z, mu, logvar, 7,
                     shape=(40,), hint="make every tensor from the ones you are given or on their device, never on "
                                       "the CPU.")
    far = torch.full((3, 3), 60.0)
    expect_finite("log q(z) 60 units from every code", log_aggregate_posterior(far, mu, logvar))
    expect_close("log q(z) 60 units from every code", log_aggregate_posterior(far, mu, logvar).double(),
                 exact_log_aggregate_posterior(far, mu, logvar), atol=1e-2, rtol=1e-5)
