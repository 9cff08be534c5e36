"""How well a clustering recovers the true classes: NMI and accuracy under the best matching; and two tools of
the categorical codes of 05_categorical_clustering, a straight-through one-hot sample and the entropy of q(c | x)."""
import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import normalized_mutual_info_score


def _as_ids(name: str, values) -> np.ndarray:
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D sequence of ids, got shape {array.shape}.")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name}: expected integer ids, got dtype {array.dtype}. "
                         "Pass cluster indices (e.g. logits.argmax(1)), not scores or probabilities.")
    return array


def _best_matching(labels: np.ndarray, clusters: np.ndarray):
    """Cluster-by-label counts, and the one-to-one (cluster, label) pairs that cover the most examples."""
    if len(labels) != len(clusters):
        raise ValueError(f"labels and clusters must have one entry per example, got {len(labels)} and {len(clusters)}.")
    label_values, label_index = np.unique(labels, return_inverse=True)
    cluster_values, cluster_index = np.unique(clusters, return_inverse=True)
    counts = np.zeros((len(cluster_values), len(label_values)), dtype=np.int64)
    np.add.at(counts, (cluster_index, label_index), 1)
    rows, columns = linear_sum_assignment(counts, maximize=True)
    return counts[rows, columns].sum(), cluster_values[rows], label_values[columns]


def cluster_accuracy(labels, clusters) -> float:
    """Fraction of examples whose cluster maps to their label, under the best one-to-one map.

    The map is found with the Hungarian algorithm on the cluster-by-label counts; when there
    are more clusters than labels, the unmatched clusters count as errors.
    """
    labels, clusters = _as_ids("labels", labels), _as_ids("clusters", clusters)
    covered, _, _ = _best_matching(labels, clusters)
    return float(covered / len(labels))


def matched_classes(labels, clusters, n_clusters: int) -> torch.Tensor:
    """The label each cluster id 0..n_clusters-1 is matched to by ``cluster_accuracy``; -1 if none."""
    labels, clusters = _as_ids("labels", labels), _as_ids("clusters", clusters)
    if clusters.min() < 0 or clusters.max() >= n_clusters:
        raise ValueError(f"clusters: expected ids in 0..{n_clusters - 1}, got {clusters.min()}..{clusters.max()}.")
    _, cluster_ids, label_ids = _best_matching(labels, clusters)
    matched = torch.full((n_clusters,), -1, dtype=torch.long)
    matched[torch.as_tensor(cluster_ids, dtype=torch.long)] = torch.as_tensor(label_ids, dtype=torch.long)
    return matched


def cluster_scores(labels, clusters) -> dict:
    """``{"nmi": ..., "accuracy": ...}`` of cluster ids against true labels (tensors or arrays)."""
    labels, clusters = _as_ids("labels", labels), _as_ids("clusters", clusters)
    accuracy = cluster_accuracy(labels, clusters)  # first: it also checks that the lengths match
    return {"nmi": float(normalized_mutual_info_score(labels, clusters)), "accuracy": accuracy}


def mean_and_spread(runs: list) -> dict:
    """Scores of several runs (``cluster_scores`` dicts) as their mean and standard deviation.

    Returns ``{"nmi", "nmi spread", "accuracy", "accuracy spread", "runs"}``; the spread is the
    sample standard deviation, 0 for a single run.
    """
    if not runs:
        raise ValueError("mean_and_spread: expected the scores of at least one run, got none.")
    summary = {"runs": len(runs)}
    for measure in ("nmi", "accuracy"):
        values = np.array([run[measure] for run in runs], dtype=float)
        summary[measure] = float(values.mean())
        summary[f"{measure} spread"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return summary


def straight_through_one_hot(c: torch.Tensor) -> torch.Tensor:
    """Relaxed samples ``c`` (..., K) -> the exact one-hot vector of each sample's largest entry, whose gradient
    is that of ``c`` (the straight-through estimator of Bengio et al., 2013)."""
    hard = torch.nn.functional.one_hot(c.argmax(-1), c.shape[-1]).to(c.dtype)
    return hard - c.detach() + c


def categorical_entropy(logits: torch.Tensor) -> torch.Tensor:
    """The entropy in nats of the categorical distribution of each row of ``logits`` (..., K), shape (...)."""
    return torch.distributions.Categorical(logits=logits).entropy()
