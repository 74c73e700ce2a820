"""Helpers shared by the projection methods: progress, cancellation and the rows a model is fitted on."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..engine.optimize import ProgressFn, SearchCancelled, SearchProgress


def check_cancel(cancel: Any, method: str) -> None:
    """Raise ``SearchCancelled`` when ``cancel`` (an Event-like object or a callable) says to stop."""
    if cancel is not None and (cancel.is_set() if hasattr(cancel, "is_set") else cancel()):
        raise SearchCancelled(f"{method} cancelled")


def sample_rows(n_rows: int, fit_rows: int | None, seed: int) -> torch.Tensor | None:
    """Sorted indices of ``fit_rows`` rows drawn without replacement; None when every row is used."""
    if fit_rows is None or fit_rows >= n_rows:
        return None
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.sort(rng.choice(n_rows, size=fit_rows, replace=False)))


def report(progress: ProgressFn | None, stage: str, step: int, total: int) -> None:
    """Send ``SearchProgress`` for a method without an objective to report (NaN)."""
    if progress is not None:
        progress(SearchProgress(step=step, total=total, objective=math.nan, stage=stage))
