// Summary bar: N, dataset mean loss, and the current result's numbers, named with the
// current method's noun.

import { Disposer, h } from "../dom.js";
import { int, rankText, isNum, num, pct } from "../format.js";
import { noun, NOUN_EVENTS } from "../vocabulary.js";

/** @typedef {import("../types.js").Model} Model */
/** @typedef {import("../types.js").HistoryEntry} HistoryEntry */

/**
 * @param {string} name
 * @param {string} value
 * @param {string} [title]
 */
function stat(name, value, title) {
  return h(
    "div",
    { class: "sw-stat", attrs: { title } },
    h("span", { class: "sw-stat-name", text: name }),
    h("span", { class: "sw-stat-value", text: value }),
  );
}

/**
 * @param {Model} model
 * @param {HTMLElement} el
 */
export function render(model, el) {
  const d = new Disposer();

  const update = () => {
    const n = model.get("n");
    const mean = model.get("mean_loss");
    /** @type {HistoryEntry[]} */
    const history = model.get("history") ?? [];
    const current = model.get("current");
    const entry = Number.isInteger(current) && current >= 0 ? history[current] : undefined;
    const word = noun(model);
    const stats = [stat("N", int(n), "number of examples"), stat("mean loss", num(mean), "mean loss over the dataset")];
    if (entry) {
      const lift = isNum(entry.top_loss) && isNum(mean) && mean !== 0 ? entry.top_loss / mean : NaN;
      stats.push(
        stat(entry.label || word, rankText(entry.rank), "rank of the result shown, in its method's sequence at its size"),
        stat("S", `${int(entry.size)} (${pct(entry.fraction)})`, `${word} size: examples and share of N`),
        stat("weighted loss", num(entry.weighted_loss), `mean loss weighted by ${word} membership`),
        stat("top-S loss", num(entry.top_loss), "mean loss of the S highest-weight examples"),
        stat("lift", isNum(lift) ? `${num(lift)}×` : "—", "top-S loss / dataset mean loss"),
      );
    } else {
      stats.push(h("div", { class: "sw-stat sw-muted", text: `no ${word} yet` }));
    }
    el.replaceChildren(...stats);
  };

  el.setAttribute("role", "group");
  el.setAttribute("aria-label", "Summary");
  for (const name of ["n", "mean_loss", "history", "current"]) d.on(model, `change:${name}`, update);
  for (const event of NOUN_EVENTS) d.on(model, event, update);
  update();
  return () => {
    d.dispose();
    el.replaceChildren();
  };
}
