// "Next spotlight" button and the history strip: one button per spotlight found so far.

import { Disposer, h, write } from "../dom.js";
import { int, rankText, num, pct } from "../format.js";
import { request } from "../messages.js";

/** @typedef {import("../types.js").Model} Model */
/** @typedef {import("../types.js").HistoryEntry} HistoryEntry */

/**
 * @param {Model} model
 * @param {HTMLElement} el
 */
export function render(model, el) {
  const d = new Disposer();
  const controller = new AbortController();
  let pending = false;

  const next = h("button", {
    class: "sw-next sw-primary",
    text: "Next spotlight",
    props: { type: "button" },
    attrs: { title: "Find the next spotlight at this size, away from the ones found so far" },
  });
  const strip = h("div", { class: "sw-history-strip", attrs: { role: "group", "aria-label": "Spotlights found so far" } });
  el.replaceChildren(next, strip);

  const updateNext = () => {
    /** @type {import("../types.js").MethodInfo[]} */
    const methods = model.get("methods") ?? [];
    const noun = methods.find((m) => m.name === model.get("method"))?.noun || "spotlight";
    next.textContent = `Next ${noun}`;
    next.title = `Find the next ${noun} at this size, away from the ones found so far`;
    const running = (model.get("status") ?? {}).state === "running";
    const none = !(model.get("history") ?? []).length;
    next.disabled = pending || running || none;
    next.setAttribute("aria-busy", String(pending || running));
  };

  const updateStrip = () => {
    /** @type {HistoryEntry[]} */
    const history = model.get("history") ?? [];
    const current = model.get("current");
    const buttons = history.map((entry, k) => {
      const active = k === current;
      return h(
        "button",
        {
          class: `sw-history-item${active ? " sw-current" : ""}`,
          props: { type: "button" },
          attrs: {
            "data-k": k,
            "aria-pressed": String(active),
            "aria-current": active ? "true" : null,
            title: entry.caption || null,
          },
        },
        h("span", { class: "sw-history-rank", text: rankText(entry.rank) }),
        h("span", { class: "sw-history-size", text: `S ${int(entry.size)} (${pct(entry.fraction)})` }),
        h("span", { class: "sw-history-loss", text: `top ${num(entry.top_loss)}` }),
        entry.caption ? h("span", { class: "sw-history-caption", text: entry.caption }) : null,
      );
    });
    if (!buttons.length) strip.replaceChildren(h("span", { class: "sw-muted", text: "No spotlight found yet." }));
    else strip.replaceChildren(...buttons);
    updateNext();
  };

  d.listen(strip, "click", (/** @type {MouseEvent} */ ev) => {
    const button = /** @type {HTMLElement | null} */ (/** @type {Element} */ (ev.target).closest("[data-k]"));
    if (!button) return;
    const k = Number(button.dataset.k);
    if (k !== model.get("current")) write(model, { current: k });
  }, model);

  d.listen(next, "click", () => {
    if (pending) return;
    pending = true;
    updateNext();
    request(model, "next", {}, { signal: controller.signal })
      .catch(() => {
        // errors are already shown in the status area; aborts need nothing
      })
      .finally(() => {
        if (controller.signal.aborted) return;
        pending = false;
        updateNext();
      });
  }, model);

  d.on(model, "change:history", updateStrip);
  d.on(model, "change:current", updateStrip);
  d.on(model, "change:status", updateNext);
  d.on(model, "change:method", updateNext);
  d.on(model, "change:methods", updateNext);
  updateStrip();
  return () => {
    controller.abort();
    d.dispose();
    el.replaceChildren();
  };
}
