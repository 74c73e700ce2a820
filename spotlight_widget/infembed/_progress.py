"""Progress reporting for the long stages: a user callback, a tqdm bar, or nothing."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class InfEmbedProgress:
    """What a progress callback receives.

    Attributes
    ----------
    stage : str
        ``"hessian"`` (Arnoldi iterations, one Hessian-vector product over the Hessian
        sample each), ``"test"`` or ``"train"`` (examples embedded so far).
    done, total : int
        Units finished and expected in this stage.
    """

    stage: str
    done: int
    total: int


ProgressArg = bool | Callable[[InfEmbedProgress], None] | None


class Reporter:
    """Turns ``progress`` (None/False, True for tqdm bars, or a callable) into updates."""

    def __init__(self, progress: ProgressArg) -> None:
        if progress is not None and not isinstance(progress, bool) and not callable(progress):
            raise TypeError(f"progress must be None, a bool or a callable; got {type(progress).__name__}")
        self._callback = progress if callable(progress) else None
        self._bars = progress is True
        self._bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._callback is not None:
            self._callback(InfEmbedProgress(stage, done, total))
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
