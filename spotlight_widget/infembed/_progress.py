"""Progress reporting for the long stages: a user callback, a tqdm bar, or nothing.

Callbacks receive the package's one progress type, ``SearchProgress``: ``stage`` is
"hessian" (Arnoldi iterations, one Hessian-vector product over the Hessian sample each),
"test" or "train" (examples embedded so far); ``step`` and ``total`` count the units of
that stage; ``objective`` is NaN (there is none).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from ..engine.optimize import SearchProgress

ProgressArg = bool | Callable[[SearchProgress], object] | None
PROGRESS_ARG = [None, bool, callable]
"""Constraint of ``progress`` here: None, True/False (tqdm bars or none), or a callable."""


class Reporter:
    """Turns ``progress`` (None/False, True for tqdm bars, or a callable) into updates."""

    def __init__(self, progress: ProgressArg) -> None:
        self._callback = progress if callable(progress) else None
        self._bars = progress is True
        self._bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._callback is not None:
            self._callback(SearchProgress(step=done, total=total, objective=float("nan"), stage=stage))
        if self._bars:
            from tqdm.auto import tqdm

            if self._bar is None or self._bar.desc != stage:
                self.close()
                self._bar = tqdm(total=total, desc=stage, file=sys.stderr, dynamic_ncols=True)
            self._bar.update(done - self._bar.n)

    def stage(self, name: str) -> Callable[[int, int], None]:
        """A ``(done, total)`` callback for one stage."""
        return lambda done, total: self(name, done, total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
