// Selection actions (answered by Python, which then writes `selected`) and the count. The
// buttons' titles name the result with the current method's noun.

import { Disposer, h } from "../dom.js";
import { int } from "../format.js";
import { request } from "../messages.js";
import { noun, NOUN_EVENTS } from "../vocabulary.js";

/** @typedef {import("../types.js").Model} Model */

/**
 * @param {Model} model
 * @param {HTMLElement} el
 */
export function render(model, el) {
  const d = new Disposer();
  const controller = new AbortController();
  let pending = 0;

  const top = h("button", { class: "sw-select-top", text: "Select top-S", props: { type: "button" } });
  const above = h("button", { class: "sw-select-above", text: "Select weight ≥", props: { type: "button" } });
  const threshold = h("input", {
    class: "sw-threshold",
    props: { type: "number", min: "0", max: "1", step: "0.05", value: "0.5" },
    attrs: { "aria-label": "Weight threshold" },
  });
  const clear = h("button", { class: "sw-select-none", text: "Clear", props: { type: "button" }, attrs: { title: "Clear the selection" } });
  const count = h("span", { class: "sw-selected-count", attrs: { "aria-live": "polite" } });
  el.replaceChildren(top, above, threshold, clear, count);

  const updateTitles = () => {
    const word = noun(model);
    top.title = `Select the S highest-weight members of the ${word}`;
    above.title = `Select every example whose ${word} weight is at least the threshold`;
  };

  const update = () => {
    const n = (model.get("selected") ?? []).length;
    count.textContent = `${int(n)} selected`;
    const none = !(model.get("history") ?? []).length || model.get("current") < 0;
    top.disabled = pending > 0 || none;
    above.disabled = pending > 0 || none;
    clear.disabled = pending > 0;
  };

  /**
   * @param {"top" | "above" | "none"} mode
   * @param {number} [value]
   */
  const select = (mode, value) => {
    pending += 1;
    update();
    request(model, "select", value === undefined ? { mode } : { mode, threshold: value }, { signal: controller.signal })
      .catch(() => {
        // errors are already shown in the status area; aborts need nothing
      })
      .finally(() => {
        if (controller.signal.aborted) return;
        pending -= 1;
        update();
      });
  };

  d.listen(top, "click", () => select("top"), model);
  d.listen(clear, "click", () => select("none"), model);
  const selectAbove = () => {
    const t = threshold.valueAsNumber;
    if (!Number.isFinite(t)) {
      threshold.setCustomValidity("a number, e.g. 0.5");
      threshold.reportValidity?.();
      return;
    }
    threshold.setCustomValidity("");
    select("above", t);
  };
  d.listen(above, "click", selectAbove, model);
  d.listen(threshold, "keydown", (/** @type {KeyboardEvent} */ ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      if (!above.disabled) selectAbove();
    }
  }, model);

  d.on(model, "change:selected", update);
  d.on(model, "change:history", update);
  d.on(model, "change:current", update);
  for (const event of NOUN_EVENTS) d.on(model, event, updateTitles);
  updateTitles();
  update();
  return () => {
    controller.abort();
    d.dispose();
    el.replaceChildren();
  };
}
