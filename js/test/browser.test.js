// Checks that need a real browser: real pointer and keyboard input through Playwright,
// the stylesheet applied, and themes.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import css from "../style.css?raw";
import { flush, inBrowser, mount, PAGE_INDICES, pngView, unmountAll } from "./fixtures.js";

/** @type {HTMLStyleElement | null} */
let style = null;

beforeEach(() => {
  style = document.createElement("style");
  style.textContent = css;
  document.head.append(style);
});

afterEach(() => {
  unmountAll();
  style?.remove();
  delete document.body.dataset.jpThemeLight;
  document.body.style.removeProperty("--jp-ui-font-color1");
});

describe.runIf(inBrowser)("in Chromium", () => {
  it("real clicks, shift-clicks, double-click and keys", async () => {
    const { userEvent } = await import("vitest/browser");
    const { model, $, $$ } = mount();
    const cards = $$(".sw-card");
    await userEvent.click(cards[0]);
    expect(model.get("selected")).toEqual([417]);
    await userEvent.click(cards[3], { modifiers: ["Shift"] });
    expect(model.get("selected")).toEqual([3, 12, 417, 905]);
    // shift-click does not select page text
    expect(String(window.getSelection())).toBe("");

    // Tab order reaches the cards; Space toggles the focused one.
    cards[5].focus();
    await userEvent.keyboard(" ");
    expect(model.get("selected")).toContain(640);
    await userEvent.keyboard("{ArrowRight}");
    expect(document.activeElement).toBe(cards[6]);
    await userEvent.keyboard("{Enter}");
    expect(model.get("selected")).toContain(201);

    // Double-click opens the detail panel (and leaves the selection as it was).
    const before = model.get("selected");
    await userEvent.dblClick(cards[7]);
    expect(model.get("detail")).toBe(58);
    expect(model.get("selected")).toEqual(before);
    expect($(".sw-detail").hidden).toBe(false);
    await userEvent.keyboard("{Escape}");
    expect($(".sw-detail").hidden).toBe(true);
    // Focus goes back to where it was.
    expect(document.activeElement).toBe(cards[7]);
  });

  it("the range input commits once, on release", async () => {
    const { userEvent } = await import("vitest/browser");
    const { model, $ } = mount();
    const range = /** @type {HTMLInputElement} */ ($(".sw-size-range"));
    range.focus();
    await userEvent.keyboard("{ArrowRight}");
    // keyboard steps fire input + change: one write per step, on the log scale
    expect(model.saves).toEqual([{ size: 0.0201 }]);
  });

  it("the number input commits on Enter and on leaving it", async () => {
    const { userEvent } = await import("vitest/browser");
    const { model, $ } = mount();
    const number = /** @type {HTMLInputElement} */ ($(".sw-size-number"));
    await userEvent.fill(number, "2.5");
    expect(model.saves).toEqual([]);
    await userEvent.keyboard("{Enter}");
    expect(model.saves).toEqual([{ size: 0.025 }]);
    await userEvent.fill(number, "4");
    await userEvent.keyboard("{Tab}");
    expect(model.saves.at(-1)).toEqual({ size: 0.04 });
    expect(model.saves).toHaveLength(2);
  });

  it("lays out the gallery as a grid with square thumbnails", async () => {
    const { model, $, $$, el } = mount();
    el.style.width = "900px";
    const reply = model.requests("thumbnails")[0];
    model.reply(reply, { type: "thumbnails", indices: reply.indices, mime: "image/png" }, reply.indices.map(() => pngView()));
    await flush();
    const cards = $$(".sw-card");
    expect(cards).toHaveLength(PAGE_INDICES.length);
    const a = cards[0].getBoundingClientRect();
    const b = cards[1].getBoundingClientRect();
    expect(b.top).toBe(a.top); // side by side
    const thumb = /** @type {HTMLElement} */ (cards[0].querySelector(".sw-thumb")).getBoundingClientRect();
    expect(Math.abs(thumb.width - thumb.height)).toBeLessThan(1);
    // the detail panel is hidden and overlays when shown
    expect(getComputedStyle($(".sw-detail")).display).toBe("none");
  });

  it("uses Jupyter's colours when defined, and dark fallbacks in a dark host", () => {
    const { root: light } = mount();
    expect(getComputedStyle(light).color).toBe("rgb(34, 34, 34)");
    unmountAll();

    document.body.dataset.jpThemeLight = "false";
    const { root: dark } = mount();
    expect(dark.classList.contains("sw-theme-dark")).toBe(true);
    expect(getComputedStyle(dark).color).toBe("rgb(232, 234, 237)");

    document.body.style.setProperty("--jp-ui-font-color1", "rgb(1, 2, 3)");
    expect(getComputedStyle(dark).color).toBe("rgb(1, 2, 3)");
  });

  it("probing: a box dragged on the detail image is sent in the image's pixels and answered", async () => {
    const { model, $, el, root } = mount({ can_probe: true });
    el.style.width = "900px";
    model.update({ detail: 12 });
    const thumbs = model.requests("thumbnails").at(-1);
    model.reply(thumbs, { type: "thumbnails", indices: [12], mime: "image/png" }, [pngView()]);
    model.reply(model.requests("detail").at(-1), { index: 12, loss: 1.5, fields: {}, image_shape: [8, 12] });
    await flush();
    const img = /** @type {HTMLImageElement} */ ($(".sw-detail-thumb img"));
    await img.decode();
    const { contentRect } = await import("../probe.js");
    const r = contentRect(img);
    expect(r.width).toBeGreaterThan(50);
    const target = /** @type {HTMLElement} */ ($(".sw-detail-thumb"));
    const point = (/** @type {string} */ type, /** @type {number} */ fx, /** @type {number} */ fy) =>
      target.dispatchEvent(new PointerEvent(type, { bubbles: true, pointerId: 1, clientX: r.left + fx * r.width, clientY: r.top + fy * r.height }));
    // The PNG is 2 x 2 pixels but the image is 8 x 12: the box follows the image's shape.
    point("pointerdown", 0.52, 0.01);
    point("pointermove", 0.8, 0.3);
    const box = /** @type {HTMLElement} */ ($(".sw-probe-box"));
    expect(box.hidden).toBe(false);
    point("pointerup", 0.99, 0.49);
    const sent = model.requests("probe");
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ index: 12, boxes: [[6, 0, 12, 4]], metric: "iou" });
    const drawn = box.getBoundingClientRect();
    expect(Math.abs(drawn.left - (r.left + r.width / 2))).toBeLessThan(3);
    expect(Math.abs(drawn.right - (r.left + r.width))).toBeLessThan(3);
    model.reply(sent[0], { metric: "iou", classes: [{ class: 1, name: "<b>dog</b>", iou: 1, gtc: 1, sc: 1 }, { class: 0, name: "cat", iou: 0, gtc: 0, sc: 0 }] });
    await flush();
    const names = [...root.querySelectorAll(".sw-probe-class")].map((c) => c.textContent);
    expect(names).toEqual(["<b>dog</b>", "cat"]);
    expect(root.querySelector(".sw-probe-results b")).toBeNull();
    // Another metric asks again for the same box.
    const select = /** @type {HTMLSelectElement} */ ($(".sw-probe-metric"));
    select.value = "sc";
    select.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.requests("probe").at(-1)).toMatchObject({ boxes: [[6, 0, 12, 4]], metric: "sc" });
  });

  it("overlay: a real click switches it and the gallery fetches the painted thumbnails", async () => {
    const { userEvent } = await import("vitest/browser");
    const { model, $, $$ } = mount({ overlays: ["none", "ground-truth", "saliency", "both"] });
    const first = model.requests("thumbnails")[0];
    model.reply(first, { type: "thumbnails", indices: first.indices, mime: "image/png" }, first.indices.map(() => pngView()));
    await flush();
    expect($$(".sw-card img")).toHaveLength(PAGE_INDICES.length);
    const bar = /** @type {HTMLElement} */ ($(".sw-overlay"));
    expect(getComputedStyle(bar).display).not.toBe("none");
    const saliency = /** @type {HTMLElement} */ (bar.querySelector('[data-overlay="saliency"]'));
    await userEvent.click(saliency);
    expect(model.get("overlay")).toBe("saliency");
    // the buttons are drawn anew from the model: the checked one is the new "saliency"
    expect(bar.querySelector('[aria-checked="true"]')?.textContent).toBe("saliency");
    // the legend's swatch is Shared Interest's orange, as Python paints it
    expect(getComputedStyle(/** @type {HTMLElement} */ (bar.querySelector(".sw-swatch.sw-sal"))).backgroundColor).toBe("rgb(255, 110, 0)");
    const again = model.requests("thumbnails").at(-1);
    expect(again).not.toBe(first);
    expect(again.indices).toEqual(PAGE_INDICES);
    model.reply(again, { type: "thumbnails", indices: again.indices, mime: "image/png" }, again.indices.map(() => pngView()));
    await flush();
    expect($$(".sw-card img")).toHaveLength(PAGE_INDICES.length);
  });

  it("follows a theme switch of the host", async () => {
    const { root } = mount();
    expect(root.classList.contains("sw-theme-dark")).toBe(false);
    document.body.dataset.jpThemeLight = "false";
    await flush();
    expect(root.classList.contains("sw-theme-dark")).toBe(true);
    document.body.dataset.jpThemeLight = "true";
    await flush();
    expect(root.classList.contains("sw-theme-light")).toBe(true);
  });
});
