import { afterEach, describe, expect, it } from "vitest";
import { positionToSize, sizeToPosition, STEPS } from "../views/size.js";
import { FakeModel } from "./fake-model.js";
import { click, dblclick, flush, itemsFor, key, makeState, mount, PAGE_INDICES, pngView, typeValue, unmountAll } from "./fixtures.js";

afterEach(unmountAll);

describe("render", () => {
  it("exports anywidget's { render } and builds every part under one root", () => {
    const { el, root, $$ } = mount();
    expect(el.children).toHaveLength(1);
    expect(root.className).toContain("spotlight-widget");
    expect(root.dataset.lmSuppressShortcuts).toBe("true");
    // on every focusable element too: Lumino matches shortcuts against the focused element
    const focusable = [...root.querySelectorAll("button, input, select, [tabindex]")];
    expect(focusable.length).toBeGreaterThan(20);
    for (const f of focusable) expect(f.getAttribute("data-lm-suppress-shortcuts"), f.className).toBe("true");
    for (const part of ["summary", "size", "status", "history", "tabs", "gallery", "actions", "breakdown", "detail"]) {
      expect(root.querySelector(`.sw-${part}`), part).not.toBeNull();
    }
    expect($$(".sw-card")).toHaveLength(PAGE_INDICES.length);
  });

  it("shows the summary of the current spotlight", () => {
    const { $, model } = mount();
    const text = $(".sw-summary").textContent;
    expect(text).toContain("5,000");
    expect(text).toContain("0.4");
    expect(text).toContain("#1");
    expect(text).toContain("100 (2%)");
    expect(text).toContain("1.9");
    expect(text).toContain("2.2");
    expect(text).toContain("5.5×"); // 2.2 / 0.4
    model.update({ current: 1 });
    expect($(".sw-summary").textContent).toContain("#2");
    expect($(".sw-summary").textContent).toContain("4×"); // 1.6 / 0.4
  });

  it("says when there is no spotlight yet", () => {
    const { $, $$ } = mount({ history: [], current: -1, page_items: [], total_items: 0, breakdown: [] });
    expect($(".sw-summary").textContent).toContain("no spotlight yet");
    expect($(".sw-history").textContent).toContain("No spotlight found yet");
    expect($(".sw-gallery").textContent).toContain("No spotlight yet");
    expect($(".sw-breakdown").textContent).toContain("once a spotlight is found");
    expect(/** @type {HTMLButtonElement} */ ($(".sw-next")).disabled).toBe(true);
    expect($$(".sw-card")).toHaveLength(0);
  });

  it("draws gallery items with weight, loss and label → prediction", () => {
    const { $$ } = mount();
    const first = $$(".sw-card")[0];
    expect(first.dataset.index).toBe("417");
    expect(first.getAttribute("tabindex")).toBe("0");
    expect(first.getAttribute("role")).toBe("button");
    expect(first.textContent).toContain("#417");
    expect(first.textContent).toContain("w 1");
    expect(first.textContent).toContain("loss 2.5");
    expect(first.textContent).toContain("cat → dog");
    expect(first.querySelector(".sw-labels")?.classList.contains("sw-wrong")).toBe(true);
    expect($$(".sw-card")[1].querySelector(".sw-labels")?.classList.contains("sw-wrong")).toBe(false);
    expect($$(".sw-details")).toHaveLength(PAGE_INDICES.length);
  });

  it("shows texts for kind 'texts' and no thumbnail requests", () => {
    const items = itemsFor([5, 6]).map((it, k) => ({ ...it, text: `review number ${k}`, weight: null }));
    const { $$, model } = mount({ kind: "texts", page_items: items });
    expect($$(".sw-card .sw-text").map((e) => e.textContent)).toEqual(["review number 0", "review number 1"]);
    expect($$(".sw-card .sw-weight")).toHaveLength(0);
    expect(model.requests("thumbnails")).toHaveLength(0);
  });

  it("draws the breakdown: paired bars, numbers and mean loss per group", () => {
    const { $, $$ } = mount();
    const rows = $$(".sw-breakdown .sw-row");
    expect(rows).toHaveLength(3);
    expect(rows[0].querySelector(".sw-group")?.textContent).toBe("60+");
    expect(/** @type {HTMLElement} */ (rows[0].querySelector(".sw-bar.sw-in")).style.width).toBe("100%");
    expect(/** @type {HTMLElement} */ (rows[0].querySelector(".sw-bar.sw-all")).style.width).toBe("28.6%");
    expect(rows[0].textContent).toContain("70% vs 20%");
    expect(rows[0].textContent).toContain("3.5×");
    expect(rows[0].textContent).toContain("loss 2.1 / 0.9");
    const select = /** @type {HTMLSelectElement} */ ($(".sw-column"));
    expect([...select.options].map((o) => o.value)).toEqual(["age", "site"]);
    expect(select.value).toBe("age");
  });

  it("shows a hint for an empty breakdown and without columns", () => {
    const { $, model } = mount({ breakdown: [] });
    expect($(".sw-breakdown .sw-hint").textContent).toContain("Nothing to break down");
    model.update({ columns: [], breakdown_column: "" });
    expect($(".sw-breakdown .sw-hint").textContent).toContain("No metadata columns");
    expect(/** @type {HTMLSelectElement} */ ($(".sw-column")).disabled).toBe(true);
  });
});

describe("selection", () => {
  it("click toggles one example and saves", () => {
    const { model, $$ } = mount();
    const cards = $$(".sw-card");
    click(cards[2]);
    expect(model.get("selected")).toEqual([905]);
    expect(model.saves.at(-1)).toEqual({ selected: [905] });
    expect(cards[2].classList.contains("sw-selected")).toBe(true);
    expect(cards[2].getAttribute("aria-pressed")).toBe("true");
    click(cards[2]);
    expect(model.get("selected")).toEqual([]);
    expect(cards[2].getAttribute("aria-pressed")).toBe("false");
    expect(model.saves).toHaveLength(2);
  });

  it("shift-click selects the range in gallery order from the last clicked item", () => {
    const { model, $$ } = mount();
    const cards = $$(".sw-card");
    click(cards[1]);
    click(cards[4], { shiftKey: true });
    // positions 1..4 on the page: indices 12, 905, 3, 77 (saved sorted)
    expect(model.get("selected")).toEqual([3, 12, 77, 905]);
    expect(cards.filter((c) => c.classList.contains("sw-selected")).map((c) => c.dataset.index)).toEqual(["12", "905", "3", "77"]);
    // From the last clicked (position 4) on to position 6: adds 640 and 201.
    click(cards[6], { shiftKey: true });
    expect(model.get("selected")).toEqual([3, 12, 77, 201, 640, 905]);
    expect(model.saved("selected")).toEqual([3, 12, 77, 201, 640, 905]);
  });

  it("shift-click without an earlier click toggles one", () => {
    const { model, $$ } = mount();
    click($$(".sw-card")[3], { shiftKey: true });
    expect(model.get("selected")).toEqual([3]);
  });

  it("keeps selected examples of other pages", () => {
    const { model, $$ } = mount({ selected: [4000, 4001] });
    click($$(".sw-card")[0]);
    expect(model.get("selected")).toEqual([417, 4000, 4001]);
  });

  it("Enter and Space toggle selection; arrows move focus", () => {
    const { model, $$ } = mount();
    const cards = $$(".sw-card");
    cards[0].focus();
    key(cards[0], "Enter");
    expect(model.get("selected")).toEqual([417]);
    key(cards[0], " ");
    expect(model.get("selected")).toEqual([]);
    key(cards[0], "ArrowRight");
    expect(document.activeElement).toBe(cards[1]);
    key(cards[1], " "); // toggles 12 on
    key(cards[1], " ");
    expect(model.get("selected")).toEqual([]);
    key(cards[3], " ", { shiftKey: true }); // range from the last toggled (position 1) to 3
    expect(model.get("selected")).toEqual([3, 12, 905]);
    key(cards[1], "End");
    expect(document.activeElement).toBe(cards.at(-1));
  });

  it("marks the selection when Python changes it", () => {
    const { model, $$, $ } = mount();
    model.update({ selected: [12, 3] });
    expect($$(".sw-card.sw-selected").map((c) => c.dataset.index)).toEqual(["12", "3"]);
    expect($(".sw-selected-count").textContent).toBe("2 selected");
  });

  it("selection buttons send select requests", () => {
    const { model, $ } = mount();
    click($(".sw-select-top"));
    expect(model.requests("select").at(-1)).toMatchObject({ type: "select", mode: "top" });
    expect(model.requests("select").at(-1)).not.toHaveProperty("threshold");
    model.reply(model.requests("select").at(-1), { ok: true, count: 100 });
    const threshold = /** @type {HTMLInputElement} */ ($(".sw-threshold"));
    threshold.value = "0.75";
    click($(".sw-select-above"));
    expect(model.requests("select").at(-1)).toMatchObject({ mode: "above", threshold: 0.75 });
    model.reply(model.requests("select").at(-1), { ok: true, count: 3 });
    click($(".sw-select-none"));
    expect(model.requests("select").at(-1)).toMatchObject({ mode: "none" });
  });
});

describe("size", () => {
  it("maps the range input to sizes on a log scale", () => {
    expect(positionToSize(0)).toBe(0.001);
    expect(positionToSize(STEPS / 2)).toBe(0.01);
    expect(positionToSize(STEPS)).toBe(0.1);
    expect(positionToSize(STEPS / 4)).toBe(0.00316);
    expect(sizeToPosition(0.01)).toBe(STEPS / 2);
    expect(sizeToPosition(0.02)).toBe(651);
    expect(sizeToPosition(5)).toBe(STEPS);
  });

  it("commits the range input on change, not on input", () => {
    const { model, $ } = mount();
    const range = /** @type {HTMLInputElement} */ ($(".sw-size-range"));
    const number = /** @type {HTMLInputElement} */ ($(".sw-size-number"));
    expect(range.value).toBe("651");
    expect(number.value).toBe("2");
    typeValue(range, 750, { change: false });
    expect(model.saves).toHaveLength(0);
    expect(number.value).toBe("3.16"); // the read-out follows while dragging
    expect($(".sw-size-count").textContent).toContain("158");
    range.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.get("size")).toBe(0.0316);
    expect(model.saves).toEqual([{ size: 0.0316 }]);
  });

  it("takes an exact size in percent from the number input, clamped to 0.1–10 %", () => {
    const { model, $ } = mount();
    const number = /** @type {HTMLInputElement} */ ($(".sw-size-number"));
    typeValue(number, "5", { change: false });
    expect(model.saves).toHaveLength(0);
    number.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.saves.at(-1)).toEqual({ size: 0.05 });
    typeValue(number, "25");
    expect(model.get("size")).toBe(0.1);
    expect(number.value).toBe("10");
    typeValue(number, "0.01");
    expect(model.get("size")).toBe(0.001);
    const before = model.saves.length;
    typeValue(number, "");
    expect(model.saves).toHaveLength(before);
    // Enter commits too (Chromium fires no change on Enter outside a form)
    typeValue(number, "3", { change: false });
    key(number, "Enter");
    expect(model.saves.at(-1)).toEqual({ size: 0.03 });
    number.dispatchEvent(new Event("change", { bubbles: true })); // the later change is a no-op
    expect(model.saves).toHaveLength(before + 1);
  });

  it("follows size changes from Python", () => {
    const { model, $ } = mount();
    model.update({ size: 0.001 });
    expect(/** @type {HTMLInputElement} */ ($(".sw-size-range")).value).toBe("0");
    expect(/** @type {HTMLInputElement} */ ($(".sw-size-number")).value).toBe("0.1");
  });
});

describe("history, tabs, pager", () => {
  it("history buttons write current; the current one is highlighted", () => {
    const { model, $$ } = mount();
    let items = $$(".sw-history-item");
    expect(items).toHaveLength(2);
    expect(items[0].textContent).toContain("#1");
    expect(items[0].textContent).toContain("S 100");
    expect(items[0].textContent).toContain("top 2.2");
    expect(items[0].textContent).toContain("mostly cats");
    expect(items[0].classList.contains("sw-current")).toBe(true);
    expect(items[0].getAttribute("aria-pressed")).toBe("true");
    click(/** @type {HTMLElement} */ (items[1].querySelector(".sw-history-rank")));
    expect(model.get("current")).toBe(1);
    expect(model.saves.at(-1)).toEqual({ current: 1 });
    items = $$(".sw-history-item");
    expect(items[1].classList.contains("sw-current")).toBe(true);
    expect(items[0].classList.contains("sw-current")).toBe(false);
  });

  it("tabs write tab (and page 0)", () => {
    const { model, $$ } = mount({ page: 2 });
    const tabs = $$(".sw-tab");
    expect(tabs.map((t) => t.textContent)).toEqual(["Members", "Highest loss", "Random"]);
    expect(tabs[0].getAttribute("aria-selected")).toBe("true");
    click(tabs[1]);
    expect(model.saves.at(-1)).toEqual({ tab: "highest", page: 0 });
    expect(tabs[1].getAttribute("aria-selected")).toBe("true");
    expect(tabs[0].getAttribute("aria-selected")).toBe("false");
    key(tabs[1], "ArrowRight");
    expect(model.get("tab")).toBe("random");
    expect(document.activeElement).toBe(tabs[2]);
  });

  it("the pager writes page and shows page k of m", () => {
    const { model, $ } = mount();
    const prev = /** @type {HTMLButtonElement} */ ($(".sw-prev"));
    const next = /** @type {HTMLButtonElement} */ ($(".sw-next-page"));
    expect($(".sw-page-info").textContent).toContain("page 1 of 3");
    expect(prev.disabled).toBe(true);
    click(next);
    expect(model.saves.at(-1)).toEqual({ page: 1 });
    expect($(".sw-page-info").textContent).toContain("page 2 of 3");
    click(next);
    expect(next.disabled).toBe(true);
    click(prev);
    expect(model.get("page")).toBe(1);
  });
});

describe("next spotlight and status", () => {
  it("Next spotlight sends a request and is disabled while running", async () => {
    const { model, $ } = mount();
    const next = /** @type {HTMLButtonElement} */ ($(".sw-next"));
    expect(next.disabled).toBe(false);
    click(next);
    expect(model.requests("next")).toHaveLength(1);
    expect(next.disabled).toBe(true); // until the reply
    model.update({ status: { state: "running", progress: 0.25, message: "searching S = 100: step 12" } });
    model.reply(model.requests("next")[0], { ok: true });
    await flush();
    expect(next.disabled).toBe(true); // still running
    const bar = $(".sw-progress");
    expect(bar.hidden).toBe(false);
    expect(bar.getAttribute("aria-valuenow")).toBe("25");
    expect(/** @type {HTMLElement} */ ($(".sw-progress-fill")).style.width).toBe("25%");
    expect($(".sw-status").textContent).toContain("searching S = 100: step 12");
    model.update({ status: { state: "idle", progress: 1, message: "" } });
    expect(next.disabled).toBe(false);
    expect(bar.hidden).toBe(true);
  });

  it("shows the error trait and a failed search prominently", () => {
    const { model, $ } = mount();
    expect($(".sw-error-python").hidden).toBe(true);
    model.update({ error: "search failed: out of memory", status: { state: "error", progress: 0, message: "out of memory" } });
    expect($(".sw-error-python").hidden).toBe(false);
    expect($(".sw-error-python").getAttribute("role")).toBe("alert");
    expect($(".sw-error-python").textContent).toContain("search failed: out of memory");
    expect($(".sw-status-message").classList.contains("sw-status-failed")).toBe(true);
    click($(".sw-error-python .sw-error-close"));
    expect($(".sw-error-python").hidden).toBe(true);
    model.update({ error: "another one" });
    expect($(".sw-error-python").hidden).toBe(false);
  });

  it("shows error replies of requests in the status area", async () => {
    const { model, $ } = mount();
    click($(".sw-next"));
    model.reply(model.requests("next")[0], { error: "wait for the first spotlight" });
    await flush();
    const box = $(".sw-error-request");
    expect(box.hidden).toBe(false);
    expect(box.textContent).toContain("next failed: wait for the first spotlight");
    expect(/** @type {HTMLButtonElement} */ ($(".sw-next")).disabled).toBe(false);
    click(/** @type {HTMLElement} */ (box.querySelector(".sw-error-close")));
    expect(box.hidden).toBe(true);

    click($(".sw-select-top"));
    model.reply(model.requests("select")[0], { error: "bad mode" });
    await flush();
    expect(box.textContent).toContain("select failed: bad mode");
  });
});

describe("detail", () => {
  it("opens on double-click, requests the detail and a thumbnail, closes on Escape", async () => {
    const { model, $, $$ } = mount();
    const panel = $(".sw-detail");
    expect(panel.hidden).toBe(true);
    dblclick($$(".sw-card")[2]);
    expect(model.get("detail")).toBe(905);
    expect(panel.hidden).toBe(false);
    const req = model.requests("detail").at(-1);
    expect(req).toMatchObject({ type: "detail", index: 905 });
    expect(model.requests("thumbnails").some((m) => m.indices.length === 1 && m.indices[0] === 905)).toBe(true);
    model.reply(req, { index: 905, loss: 2.3, weight: 0.9, label: "cat", prediction: "dog", text: null, fields: { age: "63", site: "B" } });
    await flush();
    expect($(".sw-detail-title").textContent).toBe("Example #905");
    const cells = $$(".sw-detail tr").map((tr) => [...tr.children].map((c) => c.textContent));
    expect(cells).toEqual(
      expect.arrayContaining([
        ["loss", "2.3"],
        ["label", "cat"],
        ["prediction", "dog"],
        ["age", "63"],
        ["site", "B"],
      ]),
    );
    expect($(".sw-detail").textContent).not.toContain("null");
    expect($(".sw-detail-text")).toBeNull();
    expect(document.activeElement).toBe($(".sw-detail-close"));
    key(/** @type {Element} */ (document.activeElement), "Escape");
    expect(panel.hidden).toBe(true);
    expect(model.get("detail")).toBe(-1);
  });

  it("opens from the details button and closes with the close button", async () => {
    const { model, $, $$ } = mount({ kind: "texts", page_items: itemsFor([8, 9]).map((i) => ({ ...i, text: "hello" })) });
    click($$(".sw-details")[1]);
    expect(model.get("detail")).toBe(9);
    expect(model.get("selected")).toEqual([]); // the button does not toggle selection
    expect(model.requests("thumbnails")).toHaveLength(0);
    model.reply(model.requests("detail")[0], { index: 9, loss: 1, weight: null, label: null, prediction: null, text: "hello world", fields: {} });
    await flush();
    expect($(".sw-detail-text").textContent).toBe("hello world");
    click($(".sw-detail-close"));
    expect($(".sw-detail").hidden).toBe(true);
  });

  it("shows a failed detail request", async () => {
    const { model, $, $$ } = mount({ kind: "table" });
    click($$(".sw-details")[0]);
    model.reply(model.requests("detail")[0], { error: "index 417 is out of range" });
    await flush();
    expect($(".sw-detail").textContent).toContain("detail failed: index 417 is out of range");
    expect($(".sw-error-request").textContent).toContain("index 417 is out of range");
  });
});

describe("breakdown", () => {
  it("the column select writes breakdown_column", () => {
    const { model, $ } = mount();
    const select = /** @type {HTMLSelectElement} */ ($(".sw-column"));
    select.value = "site";
    select.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.saves.at(-1)).toEqual({ breakdown_column: "site" });
    model.update({ breakdown: [{ group: "B", count: 5, share_in: 0.5, share_all: 0.5, lift: 1, loss_in: 1, loss_all: 1 }] });
    expect($(".sw-breakdown .sw-row .sw-group").textContent).toBe("B");
  });
});

describe("breakdown significance", () => {
  it("shows p-values when Python sends them, and marks groups whose lift interval leaves 1", () => {
    const { $$ } = mount();
    const rows = $$(".sw-breakdown .sw-row");
    expect(rows[0].querySelector(".sw-p")?.textContent).toBe("p < 0.001");
    expect(rows[0].querySelector(".sw-p")?.getAttribute("title")).toContain("2.6–4.4×");
    expect(rows[0].classList.contains("sw-surprising")).toBe(true);
    expect(rows[1].querySelector(".sw-p")?.textContent).toBe("p = 0.061");
    // interval 0.3 to 1.1 contains 1: not surprising
    expect(rows[1].classList.contains("sw-surprising")).toBe(false);
    // older rows without the statistics still render, without a p-value
    expect(rows[2].querySelector(".sw-p")).toBeNull();
    expect(rows[2].querySelector(".sw-share")?.textContent).toBe("10% vs 40%");
  });
});

describe("note", () => {
  it("writes the shown result's note on Enter, shows Python's, and hides without a result", () => {
    const { model, $ } = mount({ shown_note: "" });
    const field = /** @type {HTMLTextAreaElement} */ ($(".sw-note-text"));
    expect(/** @type {HTMLElement} */ ($(".sw-note")).hidden).toBe(false);
    expect(field.placeholder).toContain("spotlight");
    field.focus();
    field.value = "mostly sevens <b>with</b> a bar";
    key(field, "Enter");
    expect(model.saves.at(-1)).toEqual({ shown_note: "mostly sevens <b>with</b> a bar" });
    // Shift+Enter is a new line, not a commit.
    const before = model.saves.length;
    field.focus();
    key(field, "Enter", { shiftKey: true });
    expect(model.saves.length).toBe(before);
    field.blur();
    model.update({ shown_note: "another result's note" });
    expect(field.value).toBe("another result's note");
    model.update({ history: [] });
    expect(/** @type {HTMLElement} */ ($(".sw-note")).hidden).toBe(true);
  });

  it("does not overwrite what the user is typing", () => {
    const { model, $ } = mount({ shown_note: "old" });
    const field = /** @type {HTMLTextAreaElement} */ ($(".sw-note-text"));
    field.focus();
    field.value = "half typed";
    model.update({ shown_note: "from python" });
    expect(field.value).toBe("half typed");
  });
});

describe("method selector", () => {
  it("lists the methods, writes `method`, and renames the Next button", () => {
    const { model, $ } = mount();
    const select = /** @type {HTMLSelectElement} */ ($(".sw-method-select"));
    expect([...select.options].map((o) => o.textContent)).toEqual(["Spotlight", "K-means clusters"]);
    expect(select.value).toBe("spotlight");
    expect($(".sw-next").textContent).toBe("Next spotlight");
    select.value = "kmeans";
    select.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.saves.at(-1)).toEqual({ method: "kmeans" });
    expect($(".sw-next").textContent).toBe("Next cluster");
    model.update({ method: "spotlight" });
    expect(select.value).toBe("spotlight");
    expect($(".sw-next").textContent).toBe("Next spotlight");
  });

  it("hides itself when there is only one method", () => {
    const { $ } = mount({ methods: [{ name: "spotlight", label: "Spotlight" }] });
    expect(/** @type {HTMLElement} */ ($(".sw-method")).hidden).toBe(true);
    expect(/** @type {HTMLElement} */ ($(".sw-direction")).hidden).toBe(true);
  });

  it("switches a comparison's direction, and shows both models' losses and predictions", () => {
    const items = itemsFor([1, 2]).map((it, k) => ({ ...it, model_losses: [0.25, 2.5 + k], model_predictions: ["cat", "dog"] }));
    const { model, $, $$ } = mount({
      methods: [{ name: "spotlight", label: "Spotlight" }],
      comparison: { names: ["v1", "v2"] },
      direction: "worse",
      page_items: items,
      breakdown: [{ group: "A", count: 3, share_in: 0.5, share_all: 0.1, lift: 5, loss_in: 1, loss_all: 0.5, loss_old_all: 0.2, loss_new_all: 0.9 }],
    });
    // One method, but a direction to choose: the bar shows.
    expect(/** @type {HTMLElement} */ ($(".sw-method")).hidden).toBe(false);
    const direction = /** @type {HTMLSelectElement} */ ($(".sw-direction"));
    expect([...direction.options].map((o) => o.textContent)).toEqual(["where the v2 is worse", "where the v2 is better"]);
    direction.value = "better";
    direction.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.saves.at(-1)).toEqual({ direction: "better" });
    model.update({ direction: "worse" });
    expect(direction.value).toBe("worse");
    const card = $$(".sw-card")[1];
    expect(card.querySelector(".sw-loss")?.textContent).toBe("0.25 → 3.5");
    expect(card.querySelector(".sw-pred")?.textContent).toBe("cat / dog");
    expect($(".sw-model-loss")?.textContent).toBe("old 0.2 → new 0.9");
  });

  it("names the result in the summary after the method's label", () => {
    const history = makeState().history.map((e) => ({ ...e, label: "cluster" }));
    const { $ } = mount({ history });
    expect($(".sw-summary").textContent).toContain("cluster#1");
  });
});

describe("cleanup", () => {
  it("removes every model listener, the DOM, and the error hook", async () => {
    const model = new FakeModel(makeState());
    const { unmount, el, $$ } = mount({}, { model });
    expect(model.handlerCount()).toBeGreaterThan(0);
    // pending requests too: a thumbnail request is in flight, open a detail and press Next
    dblclick($$(".sw-card")[0]);
    click(/** @type {HTMLElement} */ (el.querySelector(".sw-next")));
    expect(model.handlerCount("msg:custom")).toBeGreaterThan(0);
    unmount();
    expect(model.handlerCount()).toBe(0);
    expect(el.isConnected).toBe(false);
    expect(el.children).toHaveLength(0);
    await flush();
  });

  it("two views of one model work independently and clean up separately", () => {
    const model = new FakeModel(makeState());
    const a = mount({}, { model });
    const b = mount({}, { model });
    click(a.$$(".sw-card")[0]);
    expect(b.$$(".sw-card")[0].classList.contains("sw-selected")).toBe(true);
    a.unmount();
    const left = model.handlerCount();
    expect(left).toBeGreaterThan(0);
    b.unmount();
    expect(model.handlerCount()).toBe(0);
  });
});

describe("opponents", () => {
  const opponents = [
    { index: 31, source: "train", influence: -4.2, weight: null, loss: null, label: null, prediction: null, text: null },
    { index: 7, source: "train", influence: -1.5, weight: null, loss: null, label: null, prediction: null, text: null },
  ];

  it("shows training examples with their influence, fetched from the training source", async () => {
    const { model, $$ } = mount({ tab: "opponents", page_items: opponents, total_items: 2 });
    const cards = $$(".sw-card");
    expect(cards.map((c) => c.querySelector(".sw-idx")?.textContent)).toEqual(["train #31", "train #7"]);
    expect(cards[0].querySelector(".sw-influence")?.textContent).toBe("infl -4.2");
    const asked = model.requests("thumbnails");
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({ indices: [31, 7], source: "train" });
    model.reply(asked[0], { indices: [31, 7], mime: "image/png" }, [pngView(), pngView()]);
    await flush();
    expect(cards[0].querySelector("img")).not.toBeNull();
  });

  it("never selects a training example or opens it as a data example", () => {
    const { model, $$ } = mount({ tab: "opponents", page_items: opponents, total_items: 2 });
    click($$(".sw-card")[0]);
    dblclick($$(".sw-card")[1]);
    expect(model.saves.filter((s) => "selected" in s || "detail" in s)).toEqual([]);
    expect($$(".sw-details")).toHaveLength(0);
  });

  it("data examples keep asking without a source, so their cache is separate", () => {
    const { model } = mount();
    const asked = model.requests("thumbnails");
    expect(asked[0].source).toBeUndefined();
    expect(asked[0].indices).toEqual(PAGE_INDICES);
  });
});

describe("arrange", () => {
  it("writes the sort column and direction, and the filter column and group", () => {
    const { model, $ } = mount();
    const sortBy = /** @type {HTMLSelectElement} */ ($(".sw-sort-by"));
    const direction = /** @type {HTMLButtonElement} */ ($(".sw-sort-direction"));
    expect([...sortBy.options].map((o) => o.value)).toEqual(["", "weight", "loss", "age", "site"]);
    expect(direction.disabled).toBe(true); // list order has no direction
    sortBy.value = "loss";
    sortBy.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.saves.at(-1)).toEqual({ sort_by: "loss" });
    expect(direction.disabled).toBe(false);
    click(direction);
    expect(model.saves.at(-1)).toEqual({ sort_descending: false });
    expect(direction.textContent).toBe("↑");

    const column = /** @type {HTMLSelectElement} */ ($(".sw-filter-column"));
    const group = /** @type {HTMLSelectElement} */ ($(".sw-filter-group"));
    expect([...column.options].map((o) => o.value)).toEqual(["", "age", "site"]);
    expect(group.hidden).toBe(true);
    column.value = "site";
    column.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.saves.at(-1)).toEqual({ filter_column: "site" });
    model.update({ filter_groups: ["B", "<b>A</b>"] }); // Python's answer; names are data
    expect(group.hidden).toBe(false);
    expect([...group.options].map((o) => o.textContent)).toEqual(["all groups", "B", "<b>A</b>"]);
    expect(group.querySelector("b")).toBeNull();
    group.value = "<b>A</b>";
    group.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.saves.at(-1)).toEqual({ filter_group: "<b>A</b>" });
  });
});

describe("overlay", () => {
  it("is hidden without overlays, and switching it refetches the shown thumbnails", () => {
    const { $ } = mount();
    expect(/** @type {HTMLElement} */ ($(".sw-overlay")).hidden).toBe(true);

    const { model, $: $2, $$ } = mount({ overlays: ["none", "ground-truth", "saliency", "both"] });
    const overlayEl = /** @type {HTMLElement} */ ($2(".sw-overlay"));
    expect(overlayEl.hidden).toBe(false);
    const choices = [...overlayEl.querySelectorAll(".sw-overlay-choice")];
    expect(choices.map((c) => c.textContent)).toEqual(["none", "ground truth", "saliency", "both"]);
    expect(choices[0].getAttribute("aria-checked")).toBe("true");
    const before = model.requests("thumbnails").length;
    click(choices[3]);
    expect(model.saves.at(-1)).toEqual({ overlay: "both" });
    expect(overlayEl.querySelector(".sw-active")?.textContent).toBe("both");
    // the cached thumbnails show the old overlay: the page's are asked for again
    const again = model.requests("thumbnails").slice(before);
    expect(again).toHaveLength(1);
    expect(again[0].indices).toEqual(PAGE_INDICES);
    expect($$(".sw-card")).toHaveLength(PAGE_INDICES.length);
  });
});

describe("probe geometry", () => {
  it("turns a drag (fractions of the image) into a half-open pixel box of at least one pixel", async () => {
    const { toPixelBox } = await import("../probe.js");
    expect(toPixelBox({ x: 0.5, y: 0 }, { x: 1, y: 0.5 }, [8, 12])).toEqual([6, 0, 12, 4]);
    // dragged right to left and beyond the image: ordered and clipped
    expect(toPixelBox({ x: 1.3, y: 0.99 }, { x: -0.2, y: 0.5 }, [8, 12])).toEqual([0, 4, 12, 8]);
    // a click without a drag is one pixel
    expect(toPixelBox({ x: 0.25, y: 0.25 }, { x: 0.25, y: 0.25 }, [8, 12])).toEqual([3, 2, 4, 3]);
    expect(toPixelBox({ x: 1, y: 1 }, { x: 1, y: 1 }, [8, 12])).toEqual([11, 7, 12, 8]);
  });
});
