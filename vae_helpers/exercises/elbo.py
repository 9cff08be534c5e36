"""The visible checks of 01_elbo's exercises, one function per graded cell."""
import math

import torch
import torch.nn.functional as F

from judge.arguments_kept import in_place_hint
from vae_helpers.checks import (GREY_LEVELS_AND_BERNOULLI, PASSED, checking_answers, expect_close, expect_equal,
                                expect_finite, expect_gradient, expect_gradient_close, expect_on_device, expect_returns,
                                expect_shape, expect_uncorrelated, hint_by_value)
from vae_helpers.lending import AsLent


@checking_answers
def kl_to_standard_normal(kl_to_standard_normal):
    """Checks the KL's shape, its value on a few known Gaussians (float64 and float32) and its gradients in mu and
    logvar."""
    kl = kl_to_standard_normal(torch.zeros(3, 4), torch.zeros(3, 4))
    expect_shape("kl_to_standard_normal(zeros(3, 4), zeros(3, 4))", kl, (3,))
    expect_close("KL of N(0, I) to itself", kl, torch.zeros(3), hint="a distribution is at KL 0 from itself.")
    kl = kl_to_standard_normal(torch.ones(1, 1), torch.zeros(1, 1))
    if torch.is_tensor(kl) and kl.shape == (1,) and torch.allclose(kl, torch.tensor([1.0], dtype=kl.dtype)):
        hint = ("with mu = 1 and unit variance the KL is 1/2, and this is twice that: the factor 1/2 in front of the "
                "Gaussian's log-density multiplies every term of the KL.")
    elif torch.is_tensor(kl) and kl.shape == (1,) and kl.item() < 0:
        hint = "a KL is never negative: check the sign of each term."
    else:
        hint = ("with unit variance the KL depends on mu alone, and it is 1/2 at mu = 1: check each term's factor and "
                "sign.")
    expect_close("KL with mu = 1, logvar = 0 (one dimension)", kl, torch.tensor([0.5]), hint=hint)
    expect_close("KL with mu = -2, logvar = 0 (one dimension)",
                 kl_to_standard_normal(torch.full((1, 1), -2.0), torch.zeros(1, 1)), torch.tensor([2.0]),
                 hint="with unit variance the KL grows with the size of mu, whatever its sign: 4 times larger at -2 "
                      "than at 1.")
    expect_close("KL with mu = 1 in each of 5 dimensions",
                 kl_to_standard_normal(torch.ones(2, 5), torch.zeros(2, 5)), torch.full((2,), 2.5),
                 hint=hint_by_value([(0.5, "this is the mean over the 5 latent dimensions: sum over them instead.")],
                                    otherwise="each of the 5 dimensions adds its own KL, 0.5 each here."))
    expect_close("KL with mu = 0, logvar = log 4 (one dimension)",
                 kl_to_standard_normal(torch.zeros(1, 1), torch.full((1, 1), math.log(4.0))),
                 torch.tensor([0.5 * (4.0 - 1.0 - math.log(4.0))]),
                 hint="at mu = 0 only the terms in the variance are left, and at a variance of 4 they come to about "
                      "0.807 nats: check each of them, its factor and its sign.")
    mu, logvar = torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([[0.0, math.log(4.0)], [math.log(0.25), 0.0]])
    expected = 0.5 * (logvar.exp() + mu ** 2 - 1 - logvar).sum(1)
    kl = kl_to_standard_normal(mu, logvar)
    expect_close("KL for a batch of two different rows, mu = [[1, 0], [0, 2]], logvar = [[0, log 4], [log 0.25, 0]]",
                 kl, expected, hint="each row is its own q: its KL comes from that row alone, summed over its "
                                    "dimensions, with no mean or sum over the batch.")
    mu = torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float32, requires_grad=True)
    kl = expect_returns("kl_to_standard_normal(mu, logvar) in float32, for a mu that requires grad",
                        kl_to_standard_normal, mu, torch.zeros(1, 3, dtype=torch.float32),
                        hint="leave mu and logvar as they are (no in-place operation such as pow_): training needs "
                             "their gradients.")
    expect_close("KL in float32 with mu = [1, -2, 0.5], logvar = 0", kl, torch.tensor([2.625]))
    expect_close("dKL/dmu for mu = [1, -2, 0.5], logvar = 0", expect_gradient("KL as a function of mu", kl, mu),
                 mu.detach(), hint="the KL's derivative in mu is mu: compute it with torch operations on mu itself.")
    logvar = torch.tensor([[0.0, math.log(4.0), math.log(0.25)]], requires_grad=True)
    expect_gradient_close("dKL/dlogvar for mu = 0, logvar = [0, log 4, log 0.25]",
                          kl_to_standard_normal(torch.zeros(1, 3), logvar), logvar, (logvar.detach().exp() - 1) / 2,
                          hint="the KL trains the encoder's variance too: compute it with torch operations on logvar "
                               "itself, nothing detached.")
    print(PASSED)


@checking_answers
def reparameterize(reparameterize):
    """Checks the samples' shape, mean, spread, gradients, device, independence between entries and between
    calls."""
    given = {"mu": torch.randn(4, 2), "logvar": torch.randn(4, 2)}  # an encoder's outputs, which training reuses
    expect_returns("reparameterize(mu, logvar) for mu and logvar of shape (4, 2)", reparameterize, *given.values(),
                   hint=in_place_hint)
    mu = torch.full((100_000, 1), 3.0, requires_grad=True)
    logvar = torch.full((100_000, 1), math.log(4.0), requires_grad=True)
    z = reparameterize(mu, logvar)
    expect_shape("reparameterize(mu, logvar) with mu of shape (100000, 1)", z, (100_000, 1))
    expect_finite("z", z)
    drawn = z.detach()
    if (drawn - drawn[:1]).abs().max() < 1e-6:  # one value for every entry
        cause = ("z is mu: no noise was drawn. z = mu + std * eps, with eps a standard normal draw of mu's shape."
                 if torch.equal(drawn, mu.detach()) else "every entry needs its own eps, of the shape of mu: one "
                 "eps for all of them moves them all together.")
        raise AssertionError(f"std of z for logvar = log 4 across its 100000 entries: expected 2, got "
                             f"{drawn.std().item():.3g}: every entry is the same. Hint: {cause}")
    expect_close("mean of z for mu = 3", z.mean(), 3.0, atol=0.05,
                 hint=hint_by_value([(3.0 + 2.0 * 0.5, "this is mu + std / 2, which a noise of mean 1/2 (uniform on "
                                                       "[0, 1]) gives: eps must be a standard normal, of mean 0 and "
                                                       "variance 1.")],
                                    otherwise="the mean of z must be mu: eps must be a standard normal, of mean 0.",
                                    atol=0.05))
    expect_close("std of z for logvar = log 4", z.std(), 2.0, atol=0.05,
                 hint=hint_by_value([(4.0, "this is exp(logvar), the variance, used as the standard deviation."),
                                     (1.0, "the noise is not scaled: z = mu + std * eps, with std from logvar."),
                                     (math.log(4.0), "this is logvar itself used as the standard deviation."),
                                     (math.sqrt(2.0), "this is exp(logvar / 4): the standard deviation is the "
                                                      "square root of the variance exp(logvar)."),
                                     (0.5, "this is 1 / std: the noise is divided by the standard deviation where it "
                                           "is to be multiplied by it."),
                                     (0.25, "this is 1 / variance: the noise is scaled by the inverse of exp(logvar), "
                                            "where the standard deviation belongs.")],
                                    otherwise="for logvar = log 4 the variance is 4: which standard deviation "
                                              "does that give?", atol=0.05))
    grad_mu = expect_gradient("z as a function of mu", z, mu)
    expect_close("dz/dmu", grad_mu, torch.ones_like(grad_mu),
                 hint=hint_by_value([(0.0, "torch.normal(mu, std) passes back zero gradients to mu and std: draw the "
                                           "noise alone and move it by mu and std yourself.")],
                                    otherwise="z = mu + ...: its derivative in mu is 1."))
    grad_logvar = expect_gradient("z as a function of logvar", reparameterize(mu, logvar), logvar)
    expect_close("mean of |dz/dlogvar|", grad_logvar.abs().mean(), 0.5 * 2.0 * math.sqrt(2 / math.pi), atol=0.05,
                 hint="dz/dlogvar = 0.5 * std * eps: use exp(0.5 * logvar) as the std.")
    expect_on_device("reparameterize(mu, logvar) for mu and logvar of shape (4, 2)", reparameterize,
                     torch.zeros(4, 2), torch.zeros(4, 2), shape=(4, 2),
                     hint="draw eps on the device of mu and logvar, not on the CPU (nor on 'cuda').")
    pair = reparameterize(torch.zeros(50_000, 2), torch.zeros(50_000, 2))
    expect_uncorrelated("the correlation between the two columns of z for mu and logvar of shape (50000, 2)", pair,
                        atol=0.05, hint="every entry needs its own eps, of the shape of mu: not one per row, nor one "
                                        "for all.")
    expect_equal("z of two calls with the same mu and logvar is the same",
                 torch.equal(reparameterize(mu, logvar), z), False,
                 hint="each call must draw new noise: do not seed the random numbers inside the function.")
    print(PASSED)


_GREY_AS_THEY_ARE = ("take grey levels as they are: the target enters the loss as a number in [0, 1], not rounded "
                     "nor thresholded to 0 or 1.")


@checking_answers
def log_likelihoods(bernoulli_log_likelihood, gaussian_log_likelihood):
    """Checks both log-likelihoods' shapes and values on known inputs: grey levels, logits far from 0, plain
    numbers for the Gaussian's mean and log-variance; and their gradients in the logits, mean and log-variance."""
    images = torch.rand(2, 1, 28, 28)  # grey levels, as notebooks 04 and 05 train on
    ll = expect_returns("bernoulli_log_likelihood(grey-level images, all logits 0)", bernoulli_log_likelihood, images,
                        torch.zeros(2, 1, 28, 28), hint=GREY_LEVELS_AND_BERNOULLI)
    expect_shape("bernoulli_log_likelihood for images of shape (2, 1, 28, 28)", ll, (2,))
    expect_close("Bernoulli log-likelihood with all logits 0", ll, torch.full((2,), 784 * math.log(0.5)),
                 hint=hint_by_value([(math.log(0.5), "this is the mean over the 784 pixels: sum over them instead."),
                                     ((images * F.logsigmoid(torch.tensor(0.5)) + (1 - images) * F.logsigmoid(
                                         torch.tensor(-0.5))).flatten(1).sum(1),
                                      "this is what logits of sigmoid(0) = 0.5 give: the second argument holds "
                                      "logits, to be used as they are, with no sigmoid first.")],
                                    otherwise="a logit of 0 is a probability of 0.5, so each of the 784 pixels "
                                              "contributes log 0.5, whatever its grey level."))
    x = torch.tensor([[1.0, 0.0]])
    logits = torch.tensor([[2.0, -1.0]])
    expect_close("Bernoulli log-likelihood of x = [1, 0] with logits [2, -1]",
                 bernoulli_log_likelihood(x, logits), torch.log(torch.sigmoid(torch.tensor([2.0]))) +
                 torch.log(torch.sigmoid(torch.tensor([1.0]))),
                 hint="the second argument holds logits: do not apply a sigmoid before the loss.")
    expect_finite("Bernoulli log-likelihood with logits of +-1000",
                  bernoulli_log_likelihood(torch.tensor([[1.0, 0.0]]), torch.tensor([[-1000.0, 1000.0]])),
                  hint="sigmoid(1000) is exactly 1 and exp(1000) is inf in floating point: let "
                       "binary_cross_entropy_with_logits (or logsigmoid) work from the logits.")
    grey, logits = torch.tensor([[0.3, 0.8]]), torch.tensor([[1.0, -2.0]])
    expect_close("Bernoulli log-likelihood of grey levels x = [0.3, 0.8] with logits [1, -2]",
                 expect_returns("bernoulli_log_likelihood(grey levels [0.3, 0.8], logits [1, -2])",
                                bernoulli_log_likelihood, grey, logits, hint=GREY_LEVELS_AND_BERNOULLI),
                 (grey * F.logsigmoid(logits) + (1 - grey) * F.logsigmoid(-logits)).sum(1),
                 hint=_GREY_AS_THEY_ARE)
    expect_close("Bernoulli log-likelihood of x = [1, 0] with logits [-1000, 1000]",
                 bernoulli_log_likelihood(torch.tensor([[1.0, 0.0]]), torch.tensor([[-1000.0, 1000.0]])),
                 torch.tensor([-2000.0]), hint="a probability clipped or offset away from 0 caps what a pixel can "
                                               "cost; work from the logits, where log sigmoid(-1000) is -1000.")

    x = torch.zeros(3, 4)
    ll = gaussian_log_likelihood(x, torch.zeros(3, 4), torch.zeros(3, 4))
    expect_shape("gaussian_log_likelihood for x of shape (3, 4)", ll, (3,))
    flipped = (torch.is_tensor(ll) and ll.shape == (3,)
               and torch.allclose(ll, torch.full((3,), 2 * math.log(2 * math.pi))))
    expect_close("Gaussian log-likelihood at the mean, unit variance, 4 dimensions", ll,
                 torch.full((3,), -2 * math.log(2 * math.pi)),
                 hint="a log-density: -0.5 times the sum of the three terms, not +0.5." if flipped
                 else hint_by_value([(-0.5 * math.log(2 * math.pi), "this is the mean over the 4 entries: a "
                                                                    "log-likelihood of independent entries is the "
                                                                    "sum of theirs.")],
                                    otherwise="at the mean, with unit variance, each entry contributes its "
                                              "-0.5 * log(2 pi): four of them here."))
    expect_close("Gaussian log-likelihood of x = 0.5 at its mean 0.5, with logvar log 4",
                 gaussian_log_likelihood(torch.full((1, 1), 0.5), torch.full((1, 1), 0.5),
                                         torch.full((1, 1), math.log(4.0))),
                 torch.tensor([-0.5 * (math.log(2 * math.pi) + math.log(4.0))]),
                 hint="at the mean the squared error is 0 and only the log of the density's factor "
                      "1 / sqrt(2 pi s^2) is left: check the term in logvar, -0.5 * logvar per entry.")
    numbers = ("mean and logvar may be Python numbers: make logvar a tensor (torch.as_tensor) before torch.exp, or "
               "use math.exp for a number.")
    expect_close("Gaussian log-likelihood of x = 1 with mean 0 and logvar log 4",
                 expect_returns("gaussian_log_likelihood(x of shape (1, 1), mean 0.0, logvar math.log(4.0)): Python "
                                "numbers", gaussian_log_likelihood, torch.ones(1, 1), 0.0, math.log(4.0), hint=numbers),
                 torch.tensor([-0.5 * (math.log(2 * math.pi) + math.log(4.0) + 1 / 4)]),
                 hint=hint_by_value([(-0.5 * (math.log(2 * math.pi) + math.log(4.0)) - 1 / 4,
                                      "the squared error's term costs twice what it should, 0.25 nats here where the "
                                      "density of N(0, 4) at 1 asks for 0.125: check its factor and its divisor."),
                                     (-0.5 * (math.log(2 * math.pi) + math.log(4.0) + 1),
                                      "the squared error is not divided by the variance, exp(logvar) = 4 here.")],
                                    otherwise="one term of three is off at x = 1, mean 0, variance 4: the squared "
                                              "error's, the only one that changes with x."))
    x = torch.arange(18.0).view(2, 1, 3, 3) / 10
    expect_close("Gaussian log-likelihood of x of shape (2, 1, 3, 3) with mean 0 and logvar 0",
                 gaussian_log_likelihood(x, 0.0, 0.0), -0.5 * (9 * math.log(2 * math.pi) + (x ** 2).flatten(1).sum(1)),
                 hint="sum over every dimension but the first (batch) one, not only the last.")
    _expect_likelihood_gradients(bernoulli_log_likelihood, gaussian_log_likelihood)
    far_x = torch.tensor([[30.5, -1.0, -45.0]], dtype=torch.float64)  # the importance-weighted bound meets such x
    expected = -0.5 * (3 * (math.log(2 * math.pi) + math.log(0.3)) + (far_x ** 2).sum(1) / 0.3)
    expect_close("Gaussian log-likelihood in float64 of x = [30.5, -1, -45] with mean 0.0 and logvar math.log(0.3), "
                 "where it is about -4,930", gaussian_log_likelihood(far_x, 0.0, math.log(0.3)), expected,
                 atol=1e-6, rtol=0, hint=_float32_rounding_hint(expected, "a step", "far from the mean every term "
                                                                                "counts: check each one there."))
    print(PASSED)


KEEP_THE_GRAPH = ("log p(x|z) trains the decoder through what it is given: compute it with torch operations on them; "
                  "torch.tensor(...) of a tensor, .detach(), .item() and NumPy make copies without their gradient.")


def _expect_likelihood_gradients(bernoulli_log_likelihood, gaussian_log_likelihood):
    """Both log-likelihoods must pass the decoder its gradient: in the logits, x - sigmoid(logits); in the Gaussian's
    mean, (x - mean) / variance, and in its log-variance, ((x - mean)^2 / variance - 1) / 2."""
    x = torch.tensor([[1.0, 0.0, 0.3]])
    logits = torch.tensor([[2.0, -1.0, 0.5]], requires_grad=True)
    expect_gradient_close("d log p(x|z) / d logits, the Bernoulli's, for x = [1, 0, 0.3], logits [2, -1, 0.5]",
                          bernoulli_log_likelihood(x, logits), logits, x - torch.sigmoid(logits.detach()),
                          hint=KEEP_THE_GRAPH)
    x = torch.tensor([[1.0, 0.0, 2.5]])
    mean = torch.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    logvar = torch.tensor([[0.0, math.log(4.0), -1.0]], requires_grad=True)
    ll = gaussian_log_likelihood(x, mean, logvar)
    variance, error = logvar.detach().exp(), x - mean.detach()
    expect_gradient_close("d log N(x; mean, exp(logvar)) / d mean, for x = [1, 0, 2.5], mean [0.5, -1, 2], logvar "
                          "[0, log 4, -1]", ll, mean, error / variance, hint=KEEP_THE_GRAPH)
    expect_gradient_close("d log N(x; mean, exp(logvar)) / d logvar, at the same point", ll, logvar,
                          (error ** 2 / variance - 1) / 2, hint=KEEP_THE_GRAPH)


def _float32_rounding_hint(expected, suspect, otherwise):
    """The hint for a float64 result that misses a large ``expected`` by float32's rounding, naming ``suspect`` as
    what computed in float32; for any other value, ``otherwise``."""
    def choose(value):
        if (value - expected).abs().max() < 1e-5 * expected.abs().max():
            return (f"x is float64, but the result is off by float32's rounding (a few parts in 10^7 of its size): "
                    f"{suspect} computes in float32 (a tensor made with dtype=torch.float or torch.float32): keep "
                    "every tensor in the dtype of x.")
        return otherwise
    return choose


TOY_AS_LENT = ("W", "b", "logvar", "decoder_mean")  # what grading lends of a toy model to a bound's code
TOY_HINT = ("the model is given to your function as at grading, with W, b, logvar and decoder_mean alone: compute "
            "from those.")
THE_MODEL_GIVEN = ("use the model your function is given (its argument), not the notebook's toy: here it was given "
                   "another model.")


class _AnotherToy:
    """A linear Gaussian model other than the notebook's toy (other W, b and noise), with the exact evidence and
    posterior: a bound that reads the notebook's ``toy`` instead of the model it is given is wrong for this one."""

    def __init__(self, dtype):
        self.W = torch.tensor([[0.0, 2.0], [1.0, 0.0], [0.0, -1.0]], dtype=dtype)
        self.b, self.logvar = torch.tensor([1.0, 0.0, -0.5], dtype=dtype), math.log(1.5)

    def decoder_mean(self, z):
        return z @ self.W.T + self.b

    def observations_and_posterior(self):
        """Three observations, their exact log p(x) and posterior (mu, logvar)."""
        x = self.decoder_mean(torch.tensor([[0.5, -1.0], [-1.5, 0.2], [1.0, 1.0]], dtype=self.W.dtype))
        noise_var = math.exp(self.logvar)
        covariance = self.W @ self.W.T + noise_var * torch.eye(3, dtype=self.W.dtype)
        log_px = torch.distributions.MultivariateNormal(self.b, covariance).log_prob(x)
        posterior_var = 1.0 / (1.0 + (self.W ** 2).sum(0) / noise_var)  # W's columns are orthogonal
        mu = posterior_var * ((x - self.b) @ self.W) / noise_var
        return x, log_px, mu, torch.log(posterior_var).expand_as(mu)


@checking_answers
def elbo(elbo, toy, x_toy, post_mu, post_logvar):
    """Checks the ELBO estimate's shape, its value at the exact posterior of the toy model's observations, that it
    stays below log p(x) for a poor q, and that it passes gradients to q_mu. The function gets the toy model as
    grading lends it."""
    log_px = toy.log_evidence(x_toy)
    lent = AsLent(toy, offers=TOY_AS_LENT)
    estimate = expect_returns("elbo(x_toy, post_mu, post_logvar, toy, n_samples=500)", elbo, x_toy, post_mu,
                              post_logvar, lent, 500, lent_hint=TOY_HINT)
    expect_shape("elbo(x_toy, ...) for 4 observations", estimate, (4,))
    # what three mistakes give at the exact posterior, where E_q[log p(x|z)] = log p(x) + KL
    kl = 0.5 * (post_logvar.exp() + post_mu ** 2 - 1 - post_logvar).sum(1)
    at_the_mean = torch.distributions.Normal(toy.decoder_mean(post_mu), math.exp(0.5 * toy.logvar)).log_prob(
        x_toy).sum(1) - kl
    # E_q |x - W z - b|^2, and the ELBO where the decoder's log-variance is taken as exp(logvar)
    squared_error = ((x_toy - toy.decoder_mean(post_mu)) ** 2).sum(1) + (post_logvar.exp() * (toy.W ** 2).sum(0)).sum(1)
    logvar_exponentiated = -0.5 * (3 * (math.log(2 * math.pi) + math.exp(toy.logvar))
                                   + squared_error / math.exp(math.exp(toy.logvar))) - kl
    # E_p(z) |x - W z - b|^2 = |x - b|^2 + the sum of W's squares: the ELBO's first term with z drawn from the prior
    from_the_prior = -0.5 * (3 * (math.log(2 * math.pi) + toy.logvar) + (((x_toy - toy.b) ** 2).sum(1)
                                                                         + (toy.W ** 2).sum()) / math.exp(toy.logvar)) - kl
    at_the_mean_hint = hint_by_value([(at_the_mean, "this is the ELBO with z = q_mu: the reconstruction term "
                                                    "averages log p(x|z) over n_samples draws z ~ q.")],
                                     atol=1e-3, rtol=1e-4)  # no draw, so no spread: it matches to rounding
    by_value = hint_by_value([(log_px + 2 * kl, "this is log p(x) + KL: the ELBO subtracts the KL from the "
                                                "reconstruction term."),
                              (500 * (log_px + kl) - kl, "this is the sum of log p(x|z) over the 500 draws: "
                                                         "the reconstruction term is their average."),
                              (-0.5 * (3 * math.log(2 * math.pi) + squared_error) - kl,
                               "this is the ELBO of a decoder of variance 1: the decoder's variance is "
                               "exp(model.logvar), to be used in log p(x|z)."),
                              (logvar_exponentiated, "this is the ELBO of a decoder whose log-variance is "
                                                     "exp(model.logvar): model.logvar is a log-variance "
                                                     "already, to be used as it is."),
                              (from_the_prior, "this is the ELBO with z drawn from the prior N(0, I): the "
                                               "reconstruction term averages log p(x|z) over draws z ~ q(z|x), "
                                               "from q_mu and q_logvar.")],
                             atol=0.3, rtol=0.05)

    def hint(value):
        """The mistake the value shows; else, where 200 estimates with n_samples=100 spread as single draws do (a
        standard deviation of about 1.2 nats for the first observation, 0.09 with 100 draws), the draws left
        unaveraged."""
        if at_the_mean_hint(value) or by_value(value):
            return at_the_mean_hint(value) or by_value(value)
        repeated = elbo(x_toy[:1].repeat(200, 1), post_mu[:1].repeat(200, 1), post_logvar[:1].repeat(200, 1), lent,
                        n_samples=100)
        if repeated.detach().std() > 0.5:
            return ("200 estimates with n_samples=100 spread as widely as single draws do: the reconstruction term "
                    "averages log p(x|z) over n_samples draws of z.")
        return "at q = p(z|x) the ELBO equals log p(x)."

    expect_close("ELBO at the exact posterior (500 samples)", estimate, log_px, atol=0.2, rtol=0, hint=hint)
    poor_mu, poor_logvar = torch.zeros_like(post_mu), torch.zeros_like(post_logvar)  # q = the prior
    poor = elbo(x_toy, poor_mu, poor_logvar, lent, n_samples=500)
    assert (poor < log_px).all(), (
        f"ELBO for q = prior: expected below log p(x) = {log_px.tolist()}, got {poor.tolist()}. "
        "Hint: ELBO = E[log p(x|z)] - KL; a + sign on the KL lifts it above the evidence.")
    q_mu = post_mu.clone().requires_grad_(True)
    expect_gradient("ELBO as a function of q_mu", elbo(x_toy, q_mu, post_logvar, lent), q_mu)
    # At the exact posterior the ELBO is at its maximum in q_mu, so its gradient there is 0 on average; an estimate
    # whose draws of z cut the graph keeps only the KL's gradient, -q_mu.
    copies = 20_000
    x_far = toy.decoder_mean(torch.tensor([[1.5, -1.0]]))
    noise_var = math.exp(toy.logvar)
    far_var = 1 / (1 + (toy.W ** 2).sum(0) / noise_var)  # the toy's W has orthogonal columns
    far_mu, far_logvar = far_var * ((x_far - toy.b) @ toy.W) / noise_var, far_var.log().expand(1, -1)
    q_mu = far_mu.repeat(copies, 1).requires_grad_(True)
    q_logvar = far_logvar.repeat(copies, 1).requires_grad_(True)
    estimate = elbo(x_far.repeat(copies, 1), q_mu, q_logvar, lent)
    grad = expect_gradient("ELBO as a function of q_mu", estimate, q_mu)
    expect_close(f"mean gradient of the ELBO in q_mu at the exact posterior ({copies:,} copies of one observation, "
                 "where the ELBO is at its maximum)", grad.mean(0), torch.zeros(2), atol=0.15,
                 hint="the reconstruction term must pass its gradient to q_mu through z: draw z with your "
                      "reparameterize, outside torch.no_grad(), not with a sampler that cuts the graph (.sample(), "
                      "torch.normal, .detach()), "
                      "and compute log p(x|z) from the decoder's mean as it is (torch.tensor(...) of it, .detach() "
                      "or NumPy copy it without its gradient).")
    through_logvar = ("the draw must carry gradients to q_logvar too: z = q_mu + exp(0.5 * q_logvar) * eps, nothing "
                      "detached; without it only the KL's gradient is left.")
    grad = expect_gradient("ELBO as a function of q_logvar", estimate, q_logvar, hint=through_logvar)
    expect_close(f"mean gradient of the ELBO in q_logvar at the exact posterior ({copies:,} copies of one "
                 "observation, where the ELBO is at its maximum)", grad.mean(0), torch.zeros(2), atol=0.15,
                 hint=through_logvar)
    other = _AnotherToy(toy.W.dtype)
    x, log_px, mu, logvar = other.observations_and_posterior()
    expect_close("ELBO at the exact posterior of another toy model (other W, b and logvar; 500 samples)",
                 elbo(x, mu, logvar, AsLent(other, offers=TOY_AS_LENT), 500), log_px, atol=0.2, rtol=0,
                 hint=THE_MODEL_GIVEN)
    print(PASSED)


@checking_answers
def importance_weighted_bound(importance_weighted_bound, toy, x_toy, post_mu, post_logvar):
    """Checks the bound's shape, its value at the exact posterior, that it climbs with k below log p(x) for a
    poor q, and that it stays finite and exact where every weight underflows. The function gets the toy model as
    grading lends it."""
    lent = AsLent(toy, offers=TOY_AS_LENT)
    bound = expect_returns("importance_weighted_bound(x_toy, post_mu, post_logvar, toy, k=5)",
                           importance_weighted_bound, x_toy, post_mu, post_logvar, lent, 5, lent_hint=TOY_HINT)
    expect_shape("importance_weighted_bound(x_toy, ..., k=5) for 4 observations", bound, (4,))
    log_px = toy.log_evidence(x_toy)
    # at the exact posterior each weight is p(x) of its own observation: what pooling the weights of different
    # observations gives is known exactly, for the 5 copies laid out one batch after another or each one's together
    k, n = 5, len(x_toy)
    pooled = {"one batch after another (x.repeat(k, 1)), read as each observation's k together (view(B, k))":
                  torch.logsumexp(log_px.repeat(k).view(n, k), 1) - math.log(k),
              "each observation's k together (repeat_interleave), read as one batch after another (view(k, B))":
                  torch.logsumexp(log_px.repeat_interleave(k).view(k, n), 0) - math.log(k)}
    expect_close("L_5 at the exact posterior", bound, log_px, atol=1e-6, rtol=0,
                 hint=hint_by_value([(value, f"this pools the weights of different observations: the k copies are "
                                             f"laid out {layout}. Reshape the weights as you laid the copies out, "
                                             f"and take the logsumexp over each observation's own k.")
                                     for layout, value in pooled.items()],
                                    otherwise="at q = p(z|x) every weight equals p(x), so the bound is exact for any "
                                              "k: check log p(x|z) + log p(z) - log q(z|x) and the -log(k)."))
    prior_mu, prior_logvar = torch.zeros(1, 2), torch.zeros(1, 2)
    far_x = toy.decoder_mean(torch.tensor([[3.0, -3.0]]))
    # 300 estimates at once: 300 copies of the observation, each with its own samples
    many_x, many_mu, many_logvar = far_x.repeat(300, 1), prior_mu.repeat(300, 1), prior_logvar.repeat(300, 1)
    ones = importance_weighted_bound(many_x, many_mu, many_logvar, lent, k=1)
    fifties = importance_weighted_bound(many_x, many_mu, many_logvar, lent, k=50)
    l1, l50, exact = ones.mean(), fifties.mean(), toy.log_evidence(far_x)[0]
    # with the reference answers, L_1 is about -70 to -77 here, L_50 about -19.5, and log p(x) -10.5; averaged
    # log-weights spread 50 times less than one log-weight (a seventh as wide), one z for all 50 weights as widely
    if not l1 + 10 < l50 < exact:
        hint = ("each of the k weights needs a z of its own: the 300 estimates of L_50 spread as widely as those of "
                "L_1, as one draw shared by the k weights gives." if fifties.std() > 0.5 * ones.std() else
                "the k weights are averaged inside the log: the log of their mean, not the mean of their logs, which "
                "is an ELBO estimate whatever k.")
        raise AssertionError(f"for a poor q (the prior), expected L_1 + 10 < L_50 < log p(x) = {exact:.2f}, got "
                             f"L_1 = {l1:.2f}, L_50 = {l50:.2f}. Hint: {hint}")
    # q three times as wide as the exact posterior: every weight is at most 9 p(x), and L_50 is a few hundredths of
    # a nat below log p(x); the largest of 50 log-weights is about 2 nats above it
    wide = importance_weighted_bound(x_toy.repeat(100, 1), post_mu.repeat(100, 1),
                                     (post_logvar + 2 * math.log(3.0)).repeat(100, 1), lent, k=50)
    wide = wide.view(100, len(x_toy)).mean(0)
    expect_close("L_50 for q three times as wide as the exact posterior (mean of 100 estimates)", wide, log_px,
                 atol=0.3, rtol=0,
                 hint="L_k is the log of the mean of the k weights, not their largest: no bound can lie above log p(x)."
                 if (wide > log_px).any() else "each of the k weights needs a z of its own.")
    far_x = torch.tensor([[30.0, -20.0, 25.0]])  # thousands of nats from what the prior's codes explain
    expect_finite("L_10 for x = [30, -20, 25], far from the model, with q = the prior",
                  importance_weighted_bound(far_x, prior_mu, prior_logvar, lent, k=10),
                  hint="each weight is about exp(-3100), which is 0 in floating point: average the weights in log "
                       "space (torch.logsumexp) rather than exponentiating them.")
    # b + 30 * (1, 0, -1.5), off the plane of W's columns: its exact posterior has mean 0 (and post_logvar)
    off_x = torch.tensor([[30.5, -1.0, -45.0]])
    expect_close("L_10 at the exact posterior of x = [30.5, -1, -45], where log p(x) is about -4878",
                 importance_weighted_bound(off_x, torch.zeros(1, 2), post_logvar[:1], lent, k=10),
                 toy.log_evidence(off_x), atol=1e-6, rtol=0,
                 hint=_float32_rounding_hint(toy.log_evidence(off_x), "a step (your gaussian_log_likelihood included)",
                                            "every weight is p(x) = exp(-4878), 0 in floating point: combine the "
                                            "log-weights with torch.logsumexp."))
    other = _AnotherToy(toy.W.dtype)
    x, log_px, mu, logvar = other.observations_and_posterior()
    expect_close("L_5 at the exact posterior of another toy model (other W, b and logvar)",
                 importance_weighted_bound(x, mu, logvar, AsLent(other, offers=TOY_AS_LENT), 5), log_px, atol=1e-6,
                 rtol=0, hint=THE_MODEL_GIVEN)
    print(PASSED)
