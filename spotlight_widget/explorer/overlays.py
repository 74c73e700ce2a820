"""Ground truth and saliency painted over thumbnails (Shared Interest's yellow and orange).

The masks are made one example at a time, when its thumbnail is drawn: thresholding every
saliency map up front would hold N x H x W booleans for nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..shared_interest.features import DEFAULT_THRESHOLD, saliency_features

OVERLAYS = ("none", "ground-truth", "saliency", "both")
# Shared Interest's colours: ground truth yellow, saliency orange.
GROUND_TRUTH_RGB = np.array([255, 214, 0], dtype=np.float32)
SALIENCY_RGB = np.array([255, 110, 0], dtype=np.float32)
_ALPHA = 0.5


class Overlays:
    """Per-example ground-truth and saliency masks for painting thumbnails.

    Parameters
    ----------
    ground_truth : array-like, optional
        (N, H, W) boolean (or 0/1) masks of what a person marked as relevant.
    saliency : array-like, optional
        (N, H, W) saliency maps (higher: more important) or boolean feature sets.
    n : int
        Number of examples.
    threshold
        How a saliency map becomes a feature set (``shared_interest``'s ``threshold``).
    """

    def __init__(self, ground_truth: Any, saliency: Any, n: int, *, threshold: Any = DEFAULT_THRESHOLD):
        self.ground_truth = _maps(ground_truth, "ground_truth", n)
        self.saliency = _maps(saliency, "saliency", n)
        if self.ground_truth is not None and self.ground_truth.dtype.kind not in "biu":
            raise TypeError(
                f"ground_truth must be boolean masks (or 0/1 integers); got dtype {self.ground_truth.dtype}"
            )
        if self.ground_truth is not None and self.ground_truth.dtype.kind in "iu":
            if not np.isin(self.ground_truth, (0, 1)).all():
                raise ValueError("ground_truth must hold only 0 and 1 (masks)")
        self.threshold = threshold
        if self.saliency is not None:
            saliency_features(self.saliency[:1], threshold=threshold)  # a bad threshold fails now

    def available(self) -> list[str]:
        """The overlay choices that make sense for this data (always "none" first)."""
        have = [
            name
            for name, maps in (("ground-truth", self.ground_truth), ("saliency", self.saliency))
            if maps is not None
        ]
        return ["none", *have, *(["both"] if len(have) == 2 else [])]

    def paint(self, image: np.ndarray, index: int, overlay: str) -> np.ndarray:
        """An (H, W, 3) uint8 copy of a uint8 image with the chosen masks blended in."""
        if overlay == "none":
            return image
        if overlay not in self.available():
            raise ValueError(f"no {overlay!r} overlay here; choose from {', '.join(self.available())}")
        rgb = _rgb(image).astype(np.float32)
        shape = rgb.shape[:2]
        if overlay in ("ground-truth", "both"):
            rgb = _blend(rgb, _fit_mask(self.ground_truth[index].astype(bool), shape), GROUND_TRUTH_RGB)
        if overlay in ("saliency", "both"):
            chosen = saliency_features(self.saliency[index : index + 1], threshold=self.threshold)[0].numpy()
            rgb = _blend(rgb, _fit_mask(chosen, shape), SALIENCY_RGB)
        return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def _maps(value: Any, name: str, n: int) -> np.ndarray | None:
    if value is None:
        return None
    arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if arr.ndim != 3:
        raise ValueError(f"{name} must be (N, H, W), one map per example; got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} maps but the embeddings have {n} rows")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric or boolean; got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} has NaN or infinite values")
    return arr


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    return image[:, :, :3]


def _fit_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize, for masks made at another resolution than the image."""
    if mask.shape == shape:
        return mask
    rows = np.minimum((np.arange(shape[0]) * mask.shape[0]) // shape[0], mask.shape[0] - 1)
    cols = np.minimum((np.arange(shape[1]) * mask.shape[1]) // shape[1], mask.shape[1] - 1)
    return mask[np.ix_(rows, cols)]


def _blend(rgb: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> np.ndarray:
    out = rgb.copy()
    out[mask] = (1 - _ALPHA) * rgb[mask] + _ALPHA * colour
    return out
