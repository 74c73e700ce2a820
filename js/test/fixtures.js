// Realistic widget state and helpers shared by the tests.

import widget from "../index.js";
import { FakeModel } from "./fake-model.js";

/** A real 2x2 RGB PNG (red, blue / red, blue). */
export const PNG_BYTES = new Uint8Array([
  137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0, 253, 212, 154,
  115, 0, 0, 0, 16, 73, 68, 65, 84, 120, 156, 99, 248, 207, 0, 4, 255, 25, 32, 20, 0, 27, 242, 3, 253, 214, 150, 242,
  43, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
]);

/** Buffers as anywidget delivers them: DataViews. */
export function pngView() {
  return new DataView(PNG_BYTES.buffer.slice(0));
}

export const PAGE_INDICES = [417, 12, 905, 3, 77, 640, 201, 58];

/** @param {number[]} indices @param {number} [w0] */
export function itemsFor(indices, w0 = 1) {
  return indices.map((index, k) => ({
    index,
    weight: Math.round((w0 - k * 0.05) * 1000) / 1000,
    loss: 2.5 - k * 0.1,
    label: k % 3 === 0 ? "cat" : "dog",
    prediction: "dog",
    text: null,
  }));
}

export function makeState(overrides = {}) {
  return {
    n: 5000,
    mean_loss: 0.4,
    kind: "images",
    history: [
      { rank: 0, size: 100, fraction: 0.02, weighted_loss: 1.9, top_loss: 2.2, mass: 100, members: 180, caption: "mostly cats" },
      { rank: 1, size: 100, fraction: 0.02, weighted_loss: 1.2, top_loss: 1.6, mass: 100, members: 150, caption: "" },
    ],
    current: 0,
    size: 0.02,
    status: { state: "idle", progress: 1, message: "" },
    limits: {
      thumbnails_per_request: 200,
      probe_metrics: [
        ["iou", "IoU"],
        ["gtc", "region coverage"],
        ["sc", "saliency coverage"],
      ],
    },
    tab: "spotlight",
    page: 0,
    page_size: 8,
    total_items: 20,
    page_items: itemsFor(PAGE_INDICES),
    selected: [],
    columns: ["age", "site"],
    breakdown_column: "age",
    breakdown: [
      { group: "60+", count: 70, share_in: 0.7, share_all: 0.2, lift: 3.5, loss_in: 2.1, loss_all: 0.9, lift_low: 2.6, lift_high: 4.4, p_value: 1e-9 },
      { group: "40-60", count: 20, share_in: 0.2, share_all: 0.4, lift: 0.5, loss_in: 1.0, loss_all: 0.4, lift_low: 0.3, lift_high: 1.1, p_value: 0.061 },
      { group: "<40", count: 10, share_in: 0.1, share_all: 0.4, lift: 0.25, loss_in: 0.8, loss_all: 0.3 },
    ],
    methods: [
      { name: "spotlight", label: "Spotlight", noun: "spotlight" },
      { name: "kmeans", label: "K-means clusters", noun: "cluster" },
    ],
    method: "spotlight",
    tabs: [
      { name: "spotlight", label: "Members", title: "Members of the result shown" },
      { name: "highest", label: "Highest loss", title: "The examples with the highest loss" },
      { name: "random", label: "Random", title: "A random sample" },
    ],
    train_kind: "images",
    sort_options: ["weight", "loss", "age", "site"],
    sort_by: "",
    sort_descending: true,
    filter_column: "",
    filter_group: "",
    filter_groups: [],
    overlays: [],
    overlay: "none",
    error: "",
    ...overrides,
  };
}

/** @type {(() => void)[]} */
const mounted = [];

/**
 * Render the widget into the document.
 * @param {Record<string, any>} [overrides]  state overrides
 * @param {{ model?: FakeModel }} [options]
 */
export function mount(overrides = {}, options = {}) {
  const model = options.model ?? new FakeModel(makeState(overrides));
  const el = document.createElement("div");
  document.body.append(el);
  const cleanup = widget.render({ model, el });
  const root = /** @type {HTMLElement} */ (el.querySelector(".spotlight-widget"));
  let done = false;
  const unmount = () => {
    if (done) return;
    done = true;
    cleanup();
    el.remove();
  };
  mounted.push(unmount);
  return { model, el, root, unmount, $: (/** @type {string} */ s) => /** @type {HTMLElement} */ (root.querySelector(s)), $$: (/** @type {string} */ s) => /** @type {HTMLElement[]} */ ([...root.querySelectorAll(s)]) };
}

export function unmountAll() {
  while (mounted.length) mounted.pop()?.();
}

/** @param {Element} el @param {MouseEventInit} [init] */
export function click(el, init = {}) {
  el.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true, ...init }));
}

/** @param {Element} el */
export function dblclick(el) {
  el.dispatchEvent(new MouseEvent("dblclick", { bubbles: true, cancelable: true }));
}

/** @param {Element} el @param {string} key @param {KeyboardEventInit} [init] */
export function key(el, key, init = {}) {
  el.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...init }));
}

/**
 * Set an input's value and fire "input" then (optionally) "change".
 * @param {HTMLInputElement | HTMLSelectElement} input
 * @param {string | number} value
 * @param {{ change?: boolean }} [options]
 */
export function typeValue(input, value, { change = true } = {}) {
  input.value = String(value);
  input.dispatchEvent(new Event("input", { bubbles: true }));
  if (change) input.dispatchEvent(new Event("change", { bubbles: true }));
}

/** Let promise callbacks run. */
export async function flush() {
  for (let k = 0; k < 5; k += 1) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}

export const inBrowser = typeof navigator !== "undefined" && !/jsdom/i.test(navigator.userAgent);
