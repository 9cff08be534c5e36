"""Hidden tests of 05_categorical_clustering: Gumbel-softmax samples, the KL of a categorical code to the
uniform prior and the capacity penalty."""
import math

import torch

from vae_helpers.checks import expect_close, expect_finite, expect_gradient, expect_on_device, expect_shape
from vae_helpers.exercises import categorical_clustering as checks  # noqa: F401 (visible checks)


def test_gumbel_softmax_sample(gumbel_softmax_sample):
    torch.manual_seed(2024)
    probabilities = torch.tensor([[0.7, 0.1, 0.1, 0.05, 0.05], [0.2, 0.2, 0.2, 0.2, 0.2], [0.05, 0.05, 0.1, 0.3, 0.5]])
    n = 20_000
    logits = (probabilities.log() + torch.tensor([[3.0], [-1.0], [0.5]])).repeat_interleave(n, dim=0)  # any constant per row
    samples = gumbel_softmax_sample(logits, 0.7)
    expect_shape("gumbel_softmax_sample(logits of shape (60000, 5), 0.7)", samples, (3 * n, 5))
    expect_finite("gumbel_softmax_sample(logits of shape (60000, 5), 0.7)", samples)
    expect_close("the entries of every sample sum to 1", samples.sum(-1), torch.ones(3 * n), atol=1e-4, rtol=0)
    if float(samples.min()) < 0:
        raise AssertionError(f"gumbel_softmax_sample: expected entries >= 0, got {float(samples.min()):.3g}.")
    frequencies = torch.nn.functional.one_hot(samples.argmax(-1), 5).float().view(3, n, 5).mean(1)
    expect_close("argmax frequencies of three categorical distributions (logits shifted by a constant per row)",
                 frequencies, probabilities, atol=0.02, rtol=0)
    hot = gumbel_softmax_sample(probabilities.log().repeat_interleave(1000, dim=0), 100.0)
    expect_close("samples at tau = 100 (close to uniform)", hot, torch.full((3000, 5), 0.2), atol=0.05, rtol=0)
    cold = gumbel_softmax_sample(probabilities.log().repeat_interleave(1000, dim=0), 0.005)
    expect_close("the largest entry at tau = 0.005, on average", cold.max(-1).values.mean(), 1.0, atol=0.005, rtol=0)
    certain = gumbel_softmax_sample(torch.tensor([[0.0, -1e4, -1e4]]).expand(500, 3), 0.5)
    expect_finite("samples of a certain category (logits [0, -1e4, -1e4])", certain)
    expect_close("samples of a certain category", certain, torch.tensor([1.0, 0.0, 0.0]).expand(500, 3), atol=1e-4, rtol=0)
    differentiable = torch.zeros(4, 3, requires_grad=True)
    expect_gradient("gumbel_softmax_sample as a function of its logits", gumbel_softmax_sample(differentiable, 1.0),
                    differentiable)
    batched = gumbel_softmax_sample(torch.randn(2, 6, 3), 2.0)
    expect_close("samples of logits of shape (2, 6, 3) sum to 1 over the last dimension, the categories",
                 batched.sum(-1), torch.ones(2, 6), atol=1e-4, rtol=0)
    expect_on_device("gumbel_softmax_sample(logits of shape (2, 6, 3), tau=2.0)", gumbel_softmax_sample,
                     torch.zeros(2, 6, 3), 2.0, shape=(2, 6, 3))


def test_categorical_kl_to_uniform(categorical_kl_to_uniform):
    g = torch.Generator().manual_seed(2024)
    logits = torch.randn(6, 5, generator=g) * 2
    p = torch.softmax(logits, -1)
    expected = (p * p.log()).sum(-1) + math.log(5)
    got = categorical_kl_to_uniform(logits)
    expect_shape("one KL per image", got, (6,))
    expect_close("KL(q || uniform) = sum pi log pi + log K", got, expected, atol=1e-5, rtol=1e-5)
    expect_close("the KL depends on the logits only through softmax", categorical_kl_to_uniform(logits + 7.0), expected,
                 atol=1e-5, rtol=1e-5)
    one = categorical_kl_to_uniform(torch.tensor([[300.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    expect_finite("KL of a certain q (logits [300, 0, 0])", one)
    expect_close("KL of certain and uniform q", one, torch.tensor([math.log(3), 0.0]), atol=1e-5, rtol=1e-5)
    expect_close("K from the logits", categorical_kl_to_uniform(torch.zeros(2, 7)), torch.zeros(2), atol=1e-6, rtol=1e-5)
    checks._expect_kl_to_uniform_gradients(categorical_kl_to_uniform)


def reference_categorical_kl_to_uniform(logits):
    """The notebook's categorical_kl_to_uniform: KL(Categorical(softmax(logits)) || Uniform(K)) of each row."""
    log_probs = torch.log_softmax(logits, dim=-1)
    return (log_probs.exp() * log_probs).sum(-1) + math.log(logits.shape[-1])


# grade each exercise on its own: while the student's capacity_penalty runs, the categorical_kl_to_uniform it calls
# is the version here unless the student's passed Exercise 2
ANSWERS = {"categorical_kl_to_uniform": reference_categorical_kl_to_uniform}


def reference_capacity_penalty(logits, capacity, gamma):
    """The notebook's capacity_penalty: gamma |mean KL - capacity| + gamma KL(the batch's shares || uniform)."""
    log_shares = torch.logsumexp(torch.log_softmax(logits, -1), 0) - math.log(len(logits))
    return (gamma * (reference_categorical_kl_to_uniform(logits).mean() - capacity).abs()
            + gamma * reference_categorical_kl_to_uniform(log_shares.unsqueeze(0))[0])


def test_capacity_penalty(capacity_penalty):
    g = torch.Generator().manual_seed(2024)
    logits = (torch.randn(8, 5, generator=g) * 2).requires_grad_()
    for capacity, gamma in ((0.0, 1.0), (0.4, 30.0), (1.2, 30.0), (3.0, 5.0)):
        got = capacity_penalty(logits, capacity, gamma)
        expected = reference_capacity_penalty(logits, capacity, gamma)
        expect_shape(f"capacity_penalty(logits of shape (8, 5), {capacity}, {gamma})", got, ())
        expect_close(f"capacity_penalty(logits of shape (8, 5), capacity={capacity}, gamma={gamma})", got, expected,
                     atol=1e-4, rtol=1e-5)
        gradient, = torch.autograd.grad(got, logits)
        expected_gradient, = torch.autograd.grad(expected, logits)
        expect_close(f"the gradient of capacity_penalty with respect to the logits (capacity={capacity}, gamma={gamma})",
                     gradient, expected_gradient, atol=1e-4, rtol=1e-4)
    expect_close("capacity_penalty depends on the logits only through softmax",
                 capacity_penalty(logits.detach() + 7.0, 1.2, 30.0), reference_capacity_penalty(logits.detach(), 1.2, 30.0),
                 atol=1e-4, rtol=1e-5)
    collapsed = torch.full((6, 3), -1000.0)
    collapsed[:, 2] = 0.0
    got = capacity_penalty(collapsed, math.log(3), 2.0)
    expect_finite("capacity_penalty when every image is certain of the same category (logits 0 and -1000)", got)
    expect_close("capacity_penalty when every image is certain of the same category (logits 0 and -1000)", got,
                 torch.tensor(2.0 * math.log(3)), atol=1e-3, rtol=1e-5)
    half = torch.tensor([[0.0, -1000.0, -1000.0]] * 3 + [[-1000.0, 0.0, -1000.0]] * 3)
    expect_close("capacity_penalty with two of three categories used, by half the images each",
                 capacity_penalty(half, 0.0, 1.0), torch.tensor(2 * math.log(3) - math.log(2)), atol=1e-3, rtol=1e-5)
