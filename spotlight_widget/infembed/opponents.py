"""Slice opponents: the training examples that hurt a slice most (paper Section 3.6)."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._inputs import as_matrix
from .._params import Interval, validate_params


def _slice_vector(slc: Any, test: np.ndarray | None) -> np.ndarray:
    """``v = sum_i w_i mu(z_i)`` over the slice's members."""
    if hasattr(slc, "weights"):
        weights = np.asarray(slc.weights, dtype=np.float64)
        if test is None:
            info = getattr(slc, "info", {}) or {}
            if "influence_sum" not in info:
                raise ValueError(
                    "pass test_influence_embeddings: this slice was not found on influence embeddings "
                    "(it has no info['influence_sum'])"
                )
            return np.asarray(info["influence_sum"], dtype=np.float64)
        if weights.shape[0] != test.shape[0]:
            raise ValueError(
                f"the slice covers {weights.shape[0]} examples but test_influence_embeddings has {test.shape[0]} rows"
            )
        return weights @ test
    rows = np.asarray(slc)
    if rows.ndim != 1 or rows.size == 0 or rows.dtype.kind not in "iu":
        raise TypeError("slice must be a Slice (or any object with weights) or a non-empty 1-D array of test indices")
    if test is None:
        raise ValueError("test_influence_embeddings is required when the slice is given as indices")
    if rows.min() < 0 or rows.max() >= test.shape[0]:
        raise ValueError(f"slice indices must lie in [0, {test.shape[0]}); got {rows.min()}..{rows.max()}")
    return test[rows].sum(0)


@validate_params(
    {
        "train_influence_embeddings": ["array-like"],
        "test_influence_embeddings": [None, "array-like"],
        "k": [Interval(Integral, 1, None, closed="left")],
    }
)
def slice_opponents(
    slice: Any,
    train_influence_embeddings: Any,
    test_influence_embeddings: Any = None,
    *,
    k: int = 10,
) -> pd.DataFrame:
    """The ``k`` training examples whose influence on the slice's total loss is most negative.

    With ``v = sum over the slice of mu(z)`` (membership-weighted), the influence of a
    training example ``z'`` on the slice is ``v . mu(z')`` (paper Eq. 3 summed over the
    slice): about N' times the change in the slice's total loss if ``z'`` were *removed*
    and the model retrained. Negative means the slice's loss would fall without ``z'``:
    ``z'`` pushes the model towards the slice's errors (a mislabelled or spuriously
    correlated training example, say). Koh and Liang's upweighting influence is ``-v . mu(z')``,
    positive for these examples.

    Parameters
    ----------
    slice : Slice or array of int
        A slice of the test data (its weights are used), or the test indices of its members.
    train_influence_embeddings : array-like, (N', D)
        ``InfluenceEmbeddings.train``.
    test_influence_embeddings : array-like, (N, D), optional
        ``InfluenceEmbeddings.test``; may be left out for slices returned by
        :func:`infembed` and :func:`infembed_rule`, which carry ``info["influence_sum"]``.
    k : int
        Opponents wanted. Fewer come back when fewer training examples have negative influence.

    Returns
    -------
    pandas.DataFrame
        Columns ``index`` (row of the training data), ``influence`` (``v . mu(z')``,
        negative) and ``rank`` (0 for the strongest opponent), most negative first.
    """
    train = as_matrix(train_influence_embeddings, "train_influence_embeddings", dtype=torch.float64).numpy()
    test = None
    if test_influence_embeddings is not None:
        test = as_matrix(test_influence_embeddings, "test_influence_embeddings", dtype=torch.float64).numpy()
        if test.shape[1] != train.shape[1]:
            raise ValueError(
                f"test embeddings have {test.shape[1]} dimensions but training embeddings {train.shape[1]}"
            )
    v = _slice_vector(slice, test)
    if v.shape != (train.shape[1],):
        raise ValueError(
            f"the slice's embedding sum has shape {v.shape}; the training embeddings have {train.shape[1]} dimensions"
        )
    influence = train @ v
    order = np.argsort(influence, kind="stable")[:k]
    order = order[influence[order] < 0]
    return pd.DataFrame({"index": order, "influence": influence[order], "rank": np.arange(order.size)})
