"""Hidden tests of 03_conv_vae: the convolutional encoder and decoder, the VAE's forward pass and the KL of a
diagonal Normal to the prior."""
import torch
from torch import nn
from torch.distributions import Normal

from vae_helpers.checks import (expect_close, expect_draw_on_device_of_q, expect_equal, expect_gradient,
                                expect_gradient_close, expect_not_affine, expect_on_device, expect_parameter_count,
                                expect_shape, expect_uncorrelated)
from vae_helpers.exercises import conv_vae as checks


class ReferenceConvEncoder(nn.Module):
    def __init__(self, latent_dim=20, channels=(16, 32)):
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(nn.Conv2d(1, c1, 4, 2, 1), nn.BatchNorm2d(c1), nn.ReLU(),
                                      nn.Conv2d(c1, c2, 4, 2, 1), nn.BatchNorm2d(c2), nn.ReLU(), nn.Flatten())
        self.to_mu, self.to_logvar = nn.Linear(c2 * 49, latent_dim), nn.Linear(c2 * 49, latent_dim)

    def forward(self, x):
        h = self.features(x)
        return Normal(self.to_mu(h), torch.exp(0.5 * self.to_logvar(h)))


class ReferenceConvDecoder(nn.Module):
    def __init__(self, latent_dim=20, channels=(16, 32), hidden=256):
        super().__init__()
        c1, c2 = channels
        self.c2 = c2
        self.expand = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, c2 * 49), nn.ReLU())
        self.upsample = nn.Sequential(nn.ConvTranspose2d(c2, c1, 4, 2, 1), nn.BatchNorm2d(c1), nn.ReLU(),
                                      nn.ConvTranspose2d(c1, 1, 4, 2, 1))

    def forward(self, z):
        return self.upsample(self.expand(z).view(-1, self.c2, 7, 7))


ANSWERS = {"ConvEncoder": ReferenceConvEncoder, "ConvDecoder": ReferenceConvDecoder}


def test_conv_encoder(ConvEncoder):
    torch.manual_seed(2024)
    encoder = ConvEncoder()
    expect_parameter_count("number of parameters of the encoder", encoder, 71_352, droppable_biases=(16, 32))
    for n in (1, 3):
        mu, logvar = encoder.mu_logvar(torch.rand(n, 1, 28, 28))
        expect_shape(f"mu from mu_logvar({n} images)", mu, (n, 20))
        expect_shape(f"logvar from mu_logvar({n} images)", logvar, (n, 20))
        expect_equal("mu_logvar gives logvar equal to mu (logvar needs a layer of its own)", torch.equal(mu, logvar), False)
    fixed, reference = ConvEncoder(), ReferenceConvEncoder()
    for module in (fixed, reference):
        checks._load_fixed_parameters(module)
        module.eval()
    images = torch.rand(6, 1, 28, 28)
    mu, logvar = fixed.mu_logvar(images)
    q = reference(images)
    expect_close("mu in eval mode with fixed parameters, on 6 random images (the architecture as a whole: each "
                 "ReLU and batch normalisation in its place)", mu, q.loc, atol=1e-5, rtol=1e-4)
    expect_close("logvar in eval mode with fixed parameters, on 6 random images", logvar, 2 * q.scale.log(),
                 atol=1e-5, rtol=1e-4)
    encoder.eval()  # BatchNorm with its running statistics: one fixed function of each image
    expect_equal("some logvar below 0 from a new encoder's mu_logvar(500 random images) in eval mode (logvar = "
                 "log sigma^2 is any real number)", bool((encoder.mu_logvar(torch.rand(500, 1, 28, 28))[1] < 0).any()),
                 True)
    expect_not_affine("mu from mu_logvar in eval mode, on 200 pairs of images (a ReLU after each batch "
                      "normalisation)", lambda x: encoder.mu_logvar(x)[0], *torch.rand(2, 200, 1, 28, 28))
    encoder.train()
    known_mu = torch.randn(4, 20)
    known_logvar = torch.randn(4, 20)
    encoder.mu_logvar = lambda x: (known_mu, known_logvar)
    q = encoder(torch.rand(4, 1, 28, 28))
    expect_equal("type of what forward returns", type(q).__name__, "Normal")
    expect_close("loc must be mu", q.loc, known_mu, atol=1e-8, rtol=1e-5)
    expect_close("scale must be exp(0.5 * logvar)", q.scale, torch.exp(0.5 * known_logvar), atol=1e-8, rtol=1e-5)


def test_conv_decoder(ConvDecoder):
    torch.manual_seed(2024)
    decoder = ConvDecoder()
    expect_parameter_count("number of parameters of the decoder", decoder, 416_849, droppable_biases=(16,))
    for n in (1, 2, 129):
        out = decoder(torch.randn(n, 20))
        expect_shape("decoder output must be (batch, 1, 28, 28) for any batch", out, (n, 1, 28, 28))
    expect_equal("the decoder returns some negative values (logits, not probabilities)",
                 bool((decoder(4 * torch.randn(500, 20)) < 0).any()), True)
    z = torch.randn(2, 20, requires_grad=True)
    g, = torch.autograd.grad(decoder(z).sum(), z)
    expect_equal("the decoder's output depends on z", bool(g.abs().sum() > 0), True)
    fixed, reference = ConvDecoder(), ReferenceConvDecoder()
    for module in (fixed, reference):
        checks._load_fixed_parameters(module)
        module.eval()
    codes = 2 * torch.randn(6, 20)
    expect_close("logits in eval mode with fixed parameters, on 6 random codes (the architecture as a whole: "
                 "each ReLU and batch normalisation in its place)", fixed(codes), reference(codes), atol=1e-4,
                 rtol=1e-4)
    decoder.eval()  # BatchNorm with its running statistics: one fixed function of each code
    expect_not_affine("the decoder in eval mode, on 200 pairs of codes (a ReLU after each dense layer and after the "
                      "first transposed convolution's batch normalisation)", decoder, *(2 * torch.randn(2, 200, 20)))


def test_conv_vae_forward(ConvVAE):
    torch.manual_seed(2024)
    model = ConvVAE()
    n = 5_000
    mu = torch.full((n, 20), -0.5, requires_grad=True)
    std = torch.full((n, 20), 0.25, requires_grad=True)

    class KnownEncoder(nn.Module):  # proposes a known q, whatever the image
        def forward(self, x):
            return Normal(mu, std)

    class CapturingDecoder(nn.Module):  # records the z it is given
        def forward(self, z):
            self.z = z
            return torch.zeros(len(z), 1, 28, 28)  # zeros: they cross the wire as one number

    model.encoder, model.decoder = KnownEncoder(), CapturingDecoder()
    logits, q = model(torch.zeros(n, 1, 28, 28))
    z = model.decoder.z
    expect_equal("forward returns the encoder's q", isinstance(q, Normal) and torch.equal(q.loc, mu), True)
    expect_close("mean of z for q with loc -0.5", z.mean(), -0.5, atol=0.01, rtol=0)
    expect_close("std of z for q with scale 0.25", z.std(), 0.25, atol=0.005, rtol=0)
    expect_gradient("z (draw it with q.rsample())", z, mu)
    expect_shape(f"logits from forward({n} images of shape (1, 28, 28))", logits, (n, 1, 28, 28))
    expect_uncorrelated("correlation between two latent dimensions of z (each needs its own noise)", z, atol=0.06)
    expect_gradient_close("dz/dmu must be 1 (torch.normal passes zeros)", z, mu, torch.ones_like(mu), atol=1e-8,
                          rtol=1e-5)
    expect_gradient_close("dz/dstd must be epsilon (the scale kept in the graph)", z, std, ((z - mu) / std).detach(),
                          atol=1e-4, rtol=1e-5)

    expect_draw_on_device_of_q("forward(3 images) when the encoder's q has its loc and scale of shape (3, 20)", model,
                               torch.zeros(3, 1, 28, 28))


def test_kl_to_prior(kl_to_prior):
    g = torch.Generator().manual_seed(6)
    loc = torch.randn(5, 8, generator=g)
    scale = torch.rand(5, 8, generator=g) + 0.1
    expected = (0.5 * (scale ** 2 + loc ** 2 - 1) - torch.log(scale)).sum(1)
    got = kl_to_prior(Normal(loc, scale))
    expect_shape("KL must have shape (batch,)", got, (5,))
    expect_close("KL to N(0, I) is wrong", got, expected, atol=1e-6, rtol=1e-5)
    checks._expect_kl_to_prior_gradients(kl_to_prior)
    expect_on_device("kl_to_prior(q with loc and scale of shape (5, 8))", kl_to_prior,
                     Normal(torch.zeros(5, 8), torch.ones(5, 8)),
                     shape=(5,))
