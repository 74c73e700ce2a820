"""Sorting and filtering a gallery list by a metadata column, a metric or a pattern.

Grouping is sorting by a categorical column: members of a group end up next to each other,
each group in the list's own order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Arrangement:
    """How the user asked the gallery to be arranged ("" means: leave as the list has it)."""

    sort: str = ""
    descending: bool = True
    filter_column: str = ""
    filter_group: str = ""


def arrange(
    order: np.ndarray,
    *,
    sort_key: np.ndarray | None = None,
    descending: bool = True,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """Filter and sort a list of example indices, keeping the list's order among ties.

    Parameters
    ----------
    order : numpy.ndarray
        Example indices in the list's own order.
    sort_key : numpy.ndarray, optional
        (N,) one value per example: numbers sort by value (NaN last, either direction),
        anything else sorts as text, A to Z (``descending`` ignored: it groups).
    descending : bool
        Largest numbers first.
    keep : numpy.ndarray, optional
        (N,) boolean: the examples that pass the filter.
    """
    order = np.asarray(order, dtype=np.int64)
    if keep is not None:
        order = order[keep[order]]
    if sort_key is None or order.size == 0:
        return order
    key = sort_key[order]
    if key.dtype.kind in "biuf":
        key = key.astype(np.float64)
        missing = np.isnan(key)
        value = np.where(missing, 0.0, -key if descending else key)
        # lexsort sorts by its last key first: present values before NaN, then by value.
        return order[np.lexsort((value, missing))]
    return order[np.argsort(key.astype(str), kind="stable")]
