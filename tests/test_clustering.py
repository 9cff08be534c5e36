import itertools
import math

import numpy as np
import pytest
import torch

from vae_helpers.clustering import cluster_accuracy, cluster_scores, matched_classes, mean_and_spread


def brute_force_accuracy(labels, clusters):
    """Best accuracy over every one-to-one map from clusters to labels (small cases only)."""
    cluster_ids, label_ids = sorted(set(clusters)), sorted(set(labels))
    best = 0
    for chosen in itertools.permutations(label_ids + [None] * len(cluster_ids), len(cluster_ids)):
        mapping = dict(zip(cluster_ids, chosen))
        best = max(best, sum(mapping[c] == y for c, y in zip(clusters, labels)))
    return best / len(labels)


def test_a_relabelled_perfect_clustering_scores_one():
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    clusters = torch.tensor([5, 5, 3, 3, 9, 9, 9])  # same partition, other names
    assert cluster_scores(labels, clusters) == pytest.approx({"nmi": 1.0, "accuracy": 1.0})


def test_accuracy_is_the_best_matching_on_random_cases():
    rng = np.random.default_rng(0)
    for n_clusters in (2, 3, 4):
        for _ in range(20):
            labels = rng.integers(0, 3, size=12)
            clusters = rng.integers(0, n_clusters, size=12)
            assert cluster_accuracy(labels, clusters) == pytest.approx(brute_force_accuracy(list(labels), list(clusters)))


def test_a_worked_example():
    # cluster 0 holds three 1s and one 0; cluster 1 holds two 0s and one 2; cluster 2 holds two 2s.
    labels = [1, 1, 1, 0, 0, 0, 2, 2, 2]
    clusters = [0, 0, 0, 0, 1, 1, 1, 2, 2]
    assert cluster_accuracy(labels, clusters) == pytest.approx(7 / 9)


def test_one_cluster_for_everything_scores_zero_nmi_and_the_majority_share():
    labels = torch.tensor([0, 0, 0, 1, 2])
    scores = cluster_scores(labels, torch.zeros(5, dtype=torch.long))
    assert scores["nmi"] == pytest.approx(0.0, abs=1e-12)
    assert scores["accuracy"] == pytest.approx(3 / 5)


def test_nmi_matches_the_definition_on_a_small_case():
    labels = np.array([0, 0, 1, 1])
    clusters = np.array([0, 1, 1, 1])
    # I = sum p(c, y) log p(c, y) / (p(c) p(y)); NMI = I / mean(H(y), H(c)) (arithmetic mean)
    joint = {(0, 0): 0.25, (1, 0): 0.25, (1, 1): 0.5}
    p_c, p_y = {0: 0.25, 1: 0.75}, {0: 0.5, 1: 0.5}
    mutual = sum(p * math.log(p / (p_c[c] * p_y[y])) for (c, y), p in joint.items())
    entropy = lambda p: -sum(v * math.log(v) for v in p.values())  # noqa: E731
    expected = mutual / ((entropy(p_c) + entropy(p_y)) / 2)
    assert cluster_scores(labels, clusters)["nmi"] == pytest.approx(expected)


@pytest.mark.parametrize("labels, clusters, message", [
    ([0, 1, 2], [0, 1], "one entry per example"),
    ([0, 1], [0.2, 0.8], "integer ids"),
    ([], [], "non-empty"),
    ([[0, 1]], [[0, 1]], "1-D"),
])
def test_bad_input_is_refused_with_a_message_that_says_why(labels, clusters, message):
    with pytest.raises(ValueError, match=message):
        cluster_scores(labels, clusters)


def test_matched_classes_maps_each_cluster_to_its_label_and_marks_the_rest():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    clusters = torch.tensor([3, 3, 0, 0, 1, 1])  # cluster 2 is empty
    assert matched_classes(labels, clusters, n_clusters=4).tolist() == [1, 2, -1, 0]


def test_matched_classes_refuses_ids_beyond_the_number_of_clusters():
    with pytest.raises(ValueError, match="ids in 0..2"):
        matched_classes([0, 1], [0, 3], n_clusters=3)


def test_mean_and_spread_over_runs():
    runs = [{"nmi": 0.5, "accuracy": 0.6}, {"nmi": 0.7, "accuracy": 0.6}, {"nmi": 0.6, "accuracy": 0.9}]
    summary = mean_and_spread(runs)
    assert summary["runs"] == 3
    assert summary["nmi"] == pytest.approx(0.6) and summary["nmi spread"] == pytest.approx(0.1)
    assert summary["accuracy"] == pytest.approx(0.7) and summary["accuracy spread"] == pytest.approx(0.17320508)
    assert mean_and_spread(runs[:1])["nmi spread"] == 0.0
    with pytest.raises(ValueError, match="at least one run"):
        mean_and_spread([])
