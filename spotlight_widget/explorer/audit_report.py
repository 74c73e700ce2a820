"""The audit report: every result of every method on one static, self-contained HTML page.

``SpotlightExplorer.report`` writes it. The page runs no script and loads nothing: the
thumbnails are PNG data URIs, the styles sit in the page and a content security policy
forbids anything else, so it opens offline in any browser and can be mailed or archived
with the audit. Every text that comes from the data (metadata names and values, class
names, texts, captions, notes, the title) is escaped.

Each part is computed by what the explorer itself uses (``payloads`` for captions,
breakdowns and gallery cards, ``ItemSource.png`` for thumbnails), so the page says what
the widget said.
"""

from __future__ import annotations

import base64
import html
import math
import os
import pathlib
from collections.abc import Sequence
from datetime import datetime, timezone
from numbers import Integral
from typing import Any

import numpy as np

from .. import __version__
from .._params import InstanceOf, Interval, validate_params
from ..slices import SliceLike
from . import payloads
from .inputs import ExplorerInputs
from .methods import SELECTION, method_info
from .store import HistoryEntry, MethodView, ResultStore

ROWS = 12
"""Groups shown per breakdown column, most over-represented first: an id-like column must not swamp the page."""
FIELDS = 16
"""Metadata fields shown per example of a table (no images or texts)."""
DEFAULT_TITLE = "Spotlight audit"
# A group whose lift's interval leaves 1, as the widget's breakdown marks it.
SURPRISING = ' class="surprising"'

_PARAMS = {
    "path": [str, InstanceOf(os.PathLike, "path")],
    "top": [Interval(Integral, 1, None, closed="left")],
    "title": [None, str],
}

_STYLE = """
:root { color-scheme: light dark; --fg: #202124; --fg2: #5f6368; --bg: #fff; --bg2: #f1f3f4;
  --border: #dadce0; --brand: #1a73e8; --in: #1a73e8; --all: #9aa0a6; --bad: #d93025; --note: #fef7e0; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e8eaed; --fg2: #9aa0a6; --bg: #202124; --bg2: #2d2e31; --border: #3c4043;
    --brand: #8ab4f8; --in: #8ab4f8; --all: #5f6368; --bad: #f28b82; --note: #3a3524; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 72rem; padding: 1rem 1.5rem 3rem; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
h1 { margin: .2em 0; font-size: 1.6em; } h2 { margin: 1.6em 0 .2em; font-size: 1.3em; }
h3 { margin: 0; font-size: 1.1em; display: flex; flex-wrap: wrap; align-items: baseline; gap: .5em; }
.muted { color: var(--fg2); }
.summary, .stats { display: flex; flex-wrap: wrap; gap: .3em 1.6em; margin: .6em 0; }
.summary div, .stats div { display: flex; flex-direction: column; }
dt { font-size: .85em; color: var(--fg2); } dd { margin: 0; font-weight: 600; font-variant-numeric: tabular-nums; }
nav ul { padding-left: 1.2em; margin: .3em 0; }
a { color: var(--brand); }
.result { border: 1px solid var(--border); border-radius: 8px; padding: .8em 1em; margin: .8em 0;
  break-inside: avoid-page; }
.badge { font-size: .75em; font-weight: 600; padding: 0 .5em; border-radius: 1em; background: var(--bg2);
  border: 1px solid var(--border); }
.caption { margin: .3em 0; font-size: 1.05em; }
.comparison { margin: .3em 0; }
.note { margin: .5em 0; padding: .4em .8em; border-left: 4px solid var(--brand); background: var(--note);
  white-space: pre-wrap; overflow-wrap: anywhere; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(110px, 1fr)); gap: 6px; margin: .6em 0; }
.gallery.texts, .gallery.table { grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); }
.item { margin: 0; padding: 4px; border: 1px solid var(--border); border-radius: 6px; font-size: .85em;
  min-width: 0; }
.item img { display: block; width: 100%; aspect-ratio: 1 / 1; object-fit: contain; background: var(--bg2);
  border-radius: 3px; image-rendering: pixelated; }
.item figcaption { display: flex; flex-wrap: wrap; gap: 0 .5em; color: var(--fg2); font-variant-numeric: tabular-nums; }
.item figcaption span { min-width: 0; overflow-wrap: anywhere; }
.item .loss { color: var(--fg); font-weight: 600; }
.item .wrong .prediction { color: var(--bad); font-weight: 600; }
.text { margin: 0 0 4px; white-space: pre-wrap; overflow-wrap: anywhere; overflow: hidden; display: -webkit-box;
  -webkit-line-clamp: 6; line-clamp: 6; -webkit-box-orient: vertical; }
.fields { border-collapse: collapse; width: 100%; margin-bottom: 4px; }
.fields th, .fields td { text-align: left; vertical-align: top; padding: 0 4px; overflow-wrap: anywhere; }
.fields th { font-weight: 500; color: var(--fg2); width: 40%; }
.failed { padding: 1em 4px; color: var(--bad); overflow-wrap: anywhere; }
details { margin: .4em 0; } summary { cursor: pointer; font-weight: 600; }
table.breakdown { border-collapse: collapse; width: 100%; margin: .3em 0; font-variant-numeric: tabular-nums; }
.breakdown th, .breakdown td { padding: 2px 8px; border-bottom: 1px solid var(--border); text-align: right;
  white-space: nowrap; }
.breakdown th:first-child, .breakdown td:first-child { text-align: left; white-space: normal; overflow-wrap: anywhere;
  min-width: 8em; }
.breakdown thead th { font-weight: 500; color: var(--fg2); white-space: normal; vertical-align: bottom; }
.scroll { overflow-x: auto; }
.breakdown tr.surprising td:first-child { font-weight: 600; }
td.bars { width: 8em; min-width: 5em; }
.bar { height: 6px; min-width: 1px; border-radius: 2px; margin: 1px 0; }
.bar.in, .swatch.in { background: var(--in); } .bar.all, .swatch.all { background: var(--all); }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 3px 0 8px; }
footer { margin-top: 2em; font-size: .85em; }
@media print { body { max-width: none; } details > summary { list-style: none; } }
"""


@validate_params(_PARAMS, caller="SpotlightExplorer.report")
def write_report(
    path: str | os.PathLike,
    inputs: ExplorerInputs,
    store: ResultStore,
    *,
    top: int = 12,
    title: str | None = None,
) -> pathlib.Path:
    """Write the audit report (see :func:`render_report`) to ``path``.

    Parameters
    ----------
    path : str or path
        The ``.html`` file to write (replaced if it exists). Its folder must exist: it is
        not created, so a mistyped folder is an error rather than a report written where
        nobody looks.
    inputs, store
        The explorer's data and results.
    top : int
        Thumbnails per result, highest weight first.
    title : str, optional
        The page's title (default "Spotlight audit").

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    TypeError
        ``path`` is not a str or path, ``top`` not an int, ``title`` not a str.
    ValueError
        ``top`` is below 1.
    FileNotFoundError
        ``path``'s folder does not exist.
    """
    target = pathlib.Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"SpotlightExplorer.report: the folder {str(target.parent)!r} does not exist")
    page = render_report(inputs, store, top=top, title=title)
    target.write_text(page, encoding="utf-8")
    return target


@validate_params({k: _PARAMS[k] for k in ("top", "title")}, caller="SpotlightExplorer.report")
def render_report(inputs: ExplorerInputs, store: ResultStore, *, top: int = 12, title: str | None = None) -> str:
    """The audit report as one HTML document.

    A header summarises the data (examples, mean loss, columns, the methods and how many
    results each has); then, per method that has results (the finders offered, then the
    selections described), one card per result in history order with its caption, size
    and losses, both models' losses when two models are compared, its note, its ``top``
    highest-weight examples (images inlined as PNG, texts, or metadata rows) and its
    breakdown by every column (shares inside and overall, lift with its 95 % interval,
    p-value, mean losses).

    Parameters
    ----------
    inputs, store
        The explorer's data and results.
    top : int
        Examples shown per result.
    title : str, optional
        The page's title (default "Spotlight audit").

    Returns
    -------
    str
        The page: no scripts, no external resources, every text from the data escaped.
    """
    heading = DEFAULT_TITLE if title is None else title
    views = [store.view(m) for m in (*inputs.methods, SELECTION.name)]
    notes = store.notes()
    sections = [_section(inputs, store, view, notes.get(view.method, {}), top) for view in views if view.results]
    body = "\n".join(sections) if sections else '<p class="muted">Nothing has been found yet.</p>'
    written = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{_e(heading)}</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<h1>{_e(heading)}</h1>
{_summary(inputs, views)}
{_contents(views)}
</header>
<main>
{body}
</main>
<footer class="muted">Written by spotlight-widget {_e(__version__)} on {written}.</footer>
</body>
</html>
"""


# -- the header -----------------------------------------------------------------------------


def _summary(inputs: ExplorerInputs, views: Sequence[MethodView]) -> str:
    stats = [("examples", _int(inputs.n))]
    if inputs.counts is not None:
        stats.append(("counted", _int(inputs.total)))
    stats.append((_loss_name(inputs), _num(float(inputs.losses.mean()))))
    comparison = inputs.comparison
    if comparison is not None:
        old, new = comparison.names
        stats.append((f"{old} loss", _num(float(comparison.losses_old.mean()))))
        stats.append((f"{new} loss", _num(float(comparison.losses_new.mean()))))
    stats.append(("shown as", inputs.items.kind))
    columns = inputs.columns()
    stats.append(("columns", ", ".join(columns) if columns else "none"))
    found = sum(len(v.results) for v in views)
    stats.append(("results", _int(found)))
    return _dl("summary", stats)


def _contents(views: Sequence[MethodView]) -> str:
    rows = []
    for view in views:
        info = method_info(view.method)
        if view.results:
            rows.append(f'<li><a href="#{_anchor(view.method)}">{_e(info.label)}</a>: {_count(view, info.noun)}</li>')
        elif view.method != SELECTION.name:
            rows.append(f'<li>{_e(info.label)}: <span class="muted">not run</span></li>')
    return f'<nav aria-label="Methods"><ul>{"".join(rows)}</ul></nav>'


# -- one method, one result -------------------------------------------------------------------


def _section(inputs: ExplorerInputs, store: ResultStore, view: MethodView, notes: dict[int, str], top: int) -> str:
    info = method_info(view.method)
    cards = [
        _card(inputs, store, view, position, entry, result, notes.get(position), top)
        for position, (entry, result) in enumerate(zip(view.entries, view.results, strict=True))
    ]
    return (
        f'<section class="method" id="{_anchor(view.method)}">\n'
        f'<h2>{_e(info.label)} <span class="muted">({_count(view, info.noun)})</span></h2>\n'
        f'<p class="muted">{_e(info.title)}</p>\n' + "\n".join(cards) + "\n</section>"
    )


def _card(
    inputs: ExplorerInputs,
    store: ResultStore,
    view: MethodView,
    position: int,
    entry: HistoryEntry,
    result: SliceLike,
    note: str | None,
    top: int,
) -> str:
    noun = method_info(view.method).noun
    shown = ' <span class="badge">shown in the explorer</span>' if position == view.current else ""
    members = len(result.indices)
    stats = [
        ("size S", f"{_int(result.size)} ({_pct(result.size / inputs.total)})"),
        ("with weight > 0", _int(members)),
        (
            f"{_loss_name(inputs)} inside",
            f"{_num(result.weighted_loss)} vs {_num(float(inputs.losses.mean()))} overall",
        ),
        (f"{_loss_name(inputs)}, top {_int(result.size)}", _num(float(inputs.losses[result.top_indices].mean()))),
    ]
    if entry.size != result.size:
        # A cluster is as large as it is, whatever S was asked for.
        stats.insert(1, ("asked for", _int(entry.size)))
    comparison = inputs.comparison
    if comparison is not None and len(result.top_indices):
        # Over the top S, as the caption and the history strip say them.
        loss_old, loss_new = comparison.mean_losses(np.asarray(result.top_indices))
        old, new = comparison.names
        stats += [(f"{name} loss, top {_int(result.size)}", _num(v)) for name, v in ((new, loss_new), (old, loss_old))]
    parts = [
        f'<article class="result" id="{_anchor(view.method)}-{position + 1}">',
        f"<h3>{_e(noun.capitalize())} #{position + 1}"
        f' <span class="muted">rank {result.rank + 1} at S = {_int(entry.size)}</span>{shown}</h3>',
        f'<p class="caption">{_e(_caption(inputs, store, view.method, entry, result))}</p>',
        _dl("stats", stats),
    ]
    if note:
        parts.append(f'<p class="note"><strong>Note:</strong> {_e(note)}</p>')
    parts.append(_gallery(inputs, result, top))
    parts.extend(_breakdown(inputs, result, column, noun) for column in inputs.columns())
    parts.append("</article>")
    return "\n".join(parts)


def _caption(inputs: ExplorerInputs, store: ResultStore, method: str, entry: HistoryEntry, result: SliceLike) -> str:
    try:
        # The widget's memo: a caption the history strip already computed is not computed again.
        return store.memo("caption", method, entry, lambda: payloads.caption_of(inputs, result))
    except Exception as exc:  # a caption is a convenience: the result is reported without one
        return f"(no caption: {exc})"


# -- examples -----------------------------------------------------------------------------------


def _gallery(inputs: ExplorerInputs, result: SliceLike, top: int) -> str:
    shown = [int(i) for i in result.indices[:top]]
    kind = inputs.items.kind
    cards = [_example(inputs, i, result.weights) for i in shown]
    more = len(result.indices) - len(shown)
    tail = f'<p class="muted">and {_int(more)} more members, not shown.</p>' if more > 0 else ""
    return f'<div class="gallery {kind}">{"".join(cards)}</div>{tail}'


def _example(inputs: ExplorerInputs, index: int, weights: np.ndarray) -> str:
    card = payloads.item(inputs, index, weights, preview=True)
    kind = inputs.items.kind
    if kind == "images":
        try:
            data = base64.b64encode(inputs.items.png(index)).decode("ascii")
            shown = f'<img src="data:image/png;base64,{data}" alt="example {index}">'
        except Exception as exc:  # one unreadable image must not cost the whole report
            shown = f'<div class="failed">example {index}: the image could not be read ({_e(exc)})</div>'
    elif kind == "texts":
        shown = f'<p class="text">{_e(card["text"])}</p>'
    else:
        shown = _fields(inputs, index)
    # Comparing two models, an example's loss is their difference, each model's own beside it.
    loss = "loss" if inputs.comparison is None else "difference"
    caption = [f'<span class="idx">#{index}</span>', f'<span class="loss">{loss} {_num(card["loss"])}</span>']
    if card["weight"] is not None:
        caption.append(f"<span>w {_num(card['weight'])}</span>")
    if "model_losses" in card:
        old, new = inputs.comparison.names
        predicted = card.get("model_predictions", (None, None))
        for name, loss_of, prediction in zip((old, new), card["model_losses"], predicted):
            said = "" if prediction is None else f", predicted {_e(prediction)}"
            caption.append(f'<span class="models">{_e(name)}: loss {_num(loss_of)}{said}</span>')
    names = [f'<span class="{key}">{_e(card[key])}</span>' for key in ("label", "prediction") if card[key] is not None]
    if names:
        wrong = " wrong" if len(names) == 2 and card["label"] != card["prediction"] else ""
        caption.append(f'<span class="labels{wrong}">{" → ".join(names)}</span>')
    return f'<figure class="item">{shown}<figcaption>{"".join(caption)}</figcaption></figure>'


def _fields(inputs: ExplorerInputs, index: int) -> str:
    fields = list(payloads.detail(inputs, index, None)["fields"].items())
    rows = [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in fields[:FIELDS]]
    if len(fields) > FIELDS:
        rows.append(f'<tr><td colspan="2" class="muted">and {len(fields) - FIELDS} more fields</td></tr>')
    return f'<table class="fields">{"".join(rows)}</table>' if rows else ""


# -- breakdowns ---------------------------------------------------------------------------------


def _breakdown(inputs: ExplorerInputs, result: SliceLike, column: str, noun: str) -> str:
    try:
        frame = payloads.breakdown_frame(inputs, result, column)
    except Exception as exc:  # as in the widget: a column that cannot be broken down is said, not fatal
        return f'<p class="failed">No breakdown by {_e(column)}: {_e(exc)}</p>'
    # Only the rows shown become Python objects: an id-like column has a group per example.
    shown = frame.head(ROWS)
    rows = payloads.records(shown)
    loss = "loss" if inputs.comparison is None else "difference"
    head = [
        "group",
        "examples",
        f"share in {noun}",
        "overall",
        "",
        "lift (95% interval)",
        "p value",
        f"{loss} in {noun}",
        f"{loss} overall",
    ]
    if inputs.comparison is not None:
        old, new = inputs.comparison.names
        head += [f"{old} loss in {noun}", f"{new} loss in {noun}"]
    # Bars are scaled to the largest share of any group, shown or not, as the widget scales them.
    shares = frame[["share_in", "share_all"]].to_numpy(dtype=np.float64)
    peak = max(1e-12, float(np.max(shares, initial=0.0, where=np.isfinite(shares))))
    body = []
    for row in rows:
        surprising = _finite(row["lift_low"]) and _finite(row["lift_high"])
        surprising = surprising and (row["lift_low"] > 1 or row["lift_high"] < 1)
        bars = (
            f'<div class="bar in" style="width: {_width(row["share_in"], peak)}"></div>'
            f'<div class="bar all" style="width: {_width(row["share_all"], peak)}"></div>'
        )
        cells = [
            _e(row["group"]),
            _int(row["count"]),
            _pct(row["share_in"]),
            _pct(row["share_all"]),
            bars,
            f"{_num(row['lift'])}&times; ({_num(row['lift_low'])}&ndash;{_num(row['lift_high'])})",
            _p_value(row["p_value"]),
            _num(row["loss_in"]),
            _num(row["loss_all"]),
        ]
        if inputs.comparison is not None:
            cells += [_num(row["loss_old_in"]), _num(row["loss_new_in"])]
        tds = "".join(f'<td class="bars">{c}</td>' if c is bars else f"<td>{c}</td>" for c in cells)
        body.append(f"<tr{SURPRISING if surprising else ''}>{tds}</tr>")
    more = len(frame) - len(rows)
    tail = f'<p class="muted">and {_int(more)} more groups with a lower lift.</p>' if more > 0 else ""
    legend = f'<span class="swatch in"></span>in {_e(noun)}<span class="swatch all"></span>overall'
    return (
        f'<details open><summary>Breakdown by {_e(column)} <span class="muted">{legend}</span></summary>'
        f'<div class="scroll"><table class="breakdown"><thead><tr>{"".join(f"<th>{_e(h)}</th>" for h in head)}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>{tail}</details>"
    )


# -- formatting ---------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _dl(kind: str, stats: Sequence[tuple[str, str]]) -> str:
    items = "".join(f"<div><dt>{_e(name)}</dt><dd>{_e(value)}</dd></div>" for name, value in stats)
    return f'<dl class="{kind}">{items}</dl>'


def _anchor(method: str) -> str:
    return _e(f"method-{method}")


def _count(view: MethodView, noun: str) -> str:
    count = len(view.results)
    return f"{count} {_e(noun)}{'' if count == 1 else 's'}"


def _loss_name(inputs: ExplorerInputs) -> str:
    """What ``inputs.losses`` holds: the loss, or both models' difference in the direction searched."""
    comparison = inputs.comparison
    if comparison is None:
        return "mean loss"
    old, new = comparison.names
    first, second = (new, old) if comparison.direction == "worse" else (old, new)
    return f"mean loss of {first} minus {second}"


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and math.isfinite(x)


def _num(x: Any) -> str:
    """3 significant digits, as the widget shows numbers ("—" when missing)."""
    if not _finite(x):
        return "—"
    x = float(x)
    return f"{round(x):,}" if abs(x) >= 1000 else f"{float(f'{x:.3g}'):g}"


def _int(x: Any) -> str:
    return f"{round(float(x)):,}" if _finite(x) else "—"


def _pct(x: Any) -> str:
    return f"{float(f'{100 * float(x):.3g}'):g}%" if _finite(x) else "—"


def _p_value(p: Any) -> str:
    if not _finite(p):
        return "—"
    return "&lt; 0.001" if p < 0.001 else f"{float(f'{p:.2g}'):g}"


def _width(share: Any, peak: float) -> str:
    value = float(share) / peak * 100 if _finite(share) else 0.0
    return f"{min(100.0, max(0.0, value)):.1f}%"
