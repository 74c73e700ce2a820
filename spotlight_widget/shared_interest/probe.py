"""Probing a model with a user-drawn region (Boggust et al., CHI 2022, Section 5.3).

Instead of one saliency map for the predicted class, take one per class; the user's region
plays the ground truth, and the classes whose salient features best match it answer the
question "what does the model see here?".
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch

from .features import (
    DEFAULT_THRESHOLD,
    GroundTruthKind,
    Threshold,
    _as_saliency_tensor,
    _shape_probe,
    ground_truth_features,
    input_device,
    saliency_features,
)
from .metrics import METRICS, coverage
from .saliency import integrated_gradients, vanilla_gradients

Method = Literal["gradients", "integrated_gradients"]


def saliency_per_class(
    model: Callable[[torch.Tensor], torch.Tensor],
    image: Any,
    *,
    classes: Any = None,
    method: Method = "gradients",
    **options: Any,
) -> torch.Tensor:
    """Saliency of one input for every class: the maps that :func:`probe` ranks.

    Parameters
    ----------
    model : callable
        Maps a batch to (N, K) class scores.
    image : array-like
        One input without the batch axis, e.g. (C, H, W) or (L, D).
    classes : array-like of int, optional
        The classes to explain, in order; default all K.
    method : {"gradients", "integrated_gradients"}, default "gradients"
        :func:`vanilla_gradients` (as in the paper's probing study) or
        :func:`integrated_gradients`.
    **options
        Passed on to the saliency function (``reduce``, ``channel_dim``, ``steps``, ...).

    Returns
    -------
    torch.Tensor
        (len(classes), H, W) or (len(classes), L) saliency maps.
    """
    if method not in ("gradients", "integrated_gradients"):
        raise ValueError(f"method must be 'gradients' or 'integrated_gradients'; got {method!r}")
    x = image.detach() if isinstance(image, torch.Tensor) else torch.as_tensor(np.asarray(image))
    if classes is None:
        probe_input = x[None].to(torch.float32) if not x.is_floating_point() else x[None]
        if isinstance(model, torch.nn.Module):
            parameter = next(model.parameters(), None)
            if parameter is not None:
                probe_input = probe_input.to(device=parameter.device, dtype=parameter.dtype)
        with torch.no_grad():
            outputs = model(probe_input)
        if outputs.ndim != 2 or outputs.shape[1] < 2:
            raise ValueError(f"probing needs a classifier with (N, K) outputs, K >= 2; got {tuple(outputs.shape)}")
        classes = torch.arange(outputs.shape[1])
    classes = torch.as_tensor(np.asarray(classes) if not isinstance(classes, torch.Tensor) else classes)
    batch = x[None].expand(classes.shape[0], *x.shape)
    saliency = vanilla_gradients if method == "gradients" else integrated_gradients
    return saliency(model, batch, classes, **options)


def _class_names(class_names: Any, n_classes: int) -> list[str]:
    if class_names is None:
        return [str(c) for c in range(n_classes)]
    if isinstance(class_names, Mapping):
        return [str(class_names.get(c, c)) for c in range(n_classes)]
    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, Sequence | np.ndarray | pd.Index):
        raise TypeError(f"class_names must be a sequence or a mapping of class index to name; got {class_names!r}")
    names = list(class_names)
    if len(names) != n_classes:
        raise ValueError(f"class_names has {len(names)} entries but the saliency has {n_classes} classes")
    return [str(n) for n in names]


def probe(
    saliency_by_class: Any,
    region: Any,
    *,
    image: Any = None,
    metric: str = "iou",
    threshold: Threshold = DEFAULT_THRESHOLD,
    region_kind: GroundTruthKind = "auto",
    class_names: Any = None,
    top: int | None = None,
    device: str | torch.device | None = None,
) -> pd.DataFrame:
    """Rank classes by how well their saliency matches a region of one input.

    Parameters
    ----------
    saliency_by_class : array-like or callable
        (C, H, W) saliency maps (or (C, L) token scores), one per class; or a callable
        ``image -> (C, H, W)``, e.g. ``lambda im: saliency_per_class(model, im)``, called
        once with ``image``. Boolean maps are taken as feature sets.
    region : array-like or sequence
        The user's region: an (H, W) (or (L,)) boolean mask, a box ``(x0, y0, x1, y1)``
        (half-open pixels), a (k, 4) array of boxes, or token indices for sequences.
        Must not be empty.
    image : array-like, optional
        The input, required when ``saliency_by_class`` is a callable.
    metric : {"iou", "gtc", "sc"}, default "iou"
        The Shared Interest score to rank by; ties go to the higher IoU, then the lower
        class index.
    threshold : str, float or tuple, default "mean+std"
        How each class's map becomes a feature set (see :func:`shared_interest`).
    region_kind : {"auto", "mask", "boxes", "tokens"}, default "auto"
        What ``region`` is; "auto" takes an array of the map's shape for a mask.
    class_names : sequence or mapping, optional
        Names of the C classes, any strings (kept as plain data); default the indices.
    top : int, optional
        Keep only the best ``top`` classes.
    device : str or torch.device, optional
        Where to compute; default: the saliency's device if it is a tensor, else the CPU.

    Returns
    -------
    pandas.DataFrame
        One row per class, best first, index 0..: ``class`` (index), ``name``, ``iou``,
        ``gtc``, ``sc``, ``n_saliency``, ``n_ground_truth``, ``n_shared``.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}; got {metric!r}")
    if top is not None and (isinstance(top, bool) or not isinstance(top, numbers.Integral) or top < 1):
        raise ValueError(f"top must be a positive integer or None; got {top!r}")
    if callable(saliency_by_class):
        if image is None:
            raise TypeError("saliency_by_class is a callable: pass the input as image=")
        saliency_by_class = saliency_by_class(image)
    dev = input_device(device, saliency_by_class)
    maps = _as_saliency_tensor(saliency_by_class, dev, "saliency_by_class")
    shape = tuple(maps.shape)
    one = (1, *shape[1:])
    single = tuple(np.shape(_shape_probe(region))) == shape[1:]
    if region_kind == "mask" or (region_kind == "auto" and single):
        region = _shape_probe(region)[None] if not isinstance(region, torch.Tensor) else region[None]
    elif region_kind in ("auto", "boxes", "tokens"):
        region = [region]
    g = ground_truth_features(region, one, kind=region_kind, device=dev)
    if not bool(g.any()):
        raise ValueError("the region is empty: select at least one pixel or token")
    s = saliency_features(maps, threshold=threshold, device=dev)
    values = coverage(s, g.expand(shape))
    frame = pd.DataFrame({name: v.cpu().numpy() for name, v in values.items()})
    frame.insert(0, "class", np.arange(shape[0]))
    frame.insert(1, "name", _class_names(class_names, shape[0]))
    frame = frame.sort_values([metric, "iou", "class"], ascending=[False, False, True], kind="stable")
    if top is not None:
        frame = frame.head(top)
    return frame.reset_index(drop=True)
