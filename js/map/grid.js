// A uniform grid over the map's points, for hover: the nearest point to the cursor within
// a few pixels. Built once per set of coordinates (a counting sort, O(N)); a query visits
// only the cells within the radius, so it stays fast at a million points.

/** Points per cell on average: small enough that a query reads few points when zoomed in. */
const PER_CELL = 4;

export class GridIndex {
  /**
   * @param {Float32Array} positions  x0, y0, x1, y1, ... (points with a non-finite coordinate are left out)
   * @param {[number, number, number, number]} bounds  [xmin, ymin, xmax, ymax] of the points
   */
  constructor(positions, bounds) {
    this.positions = positions;
    const n = positions.length >> 1;
    const [x0, y0, x1, y1] = bounds;
    const w = Math.max(x1 - x0, 0);
    const hgt = Math.max(y1 - y0, 0);
    // Square cells, about N / PER_CELL of them over the bounding box.
    const cells = Math.max(1, Math.ceil(n / PER_CELL));
    const area = w * hgt;
    let size = area > 0 ? Math.sqrt(area / cells) : Math.max(w, hgt) / cells;
    if (!(size > 0) || !Number.isFinite(size)) size = 1;
    this.x0 = x0;
    this.y0 = y0;
    this.size = size;
    this.cols = Math.max(1, Math.min(Math.ceil(w / size) || 1, 1 << 15));
    this.rows = Math.max(1, Math.min(Math.ceil(hgt / size) || 1, 1 << 15));
    const total = this.cols * this.rows;
    const cellOf = new Int32Array(n);
    /** start of each cell's run in `order`; one more entry than cells */
    this.start = new Uint32Array(total + 1);
    for (let i = 0; i < n; i += 1) {
      const c = this._cell(positions[2 * i], positions[2 * i + 1]);
      cellOf[i] = c;
      if (c >= 0) this.start[c + 1] += 1;
    }
    for (let c = 0; c < total; c += 1) this.start[c + 1] += this.start[c];
    this.order = new Uint32Array(this.start[total]);
    const fill = this.start.slice(0, total);
    for (let i = 0; i < n; i += 1) {
      const c = cellOf[i];
      if (c >= 0) this.order[fill[c]++] = i;
    }
  }

  /**
   * The cell of a map point, -1 outside the grid or for a non-finite coordinate.
   * @param {number} x
   * @param {number} y
   */
  _cell(x, y) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return -1;
    const cx = Math.floor((x - this.x0) / this.size);
    const cy = Math.floor((y - this.y0) / this.size);
    // The maximum lies on the last cell's far edge: it belongs to the last cell.
    const col = cx === this.cols ? cx - 1 : cx;
    const row = cy === this.rows ? cy - 1 : cy;
    if (col < 0 || row < 0 || col >= this.cols || row >= this.rows) return -1;
    return row * this.cols + col;
  }

  /**
   * The index of the point nearest to (x, y) within `radius` (map units), -1 when none.
   * Ties go to the smaller index.
   * @param {number} x
   * @param {number} y
   * @param {number} radius
   */
  nearest(x, y, radius) {
    if (!(radius >= 0) || !Number.isFinite(x) || !Number.isFinite(y)) return -1;
    const c0 = Math.max(0, Math.floor((x - radius - this.x0) / this.size));
    const c1 = Math.min(this.cols - 1, Math.floor((x + radius - this.x0) / this.size));
    const r0 = Math.max(0, Math.floor((y - radius - this.y0) / this.size));
    const r1 = Math.min(this.rows - 1, Math.floor((y + radius - this.y0) / this.size));
    let best = -1;
    let bestD = radius * radius;
    const p = this.positions;
    for (let row = r0; row <= r1; row += 1) {
      for (let col = c0; col <= c1; col += 1) {
        const c = row * this.cols + col;
        for (let k = this.start[c]; k < this.start[c + 1]; k += 1) {
          const i = this.order[k];
          const d = (p[2 * i] - x) ** 2 + (p[2 * i + 1] - y) ** 2;
          if (d < bestD || (d === bestD && (best < 0 || i < best))) {
            best = i;
            bestD = d;
          }
        }
      }
    }
    return best;
  }
}
