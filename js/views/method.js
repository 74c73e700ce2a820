// Which slice finder the explorer shows: the Spotlight, or a companion method to compare
// it with (highest loss, clustering, InfEmbed). Each method keeps its own history and
// selection on the Python side; this view only switches the `method` trait. When the
// explorer compares two models, it also switches the `direction` searched.

import { Disposer, h, write } from "../dom.js";

/** @typedef {import("../types.js").Model} Model */
/** @typedef {import("../types.js").MethodInfo} MethodInfo */

/**
 * @param {Model} model
 * @param {HTMLElement} el
 */
export function render(model, el) {
  const d = new Disposer();
  const select = h("select", { class: "sw-method-select", attrs: { "aria-label": "Slice finder" } });
  const label = h("label", { class: "sw-method-label", text: "Method" });
  const direction = h("select", { class: "sw-direction", attrs: { "aria-label": "Which model does worse" } });
  el.replaceChildren(label, select, direction);

  const update = () => {
    /** @type {MethodInfo[]} */
    const methods = model.get("methods") ?? [];
    const current = model.get("method") ?? "";
    select.replaceChildren(
      ...methods.map((m) => h("option", { text: String(m.label ?? m.name), props: { value: String(m.name) }, attrs: { title: m.title ?? null } })),
    );
    select.value = current;
    select.disabled = methods.length < 2;
    /** @type {{ names?: [string, string] }} */
    const comparison = model.get("comparison") ?? {};
    const names = comparison.names;
    direction.hidden = !names;
    if (names) {
      direction.replaceChildren(
        h("option", { text: `where the ${names[1]} is worse`, props: { value: "worse" } }),
        h("option", { text: `where the ${names[1]} is better`, props: { value: "better" } }),
      );
      direction.value = model.get("direction") ?? "worse";
    }
    // One method and no comparison mean nothing to choose: keep the bar uncluttered.
    el.hidden = methods.length < 2 && !names;
  };

  d.listen(select, "change", () => {
    if (select.value !== model.get("method")) write(model, { method: select.value });
  }, model);
  d.listen(direction, "change", () => {
    if (direction.value !== model.get("direction")) write(model, { direction: direction.value });
  }, model);
  d.on(model, "change:methods", update);
  d.on(model, "change:comparison", update);
  d.on(model, "change:direction", update);
  d.on(model, "change:method", update);
  update();
  return () => {
    d.dispose();
    el.replaceChildren();
    el.hidden = false;
  };
}
