"""The visible checks of 05_categorical_clustering: Gumbel-softmax samples, the KL of a categorical code to the
uniform prior and the capacity penalty."""
import math

import torch
import torch.nn.functional as F

from judge.arguments_kept import in_place_hint
from vae_helpers.checks import (PASSED, checking_answers, expect_close, expect_finite, expect_gradient,
                                expect_gradient_close, expect_on_device, expect_returns, expect_shape, hint_by_value)

_CERTAIN, _LOG_4 = -200.0, math.log(4)  # a logit whose probability is 0 in float32 beside a logit 0; log 4


@checking_answers
def gumbel_softmax_sample(gumbel_softmax_sample):
    """Exercise 1: the shape, sums and argmax frequencies of many samples, the effect of a small temperature,
    gradients, a certain category, logits of any number of dimensions, and the device of the noise."""
    probabilities = torch.tensor([0.5, 0.3, 0.15, 0.05])
    samples = expect_returns("gumbel_softmax_sample(logits of shape (20000, 4), tau=0.5)", gumbel_softmax_sample,
                             probabilities.log().expand(20_000, 4), 0.5, hint=in_place_hint)
    expect_shape("gumbel_softmax_sample(logits of shape (20000, 4), tau=0.5)", samples, (20_000, 4))
    expect_finite("gumbel_softmax_sample(logits of shape (20000, 4), tau=0.5)", samples)
    expect_close("the sum of each sample's entries", samples.sum(-1), torch.ones(20_000), atol=1e-4,
                 hint="a softmax over the categories, the last dimension.")
    if torch.equal(samples, gumbel_softmax_sample(probabilities.log().expand(20_000, 4), tau=0.5)):
        raise AssertionError("gumbel_softmax_sample: two calls with the same logits gave the same samples: no noise "
                             "was drawn. Hint: each sample adds Gumbel noise, -log(-log u) with u uniform on (0, 1), "
                             "a new u for every entry, to the logits before the softmax.")
    frequencies = F.one_hot(samples.argmax(-1), 4).float().mean(0)
    expect_close("how often each category has the largest entry, over 20,000 samples of probabilities "
                 "[0.5, 0.3, 0.15, 0.05]", frequencies, probabilities, atol=0.02,
                 hint=hint_by_value([(F.one_hot(probabilities.argmax(), 4).float(),
                                      "the most probable category always wins: each category needs a noise of its "
                                      "own, a new u for every entry, not one per sample."),
                                     (probabilities ** 2 / (probabilities ** 2).sum(),
                                      "these are the frequencies of Cat(pi^(1/tau)), which a noise added after the "
                                      "division by tau gives: tau divides logits + g together."),
                                     (probabilities.softmax(-1),
                                      "these are the frequencies of softmax(pi), which a noise added to "
                                      "probabilities gives: the logits stand for log pi, add the noise to them.")],
                                    otherwise="argmax(log pi + g) follows Cat(pi) only when g is a standard Gumbel "
                                              "noise, a new one for every entry: check the law of your noise.",
                                    atol=0.02))
    cold = gumbel_softmax_sample(probabilities.log().expand(1000, 4), tau=0.01)
    expect_close("the largest entry of samples at tau = 0.01, on average (almost one-hot)", cold.max(-1).values.mean(),
                 1.0, atol=0.02, hint="divide logits + g by tau inside the softmax: a small tau sharpens it.")
    logits = torch.zeros(3, 4, requires_grad=True)
    expect_gradient("gumbel_softmax_sample(logits, tau=1.0) as a function of logits",
                    gumbel_softmax_sample(logits, 1.0), logits)
    certain = gumbel_softmax_sample(torch.tensor([[0.0, -1e4, -1e4, -1e4]]).expand(200, 4), 0.5)
    expect_finite("samples of a certain category (logits [0, -1e4, -1e4, -1e4])", certain)
    expect_close("samples of a certain category (logits [0, -1e4, -1e4, -1e4])", certain,
                 torch.tensor([1.0, 0.0, 0.0, 0.0]).expand(200, 4), atol=1e-4,
                 hint="a logit 10,000 below the others loses against any Gumbel noise: add the noise to the logits.")
    batched = expect_returns("gumbel_softmax_sample(logits of shape (2, 3, 4), tau=0.5)", gumbel_softmax_sample,
                             torch.zeros(2, 3, 4), 0.5, hint="logits may have any number of dimensions, the categories "
                                                              "last: draw the noise in the shape of logits.")
    expect_shape("gumbel_softmax_sample(logits of shape (2, 3, 4), tau=0.5)", batched, (2, 3, 4))
    expect_close("the sums of gumbel_softmax_sample(logits of shape (2, 3, 4), tau=0.5) over the last dimension",
                 batched.sum(-1), torch.ones(2, 3), atol=1e-4,
                 hint="the categories are the last dimension whatever the shape: the softmax runs over dim=-1.")
    expect_on_device("gumbel_softmax_sample(logits of shape (2, 3, 4), tau=0.5)", gumbel_softmax_sample,
                     torch.zeros(2, 3, 4), 0.5, shape=(2, 3, 4),
                     hint="draw the uniform noise on the device of logits, not on the CPU (nor on 'cuda').")
    print(PASSED)


@checking_answers
def categorical_kl_to_uniform(categorical_kl_to_uniform):
    """Exercise 2: the shape and values of ``categorical_kl_to_uniform`` for uniform, certain and other q, finite
    where probabilities are 0 or a logit is large."""
    kl = categorical_kl_to_uniform(torch.zeros(3, 10))
    expect_shape("categorical_kl_to_uniform(logits of shape (3, 10))", kl, (3,))
    log_10 = math.log(10)
    expect_close("KL of a uniform q to the uniform prior", kl, torch.zeros(3), atol=1e-6,
                 hint=hint_by_value([(-log_10, "this is -log K (K = 10), the sum of pi log pi for a uniform q: the "
                                               "KL to the uniform prior lacks its term in log K."),
                                     (log_10, "this is log K (K = 10), the entropy of a uniform q, not its KL to the "
                                              "uniform prior."),
                                     (10 / 3 * math.log(1 / 3) + log_10, "this is what a softmax over the batch of 3 "
                                                                        "gives: the softmax runs over the categories, "
                                                                        "the last dimension.")],
                                    otherwise="q is the prior itself here, at KL 0 from it."))
    certain = categorical_kl_to_uniform(torch.tensor([[0.0, -200.0, -200.0, -200.0]]))
    expect_finite("KL of a certain q (logits [0, -200, -200, -200]: three probabilities are exactly 0 in float32, "
                  "and each counts 0 log 0 = 0)", certain,
                  hint="log(softmax(...)) is -inf where a probability is 0, and 0 * (-inf) is NaN. Compute log pi with "
                       "F.log_softmax: it stays finite (-200 here), so pi * log pi is 0 * (-200) = 0.")
    certain_logits = torch.tensor([[0.0, -200.0, -200.0, -200.0]])
    reversed_kl = (0.25 * (math.log(0.25) - F.log_softmax(certain_logits, -1))).sum(-1)
    expect_close("KL of a certain q over 4 categories", certain, torch.tensor([math.log(4)]),
                 hint=hint_by_value([(2.0, "this is log2 4 = 2 bits: the KL is in nats, with the natural log."),
                                     (reversed_kl, "this is KL(uniform || q), the other way round: the KL of q to the "
                                                   "uniform weighs each log-ratio by q's own probability.")],
                                    otherwise="a one-hot q has KL log K."))
    pi = torch.tensor([0.5, 0.25, 0.25])
    expect_close("KL for probabilities [0.5, 0.25, 0.25]", categorical_kl_to_uniform(pi.log().unsqueeze(0)),
                 torch.tensor([(pi * pi.log()).sum().item() + math.log(3)]),
                 hint="sum of pi * log(pi), plus log K; it is never negative.")
    sure = categorical_kl_to_uniform(torch.tensor([[300.0, 0.0, 0.0]]))
    expect_finite("KL of a certain q with a large logit (logits [300, 0, 0]: exp(300) is inf in float32)", sure,
                  hint="never exponentiate the logits themselves: F.log_softmax subtracts the largest logit first.")
    expect_close("KL of a certain q over 3 categories (logits [300, 0, 0])", sure, torch.tensor([math.log(3)]))
    two = torch.tensor([[0.0, 0.0, 0.0, 0.0], [0.0, _CERTAIN, _CERTAIN, _CERTAIN]])  # uniform, then certain
    expect_close("KL for two images, one uniform and one certain over 4 categories (one KL per image)",
                 expect_returns("categorical_kl_to_uniform(logits of shape (2, 4))", categorical_kl_to_uniform, two),
                 torch.tensor([0.0, _LOG_4]), hint="each image has a KL of its own, from its own row of logits: sum "
                                                   "over the categories (the last dimension) only.")
    _expect_kl_to_uniform_gradients(categorical_kl_to_uniform)
    print(PASSED)


def _expect_kl_to_uniform_gradients(categorical_kl_to_uniform) -> None:
    """The KL must pass its gradient back to the logits, pi_j (log pi_j - sum_k pi_k log pi_k): the capacity
    penalty of Exercise 3 and the training of cell 18 go through it."""
    logits = torch.tensor([[1.0, 0.0, -1.0, 2.0], [0.5, 0.5, -2.0, 0.0]], requires_grad=True)
    kl = expect_returns("categorical_kl_to_uniform(logits requiring gradients)", categorical_kl_to_uniform, logits)
    pi, log_pi = F.softmax(logits.detach(), -1), F.log_softmax(logits.detach(), -1)
    expect_gradient_close("the gradient of categorical_kl_to_uniform in the logits", kl, logits,
                          pi * (log_pi - (pi * log_pi).sum(-1, keepdim=True)),
                          hint="the KL trains the encoder through the logits: compute it from them in the graph, with "
                               "no .detach(), torch.no_grad(), .tolist() or NumPy on the way.")


@checking_answers
def capacity_penalty(capacity_penalty):
    """Exercise 3: the shape and value of ``capacity_penalty`` for batches whose terms are known (uniform, certain
    and even, certain and all of one category, mixed), finite when shares are 0, and its gradient."""
    one_each = torch.full((4, 4), _CERTAIN).fill_diagonal_(0.0)  # four images, each certain of its own category
    all_first = torch.full((4, 4), _CERTAIN)
    all_first[:, 0] = 0.0  # four images, all certain of category 0
    penalty = capacity_penalty(one_each, _LOG_4, 10.0)
    expect_shape("capacity_penalty(logits of shape (4, 4), log 4, 10.0)", penalty, ())
    if torch.is_tensor(penalty) and abs(penalty.item() - 10.0 * _LOG_4) < 1e-3:  # one term from the other's KL
        # told apart at capacity 0, where the right penalty is 10 log 4: the balance taken from the images' KLs
        # doubles it, the capacity term taken from the KL of the shares (0 here) leaves nothing
        at_zero = float(capacity_penalty(one_each, 0.0, 10.0))
        hint = ("the second term is the KL of the batch's shares q_B (here 1/4 each, so 0) to the uniform, not the "
                "mean of the images' own KLs." if abs(at_zero - 20.0 * _LOG_4) < 1e-3 else
                "the first term compares the capacity with the mean of the images' own KLs (log 4 each here), not "
                "with the KL of the batch's shares (0 here)." if abs(at_zero) < 1e-3 else
                "one term takes the other's KL: the capacity is compared with the mean of the images' own KLs (log 4 "
                "each here), the balance is the KL of the batch's shares q_B (0 here).")
    else:
        hint = hint_by_value([(10.0 * 3 * _LOG_4, "this is the capacity compared with the sum of the batch's KLs: it "
                                                  "is compared with their mean."),
                              (10.0 * math.log(10 / 4), "this is a balance over K = 10 categories where the logits "
                                                        "have 4: take K from the logits' last dimension.")],
                             otherwise="each KL is log 4 and the four categories are used evenly: both terms are 0.",
                             atol=1e-3)
    expect_close("capacity_penalty for four images, each certain of its own category, capacity log 4", penalty, 0.0,
                 atol=1e-4, hint=hint)
    expect_close("capacity_penalty for uniform q(c | x) and capacity 0", capacity_penalty(torch.zeros(4, 10), 0.0, 10.0),
                 0.0, atol=1e-5)
    expect_close("capacity_penalty for uniform q(c | x), capacity 1.5, gamma 10 (the KL below the capacity)",
                 capacity_penalty(torch.zeros(4, 10), 1.5, 10.0), 15.0, atol=1e-4,
                 hint="every KL is 0 here, 1.5 nats short of the capacity: a KL below the capacity costs as much as "
                      "above.")
    expect_close("capacity_penalty for four images, each certain of its own category, capacity 0.5, gamma 2 (the KL, "
                 "log 4, above the capacity)", capacity_penalty(one_each, 0.5, 2.0), 2.0 * (_LOG_4 - 0.5), atol=1e-4,
                 hint="the KL is log 4 here, above the capacity by log 4 - 0.5: the penalty grows with the distance "
                      "from the capacity on either side.")
    expect_close("capacity_penalty for two certain images (categories 0 and 1) and two uniform ones, K = 2, "
                 "capacity log(2) / 2",
                 capacity_penalty(torch.tensor([[0.0, _CERTAIN], [_CERTAIN, 0.0], [0.0, 0.0], [0.0, 0.0]]),
                                  math.log(2) / 2, 10.0),
                 0.0, atol=1e-4,
                 hint=hint_by_value([(10 * math.log(2) / 2, "the KLs are log 2, log 2, 0, 0: their mean meets the "
                                                            "capacity, and the penalty is on the mean, not on each "
                                                            "image's distance to it.")],
                                    otherwise="the KLs are log 2, log 2, 0, 0, whose mean meets the capacity, and the "
                                              "batch uses its two categories equally, shares (1/2, 1/2): both terms "
                                              "are 0. The shares of the batch are the mean, over its images, of each "
                                              "image's probabilities of the categories.",
                                    atol=1e-3))
    expect_close("capacity_penalty for one uniform and one certain image, K = 2, capacity log(2) / 2, gamma 10",
                 capacity_penalty(torch.tensor([[0.0, 0.0], [0.0, _CERTAIN]]), math.log(2) / 2, 10.0),
                 10 * (0.75 * math.log(1.5) + 0.25 * math.log(0.5)), atol=1e-4,
                 hint=hint_by_value([(10 * 0.5 * (math.log(0.5 / 0.75) + math.log(0.5 / 0.25)),
                                      "this is gamma KL(uniform || shares), the other way round: the balance is "
                                      "KL(shares || uniform), which weighs each log-ratio by the share itself."),
                                     (10 * math.log(2), "this is what the shares (1, 0), the softmax of the mean of "
                                                        "the batch's logits, give: the shares of the batch are the "
                                                        "mean of its probabilities, (0.75, 0.25).")],
                                    otherwise="the mean KL meets the capacity here, so the first term is 0, and all of "
                                              "1.308 is gamma times KL(shares || uniform), with the shares of the "
                                              "batch the mean of its probabilities, (0.75, 0.25).",
                                    atol=1e-3))
    collapsed = capacity_penalty(all_first, _LOG_4, 10.0)
    expect_finite("capacity_penalty when every image is certain of the same category (three of its four shares of "
                  "the batch are exactly 0 in float32)", collapsed,
                  hint="the log of a share of exactly 0 is -inf. Find the log of the shares without forming them: the "
                       "log of a mean of probabilities is a logsumexp of log-probabilities, less log B.")
    expect_close("capacity_penalty when every image is certain of the same category, capacity log 4, gamma 10",
                 collapsed, 10 * _LOG_4, atol=1e-3,
                 hint="the mean KL meets the capacity, yet c says nothing about the images: the shares of the batch "
                      "are (1, 0, 0, 0), and their KL to the uniform distribution, log 4, is what the second term "
                      "charges.")
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0], [-0.5, 0.5, 3.0]], requires_grad=True)
    trained = expect_returns("capacity_penalty(logits that require grad, 0.5, 10.0)", capacity_penalty, logits, 0.5,
                             10.0, hint="leave category_logits as they are (no in-place operation such as -=): they "
                                        "are the encoder's output, and training needs their gradients.")
    gradient = expect_gradient("capacity_penalty as a function of the logits", trained, logits)
    expect_finite("the gradient of capacity_penalty with respect to the logits", gradient)
    expect_close("the gradient of capacity_penalty(logits of shape (3, 3), 0.5, 10.0) with respect to the logits",
                 gradient, torch.tensor([[-0.89228, 0.50782, 0.38446], [0.53953, -1.12338, 0.58385],
                                         [0.28867, 0.45291, -0.74158]]), atol=1e-3, rtol=1e-3,
                 hint="both terms pass their gradient to the logits, the balance too: nothing detached, no .item().")
    print(PASSED)
