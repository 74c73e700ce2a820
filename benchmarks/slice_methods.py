"""What the benchmark suites share about the methods they compare: the ``Method`` record
and hard slices of given rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from spotlight_widget.slices import Slice

MethodFn = Callable[..., list[Any]]


@dataclass(frozen=True)
class Method:
    """A named slice finder and the family it is compared within."""

    name: str
    family: str  # "reference", "baseline", "clustering", "infembed" or "spotlight"
    run: MethodFn


class Rows(Protocol):
    """Anything a method is evaluated on: its row count and per-row losses."""

    @property
    def n_rows(self) -> int: ...

    @property
    def losses(self) -> np.ndarray: ...


def hard_slice(method: str, rows: np.ndarray, data: Rows, rank: int) -> Slice:
    """A slice whose members are exactly ``rows`` (weight 1), with ``data``'s losses."""
    w = np.zeros(data.n_rows)
    w[rows] = 1.0
    return Slice(method, w, data.losses, rank=rank)
