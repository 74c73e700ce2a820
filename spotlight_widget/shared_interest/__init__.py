"""Shared Interest (Boggust, Hoover, Satyanarayan and Strobelt, CHI 2022).

How a model's salient features meet human annotations: the IoU, ground-truth coverage and
saliency coverage of each example, the eight behaviour patterns they combine into with
correctness, saliency helpers for torch models, and probing a model with a drawn region.

Modules, one job each: ``features`` (saliency and annotations into boolean feature sets),
``metrics`` (Eq. 1-3), ``patterns`` (the decision table), ``saliency`` (gradients and
integrated gradients), ``probe`` (Section 5.3).
"""

from .features import boxes_to_masks, ground_truth_features, saliency_features, tokens_to_masks
from .metrics import METRICS, coverage, shared_interest
from .patterns import CORRECT_PATTERNS, INCORRECT_PATTERNS, PATTERNS, behaviour_patterns, correct_within
from .probe import probe, saliency_per_class
from .saliency import integrated_gradients, vanilla_gradients

__all__ = [
    "CORRECT_PATTERNS",
    "INCORRECT_PATTERNS",
    "METRICS",
    "PATTERNS",
    "behaviour_patterns",
    "boxes_to_masks",
    "correct_within",
    "coverage",
    "ground_truth_features",
    "integrated_gradients",
    "probe",
    "saliency_features",
    "saliency_per_class",
    "shared_interest",
    "tokens_to_masks",
    "vanilla_gradients",
]
