// Breakdown of the current result by one metadata column: per group, paired horizontal
// bars (share inside the result vs overall), lift and mean loss. Texts name the result
// with the current method's noun ("in cluster", "in spotlight").

import { Disposer, h, write } from "../dom.js";
import { int, isNum, num, pct } from "../format.js";
import { noun, NOUN_EVENTS } from "../vocabulary.js";

/** @typedef {import("../types.js").Model} Model */
/** @typedef {import("../types.js").BreakdownRow} BreakdownRow */

// A group counts as surprising when its lift's interval leaves 1 (the overall share).
/** @param {BreakdownRow} r */
export function isSurprising(r) {
  return isNum(r.lift_low) && isNum(r.lift_high) && (/** @type {number} */ (r.lift_low) > 1 || /** @type {number} */ (r.lift_high) < 1);
}

/** @param {number} p */
export function pValueText(p) {
  if (p < 0.001) return "p < 0.001";
  return `p = ${Number(p.toPrecision(2))}`;
}

/**
 * The p-value, with the lift's interval on hover; nothing when Python sent neither.
 * @param {BreakdownRow} r
 * @param {string} word  the current method's noun
 */
function significance(r, word) {
  if (!isNum(r.p_value)) return null;
  const interval = isNum(r.lift_low) && isNum(r.lift_high) ? `lift interval ${num(r.lift_low)}–${num(r.lift_high)}× ; ` : "";
  return h("span", {
    class: "sw-p",
    text: pValueText(/** @type {number} */ (r.p_value)),
    attrs: { title: `${interval}how surprising this share is at this ${word}'s effective size` },
  });
}

/**
 * @param {Model} model
 * @param {HTMLElement} el
 */
export function render(model, el) {
  const d = new Disposer();
  const select = h("select", { class: "sw-column", attrs: { "aria-label": "Metadata column to break down" } });
  const legendIn = h("span", { class: "sw-legend-in" });
  const head = h(
    "div",
    { class: "sw-breakdown-head" },
    h("span", { class: "sw-breakdown-title", text: "Breakdown by" }),
    select,
    h(
      "span",
      { class: "sw-legend" },
      h("span", { class: "sw-swatch sw-in" }),
      legendIn,
      " ",
      h("span", { class: "sw-swatch sw-all" }),
      "overall",
    ),
  );
  const body = h("div", { class: "sw-breakdown-body" });
  el.replaceChildren(head, body);

  const updateColumns = () => {
    /** @type {string[]} */
    const columns = model.get("columns") ?? [];
    const current = model.get("breakdown_column") ?? "";
    const options = columns.map((c) => h("option", { text: c, props: { value: c } }));
    if (!columns.includes(current)) options.unshift(h("option", { text: "—", props: { value: current } }));
    select.replaceChildren(...options);
    select.value = current;
    select.disabled = !columns.length;
    head.hidden = false;
  };

  const updateLegend = () => {
    legendIn.textContent = `in ${noun(model)}`;
  };

  const updateBars = () => {
    /** @type {BreakdownRow[]} */
    const rows = model.get("breakdown") ?? [];
    const word = noun(model);
    if (!(model.get("columns") ?? []).length) {
      body.replaceChildren(h("p", { class: "sw-hint sw-muted", text: `No metadata columns: pass metadata= to see who is in the ${word}.` }));
      return;
    }
    if (!rows.length) {
      const hint = (model.get("history") ?? []).length
        ? "Nothing to break down for this column."
        : `The breakdown appears once a ${word} is found.`;
      body.replaceChildren(h("p", { class: "sw-hint sw-muted", text: hint }));
      return;
    }
    const max = Math.max(1e-12, ...rows.flatMap((r) => [r.share_in, r.share_all].filter(isNum)));
    /** @param {unknown} v */
    const width = (v) => `${isNum(v) ? Math.max(0, Math.min(100, (/** @type {number} */ (v) / max) * 100)).toFixed(1) : 0}%`;
    const table = rows.map((r) =>
      h(
        "div",
        { class: `sw-row${isSurprising(r) ? " sw-surprising" : ""}`, attrs: { role: "listitem" } },
        h("div", { class: "sw-group", text: String(r.group), attrs: { title: String(r.group) } }),
        h(
          "div",
          { class: "sw-bars" },
          h("div", { class: "sw-bar sw-in", attrs: { title: `in ${word}: ${pct(r.share_in)}`, style: `width: ${width(r.share_in)}` } }),
          h("div", { class: "sw-bar sw-all", attrs: { title: `overall: ${pct(r.share_all)}`, style: `width: ${width(r.share_all)}` } }),
        ),
        h(
          "div",
          { class: "sw-numbers" },
          h("span", { class: "sw-share", text: `${pct(r.share_in)} vs ${pct(r.share_all)}` }),
          h("span", { class: "sw-lift", text: isNum(r.lift) ? `${num(r.lift)}×` : "—", attrs: { title: `lift: share in ${word} / share overall` } }),
          h("span", { class: "sw-count", text: `n=${int(r.count)}`, attrs: { title: "examples of this group in the whole data set" } }),
          h("span", { class: "sw-group-loss", text: `loss ${num(r.loss_in)} / ${num(r.loss_all)}`, attrs: { title: `mean loss: in ${word} / overall` } }),
          isNum(r.loss_old_all) || isNum(r.loss_new_all)
            ? h("span", {
                class: "sw-model-loss",
                text: `old ${num(r.loss_old_all)} → new ${num(r.loss_new_all)}`,
                attrs: {
                  title: `the group's mean loss under each model, overall (in ${word}: old ${num(r.loss_old_in)} → new ${num(r.loss_new_in)})`,
                },
              })
            : null,
          significance(r, word),
        ),
      ),
    );
    body.replaceChildren(h("div", { class: "sw-rows", attrs: { role: "list", "aria-label": "Groups" } }, ...table));
  };

  d.listen(select, "change", () => {
    if (select.value !== model.get("breakdown_column")) write(model, { breakdown_column: select.value });
  }, model);
  d.on(model, "change:columns", () => {
    updateColumns();
    updateBars();
  });
  d.on(model, "change:breakdown_column", updateColumns);
  d.on(model, "change:breakdown", updateBars);
  d.on(model, "change:history", updateBars);
  for (const event of NOUN_EVENTS) {
    d.on(model, event, () => {
      updateLegend();
      updateBars();
    });
  }
  updateColumns();
  updateLegend();
  updateBars();
  return () => {
    d.dispose();
    el.replaceChildren();
  };
}
