// Which list the gallery shows: the result's members, highest losses, a random sample, or
// (with training influence) the training examples that oppose the result. Python sends the
// lists on offer in the `tabs` trait.

import { Disposer, h, write } from "../dom.js";

/** @typedef {import("../types.js").Model} Model */

/**
 * @param {Model} model
 * @param {HTMLElement} el
 */
export function render(model, el) {
  const d = new Disposer();
  el.setAttribute("role", "tablist");
  el.setAttribute("aria-label", "Gallery list");
  /** @type {HTMLButtonElement[]} */
  let buttons = [];

  const build = () => {
    /** @type {{name: string, label: string, title?: string}[]} */
    const tabs = model.get("tabs") ?? [];
    buttons = tabs.map((t) =>
      h("button", {
        class: "sw-tab",
        text: String(t.label),
        props: { type: "button" },
        attrs: { role: "tab", "data-tab": String(t.name), title: t.title ?? null },
      }),
    );
    el.replaceChildren(...buttons);
    update();
  };

  const update = () => {
    const tab = model.get("tab");
    for (const b of buttons) {
      const on = b.dataset.tab === tab;
      b.setAttribute("aria-selected", String(on));
      b.classList.toggle("sw-active", on);
      b.tabIndex = on ? 0 : -1;
    }
    if (buttons.length && !buttons.some((b) => b.tabIndex === 0)) buttons[0].tabIndex = 0;
  };

  d.listen(el, "click", (/** @type {MouseEvent} */ ev) => {
    const b = /** @type {HTMLElement | null} */ (/** @type {Element} */ (ev.target).closest("[data-tab]"));
    if (!b) return;
    const tab = b.dataset.tab;
    // A new list starts on its first page (Python resets `page` too).
    if (tab !== model.get("tab")) write(model, { tab, page: 0 });
  }, model);

  // Arrow keys move between tabs (the WAI-ARIA tabs pattern); Enter/Space click.
  d.listen(el, "keydown", (/** @type {KeyboardEvent} */ ev) => {
    const i = buttons.indexOf(/** @type {HTMLButtonElement} */ (ev.target));
    if (i < 0) return;
    let j = -1;
    if (ev.key === "ArrowRight") j = (i + 1) % buttons.length;
    else if (ev.key === "ArrowLeft") j = (i - 1 + buttons.length) % buttons.length;
    else if (ev.key === "Home") j = 0;
    else if (ev.key === "End") j = buttons.length - 1;
    if (j < 0) return;
    ev.preventDefault();
    buttons[j].focus();
    buttons[j].click();
  }, model);

  d.on(model, "change:tab", update);
  d.on(model, "change:tabs", build);
  build();
  return () => {
    d.dispose();
    el.replaceChildren();
    el.removeAttribute("role");
    el.removeAttribute("aria-label");
  };
}
