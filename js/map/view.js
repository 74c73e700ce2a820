// The map's view: which part of the map coordinates the canvas shows. Screen coordinates
// are CSS pixels from the canvas's top-left corner, y down; map coordinates have y up.

/**
 * @typedef {object} View
 * @property {number} cx      map x at the canvas's centre
 * @property {number} cy      map y at the canvas's centre
 * @property {number} scale   CSS pixels per map unit
 * @property {number} width   canvas width, CSS pixels
 * @property {number} height  canvas height, CSS pixels
 */

/** @typedef {[number, number, number, number]} Bounds  [xmin, ymin, xmax, ymax] */

/** Zoom limits, relative to the view that fits the whole map. */
export const MIN_ZOOM = 0.25;
export const MAX_ZOOM = 10_000;

/**
 * The view that shows all of `bounds`, centred, with a margin of `padding` (a fraction of
 * the canvas's width, and of its height) on each side.
 * @param {Bounds} bounds
 * @param {number} width
 * @param {number} height
 * @param {number} [padding]
 * @returns {View}
 */
export function fitView(bounds, width, height, padding = 0.05) {
  const [x0, y0, x1, y1] = bounds;
  const finite = [x0, y0, x1, y1].every(Number.isFinite);
  const w = finite ? Math.max(x1 - x0, 0) : 0;
  const hgt = finite ? Math.max(y1 - y0, 0) : 0;
  // A line has no extent across it, a single point none at all: use the other side, or one map unit.
  const extent = Math.max(w, hgt) || 1;
  const scale = Math.min((width * (1 - 2 * padding)) / (w || extent), (height * (1 - 2 * padding)) / (hgt || extent));
  return {
    cx: finite ? (x0 + x1) / 2 : 0,
    cy: finite ? (y0 + y1) / 2 : 0,
    scale: Number.isFinite(scale) && scale > 0 ? scale : 1,
    width,
    height,
  };
}

/**
 * Map -> screen.
 * @param {View} v
 * @param {number} x
 * @param {number} y
 * @returns {[number, number]}
 */
export function toScreen(v, x, y) {
  return [(x - v.cx) * v.scale + v.width / 2, v.height / 2 - (y - v.cy) * v.scale];
}

/**
 * Screen -> map.
 * @param {View} v
 * @param {number} sx
 * @param {number} sy
 * @returns {[number, number]}
 */
export function toMap(v, sx, sy) {
  return [(sx - v.width / 2) / v.scale + v.cx, (v.height / 2 - sy) / v.scale + v.cy];
}

/**
 * Zoom by `factor` about the screen point (sx, sy): the map point under it stays under it.
 * The scale stays within [MIN_ZOOM, MAX_ZOOM] times `fitScale` (the whole map's).
 * @param {View} v
 * @param {number} factor  > 1 zooms in
 * @param {number} sx
 * @param {number} sy
 * @param {number} fitScale
 * @returns {View}
 */
export function zoomAt(v, factor, sx, sy, fitScale) {
  const scale = Math.min(fitScale * MAX_ZOOM, Math.max(fitScale * MIN_ZOOM, v.scale * factor));
  const [x, y] = toMap(v, sx, sy);
  // Solve toScreen(new, x, y) = (sx, sy) for the new centre.
  return { ...v, scale, cx: x - (sx - v.width / 2) / scale, cy: y - (v.height / 2 - sy) / scale };
}

/**
 * Move the map by (dx, dy) screen pixels (a drag).
 * @param {View} v
 * @param {number} dx
 * @param {number} dy
 * @returns {View}
 */
export function panBy(v, dx, dy) {
  return { ...v, cx: v.cx - dx / v.scale, cy: v.cy + dy / v.scale };
}

/**
 * The same centre and scale on a canvas of another size.
 * @param {View} v
 * @param {number} width
 * @param {number} height
 * @returns {View}
 */
export function resizeView(v, width, height) {
  return { ...v, width, height };
}

/**
 * The 3 x 3 matrix (column-major, as WebGL's uniformMatrix3fv takes it) from map
 * coordinates to clip space (-1..1, y up).
 * @param {View} v
 * @returns {Float32Array}
 */
export function clipMatrix(v) {
  const sx = (2 * v.scale) / v.width;
  const sy = (2 * v.scale) / v.height;
  return new Float32Array([sx, 0, 0, 0, sy, 0, -v.cx * sx, -v.cy * sy, 1]);
}

/**
 * The map rectangle the view shows: [xmin, ymin, xmax, ymax].
 * @param {View} v
 * @returns {Bounds}
 */
export function visibleBounds(v) {
  const [x0, y1] = toMap(v, 0, 0);
  const [x1, y0] = toMap(v, v.width, v.height);
  return [x0, y0, x1, y1];
}
