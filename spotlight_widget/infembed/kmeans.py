"""K-means on influence embeddings with centroids normalised at every iteration.

The paper (Section 3.3) finds it helpful to normalise the centroids in each K-means
iteration. With unit-norm centroids ``c_k`` the squared distance is
``||mu||^2 - 2 mu . c_k + 1``, so each example joins the centroid it has the largest dot
product with: the influence-like similarity of Eq. 3, in which an outlier of large norm
can no longer pull a centroid (and its cluster) towards itself. Each step (assign, then
``c_k = sum of members / its norm``) cannot decrease ``sum_i mu_i . c_{r_i}``, so the
iteration converges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class Clustering:
    """Result of :func:`normalized_kmeans`.

    Attributes
    ----------
    labels : numpy.ndarray
        (N,) cluster of each example, in [0, k).
    centroids : numpy.ndarray
        (k, D) unit-norm centroids (Euclidean means when ``normalize=False``).
    objective : float
        ``sum_i mu_i . c_{label_i}`` (normalised) or minus the within-cluster sum of
        squares (plain K-means): higher is better.
    n_iter : int
        Iterations of the best start.
    """

    labels: np.ndarray
    centroids: np.ndarray
    objective: float
    n_iter: int


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norm > 0, norm, 1.0)


def _plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (D^2 sampling) in the embeddings' Euclidean geometry."""
    n = x.shape[0]
    chosen = [int(rng.integers(n))]
    d2 = ((x - x[chosen[0]]) ** 2).sum(1)
    for _ in range(1, k):
        total = d2.sum()
        nxt = int(rng.choice(n, p=d2 / total)) if total > 0 else int(rng.integers(n))
        chosen.append(nxt)
        d2 = np.minimum(d2, ((x - x[nxt]) ** 2).sum(1))
    return x[chosen]


def _one_run(x: np.ndarray, k: int, rng: np.random.Generator, max_iter: int) -> Clustering:
    centroids = _unit(_plus_plus(x, k, rng))
    labels = np.full(x.shape[0], -1)
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        new = (x @ centroids.T).argmax(1)
        if np.array_equal(new, labels):
            break
        labels = new
        members = sparse.csr_matrix((np.ones(x.shape[0]), (labels, np.arange(x.shape[0]))), shape=(k, x.shape[0]))
        sums = np.asarray(members @ x)
        dead = np.flatnonzero(np.linalg.norm(sums, axis=1) == 0)
        if dead.size:
            # An empty cluster (or one whose members cancel out) restarts at the examples
            # its current centroids fit worst.
            fit = np.einsum("ij,ij->i", x, centroids[labels])
            worst = np.argsort(fit)[: dead.size]
            sums[dead] = x[worst]
        centroids = _unit(sums)
    scores = x @ centroids.T
    labels = scores.argmax(1)
    return Clustering(labels, centroids, float(scores[np.arange(x.shape[0]), labels].sum()), n_iter)


def normalized_kmeans(
    x: np.ndarray, k: int, *, n_init: int = 3, max_iter: int = 100, seed: int = 0, normalize: bool = True
) -> Clustering:
    """Cluster rows of ``x`` into ``k`` groups, keeping the best of ``n_init`` starts.

    Parameters
    ----------
    x : numpy.ndarray
        (N, D) checked, finite float64 embeddings, N >= k.
    k : int
        Number of clusters.
    n_init : int
        Independent k-means++ starts.
    max_iter : int
        Iterations per start at most.
    seed : int
        Seeds the starts.
    normalize : bool
        Normalise the centroids every iteration (the paper's recommendation, default);
        False runs scikit-learn's ordinary K-means.

    Returns
    -------
    Clustering
    """
    if not normalize:
        from sklearn.cluster import KMeans

        model = KMeans(n_clusters=k, n_init=n_init, max_iter=max_iter, random_state=seed).fit(x)
        return Clustering(model.labels_, model.cluster_centers_, -float(model.inertia_), int(model.n_iter_))
    rng = np.random.default_rng(seed)
    runs = [_one_run(x, k, rng, max_iter) for _ in range(n_init)]
    return max(runs, key=lambda r: r.objective)
