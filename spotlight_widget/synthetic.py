"""Synthetic data with a known failure, for tests, benchmarks and first experiments."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from ._params import SEED, Interval, validate_params

_POSITIVE = [Interval(Integral, 1, None, closed="left")]


@dataclass(frozen=True)
class PlantedData:
    """Embeddings and losses with planted high-loss clusters.

    Attributes
    ----------
    embeddings : numpy.ndarray
        (N, d) float32 points of a Gaussian mixture.
    losses : numpy.ndarray
        (N,) cross-entropy-like losses: small for most points, large (heavy-tailed, up to
        about 20) inside the planted clusters and for a few scattered points.
    planted : list of numpy.ndarray
        Row indices of each planted cluster.
    cluster : numpy.ndarray
        (N,) mixture component of each row.
    """

    embeddings: np.ndarray
    losses: np.ndarray
    planted: list[np.ndarray]
    cluster: np.ndarray


@validate_params(
    {
        "n_rows": _POSITIVE,
        "dim": _POSITIVE,
        "n_clusters": _POSITIVE,
        "noise_fraction": [Interval(Real, 0, 1, closed="both")],
        "separation": [Interval(Real, 0, None, closed="left")],
        "intrinsic_dim": [None, *_POSITIVE],
        "seed": SEED,
        "n": [None, *_POSITIVE],
    }
)
def planted_clusters(
    n_rows: int = 10_000,
    dim: int = 512,
    *,
    fractions: tuple[float, ...] = (0.02,),
    n_clusters: int = 50,
    noise_fraction: float = 0.03,
    separation: float = 1.5,
    intrinsic_dim: int | None = 32,
    seed: int = 0,
    n: int | None = None,
) -> PlantedData:
    """A Gaussian mixture in which some components are where the model fails.

    Parameters
    ----------
    n_rows, dim : int
        Number of points and their dimension.
    fractions : tuple of float
        Size of each planted high-loss cluster as a fraction of ``n_rows``.
    n_clusters : int
        Number of ordinary mixture components besides the planted ones.
    noise_fraction : float
        Share of points elsewhere that also get high losses (incoherent errors that a
        slice finder should not chase).
    separation : float
        Distance between component centres in units of their spread.
    intrinsic_dim : int or None
        The mixture lives in a subspace of this dimension, embedded linearly in ``dim``
        dimensions with a little isotropic noise, as real embeddings concentrate near a
        low-dimensional set. None: the mixture fills all ``dim`` dimensions.
    seed : int
        Seed of the random generator.
    n : int, optional
        Deprecated name of ``n_rows`` (in this package ``n`` counts results, never rows).
    """
    if n is not None:
        warnings.warn(
            "planted_clusters(n=...) is deprecated: pass n_rows=... (n counts results in this package)",
            FutureWarning,
            stacklevel=3,
        )
        n_rows = n
    rng = np.random.default_rng(seed)
    n_planted = [max(1, round(f * n_rows)) for f in fractions]
    n_rest = n_rows - sum(n_planted)
    if n_rest < n_clusters:
        raise ValueError(
            f"planted_clusters: n_rows ({n_rows}) is too small for {n_clusters} clusters besides "
            f"the planted ones ({sum(n_planted)} rows)"
        )
    k = n_clusters + len(n_planted)
    m = dim if intrinsic_dim is None else min(intrinsic_dim, dim)
    centers = rng.normal(size=(k, m)) * separation
    rest_assign = rng.integers(0, n_clusters, size=n_rest)
    assign = np.concatenate([rest_assign] + [np.full(c, n_clusters + j) for j, c in enumerate(n_planted)])
    assign = assign[rng.permutation(n_rows)]
    z = centers[assign] + rng.normal(size=(n_rows, m))
    if m == dim:
        x = z
    else:
        basis = rng.normal(size=(m, dim)) / np.sqrt(m)
        x = z @ basis + 0.1 * rng.normal(size=(n_rows, dim))
    # Most examples are confidently right; losses of wrong ones reach cross-entropy 5-20.
    p_right = rng.beta(8, 1, size=n_rows)
    losses = -np.log(p_right)
    noise = rng.random(n_rows) < noise_fraction
    planted = [np.flatnonzero(assign == n_clusters + j) for j in range(len(n_planted))]
    bad = noise.copy()
    for rows in planted:
        bad[rows] = rng.random(rows.size) < 0.85
    losses[bad] = rng.exponential(4.0, size=int(bad.sum())) + 1.0
    losses = np.minimum(losses, 20.0)
    return PlantedData(x.astype(np.float32), losses.astype(np.float32), planted, assign)
