"""Hidden tests of 08_semi_supervised: M2's bound on a labelled code and on an unlabelled one."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from vae_helpers.checks import expect_close, expect_equal, expect_shape
from vae_helpers.exercises import semi_supervised as checks  # the visible checks, and their check as on a GPU


def mlp(inputs, outputs, width):
    return nn.Sequential(nn.Linear(inputs, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, outputs))


class M2(nn.Module):
    """The notebook's M2, rebuilt here so that grading relies on no notebook object."""

    def __init__(self, code_dim, style_dim, n_classes, width):
        super().__init__()
        self.n_classes = n_classes
        self.classifier = mlp(code_dim, n_classes, width)
        self.encoder = nn.Sequential(nn.Linear(code_dim + n_classes, width), nn.ReLU(), nn.Linear(width, 2 * style_dim))
        self.decoder = nn.Sequential(nn.Linear(style_dim + n_classes, width), nn.ReLU(), nn.Linear(width, 2 * code_dim))

    def classify(self, h):
        return self.classifier(h)

    def encode(self, h, y):
        return self.encoder(torch.cat([h, y], dim=1)).chunk(2, dim=1)

    def decode(self, z, y):
        return self.decoder(torch.cat([z, y], dim=1)).chunk(2, dim=1)


class LinearGaussian(nn.Module):
    """[a, y] ↦ [mean, log-variance] with mean a Mᵀ + y Nᵀ and log-variance y Pᵀ + p: the linear M2's encoder
    and decoder, which take and give what the notebook's networks do."""

    def __init__(self, M, N, P, p):
        super().__init__()
        self.M, self.N, self.P, self.p = M, N, P, p
        self.in_features, self.out_features = M.shape[1] + N.shape[1], M.shape[0] + P.shape[0]  # as nn.Linear's

    def forward(self, ay):
        a, y = ay.split([self.M.shape[1], self.N.shape[1]], dim=1)
        return torch.cat([a @ self.M.T + y @ self.N.T, (y @ self.P.T + self.p).expand(len(a), -1)], dim=1)


class LinearM2(nn.Module):
    """An M2 whose networks are linear, so that E_q[L(h, y)] is known exactly: q(z | h, y) has mean
    h A^T + y B^T and log-variance y C^T + c; p(h | y, z) has mean z D^T + y E^T and log-variance y F^T + f.
    Like the notebook's M2 it has a classifier, an encoder and a decoder, each an ``nn.Sequential`` whose last
    layer has the notebook's ``in_features`` and ``out_features``, which code may call and index directly."""

    def __init__(self, code_dim, style_dim, n_classes, seed, z_logvar=-1.5):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.n_classes = n_classes
        self.G, self.g = (nn.Parameter(torch.randn(n_classes, code_dim, generator=g)),
                          nn.Parameter(torch.randn(n_classes, generator=g)))
        self.A, self.B = (nn.Parameter(torch.randn(style_dim, code_dim, generator=g) * 0.5),
                          nn.Parameter(torch.randn(style_dim, n_classes, generator=g)))
        self.C = nn.Parameter(torch.randn(style_dim, n_classes, generator=g) * 0.3)
        self.c = nn.Parameter(torch.full((style_dim,), float(z_logvar)))
        self.D, self.E = (nn.Parameter(torch.randn(code_dim, style_dim, generator=g)),
                          nn.Parameter(torch.randn(code_dim, n_classes, generator=g)))
        self.F, self.f = (nn.Parameter(torch.randn(code_dim, n_classes, generator=g) * 0.3),
                          nn.Parameter(torch.zeros(code_dim)))
        self.classifier = nn.Sequential(nn.Linear(code_dim, n_classes))
        self.classifier[0].weight, self.classifier[0].bias = self.G, self.g  # h Gᵀ + g, on the model's parameters
        self.encoder = nn.Sequential(LinearGaussian(self.A, self.B, self.C, self.c))
        self.decoder = nn.Sequential(LinearGaussian(self.D, self.E, self.F, self.f))

    def classify(self, h):
        return self.classifier(h)

    def encode(self, h, y):
        return self.encoder(torch.cat([h, y], dim=1)).chunk(2, dim=1)

    def decode(self, z, y):
        return self.decoder(torch.cat([z, y], dim=1)).chunk(2, dim=1)

    def expected_labelled_bound(self, h, y):
        """E over q(z | h, y) of L(h, y), exactly."""
        one_hot = F.one_hot(y, self.n_classes).to(h.dtype)
        mu, logvar = self.encode(h, one_hot)
        mean, h_logvar = self.decode(mu, one_hot)
        spread = logvar.exp() @ (self.D ** 2).T  # E[(D (z - mu))^2], per dimension of h
        log_likelihood = -0.5 * (math.log(2 * math.pi) + h_logvar + ((h - mean) ** 2 + spread) / h_logvar.exp()).sum(1)
        kl = 0.5 * (logvar.exp() + mu ** 2 - 1.0 - logvar).sum(1)
        return log_likelihood - kl - math.log(self.n_classes)

    def expected_unlabelled_bound(self, h):
        """E over q(z | h, y) of U(h), exactly."""
        k = self.n_classes
        table = self.expected_labelled_bound(h.repeat_interleave(k, 0), torch.arange(k).repeat(len(h))).view(len(h), k)
        log_q = F.log_softmax(self.classify(h), dim=1)
        return (log_q.exp() * (table - log_q)).sum(1)


def lent(student, model):
    """``model`` as the student's code may use it: its n_classes, classify, encode and decode."""
    return student.lend(model, methods=("classify", "encode", "decode"))


def notebook_objects(student):
    """The notebook's toy_models(), with the M2 here: toy, point_toy (q(z | h, y) a point), h_toy and y_toy."""
    torch.manual_seed(0)
    toy = M2(3, 2, 4, 16)
    point_toy = M2(3, 2, 4, 16)
    with torch.no_grad():
        toy.decoder[0].weight.mul_(4)
        toy.encoder[-1].bias[2:].sub_(2)
        point_toy.load_state_dict(toy.state_dict())
        point_toy.encoder[-1].bias[2:].fill_(-40)
    return {"toy": lent(student, toy), "point_toy": lent(student, point_toy),
            "h_toy": torch.randn(5, 3), "y_toy": torch.tensor([0, 1, 2, 3, 0])}


def reference_labelled_bound(model, h, y):
    """The notebook's labelled_bound: L(h, y) of each code with its class, one z drawn per code."""
    one_hot = F.one_hot(y, model.n_classes).to(h.dtype)
    mu, logvar = model.encode(h, one_hot)
    mean, h_logvar = model.decode(mu + torch.exp(0.5 * logvar) * torch.randn_like(mu), one_hot)
    return (-0.5 * (math.log(2 * math.pi) + h_logvar + (h - mean) ** 2 / h_logvar.exp()).sum(1)
            - 0.5 * (logvar.exp() + mu ** 2 - 1.0 - logvar).sum(1) - math.log(model.n_classes))


# grade each exercise on its own: while the student's unlabelled_bound runs, labelled_bound is the version here
# unless the student's passed Exercise 1; Exercise 2's visible checks use the version here
ANSWERS = {"labelled_bound": reference_labelled_bound}


def test_labelled_bound(labelled_bound, student):
    torch.manual_seed(2024)
    g = torch.Generator().manual_seed(5)
    for seed, (code_dim, style_dim, k, atol) in enumerate([(4, 2, 3, 0.08), (3, 3, 5, 0.6)]):  # atol: 5 standard errors
        model = LinearM2(code_dim, style_dim, k, seed=seed)
        h = torch.randn(7, code_dim, generator=g)
        y = torch.randint(k, (7,), generator=g)
        y[:2] = torch.tensor([0, k - 1])
        point = LinearM2(code_dim, style_dim, k, seed=seed, z_logvar=-40.0)
        got = labelled_bound(lent(student, point), h, y)
        expect_shape(f"labelled_bound of 7 codes with {k} classes", got, (7,))
        expect_close(f"labelled_bound with q(z | h, y) a point (linear model, {k} classes)", got,
                     point.expected_labelled_bound(h, y).detach(), atol=2e-3, rtol=1e-5)
        got = labelled_bound(lent(student, point), h[:3], torch.zeros(3, dtype=torch.long))
        expect_close("labelled_bound when every code has class 0", got,
                     point.expected_labelled_bound(h[:3], torch.zeros(3, dtype=torch.long)).detach(), atol=2e-3, rtol=1e-5)
        copies = 20_000
        many_h, many_y = h[:3].repeat(copies, 1).requires_grad_(), y[:3].repeat(copies)  # a backward here reaches the kernel
        got = labelled_bound(lent(student, model), many_h, many_y)
        expect_close(f"the mean of labelled_bound over {copies:,} draws of z (linear model, {k} classes)",
                     got.view(copies, 3).mean(0), model.expected_labelled_bound(h[:3], y[:3]).detach(), atol=atol, rtol=0)
        model.zero_grad()
        (got.sum() / copies).backward()
        encoder = [model.A, model.B, model.C, model.c]
        want = torch.autograd.grad(model.expected_labelled_bound(h[:3], y[:3]).sum(), encoder)
        for name, p, w in zip("ABCc", encoder, want):
            expect_equal(f"labelled_bound gives q(z | h, y)'s parameter {name} a gradient", p.grad is not None, True)
            expect_close(f"the gradient of the mean labelled_bound in q(z | h, y)'s parameter {name}, through z",
                         p.grad, w, atol=0.15 * float(w.abs().max()) + 0.05, rtol=0)
    # the noise and the one-hot vectors made where h is: the bound run as on a GPU, the M2 and the codes there
    checks._bound_on_device("labelled_bound(an M2 of 6 classes, 9 codes of 4 numbers and their classes)",
                           labelled_bound, 9, 4, 6, labelled=True)


def test_unlabelled_bound(unlabelled_bound, student):
    torch.manual_seed(2024)
    g = torch.Generator().manual_seed(9)
    for seed, (code_dim, style_dim, k, batch) in enumerate([(4, 2, 3, 5), (3, 2, 6, 2), (2, 3, 2, 1)]):
        point = LinearM2(code_dim, style_dim, k, seed=10 + seed, z_logvar=-40.0)
        h = (torch.randn(batch, code_dim, generator=g) * 1.5).requires_grad_()  # a backward here reaches the kernel
        got = unlabelled_bound(lent(student, point), h)
        expect_shape(f"unlabelled_bound of {batch} codes with {k} classes", got, (batch,))
        want = point.expected_unlabelled_bound(h)
        expect_close(f"unlabelled_bound with q(z | h, y) a point ({batch} codes, {k} classes)", got.detach(), want.detach(),
                     atol=2e-3, rtol=1e-5)
        expect_equal(f"unlabelled_bound ({batch} codes, {k} classes) carries gradients (nothing detached, no "
                     f"torch.no_grad())", got.requires_grad, True)
        point.zero_grad()
        got.sum().backward()
        wrt = {"the classifier's weight": point.G, "the classifier's bias": point.g, "the codes h": h}
        for (name, p), w in zip(wrt.items(), torch.autograd.grad(want.sum(), list(wrt.values()))):
            expect_equal(f"unlabelled_bound gives {name} a gradient", p.grad is not None, True)
            expect_close(f"the gradient of unlabelled_bound in {name} ({batch} codes, {k} classes)",
                         p.grad, w, atol=2e-3, rtol=1e-3)
    model = LinearM2(3, 2, 4, seed=20)
    h = torch.randn(2, 3, generator=g)
    copies = 10_000
    got = unlabelled_bound(lent(student, model), h.repeat(copies, 1)).view(copies, 2).mean(0)
    expect_close(f"the mean of unlabelled_bound over {copies:,} draws of z", got, model.expected_unlabelled_bound(h).detach(),
                 atol=0.1, rtol=0)
    point = LinearM2(3, 2, 4, seed=21, z_logvar=-40.0)
    with torch.no_grad():
        point.g[2] += checks.SURE  # q(y | h) of the other classes underflows to 0 for every code
    h = torch.randn(3, 3, generator=g).requires_grad_()
    got = unlabelled_bound(lent(student, point), h)
    want = point.expected_unlabelled_bound(h)
    expect_close("unlabelled_bound with a classifier sure of one class (q(y | h) of the others 0 in a float)",
                 got.detach(), want.detach(), atol=2e-3, rtol=1e-5)
    gradient, = torch.autograd.grad(got.sum(), h)
    expect_close("the gradient of unlabelled_bound in the codes h with a classifier sure of one class", gradient,
                 torch.autograd.grad(want.sum(), h)[0], atol=2e-3, rtol=1e-3)
    # the classes to sum over made where h is: the bound run as on a GPU, the M2 and the codes there
    checks._bound_on_device("unlabelled_bound(an M2 of 6 classes, 9 codes of 4 numbers)", unlabelled_bound, 9, 4, 6,
                           labelled=False)
