"""``SpotlightExplorer``: the notebook widget (a thin anywidget over ``ExplorerSession``)."""

from __future__ import annotations

import logging
import pathlib
import threading
from collections.abc import Sequence
from typing import Any

import anywidget
import pandas as pd
import traitlets as t

from ..engine import SearchProgress, Spotlight
from ..slices import SliceLike
from . import messages
from .jobs import Jobs
from .session import METHODS, ExplorerSession

STATIC = pathlib.Path(__file__).resolve().parent.parent / "static"
_TEXT_PREVIEW = 400

log = logging.getLogger(__name__)


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
        "spotlight", "highest-loss", "kmeans", "gmm", "infembed" when ``influence`` is
        given, and "planespot" and "domino-style" when ``probs`` and ``labels`` are.
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

    n = t.Int(0).tag(sync=True)
    mean_loss = t.Float(0.0).tag(sync=True)
    kind = t.Unicode("table").tag(sync=True)
    history = t.List().tag(sync=True)
    current = t.Int(-1).tag(sync=True)
    size = t.Float(0.02).tag(sync=True)
    status = t.Dict().tag(sync=True)
    tab = t.Unicode("spotlight").tag(sync=True)
    page = t.Int(0).tag(sync=True)
    page_size = t.Int(48).tag(sync=True)
    total_items = t.Int(0).tag(sync=True)
    page_items = t.List().tag(sync=True)
    selected = t.List().tag(sync=True)
    columns = t.List().tag(sync=True)
    breakdown_column = t.Unicode("").tag(sync=True)
    breakdown = t.List().tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    method = t.Unicode("spotlight").tag(sync=True)
    methods = t.List().tag(sync=True)
    tabs = t.List().tag(sync=True)
    # "none", "ground-truth", "saliency" or "both"; overlays lists those this data has.
    overlay = t.Unicode("none").tag(sync=True)
    overlays = t.List().tag(sync=True)
    can_probe = t.Bool(False).tag(sync=True)
    # Gallery arrangement: sort by weight, loss or a column ("": the list's own order);
    # filter to one group of a column ("" group: no filter). filter_groups is Python's answer.
    sort_by = t.Unicode("").tag(sync=True)
    sort_descending = t.Bool(True).tag(sync=True)
    sort_options = t.List().tag(sync=True)
    filter_column = t.Unicode("").tag(sync=True)
    filter_group = t.Unicode("").tag(sync=True)
    filter_groups = t.List().tag(sync=True)
    train_kind = t.Unicode("table").tag(sync=True)
    # The example open in the detail panel (-1: closed); written by the front end.
    detail = t.Int(-1).tag(sync=True)

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
    ):
        self._session = ExplorerSession(
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
        )
        start = self._session.size_count(size)
        # Each method keeps its own selection; the `selected` trait shows the current one's.
        self._selections: dict[str, list[int]] = {}
        self._jobs = Jobs()
        # The initial values below are the session's own: nothing to act on.
        self._quiet = True
        s = self._session
        columns = s.columns()
        super().__init__(
            n=s.n,
            mean_loss=float(s.losses.mean()),
            kind=s.items.kind,
            page_size=page_size,
            columns=columns,
            breakdown_column=columns[0] if columns else "",
            size=start / s.n,
            method=s.method,
            methods=s.method_rows(),
            tabs=s.tab_rows(),
            sort_options=s.sort_options(),
            overlays=s.overlays.available(),
            can_probe=s.probe_fn is not None,
            train_kind=s.train_items.kind if s.train_items is not None else "table",
            status={"state": "idle", "progress": 0.0, "message": ""},
        )
        self._quiet = False
        self.on_msg(self._on_message)
        if spotlights is not None:
            s.preload(spotlights)
            self._publish_spotlight()
        else:
            self._publish_page()
            self._search(start)

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

    # -- Python API -----------------------------------------------------------------------

    @property
    def spotlights(self) -> list[SliceLike]:
        """Every result of the current method so far, in the order of the history strip."""
        with self._session.lock:
            return [self._session.spotlight(i) for i in range(len(self._session.history))]

    @property
    def spotlight(self) -> SliceLike:
        """The result being shown (a ``Spotlight`` when the method is "spotlight")."""
        return self._session.spotlight()

    def next(self, *, wait: bool = True) -> SliceLike | None:
        """Find the next result at the current size, like the button (paper Eq. 6 for spotlights)."""
        self._wait_first()
        self._search(self._session.current_size(), next_rank=True)
        return self._finish(wait)

    def show(self, k: int) -> SliceLike:
        """Show the k-th result of the history strip."""
        self._wait_first()
        spot = self._session.spotlight(k)
        self.current = k % len(self._session.history)
        return spot

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the running search (if any) has finished; True when idle."""
        return self._jobs.wait(timeout)

    def to_dataframe(self, spotlight: int | SliceLike | None = None) -> pd.DataFrame:
        """The selection (default) or a spotlight's members, with every metadata column.

        Parameters
        ----------
        spotlight : int, Spotlight or Slice, optional
            A history position or a result: export its members (highest weight first)
            with its weights. Default: the selected examples, with the current weights.
        """
        s = self._session
        with s.lock:
            if spotlight is None:
                return s.to_dataframe(indices=list(self.selected))
            chosen = s.spotlight(spotlight) if isinstance(spotlight, int) else spotlight
            return s.to_dataframe(spotlight=chosen)

    def figure(self, view: str = "gallery", **options: Any):
        """A view of the current result as a matplotlib figure, for reports and papers.

        Needs matplotlib (``pip install 'spotlight-widget[figures]'``).

        Parameters
        ----------
        view : {"gallery", "breakdown", "sizes", "size-loss"}
            "gallery": the result's highest-weight images (``figures.gallery_figure``);
            "breakdown": shares in the result vs overall for one column (``column=``,
            default: the column the explorer shows; ``figures.breakdown_figure``);
            "sizes": the first result of every size looked at, one row each
            (``figures.sizes_figure``, the paper's Figure D1); "size-loss": size against
            mean loss of the results in the history strip against K-means clusters at
            the current size (``figures.size_loss_figure``, the paper's Figure B1).
        **options
            Passed to the figure function (e.g. ``n=``, ``ncols=``, ``top=``).

        Returns
        -------
        matplotlib.figure.Figure
        """
        self._wait_first()
        if view == "breakdown":
            options.setdefault("column", self.breakdown_column or None)
        with self._session.lock:
            return self._session.figure(view, **options)

    # -- searches -------------------------------------------------------------------------

    def _wait_first(self) -> None:
        if not self._session.history:
            self.wait()
        if not self._session.history:
            raise RuntimeError(self.error or "no spotlight could be found")

    def _finish(self, wait: bool) -> SliceLike | None:
        if not wait:
            return None
        self.wait()
        if self.status.get("state") == "error":
            raise RuntimeError(self.status.get("message", "the search failed"))
        return self._session.spotlight()

    def _search(self, size: int, *, next_rank: bool = False) -> None:
        method = self._session.method
        info = METHODS[method]
        if method == "spotlight":
            doing = f"searching S = {size}"
        else:
            doing = f"fitting {info.label}" + (f": S = {size}" if info.sized else "")
        self.status = {"state": "running", "progress": 0.0, "message": doing}

        def progress(p: SearchProgress) -> None:
            # Companion fits go through named stages (PlaneSpot's "scvis" is the long one).
            step = f"step {p.step}" if method == "spotlight" else f"{p.stage} {p.step}/{p.total}"
            self.status = {
                "state": "running",
                "progress": min(1.0, p.step / max(p.total, 1)),
                "message": f"{doing}: {step}",
            }

        def work(cancel: threading.Event):
            return self._session.search(size, next_rank=next_rank, progress=progress, cancel=cancel)

        def done(_entry) -> None:
            self._publish_spotlight()
            self.status = {"state": "idle", "progress": 1.0, "message": ""}
            self.error = ""

        def failed(exc: BaseException) -> None:
            log.exception("spotlight search failed", exc_info=exc)
            self.status = {"state": "error", "progress": 0.0, "message": str(exc)}
            self.error = f"search failed: {exc}"

        self._jobs.run(work, done, failed)

    # -- publishing state -----------------------------------------------------------------

    def _publish_spotlight(self) -> None:
        s = self._session
        with s.lock, self.hold_sync():
            self.history = s.history_rows()
            self._quiet = True
            try:
                self.current = s.current
                self.size = s.current_size() / s.n
            finally:
                self._quiet = False
            # These lists follow the result shown: start them on their first page.
            if self.tab in ("spotlight", "opponents"):
                self.page = 0
            self._publish_page()
            self._publish_breakdown()

    def _publish_page(self) -> None:
        s = self._session
        with s.lock:
            items, total = s.page(self.tab, self.page, self.page_size)
        for item in items:
            if item["text"] is not None and len(item["text"]) > _TEXT_PREVIEW:
                item["text"] = item["text"][:_TEXT_PREVIEW] + "…"
        self.page_items = items
        self.total_items = total

    def _publish_breakdown(self) -> None:
        try:
            with self._session.lock:
                self.breakdown = self._session.breakdown_rows(self.breakdown_column)
        except ValueError as exc:
            self.breakdown = []
            self.error = str(exc)

    # -- front-end changes ----------------------------------------------------------------

    @t.observe("size")
    def _on_size(self, change) -> None:
        if self._quiet:
            return
        try:
            self._search(self._session.size_count(change["new"]))
        except ValueError as exc:
            self.error = str(exc)

    @t.observe("current")
    def _on_current(self, change) -> None:
        if self._quiet:
            return
        s = self._session
        with s.lock:
            if not s.history:
                return
            if not 0 <= change["new"] < len(s.history):
                self.error = f"no spotlight #{change['new']}: {len(s.history)} found so far"
                self._quiet = True
                self.current = s.current
                self._quiet = False
                return
            s.current = change["new"]
        self._publish_spotlight()

    @t.observe("tab", "page", "page_size")
    def _on_page(self, change) -> None:
        if change["name"] == "tab" and change["new"] not in self._session.tabs():
            self.error = f"unknown tab {change['new']!r}"
            self.tab = change["old"]
            return
        if change["name"] == "page_size" and not 1 <= change["new"] <= 500:
            self.error = "page_size must be between 1 and 500"
            self.page_size = change["old"]
            return
        if change["name"] == "tab":
            self.page = 0
        self._publish_page()

    @t.observe("method")
    def _on_method(self, change) -> None:
        if self._quiet:
            return
        s = self._session
        try:
            with s.lock:
                self._selections[s.method] = list(self.selected)
                s.set_method(change["new"])
                has_results = bool(s.history)
        except ValueError as exc:
            self.error = str(exc)
            self.method = change["old"]
            return
        self.selected = self._selections.get(change["new"], [])
        if has_results:
            self._publish_spotlight()
        else:
            with self.hold_sync():
                self.history = []
                self._quiet = True
                try:
                    self.current = -1
                finally:
                    self._quiet = False
                self._publish_page()
                self.breakdown = []
            self._search(s.size_count(self.size))

    @t.observe("sort_by", "sort_descending", "filter_column", "filter_group")
    def _on_arrangement(self, change) -> None:
        if self._quiet:
            return
        s = self._session
        try:
            with s.lock:
                if change["name"] == "filter_column":
                    self.filter_groups = s.group_names(change["new"]) if change["new"] else []
                    if self.filter_group and self.filter_group not in self.filter_groups:
                        # Changing filter_group re-enters this observer, which publishes the page.
                        self.filter_group = ""
                        return
                s.set_arrangement(self.sort_by, self.sort_descending, self.filter_column, self.filter_group)
        except ValueError as exc:
            self.error = str(exc)
            setattr(self, change["name"], change["old"])
            return
        self.page = 0
        self._publish_page()

    @t.observe("overlay")
    def _on_overlay(self, change) -> None:
        if self._quiet:
            return
        try:
            self._session.set_overlay(change["new"])
        except ValueError as exc:
            self.error = str(exc)
            self.overlay = change["old"]

    @t.observe("breakdown_column")
    def _on_breakdown_column(self, change) -> None:
        self._publish_breakdown()

    @t.observe("selected")
    def _on_selected(self, change) -> None:
        values = change["new"]
        clean, bad = [], 0
        for v in values:
            try:
                clean.append(self._session.check_index(v))
            except ValueError:
                bad += 1
        if bad:
            self.error = f"ignored {bad} invalid selected indices"
        unique = sorted(set(clean))
        if unique != values:
            self.selected = unique

    # -- custom messages ------------------------------------------------------------------

    def _on_message(self, _widget, content: Any, _buffers) -> None:
        rid = messages.request_id(content)
        try:
            n_train = 0 if self._session.train_items is None else len(self._session.train_influence)
            request = messages.parse(content, self._session.n, n_train)
            reply, buffers = self._serve(request)
        except Exception as exc:  # answered to the front end, never raised in the comm
            if not isinstance(exc, (messages.RequestError, ValueError, LookupError)):
                log.exception("request failed")
            self.send({"id": rid, "error": str(exc)})
            return
        self.send(reply, buffers)

    def _serve(self, request: messages.Request) -> tuple[dict, list[bytes]]:
        s = self._session
        if isinstance(request, messages.Thumbnails):
            source = s.items if request.source == "data" else s.train_items
            if source.kind != "images":
                raise messages.RequestError("these examples have no images")
            if request.source == "data":
                pngs = [s.thumbnail(i) for i in request.indices]
            else:
                pngs = [source.png(i) for i in request.indices]
            reply = {"type": "thumbnails", "id": request.id, "indices": request.indices, "source": request.source}
            return reply | {"mime": "image/png"}, pngs
        if isinstance(request, messages.Detail):
            with s.lock:
                return {"id": request.id, **s.detail(request.index)}, []
        if isinstance(request, messages.Next):
            if not s.history:
                raise messages.RequestError("wait for the first spotlight")
            self._search(s.current_size(), next_rank=True)
            return {"id": request.id, "ok": True}, []
        if isinstance(request, messages.Select):
            with s.lock:
                chosen = s.select(request.mode, request.threshold) if (s.history or request.mode == "none") else []
            self.selected = chosen
            return {"id": request.id, "ok": True, "count": len(chosen)}, []
        if isinstance(request, messages.Probe):
            # The model runs in the kernel's thread: probing is one image, one backward pass per class.
            rows = s.probe(request.index, request.boxes, request.metric)
            return {"id": request.id, "metric": request.metric, "classes": rows}, []
        raise messages.RequestError("unknown request")  # pragma: no cover - parse() covers every type
