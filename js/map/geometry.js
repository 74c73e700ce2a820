// Plane geometry of the map: hit tests for lasso and box selections (the same rules as
// Python's, so the highlight shown at once matches the selection Python sets) and the
// outline paths of the history's hulls.

import { toScreen } from "./view.js";

/** @typedef {import("./view.js").View} View */
/** @typedef {[number, number]} Point */

/**
 * Whether (x, y) lies inside the polygon, by the even-odd rule. Points exactly on an edge
 * may fall either side (as in Python).
 * @param {number} x
 * @param {number} y
 * @param {Point[]} polygon  closed implicitly (last vertex joins the first)
 */
export function pointInPolygon(x, y, polygon) {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i, i += 1) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * Normalise a box given by two corners in any order.
 * @param {[number, number, number, number]} box  [x0, y0, x1, y1]
 * @returns {[number, number, number, number]}  [xmin, ymin, xmax, ymax]
 */
export function normalizeBox(box) {
  const [x0, y0, x1, y1] = box;
  return [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)];
}

/**
 * The indices of the points inside a polygon (even-odd rule), in increasing order.
 * @param {Float32Array} positions  x0, y0, x1, y1, ...
 * @param {Point[]} polygon
 * @returns {Uint32Array}
 */
export function pointsInPolygon(positions, polygon) {
  if (polygon.length < 3) return new Uint32Array(0);
  const [bx0, by0, bx1, by1] = polygonBounds(polygon);
  const out = [];
  const n = positions.length >> 1;
  for (let i = 0; i < n; i += 1) {
    const x = positions[2 * i];
    const y = positions[2 * i + 1];
    // The bounding box rejects most points of a million before the polygon test.
    if (x < bx0 || x > bx1 || y < by0 || y > by1) continue;
    if (pointInPolygon(x, y, polygon)) out.push(i);
  }
  return Uint32Array.from(out);
}

/**
 * The indices of the points inside a box (edges included), in increasing order.
 * @param {Float32Array} positions
 * @param {[number, number, number, number]} box  two corners, any order
 * @returns {Uint32Array}
 */
export function pointsInBox(positions, box) {
  const [x0, y0, x1, y1] = normalizeBox(box);
  const out = [];
  const n = positions.length >> 1;
  for (let i = 0; i < n; i += 1) {
    const x = positions[2 * i];
    const y = positions[2 * i + 1];
    if (x >= x0 && x <= x1 && y >= y0 && y <= y1) out.push(i);
  }
  return Uint32Array.from(out);
}

/**
 * Combine a selection with the points hit, as the "mode" of a lasso or box request does.
 * @param {ArrayLike<number>} selected  sorted
 * @param {ArrayLike<number>} hit       sorted
 * @param {"replace" | "add" | "remove"} mode
 * @returns {Uint32Array}  sorted
 */
export function combineSelection(selected, hit, mode) {
  if (mode === "replace") return Uint32Array.from(hit);
  const out = [];
  let i = 0;
  let j = 0;
  // A merge of two sorted lists: union for "add", difference for "remove".
  while (i < selected.length || j < hit.length) {
    const a = i < selected.length ? selected[i] : Infinity;
    const b = j < hit.length ? hit[j] : Infinity;
    if (a === b) {
      if (mode === "add") out.push(a);
      i += 1;
      j += 1;
    } else if (a < b) {
      out.push(a);
      i += 1;
    } else {
      if (mode === "add") out.push(b);
      j += 1;
    }
  }
  return Uint32Array.from(out);
}

/**
 * [xmin, ymin, xmax, ymax] of a polygon.
 * @param {Point[]} polygon  at least one vertex
 * @returns {[number, number, number, number]}
 */
export function polygonBounds(polygon) {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const [x, y] of polygon) {
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return [x0, y0, x1, y1];
}

/**
 * Drop the vertices of a path drawn with the mouse that lie closer than `minDistance` to
 * the last one kept: a lasso gets tens of vertices instead of one per pointer event.
 * @param {Point[]} path
 * @param {number} minDistance
 * @returns {Point[]}
 */
export function simplifyPath(path, minDistance) {
  if (!path.length) return [];
  const out = [path[0]];
  const d2 = minDistance * minDistance;
  for (let k = 1; k < path.length; k += 1) {
    const [px, py] = out[out.length - 1];
    const [x, y] = path[k];
    if ((x - px) ** 2 + (y - py) ** 2 >= d2) out.push(path[k]);
  }
  return out;
}

/**
 * A drawn lasso as a polygon of at most `maxVertices` vertices: simplified at `minDistance`,
 * and at twice that distance, and so on, until it is short enough.
 * @param {Point[]} path
 * @param {number} minDistance  > 0
 * @param {number} maxVertices  >= 3
 * @returns {Point[]}
 */
export function lassoPolygon(path, minDistance, maxVertices) {
  let distance = minDistance;
  let out = simplifyPath(path, distance);
  while (out.length > maxVertices) {
    distance *= 2;
    out = simplifyPath(path, distance);
  }
  return out;
}

/**
 * The SVG path ("M x y L x y ... Z") of a hull given in map coordinates, in screen pixels
 * of the view. Empty for fewer than two vertices (nothing to outline).
 * @param {Point[]} hull
 * @param {View} view
 */
export function hullPath(hull, view) {
  const pts = hull.filter((p) => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]));
  if (pts.length < 2) return "";
  const r = (/** @type {number} */ x) => Math.round(x * 10) / 10;
  return (
    pts
      .map(([x, y], k) => {
        const [sx, sy] = toScreen(view, x, y);
        return `${k ? "L" : "M"}${r(sx)} ${r(sy)}`;
      })
      .join(" ") + (pts.length > 2 ? " Z" : "")
  );
}

/**
 * Where a hull's label goes: its top-most vertex (ties: the left-most), in map coordinates.
 * @param {Point[]} hull  at least one vertex
 * @returns {Point}
 */
export function labelAnchor(hull) {
  let best = hull[0];
  for (const p of hull) if (p[1] > best[1] || (p[1] === best[1] && p[0] < best[0])) best = p;
  return best;
}
