"""The visible checks of 04_conditional_vae: one-hot labels, the conditional VAE and its loss."""
import math

import torch
from torch import nn

from vae_helpers.checks import (GREY_LEVELS_AND_BERNOULLI, KL_GRADIENT, PASSED, REPARAMETERISE, CodesAsImages,
                                checking_answers, expect_close, expect_draw_on_device, expect_draws_of_q, expect_equal,
                                expect_gradient, expect_logvar_of_its_own, expect_not_affine, expect_on_device,
                                expect_relu_network, expect_returns, expect_shape, expect_value_error, hint_by_value,
                                kl_gradient_hint, kl_hint)
from vae_helpers.lending import AsLent


@checking_answers
def one_hot(one_hot):
    """Exercise 1: shape, dtype and values of ``one_hot``, for int64, int32, int16 and uint8 labels left unchanged,
    its result on the device of the labels, and a ValueError for labels out of range or not integers (bool ones
    too)."""
    encoded = one_hot(torch.tensor([3, 0, 1]), 4)
    expect_shape("one_hot(tensor([3, 0, 1]), 4)", encoded, (3, 4))
    assert encoded.dtype == torch.float32, \
        f"one_hot: expected dtype torch.float32 (the networks take floats), got {encoded.dtype}. Hint: .float()."
    expect_close("one_hot(tensor([3, 0, 1]), 4)", encoded, torch.tensor([[0., 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0]]))
    expect_shape("one_hot(tensor([0, 1]), 10): the width is n_classes, whatever the batch holds",
                 one_hot(torch.tensor([0, 1]), 10), (2, 10))
    expect_equal("the shape of one_hot(tensor([2]), 4), a batch of one label", tuple(one_hot(torch.tensor([2]), 4).shape),
                 (1, 4), hint="one row per label, however many: nothing may drop the batch's dimension (no .squeeze()).")
    int32_labels = torch.tensor([2, 0], dtype=torch.int32)
    for dtype in (torch.int32, torch.int16, torch.uint8):
        expect_close(f"one_hot({dtype} labels [1, 0], 2): any integer dtype is a label",
                     expect_returns(f"one_hot({dtype} labels [1, 0], 2)", one_hot,
                                    torch.tensor([1, 0], dtype=dtype), 2,
                                    hint=lambda error, dtype=dtype: (
                                        f"{dtype} is an integer dtype too: refuse what is not an integer, rather "
                                        "than accept a list of dtypes." if isinstance(error, ValueError) else
                                        f"{dtype} labels must work as int64 ones do: where an operation takes only "
                                        "int64, convert them (labels.long()).")),
                     torch.tensor([[0., 1], [1, 0]]))
    expect_on_device("one_hot(int32 labels [2, 0], 3)", one_hot, int32_labels, 3, shape=(2, 3),
                     hint="make every tensor you fill on labels.device (device=labels.device), never on the default "
                          "device, or training on a GPU fails.")
    for bad, why in ((torch.tensor([0, 10]), "a label equal to n_classes"), (torch.tensor([-1, 2]), "a negative label"),
                     (torch.tensor([0.5, 2.0]), "float labels"), (torch.tensor([0.5, 2.0], dtype=torch.float64),
                                                                   "float64 labels"),
                     (torch.tensor([0.5, 2.0], dtype=torch.float16), "float16 labels"),
                     (torch.tensor([1.0, 2.0]), "float labels of whole numbers"),
                     (torch.tensor([True, False]), "bool labels")):
        error = expect_value_error(f"one_hot({bad.tolist()}, 10)", one_hot, bad, 10, why=why,
                                   hint="check the labels first and raise ValueError(...) (an assert is skipped when "
                                        "Python runs with -O).")
        print(f"{why}: ValueError({error})")
    print(PASSED)


@checking_answers
def conditional_vae(ConditionalVAE, one_hot):
    """Exercise 2: a new ``ConditionalVAE``'s size, the shapes of encode and decode, that both read the label,
    and that forward calls encode and decode and draws a reparameterised z (its labels made with ``one_hot``)."""
    model = ConditionalVAE()
    expect_equal("number of parameters", sum(p.numel() for p in model.parameters()), 660_824,
                 hint="(784 + 10)*400 + 400, two heads 400*20 + 20, then (20 + 10)*400 + 400 and 400*784 + 784.")
    images, labels = torch.rand(5, 1, 28, 28, requires_grad=True), one_hot(torch.tensor([0, 1, 2, 3, 4]), 10)
    flat = ("encode takes images of shape (batch, 1, 28, 28) as well as (batch, 784): flatten them to (batch, 784) "
            "before joining them to the labels.")
    mu, logvar = expect_returns("encode(images (5, 1, 28, 28), one-hot labels (5, 10))", model.encode, images, labels,
                                shape_hint=flat)
    expect_shape("mu from encode(images (5, 1, 28, 28), one-hot labels (5, 10))", mu, (5, 20))
    expect_shape("logvar from encode(...)", logvar, (5, 20))
    expect_logvar_of_its_own("encode(images (5, 1, 28, 28), one-hot labels (5, 10))", mu, logvar)
    mu_many, logvar_many = model.encode(torch.rand(500, 784), one_hot(torch.arange(500) % 10, 10))
    expect_equal("some logvar below 0 from a new model's encode(500 random images, labels)",
                 bool((logvar_many < 0).any()), True,
                 hint="logvar = log sigma^2 is any real number; a variance kept at 1 or above cannot make q narrower "
                      "than the prior.")
    expect_equal("some mu below 0 from a new model's encode(500 random images, labels)", bool((mu_many < 0).any()),
                 True, hint="mu, the mean of q(z|x), is any real number: the layer that gives it has no non-linearity "
                            "after it.")
    expect_shape("mu from encode(flat images (5, 784), one-hot labels (5, 10))",
                 expect_returns("encode(flat images (5, 784), one-hot labels (5, 10))", model.encode,
                                images.view(5, 784), labels, shape_hint=flat)[0], (5, 20))
    z = torch.randn(5, 20)
    expect_shape("decode(z (5, 20), one-hot labels (5, 10))", model.decode(z, labels), (5, 784))
    assert (model.decode(3 * torch.randn(500, 20), one_hot(torch.arange(500) % 10, 10)) < 0).any(), \
        ("decode: expected logits (any real number), got no negative value for 500 codes drawn wide (3 N(0, I)) "
         "with their labels. Hint: the last layer must be linear: no sigmoid and no ReLU after it.")
    changed = (model.decode(z, labels) - model.decode(z, labels.roll(1, dims=1))).abs().amax(dim=1)
    assert (changed > 0).all(), ("decode: the logits did not change when only the label changed. "
                                 "Hint: give y to the first layer of the decoder (concatenating it to z is one way).")
    changed = (mu - model.encode(images, labels.roll(1, dims=1))[0]).abs().amax(dim=1)
    assert (changed > 0).all(), ("encode: mu did not change when only the label changed. "
                                 "Hint: give y to the first layer of the encoder (concatenating it to the flattened "
                                 "image is one way).")
    pair_labels = one_hot(torch.arange(200) % 10, 10)
    expect_not_affine("decode(z, y) in z, on 200 pairs of codes with the same labels",
                      lambda z: model.decode(z, pair_labels), *torch.randn(2, 200, 20),
                      hint="decode is two layers with a ReLU between them; without it the two are one linear map.")
    expect_not_affine("mu from encode(x, y) in x, on 200 pairs of images with the same labels",
                      lambda x: model.encode(x, pair_labels)[0], *torch.rand(2, 200, 784),
                      hint="the encoder's hidden layer is followed by a ReLU; without it mu is a linear map of the "
                           "image.")
    relu = "each hidden layer is followed by a ReLU (nn.ReLU()), as in notebook 02, not by another non-linearity."
    fresh = ConditionalVAE()
    expect_relu_network("mu from encode(x, y)", fresh, lambda x, y: fresh.encode(x, y)[0], torch.rand(20, 784),
                        pair_labels[:20], hint=relu)
    expect_relu_network("decode(z, y)", fresh, fresh.decode, torch.randn(20, 20), pair_labels[:20], hint=relu)
    logits, mu, logvar = model(images, labels)
    expect_shape("logits from model(images, labels)", logits, (5, 784))
    expect_gradient("logits as a function of the images (through the encoder, z and the decoder)", logits, images,
                    hint=REPARAMETERISE)
    torch.manual_seed(0)
    known_mu = torch.full((5000, 20), 1.5, requires_grad=True)  # a known q(z | x, y) for every image: mu 1.5, sigma 0.5
    known_logvar = torch.full((5000, 20), math.log(0.25), requires_grad=True)
    many_labels = one_hot(torch.arange(5000) % 10, 10)
    model.encode = lambda x, y: (known_mu, known_logvar)  # stand-ins for encode and decode, as at grading;
    decoder = CodesAsImages((784,))                       # this decode keeps the z and y it is given
    model.decode = decoder.forward
    logits, mu, logvar = model(torch.zeros(5000, 1, 28, 28), many_labels)  # encode, replaced, reads no pixel
    through = "forward must call self.encode(x, y) and self.decode(z, y): the checks replace them, here and at grading."
    expect_equal("forward returns the (mu, logvar) that self.encode returned",
                 torch.equal(mu, known_mu) and torch.equal(logvar, known_logvar), True, hint=through)
    expect_equal("forward returns the logits that self.decode(z, y) returned, of shape (5000, 784)",
                 decoder.given is not None and len(decoder.given) == 2 and tuple(logits.shape) == (5000, 784),
                 True, hint=through)
    z, decoded_labels = decoder.given
    expect_close("the labels forward gives self.decode", decoded_labels, many_labels,
                 hint="decode with the same one-hot y that forward was given.")
    expect_draws_of_q(z, known_mu, known_logvar)
    expect_draw_on_device("model(5 images, labels) when self.encode returns mu and logvar of shape (5, 20)", model,
                          torch.zeros(5, 1, 28, 28), torch.zeros(5, 10))
    print(PASSED)


class _RecordingModel(nn.Module):
    """Answers with fixed logits (0 unless ``first_logits`` sets the first pixels') and posterior (mu 1, logvar
    ``logvar``, in ``dimensions`` dimensions), and records the labels it is given; of the notebook's model it has only
    ``n_classes``. Its mu and logvar are its parameters, for ``batch`` images: a loss's gradient reaches them."""

    def __init__(self, n_classes, dimensions, first_logits=(), batch=3, logvar=0.0):
        super().__init__()
        self.n_classes, self._dimensions = n_classes, dimensions
        self._first_logits = torch.tensor(first_logits, dtype=torch.float32)
        self.mu = nn.Parameter(torch.ones(batch, dimensions))
        self.logvar = nn.Parameter(torch.full((batch, dimensions), logvar))

    def forward(self, x, y):
        self.y = y
        logits = torch.zeros(len(x), 784)
        logits[:, :len(self._first_logits)] = self._first_logits
        return logits, self.mu[:len(x)], self.logvar[:len(x)]


_CALL_THE_MODEL = ("call the model only as model(x, y), with y = the one-hot labels; it returns (logits, mu, logvar), "
                   "and model.n_classes is the number of classes. Nothing else of it is there at grading.")
def _own_loss_error(error: BaseException) -> str:
    """The likely cause of an error that cvae_loss raised itself, not one the lent model caused."""
    if "one_hot" in str(error):
        return "give one_hot the labels as they come, integers: it rejects floats and labels out of range."
    if "does not require grad" in str(error):
        return "the loss carries no gradient: compute it outside torch.no_grad()."
    if "support" in str(error) and "Bernoulli" in str(error):
        return GREY_LEVELS_AND_BERNOULLI
    return ""


_SHAPES = ("x comes as (batch, 1, 28, 28) and the logits as (batch, 784): give the loss x in the logits' shape, "
           "one value per pixel.")


@checking_answers
def cvae_loss(cvae_loss, one_hot):
    """Exercise 3: the keys and shapes of what ``cvae_loss`` returns, the labels it gives the model (compared with
    ``one_hot``'s, for 10 and for 6 classes), and its three terms on a model with known outputs."""
    recorder = _RecordingModel(n_classes=10, dimensions=20)
    terms = expect_returns("cvae_loss(a model with n_classes = 10, images (3, 1, 28, 28), labels [7, 0, 9], beta=4.0)",
                           lambda *args: cvae_loss(*args, beta=4.0), AsLent(recorder),
                           torch.full((3, 1, 28, 28), 0.5, requires_grad=True),  # at grading, gradients follow it
                           torch.tensor([7, 0, 9]), hint=_own_loss_error, lent_hint=_CALL_THE_MODEL,
                           shape_hint=_SHAPES)
    assert isinstance(terms, dict) and {"loss", "reconstruction", "kl"} <= set(terms), \
        f"cvae_loss: expected a dict with keys 'loss', 'reconstruction', 'kl', got {terms!r:.100}."
    expect_shape("the labels cvae_loss gives the model", recorder.y, (3, 10))
    expect_close("the labels cvae_loss gives the model", recorder.y, one_hot(torch.tensor([7, 0, 9]), 10),
                 hint="each image's row must hold a 1 at its own label (7, 0 and 9, in that order) and 0 elsewhere: "
                      "give the model the one-hot codes of the labels cvae_loss was given.")
    for name in ("loss", "reconstruction", "kl"):
        expect_shape(f"terms['{name}']", terms[name], ())
    expect_close("reconstruction with all logits 0", terms["reconstruction"], 784 * math.log(2),
                 hint="BCE with logits, summed over the 784 pixels, averaged over the batch.")
    expect_close("the kl term (unweighted) that cvae_loss(..., beta=4.0) returns, with mu = 1 and logvar = 0 in 20 "
                 "dimensions", terms["kl"], 10.0, hint=kl_hint(10.0, beta=4.0, batch=3, dimensions=20))
    log_4 = math.log(4.0)
    spread = cvae_loss(AsLent(_RecordingModel(n_classes=10, dimensions=20, logvar=log_4)),
                       torch.full((3, 1, 28, 28), 0.5), torch.tensor([7, 0, 9]), beta=4.0)["kl"]
    expect_close("the kl term with mu = 1 and logvar = log 4 (a variance of 4) in 20 dimensions", spread,
                 10 * (4 - log_4), hint=kl_hint(10 * (4 - log_4), beta=4.0, batch=3, dimensions=20))
    expect_close("loss with beta = 4", terms["loss"], 784 * math.log(2) + 40.0,
                 hint=hint_by_value([(4 * 784 * math.log(2) + 10.0, "this is 4 times the reconstruction plus the KL: "
                                                                    "beta weighs the KL, not the reconstruction."),
                                     (784 * math.log(2) + 10.0, "this is the reconstruction plus the KL unweighted: "
                                                                "beta weighs the KL in the loss.")],
                                    otherwise="reconstruction + beta * kl."))
    expect_equal("the loss carries gradients (training follows it)", terms["loss"].requires_grad, True,
                 hint="compute it outside torch.no_grad(), without .detach() or .item(): training calls "
                      "loss.backward().")
    recorder.zero_grad()
    terms["loss"].backward()
    expected = {"mu": 4.0 * torch.ones(3, 20) / 3, "logvar": torch.zeros(3, 20)}  # beta mu / B, beta (e^lv - 1) / 2B
    for name, parameter in (("mu", recorder.mu), ("logvar", recorder.logvar)):
        where = f"the gradient of the loss (beta = 4, 3 images) in the {name} the model returned"
        if parameter.grad is None:
            raise AssertionError(f"{where}: expected {[round(v, 4) for v in expected[name][0, :3].tolist()]}..., got "
                                 f"none. Hint: {KL_GRADIENT}")
        expect_close(where, parameter.grad, expected[name], hint=kl_gradient_hint(name, expected[name], 4.0))

    grey = _RecordingModel(n_classes=10, dimensions=20, first_logits=(1.0, -2.0))
    images = torch.full((2, 1, 28, 28), 0.3)
    terms = cvae_loss(AsLent(grey), images, torch.tensor([1, 4]))
    expected = nn.functional.binary_cross_entropy_with_logits(grey(images, None)[0], images.reshape(2, 784),
                                                              reduction="sum") / 2
    expect_close("reconstruction of grey levels x = [0.3, 0.3, ...] with logits [1, -2, 0, ...] (784 pixels)",
                 terms["reconstruction"], expected, atol=1e-3, rtol=0,
                 hint="take grey levels as they are: the target enters the BCE as a number in [0, 1], not rounded "
                      "nor thresholded to 0 or 1.")
    sure = _RecordingModel(n_classes=10, dimensions=20, first_logits=(-200.0,))
    images = torch.zeros(1, 1, 28, 28)
    images[0, 0, 0, 0] = 1.0
    terms = cvae_loss(AsLent(sure), images, torch.tensor([2]))
    expect_close("reconstruction of x = [1, 0, 0, ...] with logits [-200, 0, 0, ...]: a sure decoder that is wrong",
                 terms["reconstruction"], 200 + 783 * math.log(2), atol=1e-2, rtol=0,
                 hint="the pixel that is on has probability sigmoid(-200), about e^-200: it costs 200 nats. A sigmoid "
                      "rounds it to 0, and binary_cross_entropy (or a clamp of the probability) then caps its cost: "
                      "work from the logits.")

    six = _RecordingModel(n_classes=6, dimensions=8)  # 6 classes, of which the batch leaves out the last, and 8 dims
    terms = expect_returns("cvae_loss(a model with n_classes = 6, images (3, 1, 28, 28), labels [4, 0, 3])", cvae_loss,
                           AsLent(six), torch.full((3, 1, 28, 28), 0.5), torch.tensor([4, 0, 3]),
                           hint=_own_loss_error, lent_hint=_CALL_THE_MODEL,
                           shape_hint=_SHAPES)
    width = ("one-hot vectors as wide as the model has classes, model.n_classes, whichever labels the batch holds "
             "(this one has no 5).")
    expect_equal("width of the labels cvae_loss gives a model with n_classes = 6", six.y.shape[-1], 6, hint=width)
    expect_equal("dtype of the labels cvae_loss gives the model", six.y.dtype, torch.float32,
                 hint="encode them with your one_hot.")
    expect_close("the labels cvae_loss gives a model with n_classes = 6", six.y, torch.eye(6)[[4, 0, 3]], hint=width)
    expect_close("kl with mu = 1 and logvar = 0 in 8 dimensions", terms["kl"], 4.0,
                 hint="sum over the dimensions of the code, whatever their number, then average over the batch.")
    print(PASSED)
