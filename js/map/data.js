// Binary payloads of the map protocol, and sizes derived from them.

/**
 * The float32 values of a message buffer (anywidget delivers DataViews). Copied only when
 * the view is not 4-byte aligned, which Float32Array requires.
 * @param {DataView | ArrayBufferView | ArrayBuffer} buf
 * @returns {Float32Array}
 */
export function floatsOf(buf) {
  if (buf instanceof ArrayBuffer) return new Float32Array(buf.slice(0, buf.byteLength - (buf.byteLength % 4)));
  const count = Math.floor(buf.byteLength / 4);
  if (buf.byteOffset % 4 === 0) return new Float32Array(buf.buffer, buf.byteOffset, count);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + 4 * count));
}

/**
 * The bytes of a message buffer, without a copy.
 * @param {DataView | ArrayBufferView | ArrayBuffer} buf
 * @returns {Uint8Array}
 */
export function bytesOf(buf) {
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * The points' diameter in CSS pixels: about a third of the spacing they would have if
 * spread evenly over the canvas, growing (slower than the zoom) as one zooms in.
 * @param {number} n       points
 * @param {number} width   canvas, CSS pixels
 * @param {number} height
 * @param {number} zoom    the view's scale over the scale that fits the whole map
 */
export function pointSize(n, width, height, zoom) {
  const spacing = Math.sqrt((width * height) / Math.max(1, n));
  const base = Math.min(6, Math.max(1.5, spacing / 3));
  return Math.min(12, Math.max(1.5, base * Math.sqrt(Math.max(1, zoom))));
}

/**
 * The caption of a hovered example from a "detail" reply: short lines of plain text.
 * @param {Record<string, any>} detail  {index, weight, loss, label, prediction, text}
 * @param {(x: unknown) => string} num   number formatting
 * @returns {string[]}
 */
export function captionLines(detail, num) {
  const lines = [`#${detail.index}`];
  if (detail.label != null || detail.prediction != null) lines.push(`${detail.label ?? "?"} → ${detail.prediction ?? "?"}`);
  const stats = [];
  if (typeof detail.loss === "number") stats.push(`loss ${num(detail.loss)}`);
  if (typeof detail.weight === "number") stats.push(`weight ${num(detail.weight)}`);
  if (stats.length) lines.push(stats.join(" · "));
  if (typeof detail.text === "string" && detail.text.trim()) {
    const text = detail.text.trim().replace(/\s+/g, " ");
    lines.push(text.length > 160 ? `${text.slice(0, 159)}…` : text);
  }
  return lines;
}
