"""Probing a model with a region drawn on an image (Shared Interest, Section 5.3)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..shared_interest import probe


def probe_region(
    saliency_per_class: Callable[[np.ndarray], Any],
    image: np.ndarray,
    boxes: Sequence[tuple[int, int, int, int]],
    *,
    metric: str = "iou",
    threshold: Any = "mean+std",
    class_names: Sequence[str] | dict | None = None,
    top: int = 10,
) -> list[dict]:
    """Classes whose saliency on ``image`` best matches ``boxes`` drawn on it, best first.

    The boxes are ``(x0, y0, x1, y1)`` in the image's pixels; they are rescaled when the
    model's saliency maps have another resolution. Names are left out when their number is
    not the number of probed classes (the label names need not be the probed classes).
    """
    maps = saliency_per_class(image)
    maps = maps.detach().cpu().numpy() if hasattr(maps, "detach") else np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"probe must return (C, H, W) saliency maps; got shape {maps.shape}")
    height, width = image_shape(image)
    region = np.zeros(maps.shape[1:], dtype=bool)
    for x0, y0, x1, y1 in boxes:
        region[_scaled(y0, y1, height, maps.shape[1]), _scaled(x0, x1, width, maps.shape[2])] = True
    if class_names is not None and not isinstance(class_names, dict) and len(class_names) != maps.shape[0]:
        class_names = None
    ranked = probe(
        maps, region, metric=metric, threshold=threshold, region_kind="mask", class_names=class_names, top=top
    )
    return ranked.replace({np.nan: None}).to_dict(orient="records")


def image_shape(image: np.ndarray) -> tuple[int, int]:
    """(height, width) of an image in any of the layouts the gallery accepts."""
    if image.ndim == 3 and image.shape[0] in (1, 3, 4) and image.shape[2] not in (1, 3, 4):
        return int(image.shape[1]), int(image.shape[2])
    return int(image.shape[0]), int(image.shape[1])


def _scaled(start: int, stop: int, size: int, target: int) -> slice:
    """Pixels [start, stop) of an axis of ``size`` as a slice of an axis of ``target``."""
    lo = min(target - 1, start * target // size)
    hi = max(lo + 1, min(target, -(-stop * target // size)))
    return slice(lo, hi)
