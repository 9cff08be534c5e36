"""Hidden tests of 05_beta_vae: the KL weight's warm-up and the information a code's dimensions hold about the
class."""
import math

import torch
from sklearn.metrics import mutual_info_score

from vae_helpers.checks import expect_close, expect_number, expect_shape, expect_value_error
from vae_helpers.exercises import beta_vae as checks


def test_kl_weight(kl_weight):
    cases = [((0, 10, 4.0), 0.0), ((3, 10, 4.0), 1.2), ((10, 10, 4.0), 4.0), ((25, 10, 4.0), 4.0),
             ((7, 7, 0.5), 0.5), ((1, 3, 1.0), 1 / 3), ((0, 0, 2.5), 2.5), ((9, 0, 2.5), 2.5)]
    for (step, warmup_steps, beta), expected in cases:
        got = kl_weight(step, warmup_steps, beta)
        expect_number(f"kl_weight(step={step}, warmup_steps={warmup_steps}, beta={beta})", got, expected,
                      atol=checks.WEIGHT_TOLERANCE)
    for bad, what in (((-1, 10, 1.0), ("step",)), ((3, -5, 1.0), ("warmup_steps",)),
                      ((-2, -2, 1.0), ("step", "warmup_steps"))):
        expect_value_error(f"kl_weight{bad}", kl_weight, *bad, why=f"a negative {' and '.join(what)}", naming=what)


def grid_codes(n, labels, n_bins, strength, g):
    """Codes whose bins are known: each value within 0.2 of a bin's centre, with the extremes 0 and n_bins
    added as two more images, so that bin k is [k, k + 1) whatever the binning code. Column j follows the
    class (its bin is labels % n_bins) for a share strength[j] of the images, drawn from the generator g."""
    columns, bins = [], []
    for s in strength:
        follows = torch.rand(n, generator=g) < s
        b = torch.where(follows, labels % n_bins, torch.randint(n_bins, (n,), generator=g))
        bins.append(b)
        columns.append(b + 0.5 + 0.4 * (torch.rand(n, generator=g) - 0.5))
    z = torch.cat([torch.stack(columns, 1), torch.zeros(1, len(strength)), torch.full((1, len(strength)), float(n_bins))])
    bins = torch.cat([torch.stack(bins, 1), torch.zeros(1, len(strength), dtype=torch.long),
                      torch.full((1, len(strength)), n_bins - 1)])
    return z, bins


def test_class_information(class_information):
    g = torch.Generator().manual_seed(2025)
    labels = torch.randint(10, (3000,), generator=g)
    z, bins = grid_codes(3000, labels, 7, (0.0, 0.3, 0.7, 1.0), g)
    all_labels = torch.cat([labels, torch.tensor([0, 1])])
    expected = torch.tensor([mutual_info_score(all_labels.numpy(), bins[:, j].numpy()) for j in range(4)],
                            dtype=torch.float32)
    got = class_information(z, all_labels, 7)
    expect_shape("one value per dimension", got, (4,))
    expect_close("I(b; y) of codes whose bins follow the class to different degrees (scikit-learn's "
                 "mutual_info_score of the same bins)", got, expected, atol=1e-4, rtol=1e-4)
    expect_close("the same codes in float64", class_information(z.double(), all_labels, 7), expected.double(),
                 atol=1e-4, rtol=1e-4)
    expect_close("one bin tells nothing", class_information(z, all_labels, 1), torch.zeros(4), atol=1e-6)
    expect_close("a constant dimension, three classes",
                 class_information(torch.full((6, 1), 2.5), torch.tensor([0, 1, 2, 0, 1, 2]), 5),
                 torch.zeros(1), atol=1e-6)
    few = torch.tensor([0, 5, 5, 0, 5, 0])  # classes 1 to 4 never occur: K = 6 from labels.max()
    expect_close("labels that skip classes",
                 class_information(torch.tensor([[0.0], [1.0], [1.0], [0.1], [0.9], [0.2]]), few, 2),
                 torch.tensor([math.log(2)]), atol=1e-5)
