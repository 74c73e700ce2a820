// The map: every example as a point on a 2-D projection (map protocol: "coords" and
// "colors" requests answered with binary buffers), the history's hulls outlined and
// labelled, the selection highlighted. Pan (drag), zoom (wheel, pinch), lasso and box
// selections sent to Python in map coordinates, hover captions, click for the detail panel.
//
// Modifiers of a selection drag: Shift adds to the selection, Alt removes from it; in the
// pan tool either one also turns the drag into a lasso.

import { Disposer, h, write } from "../dom.js";
import { int, num } from "../format.js";
import { isAbort, request } from "../messages.js";
import { noun, NOUN_EVENTS } from "../vocabulary.js";
import { categoricalPalette, paletteFor, readColors } from "../map/colors.js";
import { bytesOf, captionLines, floatsOf, pointSize } from "../map/data.js";
import { combineSelection, hullPath, labelAnchor, lassoPolygon, normalizeBox, pointsInBox, pointsInPolygon } from "../map/geometry.js";
import { GridIndex } from "../map/grid.js";
import { renderLegend } from "../map/legend.js";
import { createRenderer } from "../map/renderer.js";
import { fitView, panBy, resizeView, toMap, toScreen, zoomAt } from "../map/view.js";

/** @typedef {import("../types.js").Model} Model */
/** @typedef {import("../types.js").MapState} MapState */
/** @typedef {import("../types.js").MapLayer} MapLayer */
/** @typedef {import("../types.js").Legend} Legend */
/** @typedef {import("../map/webgl.js").Renderer} Renderer */
/** @typedef {import("../map/view.js").View} View */
/** @typedef {"pan" | "lasso" | "box"} Tool */
/** @typedef {"replace" | "add" | "remove"} Mode */

const SVG = "http://www.w3.org/2000/svg";

/** Canvas size before the panel is laid out (and in jsdom, which has no layout). */
export const DEFAULT_SIZE = { width: 480, height: 360 };

/** Hover reaches the nearest point within this many CSS pixels. */
export const HOVER_RADIUS = 6;

/** A press that moves less than this (CSS pixels) is a click, not a drag. */
const CLICK_SLOP = 4;

/** Most vertices of a lasso sent to Python (which takes up to 10,000): plenty for a hand-drawn one. */
export const MAX_LASSO_VERTICES = 1000;

/** Hover captions kept (a detail request each). */
const CAPTION_CACHE = 200;

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @returns {SVGElement}
 */
function svg(tag, attrs = {}) {
  const el = /** @type {SVGElement} */ (document.createElementNS(SVG, tag));
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

/**
 * @param {Model} model
 * @param {HTMLElement} el
 * @param {{ createRenderer?: typeof createRenderer }} [options]  the renderer factory (tests record calls with their own)
 */
export function render(model, el, options = {}) {
  const makeRenderer = options.createRenderer ?? createRenderer;
  const d = new Disposer();
  /** @type {Set<AbortController>} */
  const inFlight = new Set();

  // ---- DOM ----
  /** @param {Tool | "reset"} name @param {string} label @param {string} text */
  const toolButton = (name, label, text) =>
    h("button", { class: `sw-map-tool sw-map-${name}`, text, props: { type: "button" }, attrs: { "data-tool": name, "aria-label": label, title: label } });
  const tools = {
    pan: toolButton("pan", "Pan and zoom (drag, wheel); Shift-drag lasso adds, Alt-drag lasso removes", "✥ Pan"),
    lasso: toolButton("lasso", "Lasso selection (Shift adds, Alt removes)", "◌ Lasso"),
    box: toolButton("box", "Box selection (Shift adds, Alt removes)", "▭ Box"),
  };
  const reset = toolButton("reset", "Reset the view to the whole map", "⟲ Reset");
  const toolbar = h("div", { class: "sw-map-toolbar", attrs: { role: "toolbar", "aria-label": "Map tools" } }, tools.pan, tools.lasso, tools.box, reset);
  const colorSelect = h("select", { class: "sw-map-color", attrs: { "aria-label": "Colour the map by" } });
  const colorLabel = h("label", { class: "sw-map-color-label" }, h("span", { class: "sw-muted", text: "colour by" }), colorSelect);
  const bar = h("div", { class: "sw-map-bar" }, toolbar, colorLabel);

  let canvas = h("canvas", { class: "sw-map-canvas", attrs: { tabindex: "0", role: "img", "aria-label": "Map of the examples: arrow keys pan, + and - zoom, 0 shows the whole map" } });
  const overlay = svg("svg", { class: "sw-map-overlay", "aria-hidden": "true" });
  const hulls = svg("g", { class: "sw-map-hulls" });
  const lassoPath = svg("path", { class: "sw-map-lasso" });
  const boxRect = svg("rect", { class: "sw-map-box" });
  overlay.append(hulls, lassoPath, boxRect);
  const tooltip = h("div", { class: "sw-map-tooltip", attrs: { role: "tooltip" }, props: { hidden: true } });
  const message = h("div", { class: "sw-map-message", props: { hidden: true } });
  const stage = h("div", { class: "sw-map-stage" }, canvas, overlay, tooltip, message);

  const fill = h("div", { class: "sw-progress-fill" });
  const progress = h("div", { class: "sw-progress", attrs: { role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-label": "Map progress" } }, fill);
  const statusText = h("span", { class: "sw-map-status-text" });
  const status = h("div", { class: "sw-map-status", attrs: { role: "status", "aria-live": "polite" } }, progress, statusText);
  const legendEl = h("div", { class: "sw-map-legend" });
  el.replaceChildren(bar, stage, status, legendEl);

  // ---- state ----
  /** @type {{ positions: Float32Array, n: number, version: number, bounds: [number, number, number, number] } | null} */
  let coords = null;
  /** @type {{ values: Uint8Array, legend: Legend, by: string } | null} */
  let shown = null;
  /** @type {number | null} the coordinates' version asked for (null: none pending or loaded) */
  let wanted = null;
  /** @type {string | null} why the map cannot be drawn (shown instead of it) */
  let problem = null;
  /** @type {View} */
  let view = fitView([0, 0, 1, 1], DEFAULT_SIZE.width, DEFAULT_SIZE.height);
  let fitScale = view.scale;
  /** the user moved the view: a resize keeps it instead of fitting the map again */
  let moved = false;
  /** @type {Renderer | null} */
  let renderer = null;
  /** @type {GridIndex | null} */
  let grid = null;
  /** @type {Tool} */
  let tool = "pan";
  let selection = new Uint32Array(0);
  let colors = readColors(el);
  /** @type {AbortController | null} */
  let coordsCtl = null;
  /** @type {AbortController | null} */
  let colorsCtl = null;
  /** @type {AbortController | null} */
  let detailCtl = null;
  let hovered = -1;
  /** @type {Map<number, string[]>} */
  const captions = new Map();
  let frame = 0;
  /** the pending frame is a setTimeout (no requestAnimationFrame here) */
  let frameIsTimer = false;
  let colorsQueued = false;

  /**
   * A request that the cleanup aborts.
   * @param {string} type
   * @param {Record<string, any>} payload
   * @param {AbortController} ctl
   */
  const send = async (type, payload, ctl) => {
    inFlight.add(ctl);
    try {
      return await request(model, type, payload, { signal: ctl.signal });
    } finally {
      inFlight.delete(ctl);
    }
  };

  // ---- size and drawing ----
  const stageSize = () => {
    const r = stage.getBoundingClientRect();
    return r.width > 0 && r.height > 0 ? { width: r.width, height: r.height } : DEFAULT_SIZE;
  };

  const fit = () => {
    const { width, height } = stageSize();
    view = fitView(coords ? coords.bounds : [0, 0, 1, 1], width, height);
    fitScale = view.scale;
    moved = false;
  };

  const sizeCanvas = () => {
    const { width, height } = stageSize();
    const dpr = globalThis.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(width * dpr));
    const hgt = Math.max(1, Math.round(height * dpr));
    if (canvas.width !== w) canvas.width = w;
    if (canvas.height !== hgt) canvas.height = hgt;
    overlay.setAttribute("viewBox", `0 0 ${width} ${height}`);
    if (view.width !== width || view.height !== height) {
      if (moved) view = resizeView(view, width, height);
      else fit();
    }
  };

  const drawHulls = () => {
    /** @type {MapLayer[]} */
    const layers = Array.isArray(model.get("map_layers")) ? model.get("map_layers") : [];
    // The current result last: drawn on top of the others.
    const ordered = [...layers].sort((a, b) => Number(Boolean(a.current)) - Number(Boolean(b.current)));
    const nodes = [];
    for (const layer of ordered) {
      if (!coords || !Array.isArray(layer.hull) || !layer.hull.length) continue;
      const cls = layer.current ? " sw-current" : "";
      const path = hullPath(layer.hull, view);
      if (path) nodes.push(svg("path", { class: `sw-map-hull${cls}`, d: path }));
      const [ax, ay] = labelAnchor(layer.hull);
      const [sx, sy] = toScreen(view, ax, ay);
      const text = svg("text", { class: `sw-map-label${cls}`, x: String(Math.round(sx)), y: String(Math.round(sy - 6)) });
      text.textContent = String(layer.label ?? "");
      nodes.push(text);
    }
    hulls.replaceChildren(...nodes);
  };

  const drawNow = () => {
    frame = 0;
    sizeCanvas();
    if (renderer && coords) {
      const zoom = view.scale / fitScale;
      renderer.draw(view, { pointSize: pointSize(coords.n, view.width, view.height, zoom), dpr: globalThis.devicePixelRatio || 1, outline: colors.outline });
    }
    drawHulls();
  };

  const schedule = () => {
    if (frame) return;
    frameIsTimer = typeof requestAnimationFrame !== "function";
    frame = frameIsTimer ? Number(setTimeout(drawNow, 16)) : requestAnimationFrame(drawNow);
  };

  const showProblem = () => {
    const st = /** @type {Partial<MapState>} */ (model.get("map_state") ?? {});
    let text = problem;
    if (!text && st.state === "computing") text = st.message || "Computing the map…";
    if (!text && st.state === "error") text = `The map failed: ${st.message || "unknown error"}`;
    if (!text && !coords) text = "Loading the map…";
    message.hidden = !text;
    message.textContent = text ?? "";
    message.classList.toggle("sw-error-inline", Boolean(problem) || st.state === "error");
    message.setAttribute("role", st.state === "error" || problem ? "alert" : "status");
  };

  const ensureRenderer = () => {
    if (renderer || problem) return;
    renderer = makeRenderer(canvas, schedule);
    const now = /** @type {HTMLCanvasElement | null} */ (stage.querySelector("canvas"));
    if (now && now !== canvas) {
      // createRenderer replaced the canvas: listeners move to the new one.
      canvas = now;
      bindCanvas();
    }
    if (!renderer) {
      problem = "This browser can draw neither WebGL nor a 2D canvas: the map cannot be shown.";
      return;
    }
    canvas.dataset.renderer = renderer.kind;
  };

  // ---- colours ----
  const applyPalette = () => {
    if (!renderer) return;
    renderer.setPalette(shown ? paletteFor(shown.legend, colors) : categoricalPalette([colors.ramp[1]], 1, colors.missing));
  };

  const applyColors = () => {
    if (!renderer) return;
    renderer.setValues(shown && coords && shown.values.length === coords.n ? shown.values : null);
    applyPalette();
    renderLegend(legendEl, shown ? shown.legend : null, colors, shown ? shown.values : null);
    schedule();
  };

  const loadColors = async () => {
    colorsQueued = false;
    if (!coords) return;
    const by = String(model.get("map_color") || "weights");
    colorsCtl?.abort();
    const ctl = new AbortController();
    colorsCtl = ctl;
    try {
      const { content, buffers } = await send("colors", { by }, ctl);
      if (!buffers[0]) throw new Error("colors: the reply has no buffer");
      const values = bytesOf(buffers[0]);
      if (!coords || values.length !== coords.n) return;
      shown = { values, legend: content.legend, by };
      applyColors();
    } catch (e) {
      if (!isAbort(e)) console.error(e);
    }
  };

  // Several changes at once (current and history) ask once.
  const queueColors = () => {
    if (colorsQueued) return;
    colorsQueued = true;
    Promise.resolve().then(loadColors);
  };

  // ---- coordinates ----
  /** @param {number} version */
  const loadCoords = async (version) => {
    wanted = version;
    coordsCtl?.abort();
    const ctl = new AbortController();
    coordsCtl = ctl;
    try {
      const { content, buffers } = await send("coords", {}, ctl);
      const n = Number(content.n);
      const positions = buffers[0] ? floatsOf(buffers[0]) : new Float32Array(0);
      if (!Number.isInteger(n) || n < 0 || positions.length !== 2 * n) {
        throw new Error(`coords: expected ${2 * n} float32 values for n = ${content.n}, got ${positions.length}`);
      }
      const bounds = /** @type {[number, number, number, number]} */ (Array.isArray(content.bounds) && content.bounds.length === 4 ? content.bounds.map(Number) : [0, 0, 1, 1]);
      coords = { positions, n, version: Number(content.version ?? version), bounds };
      grid = null;
      captions.clear();
      ensureRenderer();
      if (renderer) {
        renderer.setPositions(positions);
        renderer.setSelected(selection);
      }
      fit();
      if (shown && shown.values.length === n) applyColors();
      else {
        shown = null;
        applyColors();
        queueColors();
      }
    } catch (e) {
      if (isAbort(e)) return;
      wanted = null;
      problem = `The map could not be loaded: ${e instanceof Error ? e.message : String(e)}`;
    }
    showProblem();
    schedule();
  };

  /** whether this view asked Python to start a map that has not started (see onMapState) */
  let startAsked = false;

  const onMapState = () => {
    const st = /** @type {Partial<MapState> | undefined} */ (model.get("map_state"));
    // Python computes a map only once something shows it: where displaying the widget did
    // not start it (front ends that never ask for a mime bundle), this view's first coords
    // request does; its answer only says "computing", and map_state then follows.
    if (st?.state === "none" && st.projection && st.projection !== "none" && !startAsked) {
      startAsked = true;
      send("coords", {}, new AbortController()).catch(() => {});
    }
    el.hidden = !st || !st.state || st.state === "none";
    // A preview map is shown while a better one computes: keep the progress bar up.
    const computing = st?.state === "computing" || (st?.state === "ready" && st?.refining === true);
    progress.hidden = !computing;
    const p = Math.min(1, Math.max(0, Number(st?.progress) || 0));
    fill.style.width = `${Math.round(p * 100)}%`;
    progress.setAttribute("aria-valuenow", String(Math.round(p * 100)));
    statusText.textContent = computing ? `${st?.message || "Computing the map"} (${Math.round(p * 100)}%)` : "";
    const version = Number(st?.version) || 0;
    if (st?.state === "ready" && version !== wanted) {
      problem = null;
      loadCoords(version);
    }
    showProblem();
  };

  // ---- selection ----
  const onSelected = () => {
    /** @type {number[]} */
    const list = Array.isArray(model.get("selected")) ? model.get("selected") : [];
    selection = Uint32Array.from(list.filter((i) => Number.isInteger(i) && i >= 0)).sort();
    renderer?.setSelected(selection);
    schedule();
  };

  /**
   * Send a lasso or box selection; highlight the points inside at once (the same rule
   * as Python's) until Python's `selected` arrives.
   * @param {"lasso" | "box"} type
   * @param {Record<string, any>} payload
   * @param {Uint32Array | null} hit
   * @param {Mode} mode
   */
  const select = async (type, payload, hit, mode) => {
    const before = selection;
    if (hit && renderer) {
      renderer.setSelected(combineSelection(selection, hit, mode));
      schedule();
    }
    try {
      const { content } = await send(type, { ...payload, mode }, new AbortController());
      statusText.textContent = `${int(content.count)} selected`;
    } catch (e) {
      if (isAbort(e)) return;
      // Python kept the selection it had: show that one again.
      if (selection === before) {
        renderer?.setSelected(selection);
        schedule();
      }
    }
  };

  // ---- hover and detail ----
  /** @param {number} sx @param {number} sy */
  const pick = (sx, sy) => {
    if (!coords) return -1;
    if (!grid) grid = new GridIndex(coords.positions, coords.bounds);
    const [x, y] = toMap(view, sx, sy);
    return grid.nearest(x, y, HOVER_RADIUS / view.scale);
  };

  /** @param {string[]} lines */
  const showCaption = (lines) => tooltip.replaceChildren(...lines.map((line, k) => h("div", { class: k ? "sw-map-tip-line" : "sw-map-tip-title", text: line })));

  /** @param {number} index */
  const loadCaption = async (index) => {
    detailCtl?.abort();
    const ctl = new AbortController();
    detailCtl = ctl;
    try {
      const { content } = await send("detail", { index }, ctl);
      const lines = captionLines({ ...content, index }, num);
      captions.set(index, lines);
      if (captions.size > CAPTION_CACHE) captions.delete(/** @type {number} */ (captions.keys().next().value));
      if (hovered === index) showCaption(lines);
    } catch (e) {
      if (!isAbort(e)) console.error(e);
    }
  };

  /** @param {number} index @param {number} sx @param {number} sy */
  const hover = (index, sx, sy) => {
    if (index !== hovered) {
      hovered = index;
      if (index < 0) {
        detailCtl?.abort();
        tooltip.hidden = true;
        return;
      }
      const cached = captions.get(index);
      showCaption(cached ?? [`#${index}`]);
      if (!cached) loadCaption(index);
    }
    if (index < 0) return;
    tooltip.hidden = false;
    const { width, height } = stageSize();
    tooltip.style.left = `${Math.round(Math.min(sx + 12, Math.max(0, width - 220)))}px`;
    tooltip.style.top = `${Math.round(sy + 14 > height - 60 ? Math.max(0, sy - 70) : sy + 14)}px`;
  };

  // ---- pointer input ----
  /** @type {Map<number, [number, number]>} */
  const pointers = new Map();
  /** @type {{ kind: "pan" | "lasso" | "box" | "pinch", start: [number, number], last: [number, number], path: [number, number][], mode: Mode, moved: boolean, distance: number } | null} */
  let drag = null;

  /** @param {PointerEvent | MouseEvent} ev @returns {[number, number]} */
  const local = (ev) => {
    const r = canvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  };

  /** @param {MouseEvent | KeyboardEvent} ev @returns {Mode} */
  const modeOf = (ev) => (ev.altKey ? "remove" : ev.shiftKey ? "add" : "replace");

  const clearShapes = () => {
    lassoPath.removeAttribute("d");
    boxRect.setAttribute("width", "0");
    boxRect.setAttribute("height", "0");
  };

  /** @param {PointerEvent} ev */
  const onDown = (ev) => {
    if (ev.button !== 0 || !coords) return;
    const p = local(ev);
    pointers.set(ev.pointerId, p);
    canvas.setPointerCapture?.(ev.pointerId);
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      clearShapes();
      drag = { kind: "pinch", start: p, last: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2], path: [], mode: "replace", moved: true, distance: Math.hypot(a[0] - b[0], a[1] - b[1]) };
      return;
    }
    const modified = ev.shiftKey || ev.altKey;
    const kind = tool === "box" ? "box" : tool === "lasso" || modified ? "lasso" : "pan";
    drag = { kind, start: p, last: p, path: [p], mode: modeOf(ev), moved: false, distance: 0 };
    ev.preventDefault();
  };

  /** @param {PointerEvent} ev */
  const onMove = (ev) => {
    const p = local(ev);
    if (!drag) {
      hover(pick(p[0], p[1]), p[0], p[1]);
      return;
    }
    if (!pointers.has(ev.pointerId)) return;
    pointers.set(ev.pointerId, p);
    if (!drag.moved && Math.hypot(p[0] - drag.start[0], p[1] - drag.start[1]) >= CLICK_SLOP) {
      drag.moved = true;
      hover(-1, 0, 0);
    }
    if (drag.kind === "pinch") {
      const [a, b] = [...pointers.values()];
      const mid = /** @type {[number, number]} */ ([(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]);
      const distance = Math.hypot(a[0] - b[0], a[1] - b[1]);
      view = panBy(view, mid[0] - drag.last[0], mid[1] - drag.last[1]);
      if (drag.distance > 0 && distance > 0) view = zoomAt(view, distance / drag.distance, mid[0], mid[1], fitScale);
      drag.last = mid;
      drag.distance = distance;
      moved = true;
      schedule();
    } else if (drag.kind === "pan") {
      view = panBy(view, p[0] - drag.last[0], p[1] - drag.last[1]);
      drag.last = p;
      if (drag.moved) moved = true;
      schedule();
    } else if (drag.kind === "lasso") {
      drag.path.push(p);
      drag.last = p;
      lassoPath.setAttribute("d", `M${drag.path.map(([x, y]) => `${Math.round(x)} ${Math.round(y)}`).join(" L")} Z`);
    } else {
      const [x0, y0, x1, y1] = normalizeBox([drag.start[0], drag.start[1], p[0], p[1]]);
      drag.last = p;
      boxRect.setAttribute("x", String(x0));
      boxRect.setAttribute("y", String(y0));
      boxRect.setAttribute("width", String(x1 - x0));
      boxRect.setAttribute("height", String(y1 - y0));
    }
  };

  /** @param {PointerEvent} ev */
  const onUp = (ev) => {
    if (!pointers.delete(ev.pointerId) || !drag) return;
    const current = drag;
    if (current.kind === "pinch") {
      // The finger left on the screen goes on panning.
      const rest = [...pointers.values()][0];
      drag = rest ? { kind: "pan", start: rest, last: rest, path: [], mode: "replace", moved: true, distance: 0 } : null;
      return;
    }
    drag = null;
    clearShapes();
    if (!coords) return;
    const p = local(ev);
    if (!current.moved) {
      const index = pick(p[0], p[1]);
      if (index >= 0) write(model, { detail: index });
      return;
    }
    if (current.kind === "lasso") {
      current.path.push(p);
      const simple = lassoPolygon(current.path, 2, MAX_LASSO_VERTICES);
      if (simple.length < 3) return;
      const polygon = simple.map(([x, y]) => toMap(view, x, y));
      select("lasso", { polygon, version: coords.version }, pointsInPolygon(coords.positions, polygon), current.mode);
    } else if (current.kind === "box") {
      const [a, b] = [toMap(view, current.start[0], current.start[1]), toMap(view, p[0], p[1])];
      const box = normalizeBox([a[0], a[1], b[0], b[1]]);
      select("box", { box, version: coords.version }, pointsInBox(coords.positions, box), current.mode);
    }
  };

  /** @param {PointerEvent} ev */
  const onCancel = (ev) => {
    pointers.delete(ev.pointerId);
    drag = null;
    clearShapes();
  };

  /** @param {WheelEvent} ev */
  const onWheel = (ev) => {
    if (!coords) return;
    ev.preventDefault();
    // deltaMode 1: lines, 2: pages; trackpad pinches arrive as wheel events with ctrlKey.
    const unit = ev.deltaMode === 1 ? 16 : ev.deltaMode === 2 ? 400 : 1;
    const factor = Math.exp((-ev.deltaY * unit * (ev.ctrlKey ? 10 : 1)) / 500);
    const [sx, sy] = local(ev);
    view = zoomAt(view, factor, sx, sy, fitScale);
    moved = true;
    hover(-1, 0, 0);
    schedule();
  };

  /** @param {KeyboardEvent} ev */
  const onKey = (ev) => {
    if (!coords) return;
    const step = 40;
    const moves = /** @type {Record<string, [number, number]>} */ ({ ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] });
    if (moves[ev.key]) view = panBy(view, ...moves[ev.key]);
    else if (ev.key === "+" || ev.key === "=") view = zoomAt(view, 1.25, view.width / 2, view.height / 2, fitScale);
    else if (ev.key === "-" || ev.key === "_") view = zoomAt(view, 0.8, view.width / 2, view.height / 2, fitScale);
    else if (ev.key === "0") {
      fit();
      schedule();
      ev.preventDefault();
      return;
    } else return;
    ev.preventDefault();
    moved = true;
    schedule();
  };

  /** @type {Disposer | null} */
  let canvasListeners = null;
  const bindCanvas = () => {
    canvasListeners?.dispose();
    const c = new Disposer();
    c.listen(canvas, "pointerdown", onDown, model);
    c.listen(canvas, "pointermove", onMove, model);
    c.listen(canvas, "pointerup", onUp, model);
    c.listen(canvas, "pointercancel", onCancel, model);
    c.listen(canvas, "pointerleave", () => {
      if (!drag) hover(-1, 0, 0);
    }, model);
    c.listen(canvas, "wheel", onWheel, model);
    c.listen(canvas, "keydown", onKey, model);
    canvasListeners = c;
  };
  bindCanvas();
  d.add(() => canvasListeners?.dispose());

  // ---- controls ----
  /** @param {Tool} name */
  const setTool = (name) => {
    tool = name;
    for (const [k, b] of Object.entries(tools)) b.setAttribute("aria-pressed", String(k === name));
    stage.dataset.tool = name;
  };
  setTool("pan");
  for (const [name, button] of Object.entries(tools)) d.listen(button, "click", () => setTool(/** @type {Tool} */ (name)), model);
  d.listen(reset, "click", () => {
    fit();
    schedule();
  }, model);

  const updateColorOptions = () => {
    /** @type {string[]} */
    const columns = Array.isArray(model.get("columns")) ? model.get("columns") : [];
    const value = String(model.get("map_color") || "weights");
    /** @type {[string, string][]} */
    const options = [
      ["weights", `${noun(model)} weight`],
      ["loss", "loss"],
      ...columns.map((c) => /** @type {[string, string]} */ ([`column:${c}`, String(c)])),
    ];
    if (!options.some(([v]) => v === value)) options.push([value, value.replace(/^column:/, "")]);
    colorSelect.replaceChildren(...options.map(([v, text]) => h("option", { text, props: { value: v } })));
    colorSelect.value = value;
  };
  d.listen(colorSelect, "change", () => write(model, { map_color: colorSelect.value }), model);

  const onTheme = () => {
    colors = readColors(el);
    applyColors();
  };
  if (typeof MutationObserver !== "undefined" && document.body) {
    const observer = new MutationObserver(onTheme);
    observer.observe(document.body, { attributes: true, attributeFilter: ["class", "data-jp-theme-light"] });
    d.add(() => observer.disconnect());
  }
  if (typeof matchMedia === "function") d.listen(matchMedia("(prefers-color-scheme: dark)"), "change", onTheme, model);
  if (typeof ResizeObserver !== "undefined") {
    const resize = new ResizeObserver(() => schedule());
    resize.observe(stage);
    d.add(() => resize.disconnect());
  }

  d.on(model, "change:map_state", onMapState);
  d.on(model, "change:map_layers", schedule);
  d.on(model, "change:selected", onSelected);
  d.on(model, "change:columns", updateColorOptions);
  d.on(model, "change:map_color", () => {
    updateColorOptions();
    queueColors();
  });
  for (const name of ["current", "history", "method"]) {
    d.on(model, `change:${name}`, () => {
      if (String(model.get("map_color") || "weights") === "weights") queueColors();
    });
  }
  for (const event of NOUN_EVENTS) d.on(model, event, updateColorOptions);

  updateColorOptions();
  onSelected();
  onMapState();
  return () => {
    for (const ctl of inFlight) ctl.abort();
    if (frame && frameIsTimer) clearTimeout(frame);
    else if (frame) cancelAnimationFrame(frame);
    d.dispose();
    renderer?.destroy();
    renderer = null;
    coords = null;
    grid = null;
    el.replaceChildren();
  };
}
