// The map view against the fake model: the messages of the map protocol, pointer input,
// hover captions, layers, the colour-by control and cleanup. A recording renderer stands
// in for WebGL (the pixels are checked in map-render.test.js, in Chromium).

import { afterEach, describe, expect, it } from "vitest";
import { render } from "../views/map.js";
import { FakeModel } from "./fake-model.js";
import { flush, makeState, mount, typeValue, unmountAll } from "./fixtures.js";

/** Map bounds of the fixture's coordinates, and the stage's size in the tests. */
const BOUNDS = [0, 0, 10, 10];
const WIDTH = 480;
const HEIGHT = 360;

/** The points of the fixture: (1, 1), (5, 5), (9, 9), (5, 9). */
const POINTS = new Float32Array([1, 1, 5, 5, 9, 9, 5, 9]);

/** A renderer that records what the view gives it. */
function recorder() {
  const calls = { positions: /** @type {Float32Array | null} */ (null), values: /** @type {Uint8Array | null} */ (null), palette: /** @type {Uint8Array | null} */ (null), selected: /** @type {number[][]} */ ([]), draws: 0, destroyed: false };
  /** @type {import("../map/webgl.js").Renderer} */
  const renderer = {
    kind: "webgl",
    setPositions: (p) => {
      calls.positions = p;
    },
    setValues: (v) => {
      calls.values = v;
    },
    setPalette: (p) => {
      calls.palette = p;
    },
    setSelected: (s) => {
      calls.selected.push([...s]);
    },
    draw: () => {
      calls.draws += 1;
    },
    destroy: () => {
      calls.destroyed = true;
    },
  };
  return { calls, factory: () => renderer };
}

/** @type {(() => void)[]} */
const cleanups = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()?.();
  unmountAll();
});

/**
 * Render the map view alone, its stage WIDTH x HEIGHT pixels.
 * @param {Record<string, any>} [overrides]
 * @param {{ factory?: any }} [options]
 */
function mountMap(overrides = {}, options = {}) {
  const model = new FakeModel(
    makeState({
      map_state: { state: "none", progress: 0, message: "", version: 0, projection: "" },
      map_color: "weights",
      map_layers: [],
      ...overrides,
    }),
  );
  const rec = recorder();
  const el = document.createElement("div");
  el.className = "sw-map";
  document.body.append(el);
  const cleanup = render(model, el, { createRenderer: options.factory ?? rec.factory });
  const stage = /** @type {HTMLElement} */ (el.querySelector(".sw-map-stage"));
  // Without the stylesheet: the same size in Chromium as the view assumes before layout (jsdom).
  stage.style.cssText = `position: relative; width: ${WIDTH}px; height: ${HEIGHT}px`;
  /** @type {HTMLCanvasElement} */ (stage.querySelector("canvas")).style.cssText = "display: block; width: 100%; height: 100%";
  let done = false;
  const unmount = () => {
    if (done) return;
    done = true;
    cleanup();
    el.remove();
  };
  cleanups.push(unmount);
  return { model, el, calls: rec.calls, unmount, $: (/** @type {string} */ s) => /** @type {HTMLElement} */ (el.querySelector(s)), $$: (/** @type {string} */ s) => [...el.querySelectorAll(s)] };
}

/** @param {FakeModel} model @param {number} version */
function ready(model, version = 1) {
  model.update({ map_state: { state: "ready", progress: 1, message: "", version, projection: "pca" } });
}

/** @param {FakeModel} model @param {Float32Array} [points] */
function replyCoords(model, points = POINTS, version = 1) {
  const req = model.requests("coords").at(-1);
  model.reply(req, { type: "coords", n: points.length / 2, version, bounds: BOUNDS }, [new DataView(points.slice().buffer)]);
}

/** @param {FakeModel} model @param {number[]} values @param {any} legend */
function replyColors(model, values, legend) {
  const req = model.requests("colors").at(-1);
  model.reply(req, { type: "colors", by: req.by, legend }, [new DataView(Uint8Array.from(values).buffer)]);
}

/** Where a map point is on the page (the view fits BOUNDS into WIDTH x HEIGHT with a 5% margin). */
function client(/** @type {HTMLElement} */ canvas, /** @type {number} */ x, /** @type {number} */ y) {
  const scale = (Math.min(WIDTH, HEIGHT) * 0.9) / 10;
  const r = canvas.getBoundingClientRect();
  return { clientX: r.left + WIDTH / 2 + (x - 5) * scale, clientY: r.top + HEIGHT / 2 - (y - 5) * scale };
}

/**
 * @param {HTMLElement} canvas
 * @param {string} type
 * @param {{ clientX: number, clientY: number }} at
 * @param {PointerEventInit} [init]
 */
function pointer(canvas, type, at, init = {}) {
  canvas.dispatchEvent(new PointerEvent(type, { bubbles: true, cancelable: true, pointerId: 1, button: 0, ...at, ...init }));
}

/** A map loaded with the fixture's points and continuous colours. */
async function loaded(overrides = {}) {
  const m = mountMap(overrides);
  ready(m.model);
  replyCoords(m.model);
  await flush();
  replyColors(m.model, [0, 127, 254, 255], { kind: "continuous", label: "weight", min: 0, max: 1 });
  await flush();
  return m;
}

describe("map: coordinates", () => {
  it("is hidden with no map, and asks nothing", () => {
    const { el, model } = mountMap();
    expect(el.hidden).toBe(true);
    expect(model.sent).toEqual([]);
    model.update({ map_state: undefined });
    expect(el.hidden).toBe(true);
  });

  it("shows progress while computing, the rest of the widget stays usable", () => {
    const { el, $ } = mount({ map_state: { state: "computing", progress: 0.4, message: "UMAP: fitting", version: 0, projection: "umap" }, map_color: "weights", map_layers: [] });
    const map = /** @type {HTMLElement} */ ($(".sw-map"));
    expect(map.hidden).toBe(false);
    expect(map.querySelector(".sw-map-status")?.textContent).toContain("UMAP: fitting (40%)");
    expect(map.querySelector(".sw-map-message")?.textContent).toBe("UMAP: fitting");
    expect(/** @type {HTMLElement} */ (map.querySelector(".sw-progress")).hidden).toBe(false);
    expect($(".sw-gallery").hidden).toBe(false);
    expect($(".sw-breakdown").hidden).toBe(false);
    expect(el.querySelectorAll(".sw-card").length).toBeGreaterThan(0);
  });

  it("asks for coordinates when ready and again when the version changes, not otherwise", async () => {
    const { model, calls, $ } = mountMap();
    ready(model, 1);
    expect(model.requests("coords")).toHaveLength(1);
    model.update({ map_state: { state: "ready", progress: 1, message: "", version: 1, projection: "pca" } });
    model.update({ map_layers: [] });
    expect(model.requests("coords")).toHaveLength(1);
    replyCoords(model);
    await flush();
    expect([...(/** @type {Float32Array} */ (calls.positions))]).toEqual([...POINTS]);
    expect($(".sw-map-message").hidden).toBe(true);
    expect($(".sw-map-canvas").dataset.renderer).toBe("webgl");
    // a new projection: computing (nothing asked), then ready with a new version
    model.update({ map_state: { state: "computing", progress: 0.1, message: "", version: 1, projection: "umap" } });
    expect(model.requests("coords")).toHaveLength(1);
    ready(model, 2);
    expect(model.requests("coords")).toHaveLength(2);
    const three = new Float32Array([0, 0, 1, 1, 2, 2]);
    replyCoords(model, three, 2);
    await flush();
    expect([...(/** @type {Float32Array} */ (calls.positions))]).toEqual([...three]);
  });

  it("a newer version while one is loading drops the older reply", async () => {
    const { model, calls } = mountMap();
    ready(model, 1);
    const first = model.requests("coords")[0];
    ready(model, 2);
    expect(model.requests("coords")).toHaveLength(2);
    // the aborted request no longer listens: its late reply changes nothing
    model.reply(first, { type: "coords", n: 1, version: 1, bounds: BOUNDS }, [new DataView(new Float32Array([3, 3]).buffer)]);
    await flush();
    expect(calls.positions).toBeNull();
    replyCoords(model, POINTS, 2);
    await flush();
    expect(calls.positions).toHaveLength(8);
  });

  it("shows the error state and a failed or malformed reply instead of a blank panel", async () => {
    const { model, $ } = mountMap();
    model.update({ map_state: { state: "error", progress: 0, message: "umap-learn is not installed", version: 0, projection: "umap" } });
    expect($(".sw-map-message").hidden).toBe(false);
    expect($(".sw-map-message").textContent).toBe("The map failed: umap-learn is not installed");
    expect($(".sw-map-message").getAttribute("role")).toBe("alert");
    ready(model, 3);
    model.reply(model.requests("coords")[0], { type: "coords", n: 5, version: 3, bounds: BOUNDS }, [new DataView(new Float32Array(4).buffer)]);
    await flush();
    expect($(".sw-map-message").textContent).toContain("expected 10 float32 values for n = 5, got 4");
    ready(model, 4);
    model.reply(model.requests("coords")[1], { error: "coordinates are not ready" });
    await flush();
    expect($(".sw-map-message").textContent).toContain("coordinates are not ready");
  });

  it("says so when neither WebGL nor a 2D canvas can draw", async () => {
    const { model, $ } = mountMap({}, { factory: () => null });
    ready(model);
    replyCoords(model);
    await flush();
    expect($(".sw-map-message").hidden).toBe(false);
    expect($(".sw-map-message").textContent).toContain("neither WebGL nor a 2D canvas");
  });
});

describe("map: colours", () => {
  it("asks for the colours once the coordinates are in, then on map_color and on a new result", async () => {
    const { model, calls, $ } = mountMap();
    ready(model);
    expect(model.requests("colors")).toHaveLength(0);
    replyCoords(model);
    await flush();
    expect(model.requests("colors").map((m) => m.by)).toEqual(["weights"]);
    replyColors(model, [0, 127, 254, 255], { kind: "continuous", label: "spotlight weight", min: 0, max: 0.93 });
    await flush();
    expect([...(/** @type {Uint8Array} */ (calls.values))]).toEqual([0, 127, 254, 255]);
    expect($(".sw-map-legend").textContent).toContain("spotlight weight");
    expect($(".sw-map-min").textContent).toBe("0");
    expect($(".sw-map-max").textContent).toBe("0.93");
    // byte 255 is present: the legend names the missing colour
    expect($(".sw-map-legend").textContent).toContain("missing");

    // a new result shown: weights are asked again, once for a change of current and history together
    model.update({ current: 1, history: [...model.get("history"), { ...model.get("history")[0], rank: 2 }] });
    await flush();
    expect(model.requests("colors")).toHaveLength(2);

    // the colour-by control writes map_color; Python's echo asks for the new colours
    const select = /** @type {HTMLSelectElement} */ ($(".sw-map-color"));
    expect([...select.options].map((o) => o.value)).toEqual(["weights", "loss", "column:age", "column:site"]);
    typeValue(select, "column:site");
    expect(model.saved("map_color")).toBe("column:site");
    await flush();
    expect(model.requests("colors").at(-1).by).toBe("column:site");
    replyColors(model, [0, 1, 2, 1], { kind: "categorical", label: "site", categories: ["a", "<i>b</i>", "c"] });
    await flush();
    const keys = [...$(".sw-map-legend").querySelectorAll(".sw-map-key")].map((k) => k.textContent);
    expect(keys).toEqual(["a", "<i>b</i>", "c"]);
    expect($(".sw-map-legend").querySelector("i")).toBeNull();

    // colouring by a column: a new result needs no new colours
    const before = model.requests("colors").length;
    model.update({ current: 0 });
    await flush();
    expect(model.requests("colors")).toHaveLength(before);
  });

  it("names the weights option with the method's noun and keeps an unknown column", () => {
    const { model, $ } = mountMap({ map_color: "column:gone" });
    const select = /** @type {HTMLSelectElement} */ ($(".sw-map-color"));
    expect(select.options[0].textContent).toBe("spotlight weight");
    expect(select.value).toBe("column:gone");
    model.update({ method: "kmeans" });
    expect(select.options[0].textContent).toBe("cluster weight");
    model.update({ columns: ["age"], map_color: "loss" });
    expect([...select.options].map((o) => o.value)).toEqual(["weights", "loss", "column:age"]);
    expect(select.value).toBe("loss");
  });

  it("drops colours whose length does not match the points", async () => {
    const { model, calls } = mountMap();
    ready(model);
    replyCoords(model);
    await flush();
    replyColors(model, [1, 2, 3], { kind: "continuous", label: "loss", min: 0, max: 1 });
    await flush();
    expect(calls.values).toBeNull();
  });
});

describe("map: selection", () => {
  it("a lasso drawn with the mouse is sent in map coordinates, and highlighted at once", async () => {
    const { model, calls, $ } = await loaded();
    const canvas = $(".sw-map-canvas");
    /** @type {HTMLElement} */ ($(".sw-map-lasso")).click();
    expect($(".sw-map-lasso").getAttribute("aria-pressed")).toBe("true");
    /** @type {[number, number][]} a triangle around (5, 5) and (5, 9), away from (1, 1) and (9, 9) */
    const corners = [
      [3, 3],
      [7, 3],
      [5, 9.8],
    ];
    pointer(canvas, "pointerdown", client(canvas, 3, 3));
    for (const [x, y] of [...corners, [3.2, 3.1]]) pointer(canvas, "pointermove", client(canvas, x, y));
    expect($(".sw-map-overlay .sw-map-lasso").getAttribute("d")).toMatch(/^M.* Z$/);
    pointer(canvas, "pointerup", client(canvas, 3.2, 3.1));
    const sent = model.requests("lasso");
    expect(sent).toHaveLength(1);
    expect(sent[0].mode).toBe("replace");
    // The coordinates' version it was drawn on: Python refuses a region drawn on an older map.
    expect(sent[0].version).toBe(model.get("map_state").version);
    const polygon = /** @type {[number, number][]} */ (sent[0].polygon);
    for (const [x, y] of corners) {
      expect(polygon.some(([px, py]) => Math.abs(px - x) < 1e-6 && Math.abs(py - y) < 1e-6), `${x}, ${y}`).toBe(true);
    }
    // the points inside (1 and 3) are highlighted before Python answers
    expect(calls.selected.at(-1)).toEqual([1, 3]);
    model.reply(sent[0], { count: 2 });
    model.update({ selected: [1, 3] });
    await flush();
    expect($(".sw-map-status").textContent).toContain("2 selected");
    expect(calls.selected.at(-1)).toEqual([1, 3]);
  });

  it("Shift-drag in the pan tool lassos to add; a box with Alt removes; a failure restores the selection", async () => {
    const { model, calls, $ } = await loaded({ selected: [0] });
    const canvas = $(".sw-map-canvas");
    pointer(canvas, "pointerdown", client(canvas, 8, 8), { shiftKey: true });
    for (const [x, y] of [
      [10, 8],
      [10, 10],
      [8, 10],
    ]) pointer(canvas, "pointermove", client(canvas, x, y), { shiftKey: true });
    pointer(canvas, "pointerup", client(canvas, 8, 10), { shiftKey: true });
    expect(model.requests("lasso")[0].mode).toBe("add");
    expect(calls.selected.at(-1)).toEqual([0, 2]);
    model.reply(model.requests("lasso")[0], { error: "no coordinates" });
    await flush();
    expect(calls.selected.at(-1)).toEqual([0]);

    /** @type {HTMLElement} */ ($(".sw-map-box")).click();
    pointer(canvas, "pointerdown", client(canvas, 0, 0), { altKey: true });
    pointer(canvas, "pointermove", client(canvas, 6, 6), { altKey: true });
    pointer(canvas, "pointerup", client(canvas, 6, 6), { altKey: true });
    const box = model.requests("box")[0];
    expect(box.mode).toBe("remove");
    expect(box.box.map((/** @type {number} */ v) => Math.round(v * 1000) / 1000)).toEqual([0, 0, 6, 6]);
    expect(calls.selected.at(-1)).toEqual([]);
  });

  it("shows a selection made elsewhere (gallery, Python)", async () => {
    const { model, calls } = await loaded();
    model.update({ selected: [3, 2] });
    expect(calls.selected.at(-1)).toEqual([2, 3]);
    model.update({ selected: [] });
    expect(calls.selected.at(-1)).toEqual([]);
  });
});

describe("map: view, hover, layers", () => {
  it("hover shows the caption as text from a detail request; a click opens the detail", async () => {
    const { model, $ } = await loaded();
    const canvas = $(".sw-map-canvas");
    const tip = $(".sw-map-tooltip");
    const at = client(canvas, 5, 5);
    pointer(canvas, "pointermove", { clientX: at.clientX + 3, clientY: at.clientY - 2 });
    expect(tip.hidden).toBe(false);
    expect(tip.textContent).toBe("#1");
    const detail = model.requests("detail");
    expect(detail).toHaveLength(1);
    expect(detail[0].index).toBe(1);
    model.reply(detail[0], { index: 1, weight: 0.5, loss: 2, label: "<img src=x onerror=alert(1)>", prediction: "dog", text: null, fields: {} });
    await flush();
    expect(tip.textContent).toContain("<img src=x onerror=alert(1)> → dog");
    expect(tip.querySelector("img")).toBeNull();
    // far from every point: hidden; back on it: the cached caption, no new request
    pointer(canvas, "pointermove", client(canvas, 3, 7));
    expect(tip.hidden).toBe(true);
    pointer(canvas, "pointermove", at);
    expect(tip.textContent).toContain("→ dog");
    expect(model.requests("detail")).toHaveLength(1);
    pointer(canvas, "pointerdown", at);
    pointer(canvas, "pointerup", at);
    expect(model.saved("detail")).toBe(1);
  });

  it("pans with a drag, zooms about the cursor with the wheel, and resets", async () => {
    const { model, $ } = await loaded();
    const canvas = $(".sw-map-canvas");
    const at = client(canvas, 5, 5);
    // drag the map 30 px right: the point (5, 5) is now 30 px right of where it was
    pointer(canvas, "pointerdown", at);
    pointer(canvas, "pointermove", { clientX: at.clientX + 30, clientY: at.clientY });
    pointer(canvas, "pointerup", { clientX: at.clientX + 30, clientY: at.clientY });
    expect(model.saved("detail")).toBeUndefined();
    const hoverAt = (/** @type {{ clientX: number, clientY: number }} */ p) => {
      pointer(canvas, "pointermove", p);
      return $(".sw-map-tooltip").hidden ? null : $(".sw-map-tooltip").textContent;
    };
    expect(hoverAt({ clientX: at.clientX + 30, clientY: at.clientY })).toBe("#1");
    // zoom in about (5, 5): it stays under the cursor, and (5, 9) moves away from it
    const p9 = client(canvas, 5, 9);
    canvas.dispatchEvent(new WheelEvent("wheel", { bubbles: true, cancelable: true, deltaY: -500, clientX: at.clientX + 30, clientY: at.clientY }));
    expect(hoverAt({ clientX: at.clientX + 30, clientY: at.clientY })).toBe("#1");
    expect(hoverAt({ clientX: p9.clientX + 30, clientY: p9.clientY })).toBeNull();
    /** @type {HTMLElement} */ ($(".sw-map-reset")).click();
    expect(hoverAt(p9)).toBe("#3");
    // the keyboard: arrows pan, 0 resets
    canvas.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowLeft", bubbles: true }));
    expect(hoverAt(p9)).toBeNull();
    canvas.dispatchEvent(new KeyboardEvent("keydown", { key: "0", bubbles: true }));
    expect(hoverAt(p9)).toBe("#3");
  });

  it("outlines each history entry's hull with its label, the current one emphasised and on top", async () => {
    const { model, $ } = await loaded();
    model.update({
      map_layers: [
        { position: 0, label: "#1", current: true, hull: [[4, 4], [6, 4], [5, 6]] },
        { position: 1, label: "#2", current: false, hull: [[0, 0], [2, 0], [2, 2], [0, 2]] },
      ],
    });
    await new Promise((r) => setTimeout(r, 40));
    const paths = [...$(".sw-map-hulls").querySelectorAll("path")];
    expect(paths).toHaveLength(2);
    expect(paths[1].classList.contains("sw-current")).toBe(true);
    expect(paths[1].getAttribute("d")).toMatch(/^M[\d.]+ [\d.]+ L.* Z$/);
    const labels = [...$(".sw-map-hulls").querySelectorAll("text")].map((t) => [t.textContent, t.classList.contains("sw-current")]);
    expect(labels).toEqual([
      ["#2", false],
      ["#1", true],
    ]);
  });
});

describe("map: cleanup", () => {
  it("removes its listeners, aborts its requests and frees the renderer", async () => {
    const { model, calls, unmount } = await loaded();
    const canvas = /** @type {HTMLElement} */ (document.querySelector(".sw-map-canvas"));
    pointer(canvas, "pointermove", client(canvas, 5, 5));
    expect(model.requests("detail")).toHaveLength(1);
    expect(model.handlerCount("msg:custom")).toBe(1);
    unmount();
    expect(calls.destroyed).toBe(true);
    expect(model.handlerCount()).toBe(0);
  });
});
