// Detail panel for one example: a larger thumbnail and every metadata field.
// Opened by writing `detail` (an example index; -1 = closed), e.g. from the gallery.
// Escape or the close button closes it.

import { Disposer, h, write } from "../dom.js";
import { isNum, num } from "../format.js";
import { isAbort, request } from "../messages.js";
import { probeControls } from "../probe.js";

/** @typedef {import("../types.js").Model} Model */

/**
 * @param {Model} model
 * @param {HTMLElement} el
 */
export function render(model, el) {
  const d = new Disposer();
  /** @type {AbortController | null} */
  let controller = null;
  /** @type {string | null} */
  let url = null;
  /** @type {Element | null} */
  let returnFocus = null;
  let shown = -1;

  const title = h("h3", { class: "sw-detail-title" });
  const close = h("button", { class: "sw-detail-close", text: "×", props: { type: "button" }, attrs: { "aria-label": "Close details", title: "Close (Esc)" } });
  const body = h("div", { class: "sw-detail-body" });
  const panel = h(
    "div",
    { class: "sw-detail-panel", attrs: { role: "dialog", "aria-modal": "false", "aria-label": "Example details" } },
    h("div", { class: "sw-detail-head" }, title, close),
    body,
  );
  el.replaceChildren(panel);
  el.hidden = true;

  const revoke = () => {
    if (url) URL.revokeObjectURL(url);
    url = null;
  };

  const hide = () => {
    controller?.abort();
    controller = null;
    revoke();
    shown = -1;
    el.hidden = true;
    body.replaceChildren();
    if (returnFocus instanceof HTMLElement && returnFocus.isConnected) returnFocus.focus();
    returnFocus = null;
  };

  /**
   * @param {string} name
   * @param {string} value
   */
  const row = (name, value) => h("tr", {}, h("th", { text: name, attrs: { scope: "row" } }), h("td", { text: value }));

  /**
   * @param {number} index
   * @param {any} c  the detail reply
   * @param {HTMLElement} thumb
   * @param {AbortSignal} signal  aborts when the panel shows something else
   */
  const fill = (index, c, thumb, signal) => {
    const basics = [row("index", String(index)), row("loss", num(c.loss))];
    if (isNum(c.weight)) basics.push(row("weight", num(c.weight)));
    if (c.label != null) basics.push(row("label", String(c.label)));
    if (c.prediction != null) basics.push(row("prediction", String(c.prediction)));
    const fields = c.fields && typeof c.fields === "object" ? Object.entries(c.fields) : [];
    const shape = Array.isArray(c.image_shape) && c.image_shape.length === 2 ? c.image_shape : null;
    const probe = model.get("can_probe") && shape ? probeControls(model, index, thumb, /** @type {[number, number]} */ (shape), signal) : null;
    const parts = [
      thumb,
      probe,
      c.text != null && c.text !== "" ? h("div", { class: "sw-detail-text", text: String(c.text) }) : null,
      h("table", { class: "sw-detail-table" }, h("tbody", {}, ...basics)),
      fields.length
        ? h(
            "table",
            { class: "sw-detail-table sw-fields" },
            h("caption", { text: "metadata" }),
            h("tbody", {}, ...fields.map(([k, v]) => row(k, v == null ? "" : String(v)))),
          )
        : null,
    ];
    body.replaceChildren(...parts.filter((p) => p !== null));
  };

  /** @param {number} index */
  const show = (index) => {
    controller?.abort();
    revoke();
    const ctrl = new AbortController();
    controller = ctrl;
    if (el.hidden) returnFocus = document.activeElement;
    shown = index;
    el.hidden = false;
    title.textContent = `Example #${index}`;
    body.replaceChildren(h("p", { class: "sw-muted", text: "loading…" }));
    close.focus();

    const images = model.get("kind") === "images";
    const thumb = h("div", { class: "sw-detail-thumb" });
    if (images) {
      request(model, "thumbnails", { indices: [index] }, { signal: ctrl.signal })
        .then(({ content, buffers }) => {
          if (ctrl.signal.aborted || !buffers[0]) return;
          const mime = typeof content.mime === "string" && content.mime.startsWith("image/") ? content.mime : "image/png";
          url = URL.createObjectURL(new Blob([buffers[0]], { type: mime }));
          thumb.replaceChildren(h("img", { props: { alt: `example ${index}`, src: url } }));
        })
        .catch((e) => {
          if (!isAbort(e)) thumb.replaceChildren(h("span", { class: "sw-muted", text: "no image" }));
        });
    }
    request(model, "detail", { index }, { signal: ctrl.signal })
      .then(({ content }) => {
        if (!ctrl.signal.aborted) fill(index, content, thumb, ctrl.signal);
      })
      .catch((e) => {
        if (isAbort(e) || ctrl.signal.aborted) return;
        body.replaceChildren(thumb, h("p", { class: "sw-error-inline", text: e instanceof Error ? e.message : String(e) }));
      });
  };

  const update = () => {
    const index = model.get("detail");
    if (typeof index === "number" && Number.isInteger(index) && index >= 0) {
      if (index !== shown) show(index);
    } else if (shown >= 0) hide();
  };

  const dismiss = () => {
    if (shown < 0) return;
    write(model, { detail: -1 });
    if (shown >= 0) hide(); // `detail` may not be a Python trait: close anyway
  };

  d.listen(close, "click", dismiss, model);
  d.listen(el, "keydown", (/** @type {KeyboardEvent} */ ev) => {
    if (ev.key === "Escape") {
      ev.preventDefault();
      ev.stopPropagation();
      dismiss();
    }
  }, model);
  d.on(model, "change:detail", update);
  update();
  return () => {
    controller?.abort();
    revoke();
    d.dispose();
    el.replaceChildren();
  };
}
