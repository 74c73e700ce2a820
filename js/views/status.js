// Search status (progress bar + message), the `error` trait, and errors of requests and
// of the widget itself (through the error hook of messages.js).

import { Disposer, h } from "../dom.js";
import { onError } from "../messages.js";

/** @typedef {import("../types.js").Model} Model */
/** @typedef {import("../types.js").Status} Status */

/**
 * @param {Model} model
 * @param {HTMLElement} el
 */
export function render(model, el) {
  const d = new Disposer();
  const fill = h("div", { class: "sw-progress-fill" });
  const bar = h(
    "div",
    { class: "sw-progress", attrs: { role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-label": "Search progress" } },
    fill,
  );
  const message = h("span", { class: "sw-status-message" });
  const line = h("div", { class: "sw-status-line", attrs: { role: "status", "aria-live": "polite" } }, bar, message);

  const pyErrorText = h("span", { class: "sw-error-text" });
  const pyErrorClose = h("button", { class: "sw-error-close", text: "×", props: { type: "button" }, attrs: { "aria-label": "Dismiss error", title: "Dismiss" } });
  const pyError = h("div", { class: "sw-error sw-error-python", attrs: { role: "alert" } }, pyErrorText, pyErrorClose);

  const jsErrorText = h("span", { class: "sw-error-text" });
  const jsErrorClose = h("button", { class: "sw-error-close", text: "×", props: { type: "button" }, attrs: { "aria-label": "Dismiss error", title: "Dismiss" } });
  const jsError = h("div", { class: "sw-error sw-error-request", attrs: { role: "alert" } }, jsErrorText, jsErrorClose);

  el.replaceChildren(line, pyError, jsError);

  const updateStatus = () => {
    /** @type {Partial<Status>} */
    const status = model.get("status") ?? {};
    const state = status.state ?? "idle";
    const p = Math.min(1, Math.max(0, Number(status.progress) || 0));
    el.dataset.state = state;
    bar.hidden = state !== "running";
    bar.setAttribute("aria-valuenow", String(Math.round(p * 100)));
    fill.style.width = `${Number((p * 100).toFixed(1))}%`;
    const text = status.message ?? "";
    message.textContent = state === "running" && !text ? "searching…" : text;
    message.classList.toggle("sw-status-failed", state === "error");
    line.hidden = !message.textContent && state !== "running";
  };

  const updateError = () => {
    const err = model.get("error") ?? "";
    pyErrorText.textContent = String(err);
    pyError.hidden = !err;
  };

  /** @param {string} text */
  const showJsError = (text) => {
    jsErrorText.textContent = text;
    jsError.hidden = !text;
  };

  // `error` is read-only here: dismissing hides it until Python sets a different one.
  d.listen(pyErrorClose, "click", () => {
    pyError.hidden = true;
  }, model);
  d.listen(jsErrorClose, "click", () => showJsError(""), model);
  d.add(onError(model, showJsError));
  d.on(model, "change:status", updateStatus);
  d.on(model, "change:error", updateError);
  updateStatus();
  updateError();
  showJsError("");
  return () => {
    d.dispose();
    el.replaceChildren();
  };
}
