"""The three Shared Interest scores (Boggust et al., CHI 2022, Eq. 1-3) for a batch."""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from .features import (
    DEFAULT_THRESHOLD,
    GroundTruthKind,
    Threshold,
    _as_saliency_tensor,
    as_mask,
    ground_truth_features,
    input_device,
    saliency_features,
)

METRICS = ("iou", "gtc", "sc")


def coverage(
    saliency_sets: torch.Tensor, ground_truth_sets: torch.Tensor, *, empty: float = 1.0
) -> dict[str, torch.Tensor]:
    """IoU, GTC and SC of boolean feature sets, one value per leading index.

    Parameters
    ----------
    saliency_sets, ground_truth_sets : torch.Tensor
        Boolean tensors of one shape (N, ...); every dimension after the first is a feature.
    empty : float, default 1.0
        The value of a ratio whose denominator is empty (see :func:`shared_interest`).

    Returns
    -------
    dict of str to torch.Tensor
        ``iou``, ``gtc``, ``sc`` (float64) and the set sizes ``n_saliency``,
        ``n_ground_truth``, ``n_shared`` (int64), each of shape (N,).
    """
    s = saliency_sets.reshape(saliency_sets.shape[0], -1)
    g = ground_truth_sets.reshape(ground_truth_sets.shape[0], -1)
    n_s = s.sum(1)
    n_g = g.sum(1)
    n_both = (s & g).sum(1)
    n_union = n_s + n_g - n_both

    def ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
        value = num.to(torch.float64) / den.clamp_min(1).to(torch.float64)
        return torch.where(den > 0, value, torch.full_like(value, empty))

    return {
        "iou": ratio(n_both, n_union),
        "gtc": ratio(n_both, n_g),
        "sc": ratio(n_both, n_s),
        "n_saliency": n_s,
        "n_ground_truth": n_g,
        "n_shared": n_both,
    }


def shared_interest(
    saliency: Any,
    ground_truth: Any,
    *,
    threshold: Threshold = DEFAULT_THRESHOLD,
    ground_truth_kind: GroundTruthKind = "auto",
    valid: Any = None,
    empty: float = 1.0,
    index: Any = None,
    device: str | torch.device | None = None,
) -> pd.DataFrame:
    """Shared Interest scores of a batch: how a model's salient features meet the annotation.

    With S the salient features of an example and G its ground-truth features,

    - ``iou`` = |G and S| / |G or S| (Eq. 1, the Jaccard index): 1 exactly when S = G;
    - ``gtc``, ground-truth coverage = |G ∩ S| / |G| (Eq. 2): 1 exactly when G ⊆ S;
    - ``sc``, saliency coverage = |G ∩ S| / |S| (Eq. 3): 1 exactly when S ⊆ G.

    Parameters
    ----------
    saliency : array-like
        (N, H, W) saliency maps or (N, L) token scores (numpy, torch on any device, nested
        lists), higher meaning more important; or boolean arrays that already are the
        feature sets S.
    ground_truth : array-like or sequence
        One of: boolean masks of the saliency's shape (0/1 integers accepted); bounding
        boxes ``(x0, y0, x1, y1)``, half-open pixel ranges, as an (N, 4) array or a sequence
        of per-example (k, 4) arrays (united); or, for (N, L) saliency, a sequence of N
        token index sets. See ``ground_truth_kind``.
    threshold : str, float or tuple, default "mean+std"
        How continuous scores become S, per example: ``"mean+std"`` (strictly above the
        mean plus one standard deviation, the paper's rule), ``("std", k)`` (mean + k std),
        a number (strictly above it), ``("top", n)`` (the n highest) or ``("top", f)`` with
        a float f in (0, 1] (that fraction of the features). Ignored for boolean saliency.
        See :func:`saliency_features`.
    ground_truth_kind : {"auto", "mask", "boxes", "tokens"}, default "auto"
        What ``ground_truth`` is; "auto" takes an array of the saliency's shape for masks,
        anything else for boxes (images) or token sets (sequences).
    valid : array-like of bool, optional
        Features that exist (e.g. not padding), saliency-shaped; the rest are in neither
        set and ignored by the thresholds.
    empty : float, default 1.0
        The value of a ratio over an empty set: IoU when S and G are both empty, GTC when G
        is empty, SC when S is empty. The default reads the ratios as the set relations they
        stand for (the empty set is a subset of every set, and equals itself), so
        ``iou == 1`` still means S = G, ``gtc == 1`` means G ⊆ S and ``sc == 1`` means
        S ⊆ G. Pass ``float("nan")`` to mark them undefined instead (such rows then get no
        behaviour pattern). The set sizes are in the result either way.
    index : array-like, optional
        Index of the result (e.g. example ids); default 0..N-1.
    device : str or torch.device, optional
        Where to compute; default: the device of ``saliency`` if it is a tensor, else CPU.

    Returns
    -------
    pandas.DataFrame
        One row per example: ``iou``, ``gtc``, ``sc`` (floats in [0, 1]) and
        ``n_saliency``, ``n_ground_truth``, ``n_shared`` (|S|, |G|, |G ∩ S|).

    Raises
    ------
    ValueError
        Saliency not (N, H, W) or (N, L), empty, NaN or infinite; ground truth of another
        shape or number of examples, masks with values other than 0/1, boxes outside the
        image, token indices out of range.
    TypeError
        Non-numeric saliency, float masks, an unknown threshold form.
    """
    dev = input_device(device, saliency)
    scores = _as_saliency_tensor(saliency, dev, "saliency")
    shape = tuple(scores.shape)
    s = saliency_features(scores, threshold=threshold, valid=valid, device=dev)
    g = ground_truth_features(ground_truth, shape, kind=ground_truth_kind, device=dev)
    if valid is not None:
        g = g & as_mask(valid, "valid", shape=shape, device=dev)
    values = coverage(s, g, empty=empty)
    frame = pd.DataFrame({name: v.cpu().numpy() for name, v in values.items()})
    if index is not None:
        if len(index) != len(frame):
            raise ValueError(f"index has {len(index)} entries but there are {len(frame)} examples")
        frame.index = pd.Index(index)
    return frame
