"""Hidden tests of 07_richer_posteriors_and_priors: the diagonal Gaussian q with the smallest gap, and the planar flow."""
import torch

from vae_helpers.checks import (called_without_gradients, expect_close, expect_equal, expect_finite, expect_returns,
                                expect_shape)
from vae_helpers.exercises import richer_posteriors_and_priors as checks  # the visible checks, tolerance, size check


def gap_of_diagonal_q(m, v, mean, precision):
    """The notebook's gap_of_diagonal_q, which the graded cell of Exercise 1 gives its visible checks."""
    difference = mean - m
    trace = torch.trace(precision @ torch.diag(v))
    return 0.5 * (trace + difference @ precision @ difference - len(m) - torch.logdet(precision) - v.log().sum())


WITHHELD = {"gap_of_diagonal_q": checks._gap_withheld}


def test_best_diagonal_q(best_diagonal_q):
    g = torch.Generator().manual_seed(2024)
    for d in (1, 2, 3, 5):
        for _ in range(3):
            a = torch.randn(d, d, generator=g, dtype=torch.float64)
            precision = a @ a.T + 0.5 * torch.eye(d, dtype=torch.float64)
            mean = torch.randn(d, generator=g, dtype=torch.float64)
            got = expect_returns(f"best_diagonal_q for d = {d}, run without gradients", called_without_gradients,
                                 best_diagonal_q, mean, precision,
                                 hint=lambda error: checks.NO_OPTIMISER if checks._needs_gradients(error) else "")
            expect_equal(f"best_diagonal_q for d = {d} returns a pair (m, v)",
                         isinstance(got, (tuple, list)) and len(got) == 2, True)
            m, v = got
            expect_shape(f"m for d = {d}", m, (d,))
            expect_shape(f"v for d = {d}", v, (d,))
            expect_close(f"m of the best diagonal q for d = {d}, a random posterior", m, mean, atol=1e-6, rtol=1e-6)
            expect_close(f"v of the best diagonal q for d = {d}, a random posterior", v, 1 / precision.diagonal(),
                         atol=1e-6, rtol=1e-6)
    precision = torch.tensor([[3.0, -1.0], [-1.0, 2.0]])
    m, v = called_without_gradients(best_diagonal_q, torch.tensor([-0.4, 0.6]), precision)
    expect_close("v of the best diagonal q in float32", v, torch.tensor([1 / 3, 1 / 2]), atol=1e-6)
    expect_close("m of the best diagonal q in float32", m, torch.tensor([-0.4, 0.6]), atol=1e-6)


def reference_planar_flow(z, u, w, b):
    """The notebook's planar_flow: f(z) = z + u tanh(w.z + b) and log |det df/dz| of each row."""
    a = (z * w).sum(-1) + b
    return z + u * torch.tanh(a).unsqueeze(-1), torch.log((1 + (1 - torch.tanh(a) ** 2) * (w * u).sum(-1)).abs())


def test_planar_flow(planar_flow):
    g = torch.Generator().manual_seed(2024)
    for d, n, per_row in [(1, 4, False), (3, 5, False), (5, 7, True), (2, 1, True), (4, 6, True)]:
        z = torch.randn(n, d, generator=g, dtype=torch.float64) * 1.5
        shape = (n, d) if per_row else (d,)
        u, w = (torch.randn(*shape, generator=g, dtype=torch.float64) for _ in range(2))
        b = torch.randn(n, generator=g, dtype=torch.float64) if per_row else torch.tensor(0.7, dtype=torch.float64)
        want_f, want_log_det = reference_planar_flow(z, u, w, b)
        kind = "one flow per row" if per_row else "one flow for all rows"
        got = planar_flow(z, u, w, b)
        expect_shape(f"f(z) for z of shape ({n}, {d}), {kind}", got[0], (n, d))
        expect_shape(f"log_det for z of shape ({n}, {d}), {kind}", got[1], (n,))
        expect_close(f"f(z) for z of shape ({n}, {d}), {kind}", got[0], want_f, atol=1e-8, rtol=1e-7)
        expect_close(f"log_det for z of shape ({n}, {d}), {kind}", got[1], want_log_det,
                     atol=checks.LOG_DET_ATOL, rtol=checks.LOG_DET_RTOL)
        inputs = [t.clone().requires_grad_() for t in (z, u, w, b)]
        got = planar_flow(*inputs)
        gradients = torch.autograd.grad((got[0] ** 2).sum() + 1.3 * got[1].sum(), inputs, allow_unused=True)
        mine = [t.detach().clone().requires_grad_() for t in (z, u, w, b)]
        out = reference_planar_flow(*mine)
        wants = torch.autograd.grad((out[0] ** 2).sum() + 1.3 * out[1].sum(), mine)
        for name, gradient, want in zip("zuwb", gradients, wants):
            expect_equal(f"planar_flow passes a gradient back to {name} ({kind})", gradient is not None, True)
            expect_close(f"the gradient of planar_flow's outputs in {name} ({kind})", gradient, want,
                         atol=checks.LOG_DET_ATOL, rtol=checks.LOG_DET_RTOL)
    z = torch.randn(4, 3, 2, generator=g, dtype=torch.float64)
    u, w = (torch.randn(3, 2, generator=g, dtype=torch.float64) for _ in range(2))
    b = torch.randn(3, generator=g, dtype=torch.float64)
    got, want = planar_flow(z, u, w, b), reference_planar_flow(z, u, w, b)
    expect_shape("log_det for z of shape (4, 3, 2), one flow per point of the last batch", got[1], (4, 3))
    expect_close("f(z) for z of shape (4, 3, 2)", got[0], want[0], atol=1e-8, rtol=1e-7)
    expect_close("log_det for z of shape (4, 3, 2)", got[1], want[1],
                     atol=checks.LOG_DET_ATOL, rtol=checks.LOG_DET_RTOL)
    u = torch.tensor([-2.0, 0.5], dtype=torch.float64)
    w = torch.tensor([1.0, 0.4], dtype=torch.float64)
    z = torch.tensor([[0.1, -0.2], [0.0, 0.0], [3.0, 1.0]], dtype=torch.float64)
    got, want = planar_flow(z, u, w, 0.0), reference_planar_flow(z, u, w, 0.0)
    expect_finite("log_det of a flow with w.u = -1.8 and b = 0.0 (a plain number)", got[1])
    expect_close("log_det of a flow with w.u = -1.8 and b = 0.0 (a plain number)", got[1], want[1],
                     atol=checks.LOG_DET_ATOL, rtol=checks.LOG_DET_RTOL)
    (flowed, log_det), inputs = checks._expect_no_d_by_d_matrix(planar_flow, 5, 80, per_row=False, seed=2025)
    want = reference_planar_flow(*inputs)
    expect_close("f(z) for z of shape (5, 80), one flow for all rows", flowed, want[0], atol=1e-8, rtol=1e-7)
    expect_close("log_det for z of shape (5, 80), one flow for all rows", log_det, want[1],
                 atol=checks.LOG_DET_ATOL, rtol=checks.LOG_DET_RTOL)
