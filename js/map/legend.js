// The legend under the map: category swatches, or a gradient between min and max.

import { h } from "../dom.js";
import { num } from "../format.js";
import { cssColor, MAX_CATEGORIES, MISSING } from "./colors.js";

/** @typedef {import("../types.js").Legend} Legend */
/** @typedef {import("./colors.js").MapColors} MapColors */

/**
 * Fill `el` with the legend of the shown colours.
 * @param {HTMLElement} el
 * @param {Legend | null} legend
 * @param {MapColors} colors
 * @param {Uint8Array | null} values  the points' bytes: a "missing" swatch appears when one is missing
 */
export function renderLegend(el, legend, colors, values) {
  if (!legend) {
    el.replaceChildren();
    return;
  }
  const missing = values ? values.includes(MISSING) : false;
  const swatch = (/** @type {string} */ color, /** @type {string} */ text) =>
    h("span", { class: "sw-map-key" }, h("span", { class: "sw-map-swatch", attrs: { style: `background: ${color}` } }), h("span", { text }));
  const title = h("span", { class: "sw-map-legend-title", text: legend.label });
  const parts = [];
  if (legend.kind === "categorical") {
    const names = (Array.isArray(legend.categories) ? legend.categories : []).slice(0, MAX_CATEGORIES);
    names.forEach((name, k) => parts.push(swatch(cssColor(colors.categorical[k]), String(name))));
  } else {
    const stops = colors.ramp.map((c, k) => `${cssColor(c)} ${Math.round((100 * k) / Math.max(1, colors.ramp.length - 1))}%`);
    parts.push(
      h("span", { class: "sw-map-min", text: num(legend.min) }),
      h("span", { class: "sw-map-gradient", attrs: { style: `background: linear-gradient(to right, ${stops.join(", ")})`, "aria-hidden": "true" } }),
      h("span", { class: "sw-map-max", text: num(legend.max) }),
    );
  }
  if (missing) parts.push(swatch(cssColor(colors.missing), "missing"));
  el.replaceChildren(title, ...parts);
}
