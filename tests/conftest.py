import numpy as np
import pytest

from spotlight_widget.synthetic import planted_clusters


@pytest.fixture(scope="session")
def planted():
    """3,000 points in 64-d with one planted 2 % high-loss cluster and heavy-tailed losses."""
    return planted_clusters(n_rows=3000, dim=64, fractions=(0.02,), n_clusters=20, seed=1)


@pytest.fixture(scope="session")
def two_planted():
    """Two planted high-loss clusters (3 % and 2 %)."""
    return planted_clusters(n_rows=3000, dim=64, fractions=(0.03, 0.02), n_clusters=20, seed=2)


@pytest.fixture(scope="session")
def small_and_large_failures():
    """A small (40) and a large (240, four times S = 60) failure in 8-d, far apart, plus 150
    scattered errors: (embeddings, losses, [small rows, large rows], scattered rows)."""
    rng = np.random.default_rng(0)
    n = 3000
    x = rng.normal(size=(n, 8)).astype(np.float32)
    x[:40] += 6.0
    x[40:280] -= 6.0 * np.eye(8, dtype=np.float32)[0]
    losses = rng.gamma(1.0, 0.1, size=n)
    losses[:40] += 3.0
    losses[40:280] += 3.0
    noise = rng.choice(np.arange(280, n), size=150, replace=False)
    losses[noise] += 3.0
    return x, losses, [np.arange(40), np.arange(40, 280)], noise


def cover(found, group) -> float:
    """Share of ``group`` held by the results whose top members are at least 80 % ``group``."""
    pure = [f.top_indices for f in found if np.isin(f.top_indices, group).mean() >= 0.8]
    return float(np.isin(group, np.concatenate(pure)).mean()) if pure else 0.0


def precision(spotlight, rows) -> float:
    """Share of the spotlight's top-S set that lies in ``rows``."""
    return float(np.isin(spotlight.top_indices, rows).mean())
