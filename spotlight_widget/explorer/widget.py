"""``SpotlightExplorer``: the notebook widget.

State has one owner per piece: the checked inputs (``inputs.ExplorerInputs``, read-only),
the results of every method (``store.ResultStore``, the only thing the search thread
writes), and what the user is looking at (this widget's traits, each validated so a
refused value never lands). Everything the front end shows is rebuilt from those three by
``_publish``, through the pure functions of ``payloads``.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import threading
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import torch
import traitlets as t

from .._inputs import as_matrix, as_vector
from .._params import SEED, SIZE, InstanceOf, Interval, Options, validate_params
from ..engine import SearchCancelled, SearchProgress, Spotlight
from ..engine.presets import Preset
from ..projection import METHODS as PROJECTION_METHODS
from ..projection import auto_method, pca, project
from ..slices import SliceLike
from . import messages, payloads
from .arrange import Arrangement
from .comparison import DIRECTIONS, Comparison
from .inputs import TABS, ExplorerInputs, check_column
from .mapping import (
    CACHE,
    check_coords,
    column_colors,
    combine,
    continuous,
    fingerprint,
    hull,
    inside_box,
    inside_polygon,
    outline_points,
)
from .methods import METHODS, PUBLISHED, SELECTION, method_info
from .overlays import OVERLAYS
from .probing import probe_region
from .report import view_figure
from .store import MethodView, NothingStandsOut, ResultStore, opponents_of
from .worker import BackgroundTask, SearchQueue, SearchRequest

STATIC = pathlib.Path(__file__).resolve().parent.parent / "static"
PROJECTIONS = tuple(dict.fromkeys(("auto", *PROJECTION_METHODS)))
"""What ``coords=`` may name (or pass an (N, 2) array, or None for no map)."""
# Longest note on one result: room for a paragraph, not for pasted data.
MAX_NOTE = 10_000
# Opponents listed per result: the strongest few are what a person can check by eye.
OPPONENTS = 96
# Traits the front end may write; the others are Python's to publish.
WRITABLE = frozenset(
    {
        "size",
        "current",
        "method",
        "tab",
        "page",
        "page_size",
        "selected",
        "breakdown_column",
        "overlay",
        "sort_by",
        "sort_descending",
        "filter_column",
        "filter_group",
        "detail",
        "map_color",
        "direction",
        "shown_note",
    }
)

log = logging.getLogger(__name__)


class Size(t.TraitType):
    """A size as the user gives it, an int number of examples or a fraction in (0, 1).

    The widget's validator turns it into the fraction it stores.
    """

    default_value = 0.02
    info_text = "an int number of examples or a float fraction in (0, 1)"

    def validate(self, obj: Any, value: Any) -> Any:
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
            return value
        self.error(obj, value)


class SpotlightExplorer(anywidget.AnyWidget):
    """Browse a model's spotlights in a notebook: gallery, size control, history, breakdowns.

    Parameters
    ----------
    embeddings : array-like, (N, d)
        Final-layer embeddings (numpy, torch, pandas or lists).
    losses : array-like, (N,)
        Per-example losses.
    items : optional
        What a person looks at: images as an (N, H, W[, C]) array of any numeric dtype,
        or a list of PIL images or image file paths; or texts as a list of str; or None
        (then metadata rows are shown).
    metadata : pandas.DataFrame, optional
        (N rows) anything known about the examples, e.g. age or race, that the model
        never saw: shown in the detail view and broken down per spotlight.
    labels, predictions : array-like, optional
        (N,) true and predicted classes, shown on each example and usable in breakdowns.
        Any values, unless ``probs`` is given: then ``labels`` must be integer class ids
        in [0, C) (0/1 for a binary model), the columns of ``probs``.
    probs : array-like, optional
        (N, C) predicted class probabilities in [0, 1], or (N,) P(class 1) of a binary
        model. With integer ``labels`` they add "planespot" (PlaneSpot) and
        "domino-style" (a Domino-style error-aware mixture) to the methods offered.
    class_names : sequence or dict, optional
        Names for integer labels and predictions, shown instead of the ids.
    size : float or int
        Starting spotlight size: a fraction of the data (0.001 to 0.1) or a number of examples.
    methods : sequence of str, optional
        Slice finders offered in the method selector, the first one shown first. Default:
        "pooled" (the best we have measured: ``benchmarks/README.md``), "spotlight",
        "error-clusters", "highest-loss", "kmeans", "gmm", "infembed" when ``influence``
        is given, and "planespot" and "domino-style" when ``probs`` and ``labels`` are;
        the Spotlight first when ``spotlights`` are given, and alone with ``counts``.
        Each keeps its own history and selection.
    method_options : dict, optional
        Keyword options per companion method, passed to ``find_slices``: e.g.
        ``{"planespot": {"projection_options": {"iterations": 1000}}}`` trains scvis for
        fewer steps than its default (3,000 or more; a minute or more on a CPU), and
        ``{"planespot": {"projection": "pca"}}`` skips it. The explorer sets ``n``,
        ``size``, ``seed``, ``progress``, ``labels``, ``probs`` and ``cancel`` itself.
    influence : array-like, optional
        (N, D) influence embeddings of the same examples (``influence_embeddings``), for
        the "infembed" method.
    train_influence : array-like, optional
        (M, D) influence embeddings of the training examples (``InfluenceEmbeddings.train``):
        adds an "Opponents" gallery of the training examples that push the model towards
        the errors of the result shown (``slice_opponents``), for any method.
    train_items : optional
        What to show for the training examples (images, texts or None, as ``items``).
    ground_truth : array-like, optional
        (N, H, W) boolean masks of the features a person marked as relevant (use
        ``shared_interest.boxes_to_masks`` for boxes), painted yellow on the images when
        the overlay is on (Shared Interest).
    saliency : array-like, optional
        (N, H, W) saliency maps, thresholded with ``saliency_threshold`` (as in
        ``shared_interest``) and painted orange.
    saliency_threshold : str, float or tuple
        How a saliency map becomes its salient set; see ``shared_interest``.
    spotlights : list of Spotlight, optional
        Spotlights found earlier (``find_spotlights``, the command line, or a distributed
        run: see ``from_run``) to show instead of searching at start; "next" and other
        sizes search as usual.
    probe : callable, optional
        ``image -> (C, H, W)`` saliency of one image for every class, e.g.
        ``lambda im: saliency_per_class(model, prepare(im))``. Lets the user draw a region
        on an image in the detail panel and see which classes' saliency matches it best
        (Shared Interest's probing); class names come from ``class_names``.
    counts : array-like, optional
        (N,) multiplicities, as in ``find_spotlight``.
    coords : {"auto", "pca", "scvis", "umap"}, array-like (N, 2) or None
        The map's 2-D coordinates: computed in the background when the explorer is first
        shown ("auto": scvis, trained on a 50,000-row sample, up to 2M rows, PCA above;
        chosen by measurement, see ``projection.project``; a PCA preview is drawn while a
        slower map computes), your own (e.g. a UMAP or t-SNE you already have), or None
        for no map. Cached per embeddings, so a new explorer on the same data opens with
        its map. "umap" needs ``pip install 'spotlight-widget[umap]'``.
    preset, device, seed
        Passed to the search (see ``find_spotlights``).
    page_size : int
        Examples per gallery page.
    thumbnail_size : int
        Thumbnail size in pixels.

    Examples
    --------
    >>> ex = SpotlightExplorer(emb, losses, images, metadata=df, labels=y)   # doctest: +SKIP
    >>> ex                      # renders inline                          # doctest: +SKIP
    >>> ex.next(); ex.size = 0.05; ex.show(0)                             # doctest: +SKIP
    >>> ex.to_dataframe()       # the selection, with metadata            # doctest: +SKIP
    """

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    # -- published by Python (the front end reads them) -----------------------------------
    n = t.Int(0).tag(sync=True)
    mean_loss = t.Float(0.0).tag(sync=True)
    kind = t.Enum(("images", "texts", "table"), "table").tag(sync=True)
    history = t.List(t.Dict()).tag(sync=True)
    status = t.Dict().tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    total_items = t.Int(0).tag(sync=True)
    page_items = t.List(t.Dict()).tag(sync=True)
    columns = t.List(t.Unicode()).tag(sync=True)
    breakdown = t.List(t.Dict()).tag(sync=True)
    methods = t.List(t.Dict()).tag(sync=True)
    tabs = t.List(t.Dict()).tag(sync=True)
    # The overlays this data has ("none" first), and whether images can be probed.
    overlays = t.List(t.Unicode()).tag(sync=True)
    can_probe = t.Bool(False).tag(sync=True)
    sort_options = t.List(t.Unicode()).tag(sync=True)
    # The groups of filter_column, largest first: Python's answer to choosing the column.
    filter_groups = t.List(t.Unicode()).tag(sync=True)
    train_kind = t.Enum(("images", "texts", "table"), "table").tag(sync=True)
    # Python's limits and options the front end follows: defined once, here.
    limits = t.Dict().tag(sync=True)
    # The map: how far its coordinates are (MapState in js/types.js), and each history
    # entry's outline on it (MapLayer). Coordinates and colours travel as binary messages.
    map_state = t.Dict().tag(sync=True)
    map_layers = t.List(t.Dict()).tag(sync=True)

    # -- what the user looks at (either side writes; Python validates) ---------------------
    # S / (number of examples): the last size asked, else the shown result's.
    size = Size().tag(sync=True)
    # Position of the shown result in the history strip (-1: none yet).
    current = t.Int(-1).tag(sync=True)
    method = t.Enum((*METHODS, SELECTION.name), next(iter(METHODS))).tag(sync=True)
    tab = t.Enum(TABS, "spotlight").tag(sync=True)
    page = t.Int(0, min=0).tag(sync=True)
    page_size = t.Int(48, min=1, max=500).tag(sync=True)
    selected = t.List(t.Int()).tag(sync=True)
    breakdown_column = t.Unicode("").tag(sync=True)
    overlay = t.Enum(OVERLAYS, "none").tag(sync=True)
    # Gallery arrangement: sort by weight, loss or a column ("": the list's own order);
    # filter to one group of a column ("" group: no filter).
    sort_by = t.Unicode("").tag(sync=True)
    sort_descending = t.Bool(True).tag(sync=True)
    filter_column = t.Unicode("").tag(sync=True)
    filter_group = t.Unicode("").tag(sync=True)
    # The example open in the detail panel (-1: closed).
    detail = t.Int(-1).tag(sync=True)
    # What colours the map's points: "weights" (the shown result's), "loss" or "column:<name>".
    map_color = t.Unicode("weights").tag(sync=True)
    # A comparison of two models (``compare``): which of them does worse where ("worse": the
    # new model's loss above the old one's). ``comparison`` names the models ({}: no comparison).
    direction = t.Enum(DIRECTIONS, "worse").tag(sync=True)
    # The user's note on the result shown ("" for none): saved and reported with it.
    shown_note = t.Unicode("").tag(sync=True)
    comparison = t.Dict().tag(sync=True)

    @validate_params(
        {
            "size": SIZE,
            "seed": SEED,
            "preset": [Options({"fast", "paper"}), InstanceOf(Preset, "Preset")],
            "page_size": [Interval(Integral, 1, 500, closed="both")],
            "thumbnail_size": [Interval(Integral, 8, 1024, closed="both")],
            "methods": [None, str, InstanceOf(Sequence, "sequence of method names")],
            "coords": [None, Options(set(PROJECTIONS)), "array-like"],
        },
        caller="SpotlightExplorer",
    )
    def __init__(
        self,
        embeddings: Any,
        losses: Any,
        items: Any = None,
        *,
        metadata: pd.DataFrame | None = None,
        labels: Any = None,
        predictions: Any = None,
        probs: Any = None,
        class_names: Sequence[str] | dict | None = None,
        size: float | int = 0.02,
        counts: Any = None,
        preset: str = "fast",
        device: Any = None,
        seed: int = 0,
        page_size: int = 48,
        thumbnail_size: int = 96,
        methods: Sequence[str] | None = None,
        method_options: dict[str, dict[str, Any]] | None = None,
        influence: Any = None,
        train_influence: Any = None,
        train_items: Any = None,
        ground_truth: Any = None,
        saliency: Any = None,
        saliency_threshold: Any = "mean+std",
        probe: Any = None,
        spotlights: Sequence[Spotlight] | None = None,
        coords: Any = "auto",
        _restore: Any = None,
        _comparison: Comparison | None = None,
    ):
        inputs = ExplorerInputs.build(
            embeddings,
            losses,
            items,
            metadata=metadata,
            labels=labels,
            predictions=predictions,
            probs=probs,
            class_names=class_names,
            counts=counts,
            preset=preset,
            device=device,
            seed=seed,
            thumbnail_size=thumbnail_size,
            methods=methods,
            method_options=method_options,
            influence=influence,
            train_influence=train_influence,
            train_items=train_items,
            ground_truth=ground_truth,
            saliency=saliency,
            saliency_threshold=saliency_threshold,
            probe=probe,
            has_spotlights=spotlights is not None,
        )
        if _comparison is not None:
            inputs = dataclasses.replace(inputs, comparison=_comparison)
        start = inputs.size_count(size)
        self._inputs = inputs
        self._store = ResultStore(inputs)
        # A comparison keeps each direction's inputs and results: switching back finds them.
        self._directions = {inputs.comparison.direction if inputs.comparison else "worse": (inputs, self._store)}
        if spotlights is not None:
            self._store.preload(spotlights)
            start = self._store.view("spotlight").size
        if _restore is not None:
            # A saved session (``load``): its results, histories and selections, not a search.
            _restore(self._store)
            start = self._store.view(inputs.methods[0]).size or start
        self._queue = SearchQueue(self._run, self._search_failed, self._searches_done)
        # Serialises publishing: the search thread and the kernel's thread both publish.
        self._publishing = threading.RLock()
        # What each part of the front end was last built from: _publish rebuilds a part
        # only when its inputs changed, so calling it again (from an observer) is cheap.
        self._built: dict[str, Any] = {}
        self._failures: list[str] = []
        given = None if coords is None or isinstance(coords, str) else check_coords(coords, inputs.n)
        self._coords: np.ndarray | None = given
        self._projection = "given" if given is not None else (coords or "none")
        self._map_task = BackgroundTask()
        columns = inputs.columns()
        super().__init__(
            n=inputs.n,
            mean_loss=float(inputs.losses.mean()),
            kind=inputs.items.kind,
            page_size=page_size,
            columns=columns,
            breakdown_column=columns[0] if columns else "",
            size=start / inputs.total,
            method=inputs.methods[0],
            methods=inputs.method_rows(),
            tabs=inputs.tab_rows(),
            sort_options=inputs.sort_options(),
            overlays=inputs.overlays.available(),
            can_probe=inputs.probe_fn is not None,
            train_kind=inputs.train_items.kind if inputs.train_items is not None else "table",
            status={"state": "idle", "progress": 0.0, "message": ""},
            direction=_comparison.direction if _comparison is not None else "worse",
            comparison={} if _comparison is None else {"names": list(_comparison.names)},
            map_state=_map_state(
                "ready" if given is not None else "none", self._projection, version=int(given is not None)
            ),
            limits={
                "thumbnails_per_request": messages.MAX_THUMBNAILS_PER_REQUEST,
                "probe_metrics": [[name, label] for name, label in messages.PROBE_METRICS.items()],
            },
        )
        self.on_msg(self._on_message)
        self._publish()
        if not self._store.view(self.method).results:
            self._submit(SearchRequest(self.method, start, implicit=True, direction=self.direction))

    @classmethod
    def from_run(
        cls,
        out_dir: Any,
        items: Any = None,
        *,
        sample: Any = 20_000,
        seed: int = 0,
        metadata: pd.DataFrame | None = None,
        labels: Any = None,
        predictions: Any = None,
        **options: Any,
    ) -> SpotlightExplorer:
        """Open the result of a distributed run (``python -m spotlight_widget.distributed``) on a sample.

        Parameters
        ----------
        out_dir : str or path
            The run's ``-o`` directory; its shard files must still be readable.
        items, metadata, labels, predictions : optional
            As for the constructor, for all N rows of the run (in the order of the shards
            concatenated): the sampled rows are taken from them.
        sample : int, array-like of int, or None
            Rows to explore: a random sample of this many (default 20,000), these global
            row numbers, or None for all rows.
        seed : int
            Seeds the sample.
        **options
            Other constructor options (``class_names``, ``page_size``...).

        The spotlights shown are the run's, on the sampled rows (their weights are the
        run's); ``ex.spotlights[k].center`` is the run's centre. The sampled rows' global
        numbers are in the ``row`` metadata column.
        """
        from ..distributed import load_run

        view = load_run(out_dir, sample, seed=seed)
        total = view.total_rows

        def rows_of(values: Any, name: str) -> Any:
            if values is None:
                return None
            if len(values) != total:
                raise ValueError(f"{name} has {len(values)} entries but the run has {total} rows")
            if isinstance(values, pd.DataFrame | pd.Series):
                return values.iloc[view.rows].reset_index(drop=True)
            if isinstance(values, list | tuple):
                return [values[i] for i in view.rows]
            return values[view.rows]

        meta = rows_of(metadata, "metadata")
        meta = pd.DataFrame({"row": view.rows}) if meta is None else meta.assign(row=view.rows)
        return cls(
            view.embeddings,
            view.losses,
            rows_of(items, "items"),
            metadata=meta,
            labels=rows_of(labels, "labels"),
            predictions=rows_of(predictions, "predictions"),
            counts=view.counts,
            spotlights=[sp for spots in view.spotlights for sp in spots],
            **options,
        )

    @classmethod
    def from_model(
        cls,
        model: Any,
        data: Any,
        *,
        items: Any = None,
        metadata: pd.DataFrame | None = None,
        layer: str | None = None,
        loss: Any = "cross_entropy",
        device: Any = None,
        batch_size: int = 256,
        pool: str | None = "mean",
        progress: bool = True,
        **options: Any,
    ) -> SpotlightExplorer:
        """Run ``model`` over ``data`` with :func:`spotlight_widget.collect` and open the explorer on the result.

        Parameters
        ----------
        model, data
            As for :func:`~spotlight_widget.collect`. Keep the data in a fixed order
            (no shuffling) so that rows match ``items`` and ``metadata``.
        items, metadata : optional
            As for the constructor, one entry per example of ``data``, in its order.
        layer, loss, batch_size, pool, progress
            As for :func:`~spotlight_widget.collect`.
        device : str or torch.device, optional
            Where the model runs (default: its parameters' device) and the search runs
            (default: the constructor's).
        **options
            Other constructor options (``class_names``, ``size``, ``coords``...).

        Equivalent to ``SpotlightExplorer(**collect(model, data).as_kwargs(), items=items,
        metadata=metadata, **options)``.
        """
        from ..collect import collect

        collected = collect(
            model, data, layer=layer, loss=loss, device=device, batch_size=batch_size, pool=pool, progress=progress
        )
        return cls(**collected.as_kwargs(), items=items, metadata=metadata, device=device, **options)

    @classmethod
    def compare(
        cls,
        embeddings: Any,
        losses_old: Any,
        losses_new: Any,
        items: Any = None,
        *,
        predictions_old: Any = None,
        predictions_new: Any = None,
        names: Sequence[str] = ("old model", "new model"),
        direction: str = "worse",
        **options: Any,
    ) -> SpotlightExplorer:
        """Explore where a new model does worse (or better) than an old one on the same examples.

        The results are regions of embedding space where the per-example loss difference
        is high: ``losses_new - losses_old`` (``direction="worse"``), or ``losses_old -
        losses_new`` ("better"; switch with ``ex.direction`` or the widget's toggle, each
        direction keeps its own results). Gallery cards, breakdowns, captions, exports and
        reports show both models' losses (and predictions, when given).

        Parameters
        ----------
        embeddings : array-like, (N, d)
            Embeddings of the examples, from either model (or any other).
        losses_old, losses_new : array-like, (N,)
            Each model's per-example losses on the same examples, in the same order.
        items : optional
            As for the constructor.
        predictions_old, predictions_new : array-like, optional
            (N,) each model's predictions; the new model's are the ``prediction`` column.
        names : pair of str
            What to call the two models in the widget and reports.
        direction : {"worse", "better"}
            Which difference to search first.
        **options
            Other constructor options (``labels``, ``metadata``, ``class_names``, ``size``...).

        Examples
        --------
        >>> ex = SpotlightExplorer.compare(emb, old.losses, new.losses, images, labels=y)  # doctest: +SKIP
        >>> ex.spotlight.weighted_loss    # mean loss difference in the first spotlight  # doctest: +SKIP
        """
        if "losses" in options or "predictions" in options:
            raise TypeError("compare takes losses_old/losses_new and predictions_old/predictions_new")
        if isinstance(names, str) or not isinstance(names, Sequence) or len(names) != 2:
            raise TypeError(f"names must be a pair of str (old, new); got {names!r}")
        if not all(isinstance(name, str) and name for name in names):
            raise TypeError(f"names must be a pair of non-empty str; got {names!r}")
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}; got {direction!r}")
        # Checked once here (the row count checks both models' losses); the constructor
        # then receives the checked tensor.
        embeddings = as_matrix(embeddings, "embeddings", dtype=torch.float32, device="cpu")
        n = embeddings.shape[0]
        comparison = Comparison(
            names=(names[0], names[1]),
            losses_old=as_vector(losses_old, "losses_old", length=n, dtype=torch.float64).numpy(),
            losses_new=as_vector(losses_new, "losses_new", length=n, dtype=torch.float64).numpy(),
            predictions_old=check_column(predictions_old, "predictions_old", n),
            predictions_new=check_column(predictions_new, "predictions_new", n),
            direction=direction,
        )
        return cls(
            embeddings,
            comparison.searched,
            items,
            predictions=comparison.predictions_new,
            _comparison=comparison,
            **options,
        )

    @classmethod
    def from_models(
        cls,
        old: Any,
        new: Any,
        data: Any,
        *,
        items: Any = None,
        metadata: pd.DataFrame | None = None,
        embeddings: str = "new",
        layer: str | None = None,
        loss: Any = "cross_entropy",
        device: Any = None,
        batch_size: int = 256,
        pool: str | None = "mean",
        progress: bool = True,
        names: Sequence[str] = ("old model", "new model"),
        **options: Any,
    ) -> SpotlightExplorer:
        """Run two models over the same data (``collect``) and open ``compare`` on them.

        Parameters
        ----------
        old, new : torch.nn.Module
            The models to compare (e.g. before and after retraining).
        data
            As for :func:`~spotlight_widget.collect`, in a fixed order (no shuffling): both
            models must see the examples in the same order.
        items, metadata : optional
            As for the constructor, one entry per example of ``data``.
        embeddings : {"new", "old"}
            Whose features (``layer``, default: the input of its last ``Linear``) the
            search runs on.
        layer, loss, batch_size, pool, progress
            As for :func:`~spotlight_widget.collect` (the same for both models).
        device : str or torch.device, optional
            Where the models and the search run.
        names : pair of str
            What to call the two models.
        **options
            Other options of ``compare`` and the constructor.

        Raises
        ------
        ValueError
            When the two passes disagree on the labels (the data is not in a fixed order).
        """
        from ..collect import collect

        if embeddings not in ("new", "old"):
            raise ValueError(f"embeddings must be 'new' or 'old' (whose features to search); got {embeddings!r}")
        runs = {}
        for which, model in (("old", old), ("new", new)):
            runs[which] = collect(
                model, data, layer=layer, loss=loss, device=device, batch_size=batch_size, pool=pool, progress=progress
            )
        before, after = runs["old"], runs["new"]
        if before.labels is not None and after.labels is not None and not np.array_equal(before.labels, after.labels):
            raise ValueError(
                "the two passes over data saw different labels: the data must be in a fixed order (no shuffling)"
            )
        labels = after.labels if after.labels is not None else before.labels
        if labels is not None:
            options.setdefault("labels", labels)
        return cls.compare(
            runs[embeddings].embeddings,
            before.losses,
            after.losses,
            items,
            predictions_old=before.predictions,
            predictions_new=after.predictions,
            names=names,
            metadata=metadata,
            device=device,
            **options,
        )

    # -- Python API -----------------------------------------------------------------------

    @property
    def spotlights(self) -> list[SliceLike]:
        """Every result of the current method so far, in the order of the history strip."""
        return list(self._store.view(self.method).results)

    @property
    def spotlight(self) -> SliceLike:
        """The result being shown (a ``Spotlight`` when the method is "spotlight")."""
        result = self._store.view(self.method).result
        if result is None:
            raise LookupError(f"no {method_info(self.method).noun} has been found yet")
        return result

    @property
    def coords(self) -> np.ndarray:
        """The map's (N, 2) coordinates (read-only), waiting for the projection if it still runs.

        Raises
        ------
        LookupError
            When the explorer has no map (``coords=None``) or its projection failed.
        """
        self._start_map()
        self._map_task.wait()
        if self._coords is None:
            raise LookupError(self.map_state.get("message") or "this explorer has no map: pass coords=")
        return self._coords

    def next(self, *, wait: bool = True) -> SliceLike | None:
        """Find the next result at the current size, like the button (paper Eq. 6 for spotlights).

        It runs after any search already asked for, at the size last asked.

        Parameters
        ----------
        wait : bool
            Block until it is found and return it; False returns None at once.

        Raises
        ------
        RuntimeError
            With ``wait``, when the search failed (the message is also shown in the widget).
        """
        self._next()
        return self._finish(wait)

    def show(self, k: int) -> SliceLike:
        """Show the k-th result of the history strip (negative k counts from the end).

        Waits for the first result if none is there yet. A search still running does not
        take the view away from it when it finishes: its result joins the history.
        """
        if not self._store.view(self.method).results:
            self.wait()
        with self._publishing:
            self._store.show(self.method, k)
            self._accepted()
            self._publish()
            return self.spotlight

    def describe_selection(self) -> SliceLike:
        """Make the selected examples a result of their own, shown under "Selections".

        It gets everything a search result gets: gallery, caption, breakdown, outline on
        the map, export; the selector then lists "Selections" beside the finders.

        Raises
        ------
        ValueError
            When nothing is selected.
        """
        with self._publishing:
            self._store.add_selection(self.selected)
            self._accepted()
            if self.method == SELECTION.name:
                self._publish()
            else:
                self.method = SELECTION.name
            return self.spotlight

    def save(self, path: Any) -> pathlib.Path:
        """Write the session to one file that ``SpotlightExplorer.load`` reopens.

        The file (a zip of JSON and ``.npy`` arrays, read without pickle, so opening a
        shared file runs no code) holds fingerprints of the data, every method's history
        with each result's weights (and a spotlight's centre and precision), the shown
        positions, the selections and the notes. The data itself is not saved.

        Parameters
        ----------
        path : str or path
            Where to write (``.spotlight`` is the conventional suffix).

        Returns
        -------
        pathlib.Path
            The file written.
        """
        from .session_file import save_session

        self.wait()
        with self._publishing:
            return save_session(path, self._inputs, self._store, view=self._view_state())

    @classmethod
    def load(cls, path: Any, embeddings: Any, losses: Any, items: Any = None, **options: Any) -> SpotlightExplorer:
        """Reopen a session written by ``save`` on the same data.

        Parameters
        ----------
        path : str or path
            The saved file.
        embeddings, losses, items, **options
            As for the constructor: the data the session was saved on. A comparison
            (``compare``) reopens from ``losses=(losses_old, losses_new)``, with its
            ``predictions_old``/``predictions_new`` among the options; it comes back in
            the direction it was saved in, with that direction's results.

        Raises
        ------
        ValueError
            When the data does not match the saved fingerprints, or the file is not a
            saved session.
        """
        from .session_file import load_session

        return load_session(cls, path, embeddings, losses, items, **options)

    def report(self, path: Any, *, top: int = 12, title: str | None = None) -> pathlib.Path:
        """Write a self-contained static HTML page of the audit: every result in every history.

        For each result: its caption, size, top thumbnails, breakdown per column with
        intervals, and its note. A comparison reports the direction shown. No scripts, no network: images are inlined and every
        text from the data is escaped, so it opens offline in any browser.

        Parameters
        ----------
        path : str or path
            The ``.html`` file to write.
        top : int
            Thumbnails per result.
        title : str, optional
            The page's title.

        Returns
        -------
        pathlib.Path
            The file written.
        """
        from .audit_report import write_report

        self.wait()
        with self._publishing:
            return write_report(path, self._inputs, self._store, top=top, title=title)

    def note(self, text: str, *, method: str | None = None, position: int | None = None) -> None:
        """Attach a note to a result (default: the one shown); it is saved and reported.

        An empty text removes the note.
        """
        if not isinstance(text, str):
            raise TypeError(f"a note is text; got {type(text).__name__}")
        if len(text) > MAX_NOTE:
            raise ValueError(f"a note holds at most {MAX_NOTE:,} characters; got {len(text):,}")
        if method is not None and method not in (*self._inputs.methods, SELECTION.name):
            raise ValueError(f"unknown method {method!r}; this explorer has {', '.join(self._inputs.methods)}")
        with self._publishing:
            method = self.method if method is None else method
            view = self._store.view(method)
            self._store.set_note(method, view.current if position is None else position, text)
            self._publish()

    @property
    def notes(self) -> dict[str, dict[int, str]]:
        """Every note, by method and history position."""
        return self._store.notes()

    def _view_state(self) -> dict[str, Any]:
        """What the user looks at, as a saved session restores it."""
        return {name: getattr(self, name) for name in sorted(WRITABLE)}

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every search asked for has finished; True when idle, False on timeout."""
        return self._queue.wait(timeout)

    def close(self) -> None:
        """Stop the searches and close the widget."""
        # Also called by __del__, of an explorer whose construction may have failed early.
        for task in (self.__dict__.get("_queue"), self.__dict__.get("_map_task")):
            if task is not None:
                task.close()
        super().close()

    def to_dataframe(self, spotlight: int | SliceLike | None = None) -> pd.DataFrame:
        """The selection (default) or a result's members, with every metadata column.

        Columns: ``index``, ``weight``, ``loss``, ``count`` and ``in_top`` (the example is
        among the result's top S), as every export has them (``Spotlight.to_frame``, the
        command line), then ``label`` and ``prediction`` when given, then the metadata.

        Parameters
        ----------
        spotlight : int, Spotlight or Slice, optional
            A history position or a result: export its members (highest weight first)
            with its weights. Default: the selected examples, with the shown result's weights.
        """
        view = self._store.view(self.method)
        if spotlight is None:
            return payloads.export_frame(self._inputs, view.selection, view.result)
        if isinstance(spotlight, (int, np.integer)) and not isinstance(spotlight, bool):
            count = len(view.results)
            if not -count <= spotlight < count:
                raise IndexError(f"no result #{spotlight}: {count} found so far")
            chosen = view.results[spotlight]
        elif all(hasattr(spotlight, a) for a in ("weights", "indices", "top_indices")):
            chosen = spotlight
            if np.shape(chosen.weights) != (self._inputs.n,):
                raise ValueError(f"that result has weights for {len(chosen.weights)} examples; here are {self.n}")
        else:
            raise TypeError(f"spotlight must be a history position (int) or a result; got {spotlight!r}")
        return payloads.export_frame(self._inputs, chosen.indices, chosen)

    def figure(self, view: str = "gallery", **options: Any):
        """A view of the current result as a matplotlib figure, for reports and papers.

        Needs matplotlib (``pip install 'spotlight-widget[figures]'``).

        Parameters
        ----------
        view : {"gallery", "breakdown", "sizes", "size-loss", "map"}
            "gallery": the result's highest-weight images (``figures.gallery_figure``);
            "breakdown": shares in the result vs overall for one column (``column=``,
            default: the column the explorer shows; ``figures.breakdown_figure``);
            "sizes": the first result of every size looked at, one row each
            (``figures.sizes_figure``, the paper's Figure D1); "size-loss": size against
            mean loss of the results in the history strip against K-means clusters at
            the current size (``figures.size_loss_figure``, the paper's Figure B1); "map":
            the map coloured as the widget colours it (``map_color``), every history entry
            outlined and the selection circled (``figures.map_figure``).
        **options
            Passed to the figure function (e.g. ``n=``, ``ncols=``, ``top=``).

        Returns
        -------
        matplotlib.figure.Figure
        """
        if not self._store.view(self.method).results:
            self.wait()
        if view == "map":
            return self._map_figure(**options)
        if view == "breakdown":
            options.setdefault("column", self.breakdown_column or None)
        return view_figure(self._inputs, self._store.view(self.method), view, **options)

    def _map_figure(self, **options: Any):
        from .. import figures

        coords = self.coords
        with self._publishing:
            view = self._store.view(self.method)
            by, layers = self.map_color, list(self.map_layers)
            if by == "weights":
                color = None if view.result is None else view.result.weights
                label = f"{method_info(view.method).noun} weight"
            elif by == "loss":
                color, label = self._inputs.losses, "loss"
            else:
                label = by.removeprefix("column:")
                color = self._inputs.column_values(label)
            options = {
                "outlines": [layer["hull"] for layer in layers],
                "current": view.current if layers else None,
                "selected": list(self.selected) or None,
                "label": label,
                "title": f"{method_info(view.method).label}: {len(layers)} in the history",
                **options,
            }
        return figures.map_figure(coords, color, **options)

    # -- validation: a refused value never lands -------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in WRITABLE:
            super().__setattr__(name, value)
            return
        # A user's change and its observers run as one step against publishing, which
        # would otherwise write back a snapshot taken just before the change.
        with self._publishing:
            try:
                super().__setattr__(name, value)
            except t.TraitError as exc:
                self.error = str(exc)
                raise

    def set_state(self, sync_data: dict) -> None:
        """Apply the front end's changes one by one: a refused one is shown and sent back."""
        for name, value in sync_data.items():
            if name not in WRITABLE:
                self.error = f"the front end cannot set {name!r}"
                continue
            with self._publishing:
                try:
                    super().set_state({name: value})
                except t.TraitError as exc:
                    self.error = str(exc)
                    self.send_state(name)

    @t.validate("size")
    def _valid_size(self, proposal) -> float:
        value = proposal["value"]
        try:
            count = self._inputs.size_count(value)
        except (TypeError, ValueError) as exc:
            raise t.TraitError(str(exc)) from None
        return count / self._inputs.total

    @t.validate("current")
    def _valid_current(self, proposal) -> int:
        position, count = proposal["value"], len(self._store.view(self.method).results)
        if position == -1 and count == 0:
            return position
        if not 0 <= position < count:
            raise t.TraitError(f"no {method_info(self.method).noun} #{position}: {count} found so far")
        return position

    @t.validate("method")
    def _valid_method(self, proposal) -> str:
        if proposal["value"] not in self._offered():
            offered = ", ".join(self._offered())
            raise t.TraitError(f"unknown method {proposal['value']!r}; this explorer offers {offered}")
        return proposal["value"]

    def _offered(self) -> tuple[str, ...]:
        """The methods the selector lists: the finders, then the selections once there are some."""
        described = bool(self._store.view(SELECTION.name).results)
        return (*self._inputs.methods, SELECTION.name) if described else self._inputs.methods

    @t.validate("tab")
    def _valid_tab(self, proposal) -> str:
        if proposal["value"] not in self._inputs.tabs():
            raise t.TraitError(f"unknown tab {proposal['value']!r}; one of {', '.join(self._inputs.tabs())}")
        return proposal["value"]

    @t.validate("selected")
    def _valid_selected(self, proposal) -> list[int]:
        n = self._inputs.n
        bad = [i for i in proposal["value"] if not 0 <= i < n]
        if bad:
            raise t.TraitError(f"selected: example indices must be in [0, {n - 1}]; got {bad[:5]}")
        return sorted(set(proposal["value"]))

    @t.validate("breakdown_column", "filter_column")
    def _valid_column(self, proposal) -> str:
        name, columns = proposal["value"], self._inputs.columns()
        if name and name not in columns:
            what = "break down" if proposal["trait"].name == "breakdown_column" else "filter"
            raise t.TraitError(f"cannot {what} by {name!r}; choose from {', '.join(columns) or 'no column'}")
        return name

    @t.validate("filter_group")
    def _valid_group(self, proposal) -> str:
        group = proposal["value"]
        if group and group not in self._inputs.group_names(self.filter_column):
            raise t.TraitError(f"{self.filter_column or 'no column'} has no group {group!r}")
        return group

    @t.validate("sort_by")
    def _valid_sort(self, proposal) -> str:
        name, options = proposal["value"], self._inputs.sort_options()
        if name and name not in options:
            raise t.TraitError(f"cannot sort by {name!r}; choose from {', '.join(options)}")
        return name

    @t.validate("overlay")
    def _valid_overlay(self, proposal) -> str:
        available = self._inputs.overlays.available()
        if proposal["value"] not in available:
            raise t.TraitError(f"no {proposal['value']!r} overlay; choose from {', '.join(available)}")
        return proposal["value"]

    @t.validate("map_color")
    def _valid_map_color(self, proposal) -> str:
        value = proposal["value"]
        column = value.removeprefix("column:")
        if value not in ("weights", "loss") and not (value.startswith("column:") and column in self._inputs.columns()):
            options = ", ".join(["weights", "loss", *(f"column:{c}" for c in self._inputs.columns())])
            raise t.TraitError(f"cannot colour the map by {value!r}; choose from {options}")
        return value

    @t.validate("detail")
    def _valid_detail(self, proposal) -> int:
        index = proposal["value"]
        if index != -1 and not 0 <= index < self._inputs.n:
            raise t.TraitError(f"example index {index} is out of range (0 to {self._inputs.n - 1})")
        return index

    # -- the user's actions ---------------------------------------------------------------

    @t.observe("size")
    def _on_size(self, change) -> None:
        count = round(change["new"] * self._inputs.total)
        asked = self._queue.asked_size(self.method, self.direction)
        if count == (asked if asked is not None else self._store.view(self.method).size):
            return
        self._accepted()
        self._submit(SearchRequest(self.method, count, moves=self._store.moves(self.method), direction=self.direction))

    @t.observe("current")
    def _on_current(self, change) -> None:
        if change["new"] == self._store.view(self.method).current:
            return
        self._store.show(self.method, change["new"])
        self._accepted()
        self._publish()

    @t.observe("method")
    def _on_method(self, change) -> None:
        self._accepted()
        self._publish()
        self._search_if_empty(change["new"])

    def _search_if_empty(self, method: str) -> None:
        """Start the first search of a method that has no result (in this direction) yet."""
        if not self._store.view(method).results and self._queue.asked_size(method, self.direction) is None:
            count = self._inputs.size_count(self.size)
            request = SearchRequest(
                method, count, implicit=True, moves=self._store.moves(method), direction=self.direction
            )
            self._submit(request)

    @t.observe("direction")
    def _on_direction(self, change) -> None:
        comparison = self._inputs.comparison
        if change["new"] not in self._directions:
            other = dataclasses.replace(comparison, direction=change["new"])
            inputs = dataclasses.replace(self._inputs, comparison=other, losses=other.searched)
            self._directions[change["new"]] = (inputs, ResultStore(inputs))
        self._inputs, self._store = self._directions[change["new"]]
        # Every part was built from the other direction's results: rebuild them all.
        self._built.clear()
        self._accepted()
        self._publish()
        if self.method == SELECTION.name and not self._store.view(SELECTION.name).results:
            self.method = self._inputs.methods[0]
        else:
            self._search_if_empty(self.method)

    @t.validate("direction")
    def _valid_direction(self, proposal) -> str:
        if self._inputs.comparison is None and proposal["value"] != "worse":
            raise t.TraitError(
                "direction applies to a comparison of two models: open it with SpotlightExplorer.compare"
            )
        return proposal["value"]

    @t.observe("selected")
    def _on_selected(self, change) -> None:
        if tuple(change["new"]) != self._store.view(self.method).selection:
            self._store.select(self.method, change["new"])
            self._accepted()

    @t.observe(
        "tab", "page", "page_size", "breakdown_column", "sort_by", "sort_descending", "filter_column", "filter_group"
    )
    def _on_view(self, change) -> None:
        name = change["name"]
        if name == "filter_column" and self.filter_group not in ("", *self._inputs.group_names(change["new"])):
            self.filter_group = ""
        if name in ("tab", "sort_by", "sort_descending", "filter_column", "filter_group") and self.page:
            self.page = 0
        self._accepted()
        self._publish()

    @t.validate("shown_note")
    def _valid_note(self, proposal) -> str:
        text = proposal["value"]
        if len(text) > MAX_NOTE:
            raise t.TraitError(f"a note holds at most {MAX_NOTE:,} characters; got {len(text):,}")
        if text and not self._store.view(self.method).results:
            raise t.TraitError(f"no {method_info(self.method).noun} to note yet")
        return text

    @t.observe("shown_note")
    def _on_note(self, change) -> None:
        view = self._store.view(self.method)
        if view.results and change["new"] != self._store.notes().get(self.method, {}).get(view.current, ""):
            self._store.set_note(self.method, view.current, change["new"])
            self._accepted()

    @t.observe("overlay", "detail")
    def _on_accepted(self, change) -> None:
        self._accepted()

    def _next(self) -> None:
        method = self.method
        count = self._inputs.size_count(self.size)
        self._accepted()
        request = SearchRequest(
            method, count, next_rank=True, moves=self._store.moves(method), direction=self.direction
        )
        self._submit(request)

    def _accepted(self) -> None:
        """A user action went through: earlier refusals and failures are no longer news."""
        self.error = ""
        self._failures = []
        if self.status.get("state") == "error":
            self.status = {"state": "idle", "progress": 1.0, "message": ""}

    def _finish(self, wait: bool) -> SliceLike | None:
        if not wait:
            return None
        self.wait()
        if self.status.get("state") == "error":
            raise RuntimeError(self.status.get("message") or self.error or "the search failed")
        return self.spotlight

    # -- searches (run by the worker thread) ----------------------------------------------

    def _submit(self, request: SearchRequest) -> None:
        # Before queueing: the worker's own updates then always come after this one.
        self.status = {"state": "running", "progress": 0.0, "message": _doing(request)}
        self._queue.submit(request)

    def _run(self, request: SearchRequest, cancel: threading.Event) -> None:
        doing = _doing(request)
        self.status = {"state": "running", "progress": 0.0, "message": doing}

        def progress(p: SearchProgress) -> None:
            # Companion fits go through named stages (PlaneSpot's "scvis" is the long one).
            step = f"step {p.step}" if request.method == "spotlight" else f"{p.stage} {p.step}/{p.total}"
            fraction = min(1.0, p.step / max(p.total, 1))
            self.status = {"state": "running", "progress": fraction, "message": f"{doing}: {step}"}

        _, store = self._directions[request.direction]
        store.find(
            request.method,
            request.size,
            next_rank=request.next_rank,
            moves=request.moves,
            progress=progress,
            cancel=cancel,
        )
        self._publish()

    def _search_failed(self, request: SearchRequest, exc: BaseException) -> None:
        if not isinstance(exc, LookupError):
            log.error("%s failed", _doing(request), exc_info=exc)
        message = f"{_doing(request)} failed: {exc}"
        # The methods that cluster return nothing where nothing stands out; the Spotlight
        # always returns its best region, which may still be worth a look.
        if isinstance(exc, NothingStandsOut) and request.method != "spotlight" and "spotlight" in self._offered():
            message += "; the Spotlight, in the method selector, always shows its best region"
        self._failures.append(message)
        # The last good result stays; the size control goes back to it.
        self._publish()

    def _searches_done(self) -> None:
        if self._failures:
            message = "; ".join(self._failures)
            self.error = message
            self.status = {"state": "error", "progress": 0.0, "message": message}
        else:
            self.status = {"state": "idle", "progress": 1.0, "message": ""}

    # -- publishing -----------------------------------------------------------------------

    def _publish(self) -> None:
        """Bring every published trait in line with the store and the view traits.

        Each part (history, page, breakdown) is rebuilt only when what it is built from
        changed; a part that fails keeps its last good content and its error is shown.
        """
        with self._publishing, self.hold_sync():
            inputs = self._inputs
            self.methods = [{key: getattr(method_info(m), key) for key in PUBLISHED} for m in self._offered()]
            view = self._store.view(self.method)
            entry = view.entries[view.current] if view.entries else None
            shown = (view.method, entry)
            self._part("history", (view.method, view.entries), lambda: self._history_rows(view))
            self.current = view.current
            asked = self._queue.asked_size(view.method, self.direction)
            size = asked if asked is not None else view.size
            if size is not None:
                self.size = size / inputs.total
            self.selected = list(view.selection)
            self.shown_note = self._store.notes().get(view.method, {}).get(view.current, "")
            if self._built.get("shown") != shown:
                self._built["shown"] = shown
                if self.tab in ("spotlight", "opponents"):
                    self.page = 0
            self.filter_groups = inputs.group_names(self.filter_column)
            arrangement = Arrangement(self.sort_by, self.sort_descending, self.filter_column, self.filter_group)
            page_key = (shown, self.tab, self.page, self.page_size, arrangement)
            self._part("page", page_key, lambda: self._page(view, arrangement))
            self._part(
                "map_layers",
                (view.method, view.entries, view.current, self.map_state.get("version")),
                lambda: setattr(self, "map_layers", self._map_layers(view)),
            )
            self._part(
                "breakdown",
                (shown, self.breakdown_column),
                lambda: setattr(self, "breakdown", payloads.breakdown_rows(inputs, view.result, self.breakdown_column)),
            )
            if self._failures and not self._queue.busy:
                self._searches_done()

    def _part(self, name: str, key: Any, build: Any) -> None:
        if self._built.get(name) == key:
            return
        try:
            build()
        except Exception as exc:  # shown to the user; the part keeps its last good content
            log.error("could not show the %s", name, exc_info=exc)
            self._failures.append(f"could not show the {name}: {exc}")
        self._built[name] = key

    def _map_layers(self, view: MethodView) -> list[dict]:
        if self._coords is None:
            return []
        coords, seed, version = self._coords, self._inputs.seed, self.map_state.get("version")
        layers = []
        for position, (entry, result) in enumerate(zip(view.entries, view.results, strict=True)):
            # Outlines depend on the result and the coordinates only: showing another entry reuses them.
            outline = self._store.memo(
                f"outline@{version}",
                view.method,
                entry,
                lambda r=result: hull(outline_points(coords, r.top_indices, seed=seed)),
            )
            current = position == view.current
            layers.append({"position": position, "label": f"#{position + 1}", "current": current, "hull": outline})
        return layers

    def _history_rows(self, view: MethodView) -> None:
        captions = []
        for entry, result in zip(view.entries, view.results, strict=True):

            def describe(result: SliceLike = result) -> str:
                try:
                    return payloads.caption_of(self._inputs, result)
                except Exception as exc:  # a caption is a convenience: the result shows without one
                    self._failures.append(f"no caption for {method_info(view.method).noun} #{result.rank + 1}: {exc}")
                    return ""

            captions.append(self._store.memo("caption", view.method, entry, describe))
        self.history = payloads.history_rows(self._inputs, view, captions)

    def _page(self, view: MethodView, arrangement: Arrangement) -> None:
        inputs = self._inputs
        opponents = None
        if self.tab == "opponents" and view.result is not None:
            entry = view.entries[view.current]
            opponents = self._store.memo(
                "opponents", view.method, entry, lambda: opponents_of(inputs, view.result, OPPONENTS)
            )
        order = payloads.gallery_order(inputs, self.tab, view.result, arrangement, opponents)
        self.page_items = payloads.page_items(
            inputs, self.tab, view.result, order, self.page, self.page_size, opponents
        )
        self.total_items = len(order)

    # -- the map ----------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any):
        self._start_map()
        return super()._repr_mimebundle_(**kwargs)

    def _start_map(self) -> None:
        """Start the projection the first time the map is needed.

        When the explorer is shown in a notebook, the front end's map asks for
        coordinates, or ``ex.coords`` is read; not when the explorer is only used from
        Python: scripts and tests do not pay for a map nobody sees.
        """
        with self._publishing:
            if self.map_state.get("state") == "none" and self._projection not in ("given", "none"):
                self.map_state = _map_state("computing", self._projection, message="map: starting")
                self._map_task.start(self._project)

    def _project(self, cancel: threading.Event) -> None:
        """Compute the map's coordinates (the map task's thread).

        A map that takes seconds (scvis, UMAP) is preceded by a PCA preview, drawn in a
        fraction of a second and replaced when the real one arrives.
        """
        inputs, projection = self._inputs, self._projection
        method = auto_method(inputs.n) if projection == "auto" else projection
        embeddings = inputs.embeddings.numpy()
        key = fingerprint(embeddings, method, inputs.seed)
        state: dict[str, Any] = {"state": "computing", "projection": method, "refining": False}

        def show(coords: np.ndarray | None = None, **changes: Any) -> None:
            with self._publishing:
                state.update(changes)
                version = self.map_state.get("version", 0)
                if coords is not None:
                    self._coords = coords
                    version += 1
                self.map_state = _map_state(**state, version=version)
                if coords is not None:
                    self._publish()

        def progress(p: SearchProgress) -> None:
            show(progress=min(1.0, p.step / max(p.total, 1)), message=f"map: {p.stage} {p.step}/{p.total}")

        try:
            if method != "pca" and not CACHE.has(key):
                preview = pca(embeddings, dims=2, seed=inputs.seed, cancel=cancel)
                message = f"map: a PCA preview while {method} computes"
                show(preview, state="ready", projection="pca", refining=True, message=message)
                state["projection"] = method
            else:
                show(message=f"map: projecting {inputs.n:,} examples ({method})")
            coords = CACHE.get_or_compute(
                key, lambda: project(embeddings, method, seed=inputs.seed, progress=progress, cancel=cancel)
            )
        except SearchCancelled:
            return
        except Exception as exc:  # shown on the map panel; the rest of the explorer works without it
            log.error("the map's projection failed", exc_info=exc)
            show(state="error", refining=False, message=f"the map could not be drawn: {exc}")
            return
        show(coords, state="ready", projection=method, refining=False, progress=1.0, message="")

    def _colors(self, by: str) -> tuple[dict, bytes]:
        inputs = self._inputs
        if by == "weights":
            result = self._store.view(self.method).result
            noun = method_info(self.method).noun
            weights = np.full(inputs.n, np.nan) if result is None else np.asarray(result.weights, dtype=np.float64)
            colors = continuous(weights, f"{noun} weight", lo=0.0, hi=1.0)
        elif by == "loss":
            colors = continuous(inputs.losses, "loss")
        elif by.startswith("column:") and by.removeprefix("column:") in inputs.columns():
            column = by.removeprefix("column:")
            colors = column_colors(inputs.column_values(column), column)
        else:
            raise messages.RequestError(f"colors: cannot colour by {by!r}")
        return colors.legend, colors.codes.tobytes()

    def _select_region(self, chosen: np.ndarray, mode: str) -> int:
        with self._publishing:
            self.selected = combine(list(self.selected), chosen, mode)
            return len(self.selected)

    # -- custom messages ------------------------------------------------------------------

    def _on_message(self, _widget, content: Any, _buffers) -> None:
        rid = messages.request_id(content)
        try:
            inputs = self._inputs
            n_train = 0 if inputs.train_influence is None else len(inputs.train_influence)
            request = messages.parse(content, inputs.n, n_train)
            reply, buffers = self._serve(request)
        except Exception as exc:  # answered to the front end, never raised in the comm
            if not isinstance(exc, (messages.RequestError, ValueError, LookupError)):
                log.exception("request failed")
            self.send({"id": rid, "error": str(exc)})
            return
        self.send(reply, buffers)

    def _serve(self, request: messages.Request) -> tuple[dict, list[bytes]]:
        inputs = self._inputs
        if isinstance(request, messages.Thumbnails):
            source = inputs.items if request.source == "data" else inputs.train_items
            if source.kind != "images":
                raise messages.RequestError("these examples have no images")
            overlay = self.overlay if request.source == "data" else "none"
            pngs = [self._thumbnail(source, i, overlay) for i in request.indices]
            reply = {"type": "thumbnails", "id": request.id, "indices": request.indices, "source": request.source}
            return reply | {"mime": "image/png"}, pngs
        if isinstance(request, messages.Detail):
            return {
                "id": request.id,
                **payloads.detail(inputs, request.index, self._store.view(self.method).result),
            }, []
        if isinstance(request, messages.Next):
            self._next()
            return {"id": request.id, "ok": True}, []
        if isinstance(request, messages.Select):
            result = self._store.view(self.method).result
            if result is None and request.mode != "none":
                raise messages.RequestError(f"wait for the first {method_info(self.method).noun}")
            chosen = [] if result is None else payloads.selection(result, request.mode, request.threshold)
            self.selected = chosen
            return {"id": request.id, "ok": True, "count": len(chosen)}, []
        if isinstance(request, messages.Coords):
            # A map view asking for coordinates is what starts them where nothing else has;
            # it then follows map_state until they are ready.
            self._start_map()
            if self.map_state.get("state") == "computing":
                return {"type": "coords", "id": request.id, "state": "computing"}, []
        if isinstance(request, (messages.Coords, messages.Lasso, messages.Box)) and self._coords is None:
            raise messages.RequestError(self.map_state.get("message") or "the map is not ready yet")
        if isinstance(request, messages.Coords):
            coords = self._coords
            lo, hi = coords.min(axis=0), coords.max(axis=0)
            reply = {"type": "coords", "id": request.id, "n": inputs.n, "version": self.map_state.get("version", 0)}
            return reply | {"bounds": [float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])]}, [coords.tobytes()]
        if isinstance(request, messages.Colors):
            legend, codes = self._colors(request.by)
            return {"type": "colors", "id": request.id, "by": request.by, "legend": legend}, [codes]
        stale = isinstance(request, (messages.Lasso, messages.Box)) and request.version is not None
        if stale and request.version != self.map_state.get("version"):
            raise messages.RequestError("the map changed while the region was drawn: draw it again")
        if isinstance(request, messages.Lasso):
            count = self._select_region(inside_polygon(self._coords, np.array(request.polygon)), request.mode)
            return {"id": request.id, "ok": True, "count": count}, []
        if isinstance(request, messages.Box):
            count = self._select_region(inside_box(self._coords, request.box), request.mode)
            return {"id": request.id, "ok": True, "count": count}, []
        if isinstance(request, messages.Describe):
            result = self.describe_selection()
            return {"id": request.id, "ok": True, "count": len(result.top_indices)}, []
        if isinstance(request, messages.Probe):
            if inputs.probe_fn is None:
                raise LookupError("no probe: pass probe= (an image -> per-class saliency callable)")
            # The model runs in the kernel's thread: probing is one image, one backward pass per class.
            image = np.asarray(inputs.items.images()[request.index])
            rows = probe_region(
                inputs.probe_fn,
                image,
                request.boxes,
                metric=request.metric,
                threshold=inputs.saliency_threshold,
                class_names=inputs.class_names,
            )
            return {"id": request.id, "metric": request.metric, "classes": rows}, []
        raise messages.RequestError("unknown request")  # pragma: no cover - parse() covers every type

    def _thumbnail(self, source: Any, index: int, overlay: str) -> bytes:
        if overlay == "none":
            return source.png(index)
        overlays = self._inputs.overlays
        return source.png(index, lambda image: overlays.paint(image, index, overlay), overlay)


def _map_state(
    state: str,
    projection: str,
    *,
    progress: float = 0.0,
    message: str = "",
    version: int = 0,
    refining: bool = False,
) -> dict:
    """A value of the ``map_state`` trait (``MapState`` in js/types.js).

    ``refining``: the map shown is a preview and a better one is being computed.
    """
    done = 1.0 if state == "ready" and not refining else progress
    return {
        "state": state,
        "progress": done,
        "message": message,
        "version": version,
        "projection": projection,
        "refining": refining,
    }


def _doing(request: SearchRequest) -> str:
    """What a search is doing, as the status line says it."""
    info = method_info(request.method)
    if request.method == "spotlight":
        return f"searching S = {request.size}" + (" (next)" if request.next_rank else "")
    return f"fitting {info.label}" + (f": S = {request.size}" if info.sized else "")
