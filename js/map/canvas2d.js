// The fallback where WebGL2 is not available: points written straight into an ImageData
// (square points, no blending), which draws a million points in tens of milliseconds where
// one fillRect per point would take seconds.

/** @typedef {import("./webgl.js").Renderer} Renderer */

/**
 * A Canvas 2D renderer on `canvas`, or null where the 2D context is not available either.
 * @param {HTMLCanvasElement} canvas
 * @returns {Renderer | null}
 */
export function createCanvasRenderer(canvas) {
  /** @type {CanvasRenderingContext2D | null} */
  let ctx = null;
  try {
    ctx = canvas.getContext("2d");
  } catch {
    ctx = null;
  }
  if (!ctx) return null;
  const g = ctx;

  /** @type {Float32Array} */
  let positions = new Float32Array(0);
  /** @type {Uint8Array | null} */
  let values = null;
  /** palette entries packed as ImageData's 32-bit pixels */
  let packed = new Uint32Array(256);
  /** @type {Uint32Array} */
  let selected = new Uint32Array(0);
  /** @type {ImageData | null} */
  let image = null;
  // ImageData's bytes are R, G, B, A in memory: the packed word depends on the byte order.
  const little = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

  /** @param {number} r @param {number} gr @param {number} b @param {number} a */
  const pack = (r, gr, b, a) => (little ? ((a << 24) | (b << 16) | (gr << 8) | r) >>> 0 : ((r << 24) | (gr << 16) | (b << 8) | a) >>> 0);

  return {
    kind: "canvas",
    setPositions(p) {
      positions = p;
      this.setSelected(selected);
    },
    setValues(v) {
      values = v;
    },
    setPalette(p) {
      packed = new Uint32Array(256);
      for (let k = 0; k < 256; k += 1) packed[k] = pack(p[4 * k], p[4 * k + 1], p[4 * k + 2], p[4 * k + 3]);
    },
    setSelected(indices) {
      const n = positions.length >> 1;
      selected = indices.length && indices[indices.length - 1] >= n ? indices.filter((i) => i < n) : indices;
    },
    draw(view, style) {
      const W = canvas.width;
      const H = canvas.height;
      if (!W || !H) return;
      if (!image || image.width !== W || image.height !== H) image = g.createImageData(W, H);
      const px = new Uint32Array(image.data.buffer);
      px.fill(0);
      const n = positions.length >> 1;
      const useValues = values && values.length === n ? values : null;
      const k = view.scale * style.dpr;
      const ox = (view.width / 2) * style.dpr - view.cx * k;
      const oy = (view.height / 2) * style.dpr + view.cy * k;
      /**
       * @param {number} i
       * @param {number} size
       * @param {number} color
       */
      const square = (i, size, color) => {
        const x = Math.round(positions[2 * i] * k + ox - size / 2);
        const y = Math.round(oy - positions[2 * i + 1] * k - size / 2);
        if (!(x > -size && x < W && y > -size && y < H)) return;
        const xa = Math.max(0, x);
        const xb = Math.min(W, x + size);
        for (let row = Math.max(0, y); row < Math.min(H, y + size); row += 1) px.fill(color, row * W + xa, row * W + xb);
      };
      const size = Math.max(1, Math.round(style.pointSize * style.dpr));
      for (let i = 0; i < n; i += 1) {
        const c = packed[useValues ? useValues[i] : 0];
        if (c) square(i, size, c);
      }
      if (selected.length) {
        const [r, gr, b, a] = style.outline;
        const ring = pack(r, gr, b, a);
        const ringWidth = Math.max(1, Math.round(1.5 * style.dpr));
        for (const i of selected) {
          square(i, size + 2 * ringWidth + 2, ring);
          square(i, size + 2, packed[useValues ? useValues[i] : 0] || ring);
        }
      }
      g.putImageData(image, 0, 0);
    },
    destroy() {
      positions = new Float32Array(0);
      values = null;
      selected = new Uint32Array(0);
      image = null;
      g.clearRect(0, 0, canvas.width, canvas.height);
    },
  };
}
