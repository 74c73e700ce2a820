// The user's note on the result shown: typed here, kept by Python with the result (saved
// with `ex.save`, printed in `ex.report`). Written when the field loses focus or on Enter
// (Shift+Enter for a new line), not at every key: a note is a sentence, not a search box.

import { Disposer, h, write } from "../dom.js";
import { noun, NOUN_EVENTS } from "../vocabulary.js";

/** @typedef {import("../types.js").Model} Model */

/**
 * @param {Model} model
 * @param {HTMLElement} el
 */
export function render(model, el) {
  const d = new Disposer();
  const field = h("textarea", {
    class: "sw-note-text",
    attrs: { rows: "1", maxlength: "10000", "aria-label": "Note on the result shown" },
  });
  el.replaceChildren(field);

  const update = () => {
    const hasResult = (model.get("history") ?? []).length > 0;
    el.hidden = !hasResult;
    field.placeholder = `Note on this ${noun(model)} (kept when you save, shown in the report)`;
    // Never overwrite what the user is typing.
    if (document.activeElement !== field) field.value = model.get("shown_note") ?? "";
  };
  const commit = () => {
    if (field.value !== (model.get("shown_note") ?? "")) write(model, { shown_note: field.value });
  };

  d.listen(field, "change", commit, model);
  d.listen(field, "keydown", (/** @type {Event} */ e) => {
    const key = /** @type {KeyboardEvent} */ (e);
    if (key.key === "Enter" && !key.shiftKey) {
      key.preventDefault();
      commit();
      field.blur();
    }
  }, model);
  d.listen(field, "blur", update, model);
  d.on(model, "change:shown_note", update);
  d.on(model, "change:history", update);
  for (const event of NOUN_EVENTS) d.on(model, event, update);
  update();
  return () => {
    d.dispose();
    el.replaceChildren();
    el.hidden = false;
  };
}
