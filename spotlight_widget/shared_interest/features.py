"""Discrete feature sets: saliency maps thresholded into S, annotations turned into G.

Both sets are boolean tensors of the saliency's shape, (N, H, W) for images or (N, L) for
token sequences, so the metrics are elementwise logic and sums. The explorer draws the same
tensors as its overlays, which is why these functions are public.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch

from .._inputs import _as_array_or_tensor, _check_dtype, _nonfinite_message

Threshold = str | float | tuple[str, float]
GroundTruthKind = Literal["auto", "mask", "boxes", "tokens"]

DEFAULT_THRESHOLD = "mean+std"


def input_device(device: str | torch.device | None, value: Any) -> torch.device:
    """``device`` if given, else the device of ``value`` when it is a tensor, else the CPU."""
    if device is not None:
        return torch.device(device)
    if isinstance(value, torch.Tensor):
        return value.device
    return torch.device("cpu")


def _as_saliency_tensor(saliency: Any, device: torch.device, name: str) -> torch.Tensor:
    if saliency is None:
        raise TypeError(f"{name} is required; got None")
    arr = _as_array_or_tensor(saliency, name)
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"{name} must be (N, H, W) for images or (N, L) for token sequences; got shape {tuple(arr.shape)}"
        )
    if arr.shape[0] == 0 or math.prod(arr.shape[1:]) == 0:
        raise ValueError(f"{name} is empty: shape {tuple(arr.shape)}")
    if isinstance(arr, torch.Tensor):
        if arr.dtype == torch.bool:
            return arr.to(device)
        _check_dtype(arr, name)
        t = arr.to(device=device, dtype=torch.float64 if arr.dtype == torch.float64 else torch.float32)
    else:
        if arr.dtype.kind == "b":
            return torch.from_numpy(np.ascontiguousarray(arr)).to(device)
        _check_dtype(arr, name)
        arr = np.ascontiguousarray(arr, dtype=np.float64 if arr.dtype == np.float64 else np.float32)
        t = torch.from_numpy(arr).to(device)
    message = _nonfinite_message(name, t)
    if message is not None:
        raise ValueError(message)
    return t


def _parse_threshold(threshold: Threshold) -> tuple[str, float]:
    if isinstance(threshold, str):
        if threshold == "mean+std":
            return "std", 1.0
        raise ValueError(f"threshold must be 'mean+std', a number, ('std', k) or ('top', n); got {threshold!r}")
    if isinstance(threshold, numbers.Real) and not isinstance(threshold, bool):
        value = float(threshold)
        if not math.isfinite(value):
            raise ValueError(f"threshold must be finite; got {threshold}")
        return "value", value
    if isinstance(threshold, tuple) and len(threshold) == 2 and isinstance(threshold[0], str):
        kind, amount = threshold
        if isinstance(amount, bool) or not isinstance(amount, numbers.Real) or not math.isfinite(amount):
            raise ValueError(f"threshold {threshold!r}: the amount must be a finite number")
        if kind == "std":
            return "std", float(amount)
        if kind == "top":
            if isinstance(amount, numbers.Integral):
                if amount < 1:
                    raise ValueError(f"threshold ('top', n) needs n >= 1; got {amount}")
                return "top_n", float(amount)
            if not 0 < amount <= 1:
                raise ValueError(
                    f"threshold ('top', x): an int is a number of features, a float a fraction in (0, 1]; got {amount}"
                )
            return "top_fraction", float(amount)
        raise ValueError(f"threshold kind must be 'std' or 'top'; got {kind!r}")
    raise TypeError(f"threshold must be 'mean+std', a number, ('std', k) or ('top', n); got {threshold!r}")


def _top_ranks(scores: torch.Tensor) -> torch.Tensor:
    # A stable sort breaks ties by feature position, so equal scores give reproducible sets.
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    positions = torch.arange(scores.shape[1], device=scores.device).expand_as(order)
    return ranks.scatter_(1, order, positions)


def saliency_features(
    saliency: Any,
    *,
    threshold: Threshold = DEFAULT_THRESHOLD,
    valid: Any = None,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Threshold continuous saliency into the feature set S of each example.

    Parameters
    ----------
    saliency : array-like
        (N, H, W) maps or (N, L) token scores: higher means more important. A boolean array
        is already a feature set and is returned as is (``threshold`` does not apply).
    threshold : str, float or tuple, default "mean+std"
        How scores become a set; every rule is applied to each example separately.

        - ``"mean+std"``: scores strictly above the example's mean plus one standard
          deviation (population std), the paper's rule for vanilla gradients.
        - ``("std", k)``: strictly above mean + k standard deviations.
        - a number ``t``: scores strictly above ``t``.
        - ``("top", n)`` with an int ``n``: the n highest scores (all of them if fewer);
          ``("top", f)`` with a float ``f`` in (0, 1]: the ``ceil(f * F)`` highest of the F
          features. Ties go to the earlier feature (row-major order).

        A constant map has no score above its mean plus std, so its set is empty.
    valid : array-like of bool, optional
        Same shape as ``saliency``: features that exist (e.g. not padding in a batch of
        token sequences). Invalid features never enter S and are left out of the mean, the
        standard deviation and F.
    device : str or torch.device, optional
        Where to compute; default: the device of ``saliency`` if it is a tensor, else the CPU.

    Returns
    -------
    torch.Tensor
        Boolean tensor of the saliency's shape.
    """
    dev = input_device(device, saliency)
    scores = _as_saliency_tensor(saliency, dev, "saliency")
    mask = None if valid is None else as_mask(valid, "valid", shape=tuple(scores.shape), device=dev)
    if scores.dtype == torch.bool:
        return scores if mask is None else scores & mask
    kind, amount = _parse_threshold(threshold)
    flat = scores.reshape(scores.shape[0], -1)
    keep = torch.ones_like(flat, dtype=torch.bool) if mask is None else mask.reshape(flat.shape)
    if kind == "value":
        chosen = flat > amount
    elif kind == "std":
        n = keep.sum(1, keepdim=True).clamp_min(1)
        kept = torch.where(keep, flat, torch.zeros_like(flat))
        mean = kept.sum(1, keepdim=True) / n
        var = torch.where(keep, (flat - mean) ** 2, torch.zeros_like(flat)).sum(1, keepdim=True) / n
        cut = mean + amount * var.sqrt()
        chosen = flat > cut
        # A constant map's cut equals its values up to rounding; compare exactly instead.
        chosen &= var > 0
    else:
        ranks = _top_ranks(torch.where(keep, flat, torch.full_like(flat, -math.inf)))
        if kind == "top_n":
            chosen = ranks < amount
        else:
            k = torch.ceil(amount * keep.sum(1, keepdim=True).to(flat.dtype))
            chosen = ranks < k
    return (chosen & keep).reshape(scores.shape)


def as_mask(value: Any, name: str, *, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """A boolean mask of exactly ``shape``; 0/1 integers are accepted, anything else is refused."""
    if value is None:
        raise TypeError(f"{name} is required; got None")
    arr = _as_array_or_tensor(value, name)
    if tuple(arr.shape) != shape:
        raise ValueError(f"{name} must have the saliency's shape {shape}; got {tuple(arr.shape)}")
    if not isinstance(arr, torch.Tensor):
        if arr.dtype.kind not in "biu":
            raise TypeError(f"{name} must be a boolean mask (or 0/1 integers); got dtype {arr.dtype}")
        arr = torch.from_numpy(np.ascontiguousarray(arr))
    if arr.dtype == torch.bool:
        return arr.to(device)
    if arr.is_floating_point() or arr.is_complex():
        raise TypeError(f"{name} must be a boolean mask (or 0/1 integers); got dtype {arr.dtype}")
    bad = (arr != 0) & (arr != 1)
    if bool(bad.any()):
        raise ValueError(
            f"{name} must hold only 0 and 1 (a mask); {int(bad.sum())} entries do not. "
            "For token index sets pass kind='tokens'; for boxes pass kind='boxes'."
        )
    return arr.to(device=device, dtype=torch.bool)


def boxes_to_masks(boxes: Any, height: int, width: int, *, device: str | torch.device | None = None) -> torch.Tensor:
    """Rasterise bounding boxes into (N, H, W) masks.

    Parameters
    ----------
    boxes : array-like or sequence
        Either an (N, 4) array with one box per example, or a sequence of N entries each
        an array of shape (4,) or (k, 4) (k >= 0 boxes for that example, united). A box
        is ``(x0, y0, x1, y1)`` in pixels, half-open: columns ``x0 <= x < x1`` and rows
        ``y0 <= y < y1``, with ``0 <= x0 <= x1 <= W`` and ``0 <= y0 <= y1 <= H``. A box with
        ``x0 == x1`` or ``y0 == y1`` is empty. Coordinates must be whole numbers.
    height, width : int
        The image size.
    device : str or torch.device, optional
        Default: the device of ``boxes`` if it is a tensor, else the CPU.

    Returns
    -------
    torch.Tensor
        (N, H, W) boolean masks.
    """
    dev = input_device(device, boxes)
    per_example = _box_list(boxes)
    counts = [b.shape[0] for b in per_example]
    flat = np.concatenate(per_example) if per_example else np.zeros((0, 4))
    if flat.size and not np.isfinite(flat).all():
        raise ValueError("boxes contain NaN or infinite coordinates")
    if flat.size and not np.array_equal(flat, np.round(flat)):
        raise ValueError("box coordinates must be whole pixels (x0, y0, x1, y1), half-open")
    x0, y0, x1, y1 = flat.T
    outside = (x0 < 0) | (y0 < 0) | (x1 > width) | (y1 > height) | (x1 < x0) | (y1 < y0)
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        owner = int(np.searchsorted(np.cumsum(counts), first, side="right"))
        raise ValueError(
            f"{int(outside.sum())} boxes are outside the {width}x{height} image or have x1 < x0 or y1 < y0 "
            f"(first: {flat[first].tolist()} of example {owner}); boxes are (x0, y0, x1, y1) with "
            f"0 <= x0 <= x1 <= {width} and 0 <= y0 <= y1 <= {height}"
        )
    owners = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts, dtype=torch.long)).to(dev)
    b = torch.as_tensor(flat, dtype=torch.long, device=dev)
    cols = torch.arange(width, device=dev)
    rows = torch.arange(height, device=dev)
    in_x = (cols >= b[:, :1]) & (cols < b[:, 2:3])
    in_y = (rows >= b[:, 1:2]) & (rows < b[:, 3:4])
    per_box = in_y[:, :, None] & in_x[:, None, :]
    masks = torch.zeros((len(counts), height, width), dtype=torch.int32, device=dev)
    masks.index_add_(0, owners, per_box.to(torch.int32))
    return masks > 0


def _box_list(boxes: Any) -> list[np.ndarray]:
    if boxes is None:
        raise TypeError("boxes are required; got None")
    if isinstance(boxes, torch.Tensor):
        boxes = boxes.detach().cpu().numpy()
    if hasattr(boxes, "to_numpy"):
        boxes = boxes.to_numpy()
    if isinstance(boxes, np.ndarray):
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"boxes must be (N, 4) rows of (x0, y0, x1, y1); got shape {boxes.shape}")
        entries: Sequence[Any] = list(boxes)
    elif isinstance(boxes, Sequence) and not isinstance(boxes, (str, bytes)):
        entries = boxes
    else:
        raise TypeError(f"boxes must be an (N, 4) array or a sequence of per-example boxes; got {type(boxes).__name__}")
    out = []
    for i, entry in enumerate(entries):
        if isinstance(entry, torch.Tensor):
            entry = entry.detach().cpu().numpy()
        arr = np.asarray(entry)
        if arr.dtype.kind not in "iuf" and not (arr.dtype.kind == "O" and arr.size == 0):
            raise TypeError(f"boxes of example {i} must be numbers; got dtype {arr.dtype}")
        if arr.size == 0:
            arr = arr.reshape(0, 4)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != 4:
            raise ValueError(f"boxes of example {i} must be (4,) or (k, 4); got shape {arr.shape}")
        out.append(arr.astype(np.float64))
    return out


def tokens_to_masks(token_sets: Any, length: int, *, device: str | torch.device | None = None) -> torch.Tensor:
    """Turn per-example token index sets into (N, L) masks.

    Parameters
    ----------
    token_sets : sequence of sequences of int
        For each example, the positions (0 <= i < L) of its annotated tokens; repeats are
        harmless, an empty entry means no annotation.
    length : int
        L, the (padded) sequence length.
    device : str or torch.device, optional
        Default: the CPU.

    Returns
    -------
    torch.Tensor
        (N, L) boolean masks.
    """
    if token_sets is None:
        raise TypeError("token sets are required; got None")
    if isinstance(token_sets, (torch.Tensor, np.ndarray)):
        token_sets = token_sets.tolist()
    if isinstance(token_sets, (str, bytes)) or not isinstance(token_sets, Sequence):
        raise TypeError(f"token sets must be a sequence of index sequences; got {type(token_sets).__name__}")
    dev = torch.device(device) if device is not None else torch.device("cpu")
    rows, cols = [], []
    for i, entry in enumerate(token_sets):
        idx = np.asarray(list(entry) if not isinstance(entry, np.ndarray) else entry)
        if idx.size and idx.dtype.kind not in "iu":
            raise TypeError(f"token indices of example {i} must be integers; got dtype {idx.dtype}")
        idx = idx.astype(np.int64).reshape(-1)
        bad = (idx < 0) | (idx >= length)
        if bad.any():
            raise ValueError(f"token index {int(idx[bad][0])} of example {i} is out of range for length {length}")
        rows.append(np.full(idx.shape, i))
        cols.append(idx)
    masks = torch.zeros((len(token_sets), length), dtype=torch.bool, device=dev)
    if rows:
        r = torch.as_tensor(np.concatenate(rows), device=dev)
        c = torch.as_tensor(np.concatenate(cols), device=dev)
        masks[r, c] = True
    return masks


def ground_truth_features(
    ground_truth: Any,
    shape: tuple[int, ...],
    *,
    kind: GroundTruthKind = "auto",
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Turn annotations into the ground-truth feature set G of each example.

    Parameters
    ----------
    ground_truth : array-like or sequence
        Boolean masks of ``shape`` (0/1 integers accepted); bounding boxes for images (see
        :func:`boxes_to_masks`); or token index sets for (N, L) sequences (see
        :func:`tokens_to_masks`).
    shape : tuple of int
        The saliency's shape, (N, H, W) or (N, L).
    kind : {"auto", "mask", "boxes", "tokens"}, default "auto"
        ``"auto"``: an array of exactly ``shape`` is a mask; otherwise boxes when ``shape``
        is (N, H, W) and token sets when it is (N, L). Name the kind when a token index
        array happens to have the saliency's shape.
    device : str or torch.device, optional
        Default: the device of ``ground_truth`` if it is a tensor, else the CPU.

    Returns
    -------
    torch.Tensor
        Boolean tensor of ``shape``.
    """
    dev = input_device(device, ground_truth)
    if kind not in ("auto", "mask", "boxes", "tokens"):
        raise ValueError(f"kind must be 'auto', 'mask', 'boxes' or 'tokens'; got {kind!r}")
    if kind == "auto":
        if tuple(np.shape(_shape_probe(ground_truth))) == shape:
            kind = "mask"
        else:
            kind = "boxes" if len(shape) == 3 else "tokens"
    if kind == "mask":
        return as_mask(ground_truth, "ground_truth", shape=shape, device=dev)
    if kind == "boxes":
        if len(shape) != 3:
            raise ValueError(f"boxes need (N, H, W) saliency; got shape {shape}")
        masks = boxes_to_masks(ground_truth, shape[1], shape[2], device=dev)
    else:
        if len(shape) != 2:
            raise ValueError(f"token sets need (N, L) saliency; got shape {shape}")
        masks = tokens_to_masks(ground_truth, shape[1], device=dev)
    if masks.shape[0] != shape[0]:
        raise ValueError(f"ground_truth has {masks.shape[0]} examples but saliency has {shape[0]}")
    return masks


def _shape_probe(value: Any) -> Any:
    # Ragged sequences (token sets, boxes per example) have no array shape; only regular
    # arrays can be masks, so anything numpy cannot make rectangular is not one.
    if isinstance(value, (torch.Tensor, np.ndarray)) or hasattr(value, "to_numpy"):
        return value
    try:
        return np.asarray(value)
    except ValueError:
        return ()
