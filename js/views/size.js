// Result size S, one control for every method: a log-scale range input (0.1 % .. 10 %) and
// an exact number input in %. Both commit (write `size`, which starts a search in Python)
// on "change", never on "input".

import { Disposer, h, write } from "../dom.js";
import { int } from "../format.js";

/** @typedef {import("../types.js").Model} Model */

export const MIN_SIZE = 0.001;
export const MAX_SIZE = 0.1;
/** Range input positions: 0..STEPS maps to MIN_SIZE..MAX_SIZE on a log scale. */
export const STEPS = 1000;

/** @param {number} f */
export function clampSize(f) {
  return Math.min(MAX_SIZE, Math.max(MIN_SIZE, f));
}

/**
 * Range position -> size fraction (3 significant digits).
 * @param {number} pos
 */
export function positionToSize(pos) {
  const t = Math.min(STEPS, Math.max(0, pos)) / STEPS;
  return clampSize(Number((MIN_SIZE * (MAX_SIZE / MIN_SIZE) ** t).toPrecision(3)));
}

/**
 * Size fraction -> range position.
 * @param {number} f
 */
export function sizeToPosition(f) {
  return Math.round((STEPS * Math.log(clampSize(f) / MIN_SIZE)) / Math.log(MAX_SIZE / MIN_SIZE));
}

/** @param {number} f */
function percentText(f) {
  return String(Number((f * 100).toPrecision(3)));
}

/**
 * @param {Model} model
 * @param {HTMLElement} el
 */
export function render(model, el) {
  const d = new Disposer();
  const range = h("input", {
    class: "sw-size-range",
    attrs: { "aria-label": "Result size (log scale, 0.1% to 10%)" },
    props: { type: "range", min: "0", max: String(STEPS), step: "1" },
  });
  const number = h("input", {
    class: "sw-size-number",
    attrs: { "aria-label": "Result size in percent" },
    props: { type: "number", min: String(MIN_SIZE * 100), max: String(MAX_SIZE * 100), step: "any" },
  });
  const count = h("span", { class: "sw-size-count sw-muted" });
  el.replaceChildren(
    h("label", { class: "sw-size-label", text: "Size" }),
    range,
    number,
    h("span", { class: "sw-unit", text: "%" }),
    count,
  );

  /** @param {number} f */
  const showCount = (f) => {
    const n = model.get("n");
    count.textContent = typeof n === "number" && n > 0 ? `≈ ${int(Math.max(1, Math.round(f * n)))} examples` : "";
  };

  const update = () => {
    const f = clampSize(Number(model.get("size")) || 0.02);
    range.value = String(sizeToPosition(f));
    if (document.activeElement !== number) number.value = percentText(f);
    showCount(f);
  };

  /** @param {number} f */
  const commit = (f) => {
    const size = clampSize(f);
    if (size === model.get("size")) {
      update();
      return;
    }
    write(model, { size });
  };

  // While dragging: only the read-outs follow.
  d.listen(range, "input", () => {
    const f = positionToSize(Number(range.value));
    number.value = percentText(f);
    showCount(f);
  }, model);
  d.listen(range, "change", () => commit(positionToSize(Number(range.value))), model);
  const commitNumber = () => {
    const p = Number(number.value);
    if (number.value.trim() === "" || !Number.isFinite(p)) {
      update();
      return;
    }
    commit(p / 100);
    number.value = percentText(clampSize(p / 100));
  };
  d.listen(number, "change", commitNumber, model);
  // Chromium fires no "change" on Enter in a number input outside a form.
  d.listen(number, "keydown", (/** @type {KeyboardEvent} */ ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      commitNumber();
    }
  }, model);
  d.listen(number, "blur", update, model);

  d.on(model, "change:size", update);
  d.on(model, "change:n", update);
  update();
  return () => {
    d.dispose();
    el.replaceChildren();
  };
}
