"""The visible checks of notebook 07's exercises: the best diagonal Gaussian q, and a planar flow."""
import contextlib
import inspect

import torch

from vae_helpers.checks import (PASSED, called_without_gradients, checking_answers, expect_close, expect_equal,
                                expect_finite, expect_returns, expect_shape, hint_by_value, largest_tensor_made)

# log_det's tolerance in float64, here and in the hidden tests: an answer correct to float precision (an epsilon
# of 1e-8 inside the log moves log_det by 1e-6 where |det| is 0.01) passes both; each planted mistake is off by
# least 1e-3 there.
LOG_DET_ATOL, LOG_DET_RTOL = 1e-6, 1e-5


def _expect_no_d_by_d_matrix(planar_flow, n, d, per_row, seed):
    """Run ``planar_flow`` on n points in d > n dimensions (float64) and fail it if one step made a tensor as large
    as a d × d matrix: the O(d) log-determinant needs a few numbers per coordinate of each point, a Jacobian d × d
    numbers per point. Returns the call's result and the inputs."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g, dtype=torch.float64)
    shape = (n, d) if per_row else (d,)
    u, w = (torch.randn(*shape, generator=g, dtype=torch.float64) / d ** 0.5 for _ in range(2))
    b = torch.randn(n, generator=g, dtype=torch.float64) if per_row else 0.2
    kind = "one flow per point" if per_row else "one flow for all points"
    result, largest = largest_tensor_made(planar_flow, z, u, w, b)
    if largest >= d * d:
        raise AssertionError(
            f"planar_flow(z of shape ({n}, {d}), {kind}): one step made a tensor of {largest:,} numbers, as many as a "
            f"{d} × {d} matrix or more, where the inputs hold {n * d:,}: the exercise asks for a log-determinant that "
            f"costs O(d) per point, not a d × d Jacobian and its determinant. Hint: look at the Jacobian you built: "
            f"it is the identity plus a matrix of a special kind, whose determinant needs no d × d matrix.")
    return result, (z, u, w, b)


def _first_call_hint(error: BaseException) -> str:
    """The hint for planar_flow's first call that failed, from its error: a product of z and w meant for vectors
    alone, or tanh(w.z + b), one number per point, set beside u without a column's shape; no guess otherwise."""
    text = str(error)
    if "1D tensors expected" in text or "inconsistent tensor size" in text:
        return ("z is a batch of points, one per row: w.z + b is one number per row, and torch.dot takes two vectors "
                "only.")
    if "must match the size of tensor" in text or "broadcast" in text:
        return ("tanh(w.z + b) is one number per point, shape (3,); to scale u by it, make it a column, "
                "h.unsqueeze(-1) or h[..., None], so that it broadcasts against u.")
    return ""


NO_OPTIMISER = ("the checks run best_diagonal_q without autograd (torch.inference_mode()): the exercise asks for the "
                "minimum in closed form, from mean and precision alone, not found by an optimiser.")


def _needs_gradients(error: BaseException) -> bool:
    """True for autograd's refusal to work in ``torch.inference_mode()`` (an optimiser's backward, say)."""
    return any(words in str(error) for words in ("does not require grad", "Inference tensors", "inference mode",
                                                 "grad_fn"))


def _gap_withheld(*args, **kwargs):
    """What ``gap_of_diagonal_q`` is while ``best_diagonal_q`` runs in a check, here and at grading (the hidden
    tests' ``WITHHELD``): the exercise asks for the minimum in closed form, not found by minimising the gap."""
    raise AssertionError("best_diagonal_q called gap_of_diagonal_q, which the checks take away while it runs: find "
                         "the minimum in closed form, from mean and precision alone, not by evaluating or minimising "
                         "the gap.")


@contextlib.contextmanager
def _gap_withheld_from(best_diagonal_q):
    """While it is active, the notebook's ``gap_of_diagonal_q``, as the student's ``best_diagonal_q`` finds it, is
    ``_gap_withheld`` (at grading, the kernel's namespace is changed so instead)."""
    namespace = getattr(inspect.unwrap(best_diagonal_q), "__globals__", {})
    if "gap_of_diagonal_q" not in namespace:
        yield
        return
    kept, namespace["gap_of_diagonal_q"] = namespace["gap_of_diagonal_q"], _gap_withheld
    try:
        yield
    finally:
        namespace["gap_of_diagonal_q"] = kept


def _numerically_best_diagonal_q(gap_of_diagonal_q, mean, precision):
    """The diagonal q of smallest gap, found by L-BFGS from N(0, I): what best_diagonal_q finds in closed form."""
    m = torch.zeros_like(mean, requires_grad=True)
    log_v = torch.zeros_like(mean, requires_grad=True)
    optimizer = torch.optim.LBFGS([m, log_v], max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-15,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        gap = gap_of_diagonal_q(m, log_v.exp(), mean, precision)
        gap.backward()
        return gap

    optimizer.step(closure)
    return m.detach(), log_v.exp().detach()


@checking_answers
def best_diagonal_q(best_diagonal_q, gap_of_diagonal_q):
    """Check ``best_diagonal_q`` on three posteriors (d = 2, 3 and 1, the last in float32): a pair (m, v) of
    shape (d,) each, equal to the q that minimises the notebook's ``gap_of_diagonal_q`` numerically, found without
    calling that function and without autograd."""
    hint = ("the gap is a sum of a term in m alone and one term per variance v_i: write it out and minimise each term "
            "on paper, m where the quadratic form in mean - m is smallest, each v_i where its own term's derivative is "
            "zero.")
    toy_W = torch.tensor([[1.0, 0.9], [0.8, 1.0], [0.3, -0.2]], dtype=torch.float64)  # the toy's W, sigma^2 = 0.3
    posteriors = {"the toy's posterior, d = 2": (torch.tensor([0.5, -0.3], dtype=torch.float64),
                                                 torch.eye(2, dtype=torch.float64) + toy_W.T @ toy_W / 0.3),
                  "a posterior with d = 3": (torch.tensor([0.5, 0.0, -0.5], dtype=torch.float64),
                                             torch.tensor([[2.0, 0.6, -0.3], [0.6, 1.5, 0.4], [-0.3, 0.4, 1.0]],
                                                          dtype=torch.float64)),
                  "a posterior with d = 1, in float32": (torch.tensor([0.7]), torch.tensor([[4.0]]))}
    for name, (posterior_mean, posterior_precision) in posteriors.items():
        with _gap_withheld_from(best_diagonal_q):
            result = expect_returns(f"best_diagonal_q(mean, precision) for {name}, run without gradients",
                                    called_without_gradients, best_diagonal_q, posterior_mean, posterior_precision,
                                    hint=lambda error: NO_OPTIMISER if _needs_gradients(error) else hint)
        expect_equal("best_diagonal_q returns a pair (m, v)", isinstance(result, (tuple, list)) and len(result) == 2,
                     True)
        m, v = result
        d = len(posterior_mean)
        expect_shape(f"m for {name}", m, (d,))
        expect_shape(f"v for {name}", v, (d,))
        found_m, found_v = _numerically_best_diagonal_q(gap_of_diagonal_q, posterior_mean, posterior_precision)
        marginal = torch.linalg.inv(posterior_precision).diagonal()
        expect_close(f"m of the best diagonal q for {name}, against a numerical minimisation of the gap", m, found_m,
                     atol=1e-6, hint=hint)
        expect_close(f"v of the best diagonal q for {name}, against a numerical minimisation of the gap", v, found_v,
                     atol=1e-6, hint=("these are the posterior's marginal variances, the best q under the other KL, "
                                      "KL(p || q); the ELBO's gap is KL(q || p): "
                                      if torch.allclose(v.to(marginal.dtype), marginal) and d > 1 else "") + hint)
    print(PASSED)


@checking_answers
def planar_flow(planar_flow):
    """Check ``planar_flow`` on a few points in 2-D: the shapes and values of f(z) and log_det, log_det against
    the Jacobian autograd finds for the student's own f, each form of u, w and b the exercise allows, a batch of
    batches, a flow that is not invertible, the gradients in u, w and b, a single point, float64 inputs, and a
    determinant near 0 at the hidden tests' tolerance."""
    points = torch.tensor([[0.5, -1.0], [2.0, 0.3], [-0.7, 0.8]])
    one_u, one_w, one_b = torch.tensor([0.6, -0.4]), torch.tensor([1.2, 0.7]), torch.tensor(0.3)
    result = expect_returns("planar_flow(z of shape (3, 2), u, w, b)", planar_flow, points, one_u, one_w, one_b,
                            hint=_first_call_hint)
    expect_equal("planar_flow returns a pair (f(z), log_det)", isinstance(result, (tuple, list)) and len(result) == 2,
                 True)
    flowed, log_det = result
    expect_shape("f(z), the first of planar_flow's pair, for z of shape (3, 2)", flowed, (3, 2))
    expect_shape("log_det, the second of planar_flow's pair, for z of shape (3, 2)", log_det, (3,))
    expect_close("f(z) = z + u tanh(w.z + b)", flowed,
                 torch.tensor([[0.618425, -1.078950], [2.596449, -0.097633], [-0.688002, 0.792001]]), atol=1e-4,
                 hint="w.z + b is one number per row, (z * w).sum(-1) + b; f adds u times its tanh to the row.")
    expect_equal("f(z) carries gradients back to z (nothing detached, no torch.no_grad())",
                 planar_flow(points.clone().requires_grad_(), one_u, one_w, one_b)[0].requires_grad, True,
                 hint="compute f and log_det with torch operations on the inputs; no .detach(), .item() or "
                      "torch.no_grad().")
    jacobians = [torch.autograd.functional.jacobian(lambda row: planar_flow(row[None], one_u, one_w, one_b)[0][0],
                                                    point)
                 for point in points]
    expect_close("log_det against log |det| of the Jacobian of your own f, row by row", log_det,
                 torch.stack([torch.linalg.slogdet(j)[1] for j in jacobians]), atol=1e-4,
                 hint=hint_by_value([
                     ([0.083279, 0.362833, 0.008760], "this is log |1 + tanh(w.z + b) w.u|: the Jacobian holds the "
                                                      "derivative of tanh(w.z + b) in z, not tanh itself."),
                     ([-0.860717, -5.260612, -0.821380], "this is log |det| of the Jacobian without its identity "
                                                         "part: f(z) = z + ..., so df/dz = I + ..."),
                     ([0.302439, 0.002600, 0.358514], "the derivative of tanh is 1 - tanh^2, the tanh squared."),
                     ([1.422859, 1.005192, 1.439824], "this is |det| itself: log_det is its log."),
                     ([0.364643] * 3, "this is log |1 + w.u| at every point: the derivative of tanh(w.z + b), "
                                      "which differs from point to point, belongs in it.")],
                     otherwise="log_det must be log |det| of the Jacobian of your own f, which autograd computes "
                               "here: write out df/dz for f(z) = z + u h(w.z + b) and find its determinant without "
                               "building a d x d matrix (it is the identity plus an outer product)."))
    expect_close("log_det of planar_flow(z, u, w, b)", log_det, torch.tensor([0.352668, 0.005179, 0.364521]),
                 atol=1e-4)
    hint = "a shared flow's b may be a plain number, as the exercise says: add it as it is (a number has no methods)."
    flowed, log_det = expect_returns("planar_flow(z, u, w, b) with b = 0.3, a plain number", planar_flow, points,
                                     one_u, one_w, 0.3, hint=hint)
    expect_close("log_det with b = 0.3, a plain number", log_det, torch.tensor([0.352668, 0.005179, 0.364521]),
                 atol=1e-4, hint=hint)
    rows_u = torch.tensor([[0.6, -0.4], [0.1, 0.9], [-0.5, 0.2]])
    rows_w = torch.tensor([[1.2, 0.7], [-0.3, 0.5], [0.8, 0.8]])
    rows_b = torch.tensor([0.3, -1.0, 0.0])
    hint = ("with u and w of shape (3, 2) and b of shape (3,), one flow per row, each dot product (w.z, and w.u in "
            "log_det) is still one number per row, shape (3,): a product summed over the last dimension works for "
            "both shapes of w, torch.dot and z @ w only for one w; and b added to a column of shape (3, 1) "
            "(keepdim=True) broadcasts to a (3, 3) table.")
    flowed, log_det = expect_returns("planar_flow(z, u, w, b) with one u, w and b per row", planar_flow, points,
                                     rows_u, rows_w, rows_b, hint=hint)
    expect_close("f(z) with one u, w and b per row", flowed,
                 torch.tensor([[0.618425, -1.078950], [1.910431, -0.506124], [-0.739915, 0.815966]]), atol=1e-4,
                 hint=hint)
    expected = torch.tensor([0.352668, 0.079780, -0.272426])  # the third row's determinant lies between 0 and 1
    if torch.allclose(log_det.detach(), expected.abs(), atol=1e-4):
        hint = ("a determinant between 0 and 1 has a negative log: take the log of the absolute value of the "
                "determinant, not the absolute value of its log.")
    else:  # f(z) of these flows passed: the shapes are right, the value is not
        hint = ("f(z) with one flow per row is right, so the shapes are too: log_det must be log |det| of each row's "
                "own Jacobian, here where the third determinant lies between 0 and 1 (its log is negative).")
    expect_close("log_det with one u, w and b per row", log_det, expected, atol=1e-4, hint=hint)
    flowed, log_det = expect_returns(
        "planar_flow(z of shape (2, 3, 2), a batch of batches, with one u, w and b per row)", planar_flow,
        torch.stack([points, points.flip(0)]), rows_u, rows_w, rows_b,
        hint="z may have any number of leading dimensions, (..., d): count dimensions from the end (the last one is "
             "d), so that u, w and b broadcast over the leading ones.")
    expect_shape("log_det for z of shape (2, 3, 2), a batch of batches, with one flow per row", log_det, (2, 3))
    expect_close("log_det for z of shape (2, 3, 2)", log_det,
                 torch.tensor([[0.352668, 0.079780, -0.272426], [0.364521, 0.079780, -0.229858]]), atol=1e-4,
                 hint="sum over the last dimension only, (z * w).sum(-1), and broadcast u, w and b over the leading "
                      "ones.")
    _, log_det = planar_flow(points, torch.tensor([-1.5, 0.0]), one_w, one_b)
    expect_finite("log_det of a flow with w.u = -1.8", log_det,
                  hint="1 + psi^T u is negative here for the first and third rows: take the log of its absolute "
                       "value.")
    expect_close("log_det of a flow with w.u = -1.8", log_det, torch.tensor([-0.314879, -0.021469, -0.224044]),
                 atol=1e-4)
    z_, u_, w_, b_ = (t.clone().requires_grad_() for t in (points, one_u, one_w, one_b))
    flowed, log_det = planar_flow(z_, u_, w_, b_)
    expect_equal("planar_flow carries gradients (nothing detached, no torch.no_grad())",
                 flowed.requires_grad and log_det.requires_grad, True)
    (flowed.sum() + log_det.sum()).backward()
    for name, parameter, expected in (("w", w_, [0.719089, -0.479672]), ("u", u_, [2.869161, 2.178450]),
                                      ("b", b_, 0.254686),
                                      ("z", z_, [[1.089920, 1.052437], [0.990468, 0.994453], [1.225223, 1.131380]])):
        hint = ("the flow is trained through both outputs, in all of u, w and b and in z (through which the flow "
                "posterior's mean and variance learn): compute them with torch operations on the inputs themselves, "
                "nothing detached or rebuilt with torch.tensor(...).")
        expect_equal(f"{name} gets a gradient from f(z).sum() + log_det.sum()", parameter.grad is not None, True,
                     hint=hint)
        expect_close(f"the gradient of f(z).sum() + log_det.sum() in {name}", parameter.grad, torch.tensor(expected),
                     atol=1e-4, hint=hint)
    _, log_det = planar_flow(points[:1], rows_u[:1], rows_w[:1], rows_b[:1])
    expect_shape("log_det for a single point with its own flow, z of shape (1, 2): one value, kept in a batch of 1",
                 log_det, (1,))
    _, log_det = planar_flow(points.double(), one_u.double(), one_w.double(), one_b.double())
    expect_equal("the dtype of log_det for float64 inputs", log_det.dtype, torch.float64,
                 hint="compute in the inputs' dtype: make no new tensor of the default dtype.")
    expect_close("log_det for float64 inputs", log_det, torch.tensor([0.352668, 0.005179, 0.364521]), atol=1e-5)
    near = torch.tensor([[0.3, 0.2], [0.0, 0.5], [1.0, -0.2]], dtype=torch.float64)
    _, log_det = planar_flow(near, torch.tensor([-0.5, 0.5], dtype=torch.float64),
                             torch.tensor([1.0, -1.0], dtype=torch.float64), 0.0)
    expect_close("log_det for float64 inputs of a flow with w.u = -1, whose first determinant is about 0.01", log_det,
                 torch.tensor([-4.611821341, -1.543873666, -0.363872205], dtype=torch.float64),
                 atol=LOG_DET_ATOL, rtol=LOG_DET_RTOL,
                 hint="take the log of the determinant's absolute value as it is: an epsilon added inside the log "
                      "moves log_det by about epsilon / |det|, 1e-4 nats per 1e-6 here, where the determinant is "
                      "near 0.")
    _, log_det = _expect_no_d_by_d_matrix(planar_flow, 6, 60, per_row=True, seed=7)[0]
    expect_shape("log_det for z of shape (6, 60), one flow per point", log_det, (6,))
    print(PASSED)
