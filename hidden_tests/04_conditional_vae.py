"""Hidden tests of 04_conditional_vae: one-hot labels, the conditional VAE and its loss."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from vae_helpers.checks import (expect_close, expect_draw_on_device, expect_equal, expect_gradient_close, expect_on_device,
                                expect_relu_network, expect_shape, expect_uncorrelated, expect_value_error)
from vae_helpers.exercises import conditional_vae as checks  # noqa: F401 (visible checks)


def reference_one_hot(labels, n_classes):
    """The notebook's one_hot: integer labels (batch,) -> float32 one-hot vectors (batch, n_classes)."""
    if labels.is_floating_point() or labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError("labels")
    return F.one_hot(labels.long(), n_classes).float()


# grade each exercise on its own: while the student's cvae_loss runs, the one_hot it calls is the version here
# unless the student's passed Exercise 1; the visible checks of Exercises 2 and 3 are given it to make their labels
ANSWERS = {"one_hot": reference_one_hot}


def test_one_hot(one_hot):
    labels = torch.tensor([2, 0, 2, 1])
    out = one_hot(labels, 3)
    expect_equal("dtype of one_hot(labels, 3)", out.dtype, torch.float32)
    expect_shape("one_hot must return (batch, n_classes)", out, (4, 3))
    expect_close("one_hot([2, 0, 2, 1], 3)", out, torch.eye(3)[labels], atol=0, rtol=0)
    expect_shape("one_hot([0, 0, 1], 10)", one_hot(torch.tensor([0, 0, 1]), 10), (3, 10))
    expect_close("one_hot of int32 labels [4] with 5 classes", one_hot(torch.tensor([4], dtype=torch.int32), 5),
                 torch.tensor([[0., 0, 0, 0, 1]]), atol=0, rtol=0)
    expect_close("one_hot of uint8 labels [0, 2] with 3 classes", one_hot(torch.tensor([0, 2], dtype=torch.uint8), 3),
                 torch.tensor([[1., 0, 0], [0, 0, 1]]), atol=0, rtol=0)
    expect_on_device("one_hot([2, 0, 2, 1], 3)", one_hot, labels, 3, shape=(4, 3),
                     hint="make the one-hot vectors on labels.device (device=labels.device).")
    for bad in (torch.tensor([0, 3]), torch.tensor([-1, 0]), torch.tensor([0.5]), torch.tensor([1.0, 2.7]),
                torch.tensor([1.5, 0.0], dtype=torch.float64), torch.tensor([0.25], dtype=torch.float16),
                torch.tensor([2.0, 1.0]),
                torch.tensor([False, True])):
        expect_value_error(f"one_hot({bad.tolist()}, 3)", one_hot, bad, 3, why="labels out of range or not integers")


def test_conditional_vae(ConditionalVAE):
    torch.manual_seed(2024)
    model = ConditionalVAE()
    expect_equal("number of parameters (794-400-20 and 30-400-784)", sum(p.numel() for p in model.parameters()), 660_824)
    eye = torch.eye(10)
    x = torch.rand(10, 1, 28, 28)
    mu, logvar = model.encode(x, eye)
    fresh = ConditionalVAE()
    expect_relu_network("mu from encode(x, y) (ReLU after the hidden layer)", fresh, lambda x, y: fresh.encode(x, y)[0],
                        torch.rand(10, 784), eye)
    expect_relu_network("decode(z, y) (ReLU after the hidden layer)", fresh, fresh.decode, torch.randn(10, 20), eye)
    expect_shape("mu from encode(10 images, labels)", mu, (10, 20))
    expect_shape("logvar from encode(10 images, labels)", logvar, (10, 20))
    expect_equal("encode gives logvar equal to mu (logvar needs a layer of its own)", torch.equal(mu, logvar), False)
    expect_equal("some logvar below 0 from a new model's encode(500 random images, labels) (logvar = log sigma^2 is "
                 "any real number)", bool((model.encode(torch.rand(500, 784), eye.repeat(50, 1))[1] < 0).any()), True)
    expect_shape("mu from encode(10 flat images of shape (10, 784), labels)", model.encode(x.view(10, 784), eye)[0],
                 (10, 20))
    z = torch.randn(1, 20).expand(10, 20)
    out = model.decode(z, eye)  # one z, every class
    expect_shape("decode must return (batch, 784)", out, (10, 784))
    expect_equal("some negative value from decode(500 codes drawn wide, labels) (decode returns logits, any real "
                 "number: no sigmoid or ReLU after the last layer)",
                 bool((model.decode(3 * torch.randn(500, 20), eye.repeat(50, 1)) < 0).any()), True)
    gap = (out.unsqueeze(0) - out.unsqueeze(1)).abs().amax(-1) + torch.eye(10)
    expect_equal("the decoder's output changes whenever only the label changes", bool((gap > 1e-4).all()), True)
    same_x = x[:1].expand(10, 1, 28, 28)
    m = model.encode(same_x, eye)[0]
    expect_equal("the encoder's output changes whenever only the label changes",
                 bool(((m.unsqueeze(0) - m.unsqueeze(1)).abs().amax(-1) + torch.eye(10) > 1e-5).all()), True)
    # forward: a known q in, catch what reaches decode
    n = 5_000
    mu = torch.full((n, 20), 1.5, requires_grad=True)
    logvar = torch.full((n, 20), math.log(0.25), requires_grad=True)
    y = eye[torch.arange(n) % 10]
    seen = {}

    def capture(z, y):
        seen["z"], seen["y"] = z, y
        return torch.zeros(len(z), 784)  # zeros: logits of the right shape that cross the wire as one number

    model.encode = lambda x, y: (mu, logvar)
    model.decode = capture
    logits, returned_mu, returned_logvar = model(torch.zeros(n, 1, 28, 28), y)
    z = seen["z"]
    expect_equal("forward returns the (mu, logvar) of encode",
                 torch.equal(returned_mu, mu) and torch.equal(returned_logvar, logvar), True)
    expect_close("the labels forward gives decode", seen["y"], y, atol=0, rtol=0)
    expect_close("mean of z for mu = 1.5", z.mean(), 1.5, atol=0.01, rtol=0)
    expect_close("std of z for logvar = log 0.25", z.std(), 0.5, atol=0.01, rtol=0)
    expect_uncorrelated("correlation between two latent dimensions of z (each needs its own noise: torch.randn_like(mu))",
                        z, atol=0.06)
    expect_gradient_close("z must be reparameterised: dz/dmu = 1", z, mu, torch.ones_like(mu), atol=1e-8, rtol=1e-5)
    expect_gradient_close("dz/dlogvar must be (z - mu) / 2 (sigma = exp(0.5 logvar) kept in the graph)", z, logvar,
                          0.5 * (z - mu).detach(), atol=1e-5, rtol=1e-5)
    # the noise made where mu is: forward run as on a GPU, encode's outputs there
    expect_draw_on_device("forward(7 images, labels) when encode returns mu and logvar of shape (7, 20)", model,
                          torch.zeros(7, 1, 28, 28), torch.zeros(7, 10))


class Fixed(nn.Module):
    """Answers with fixed (logits, mu, logvar) and records the labels it is given; 6 classes."""
    n_classes = 6

    def __init__(self, logits, mu, logvar):
        super().__init__()
        self.out = (logits, mu, logvar)

    def forward(self, x, y):
        self.x, self.y = x, y
        return self.out


class Trained(Fixed):
    """``Fixed`` whose mu and logvar are its parameters: a loss's gradient reaches them."""

    def __init__(self, logits, mu, logvar):
        super().__init__(logits, mu, logvar)
        self.mu, self.logvar = nn.Parameter(mu.clone()), nn.Parameter(logvar.clone())

    def forward(self, x, y):
        self.x, self.y = x, y
        return self.out[0], self.mu[:len(x)], self.logvar[:len(x)]


def test_cvae_loss(cvae_loss):
    g = torch.Generator().manual_seed(2024)
    logits, mu, logvar = torch.randn(5, 784, generator=g) * 3, torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    x = torch.rand(5, 1, 28, 28, generator=g)
    labels = torch.tensor([4, 0, 3, 3, 1])  # not the last class: the width is the model's, not the batch's
    flat = x.reshape(5, 784)
    reconstruction = (torch.clamp(logits, min=0) - logits * flat + torch.log1p(torch.exp(-logits.abs()))).sum(1).mean()
    kl = 0.5 * (torch.exp(logvar) + mu ** 2 - 1 - logvar).sum(1).mean()
    for beta in (1.0, 10.0, 0.25):
        model = Fixed(logits, mu, logvar)
        terms = cvae_loss(model, x, labels, beta=beta)
        expect_equal("dtype of the labels the model receives", model.y.dtype, torch.float32)
        expect_shape("the labels the model receives (width model.n_classes = 6)", model.y, (5, 6))
        expect_close("the labels the model receives (one_hot(labels))", model.y, torch.eye(6)[labels], atol=0, rtol=0)
        expect_close("reconstruction term", terms["reconstruction"], reconstruction, atol=1e-8, rtol=1e-5)
        expect_close("KL term", terms["kl"], kl, atol=1e-8, rtol=1e-5)
        expect_close("loss = reconstruction + beta * kl", terms["loss"], reconstruction + beta * kl, atol=1e-8, rtol=1e-5)
    trained = Trained(logits, mu, logvar)
    loss = cvae_loss(trained, x.clone().requires_grad_(True), labels, beta=0.25)["loss"]  # gradients follow x at grading
    expect_equal("the loss carries gradients (no torch.no_grad(), .detach() or .item())", loss.requires_grad, True)
    loss.backward()
    for name, parameter, expected in (("mu", trained.mu, 0.25 * mu / 5),
                                      ("logvar", trained.logvar, 0.25 * 0.5 * (logvar.exp() - 1) / 5)):
        expect_equal(f"the loss (beta = 0.25) gives the model's {name} a gradient (keep the KL a tensor in the loss: no "
                     ".item(), .detach() or torch.no_grad())",
                     parameter.grad is not None, True)
        expect_close(f"the gradient of the loss (beta = 0.25) in the model's {name}: beta times the KL's",
                     parameter.grad, expected, atol=1e-7, rtol=1e-5)
    # a sure decoder that is wrong: the pixel that is on has logit -200, and costs 200 nats (a sigmoid rounds its
    # probability to 0, where binary_cross_entropy caps the cost at 100)
    sure_logits = torch.zeros(2, 784)
    sure_logits[:, 3] = -200.0
    on = torch.zeros(2, 1, 28, 28)
    on[:, 0, 0, 3] = 1.0
    terms = cvae_loss(Fixed(sure_logits, mu[:2], logvar[:2]), on, labels[:2], beta=1.0)
    expect_close("reconstruction term of a pixel that is on, with logit -200", terms["reconstruction"],
                 torch.tensor(200 + 783 * math.log(2)), atol=1e-2, rtol=0)
