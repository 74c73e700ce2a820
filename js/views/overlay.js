// Overlay switch for images with Shared Interest data: ground truth (yellow) and the
// model's salient features (orange) painted over the thumbnails by Python.

import { Disposer, h, write } from "../dom.js";

/** @typedef {import("../types.js").Model} Model */

const LABELS = /** @type {Record<string, string>} */ ({
  none: "none",
  "ground-truth": "ground truth",
  saliency: "saliency",
  both: "both",
});

/**
 * @param {Model} model
 * @param {HTMLElement} el
 */
export function render(model, el) {
  const d = new Disposer();
  const group = h("div", { class: "sw-overlay-buttons", attrs: { role: "radiogroup", "aria-label": "Overlay on images" } });
  const legend = h(
    "span",
    { class: "sw-overlay-legend" },
    h("span", { class: "sw-swatch sw-gt" }),
    "ground truth ",
    h("span", { class: "sw-swatch sw-sal" }),
    "saliency",
  );
  el.replaceChildren(h("span", { class: "sw-arrange-label", text: "Overlay" }), group, legend);

  const update = () => {
    /** @type {string[]} */
    const choices = model.get("overlays") ?? [];
    const current = model.get("overlay") ?? "none";
    group.replaceChildren(
      ...choices.map((c) =>
        h("button", {
          class: `sw-overlay-choice${c === current ? " sw-active" : ""}`,
          text: LABELS[c] ?? String(c),
          props: { type: "button" },
          attrs: { role: "radio", "aria-checked": String(c === current), "data-overlay": String(c) },
        }),
      ),
    );
    el.hidden = choices.length < 2;
  };

  d.listen(group, "click", (/** @type {MouseEvent} */ ev) => {
    const b = /** @type {HTMLElement | null} */ (/** @type {Element} */ (ev.target).closest("[data-overlay]"));
    if (b && b.dataset.overlay !== model.get("overlay")) write(model, { overlay: b.dataset.overlay });
  }, model);
  d.on(model, "change:overlays", update);
  d.on(model, "change:overlay", update);
  update();
  return () => {
    d.dispose();
    el.replaceChildren();
    el.hidden = false;
  };
}
