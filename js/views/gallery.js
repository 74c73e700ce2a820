// The gallery: a grid of the current page's examples and a pager.
//
// Click toggles an example in `selected`; shift-click selects the range (in gallery order,
// on this page) from the last clicked example; Enter/Space do the same from the keyboard.
// Double-click or the "details" button opens the detail panel (writes `detail`).
// Training examples (the "opponents" list) live in their own index space: they have their
// own thumbnail cache and are shown, not selected. The empty state and weight titles name
// the result with the current method's noun and follow a change of method in place.

import { Disposer, h, write } from "../dom.js";
import { int, isNum, num } from "../format.js";
import { isAbort } from "../messages.js";
import { ThumbCache } from "../thumbs.js";
import { noun, NOUN_EVENTS } from "../vocabulary.js";

/** @typedef {import("../types.js").Model} Model */
/** @typedef {import("../types.js").PageItem} PageItem */

/**
 * @param {Model} model
 * @param {HTMLElement} el
 */
export function render(model, el) {
  const d = new Disposer();
  const caches = { data: new ThumbCache(model), train: new ThumbCache(model, { source: "train" }) };
  let cache = caches.data;
  /** Position on the page of the last clicked example (-1: none). */
  let anchor = -1;
  /** @type {HTMLElement[]} cards in gallery order */
  let cards = [];

  const grid = h("div", { class: "sw-grid", attrs: { role: "list", "aria-label": "Examples" } });
  const prev = h("button", { class: "sw-prev", text: "‹ Prev", props: { type: "button" }, attrs: { "aria-label": "Previous page" } });
  const next = h("button", { class: "sw-next-page", text: "Next ›", props: { type: "button" }, attrs: { "aria-label": "Next page" } });
  const info = h("span", { class: "sw-page-info", attrs: { "aria-live": "polite" } });
  const pager = h("div", { class: "sw-pager" }, prev, info, next);
  el.replaceChildren(grid, pager);

  /** @returns {PageItem[]} */
  const items = () => model.get("page_items") ?? [];
  /** @returns {number[]} */
  const selected = () => model.get("selected") ?? [];

  const pages = () => {
    const size = Math.max(1, Number(model.get("page_size")) || 1);
    return Math.max(1, Math.ceil((Number(model.get("total_items")) || 0) / size));
  };

  const weightTitle = () => `${noun(model)} weight`;

  const emptyHint = () =>
    model.get("tab") === "spotlight" && !(model.get("history") ?? []).length
      ? `No ${noun(model)} yet: the search is running or has not started.`
      : "Nothing to show.";

  // Only the texts change: rebuilding the cards would drop focus and the shift-click anchor.
  const updateNoun = () => {
    for (const weight of grid.querySelectorAll(".sw-weight")) weight.setAttribute("title", weightTitle());
    const empty = grid.querySelector(".sw-empty");
    if (empty) empty.textContent = emptyHint();
  };

  const updatePager = () => {
    const page = Number(model.get("page")) || 0;
    const m = pages();
    info.textContent = `page ${int(page + 1)} of ${int(m)} · ${int(model.get("total_items") ?? 0)} examples`;
    prev.disabled = page <= 0;
    next.disabled = page >= m - 1;
  };

  const markSelection = () => {
    const sel = new Set(selected());
    for (const card of cards) {
      const on = sel.has(Number(card.dataset.index));
      card.classList.toggle("sw-selected", on);
      card.setAttribute("aria-pressed", String(on));
    }
  };

  /**
   * @param {HTMLElement} card
   * @param {number} index
   */
  const setThumb = (card, index) => {
    const url = cache.get(index);
    const slot = card.querySelector(".sw-thumb");
    if (!url || !slot || slot.querySelector("img")) return;
    const img = h("img", { props: { alt: `example ${index}`, src: url, decoding: "async", draggable: false } });
    slot.replaceChildren(img);
    slot.classList.remove("sw-loading");
  };

  const fillThumbs = () => {
    for (const card of cards) setThumb(card, Number(card.dataset.index));
  };

  /**
   * @param {PageItem} item
   * @param {number} pos
   * @param {string} kind
   */
  const card = (item, pos, kind) => {
    if (item.source === "train") return trainCard(item, kind);
    const hasLabels = item.label != null || item.prediction != null;
    const wrong = item.label != null && item.prediction != null && item.label !== item.prediction;
    let body = null;
    if (kind === "images") body = h("div", { class: "sw-thumb sw-loading", attrs: { "aria-hidden": "true" } });
    else if (item.text != null && item.text !== "") body = h("div", { class: kind === "table" ? "sw-text sw-text-table" : "sw-text", text: item.text });
    const c = h(
      "div",
      {
        class: "sw-card",
        attrs: {
          role: "button",
          tabindex: "0",
          "aria-pressed": "false",
          "data-pos": pos,
          "data-index": item.index,
          "aria-label": `Example ${item.index}, loss ${num(item.loss)}`,
        },
      },
      body,
      h(
        "div",
        { class: "sw-meta" },
        h("span", { class: "sw-idx", text: `#${item.index}` }),
        isNum(item.weight) ? h("span", { class: "sw-weight", text: `w ${num(item.weight)}`, attrs: { title: weightTitle() } }) : null,
        item.model_losses
          ? h("span", {
              class: "sw-loss",
              text: `${num(item.model_losses[0])} → ${num(item.model_losses[1])}`,
              attrs: { title: `loss of the old → the new model (difference ${num(item.loss)})` },
            })
          : h("span", { class: "sw-loss", text: `loss ${num(item.loss)}` }),
      ),
      hasLabels
        ? h(
            "div",
            { class: `sw-labels${wrong ? " sw-wrong" : ""}` },
            h("span", { class: "sw-label", text: item.label ?? "?", attrs: { title: "label" } }),
            " → ",
            item.model_predictions
              ? h("span", {
                  class: "sw-pred",
                  text: `${item.model_predictions[0]} / ${item.model_predictions[1]}`,
                  attrs: { title: "predictions of the old / the new model" },
                })
              : h("span", { class: "sw-pred", text: item.prediction ?? "?", attrs: { title: "prediction" } }),
          )
        : null,
    );
    const details = h("button", {
      class: "sw-details",
      text: "details",
      props: { type: "button" },
      attrs: { "data-index": item.index, "aria-label": `Details of example ${item.index}` },
    });
    return { wrapper: h("div", { class: "sw-item", attrs: { role: "listitem" } }, c, details), card: c };
  };

  /**
   * A training example: its influence on the result's loss instead of weight and loss.
   * @param {PageItem} item
   * @param {string} kind
   */
  const trainCard = (item, kind) => {
    let body = null;
    if (kind === "images") body = h("div", { class: "sw-thumb sw-loading", attrs: { "aria-hidden": "true" } });
    else if (item.text != null && item.text !== "") body = h("div", { class: kind === "table" ? "sw-text sw-text-table" : "sw-text", text: item.text });
    const c = h(
      "div",
      { class: "sw-card sw-train", attrs: { "data-index": item.index, "aria-label": `Training example ${item.index}, influence ${num(item.influence)}` } },
      body,
      h(
        "div",
        { class: "sw-meta" },
        h("span", { class: "sw-idx", text: `train #${item.index}` }),
        h("span", {
          class: "sw-influence",
          text: `infl ${num(item.influence)}`,
          attrs: { title: "influence on the result's total loss: negative means removing this training example would lower it" },
        }),
      ),
    );
    return { wrapper: h("div", { class: "sw-item", attrs: { role: "listitem" } }, c), card: c };
  };

  const renderItems = () => {
    const list = items();
    const training = list.length > 0 && list[0].source === "train";
    cache = training ? caches.train : caches.data;
    const kind = training ? model.get("train_kind") : model.get("kind");
    grid.dataset.kind = String(kind);
    anchor = -1;
    const built = list.map((item, pos) => card(item, pos, kind));
    cards = built.map((b) => b.card);
    if (!list.length) grid.replaceChildren(h("div", { class: "sw-empty sw-muted", text: emptyHint() }));
    else grid.replaceChildren(...built.map((b) => b.wrapper));
    markSelection();
    updatePager();
    if (kind === "images" && list.length) {
      const indices = list.map((it) => it.index);
      // Keep about three pages of thumbnails: going back a page or two costs no request.
      cache.capacity = 3 * Math.max(list.length, Number(model.get("page_size")) || 1);
      fillThumbs();
      cache.trim(new Set(indices));
      cache
        .load(indices)
        .then(() => {
          fillThumbs();
          cache.trim(new Set(items().map((it) => it.index)));
        })
        .catch((e) => {
          if (isAbort(e)) return;
          for (const c of cards) c.querySelector(".sw-thumb.sw-loading")?.classList.replace("sw-loading", "sw-failed");
        });
    }
  };

  /**
   * @param {number} pos
   * @param {boolean} shift
   */
  const toggle = (pos, shift) => {
    const list = items();
    const item = list[pos];
    if (!item || item.source === "train") return;
    const sel = new Set(selected());
    if (shift && anchor >= 0 && anchor < list.length) {
      const [a, b] = anchor < pos ? [anchor, pos] : [pos, anchor];
      for (let k = a; k <= b; k += 1) sel.add(list[k].index);
    } else if (sel.has(item.index)) sel.delete(item.index);
    else sel.add(item.index);
    anchor = pos;
    write(model, { selected: [...sel].sort((x, y) => x - y) });
  };

  /** @param {number} index */
  const openDetail = (index) => write(model, { detail: index });

  /** @param {EventTarget | null} target */
  const cardOf = (target) => /** @type {HTMLElement | null} */ (/** @type {Element} */ (target).closest?.(".sw-card"));

  d.listen(grid, "click", (/** @type {MouseEvent} */ ev) => {
    const t = /** @type {Element} */ (ev.target);
    const button = /** @type {HTMLElement | null} */ (t.closest?.(".sw-details"));
    if (button) {
      openDetail(Number(button.dataset.index));
      return;
    }
    const c = cardOf(t);
    if (c) toggle(Number(c.dataset.pos), ev.shiftKey);
  }, model);

  d.listen(grid, "dblclick", (/** @type {MouseEvent} */ ev) => {
    const c = cardOf(ev.target);
    if (c && !c.classList.contains("sw-train")) openDetail(Number(c.dataset.index));
  }, model);

  // Shift-click would otherwise select the page's text.
  d.listen(grid, "mousedown", (/** @type {MouseEvent} */ ev) => {
    if (ev.shiftKey && cardOf(ev.target)) ev.preventDefault();
  }, model);

  d.listen(grid, "keydown", (/** @type {KeyboardEvent} */ ev) => {
    const c = cardOf(ev.target);
    if (!c || ev.target !== c) return;
    const pos = Number(c.dataset.pos);
    if (ev.key === "Enter" || ev.key === " " || ev.key === "Spacebar") {
      ev.preventDefault();
      toggle(pos, ev.shiftKey);
    } else if (ev.key === "ArrowRight" || ev.key === "ArrowLeft" || ev.key === "Home" || ev.key === "End") {
      ev.preventDefault();
      let j = pos;
      if (ev.key === "ArrowRight") j = Math.min(cards.length - 1, pos + 1);
      else if (ev.key === "ArrowLeft") j = Math.max(0, pos - 1);
      else if (ev.key === "Home") j = 0;
      else j = cards.length - 1;
      cards[j]?.focus();
    }
  }, model);

  d.listen(prev, "click", () => {
    const page = Number(model.get("page")) || 0;
    if (page > 0) write(model, { page: page - 1 });
  }, model);
  d.listen(next, "click", () => {
    const page = Number(model.get("page")) || 0;
    if (page < pages() - 1) write(model, { page: page + 1 });
  }, model);

  // Python paints the overlay into the thumbnails: the cached ones show the old one.
  d.on(model, "change:overlay", () => {
    caches.data.dispose();
    caches.data = new ThumbCache(model);
    renderItems();
  });
  d.on(model, "change:page_items", renderItems);
  d.on(model, "change:kind", renderItems);
  d.on(model, "change:selected", markSelection);
  for (const event of NOUN_EVENTS) d.on(model, event, updateNoun);
  for (const name of ["page", "page_size", "total_items"]) d.on(model, `change:${name}`, updatePager);
  renderItems();
  return () => {
    d.dispose();
    caches.data.dispose();
    caches.train.dispose();
    el.replaceChildren();
    cards = [];
  };
}
