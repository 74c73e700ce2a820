// Probing a model with a drawn region (Shared Interest, Section 5.3): drag a box on the
// image in the detail panel; Python asks the model for every class's saliency on that image
// and ranks the classes by how well it matches the box.

import { h } from "./dom.js";
import { num } from "./format.js";
import { isAbort, request } from "./messages.js";

/** @typedef {import("./types.js").Model} Model */

/**
 * The metrics Python can rank classes by, as [name, label] (the `limits` trait).
 * @param {Model} model
 * @returns {[string, string][]}
 */
export function probeMetrics(model) {
  const metrics = model.get("limits")?.probe_metrics;
  return Array.isArray(metrics) ? metrics : [["iou", "IoU"]];
}

/**
 * A box dragged between two points given as fractions of the image, in whole image pixels
 * (half-open, at least one pixel each way).
 * @param {{x: number, y: number}} a
 * @param {{x: number, y: number}} b
 * @param {[number, number]} shape  [height, width]
 * @returns {[number, number, number, number]} [x0, y0, x1, y1]
 */
export function toPixelBox(a, b, shape) {
  const [height, width] = shape;
  const clamp = (/** @type {number} */ v) => Math.min(1, Math.max(0, v));
  const side = (/** @type {number} */ p, /** @type {number} */ q, /** @type {number} */ size) => {
    const lo = Math.min(size - 1, Math.floor(clamp(Math.min(p, q)) * size));
    const hi = Math.max(lo + 1, Math.min(size, Math.ceil(clamp(Math.max(p, q)) * size)));
    return [lo, hi];
  };
  const [x0, x1] = side(a.x, b.x, width);
  const [y0, y1] = side(a.y, b.y, height);
  return [x0, y0, x1, y1];
}

/**
 * Where the picture is drawn inside an <img> box: the detail image uses `object-fit:
 * contain`, which letterboxes it.
 * @param {HTMLImageElement} img
 * @returns {{left: number, top: number, width: number, height: number}}
 */
export function contentRect(img) {
  const r = img.getBoundingClientRect();
  const nw = img.naturalWidth;
  const nh = img.naturalHeight;
  if (!nw || !nh || !r.width || !r.height) return { left: r.left, top: r.top, width: r.width, height: r.height };
  const scale = Math.min(r.width / nw, r.height / nh);
  const width = nw * scale;
  const height = nh * scale;
  return { left: r.left + (r.width - width) / 2, top: r.top + (r.height - height) / 2, width, height };
}

/**
 * Wire probing onto the detail image. Everything it adds is removed when `signal` aborts.
 * @param {Model} model
 * @param {number} index
 * @param {HTMLElement} thumb  holds the <img> (now or once it has loaded)
 * @param {[number, number]} shape  the image's [height, width] in pixels
 * @param {AbortSignal} signal
 * @returns {HTMLElement} the controls and the results
 */
export function probeControls(model, index, thumb, shape, signal) {
  const metrics = probeMetrics(model);
  const metric = h(
    "select",
    { class: "sw-probe-metric", attrs: { "aria-label": "Rank classes by" } },
    ...metrics.map(([value, label]) => h("option", { text: label, props: { value } })),
  );
  const status = h("p", { class: "sw-probe-status sw-muted", text: "Drag on the image to draw a region." });
  const results = h("div", { class: "sw-probe-results" });
  const box = h("div", { class: "sw-probe-box", attrs: { "aria-hidden": "true" } });
  box.hidden = true;
  thumb.classList.add("sw-probe-target");
  thumb.append(box);
  /** @type {[number, number, number, number] | null} */
  let drawn = null;
  /** @type {AbortController | null} */
  let pending = null;
  /** @type {{x: number, y: number} | null} */
  let start = null;

  const frame = () => {
    const img = thumb.querySelector("img");
    return img ? contentRect(img) : null;
  };
  /** @param {PointerEvent} ev */
  const at = (ev) => {
    const r = frame();
    if (!r || !r.width || !r.height) return null;
    return { x: (ev.clientX - r.left) / r.width, y: (ev.clientY - r.top) / r.height, r };
  };

  /** @param {{x: number, y: number}} a @param {{x: number, y: number}} b */
  const drawBox = (a, b) => {
    const r = frame();
    const host = thumb.getBoundingClientRect();
    if (!r) return;
    const [x0, y0, x1, y1] = toPixelBox(a, b, shape);
    const [height, width] = shape;
    box.hidden = false;
    box.style.left = `${r.left - host.left + (x0 / width) * r.width}px`;
    box.style.top = `${r.top - host.top + (y0 / height) * r.height}px`;
    box.style.width = `${((x1 - x0) / width) * r.width}px`;
    box.style.height = `${((y1 - y0) / height) * r.height}px`;
  };

  const run = () => {
    if (!drawn) return;
    pending?.abort();
    const ctrl = new AbortController();
    pending = ctrl;
    signal.addEventListener("abort", () => ctrl.abort(), { once: true });
    status.textContent = "asking the model…";
    request(model, "probe", { index, boxes: [drawn], metric: metric.value }, { signal: ctrl.signal, timeout: 120000 })
      .then(({ content }) => {
        if (ctrl.signal.aborted) return;
        const rows = Array.isArray(content.classes) ? content.classes : [];
        status.textContent = rows.length ? `Classes whose saliency best matches region [${drawn?.join(", ")}]` : "No class to show.";
        results.replaceChildren(table(rows, metric.value, metrics));
      })
      .catch((e) => {
        if (isAbort(e) || ctrl.signal.aborted) return;
        status.textContent = e instanceof Error ? e.message : String(e);
      });
  };

  const options = { signal };
  thumb.addEventListener(
    "pointerdown",
    (ev) => {
      const p = at(/** @type {PointerEvent} */ (ev));
      if (!p) return;
      ev.preventDefault();
      start = { x: p.x, y: p.y };
      thumb.setPointerCapture?.(/** @type {PointerEvent} */ (ev).pointerId);
      drawBox(start, start);
    },
    options,
  );
  thumb.addEventListener(
    "pointermove",
    (ev) => {
      const p = start && at(/** @type {PointerEvent} */ (ev));
      if (start && p) drawBox(start, p);
    },
    options,
  );
  thumb.addEventListener(
    "pointerup",
    (ev) => {
      const p = start && at(/** @type {PointerEvent} */ (ev));
      if (start && p) {
        drawn = toPixelBox(start, p, shape);
        drawBox(start, p);
        run();
      }
      start = null;
    },
    options,
  );
  metric.addEventListener("change", run, options);
  signal.addEventListener("abort", () => pending?.abort(), { once: true });

  return h(
    "section",
    { class: "sw-probe", attrs: { "aria-label": "Probe the model" } },
    h("div", { class: "sw-probe-head" }, h("span", { class: "sw-probe-title", text: "Probe" }), metric),
    status,
    results,
  );
}

/**
 * @param {any[]} rows  ranked classes from Python
 * @param {string} chosen  the metric they are ranked by
 * @param {[string, string][]} metrics  every metric, as [name, label]
 */
function table(rows, chosen, metrics) {
  const head = h(
    "tr",
    {},
    h("th", { text: "class", attrs: { scope: "col" } }),
    ...metrics.map(([value, label]) => h("th", { text: label, class: value === chosen ? "sw-probe-chosen" : "", attrs: { scope: "col" } })),
  );
  const body = rows.map((r) =>
    h(
      "tr",
      {},
      h("td", { class: "sw-probe-class", text: String(r.name ?? r.class) }),
      ...metrics.map(([value]) => h("td", { text: num(r[value]), class: value === chosen ? "sw-probe-chosen" : "" })),
    ),
  );
  return h("table", { class: "sw-detail-table sw-probe-table" }, h("thead", {}, head), h("tbody", {}, ...body));
}
