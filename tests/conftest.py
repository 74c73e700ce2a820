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


def precision(spotlight, rows) -> float:
    """Share of the spotlight's top-S set that lies in ``rows``."""
    return float(np.isin(spotlight.top_indices, rows).mean())
