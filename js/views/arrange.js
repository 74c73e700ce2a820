// Gallery arrangement: sort the list by weight, loss or any column (a categorical column
// groups it), largest or smallest first; filter it to one group of a column. Python does the
// work (it holds the data) and publishes `filter_groups` for the chosen filter column.

import { Disposer, h, write } from "../dom.js";

/** @typedef {import("../types.js").Model} Model */

/**
 * @param {string} value
 * @param {string} text
 */
const option = (value, text) => h("option", { text, props: { value } });

/**
 * @param {Model} model
 * @param {HTMLElement} el
 */
export function render(model, el) {
  const d = new Disposer();
  const sortSelect = h("select", { class: "sw-sort-by", attrs: { "aria-label": "Sort the gallery by" } });
  const direction = h("button", { class: "sw-sort-direction", props: { type: "button" } });
  const columnSelect = h("select", { class: "sw-filter-column", attrs: { "aria-label": "Filter the gallery by column" } });
  const groupSelect = h("select", { class: "sw-filter-group", attrs: { "aria-label": "Group to keep" } });
  el.replaceChildren(
    h("label", { class: "sw-arrange-label", text: "Sort" }),
    sortSelect,
    direction,
    h("label", { class: "sw-arrange-label", text: "Filter" }),
    columnSelect,
    groupSelect,
  );

  const update = () => {
    /** @type {string[]} */
    const sortable = model.get("sort_options") ?? [];
    const sortBy = model.get("sort_by") ?? "";
    sortSelect.replaceChildren(option("", "list order"), ...sortable.map((c) => option(c, c)));
    sortSelect.value = sortBy;
    const descending = model.get("sort_descending") !== false;
    direction.textContent = descending ? "↓" : "↑";
    direction.title = descending ? "Largest first (click for smallest first)" : "Smallest first (click for largest first)";
    direction.setAttribute("aria-label", direction.title);
    direction.disabled = !sortBy;

    /** @type {string[]} */
    const columns = (model.get("sort_options") ?? []).filter((/** @type {string} */ c) => c !== "weight" && c !== "loss");
    const column = model.get("filter_column") ?? "";
    columnSelect.replaceChildren(option("", "none"), ...columns.map((c) => option(c, c)));
    columnSelect.value = column;
    /** @type {string[]} */
    const groups = model.get("filter_groups") ?? [];
    groupSelect.replaceChildren(option("", "all groups"), ...groups.map((g) => option(String(g), String(g))));
    groupSelect.value = model.get("filter_group") ?? "";
    groupSelect.hidden = !column;
  };

  d.listen(sortSelect, "change", () => write(model, { sort_by: sortSelect.value }), model);
  d.listen(direction, "click", () => write(model, { sort_descending: model.get("sort_descending") === false }), model);
  d.listen(columnSelect, "change", () => write(model, { filter_column: columnSelect.value }), model);
  d.listen(groupSelect, "change", () => write(model, { filter_group: groupSelect.value }), model);
  for (const name of ["sort_options", "sort_by", "sort_descending", "filter_column", "filter_group", "filter_groups"]) {
    d.on(model, `change:${name}`, update);
  }
  update();
  return () => {
    d.dispose();
    el.replaceChildren();
  };
}
