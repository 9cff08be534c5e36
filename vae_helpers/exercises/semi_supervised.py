"""The visible checks of notebook 08's exercises: M2's bound on a labelled code and on an unlabelled one."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from vae_helpers.checks import (PASSED, checking_answers, expect_close, expect_equal, expect_finite, expect_on_device,
                                expect_returns, expect_shape, hint_by_value)
from vae_helpers.lending import WHAT_TO_USE, AsLent

_POINT_BOUNDS = torch.tensor([-43.3211, -42.8914, -43.5111, -44.7145, -47.6739])  # a right labelled_bound on point_toy
# the gradients in h_toy of right labelled_bound(point_toy, h_toy, y_toy).sum(), unlabelled_bound(point_toy, h_toy).sum()
_POINT_GRADIENT_L = torch.tensor([[-0.0082, -0.8693, -0.3047], [-0.1161, -0.3554, -0.2380], [0.6966, 0.8011, 0.0344],
                                  [-0.3775, 1.9490, 0.2196], [-1.6621, -3.6025, 1.2997]])
_POINT_GRADIENT_U = torch.tensor([[-0.1325, -0.5722, -0.3692], [0.7479, -0.0798, -0.1523], [-0.1092, 0.5906, 0.1731],
                                  [-0.6895, 1.5553, 0.2552], [-1.7723, -2.6781, 1.3434]])
_WHY_H = (" In this notebook h is data (M1's codes, drawn without gradient), so training would not notice; but the "
          "bound is a function of h, and anything that produces h (an encoder trained through the bound) needs its "
          "gradient in h, which is checked here and when your notebook is graded.")


class _Halves(nn.Module):
    """``network(torch.cat(inputs, dim=1)).chunk(2, dim=1)``, as M2's encode and decode compute it."""

    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, *inputs):
        return self.network(torch.cat(inputs, dim=1)).chunk(2, dim=1)


class _SmallM2(nn.Module):
    """The notebook's M2, small, frozen. Its classify, encode and decode are parts of it, so that grading lends them
    as it lends the model's networks."""

    def __init__(self, code_dim, style_dim, n_classes, width=8):
        super().__init__()
        self.n_classes = n_classes
        self.classifier = nn.Sequential(nn.Linear(code_dim, width), nn.ReLU(), nn.Linear(width, n_classes))
        self.encoder = nn.Sequential(nn.Linear(code_dim + n_classes, width), nn.ReLU(), nn.Linear(width, 2 * style_dim))
        self.decoder = nn.Sequential(nn.Linear(style_dim + n_classes, width), nn.ReLU(), nn.Linear(width, 2 * code_dim))
        self.classify, self.encode, self.decode = self.classifier, _Halves(self.encoder), _Halves(self.decoder)
        self.requires_grad_(False)


def _bound_on_device(name, bound, codes, code_dim, n_classes, labelled):
    """``bound`` (``labelled_bound`` when ``labelled``, else ``unlabelled_bound``) of ``codes`` codes of
    ``code_dim`` numbers and their classes, with a ``_SmallM2`` of ``n_classes`` classes lent as grading lends a
    model, run as on a GPU with the model and the codes there (``expect_on_device``): a tensor the bound makes on
    the CPU (noise, one-hot vectors, the classes to sum over) meets the model's tensors and fails, as on a GPU."""
    model = AsLent(_SmallM2(code_dim, 2, n_classes))
    h = torch.randn(codes, code_dim, generator=torch.Generator().manual_seed(codes))
    inputs = (model, h, torch.arange(codes) % n_classes) if labelled else (model, h)
    hint = ("make every tensor on the device of the ones you are given: the noise with torch.randn_like(mu), the "
            "one-hot vectors from y itself (F.one_hot(y, ...)) or with device=h.device" if labelled else
            "make the classes to sum over on the device of h: torch.arange(k, device=h.device)")
    expect_on_device(name, bound, *inputs, shape=(codes,), hint=hint + ", never on the CPU.")


@checking_answers
def labelled_bound(labelled_bound, toy, point_toy, h_toy, y_toy):
    """Check ``labelled_bound`` on the notebook's toy M2s: its values on ``point_toy`` (q(z | h, y) a point), for
    the five codes and for the first two, then the spread, mean and gradient of its draws on ``toy``, then its
    gradient in the codes h, and the bound run as on a GPU (its tensors made where h is). The models are
    passed as grading lends them (``AsLent``): no parameters() listed."""
    lent_toy, lent_point_toy = AsLent(toy), AsLent(point_toy)
    bound = expect_returns("labelled_bound(point_toy, h_toy, y_toy), the model as grading lends it", labelled_bound,
                           lent_point_toy, h_toy, y_toy, lent_hint=WHAT_TO_USE + " (h.device, h.dtype).",
                           shape_hint="h_toy is (5, 3) and y_toy (5,), classes as integers: the networks take the "
                                      "codes beside the classes one-hot, as floats, (5, 3) beside (5, model.n_classes).")
    expect_shape("labelled_bound(point_toy, 5 codes, 5 classes)", bound, (5,))
    expect_close("labelled_bound(point_toy, h_toy, y_toy), q(z | h, y) a point", bound, _POINT_BOUNDS, atol=1e-3,
                 hint="log N(h; mean, e^logvar) of the decoder's output, summed over h's 3 dimensions, minus the KL "
                      "to N(0, I), minus log K for log p(y).",
                 offsets={math.log(4): "log p(y) = -log K is missing (K = model.n_classes, 4 for the toy).",
                          2 * math.log(4): "log p(y) is -log K, not +log K.",
                          1.5 * math.log(2 * math.pi): "the code's log-density lacks its -1/2 log(2 pi) per dimension.",
                          -math.log(10 / 4): "K is model.n_classes (4 for the toy), not N_CLASSES."})
    two = expect_returns("labelled_bound(point_toy, the first two codes, classes 0 and 1)", labelled_bound,
                         lent_point_toy, h_toy[:2], y_toy[:2],
                         hint="the one-hot of y needs model.n_classes columns, whatever classes y holds: F.one_hot(y) "
                              "alone makes only max(y) + 1.")
    expect_close("labelled_bound(point_toy, the first two codes, classes 0 and 1)", two, _POINT_BOUNDS[:2], atol=1e-3)
    torch.manual_seed(0)
    draws = labelled_bound(lent_toy, h_toy.repeat(4000, 1), y_toy.repeat(4000)).view(4000, 5)
    expect_equal("labelled_bound of each code changes from one draw of z to the next", bool((draws.std(0) > 0.01).all()),
                 True, hint="draw z = mu + exp(0.5 * logvar) * eps with eps ~ N(0, I), a new eps for each code and "
                            "dimension, and decode z, not mu.")
    expect_close("the spread (standard deviation) of labelled_bound(toy, h_toy, y_toy) over 4,000 draws of z",
                 draws.std(0), torch.tensor([0.0889, 0.2347, 0.1902, 0.2615, 1.5314]), atol=0.02, rtol=0.1,
                 hint="the spread follows how z is drawn: z = mu + sigma * eps, with sigma = exp(0.5 * logvar) the "
                      "standard deviation of q(z | h, y) (exp(logvar) is its variance) and eps a new N(0, 1) for each "
                      "code and each dimension, as torch.randn_like(mu) makes it.")
    expect_close("the mean of labelled_bound(toy, h_toy, y_toy) over 4,000 draws of z", draws.mean(0),
                 torch.tensor([-5.3194, -4.9808, -5.5361, -6.6691, -9.8171]), atol=0.12, rtol=0,
                 hint="one draw of z per code, the code's log-density at the decoder's output, minus the KL, minus log K.")
    h = h_toy.clone().requires_grad_()
    mean_bound = labelled_bound(lent_toy, h.repeat(4000, 1), y_toy.repeat(4000)).sum() / 4000
    expect_equal("labelled_bound carries gradients (nothing detached, no torch.no_grad())", mean_bound.requires_grad, True)
    toy.zero_grad()
    mean_bound.backward()
    expect_equal("labelled_bound(toy, h_toy, y_toy) gives the codes h a gradient", h.grad is not None, True,
                 hint="nothing may cut h from the bound: no h.detach(), .data or torch.no_grad() on its way." + _WHY_H)
    expect_close("the gradient of labelled_bound(toy, h_toy, y_toy), summed and averaged over 4,000 draws, in the bias "
                 "of q(z | h, y)'s last layer", toy.encoder[-1].bias.grad,
                 torch.tensor([5.0420, -1.6979, 1.5553, 2.0840]), atol=0.15, rtol=0.05,
                 hint="z must carry gradients back to mu and logvar: z = mu + exp(0.5 * logvar) * eps; .sample() "
                      "and torch.normal cut them, and only the KL's gradient is left.")
    h = h_toy.clone().requires_grad_()
    labelled_bound(lent_point_toy, h, y_toy).sum().backward()
    expect_close("the gradient of labelled_bound(point_toy, h_toy, y_toy).sum() in the codes h", h.grad,
                 _POINT_GRADIENT_L, atol=1e-3, rtol=1e-3,
                 hint="h reaches the bound twice, through q(z | h, y) and through the code's log-density: both paths "
                      "must carry its gradient." + _WHY_H)
    _bound_on_device("labelled_bound(an M2, 5 codes and their classes)", labelled_bound, 5,
                    3, 4, labelled=True)
    print(PASSED)


SURE = 1000.0  # how much larger one class's logit is than the others': q(y | h) of the others is e^-1000, 0 in a float


def _sure_classifier_model(code_dim, style_dim, n_classes):
    """A ``_SmallM2`` whose classifier puts class 1 ``SURE`` nats above the others for every code."""
    model = _SmallM2(code_dim, style_dim, n_classes)
    with torch.no_grad():
        model.classifier[-1].bias[1] += SURE
    return model


def _expect_finite_for_a_sure_classifier(unlabelled_bound):
    """U(h) and its gradient in h must be finite where q(y | h) of every class but one underflows to 0: each term
    q log q is then 0, and 0 * log 0 computed as such is NaN."""
    h = torch.randn(5, 3, generator=torch.Generator().manual_seed(5), requires_grad=True)
    name = f"unlabelled_bound(an M2 whose classifier is sure of class 1: its logit {SURE:.0f} above the others, 5 codes)"
    hint = ("where the classifier is sure, q(y | h) of the other classes is 0 in a float and their log -inf: "
            "0 * -inf is NaN, and so is the gradient of an entropy that meets 0 log 0 (torch.special.entr, "
            "torch.xlogy). Take log q(y | h) as the log_softmax of model.classify(h), about -1000 there, and q "
            "times it is 0 with a gradient of 0.")
    bound = expect_returns(name, unlabelled_bound, AsLent(_sure_classifier_model(3, 2, 4)), h)
    expect_finite(name, bound, hint=hint)
    bound.sum().backward()
    expect_finite(f"the gradient in the codes h of {name}", h.grad, hint=hint)


def _expect_a_confident_classifier(unlabelled_bound, labelled_bound):
    """U(h) of a classifier confident of one class (the others' q(y | h) about 0.002) must count every q(y | h) as
    it is: a log taken of a probability floored (clamped) away from 0 moves the entropy's value."""
    torch.manual_seed(4)
    model = _SmallM2(3, 2, 4)
    with torch.no_grad():
        model.classifier[-1].bias[1] += 6.0
        model.encoder[-1].bias[2:].fill_(-40.0)  # q(z | h, y) a point: labelled_bound is exact
    lent, h = AsLent(model), torch.randn(5, 3, generator=torch.Generator().manual_seed(8))
    log_q = F.log_softmax(model.classify(h), dim=1)
    bounds = torch.stack([labelled_bound(lent, h, torch.full((5,), y)) for y in range(model.n_classes)], dim=1)
    expect_close("unlabelled_bound(an M2 whose classifier is confident of class 1: the others' q(y | h) about 0.002, "
                 "q(z | h, y) a point, 5 codes)", unlabelled_bound(lent, h), (log_q.exp() * (bounds - log_q)).sum(1),
                 atol=1e-3, rtol=1e-5,
                 hint="every q(y | h) counts as it is, however small: the log of a probability clamped or floored away "
                      "from 0 adds to the entropy where q is small.")


def _expect_the_mean_over_draws(unlabelled_bound, labelled_bound, copies=10_000):
    """Where q(z | h, y) is not a point, U(h) averaged over draws of z must be the q(y | h)-weighted average of
    labelled_bound's own averages plus the entropy of q(y | h): a U(h) that decodes the mean of q(z | h, y), which
    is a draw only where q is a point, fails here."""
    torch.manual_seed(2)
    model = _SmallM2(3, 2, 4)
    with torch.no_grad():  # a decoder far from linear in z, and a q(z | h, y) wider than the prior
        model.decoder[0].weight.mul_(3)
        model.encoder[-1].bias[2:].fill_(1.0)
    lent = AsLent(model)
    h = torch.randn(2, 3, generator=torch.Generator().manual_seed(2))
    torch.manual_seed(3)
    got = unlabelled_bound(lent, h.repeat(copies, 1)).view(copies, 2).mean(0)
    log_q = F.log_softmax(model.classify(h), dim=1)
    bounds = torch.stack([labelled_bound(lent, h.repeat(copies, 1), torch.full((2 * copies,), y)).view(copies, 2).mean(0)
                          for y in range(model.n_classes)], dim=1)
    expect_close(f"the mean of unlabelled_bound(an M2 whose q(z | h, y) is wide, 2 codes) over {copies:,} draws of z",
                 got, (log_q.exp() * (bounds - log_q)).sum(1), atol=0.1, rtol=0,
                 hint="U(h) is an expectation over y of the labelled bound, whose z is a draw from q(z | h, y), not "
                      "its mean: with point_toy the two are the same, with a wide q they are not.")


@checking_answers
def unlabelled_bound(unlabelled_bound, labelled_bound, point_toy, h_toy, y_toy):
    """Check ``unlabelled_bound`` on the notebook's toy M2 whose q(z | h, y) is a point: that each code's bound
    is its own, its values, the gradients it gives the classifier and the codes h, and the bound of codes on the
    run as on a GPU (its tensors made where h is). ``labelled_bound`` is checked first, since ``unlabelled_bound`` builds on
    it. The model is passed as grading lends it (``AsLent``)."""
    lent_point_toy = AsLent(point_toy)
    expect_close("your labelled_bound(point_toy, h_toy, y_toy), which unlabelled_bound builds on",
                 labelled_bound(lent_point_toy, h_toy, y_toy), _POINT_BOUNDS, atol=1e-3,
                 hint="make Exercise 1's checks pass first: these checks use your labelled_bound (when your notebook "
                      "is graded, this exercise is checked with a correct one).")
    bound = expect_returns("unlabelled_bound(point_toy, h_toy), the model as grading lends it", unlabelled_bound,
                           lent_point_toy, h_toy, lent_hint=WHAT_TO_USE + " (h.device, h.dtype).",
                           shape_hint="labelled_bound pairs each code with one class: pair each of the 5 codes with "
                                      "each of the K classes, 5 × K pairs, laid out so that their bounds read as a (5, K) "
                                      "table, one row per code.")
    expect_shape("unlabelled_bound(point_toy, 5 codes)", bound, (5,))
    expect_finite("unlabelled_bound(point_toy, 5 codes)", bound)
    expect_close("unlabelled_bound(point_toy, h_toy) called twice: with q(z | h, y) a point, nothing in U(h) is random",
                 unlabelled_bound(lent_point_toy, h_toy), bound, atol=1e-6,
                 hint="take the expectation over y exactly, as a sum over the K classes weighted by q(y | h), not by "
                      "sampling y.")
    alone = torch.cat([unlabelled_bound(lent_point_toy, h_toy[i:i + 1]) for i in range(5)])
    expect_close("unlabelled_bound(point_toy, h_toy) against each code's unlabelled_bound alone (h_toy[i:i + 1])", bound,
                 alone, atol=1e-4,
                 hint="a code's bound must not depend on the other codes of the batch. Each code's row of the (batch, K) "
                      "table must hold its own bounds with each class: lay the pairs out in the order you read them "
                      "back (repeat repeats the whole batch, repeat_interleave each code in turn); q(y | h) is a "
                      "softmax over the classes (dim=1), not over the batch.")
    expect_close("unlabelled_bound(point_toy, h_toy), q(z | h, y) a point", bound,
                 torch.tensor([-42.0055, -42.1179, -41.9796, -43.0395, -45.9692]), atol=1e-3,
                 hint=hint_by_value([
                     ([-44.75296, -44.86856, -44.73294, -45.78924, -48.70442],
                      "the term of q(y | h) in -log q(y, z | h) has the wrong sign here: the bound adds the entropy "
                      "of q(y | h), which is never negative."),
                     ([-43.37924, -43.49321, -43.35625, -44.41438, -47.33681],
                      "q(y | h) weights each class's bound, but the term of q(y | h) in -log q(y, z | h) is missing."),
                     ([-43.38811, -43.53842, -43.362, -44.4107, -47.39085],
                      "this weighs every class alike: the expectation over y is under q(y | h), the classifier's "
                      "distribution."),
                     ([-190.095, -198.1725, -189.7943, -191.8881, -209.752],
                      "these are model.classify(h)'s logits used as log-probabilities: normalise them over the "
                      "classes first.")], atol=1e-3, rtol=1e-4,
                     otherwise="U(h) is the ELBO of log p(h) with q(y, z | h) = q(y | h) q(z | h, y): write it as an "
                               "expectation over y of what labelled_bound gives, and keep every term of "
                               "-log q(y, z | h)."))
    point_toy.zero_grad()
    h = h_toy.clone().requires_grad_()
    bound = unlabelled_bound(lent_point_toy, h)
    expect_equal("unlabelled_bound carries gradients (nothing detached, no torch.no_grad())", bound.requires_grad, True,
                 hint="compute it with torch operations from model.classify(h) and labelled_bound, and detach nothing: "
                      "its gradient trains the classifier.")
    bound.sum().backward()
    expect_equal("unlabelled_bound(point_toy, h_toy) gives the codes h a gradient", h.grad is not None, True,
                 hint="nothing may cut h from the bound: no h.detach(), .data or torch.no_grad() on its way." + _WHY_H)
    gradient = point_toy.classifier[0].weight.grad
    expect_equal("the classifier gets a gradient from unlabelled_bound",
                 gradient is not None and bool(gradient.abs().sum() > 1e-3), True,
                 hint="the weights q(y | h) must come from model.classify(h) with nothing detached.")
    expect_close("the classifier's gradient (its first layer's weight, summed) from unlabelled_bound(point_toy, h_toy).sum()",
                 gradient.sum(), 0.1561, atol=1e-3, rtol=1e-3,
                 hint="the weights q(y | h) and the entropy both carry the classifier's gradient: detach neither, and "
                      "take log q from the log_softmax of model.classify(h).")
    expect_close("the gradient of unlabelled_bound(point_toy, h_toy).sum() in the codes h", h.grad, _POINT_GRADIENT_U,
                 atol=1e-3, rtol=1e-3,
                 hint="h reaches U(h) through model.classify(h) and through labelled_bound: both paths must carry its "
                      "gradient." + _WHY_H)
    _expect_finite_for_a_sure_classifier(unlabelled_bound)
    _expect_a_confident_classifier(unlabelled_bound, labelled_bound)
    _expect_the_mean_over_draws(unlabelled_bound, labelled_bound)
    _bound_on_device("your labelled_bound(an M2, 5 codes and their classes), which "
                    "unlabelled_bound builds on (make Exercise 1's checks pass first)", labelled_bound, 5, 3, 4,
                    labelled=True)
    _bound_on_device("unlabelled_bound(an M2, 5 codes)", unlabelled_bound, 5, 3, 4,
                    labelled=False)
    print(PASSED)
