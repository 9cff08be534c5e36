"""The visible checks of 02_dense_vae's exercises, one function per graded cell."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from vae_helpers import seed_everything
from vae_helpers.checks import (GREY_LEVELS_AND_BERNOULLI, PASSED, REPARAMETERISE, CodesAsImages, checking_answers,
                                expect_close, expect_draw_on_device, expect_draws_of_q, expect_equal, expect_finite,
                                expect_gradient, expect_gradient_close, expect_kl_gradients, expect_logvar_of_its_own,
                                expect_not_affine, expect_number, expect_python_float, expect_relu_network,
                                expect_returns, expect_shape, hint_by_value, kl_hint)


@checking_answers
def dense_vae(DenseVAE):
    """Checks the model's size, the shapes and ranges of encode and decode, and forward's sample through
    stand-ins for encode and decode: its mean, spread, independence between entries and gradient."""
    model = DenseVAE()
    n_parameters = sum(p.numel() for p in model.parameters())
    expect_close("number of parameters", torch.tensor(float(n_parameters)), 652_824.0, atol=0.5,
                 hint="784*400+400 (encoder) + 2*(400*20+20) (mu and logvar heads) + 20*400+400 + 400*784+784 "
                      "(decoder).")
    images = torch.rand(5, 1, 28, 28, requires_grad=True)
    flat = ("encode takes images of shape (batch, 1, 28, 28) as well as (batch, 784): flatten them to (batch, 784) "
            "first.")
    mu, logvar = expect_returns("encode(images of shape (5, 1, 28, 28))", model.encode, images, shape_hint=flat)
    expect_shape("mu from encode(images of shape (5, 1, 28, 28))", mu, (5, 20))
    expect_shape("logvar from encode(images of shape (5, 1, 28, 28))", logvar, (5, 20))
    expect_logvar_of_its_own("encode(images of shape (5, 1, 28, 28))", mu, logvar)
    expect_shape("mu from encode(flat images of shape (5, 784))",
                 expect_returns("encode(flat images of shape (5, 784))", model.encode, images.view(5, 784),
                                shape_hint=flat)[0], (5, 20))
    mu_many, logvar_many = model.encode(torch.rand(500, 784))
    expect_equal("some logvar below 0 from a new model's encode(500 random images)", bool((logvar_many < 0).any()), True,
                 hint="logvar = log sigma^2 is any real number; a variance kept at 1 or above cannot make q narrower "
                      "than the prior.")
    expect_equal("some mu below 0 from a new model's encode(500 random images)", bool((mu_many < 0).any()), True,
                 hint="mu, the mean of q(z|x), is any real number: the layer that gives it has no non-linearity after "
                      "it.")
    logits = model.decode(torch.randn(5, 20))
    expect_shape("decode(z of shape (5, 20))", logits, (5, 784))
    assert (model.decode(3 * torch.randn(500, 20)) < 0).any(), \
        ("decode: expected logits (any real number), got no negative value for 500 codes drawn wide (3 N(0, I)). "
         "Hint: the last layer must be linear: no sigmoid and no ReLU after it.")
    expect_not_affine("decode, on 200 pairs of codes", model.decode, *torch.randn(2, 200, 20),
                      hint="decode is two layers with a ReLU between them; without it the two are one linear map.")
    expect_not_affine("mu from encode, on 200 pairs of images", lambda x: model.encode(x)[0], *torch.rand(2, 200, 784),
                      hint="the encoder's hidden layer is followed by a ReLU; without it mu is a linear map of the "
                           "image.")
    expect_equal("encode in train mode, twice on the same images: the same mu (encode is one function of the image)",
                 torch.equal(model.encode(images)[0], model.encode(images)[0]), True,
                 hint="the only randomness of the model is forward's draw of z: no dropout or noise in the encoder.")
    relu = "each hidden layer is followed by a ReLU (nn.ReLU()), not by another non-linearity."
    fresh = DenseVAE()
    expect_relu_network("mu from encode", fresh, lambda x: fresh.encode(x)[0], torch.rand(20, 784), hint=relu)
    expect_relu_network("decode", fresh, fresh.decode, torch.randn(20, 20), hint=relu)
    logits, mu, logvar = model(images)
    expect_shape("logits from model(images)", logits, (5, 784))
    expect_finite("logits", logits)
    expect_gradient("logits as a function of the images (through the encoder, z and the decoder)", logits, images,
                    hint=REPARAMETERISE)
    torch.manual_seed(0)
    # a known q(z | x) for every image: mu = 1.5, sigma = 0.5
    known_mu = torch.full((5000, 20), 1.5, requires_grad=True)
    known_logvar = torch.full((5000, 20), math.log(0.25), requires_grad=True)
    model.encode = lambda x: (known_mu, known_logvar)  # stand-ins for encode and decode, as at grading;
    decoder = CodesAsImages((784,))                    # this decode keeps the z it is given
    model.decode = decoder.forward
    logits, mu, logvar = model(torch.zeros(5000, 1, 28, 28))  # encode, replaced, reads no pixel
    through = "forward must call self.encode(x) and self.decode(z): the checks replace them, here and at grading."
    expect_equal("forward returns the (mu, logvar) that self.encode returned",
                 torch.equal(mu, known_mu) and torch.equal(logvar, known_logvar), True, hint=through)
    expect_equal("forward returns the logits that self.decode returned, of shape (5000, 784)",
                 decoder.given is not None and tuple(logits.shape) == (5000, 784), True, hint=through)
    expect_draws_of_q(decoder.given[0], known_mu, known_logvar)
    model.eval()
    model(images)
    first = decoder.given[0]
    model(images)
    expect_equal("forward draws z ~ q in eval mode too: model(images) twice, in eval mode, gives two different z",
                 not torch.equal(first, decoder.given[0]), True,
                 hint="the test ELBO (evaluate, in eval mode) averages over draws of z: forward draws z whatever the "
                      "mode; z = mu is the mean of q, not a draw from it.")
    model.train()
    expect_draw_on_device("model(4 images) when encode returns mu and logvar of shape (4, 20)", model,
                          torch.rand(4, 1, 28, 28))
    print(PASSED)


@checking_answers
def vae_loss(vae_loss):
    """Checks the three terms' shapes and their values on known logits, images and code distributions, with
    grey-level pixels and beta = 2, and that the loss passes gradients to the logits."""
    x = torch.full((2, 1, 28, 28), 0.5)  # grey levels: vae_loss must take them as well as 0/1 pixels
    loss, reconstruction, kl = expect_returns(
        "vae_loss(all logits 0, grey-level images of 0.5, ...)", vae_loss, torch.zeros(2, 784), x, torch.zeros(2, 20),
        torch.zeros(2, 20), hint=GREY_LEVELS_AND_BERNOULLI,
        shape_hint="x comes as (batch, 1, 28, 28) and the logits as (batch, 784): reshape x to the logits' shape.")
    for name, value in (("loss", loss), ("reconstruction", reconstruction), ("kl", kl)):
        expect_shape(f"{name} from vae_loss", value, ())
    expect_close("reconstruction with all logits 0", reconstruction, 784 * math.log(2),
                 hint=hint_by_value([(math.log(2), "this is the mean over the 784 pixels: sum over them instead."),
                                     *((2 * 784 * math.log(2) / fixed, f"this is the sum over the batch of 2 images "
                                                                       f"divided by {fixed}, a fixed number: average "
                                                                       f"over the images of the batch, counting them "
                                                                       f"in x (len(x)).")
                                       for fixed in (32, 64, 100, 128, 256, 512)),
                                     (2 * 784 * math.log(2), "this is the sum over the batch of 2 images: average "
                                                             "over the batch instead."),
                                     (784 * (F.softplus(torch.tensor(0.5)).item() - 0.25),
                                      "this is what logits of sigmoid(0) = 0.5 give: pass the logits as they are, "
                                      "with no sigmoid first.")],
                                    otherwise="a logit of 0 is a probability of 0.5, so each of the 784 pixels "
                                              "costs log 2 nats, whatever its grey level."))
    expect_close("KL when q is N(0, I)", kl, 0.0)
    x, logits = torch.zeros(1, 784), torch.zeros(1, 784)  # one image of 784 pixels, two of them set
    x[0, 0], logits[0, :2] = 1.0, torch.tensor([2.0, -1.0])
    _, reconstruction, _ = vae_loss(logits, x, torch.zeros(1, 1), torch.zeros(1, 1))
    expect_close("reconstruction of x = [1, 0, 0, ...] with logits [2, -1, 0, ...] (784 pixels)", reconstruction,
                 -math.log(torch.sigmoid(torch.tensor(2.0)).item()) - math.log(torch.sigmoid(torch.tensor(1.0)).item())
                 + 782 * math.log(2), atol=1e-3, rtol=0,
                 hint="pass the logits to binary_cross_entropy_with_logits as they are, no sigmoid first.")
    grey = torch.full((1, 784), 0.3)  # grey levels with logits that are not 0, where their value matters
    logits[0, :2] = torch.tensor([1.0, -2.0])
    _, reconstruction, _ = vae_loss(logits, grey, torch.zeros(1, 1), torch.zeros(1, 1))
    expect_close("reconstruction of grey levels x = [0.3, 0.3, ...] with logits [1, -2, 0, ...] (784 pixels)",
                 reconstruction, nn.functional.binary_cross_entropy_with_logits(logits, grey, reduction="sum"),
                 atol=1e-3, rtol=0, hint="take grey levels as they are: the target enters the BCE as a number in "
                                         "[0, 1], not rounded nor thresholded to 0 or 1.")
    logits[0, :2] = torch.tensor([-200.0, 0.0])
    _, reconstruction, _ = vae_loss(logits, x, torch.zeros(1, 1), torch.zeros(1, 1))
    expect_close("reconstruction of x = [1, 0, 0, ...] with logits [-200, 0, 0, ...]: a sure decoder that is wrong",
                 reconstruction, 200 + 783 * math.log(2), atol=1e-2, rtol=0,
                 hint="the pixel that is on has probability sigmoid(-200), about e^-200: it costs 200 nats. A sigmoid "
                      "rounds it to 0 and binary_cross_entropy then caps its cost at 100: work from the logits.")
    mu = torch.ones(4, 20, requires_grad=True)
    logvar = torch.full((4, 20), math.log(4.0), requires_grad=True)
    logits = torch.zeros(4, 784, requires_grad=True)
    loss, _, kl = vae_loss(logits, torch.zeros(4, 784), mu, logvar, beta=2.0)
    expect_close("the kl term (unweighted) that vae_loss(..., beta=2.0) returns, with mu = 1 and logvar = log 4 in 20 "
                 "dimensions", kl, 10 * (4 + 1 - 1 - math.log(4)), hint=kl_hint(10 * (4 + 1 - 1 - math.log(4)),
                                                                               beta=2.0, batch=4, dimensions=20))
    expect_close("loss with beta = 2", loss, 784 * math.log(2) + 2 * kl.item(),
                 hint="loss = reconstruction + beta * KL.")
    expect_gradient("the loss as a function of the logits (training follows it)", loss, logits)
    expect_kl_gradients("the loss with beta = 2, mu = 1 and logvar = log 4 (batch of 4)", loss, mu, logvar, beta=2.0)
    print(PASSED)


class _Pooled(nn.Module):
    '''A 4-2-784 model with z = mu that sees each image through the means of its four 14 x 14 quarters: it takes
    the images only as they come, (batch, 1, 28, 28), as a convolutional model would.'''

    def __init__(self):
        super().__init__()
        self.to_mu, self.decoder = nn.Linear(4, 2), nn.Linear(2, 784)

    def forward(self, x):
        if x.dim() != 4:
            raise ValueError(f"this model takes each batch's images as they come, (batch, 1, 28, 28), and got a "
                             f"tensor of shape {tuple(x.shape)}")
        mu = self.to_mu(nn.functional.avg_pool2d(x, 14).flatten(1))
        return self.decoder(mu), mu, torch.zeros_like(mu)


class _TinyVAE(nn.Module):
    '''A 784-4-784 model with z = mu: it checks train_epoch alone, fast, whatever DenseVAE holds.'''

    def __init__(self):
        super().__init__()
        self.to_mu, self.decoder = nn.Linear(784, 4), nn.Linear(4, 784)

    def forward(self, x):
        mu = self.to_mu(x.flatten(1))
        return self.decoder(mu), mu, torch.zeros_like(mu)


def _own_training_error(error: BaseException) -> str:
    """The likely cause of an error that train_epoch raised itself, not one a lent model caused."""
    message = str(error)
    if "does not require grad" in message:
        return ("the loss carries no gradient: compute it outside torch.no_grad(), without .detach() or .item(), "
                "then call loss.backward().")
    if "backward through the graph a second time" in message:
        return "call backward once per batch, on that batch's own loss, after the optimizer zeroed the gradients."
    return ""


@checking_answers
def train_epoch(train_epoch, AsLent, device):
    """Checks one epoch on a lent model (``AsLent``, on ``device``) with uneven batches: the parameters after its
    SGD steps and the mean loss it returns; then that it returns a float, changes the parameters and lowers the
    loss over five epochs of a small model."""
    torch.manual_seed(3)
    pooled = _Pooled().to(device)
    pixels = torch.rand(10, 1, 28, 28).to(device)
    uneven = [(pixels[:4], torch.zeros(4)), (pixels[4:8], torch.zeros(4)), (pixels[8:], torch.zeros(2))]
    start = pooled.decoder.bias[:4].detach().clone()
    lent = AsLent(pooled)  # as at grading: lent.parameters() lists nothing; the optimizer holds the parameters
    how = ("at grading the model is lent to train_epoch: call it on each batch as it comes (already on its device), "
           "and zero the gradients with the optimizer; model.parameters() lists nothing.")
    mean = expect_returns("train_epoch(a lent model, batches of 4, 4 and 2 images of shape (1, 28, 28))",
                          train_epoch, lent, uneven, torch.optim.SGD(pooled.parameters(), lr=0.05),
                          hint=_own_training_error, lent_hint=how)
    expect_close("the decoder's first four biases after the epoch's three SGD steps", pooled.decoder.bias[:4],
                 torch.tensor([0.609044, -0.584519, 0.473112, 0.380277]), atol=1e-4, rtol=0,
                 hint=hint_by_value([(start, "the parameters did not change: each step needs the gradients of its "
                                             "own backward: zero them before the backward and call "
                                             "optimizer.step() after it, nothing between."),
                                     (torch.tensor([0.660166, -0.397584, 0.555774, 0.422101]),
                                      "these are the steps of each batch's loss times its number of images: "
                                      "step on the batch's mean loss per image, as vae_loss returns it."),
                                     (torch.tensor([0.6069, -0.5819, 0.4680, 0.3721]),
                                      "this is one step after the loop, on the three batches' gradients summed: call "
                                      "optimizer.step() after each batch's backward, so that each batch moves the "
                                      "parameters."),
                                     (torch.tensor([0.6385, -0.6040, 0.5004, 0.4014]),
                                      "this is one step after the loop, on the last batch's gradient alone: call "
                                      "optimizer.step() after each batch's backward.")],
                                    otherwise="each of the three SGD steps must follow its own batch's gradient only: "
                                              "zero the gradients with the optimizer before each backward (a lent "
                                              "model's parameters() lists nothing)."))
    expect_number("mean loss per image over batches of 4, 4 and 2 images", mean, 604.2486, atol=1e-2,
                  hint=hint_by_value([(620.375, "this is the mean of the three batches' losses: weight each batch's "
                                                "loss by its number of images, the last batch is smaller.")],
                                     otherwise="the mean loss per image over the epoch's 10 images, each batch's "
                                               "loss counted once for every image it holds.", atol=1e-2, rtol=0))
    torch.manual_seed(3)
    weighted = _Pooled().to(device)  # the same start, trained with beta = 0.5
    train_epoch(AsLent(weighted), uneven, torch.optim.SGD(weighted.parameters(), lr=0.05), beta=0.5)
    expect_close("the encoder's two mu biases after the same epoch with beta = 0.5", weighted.to_mu.bias,
                 torch.tensor([2.614412, -0.441810]), atol=1e-4, rtol=0,
                 hint="pass beta on to vae_loss: it weighs the KL in every step's loss.")

    seed_everything(1)
    pixels_on = torch.linspace(0.05, 0.95, 784)  # 300 random images whose pixels are on with these probabilities
    images = torch.bernoulli(pixels_on.expand(300, 784)).view(300, 1, 28, 28).to(device)
    small = [(images[i:i + 128], torch.zeros(len(images[i:i + 128]))) for i in range(0, 300, 128)]
    check_model = _TinyVAE().to(device)
    before = [p.detach().clone() for p in check_model.parameters()]
    check_optimizer = torch.optim.Adam(check_model.parameters(), lr=1e-2)
    first = train_epoch(AsLent(check_model), small, check_optimizer)
    expect_python_float("the mean loss train_epoch returns", first)
    assert any(not torch.equal(a, b) for a, b in zip(before, check_model.parameters())), \
        "train_epoch: expected the parameters to change, but they did not. Hint: call optimizer.step()."
    losses = [first] + [train_epoch(AsLent(check_model), small, check_optimizer) for _ in range(4)]
    assert losses[-1] < losses[0], f"train_epoch: expected the loss to fall over 5 epochs, got {losses}."
    print(PASSED)


@checking_answers
def gaussian_nll(gaussian_nll):
    """Checks the negative log-likelihood's shape and values for one scale, one scale per pixel, scales below and
    just above the floor, a floor per pixel, and its gradients in log_scale and in the mean."""
    torch.manual_seed(0)
    x, mean = torch.rand(3, 1, 28, 28), torch.rand(3, 784)
    got = expect_returns("gaussian_nll(x (3, 1, 28, 28), mean (3, 784), log_scale = log 0.1, min_scale = 0 (the "
                         "default))", gaussian_nll, x, mean, torch.tensor(math.log(0.1)),
                         hint=lambda error: "min_scale may be 0: math.log(0) fails; floor s itself, or use torch.log, "
                                            "which gives -inf." if "math domain error" in str(error) else "",
                         shape_hint="x comes as (batch, 1, 28, 28) and mean as (batch, 784): reshape x to mean's "
                                    "shape.")
    expect_shape("gaussian_nll(x (3, 1, 28, 28), mean (3, 784), log_scale = log 0.1)", got, (3,))
    expected = -torch.distributions.Normal(mean, 0.1).log_prob(x.view(3, 784)).sum(1)
    expect_close("gaussian_nll with s = 0.1", got, expected, atol=1e-2, rtol=1e-5,
                 hint=hint_by_value([(expected / 784, "this is the mean over the 784 pixels: sum over them instead."),
                                     (-torch.distributions.Normal(mean, math.sqrt(0.1)).log_prob(x.view(3, 784)).sum(1),
                                      "this is what a standard deviation of sqrt(0.1) gives: log_scale is the log of "
                                      "s, the standard deviation, not of its square."),
                                     (expected - 784 * math.log(0.1), "the term log s of each pixel is missing."),
                                     (expected - 784 * 0.5 * math.log(2 * math.pi),
                                      "the constant 0.5 log 2 pi of each pixel is missing.")],
                                    otherwise="the negative logarithm of the density above, pixel by pixel, summed "
                                              "over the 784 pixels."))
    per_pixel_scale = torch.linspace(0.05, 0.5, 784)
    per_pixel = ("log_scale holds one log s per pixel here: compute s and its floor pixel by pixel, with tensor "
                 "operations; an if, Python's max() or math.exp() takes a single s.")
    expect_close("gaussian_nll with one s per pixel",
                 expect_returns("gaussian_nll(x (3, 1, 28, 28), mean (3, 784), log_scale (784,))", gaussian_nll, x,
                                mean, per_pixel_scale.log(), hint=per_pixel,
                                shape_hint="log_scale (784,) broadcasts against mean (batch, 784) as it is."),
                 -torch.distributions.Normal(mean, per_pixel_scale).log_prob(x.view(3, 784)).sum(1), atol=1e-2,
                 rtol=1e-5, hint="log_scale broadcasts against mean: use it pixel by pixel.")
    floored = -torch.distributions.Normal(mean, 0.05).log_prob(x.view(3, 784)).sum(1)
    expect_close("gaussian_nll with log_scale = -20 and min_scale = 0.05 (the floor applies)",
                 gaussian_nll(x, mean, torch.tensor(-20.0), min_scale=0.05), floored, atol=1e-2, rtol=1e-5,
                 hint=hint_by_value([(floored + 784 * (-20.0 - math.log(0.05)),
                                      "this is 784 (log_scale - log min_scale) off: the floored s enters both terms, "
                                      "log s as well as the squared error over s^2.")],
                                    otherwise="s = max(exp(log_scale), min_scale): the floor is a lower bound on s."))
    expect_close("gaussian_nll with log_scale = log 0.06 and min_scale = 0.05 (just above the floor)",
                 gaussian_nll(x, mean, torch.tensor(math.log(0.06)), min_scale=0.05),
                 -torch.distributions.Normal(mean, 0.06).log_prob(x.view(3, 784)).sum(1), atol=1e-2, rtol=1e-5,
                 hint="above the floor, s is exp(log_scale) itself: the floor only replaces scales below it.")
    log_scale = torch.linspace(-3.0, -1.5, 784).requires_grad_()  # one log s per pixel, s below 0.1 on about half
    nll = expect_returns("gaussian_nll(flat x (3, 784), mean, log_scale (784,) requiring gradients, min_scale=0.1)",
                         gaussian_nll, x.view(3, 784), mean, log_scale, 0.1,
                         hint="with one s per pixel, floor each s on its own: an if or Python's max() takes a single "
                              "s.")
    expect_close("gaussian_nll with one s per pixel and a floor of 0.1", nll,
                 -torch.distributions.Normal(mean, log_scale.detach().exp().clamp(min=0.1)).log_prob(
                     x.view(3, 784)).sum(1),
                 atol=1e-2, rtol=1e-5, hint="s = max(exp(log_scale), min_scale), pixel by pixel.")
    expect_returns("the gradient of gaussian_nll in log_scale", expect_gradient, "gaussian_nll in log_scale", nll,
                   log_scale,
                   hint="floor s without changing any tensor in place (no clamp_, no +=): autograd needs it.")
    trained_mean = mean.clone().requires_grad_()
    expect_gradient_close("d gaussian_nll / d mean, with s = 0.1: (mean - x) / s^2, pixel by pixel",
                          gaussian_nll(x, trained_mean, torch.tensor(math.log(0.1))), trained_mean,
                          (mean - x.view(3, 784)) / 0.01, atol=1e-2, rtol=1e-4,
                          hint="the loss trains the decoder through the mean: compute it with torch operations on the "
                               "mean itself; torch.tensor(...) of it, .detach() and NumPy copy it without its "
                               "gradient.")
    print(PASSED)
