"""Static matplotlib figures of spotlights, for reports and papers (needs the ``figures`` extra).

Every function returns a :class:`matplotlib.figure.Figure`. Figures are made without
pyplot's global state (no window opens, nothing piles up in pyplot's figure list, and they
can be made in any thread), so they work under the Agg backend and in scripts; save one
with ``fig.savefig("spotlight.png", dpi=200)``. In IPython they display inline as usual.

Text from the data (group names, labels) is shown literally: dollar signs are escaped so
matplotlib never reads it as mathtext.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .describe import describe
from .describe._text import _plain
from .describe._weighted import _from_spotlight, _top_rows, _vector, _Weighted

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["breakdown_figure", "gallery_figure", "map_figure", "size_loss_figure", "sizes_figure"]

_INSIDE = "#d62728"
_OVERALL = "#9a9a9a"
_LABEL_CHARS = 30


def _figure(figsize: tuple[float, float]) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("spotlight_widget.figures needs matplotlib: pip install 'spotlight-widget[figures]'") from exc
    if _in_ipython():
        # A bare Figure only displays inline once pyplot has loaded its backend, which it
        # does lazily; creating (and at once closing) a pyplot figure loads it without
        # leaving the figure for the backend to show a second time.
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=figsize, layout="constrained")
        plt.close(fig)
        return fig
    return Figure(figsize=figsize, layout="constrained")


def _in_ipython() -> bool:
    ipython = sys.modules.get("IPython")
    return ipython is not None and getattr(ipython, "get_ipython", lambda: None)() is not None


def _text(value: Any, limit: int = _LABEL_CHARS) -> str:
    return _plain(value, limit).replace("$", r"\$")


# -- images ------------------------------------------------------------------------------


def _channels_last(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3 and image.shape[-1] not in (1, 3, 4) and image.shape[0] in (1, 3, 4):
        image = np.moveaxis(image, 0, -1)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (3, 4)):
        raise ValueError(f"an image must be (H, W), (H, W, C) or (C, H, W) with C in 1, 3, 4; got {image.shape}")
    return image


def _unit_pixels(image: np.ndarray) -> np.ndarray:
    """Pixels as floats in [0, 1]: uint8 and 0-255 values scaled, other ranges stretched."""
    if image.dtype == np.bool_:
        return image.astype(np.float64)
    if image.dtype.kind not in "iuf":
        raise TypeError(f"image pixels must be numeric; got {image.dtype}")
    arr = np.nan_to_num(image.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if image.dtype == np.uint8 or (lo >= 0 and hi <= 255 and (image.dtype.kind != "f" or hi > 1)):
        return arr / 255
    if lo >= 0 and hi <= 1:
        return arr
    return (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)


class _Images:
    """One image per example from an (N, H, W), (N, H, W, C) or (N, C, H, W) array or a list."""

    def __init__(self, images: Any, n: int):
        if hasattr(images, "detach"):
            images = images.detach().cpu().numpy()
        if isinstance(images, (str, bytes)) or not hasattr(images, "__len__"):
            raise TypeError(f"images must be an array or a list of arrays; got {type(images).__name__}")
        if isinstance(images, np.ndarray) and images.ndim not in (3, 4):
            raise ValueError(f"images must be (N, H, W), (N, H, W, C) or (N, C, H, W); got shape {images.shape}")
        if len(images) != n:
            raise ValueError(f"images has {len(images)} entries for {n} examples")
        self._images = images

    def __getitem__(self, index: int) -> np.ndarray:
        item = self._images[index]
        if hasattr(item, "detach"):
            item = item.detach().cpu().numpy()
        return _unit_pixels(_channels_last(np.asarray(item)))


def _show(ax: Axes, image: np.ndarray) -> None:
    if image.ndim == 2:
        ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _names(values: Any, n: int, what: str) -> np.ndarray | None:
    if values is None:
        return None
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{what} has {arr.shape[0] if arr.ndim else 1} values for {n} examples")
    return arr


def _mean_loss(data: _Weighted, weights: np.ndarray) -> float:
    if data.losses is None:
        return float("nan")
    return float(weights @ data.losses / weights.sum())


def _check_positive(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}")
    return int(value)


def gallery_figure(
    spotlight: Any,
    images: Any,
    *,
    n: int = 25,
    ncols: int = 5,
    labels: Any = None,
    predictions: Any = None,
    title: str | None = None,
    fig: Figure | None = None,
) -> Figure:
    """The highest-weight images of a spotlight in a grid (paper Figures 2 and 3).

    Parameters
    ----------
    spotlight : Spotlight or slice
        Anything with ``.weights`` (and optionally ``.losses``, ``.counts``).
    images : array or list
        (N, H, W), (N, H, W, C) or (N, C, H, W) of any real dtype (uint8 and 0-255 values as
        they are, floats in [0, 1] as they are, other ranges stretched per image), or a list
        of N such images.
    n : int
        Images shown (fewer if the spotlight has fewer members).
    ncols : int
        Images per row.
    labels, predictions : array-like, optional
        (N,) shown under each image as "label" or "label -> prediction".
    title : str, optional
        Figure title; by default the spotlight's mean loss against the data set's.
    fig : matplotlib.figure.Figure, optional
        Draw into this (empty) figure instead of a new one.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per image, highest weight first, each titled with its weight and loss.
    """
    n, ncols = _check_positive(n, "n"), _check_positive(ncols, "ncols")
    data = _from_spotlight(spotlight)
    pictures = _Images(images, data.n)
    label_names = _names(labels, data.n, "labels")
    predicted = _names(predictions, data.n, "predictions")
    rows = _top_rows(data.weights, n)
    ncols = min(ncols, len(rows))
    nrows = -(-len(rows) // ncols)
    if fig is None:
        fig = _figure((1.7 * ncols, 1.9 * nrows + 0.6))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, index in zip(axes.flat, rows):
        _show(ax, pictures[index])
        lines = [f"w {data.weights[index]:.2f}" + ("" if data.losses is None else f"  loss {data.losses[index]:.3g}")]
        if label_names is not None:
            shown = _text(label_names[index], 14)
            if predicted is not None:
                shown += " \u2192 " + _text(predicted[index], 14)
            lines.append(shown)
        ax.set_title("\n".join(lines), fontsize=7)
    for ax in axes.flat[len(rows) :]:
        ax.remove()
    if title is None:
        title = f"Spotlight: {len(rows)} highest-weight of {int((data.weights > 0).sum())} members"
        if data.losses is not None:
            overall = float(data.counts @ data.losses / data.counts.sum())
            title += f"; mean loss {_mean_loss(data, data.kw):.3g} vs {overall:.3g} overall"
        fig.suptitle(title, fontsize=9)
    else:
        fig.suptitle(_text(title, 200), fontsize=9)
    return fig


# -- breakdown ---------------------------------------------------------------------------


def _breakdown_table(spotlight_or_table: Any, metadata: Any, column: Any) -> tuple[pd.DataFrame, Any]:
    if isinstance(spotlight_or_table, pd.DataFrame):
        table = spotlight_or_table
        missing = {"group", "share_in", "share_all"} - set(table.columns)
        if missing:
            raise ValueError(
                f"the table lacks columns {sorted(missing)}: pass a describe() or breakdown() table, or a spotlight"
            )
        if "column" in table.columns:
            if column is None:
                column = table["column"].iloc[0] if len(table) else None
            elif column not in set(table["column"]):
                raise ValueError(f"the table has no column {column!r}; it has {list(dict.fromkeys(table['column']))}")
            table = table[table["column"] == column]
        return table, column
    if metadata is None:
        raise ValueError("metadata is required to break a spotlight down (or pass a describe() table)")
    frame = metadata if isinstance(metadata, pd.DataFrame) else pd.DataFrame(metadata)
    if column is None:
        if frame.shape[1] == 0:
            raise ValueError("metadata has no columns")
        column = frame.columns[0]
    return describe(spotlight_or_table, frame, columns=[column]), column


def breakdown_figure(
    spotlight_or_table: Any,
    metadata: Any = None,
    *,
    column: Any = None,
    top: int = 10,
    ax: Axes | None = None,
) -> Figure:
    """A bar chart of each group's share inside the spotlight against its share overall.

    Parameters
    ----------
    spotlight_or_table : Spotlight, slice or pandas.DataFrame
        A spotlight (then ``metadata`` is required), or a table from :func:`describe` or
        :func:`~spotlight_widget.describe.breakdown`.
    metadata : pandas.DataFrame or dict, optional
        Metadata to describe the spotlight with.
    column : optional
        The column shown; the first one by default.
    top : int
        Groups shown, in the table's order (describe: most surprising first).
    ax : matplotlib.axes.Axes, optional
        Draw on these axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Horizontal bars, first group at the top; the inside bars carry the share's
        interval when the table has one (``lift_low``, ``lift_high``) and are labelled with
        the lift.
    """
    top = _check_positive(top, "top")
    table, column = _breakdown_table(spotlight_or_table, metadata, column)
    table = table.head(top).reset_index(drop=True)
    if ax is None:
        fig = _figure((6.4, 0.45 * max(len(table), 2) + 1.4))
        ax = fig.add_subplot()
    y = np.arange(len(table))
    height = 0.38
    share_in = table["share_in"].to_numpy(dtype=np.float64) * 100
    share_all = table["share_all"].to_numpy(dtype=np.float64) * 100
    errors, reach = None, np.maximum(share_in, share_all)
    if {"lift_low", "lift_high"} <= set(table.columns):
        low = table["lift_low"].to_numpy(dtype=np.float64) * share_all
        high = table["lift_high"].to_numpy(dtype=np.float64) * share_all
        errors = np.vstack([np.clip(share_in - low, 0, None), np.clip(high - share_in, 0, None)])
        reach = np.fmax(reach, high)
    ax.barh(y - height / 2, share_in, height, xerr=errors, color=_INSIDE, label="inside the spotlight", capsize=2)
    ax.barh(y + height / 2, share_all, height, color=_OVERALL, label="overall")
    # The lift sits past the longest bar or interval of its group so nothing overlaps it.
    for yi, x, lift in zip(y, reach, table["share_in"] / table["share_all"]):
        ax.annotate(f"\u00d7{lift:.2g}", (x, yi), xytext=(4, 0), textcoords="offset points", va="center", fontsize=7)
    ax.set_xlim(0, max(float(np.nanmax(reach, initial=0.0)) * 1.15, 1.0))
    ax.set_yticks(y, labels=[_text(g) for g in table["group"]])
    ax.invert_yaxis()
    ax.set_xlabel("share of examples (%)")
    ax.set_title(f"{_text(column, 60) if column is not None else 'groups'}: inside the spotlight vs overall")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=2, fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return ax.figure


# -- sizes -------------------------------------------------------------------------------


def _size_fraction(spotlight: Any, data: _Weighted) -> float:
    size = getattr(spotlight, "size", None)
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        return float(size) / float(data.counts.sum())
    return float(data.kw.sum() / data.counts.sum())


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.2g}%"


def sizes_figure(spotlights: Sequence[Any], images: Any, *, n: int = 8, fig: Figure | None = None) -> Figure:
    """Spotlights of several sizes side by side, one row each with its mean loss (paper Figure D1).

    Parameters
    ----------
    spotlights : sequence of Spotlight or slice
        E.g. ``find_spotlight(emb, losses, size=[0.001, 0.01, 0.02, 0.1])``; one row each,
        in the order given.
    images : array or list
        N images, as in :func:`gallery_figure`.
    n : int
        Highest-weight images per row.
    fig : matplotlib.figure.Figure, optional
        Draw into this (empty) figure instead of a new one.

    Returns
    -------
    matplotlib.figure.Figure
        One subfigure per spotlight titled "size 2% (mean loss 1.51)" (the size asked
        for, or the mass ``sum c w`` for objects without an integer ``size``), holding
        ``n`` axes.
    """
    n = _check_positive(n, "n")
    spotlights = list(spotlights)
    if not spotlights:
        raise ValueError("spotlights is empty")
    datas = [_from_spotlight(s) for s in spotlights]
    _same_length(datas)
    pictures = _Images(images, datas[0].n)
    if fig is None:
        fig = _figure((1.3 * n, 1.6 * len(spotlights)))
    rows = fig.subfigures(len(spotlights), 1, squeeze=False)[:, 0]
    for row, spotlight, data in zip(rows, spotlights, datas):
        label = f"size {_percent(_size_fraction(spotlight, data))}"
        if data.losses is not None:
            label += f" (mean loss {_mean_loss(data, data.kw):.3g})"
        row.suptitle(label, fontsize=9)
        members = _top_rows(data.weights, n)
        axes = row.subplots(1, n, squeeze=False)[0]
        for ax, index in zip(axes, members):
            _show(ax, pictures[index])
        for ax in axes[len(members) :]:
            ax.set_axis_off()
    return fig


def _same_length(datas: list[_Weighted]) -> None:
    lengths = sorted({d.n for d in datas})
    if len(lengths) > 1:
        raise ValueError(f"the spotlights cover different numbers of examples: {lengths}")


def size_loss_figure(
    spotlights: Sequence[Any],
    baselines: Sequence[Any] = (),
    *,
    losses: Any = None,
    ax: Axes | None = None,
) -> Figure:
    """Size against mean loss: spotlights against the clusters of a baseline (paper Figure B1).

    Parameters
    ----------
    spotlights : sequence of Spotlight or slice
        Shown as numbered stars (1 = the first).
    baselines : sequence of slices, optional
        E.g. every cluster of a K-means or Gaussian-mixture baseline: anything with
        ``.weights`` (and ``.losses``); shown as grey dots.
    losses : array-like, optional
        (N,) losses to measure every set on (the original losses: sequential spotlights
        and clusters compared on the same footing). By default each object's own
        ``.losses``.
    ax : matplotlib.axes.Axes, optional
        Draw on these axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        x: size as a share of the data (the mass ``sum c w`` over ``sum c``, log scale when
        the sizes span more than a factor of 20); y: weighted mean loss; a dashed line at
        the data set's mean loss.
    """
    spotlights, baselines = list(spotlights), list(baselines)
    if not spotlights and not baselines:
        raise ValueError("nothing to plot: pass spotlights and/or baselines")
    datas = [_from_spotlight(s) for s in spotlights + baselines]
    _same_length(datas)
    shared = None if losses is None else _checked_losses(losses, datas[0].n)
    points = []
    for data in datas:
        loss = shared if shared is not None else data.losses
        if loss is None:
            raise ValueError("a spotlight or baseline has no losses: pass losses=...")
        points.append((float(data.kw.sum() / data.counts.sum()), float(data.kw @ loss / data.kw.sum())))
    xy = np.array(points) * [100, 1]
    if ax is None:
        fig = _figure((5.6, 4.0))
        ax = fig.add_subplot()
    k = len(spotlights)
    if baselines:
        method = getattr(baselines[0], "method", None)
        name = f"{_text(method)} clusters" if isinstance(method, str) else "baseline clusters"
        ax.scatter(xy[k:, 0], xy[k:, 1], s=18, color=_OVERALL, label=name, zorder=2)
    if spotlights:
        ax.scatter(xy[:k, 0], xy[:k, 1], s=90, marker="*", color=_INSIDE, label="spotlights", zorder=3)
        for i, (x, y) in enumerate(xy[:k], start=1):
            ax.annotate(str(i), (x, y), xytext=(5, 3), textcoords="offset points", fontsize=8)
    reference = datas[0]
    base_loss = shared if shared is not None else next(d.losses for d in datas if d.losses is not None)
    ax.axhline(float(reference.counts @ base_loss / reference.counts.sum()), color="black", lw=0.8, ls="--",
               label="data set mean")  # fmt: skip
    if xy[:, 0].max() > 20 * xy[:, 0].min() > 0:
        ax.set_xscale("log")
    ax.set_xlabel("size (% of the data)")
    ax.set_ylabel("mean loss")
    ax.set_title("Size and mean loss of spotlights and clusters")
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return ax.figure


def _checked_losses(losses: Any, n: int) -> np.ndarray:
    loss = _vector(losses, "losses")
    if loss.shape[0] != n:
        raise ValueError(f"losses has {loss.shape[0]} entries for {n} examples")
    return loss


# -- the map -----------------------------------------------------------------------------


def map_figure(
    coords: Any,
    color: Any = None,
    *,
    outlines: Sequence[Any] = (),
    current: int | None = None,
    selected: Any = None,
    label: str = "",
    title: str | None = None,
    max_points: int = 200_000,
    seed: int = 0,
    ax: Axes | None = None,
) -> Figure:
    """The explorer's map as a static figure: every example, results outlined, selection marked.

    Parameters
    ----------
    coords : array-like, (N, 2)
        The map's coordinates (``SpotlightExplorer.coords`` or ``projection.project``).
    color : array-like, (N,), optional
        One value per example: real numbers on a scale (e.g. a result's weights, losses),
        anything else as categories (the 10 most frequent named, the rest grey).
    outlines : sequence of (K, 2) arrays
        Polygons drawn over the points and numbered from 1, e.g. each history entry's
        outline (``SpotlightExplorer.map_layers``' hulls).
    current : int, optional
        The outline drawn emphasised.
    selected : array-like of int, optional
        Examples circled in black.
    label : str
        What ``color`` is, for the colour bar or legend.
    title : str, optional
    max_points : int
        Above this many examples a fixed random sample is drawn (the outlines and the
        selection are always complete).
    seed : int
        Seeds that sample.
    ax : matplotlib.axes.Axes, optional
        Draw on these axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    xy = np.asarray(coords, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"coords must have shape (N, 2); got {xy.shape}")
    max_points = _check_positive(max_points, "max_points")
    n = len(xy)
    shown = np.arange(n)
    if n > max_points:
        shown = np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))
    if ax is None:
        fig = _figure((6.4, 5.6))
        ax = fig.add_subplot()
    size = float(np.clip(3e4 / max(len(shown), 1), 0.5, 20))
    if color is None:
        ax.scatter(xy[shown, 0], xy[shown, 1], s=size, c=_OVERALL, linewidths=0, rasterized=True)
    else:
        values = pd.Series(np.asarray(color) if not isinstance(color, pd.Series) else color.to_numpy())
        if len(values) != n:
            raise ValueError(f"color has {len(values)} values but coords has {n} rows")
        if values.dtype.kind in "iuf" and values.nunique() > 10:
            points = ax.scatter(
                xy[shown, 0], xy[shown, 1], s=size, c=values.to_numpy(np.float64)[shown], cmap="viridis",
                linewidths=0, rasterized=True,
            )
            ax.figure.colorbar(points, ax=ax, label=_text(label, 60), shrink=0.8)
        else:
            names = values.astype(str).to_numpy()
            top = pd.Series(names).value_counts().index[:10]
            rest = ~np.isin(names[shown], top)
            ax.scatter(xy[shown[rest], 0], xy[shown[rest], 1], s=size, c=_OVERALL, linewidths=0, rasterized=True)
            for i, name in enumerate(top):
                mine = shown[names[shown] == name]
                ax.scatter(xy[mine, 0], xy[mine, 1], s=size, color=f"C{i}", label=_text(name), linewidths=0, rasterized=True)
            ax.legend(title=_text(label, 60) or None, fontsize=7, markerscale=max(1.0, 3 / size**0.5), frameon=False)
    if selected is not None:
        chosen = np.asarray(selected, dtype=np.int64)
        ax.scatter(xy[chosen, 0], xy[chosen, 1], s=size * 3, facecolors="none", edgecolors="black", linewidths=0.6)
    for k, outline in enumerate(outlines):
        polygon = np.asarray(outline, dtype=np.float64).reshape(-1, 2)
        if len(polygon) == 0:
            continue
        closed = np.vstack([polygon, polygon[:1]])
        emphasised = k == current
        ax.plot(closed[:, 0], closed[:, 1], color=_INSIDE, linewidth=2.2 if emphasised else 1.0, alpha=1 if emphasised else 0.7)
        ax.annotate(f"#{k + 1}", polygon.mean(0), color=_INSIDE, fontsize=9, fontweight="bold" if emphasised else "normal", ha="center", va="center")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(_text(title, 80))
    return ax.figure
