"""Two models on the same examples: what ``SpotlightExplorer.compare`` explores.

The explorer searches the per-example loss *difference*: regions where the new model is
worse than the old one (``direction="worse"``: new - old) or better (old - new). Both
models' own losses and predictions stay at hand for the gallery, the breakdown, the
captions and the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DIRECTIONS = ("worse", "better")


@dataclass(frozen=True, eq=False)
class Comparison:
    """Two models' per-example losses (and predictions) and the direction searched.

    Attributes
    ----------
    names : tuple of str
        Display names of the old and the new model.
    losses_old, losses_new : numpy.ndarray
        (N,) float64 per-example losses of each model.
    predictions_old, predictions_new : numpy.ndarray or None
        (N,) predictions of each model, when given.
    direction : {"worse", "better"}
        "worse": the explorer searches where the new model's loss exceeds the old one's.
    """

    names: tuple[str, str]
    losses_old: np.ndarray
    losses_new: np.ndarray
    predictions_old: np.ndarray | None
    predictions_new: np.ndarray | None
    direction: str = "worse"

    @property
    def searched(self) -> np.ndarray:
        """The signed losses the explorer searches: new - old for "worse", old - new for "better"."""
        difference = self.losses_new - self.losses_old
        return difference if self.direction == "worse" else -difference

    def mean_losses(self, members: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float]:
        """Both models' (weighted) mean loss over ``members``."""
        w = None if weights is None else weights[members]
        return (
            float(np.average(self.losses_old[members], weights=w)),
            float(np.average(self.losses_new[members], weights=w)),
        )
