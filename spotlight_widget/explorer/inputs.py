"""The explorer's inputs, checked once and never changed afterwards.

``ExplorerInputs`` holds what the user passed (embeddings, losses, items, metadata,
labels, predictions, influence, overlays ...) after every check, plus lookups derived from
them alone (display names, metadata groups, loss order). Nothing here depends on what
the user has looked at: that lives in ``store.ResultStore`` (results) and in the widget's
traits (the view), so an ``ExplorerInputs`` can be read from any thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._inputs import as_matrix, as_vector, resolve_size
from ..describe import groups_of
from ..describe.groups import metadata_frame
from ..slices import check_predictions
from ..slices.predictions import n_classes
from .comparison import Comparison
from .methods import METHODS, PUBLISHED, check_methods
from .overlays import Overlays
from .thumbnails import ItemSource

TABS = ("spotlight", "highest", "random", "opponents")
TAB_INFO = {
    "spotlight": ("Members", "Members of the result shown, highest weight first"),
    "highest": ("Highest loss", "The examples with the highest loss"),
    "random": ("Random", "A random sample, for comparison"),
    "opponents": (
        "Opponents",
        "Training examples whose removal would lower this result's loss most (InfEmbed's slice opponents)",
    ),
}
# What the explorer itself passes to every companion finder: method_options may not set these.
RESERVED_OPTIONS = frozenset({"n", "size", "seed", "progress", "labels", "probs", "cancel"})


@dataclass(frozen=True, eq=False)
class ExplorerInputs:
    """Checked, read-only inputs of one explorer; build with ``ExplorerInputs.build``.

    Attributes
    ----------
    embeddings : torch.Tensor
        (N, d) float32 on the CPU.
    losses : numpy.ndarray
        (N,) float64.
    total : float
        The number of examples a size fraction refers to: N, or the sum of ``counts``.
    methods : tuple of str
        The slice finders offered, the first shown first.
    """

    embeddings: torch.Tensor
    losses: np.ndarray
    counts: np.ndarray | None
    items: ItemSource
    overlays: Overlays
    metadata: pd.DataFrame | None
    labels: np.ndarray | None
    predictions: np.ndarray | None
    class_ids: np.ndarray | None
    probs: np.ndarray | None
    class_names: Sequence[str] | dict | None
    influence: torch.Tensor | None
    train_influence: torch.Tensor | None
    train_items: ItemSource | None
    probe_fn: Callable[[np.ndarray], Any] | None
    saliency_threshold: Any
    preset: str
    device: Any
    seed: int
    methods: tuple[str, ...]
    method_options: dict[str, dict[str, Any]]
    random_order: np.ndarray
    # Two models' losses and predictions when the explorer compares them (``compare``):
    # ``losses`` then holds their signed difference in the direction searched.
    comparison: Comparison | None = None
    # Memos of pure functions of the inputs (display names, metadata groups): filling
    # them twice from two threads is harmless.
    _memo: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    # Examples by loss, highest first: derived, so inputs with other losses (a comparison's
    # other direction, ``dataclasses.replace``) always carry their own.
    loss_order: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "loss_order", np.argsort(-self.losses, kind="stable"))

    @classmethod
    def build(
        cls,
        embeddings: Any,
        losses: Any,
        items: Any = None,
        *,
        metadata: pd.DataFrame | None = None,
        labels: Any = None,
        predictions: Any = None,
        probs: Any = None,
        class_names: Sequence[str] | dict | None = None,
        counts: Any = None,
        preset: str = "fast",
        device: Any = None,
        seed: int = 0,
        thumbnail_size: int = 96,
        methods: Sequence[str] | None = None,
        method_options: dict[str, dict[str, Any]] | None = None,
        influence: Any = None,
        train_influence: Any = None,
        train_items: Any = None,
        ground_truth: Any = None,
        saliency: Any = None,
        saliency_threshold: Any = "mean+std",
        probe: Callable[[np.ndarray], Any] | None = None,
        has_spotlights: bool = False,
    ) -> ExplorerInputs:
        """Check every input (see ``SpotlightExplorer`` for the parameters).

        Scalar options (sizes, seed, page and thumbnail sizes) are declared and checked by
        ``SpotlightExplorer``; this checks the data. ``has_spotlights``: spotlights found
        earlier will be preloaded (the Spotlight is then offered first by default).

        Raises
        ------
        TypeError, ValueError
            With a message naming the argument, for anything the explorer cannot show.
        """
        emb = as_matrix(embeddings, "embeddings", dtype=torch.float32, device="cpu")
        n = emb.shape[0]
        loss = as_vector(losses, "losses", length=n, dtype=torch.float64).numpy()
        counted = None if counts is None else as_vector(counts, "counts", length=n, dtype=torch.float64).numpy()
        shown = ItemSource(items, n, side=int(thumbnail_size))
        overlays = Overlays(ground_truth, saliency, n, threshold=saliency_threshold)
        if shown.kind != "images" and len(overlays.available()) > 1:
            raise ValueError("ground_truth and saliency overlays are drawn on images: pass images as items")
        if probe is not None and not callable(probe):
            raise TypeError(
                f"probe must be a callable image -> (C, H, W) saliency per class; got {type(probe).__name__}"
            )
        if probe is not None and shown.kind != "images":
            raise ValueError("probing draws regions on images: pass images as items")
        meta = None if metadata is None else metadata_frame(metadata, n, against=f"the embeddings have {n}")
        true = check_column(labels, "labels", n)
        predicted = check_column(predictions, "predictions", n)
        class_ids, p = _check_probs(probs, true, n)
        infl = None if influence is None else as_matrix(influence, "influence", dtype=torch.float32, device="cpu")
        if infl is not None and infl.shape[0] != n:
            raise ValueError(f"influence has {infl.shape[0]} rows but the embeddings have {n}")
        given = {"influence": infl, "labels": true, "probs": p}
        offered = check_methods(
            methods,
            inputs=[k for k, v in given.items() if v is not None],
            has_counts=counted is not None,
            has_spotlights=has_spotlights,
        )
        train, train_shown = _check_training(train_influence, train_items, infl, int(thumbnail_size))
        return cls(
            embeddings=emb,
            losses=loss,
            counts=counted,
            items=shown,
            overlays=overlays,
            metadata=meta,
            labels=true,
            predictions=predicted,
            class_ids=class_ids,
            probs=p,
            class_names=class_names,
            influence=infl,
            train_influence=train,
            train_items=train_shown,
            probe_fn=probe,
            saliency_threshold=saliency_threshold,
            preset=preset,
            device=device,
            seed=int(seed),
            methods=offered,
            method_options=_check_method_options(method_options, offered),
            random_order=np.random.default_rng(int(seed)).permutation(n),
        )

    # -- sizes ----------------------------------------------------------------------------

    @property
    def n(self) -> int:
        return int(self.losses.shape[0])

    @property
    def total(self) -> float:
        return float(self.n if self.counts is None else self.counts.sum())

    def size_count(self, size: Any) -> int:
        """S for a size as the user gives it: a fraction in (0, 1) of ``total``, or an int count.

        Raises
        ------
        TypeError, ValueError
            As ``find_spotlight`` does for the same value (bool, NaN, a float >= 1, a count
            not smaller than the data).
        """
        if isinstance(size, np.ndarray) and size.ndim == 0:
            size = size.item()
        if isinstance(size, np.generic):
            size = size.item()
        return int(resolve_size(size, self.total, self.n))

    # -- methods and tabs -----------------------------------------------------------------

    def method_rows(self) -> list[dict]:
        """The method selector's entries."""
        return [{key: getattr(METHODS[m], key) for key in PUBLISHED} for m in self.methods]

    def tabs(self) -> list[str]:
        """The gallery lists on offer: opponents only when training influence is known."""
        return [t for t in TABS if t != "opponents" or self.train_influence is not None]

    def tab_rows(self) -> list[dict]:
        return [{"name": t, "label": TAB_INFO[t][0], "title": TAB_INFO[t][1]} for t in self.tabs()]

    # -- columns --------------------------------------------------------------------------

    def columns(self) -> list[str]:
        """The columns a breakdown, sort or filter can use: metadata, then label and prediction."""
        cols = [] if self.metadata is None else [str(c) for c in self.metadata.columns]
        if self.labels is not None:
            cols.append("label")
        if self.predictions is not None:
            cols.append("prediction")
        return cols

    def sort_options(self) -> list[str]:
        return ["weight", "loss", *self.columns()]

    def column_values(self, column: str) -> Any:
        """One column's values for every example."""
        names = [str(c) for c in self.metadata.columns] if self.metadata is not None else []
        if column in names:
            return self.metadata[self.metadata.columns[names.index(column)]]
        if column == "label" and self.labels is not None:
            return self.named("labels")
        if column == "prediction" and self.predictions is not None:
            return self.named("predictions")
        raise ValueError(f"unknown column {column!r}; choose from {', '.join(self.columns()) or 'none'}")

    def groups(self, column: str) -> np.ndarray:
        """Each example's group in a column, as the breakdown names them."""
        key = ("groups", column)
        if key not in self._memo:
            self._memo[key] = groups_of(self.column_values(column)).to_numpy(dtype=str)
        return self._memo[key]

    def group_names(self, column: str) -> list[str]:
        """The groups of a column, largest first, for the gallery's filter."""
        if not column:
            return []
        # Asked at every publish: counting is a pass over every example, so it is done once.
        key = ("group_names", column)
        if key not in self._memo:
            names, counts = np.unique(self.groups(column), return_counts=True)
            self._memo[key] = [str(names[i]) for i in np.argsort(-counts, kind="stable")]
        return list(self._memo[key])

    def sort_key(self, name: str, weights: np.ndarray | None) -> np.ndarray:
        """One value per example to sort the gallery by: weight, loss, or a column."""
        if name == "weight":
            return np.zeros(self.n) if weights is None else weights
        if name == "loss":
            return self.losses
        values = pd.Series(self.column_values(name)).reset_index(drop=True)
        # Real numbers sort by value; anything else (complex, bool, text, objects) as text.
        if values.dtype.kind in "iuf":
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        return values.astype(str).to_numpy()

    def named(self, which: str) -> np.ndarray | None:
        """Labels or predictions as the display names the gallery shows."""
        key = ("named", which)
        if key not in self._memo:
            column = self.labels if which == "labels" else self.predictions
            self._memo[key] = (
                None if column is None else np.array([self.name(column, i) for i in range(self.n)], dtype=object)
            )
        return self._memo[key]

    def name(self, column: np.ndarray | None, index: int) -> str | None:
        """One label or prediction as shown: its class name when ``class_names`` has one."""
        if column is None:
            return None
        value = column[index]
        names = self.class_names
        try:
            if isinstance(names, dict):
                return str(names.get(value, names.get(int(value), value)))
            if names is not None and float(value).is_integer() and 0 <= int(value) < len(names):
                return str(names[int(value)])
        except (TypeError, ValueError):
            pass
        return display(value)

    def check_index(self, index: Any) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise ValueError(f"an example index must be an integer; got {index!r}")
        if not 0 <= index < self.n:
            raise ValueError(f"example index {index} is out of range (0 to {self.n - 1})")
        return int(index)


def display(value: Any) -> str:
    """A metadata value as the detail view shows it."""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def _check_training(
    train_influence: Any, train_items: Any, influence: torch.Tensor | None, side: int
) -> tuple[torch.Tensor | None, ItemSource | None]:
    if train_influence is None:
        if train_items is not None:
            raise ValueError("train_items are shown as slice opponents, which need train_influence= too")
        return None, None
    if influence is None:
        raise ValueError("train_influence needs influence= (the explored examples' influence embeddings) too")
    train = as_matrix(train_influence, "train_influence", dtype=torch.float32, device="cpu")
    if train.shape[1] != influence.shape[1]:
        raise ValueError(
            f"train_influence has {train.shape[1]} columns but influence has {influence.shape[1]}: "
            "both must come from the same influence_embeddings() call"
        )
    return train, ItemSource(train_items, train.shape[0], side=side)


def _check_probs(probs: Any, labels: np.ndarray | None, n: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Class ids and probabilities for the finders that use them (None, None without probs)."""
    if probs is None:
        return None, None
    _, p = check_predictions(None, probs, length=n)
    if labels is None:
        return None, p
    top = n_classes(p) - 1
    need = f"with probs=, labels must be integer class ids in [0, {top}] (class_names names them for display)"
    if labels.dtype.kind not in "biuf":
        raise ValueError(f"{need}; got {labels.dtype} values such as {str(labels[0])!r}")
    try:
        y, _ = check_predictions(labels, p, length=n)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{need}: {exc}") from exc
    return y, p


def _check_method_options(options: Any, methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per-method keyword options for ``find_slices``, checked against the methods offered."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(
            f"method_options must be a dict of method name -> dict of options; got {type(options).__name__}"
        )
    checked = {}
    for method, opts in options.items():
        if method == "spotlight":
            raise ValueError("method_options cannot set the Spotlight's search: use preset=, device= and seed=")
        if method not in methods:
            raise ValueError(
                f"method_options names {method!r}, which this explorer does not offer ({', '.join(methods)})"
            )
        if not isinstance(opts, dict) or not all(isinstance(k, str) for k in opts):
            raise TypeError(f"method_options[{method!r}] must be a dict of keyword options; got {opts!r}")
        reserved = sorted(RESERVED_OPTIONS & set(opts))
        if reserved:
            raise ValueError(f"method_options[{method!r}] cannot set {reserved}: the explorer sets them")
        checked[method] = dict(opts)
    return checked


def check_column(values: Any, name: str, n: int) -> np.ndarray | None:
    """One value per example (labels, predictions), as a 1-D array; None stays None."""
    if values is None:
        return None
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one per example); got shape {arr.shape}")
    if len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} entries but the embeddings have {n} rows")
    return arr
