// The map's pure logic: colour scales, view transforms, hit tests, the hover grid,
// hull paths and payload decoding.

import { describe, expect, it } from "vitest";
import {
  categoricalPalette,
  continuousPalette,
  luminance,
  MAX_CATEGORIES,
  MISSING,
  paletteFor,
  parseColor,
  rampColor,
  readColors,
} from "../map/colors.js";
import { bytesOf, captionLines, floatsOf, pointSize } from "../map/data.js";
import { combineSelection, hullPath, labelAnchor, lassoPolygon, pointInPolygon, pointsInBox, pointsInPolygon, simplifyPath } from "../map/geometry.js";
import { GridIndex } from "../map/grid.js";
import { clipMatrix, fitView, MAX_ZOOM, MIN_ZOOM, panBy, toMap, toScreen, visibleBounds, zoomAt } from "../map/view.js";
import { inBrowser } from "./fixtures.js";

/** A seeded generator: the same points on every run. */
function rng(seed = 7) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** @param {Uint8Array} palette @param {number} v */
const entry = (palette, v) => [...palette.slice(4 * v, 4 * v + 4)];

describe("colours", () => {
  it("parses the colours browsers compute and hex", () => {
    expect(parseColor("#fff")).toEqual([255, 255, 255, 255]);
    expect(parseColor("#4e79a7")).toEqual([78, 121, 167, 255]);
    expect(parseColor("#4e79a780")).toEqual([78, 121, 167, 128]);
    expect(parseColor("rgb(1, 2, 3)")).toEqual([1, 2, 3, 255]);
    expect(parseColor("rgba(1, 2, 3, 0.5)")).toEqual([1, 2, 3, 128]);
    expect(parseColor("rgb(1 2 3 / 50%)")).toEqual([1, 2, 3, 128]);
    expect(parseColor("color(srgb 1 0.5 0 / 0.25)")).toEqual([255, 128, 0, 64]);
    for (const bad of ["", "red", "var(--x)", "#12", "rgb(1, 2)", "color(display-p3 1 0 0)", null]) expect(parseColor(bad), String(bad)).toBeNull();
  });

  it("a continuous palette runs from the first stop (0) to the last (254); 255 is missing", () => {
    const low = /** @type {[number, number, number, number]} */ ([200, 210, 220, 255]);
    const mid = /** @type {[number, number, number, number]} */ ([76, 124, 196, 255]);
    const high = /** @type {[number, number, number, number]} */ ([179, 18, 90, 255]);
    const missing = /** @type {[number, number, number, number]} */ ([128, 128, 128, 90]);
    const p = continuousPalette([low, mid, high], missing);
    expect(p).toHaveLength(1024);
    expect(entry(p, 0)).toEqual(low);
    expect(entry(p, 127)).toEqual(mid);
    expect(entry(p, 254)).toEqual(high);
    expect(entry(p, MISSING)).toEqual(missing);
    // between stops: between their colours, channel by channel
    const q = entry(p, 60);
    for (let k = 0; k < 3; k += 1) expect(q[k]).toBeGreaterThanOrEqual(Math.min(low[k], mid[k]));
    for (let k = 0; k < 3; k += 1) expect(q[k]).toBeLessThanOrEqual(Math.max(low[k], mid[k]));
    expect(rampColor([low], 0.7)).toEqual(low);
    expect(() => rampColor([], 0.5)).toThrow(/at least one colour/);
  });

  it("a categorical palette gives category k its colour, the rest and 255 the missing colour", () => {
    const colors = /** @type {[number, number, number, number][]} */ ([
      [1, 0, 0, 255],
      [0, 2, 0, 255],
      [0, 0, 3, 255],
    ]);
    const missing = /** @type {[number, number, number, number]} */ ([9, 9, 9, 9]);
    const p = categoricalPalette(colors, 2, missing);
    expect(entry(p, 0)).toEqual([1, 0, 0, 255]);
    expect(entry(p, 1)).toEqual([0, 2, 0, 255]);
    expect(entry(p, 2)).toEqual(missing);
    expect(entry(p, MISSING)).toEqual(missing);
    expect(() => categoricalPalette(colors, MAX_CATEGORIES + 1, missing)).toThrow(/count must be an integer in 0..20, got 21/);
    expect(() => categoricalPalette(colors, 4, missing)).toThrow(/4 categories need as many colours, got 3/);
  });

  it("reads the theme's colours; the categorical set and the ramp suit a light and a dark background", () => {
    const el = document.createElement("div");
    document.body.append(el);
    try {
      const light = readColors(el);
      expect(light.categorical).toHaveLength(MAX_CATEGORIES);
      expect(light.dark).toBe(false);
      // on white: the ramp's high end stands out more than its low end
      expect(Math.abs(luminance(light.ramp[2]) - 1)).toBeGreaterThan(Math.abs(luminance(light.ramp[0]) - 1));
      const p = paletteFor({ kind: "categorical", label: "site", categories: ["a", "b", "c"] }, light);
      expect(entry(p, 2)).toEqual(light.categorical[2]);
      expect(entry(p, 3)).toEqual(light.missing);
      expect(entry(paletteFor({ kind: "continuous", label: "loss", min: 0, max: 1 }, light), 254)).toEqual(light.ramp[2]);
    } finally {
      el.remove();
    }
  });

  it.runIf(inBrowser)("follows the CSS variables, dark background included", () => {
    const el = document.createElement("div");
    el.style.setProperty("--sw-bg", "rgb(32, 33, 36)");
    el.style.setProperty("--sw-map-high", "rgb(255, 111, 166)");
    document.body.append(el);
    try {
      const dark = readColors(el);
      expect(dark.dark).toBe(true);
      expect(dark.background).toEqual([32, 33, 36, 255]);
      expect(dark.ramp[2]).toEqual([255, 111, 166, 255]);
      // the dark set is lighter: every colour stands out against the dark background
      for (const c of dark.categorical) expect(luminance(c)).toBeGreaterThan(luminance(dark.background) + 0.1);
    } finally {
      el.remove();
    }
  });
});

describe("view transforms", () => {
  it("fits the bounds, centred, with the margin on the tighter side", () => {
    const v = fitView([0, 0, 10, 10], 480, 360, 0.05);
    expect(v.cx).toBe(5);
    expect(v.cy).toBe(5);
    expect(v.scale).toBeCloseTo((360 * 0.9) / 10);
    const [left, top] = toScreen(v, 0, 10);
    const [right, bottom] = toScreen(v, 10, 0);
    expect(top).toBeCloseTo(18);
    expect(bottom).toBeCloseTo(342);
    expect(left + right).toBeCloseTo(480);
    // no extent: one map unit around the point, still finite
    const point = fitView([3, 4, 3, 4], 200, 100);
    expect(point.cx).toBe(3);
    expect(Number.isFinite(point.scale) && point.scale > 0).toBe(true);
  });

  it("screen and map coordinates are inverse, with y up on the map", () => {
    const v = { cx: -2, cy: 7, scale: 13, width: 300, height: 200 };
    const [sx, sy] = toScreen(v, 1.5, -4);
    const [x, y] = toMap(v, sx, sy);
    expect(x).toBeCloseTo(1.5);
    expect(y).toBeCloseTo(-4);
    expect(toScreen(v, -2, 8)[1]).toBeLessThan(toScreen(v, -2, 7)[1]);
  });

  it("zooms about the cursor: the map point under it stays under it", () => {
    const v = fitView([0, 0, 10, 10], 400, 300);
    const before = toMap(v, 90, 250);
    const z = zoomAt(v, 3, 90, 250, v.scale);
    expect(z.scale).toBeCloseTo(3 * v.scale);
    const after = toMap(z, 90, 250);
    expect(after[0]).toBeCloseTo(before[0]);
    expect(after[1]).toBeCloseTo(before[1]);
    expect(zoomAt(v, 1e9, 0, 0, v.scale).scale).toBeCloseTo(v.scale * MAX_ZOOM);
    expect(zoomAt(v, 1e-9, 0, 0, v.scale).scale).toBeCloseTo(v.scale * MIN_ZOOM);
  });

  it("pans with the drag and maps the visible area to clip space", () => {
    const v = fitView([0, 0, 10, 10], 400, 300);
    const p = panBy(v, 30, -20);
    // the map point that was at (100, 100) follows the pointer to (130, 80)
    const [x, y] = toMap(v, 100, 100);
    const [sx, sy] = toScreen(p, x, y);
    expect(sx).toBeCloseTo(130);
    expect(sy).toBeCloseTo(80);
    const m = clipMatrix(p);
    const [x0, y0, x1, y1] = visibleBounds(p);
    /** @param {number} a @param {number} b */
    const clip = (a, b) => [m[0] * a + m[3] * b + m[6], m[1] * a + m[4] * b + m[7]];
    expect(clip(x0, y0)[0]).toBeCloseTo(-1);
    expect(clip(x0, y0)[1]).toBeCloseTo(-1);
    expect(clip(x1, y1)[0]).toBeCloseTo(1);
    expect(clip(x1, y1)[1]).toBeCloseTo(1);
  });
});

describe("hit tests", () => {
  /** @type {[number, number][]} */
  const square = [
    [0, 0],
    [4, 0],
    [4, 4],
    [0, 4],
  ];

  it("point in polygon: convex, concave, and the even-odd rule where it crosses itself", () => {
    expect(pointInPolygon(2, 2, square)).toBe(true);
    expect(pointInPolygon(5, 2, square)).toBe(false);
    /** @type {[number, number][]} a U opening upwards */
    const u = [
      [0, 0],
      [6, 0],
      [6, 6],
      [4, 6],
      [4, 2],
      [2, 2],
      [2, 6],
      [0, 6],
    ];
    expect(pointInPolygon(1, 5, u)).toBe(true);
    expect(pointInPolygon(3, 5, u)).toBe(false);
    expect(pointInPolygon(3, 1, u)).toBe(true);
    /** @type {[number, number][]} a pentagram: its centre is wound twice, so outside by even-odd */
    const star = [0, 2, 4, 1, 3].map((k) => /** @type {[number, number]} */ ([Math.cos((2 * Math.PI * k) / 5 + Math.PI / 2), Math.sin((2 * Math.PI * k) / 5 + Math.PI / 2)]));
    expect(pointInPolygon(0, 0, star)).toBe(false);
    expect(pointInPolygon(0, 0.7, star)).toBe(true);
  });

  it("points in a polygon and in a box match a brute-force count", () => {
    const r = rng(3);
    const n = 2000;
    const positions = new Float32Array(2 * n).map(() => r() * 10);
    positions[10] = NaN;
    /** @type {[number, number][]} */
    const triangle = [
      [1, 1],
      [9, 2],
      [4, 8],
    ];
    const inside = pointsInPolygon(positions, triangle);
    const expected = [];
    for (let i = 0; i < n; i += 1) if (pointInPolygon(positions[2 * i], positions[2 * i + 1], triangle)) expected.push(i);
    expect([...inside]).toEqual(expected);
    expect(inside.length).toBeGreaterThan(400);
    expect(inside).not.toContain(5);
    const box = pointsInBox(positions, [7, 6, 2, 3]);
    const inBoxExpected = [];
    for (let i = 0; i < n; i += 1) {
      const [x, y] = [positions[2 * i], positions[2 * i + 1]];
      if (x >= 2 && x <= 7 && y >= 3 && y <= 6) inBoxExpected.push(i);
    }
    expect([...box]).toEqual(inBoxExpected);
    expect(pointsInPolygon(positions, triangle.slice(0, 2))).toHaveLength(0);
  });

  it("combines a hit with the selection as the request's mode says", () => {
    const sel = Uint32Array.from([1, 3, 5, 7]);
    const hit = Uint32Array.from([2, 3, 7, 9]);
    expect([...combineSelection(sel, hit, "replace")]).toEqual([2, 3, 7, 9]);
    expect([...combineSelection(sel, hit, "add")]).toEqual([1, 2, 3, 5, 7, 9]);
    expect([...combineSelection(sel, hit, "remove")]).toEqual([1, 5]);
    expect([...combineSelection([], hit, "remove")]).toEqual([]);
  });

  it("simplifies a drawn path and keeps its first vertex", () => {
    /** @type {[number, number][]} */
    const path = [
      [0, 0],
      [0.5, 0],
      [1, 0],
      [3, 0],
      [3, 0.4],
      [3, 3],
    ];
    expect(simplifyPath(path, 2)).toEqual([
      [0, 0],
      [3, 0],
      [3, 3],
    ]);
    expect(simplifyPath([], 2)).toEqual([]);
  });

  it("caps a long lasso's vertices and keeps its shape", () => {
    // a circle of radius 500 px drawn with one event per pixel of arc: ~3,100 points
    const path = /** @type {[number, number][]} */ (Array.from({ length: 3142 }, (_, k) => [500 * Math.cos(k / 500), 500 * Math.sin(k / 500)]));
    const polygon = lassoPolygon(path, 2, 100);
    expect(polygon.length).toBeLessThanOrEqual(100);
    expect(polygon.length).toBeGreaterThan(40);
    expect(pointInPolygon(0, 0, polygon)).toBe(true);
    expect(pointInPolygon(0, 480, polygon)).toBe(true);
    expect(pointInPolygon(0, 510, polygon)).toBe(false);
    // short enough already: only the first simplification
    expect(lassoPolygon(path.slice(0, 50), 2, 100)).toEqual(simplifyPath(path.slice(0, 50), 2));
  });
});

describe("hulls", () => {
  it("draws a closed SVG path in screen pixels, labelled at the top vertex", () => {
    const v = fitView([0, 0, 10, 10], 100, 100, 0);
    /** @type {[number, number][]} */
    const hull = [
      [0, 0],
      [10, 0],
      [5, 10],
    ];
    expect(hullPath(hull, v)).toBe("M0 100 L100 100 L50 0 Z");
    expect(hullPath(hull.slice(0, 2), v)).toBe("M0 100 L100 100");
    expect(hullPath([[1, 1]], v)).toBe("");
    expect(hullPath([[NaN, 1], [1, 1]], v)).toBe("");
    expect(labelAnchor(hull)).toEqual([5, 10]);
  });
});

describe("hover grid", () => {
  it("finds the nearest point within the radius, as a full scan does", () => {
    const r = rng(11);
    const n = 5000;
    const positions = new Float32Array(2 * n);
    for (let i = 0; i < n; i += 1) {
      // clustered and uneven, as a projection is
      const c = i % 3;
      positions[2 * i] = c * 4 + (r() - 0.5) * (c + 1);
      positions[2 * i + 1] = (r() - 0.5) * 2 * (c + 1);
    }
    positions[0] = NaN;
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    for (let i = 1; i < n; i += 1) {
      x0 = Math.min(x0, positions[2 * i]);
      x1 = Math.max(x1, positions[2 * i]);
      y0 = Math.min(y0, positions[2 * i + 1]);
      y1 = Math.max(y1, positions[2 * i + 1]);
    }
    const grid = new GridIndex(positions, [x0, y0, x1, y1]);
    /** @param {number} x @param {number} y @param {number} radius */
    const scan = (x, y, radius) => {
      let best = -1;
      let bd = radius * radius;
      for (let i = 0; i < n; i += 1) {
        const d = (positions[2 * i] - x) ** 2 + (positions[2 * i + 1] - y) ** 2;
        if (d < bd || (d === bd && best < 0)) {
          best = i;
          bd = d;
        }
      }
      return best;
    };
    let found = 0;
    for (let q = 0; q < 300; q += 1) {
      const x = x0 - 1 + r() * (x1 - x0 + 2);
      const y = y0 - 1 + r() * (y1 - y0 + 2);
      const radius = [0.01, 0.05, 0.3, 2][q % 4];
      const want = scan(x, y, radius);
      expect(grid.nearest(x, y, radius), `query ${q}`).toBe(want);
      if (want >= 0) found += 1;
    }
    expect(found).toBeGreaterThan(100);
    // the extreme points (on the grid's far edges) are found too
    let right = 1;
    for (let i = 1; i < n; i += 1) if (positions[2 * i] > positions[2 * right]) right = i;
    expect(grid.nearest(positions[2 * right], positions[2 * right + 1], 1e-6)).toBe(right);
  });

  it("copes with no points, all points at one place, and bad queries", () => {
    expect(new GridIndex(new Float32Array(0), [0, 0, 0, 0]).nearest(0, 0, 1)).toBe(-1);
    const same = new GridIndex(new Float32Array([2, 2, 2, 2, 2, 2]), [2, 2, 2, 2]);
    expect(same.nearest(2.1, 2, 0.5)).toBe(0);
    expect(same.nearest(3, 2, 0.5)).toBe(-1);
    expect(same.nearest(NaN, 2, 0.5)).toBe(-1);
    expect(same.nearest(2, 2, -1)).toBe(-1);
  });
});

describe("payloads", () => {
  it("reads float32 and byte buffers from DataViews, aligned or not", () => {
    const values = new Float32Array([1.5, -2, 3.25, 4]);
    expect([...floatsOf(new DataView(values.buffer))]).toEqual([1.5, -2, 3.25, 4]);
    const shifted = new Uint8Array(values.byteLength + 1);
    shifted.set(new Uint8Array(values.buffer), 1);
    expect([...floatsOf(new DataView(shifted.buffer, 1, values.byteLength))]).toEqual([1.5, -2, 3.25, 4]);
    const bytes = Uint8Array.from([0, 7, 254, 255]);
    expect([...bytesOf(new DataView(bytes.buffer, 1, 3))]).toEqual([7, 254, 255]);
  });

  it("sizes points by density and zoom, within limits", () => {
    const few = pointSize(100, 480, 360, 1);
    const many = pointSize(1_000_000, 480, 360, 1);
    expect(few).toBeGreaterThan(many);
    expect(many).toBeGreaterThanOrEqual(1.5);
    expect(pointSize(1_000_000, 480, 360, 100)).toBeGreaterThan(many);
    expect(pointSize(10, 480, 360, 1e6)).toBeLessThanOrEqual(12);
  });

  it("captions a hovered example as plain text lines", () => {
    const lines = captionLines({ index: 12, label: "<b>cat</b>", prediction: "dog", loss: 1.23456, weight: 0.5, text: "  a   long\ntext " + "x".repeat(300) }, String);
    expect(lines[0]).toBe("#12");
    expect(lines[1]).toBe("<b>cat</b> → dog");
    expect(lines[2]).toBe("loss 1.23456 · weight 0.5");
    expect(lines[3].startsWith("a long text x")).toBe(true);
    expect(lines[3].length).toBe(160);
    expect(captionLines({ index: 3 }, String)).toEqual(["#3"]);
  });
});
