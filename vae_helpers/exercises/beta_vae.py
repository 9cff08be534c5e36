"""The visible checks of 05_beta_vae: the KL weight's warm-up and the information a code's dimensions hold about
the class."""
import math

import torch

from vae_helpers.checks import (PASSED, checking_answers, expect_close, expect_finite, expect_number, expect_returns,
                                expect_shape, expect_value_error, hint_by_value)

WEIGHT_TOLERANCE = 1e-6  # a weight computed in float32 and made a Python float is right; here and at grading
_INSIDE = "inside the warm-up the weight grows linearly, from 0 at step 0 to beta (here 2.0) at step warmup_steps."
_AFTER = "after the warm-up the weight stays at beta (here 2.0)."
# what a wrong weight misses at each step 0, 1, ..., 6 of a warm-up over 4 steps
_WARM_UP_HINTS = ("the weight is 0 at the first step, step 0.", _INSIDE, _INSIDE, _INSIDE,
                  "the weight reaches beta (here 2.0) at step warmup_steps.", _AFTER, _AFTER)


@checking_answers
def kl_weight(kl_weight):
    """Exercise 1: the weight ``kl_weight`` gives during and after a warm-up and without one, as a Python float,
    and a ValueError for a negative step or warm-up length."""
    weights = [kl_weight(step, 4, 2.0) for step in range(7)]
    for step, (got, expected) in enumerate(zip(weights, [0.0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0])):
        expect_number(f"kl_weight({step}, warmup_steps=4, beta=2.0)", got, expected, atol=WEIGHT_TOLERANCE,
                      hint=_WARM_UP_HINTS[step])
    for step in (0, 5):
        try:
            weight = kl_weight(step, 0, 3.0)
        except ZeroDivisionError:
            raise AssertionError(f"kl_weight({step}, warmup_steps=0, beta=3.0): expected 3.0, got ZeroDivisionError. "
                                 "Hint: warmup_steps = 0 means no warm-up: the full weight at every step, with "
                                 "nothing to divide by.") from None
        expect_number(f"kl_weight({step}, warmup_steps=0, beta=3.0)", weight, 3.0, atol=WEIGHT_TOLERANCE,
                      hint="no warm-up: the full weight from the first step (and no division by zero).")
    for bad, what in (((-1, 4, 1.0), ("step",)), ((3, -5, 1.0), ("warmup_steps",)),
                      ((-2, -2, 1.0), ("step", "warmup_steps"))):  # both at fault: either may be named
        error = expect_value_error(f"kl_weight{bad}", kl_weight, *bad, why=f"a negative {' and '.join(what)}",
                                   naming=what)
        print(f"a negative {' and '.join(what)}: ValueError({error})")
    print(PASSED)


_CONSTANT_HINT = ("a constant dimension has a range of width 0: put all its values into one bin rather than dividing "
                  "by that width (0 / 0 is NaN, and a NaN made an integer is no bin).")


def _counting_hint(error: BaseException) -> str:
    """The hint for an error of class_information: an index beyond the table of (bin, class) counts, else a bin
    that does not exist."""
    if "out of bounds" in str(error):
        return ("an index went past the table of (bin, class) counts: it needs a row for each of the n_bins bins and "
                "a column for each class, labels.max() + 1 of them (the classes count from 0), and each value a bin "
                "from 0 to n_bins - 1 (the largest value goes into the last bin).")
    return ("every value needs a bin from 0 to n_bins - 1: the largest value goes into the last bin, and a constant "
            "dimension (a range of width 0) into one bin, without dividing by that width.")


@checking_answers
def class_information(class_information):
    """Exercise 2: ``class_information`` on codes whose answer is known (a coordinate that names the class, one
    independent of it, a constant one), its shape and finiteness, its invariance to each dimension's scale and
    shift and to the dtype, one bin, and labels that skip classes."""
    labels = torch.arange(4).repeat(6)                               # 24 images: classes 0, 1, 2, 3, 0, 1, ...
    # a coordinate that names the class, each value well inside its bin (0, 1.52, 2.48 and 4 bin widths above the
    # smallest value), none on a bin's edge, where float rounding would decide
    named = torch.tensor([0.0, 1.9, 3.1, 5.0])[labels]
    blind = torch.arange(24).div(4, rounding_mode="floor").float()   # 0, 0, 0, 0, 1, ...: every value meets every class
    constant = torch.zeros(24)
    z = torch.stack([named, blind, constant], dim=1)
    information = expect_returns("class_information(z of shape (24, 3), labels, n_bins=4)", class_information, z,
                                 labels, 4, hint=_counting_hint)
    expect_shape("class_information(z of shape (24, 3), labels, n_bins=4)", information, (3,))
    expect_finite("class_information of two dimensions where many (bin, class) cells are empty", information[:2],
                  hint="an empty cell must add 0 (0 log 0 = 0): keep it out of the log, or use torch.xlogy.")
    expect_finite("class_information of a constant dimension", information[2:], hint=_CONSTANT_HINT)
    expect_close("class_information of a coordinate independent of the class (each bin holds the four classes "
                 "equally)", information[1], torch.tensor(0.0), atol=1e-5,
                 hint="a mutual information is never negative: check that p(b, y) sums to 1 over the cells (counts "
                      "divided by the number of images)." if bool(information[1] < -1e-4) else
                      "every value of this coordinate meets each class equally often: I(b; y) = 0 when p(b, y) = "
                      "p(b) p(y) in every cell. Check the ratio inside the log, and that each value falls in its "
                      "own dimension's bins.")
    expect_close("class_information of a coordinate that names the class: each class has a bin of its own, "
                 "so I(b; y) = H(y) = log 4", information[0], torch.tensor(math.log(4)), atol=1e-5,
                 hint=hint_by_value([(2.0, "this is log2 4 = 2 bits: the information is in nats, with the natural "
                                           "log."),
                                     (1.0, "this is the information divided by H(y) = log 4, a normalised "
                                           "score: the exercise asks for I(b; y) itself, in nats."),
                                     (1.5 * math.log(2), "this is what two classes sharing a bin give, though their "
                                                         "values lie 1.52 and 2.48 bin widths above the smallest, in "
                                                         "the second and third of n_bins equal bins from the smallest "
                                                         "value to the largest: check your bins' width and which bin "
                                                         "each value goes into.")],
                                    otherwise="I(b; y) = KL(p(b, y) || p(b) p(y)) >= 0: the joint weighs the log-ratio "
                                              "log(p(b, y) / (p(b) p(y)))." if bool(information[0] < -1e-4)
                                    else "here each class has a bin of its own, so I(b; y) = H(y), the entropy of "
                                         "four equally frequent classes: log 4 nats."))
    expect_close("class_information of a constant dimension", information[2], torch.tensor(0.0), atol=1e-5)
    constant = expect_returns("class_information(a constant dimension, 9 images of 3 classes, n_bins=4)",
                              class_information, torch.zeros(9, 1), torch.arange(3).repeat(3), 4,
                              hint=lambda error: _CONSTANT_HINT)
    expect_close("class_information(a constant dimension, 9 images of 3 classes, n_bins=4)", constant,
                 torch.zeros(1), atol=1e-5, hint=_CONSTANT_HINT)
    moved = class_information(z * torch.tensor([0.01, 100.0, 1.0]) + torch.tensor([3.0, -50.0, 7.0]), labels, 4)
    expect_close("class_information after each dimension is scaled and shifted on its own", moved, information,
                 atol=1e-5, hint="bin each dimension over its own smallest and largest value, not over one range "
                                 "for the whole code.")
    expect_close("class_information of the same z in float64", class_information(z.double(), labels, 4), information,
                 atol=1e-5, hint="what you make (bin edges, counts) must work with a z of any float dtype.")
    expect_close("class_information(z, labels, n_bins=1): one bin tells nothing", class_information(z, labels, 1),
                 torch.zeros(3), atol=1e-6)
    unequal = expect_returns("class_information for classes of unequal size (three images of class 0, one of class 1)",
                             class_information, torch.tensor([[0.0], [0.0], [1.0], [1.0]]), torch.tensor([0, 0, 0, 1]),
                             2)
    expect_close("class_information of z = [0, 0, 1, 1] (two bins) for labels [0, 0, 0, 1]: "
                 "I(b; y) = H(b) + H(y) - H(b, y) = 0.6931 + 0.5623 - 1.0397", unequal,
                 torch.tensor([math.log(2) + (0.75 * math.log(4 / 3) + 0.25 * math.log(4)) - 1.5 * math.log(2)]),
                 atol=1e-4, hint="p(b, y) is the share of all N images in each (bin, class) cell: the classes need not "
                                 "be equally frequent, and p(y) is each class's share of the N images.")
    skipping = expect_returns("class_information for labels 0 and 3 only (classes 1 and 2 never occur)",
                              class_information, torch.tensor([[0.0], [1.0], [0.3], [0.7]]), torch.tensor([0, 3, 0, 3]),
                              2, hint="a batch need not hold every class: take the number of classes from the largest "
                                      "label, not from how many labels are distinct.")
    expect_close("class_information for labels 0 and 3 only, each with a bin of its own", skipping,
                 torch.tensor([math.log(2)]), atol=1e-5)
    print(PASSED)
