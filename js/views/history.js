// "Next <noun>" button and the history strip: one button per result found so far, named
// with the current method's noun ("Next cluster", "No slice found yet.").

import { Disposer, h, write } from "../dom.js";
import { int, rankText, num, pct } from "../format.js";
import { request } from "../messages.js";
import { noun, NOUN_EVENTS } from "../vocabulary.js";

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

  const next = h("button", { class: "sw-next sw-primary", props: { type: "button" } });
  const strip = h("div", { class: "sw-history-strip", attrs: { role: "group" } });
  el.replaceChildren(next, strip);

  const updateNext = () => {
    const word = noun(model);
    next.textContent = `Next ${word}`;
    next.title = `Find the next ${word} at this size, away from the ones found so far`;
    const running = (model.get("status") ?? {}).state === "running";
    const none = !(model.get("history") ?? []).length;
    next.disabled = pending || running || none;
    next.setAttribute("aria-busy", String(pending || running));
  };

  // Only the texts change: rebuilding the strip's buttons would drop the keyboard focus.
  const updateNoun = () => {
    strip.setAttribute("aria-label", `${noun(model, { plural: true, capital: true })} found so far`);
    const empty = strip.querySelector(".sw-history-empty");
    if (empty) empty.textContent = `No ${noun(model)} found yet.`;
    updateNext();
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
    if (!buttons.length) strip.replaceChildren(h("span", { class: "sw-history-empty sw-muted" }));
    else strip.replaceChildren(...buttons);
    updateNoun();
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
  for (const event of NOUN_EVENTS) d.on(model, event, updateNoun);
  updateStrip();
  return () => {
    controller.abort();
    d.dispose();
    el.replaceChildren();
  };
}
