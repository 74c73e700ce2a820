// anywidget front end of spotlight_widget.SpotlightExplorer.
//
// Each view renders into its own container and talks to the others only through the
// model (get / set / save_changes / on / off); requests to Python go through messages.js.

import { h } from "./dom.js";
import { reportError } from "./messages.js";
import * as actions from "./views/actions.js";
import * as arrange from "./views/arrange.js";
import * as breakdown from "./views/breakdown.js";
import * as detail from "./views/detail.js";
import * as gallery from "./views/gallery.js";
import * as history from "./views/history.js";
import * as map from "./views/map.js";
import * as method from "./views/method.js";
import * as note from "./views/note.js";
import * as overlay from "./views/overlay.js";
import * as size from "./views/size.js";
import * as status from "./views/status.js";
import * as summary from "./views/summary.js";
import * as tabs from "./views/tabs.js";

/** @typedef {import("./types.js").Model} Model */

/**
 * The host's theme when it says so (JupyterLab, VS Code, marimo); null: follow
 * prefers-color-scheme. Only decides the colours used where no --jp-* variable is set.
 * @param {Element} el
 * @returns {"dark" | "light" | null}
 */
export function detectTheme(el) {
  const body = document.body;
  const jp = body?.dataset.jpThemeLight;
  if (jp === "false") return "dark";
  if (jp === "true") return "light";
  if (body?.classList.contains("vscode-dark") || body?.classList.contains("vscode-high-contrast")) return "dark";
  if (body?.classList.contains("vscode-light")) return "light";
  const root = el.getRootNode();
  const host = root instanceof ShadowRoot ? root.host : el;
  if (host.closest(".dark, [data-theme='dark']") || document.documentElement.classList.contains("dark")) return "dark";
  return null;
}

/**
 * @param {{ model: Model, el: HTMLElement }} context
 * @returns {() => void} cleanup
 */
function render({ model, el }) {
  // data-lm-suppress-shortcuts: JupyterLab (Lumino) must not take our keys (arrows on the
  // range input and the gallery, Enter/Space on buttons) for its notebook shortcuts; see
  // also h() in dom.js, which puts it on every focusable element.
  const root = h("div", { class: "spotlight-widget", attrs: { "data-lm-suppress-shortcuts": "true" } });
  const part = (/** @type {string} */ cls) => h("div", { class: cls });
  const parts = {
    summary: part("sw-summary"),
    method: part("sw-method"),
    size: part("sw-size"),
    status: part("sw-status"),
    history: part("sw-history"),
    note: part("sw-note"),
    tabs: part("sw-tabs"),
    arrange: part("sw-arrange"),
    overlay: part("sw-overlay"),
    gallery: part("sw-gallery"),
    map: part("sw-map"),
    actions: part("sw-actions"),
    breakdown: part("sw-breakdown"),
    detail: part("sw-detail"),
  };
  root.append(
    parts.summary,
    h("div", { class: "sw-controls" }, parts.method, parts.size, parts.status),
    parts.history,
    parts.note,
    h(
      "div",
      { class: "sw-body" },
      h("div", { class: "sw-main" }, parts.tabs, parts.arrange, parts.overlay, parts.gallery, parts.actions),
      parts.map,
      parts.breakdown,
    ),
    parts.detail,
  );
  el.append(root);

  const applyTheme = () => {
    const theme = detectTheme(el);
    root.classList.toggle("sw-theme-dark", theme === "dark");
    root.classList.toggle("sw-theme-light", theme === "light");
  };
  applyTheme();
  /** @type {MutationObserver | null} */
  let observer = null;
  if (typeof MutationObserver !== "undefined" && document.body) {
    observer = new MutationObserver(applyTheme);
    observer.observe(document.body, { attributes: true, attributeFilter: ["class", "data-jp-theme-light"] });
  }

  // Status first: it registers the error hook the others report through.
  /** @type {[import("./types.js").View, HTMLElement][]} */
  const views = [
    [status.render, parts.status],
    [summary.render, parts.summary],
    [method.render, parts.method],
    [size.render, parts.size],
    [history.render, parts.history],
    [note.render, parts.note],
    [tabs.render, parts.tabs],
    [arrange.render, parts.arrange],
    [overlay.render, parts.overlay],
    [gallery.render, parts.gallery],
    [map.render, parts.map],
    [actions.render, parts.actions],
    [breakdown.render, parts.breakdown],
    [detail.render, parts.detail],
  ];
  /** @type {(() => void)[]} */
  const cleanups = [];
  for (const [view, container] of views) {
    try {
      cleanups.push(view(model, container));
    } catch (e) {
      // One broken view must not take the others down.
      console.error(e);
      reportError(model, `widget error: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  return () => {
    observer?.disconnect();
    for (const fn of cleanups.reverse()) {
      try {
        fn();
      } catch (e) {
        console.error(e);
      }
    }
    root.remove();
  };
}

export default { render };
