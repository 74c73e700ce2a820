import { afterEach, describe, expect, it } from "vitest";
import { flush, itemsFor, mount, unmountAll } from "./fixtures.js";

const IMG = `<img src=x onerror="window.__pwned=1">`;
const SCRIPT = `<script>window.__pwned=1</script>`;
const BOTH = `${IMG}${SCRIPT}`;

afterEach(() => {
  unmountAll();
  delete (/** @type {any} */ (window).__pwned);
});

/** Wait long enough for an injected <img onerror> to fire (a failed load of "x"). */
async function settle() {
  await flush();
  await new Promise((r) => setTimeout(r, 100));
}

describe("untrusted strings are shown as text, never parsed as HTML", () => {
  it("labels, predictions, texts, captions, columns, breakdown groups, errors and detail fields", async () => {
    const items = itemsFor([1, 2, 3]).map((it) => ({ ...it, label: IMG, prediction: SCRIPT, text: BOTH }));
    const { model, root, $, $$ } = mount({
      kind: "texts",
      page_items: items,
      history: [{ rank: 1, size: 10, fraction: 0.002, weighted_loss: 1, top_loss: 1, mass: 10, members: 12, caption: BOTH }],
      current: 0,
      columns: [IMG, SCRIPT],
      breakdown_column: IMG,
      breakdown: [{ group: BOTH, count: 3, share_in: 0.5, share_all: 0.1, lift: 5, loss_in: 1, loss_all: 0.5 }],
      error: BOTH,
      status: { state: "error", progress: 0, message: SCRIPT },
    });

    // Detail fields: column names and values.
    $$(".sw-details")[0].click();
    model.reply(model.requests("detail")[0], {
      index: 1,
      loss: 1,
      weight: 0.5,
      label: IMG,
      prediction: SCRIPT,
      text: BOTH,
      fields: { [IMG]: SCRIPT, [SCRIPT]: IMG },
    });
    // An error reply too.
    $(".sw-next").click();
    model.reply(model.requests("next")[0], { error: BOTH });
    await settle();

    expect(/** @type {any} */ (window).__pwned).toBeUndefined();
    expect(root.querySelectorAll("script")).toHaveLength(0);
    // Only our own <img> elements could exist; there are none for texts.
    expect(root.querySelectorAll("img")).toHaveLength(0);
    expect(root.querySelector("[onerror]")).toBeNull();

    const card = $$(".sw-card")[0];
    expect(card.querySelector(".sw-label")?.textContent).toBe(IMG);
    expect(card.querySelector(".sw-pred")?.textContent).toBe(SCRIPT);
    expect(card.querySelector(".sw-text")?.textContent).toBe(BOTH);
    expect($(".sw-history-caption").textContent).toBe(BOTH);
    const select = /** @type {HTMLSelectElement} */ ($(".sw-column"));
    expect([...select.options].map((o) => o.textContent)).toEqual([IMG, SCRIPT]);
    expect(select.value).toBe(IMG);
    expect($(".sw-group").textContent).toBe(BOTH);
    expect($(".sw-error-python .sw-error-text").textContent).toBe(BOTH);
    expect($(".sw-status-message").textContent).toBe(SCRIPT);
    expect($(".sw-error-request .sw-error-text").textContent).toBe(`next failed: ${BOTH}`);
    const rows = $$(".sw-detail tr").map((tr) => [...tr.children].map((c) => c.textContent));
    expect(rows).toEqual(expect.arrayContaining([["label", IMG], ["prediction", SCRIPT], [IMG, SCRIPT], [SCRIPT, IMG]]));
    expect($(".sw-detail-text").textContent).toBe(BOTH);
    expect(root.textContent).toContain('onerror="window.__pwned=1"');
  });

  it("a control: the same string through innerHTML would run", async () => {
    // Shows that the test can detect an injection in this environment.
    const div = document.createElement("div");
    document.body.append(div);
    div.innerHTML = IMG;
    await settle();
    const pwned = /** @type {any} */ (window).__pwned;
    div.remove();
    // jsdom does not load images, so onerror never fires there; Chromium does.
    if (navigator.userAgent.includes("jsdom")) expect(div.querySelector("img")).not.toBeNull();
    else expect(pwned).toBe(1);
  });
});
