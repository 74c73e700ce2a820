// Pixels drawn by the map's renderers, read back in Chromium (software WebGL there:
// ANGLE on SwiftShader). jsdom has neither WebGL nor a 2D canvas: skipped there.

import { afterEach, describe, expect, it } from "vitest";
import { createCanvasRenderer } from "../map/canvas2d.js";
import { categoricalPalette } from "../map/colors.js";
import { fitView, toScreen } from "../map/view.js";
import { createWebGLRenderer } from "../map/webgl.js";
import { createRenderer } from "../map/renderer.js";
import { render } from "../views/map.js";
import { FakeModel } from "./fake-model.js";
import css from "../style.css?raw";
import { flush, inBrowser, makeState, mount, unmountAll } from "./fixtures.js";

const SIZE = 200;
const RED = /** @type {[number, number, number, number]} */ ([230, 20, 20, 255]);
const BLUE = /** @type {[number, number, number, number]} */ ([20, 20, 230, 255]);
const RING = /** @type {[number, number, number, number]} */ ([0, 200, 0, 255]);
const MISSING = /** @type {[number, number, number, number]} */ ([0, 0, 0, 0]);

/**
 * 100k points: half in a blob around (2, 2) coloured 0, half around (8, 8) coloured 1,
 * one alone at (5, 2) coloured 0.
 */
function blobs(n = 100_000) {
  const positions = new Float32Array(2 * n);
  const values = new Uint8Array(n);
  let s = 1;
  const r = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
  for (let i = 0; i < n - 1; i += 1) {
    const c = i % 2;
    positions[2 * i] = (c ? 8 : 2) + r();
    positions[2 * i + 1] = (c ? 8 : 2) + r();
    values[i] = c;
  }
  positions[2 * (n - 1)] = 5;
  positions[2 * (n - 1) + 1] = 2;
  return { positions, values, n, lone: n - 1 };
}

/** @type {(() => void)[]} */
const cleanups = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()?.();
  unmountAll();
});

function canvas() {
  const c = document.createElement("canvas");
  c.width = SIZE;
  c.height = SIZE;
  document.body.append(c);
  cleanups.push(() => c.remove());
  return c;
}

/**
 * The RGBA of the pixel at screen (x, y) (y down), read through a 2D canvas: works for both
 * renderers (the WebGL one keeps its drawing buffer).
 * @param {HTMLCanvasElement} source
 */
function pixels(source) {
  const copy = document.createElement("canvas");
  copy.width = source.width;
  copy.height = source.height;
  const g = /** @type {CanvasRenderingContext2D} */ (copy.getContext("2d"));
  g.drawImage(source, 0, 0);
  const data = g.getImageData(0, 0, copy.width, copy.height).data;
  return (/** @type {number} */ x, /** @type {number} */ y) => {
    const k = 4 * (Math.round(y) * copy.width + Math.round(x));
    return [data[k], data[k + 1], data[k + 2], data[k + 3]];
  };
}

/** @param {number[]} px @param {number[]} want */
const near = (px, want) => px.every((v, k) => Math.abs(v - want[k]) <= 8);

describe.runIf(inBrowser)("map renderers in Chromium", () => {
  for (const [kind, create] of /** @type {const} */ ([
    ["webgl", createWebGLRenderer],
    ["canvas", createCanvasRenderer],
  ])) {
    it(`${kind}: 100k points land where the view puts them, selected ones get a ring`, () => {
      const c = canvas();
      const r = create(c);
      expect(r, `${kind} context`).not.toBeNull();
      if (!r) return;
      cleanups.push(() => r.destroy());
      const { positions, values, lone } = blobs();
      r.setPositions(positions);
      r.setValues(values);
      r.setPalette(categoricalPalette([RED, BLUE], 2, MISSING));
      const view = fitView([0, 0, 10, 10], SIZE, SIZE);
      const style = { pointSize: 3, dpr: 1, outline: RING };
      r.draw(view, style);
      if (kind === "webgl") {
        // straight from the GL framebuffer too (origin bottom-left)
        const gl = /** @type {WebGL2RenderingContext} */ (c.getContext("webgl2"));
        const out = new Uint8Array(4);
        const [sx, sy] = toScreen(view, 2, 2);
        gl.readPixels(Math.round(sx), SIZE - 1 - Math.round(sy), 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, out);
        expect(near([...out], RED), `${[...out]}`).toBe(true);
      }
      let at = pixels(c);
      expect(near(at(...toScreen(view, 2, 2)), RED)).toBe(true);
      expect(near(at(...toScreen(view, 8, 8)), BLUE)).toBe(true);
      expect(at(...toScreen(view, 5, 8))[3]).toBe(0);
      expect(at(...toScreen(view, 8, 2))[3]).toBe(0);
      const [lx, ly] = toScreen(view, 5, 2);
      expect(near(at(lx, ly), RED)).toBe(true);
      /** @param {(x: number, y: number) => number[]} read */
      const ringAround = (read) => {
        let found = false;
        for (let dx = -5; dx <= 5; dx += 1) for (let dy = -5; dy <= 5; dy += 1) if (near(read(lx + dx, ly + dy), RING)) found = true;
        return found;
      };
      expect(ringAround(at)).toBe(false);
      r.setSelected(Uint32Array.from([lone]));
      r.draw(view, style);
      at = pixels(c);
      expect(ringAround(at)).toBe(true);
      expect(near(at(lx, ly), RED)).toBe(true);
      // panned: the blob moves with the view
      r.draw({ ...view, cx: view.cx + 3 }, style);
      at = pixels(c);
      expect(near(at(...toScreen({ ...view, cx: view.cx + 3 }, 8, 8)), BLUE)).toBe(true);
      // where (8, 8) was, the view now shows (11, 8): nothing
      expect(at(...toScreen(view, 8, 8))[3]).toBe(0);
    });
  }

  it("picks Canvas 2D over software WebGL, WebGL2 over anything else", () => {
    const probe = canvas();
    const gl = /** @type {WebGL2RenderingContext | null} */ (probe.getContext("webgl2"));
    expect(gl, "WebGL2 in headless Chromium").not.toBeNull();
    const info = gl?.getExtension("WEBGL_debug_renderer_info");
    const software = /swiftshader|llvmpipe/i.test(String(gl && info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : ""));
    const wrapper = document.createElement("div");
    const target = document.createElement("canvas");
    target.className = "target";
    wrapper.append(target);
    document.body.append(wrapper);
    cleanups.push(() => wrapper.remove());
    const r = createRenderer(target, () => {});
    expect(r).not.toBeNull();
    cleanups.push(() => r?.destroy());
    expect(r?.kind).toBe(software ? "canvas" : "webgl");
    // the 2D renderer needs a canvas of its own: it takes the place of the WebGL one, attributes kept
    const drawn = /** @type {HTMLCanvasElement} */ (wrapper.querySelector("canvas"));
    expect(drawn === target).toBe(!software);
    expect(drawn.className).toBe("target");
  });

  it("the map view draws the points Python sent and the selection made from Python", async () => {
    const model = new FakeModel(makeState({ map_state: { state: "none", progress: 0, message: "", version: 0, projection: "" }, map_color: "weights", map_layers: [] }));
    const el = document.createElement("div");
    document.body.append(el);
    const cleanup = render(model, el);
    cleanups.push(() => {
      cleanup();
      el.remove();
    });
    const stage = /** @type {HTMLElement} */ (el.querySelector(".sw-map-stage"));
    stage.style.cssText = `position: relative; width: ${SIZE}px; height: ${SIZE}px`;
    model.update({ map_state: { state: "ready", progress: 1, message: "", version: 1, projection: "pca" } });
    const { positions, values, n, lone } = blobs();
    model.reply(model.requests("coords")[0], { type: "coords", n, version: 1, bounds: [0, 0, 10, 10] }, [new DataView(positions.buffer)]);
    await flush();
    model.reply(model.requests("colors")[0], { type: "colors", by: "weights", legend: { kind: "continuous", label: "w", min: 0, max: 1 } }, [
      new DataView(values.map((v) => (v ? 254 : 0)).buffer),
    ]);
    await flush();
    await new Promise((r) => requestAnimationFrame(() => r(null)));
    const c = /** @type {HTMLCanvasElement} */ (el.querySelector(".sw-map-canvas"));
    expect(["webgl", "canvas"]).toContain(c.dataset.renderer);
    const dpr = window.devicePixelRatio || 1;
    const view = fitView([0, 0, 10, 10], SIZE, SIZE);
    const scaled = (/** @type {number} */ x, /** @type {number} */ y) => /** @type {[number, number]} */ (toScreen(view, x, y).map((v) => v * dpr));
    let at = pixels(c);
    const low = at(...scaled(2, 2));
    const high = at(...scaled(8, 8));
    expect(low[3]).toBeGreaterThan(200);
    expect(high[3]).toBeGreaterThan(200);
    // the two ends of the scale differ
    expect(Math.abs(low[0] - high[0]) + Math.abs(low[1] - high[1]) + Math.abs(low[2] - high[2])).toBeGreaterThan(60);
    const [lx, ly] = scaled(5, 2);
    const countOpaque = () => {
      let k = 0;
      for (let dx = -8; dx <= 8; dx += 1) for (let dy = -8; dy <= 8; dy += 1) if (at(lx + dx, ly + dy)[3] > 128) k += 1;
      return k;
    };
    const alone = countOpaque();
    model.update({ selected: [lone] });
    await new Promise((r) => requestAnimationFrame(() => r(null)));
    at = pixels(c);
    // the selected point is drawn larger, with its ring
    expect(countOpaque()).toBeGreaterThan(alone + 8);
  });

  it("in the widget: the map sits beside the gallery and a theme switch recolours points and legend", async () => {
    const style = document.createElement("style");
    style.textContent = css;
    document.head.append(style);
    cleanups.push(() => {
      style.remove();
      delete document.body.dataset.jpThemeLight;
    });
    document.body.dataset.jpThemeLight = "true";
    const { model, $, el } = mount({ map_state: { state: "ready", progress: 1, message: "", version: 1, projection: "pca" }, map_color: "loss", map_layers: [] });
    el.style.width = "1200px";
    const { positions, values, n } = blobs(1000);
    model.reply(model.requests("coords")[0], { type: "coords", n, version: 1, bounds: [0, 0, 10, 10] }, [new DataView(positions.buffer)]);
    await flush();
    expect(model.requests("colors")[0].by).toBe("loss");
    model.reply(model.requests("colors")[0], { type: "colors", by: "loss", legend: { kind: "continuous", label: "loss", min: 0, max: 3 } }, [
      new DataView(values.map((v) => (v ? 254 : 0)).buffer),
    ]);
    await flush();
    await new Promise((r) => requestAnimationFrame(() => r(null)));
    const map = $(".sw-map").getBoundingClientRect();
    const main = $(".sw-main").getBoundingClientRect();
    expect(map.top).toBe(main.top);
    expect(map.left).toBeGreaterThan(main.left);
    expect($(".sw-map-stage").getBoundingClientRect().height).toBe(360);
    const c = /** @type {HTMLCanvasElement} */ ($(".sw-map-canvas"));
    const stage = $(".sw-map-stage").getBoundingClientRect();
    const view = fitView([0, 0, 10, 10], stage.width, stage.height);
    const dpr = window.devicePixelRatio || 1;
    const [hx, hy] = toScreen(view, 8, 8);
    const high = () => pixels(c)(hx * dpr, hy * dpr);
    const gradient = () => getComputedStyle($(".sw-map-gradient")).backgroundImage;
    const before = { px: high(), gradient: gradient() };
    expect(before.px[3]).toBeGreaterThan(200);
    document.body.dataset.jpThemeLight = "false";
    await flush();
    await new Promise((r) => requestAnimationFrame(() => r(null)));
    expect(gradient()).not.toBe(before.gradient);
    const after = high();
    expect(after[3]).toBeGreaterThan(200);
    expect(after.slice(0, 3)).not.toEqual(before.px.slice(0, 3));
  });
});
