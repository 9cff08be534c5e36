"""The visible checks of 03_conv_vae's exercises, one function per graded cell."""
import math
import re
import zlib

import torch
from torch import nn
from torch.distributions import Normal

from vae_helpers.checks import (CALL_THE_ENCODER_AND_DECODER, PASSED, checking_answers, expect_close,
                                expect_draw_on_device_of_q, expect_equal, expect_gradient, expect_gradient_close,
                                expect_logvar_of_its_own, expect_not_affine, expect_on_device, expect_parameter_count,
                                expect_returns, expect_shape, expect_uncorrelated, hint_by_value, kl_hint)
from vae_helpers.lending import AsLent

LATENT_DIM = 20  # the size of the code, and of each head of the encoder


def _load_fixed_parameters(module) -> None:
    """Gives ``module`` fixed parameters and BatchNorm statistics, each a function of its kind (the last part of its
    name) and its shape alone, so that two modules of the same architecture compute the same function whatever the
    order and names of their layers. A layer with a multiple of LATENT_DIM outputs repeats the rows of one with
    LATENT_DIM, so that the heads of mu and logvar, two layers or one of twice the size that is split, in either
    order, compute the same. Biases are 0, so that a layer without one (bias=False) computes the same; the
    statistics are far from BatchNorm's initial ones, so that where a ReLU stands around a BatchNorm matters."""
    state = {}
    for key, value in module.state_dict().items():
        kind, shape = key.rsplit(".", 1)[-1], tuple(value.shape)
        heads = shape[0] // LATENT_DIM if value.dim() == 2 and shape[0] % LATENT_DIM == 0 else 1
        shape = (shape[0] // heads, *shape[1:]) if heads > 1 else shape
        generator = torch.Generator().manual_seed(zlib.crc32(f"{kind} {shape}".encode()))
        if kind == "num_batches_tracked" or not value.is_floating_point():
            state[key] = value
        elif kind == "bias":
            state[key] = torch.zeros(shape, dtype=value.dtype)
        elif kind == "running_mean":
            state[key] = torch.randn(shape, generator=generator, dtype=value.dtype)
        elif kind == "running_var" or value.dim() == 1:  # a BatchNorm's variances and scales: positive
            state[key] = 0.5 + torch.rand(shape, generator=generator, dtype=value.dtype)
        else:  # a layer's weights, of about the size PyTorch's initialisation gives
            state[key] = ((2 * torch.rand(shape, generator=generator, dtype=value.dtype) - 1) / math.sqrt(
                value[0].numel())).repeat(heads, *[1] * len(shape[1:]))
    module.load_state_dict(state)


# The function an architecture computes, with _load_fixed_parameters, on FIXED_IMAGES (or FIXED_CODES), as
# (mu * ENCODER_PROJECTION).sum(1) for each image (the decoder's logits, with DECODER_PROJECTION): the described
# architecture's, then each of its ReLUs left out (tests/test_checks.py computes them from the hidden tests'
# reference modules).
FIXED_IMAGES = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(3))
FIXED_CODES = torch.randn(3, 20, generator=torch.Generator().manual_seed(3))
ENCODER_PROJECTION = torch.randn(20, generator=torch.Generator().manual_seed(4))
DECODER_PROJECTION = torch.randn(1, 28, 28, generator=torch.Generator().manual_seed(4))
ENCODER_ON_FIXED = [-0.49624, -0.48957, -0.84234]
ENCODER_WITHOUT_A_RELU = {"the first convolution's batch normalisation": [-0.97943, -1.32761, -1.43821],
                          "the second convolution's batch normalisation": [-0.03853, -0.4203, -0.66892]}
DECODER_ON_FIXED = [22.01757, 22.55956, 21.61674]
DECODER_WITHOUT_A_RELU = {"the first dense layer": [21.32287, 20.74448, 20.38834],
                          "the second dense layer": [21.85691, 21.80135, 21.00295],
                          "the first transposed convolution's batch normalisation": [21.93142, 23.35961, 23.87411]}


def _architecture_hint(without_a_relu, layers):
    """The hint for a module that computes another function than the architecture described: the ReLU it lacks
    where its value shows which, else the order of ``layers``."""
    return hint_by_value([(value, f"a ReLU must follow {where}; yours has none there.")
                          for where, value in without_a_relu.items()],
                         otherwise=f"the layers must compute {layers}, in that order: check each one and where each "
                                   "ReLU and batch normalisation stands.")


def _features_hint(error: BaseException) -> str:
    """The hint for an error of mu_logvar on 5 images: a batch size written in the code where the features of all 5
    (5 x 1568 numbers) were reshaped, else the convolutions' padding."""
    size = re.search(r"invalid for input of size (\d+)", str(error))
    if size and int(size.group(1)) == 5 * 1568:
        return ("the features of the 5 images are right (5 x 1568 numbers): reshape them by the batch size of x "
                "(x.size(0), or .flatten(1)), not a fixed number.")
    return ("the two convolutions must take the side from 28 to 14 to 7, so that 32 x 7 x 7 = 1568 numbers reach the "
            "heads: work out each one's padding from the output-size formula.")


@checking_answers
def conv_encoder(ConvEncoder):
    """Checks the encoder's size, the shapes of mu_logvar, and the Normal that forward builds, from the encoder's
    own mu_logvar and from a stand-in for it."""
    encoder = ConvEncoder()
    expect_parameter_count("encoder parameters", encoder, 71_352, droppable_biases=(16, 32),
                           hint="conv 1->16 and 16->32 (4x4 kernels), each followed by BatchNorm2d, then two "
                                "Linear(1568, 20) heads.")
    images = torch.rand(5, 1, 28, 28)
    mu, logvar = expect_returns("mu_logvar(images of shape (5, 1, 28, 28))", encoder.mu_logvar, images,
                                hint=_features_hint)
    expect_shape("mu from mu_logvar(images of shape (5, 1, 28, 28))", mu, (5, 20))
    expect_shape("logvar from mu_logvar(images)", logvar, (5, 20))
    expect_logvar_of_its_own("mu_logvar(images of shape (5, 1, 28, 28))", mu, logvar)
    fixed = ConvEncoder()
    _load_fixed_parameters(fixed)
    fixed.eval()
    expect_close("(mu * ENCODER_PROJECTION).sum(1) for 3 fixed images, in eval mode, with "
                 "fixed parameters (each a function of its kind and shape, biases 0) in the encoder",
                 (fixed.mu_logvar(FIXED_IMAGES)[0] * ENCODER_PROJECTION).sum(1), ENCODER_ON_FIXED, atol=1e-4,
                 rtol=1e-4, hint=_architecture_hint(ENCODER_WITHOUT_A_RELU, "conv, BatchNorm, ReLU, conv, BatchNorm, "
                                                                            "ReLU, a flatten channel by channel "
                                                                            "(nn.Flatten()), then the two heads"))
    encoder.eval()  # BatchNorm then uses its running statistics: the encoder is one fixed function of each image
    expect_equal("some logvar below 0 from a new encoder's mu_logvar(500 random images), in eval mode",
                 bool((encoder.mu_logvar(torch.rand(500, 1, 28, 28))[1] < 0).any()), True,
                 hint="logvar = log sigma^2 is any real number; a variance kept at 1 or above cannot make q narrower "
                      "than the prior.")
    expect_not_affine("mu from mu_logvar in eval mode, on 100 pairs of images", lambda x: encoder.mu_logvar(x)[0],
                      *torch.rand(2, 100, 1, 28, 28),
                      hint="a ReLU follows each convolution's batch normalisation; without them, in eval mode, mu is "
                           "an affine map of the image.")
    encoder.train()
    expect_equal("mu_logvar in train mode, twice on the same images: the same mu (the encoder is one function of its "
                 "batch)", torch.equal(encoder.mu_logvar(images)[0], encoder.mu_logvar(images)[0]), True,
                 hint="the only randomness of the model is forward's draw of z: no dropout or noise in the encoder.")
    q = encoder(images)
    assert isinstance(q, Normal), f"encoder(images): expected a torch.distributions.Normal, got {type(q).__name__}."
    expect_shape("q.loc", q.loc, (5, 20))
    expect_close("q.loc", q.loc, mu, hint="the Normal's loc is mu.")
    expect_close("q.scale", q.scale, torch.exp(0.5 * logvar),
                 hint=hint_by_value([(torch.exp(logvar), "this is exp(logvar), the variance: a Normal's scale is its "
                                                         "standard deviation."),
                                     (logvar, "this is logvar itself: a Normal's scale is its standard deviation, "
                                              "which must be positive."),
                                     (torch.exp(-0.5 * logvar), "this is 1 / the standard deviation.")],
                                    otherwise="a Normal's scale is its standard deviation: how does it follow from "
                                              "the log-variance?"))
    expect_shape("mu from mu_logvar(one image of shape (1, 1, 28, 28))",
                 encoder.mu_logvar(torch.rand(1, 1, 28, 28))[0], (1, 20))
    known_mu, known_logvar = torch.randn(4, 20), torch.randn(4, 20)
    encoder.mu_logvar = lambda x: (known_mu, known_logvar)  # a stand-in for mu_logvar, as at grading
    q = encoder(images[:4])
    through = "forward must call self.mu_logvar(x) and build the Normal from what it returns: the checks replace it."
    expect_close("q.loc when mu_logvar returns a known mu", q.loc, known_mu, hint=through)
    expect_close("q.scale when mu_logvar returns a known logvar", q.scale, torch.exp(0.5 * known_logvar),
                 hint=through)
    print(PASSED)


@checking_answers
def conv_decoder(ConvDecoder):
    """Checks the decoder's size, the shape of its output for one code and for a batch, its gradient in z and
    that it returns logits."""
    decoder = ConvDecoder()
    expect_parameter_count("decoder parameters", decoder, 416_849, droppable_biases=(16,),
                           hint="Linear(20, 256) and Linear(256, 1568), then ConvTranspose2d 32->16 (4x4) with "
                                "BatchNorm2d(16), and ConvTranspose2d 16->1 (4x4, with its bias).")
    for batch in (1, 7):
        logits = expect_returns(f"decoder(z of shape ({batch}, 20))", decoder, torch.randn(batch, 20),
                                hint="the decoder takes any number of codes: when you reshape, take the batch size "
                                     "from z, not a fixed number.")
        if logits.dim() == 4:  # images: their side tells whether the transposed convolutions double it
            expect_equal(f"the side of the images of decoder(z of shape ({batch}, 20))", tuple(logits.shape[-2:]),
                         (28, 28), hint="each transposed convolution must double the side, 7 to 14 to 28: work out "
                                        "its padding from the output-size formula.")
        expect_shape(f"decoder(z of shape ({batch}, 20))", logits, (batch, 1, 28, 28))
    z = torch.randn(3, 20, requires_grad=True)
    expect_gradient("decoder output as a function of z", decoder(z), z)
    fixed = ConvDecoder()
    _load_fixed_parameters(fixed)
    fixed.eval()
    expect_close("(logits * DECODER_PROJECTION).flatten(1).sum(1) for 3 fixed codes, in eval mode, with "
                 "fixed parameters (each a function of its kind and shape, biases 0) in the decoder",
                 (fixed(FIXED_CODES) * DECODER_PROJECTION).flatten(1).sum(1), DECODER_ON_FIXED, atol=1e-4, rtol=1e-4,
                 hint=_architecture_hint(DECODER_WITHOUT_A_RELU, "Linear, ReLU, Linear, ReLU, the 1568 numbers read "
                                                                 "channel by channel (.view(-1, 32, 7, 7)), transposed "
                                                                 "conv, BatchNorm, ReLU, transposed conv"))
    decoder.eval()  # BatchNorm then uses its running statistics: the decoder is one fixed function of each code
    expect_not_affine("decoder in eval mode, on 100 pairs of codes", decoder, *torch.randn(2, 100, 20),
                      hint="the dense layers and the first transposed convolution are each followed by a ReLU (after "
                           "its batch normalisation); without them, in eval mode, the decoder is an affine map of z.")
    decoder.train()
    assert (decoder(3 * torch.randn(200, 20)) < 0).any(), \
        ("decoder: expected logits (any real number), got no negative value for 200 codes drawn wide (3 N(0, I)). "
         "Hint: the last layer must be linear: no sigmoid and no ReLU after it.")
    print(PASSED)


class _KnownEncoder(nn.Module):
    '''A stand-in for model.encoder: q = N(-0.5, 0.25^2) in each of 20 dimensions, whatever the image; its loc and
    scale, kept as ``loc`` and ``scale``, require grad.'''

    def forward(self, x):
        self.loc = torch.full((len(x), 20), -0.5, requires_grad=True)
        self.scale = torch.full((len(x), 20), 0.25, requires_grad=True)
        return Normal(self.loc, self.scale)


class _RecordingDecoder(nn.Module):
    '''A stand-in for model.decoder: it records the z it is given.'''

    def forward(self, z):
        self.z = z
        return torch.zeros(len(z), 1, 28, 28)


@checking_answers
def conv_vae_forward(ConvVAE):
    """Checks the shapes of what forward returns, that gradients reach the images, and, through stand-ins for the
    encoder and decoder, the q it returns and the mean, spread and independence of the z it decodes."""
    model = ConvVAE()
    images = torch.rand(4, 1, 28, 28, requires_grad=True)
    logits, q = model(images)
    expect_shape("logits from model(images of shape (4, 1, 28, 28))", logits, (4, 1, 28, 28))
    assert isinstance(q, Normal), f"model(x): expected (logits, q) with q a Normal, got {type(q).__name__}."
    grad = expect_gradient("logits as a function of the images (through the encoder, z and the decoder)", logits,
                           images, hint="the draw of z must keep q's loc and scale in the graph: q.sample() cuts it, "
                                        "and so does a .detach().")
    assert grad.abs().sum() > 0, ("model(x): the images receive only zero gradients from the logits. "
                                  "Hint: draw z with q.rsample(), not q.sample() or torch.normal.")

    torch.manual_seed(0)
    recorder, known = _RecordingDecoder(), _KnownEncoder()
    model.encoder, model.decoder = AsLent(known), AsLent(recorder)  # as at grading: they can only be called
    logits, q = expect_returns("model(5000 images) with stand-ins for model.encoder and model.decoder", model,
                               torch.zeros(5000, 1, 28, 28), lent_hint=CALL_THE_ENCODER_AND_DECODER)
    z = recorder.z
    if not torch.is_tensor(z) or tuple(z.shape) != (5000, 20):
        got = tuple(z.shape) if torch.is_tensor(z) else type(z).__name__
        raise AssertionError(f"the z that forward gives model.decoder for 5000 images: expected a tensor of shape "
                             f"(5000, 20), one code per image, got {got}. Hint: draw one z per image with "
                             "q.rsample(), with no sample shape: q.rsample((n,)) puts n draws in a new first "
                             "dimension.")
    expect_close("q.loc of the q that forward returns (the encoder's)", q.loc, -0.5,
                 hint="return the encoder's q itself.")
    expect_close("mean of z for q with loc -0.5", z.mean(), -0.5, atol=0.01, rtol=0,
                 hint="z must be a draw from q, centred on q's loc.")
    expect_close("std of z for q with scale 0.25", z.std(), 0.25, atol=0.005, rtol=0,
                 hint=hint_by_value([(0.0, "z does not vary: it must be a draw from q, not a fixed point of it."),
                                     (1.0, "z varies as a standard normal: a draw from q has q's scale.")],
                                    otherwise="z must be a draw from q, with q's scale as its standard deviation.",
                                    atol=0.005))
    expect_uncorrelated("correlation between two latent dimensions of z", z, atol=0.06,
                        hint="each entry of z needs a noise of its own, as q.rsample() draws it.")
    expect_gradient_close("dz/dloc, z as a function of q.loc", z, known.loc, torch.ones_like(known.loc),
                          hint="draw z with q.rsample(): torch.normal passes back zero gradients, q.sample() none.")
    expect_gradient_close("dz/dscale, z as a function of q.scale", z, known.scale,
                          ((z - known.loc) / known.scale).detach(),
                          hint="dz/dscale is the noise eps: q.scale must stay in the graph, no .detach().")
    expect_draw_on_device_of_q("model(4 images) when the encoder's q has its loc and scale of shape (4, 20)", model,
                               torch.zeros(4, 1, 28, 28))
    print(PASSED)


@checking_answers
def kl_to_prior(kl_to_prior):
    """Checks the KL's shape, its value for two known Normals, its gradients in q's loc and scale, and that it works
    on q's device."""
    kl = kl_to_prior(Normal(torch.zeros(3, 20), torch.ones(3, 20)))
    expect_shape("kl_to_prior(N(0, I) with batch shape (3, 20))", kl, (3,))
    expect_close("KL of N(0, I) to itself", kl, torch.zeros(3))
    kl = expect_returns("kl_to_prior(q with batch shape (2, 4))", kl_to_prior,
                        Normal(torch.ones(2, 4), torch.full((2, 4), 2.0)),
                        hint="q's shape is not always (batch, 20): make the prior in the shape of q's own tensors "
                             "(q.loc), not of a fixed size.")
    expect_close("KL with loc 1 and scale 2 in 4 dimensions", kl,
                 torch.full((2,), 4 * 0.5 * (4 + 1 - 1 - math.log(4))),
                 hint=kl_hint(4 * 0.5 * (4 + 1 - 1 - math.log(4)), dimensions=4,
                              otherwise="the KL in closed form per dimension, summed over the last dimension: a "
                                        "one-draw estimate, or a KL of other distributions than q and N(0, 1), "
                                        "gives another value.",
                              reversed_kl=4 * (math.log(2.0) + (1 + 1) / (2 * 4) - 0.5)))
    _expect_kl_to_prior_gradients(kl_to_prior)
    expect_on_device("kl_to_prior(q with loc and scale of shape (3, 20))", kl_to_prior,
                     Normal(torch.zeros(3, 20), torch.ones(3, 20)),
                     shape=(3,), hint="make the prior on the device (and in the dtype) of q's own tensors.")
    print(PASSED)


KL_KEEPS_ITS_GRADIENT = ("the KL trains the encoder through q's loc and scale: compute it from them in the graph, "
                         "with no .detach(), torch.no_grad(), .tolist() or NumPy on the way.")


def _expect_kl_to_prior_gradients(kl_to_prior) -> None:
    """``kl_to_prior`` of q = N(loc, scale) must pass back the KL's gradients, loc and scale - 1/scale."""
    loc = torch.tensor([[0.5, -1.0, 2.0, 0.0]], requires_grad=True)
    scale = torch.tensor([[0.5, 1.0, 2.0, 1.5]], requires_grad=True)
    kl = expect_returns("kl_to_prior(q with loc and scale requiring gradients)", kl_to_prior, Normal(loc, scale))
    expect_gradient_close("the gradient of kl_to_prior in q's loc", kl, loc, loc.detach(), hint=KL_KEEPS_ITS_GRADIENT)
    expect_gradient_close("the gradient of kl_to_prior in q's scale", kl, scale, (scale - 1 / scale).detach(),
                          hint=KL_KEEPS_ITS_GRADIENT)
