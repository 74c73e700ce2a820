// Number formatting for display.

/** @param {unknown} x */
export function isNum(x) {
  return typeof x === "number" && Number.isFinite(x);
}

/**
 * A number with 3 significant digits ("—" when missing).
 * @param {unknown} x
 */
export function num(x) {
  if (!isNum(x)) return "—";
  const v = /** @type {number} */ (x);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
  return String(Number(v.toPrecision(3)));
}

/**
 * An integer with thousands separators.
 * @param {unknown} x
 */
export function int(x) {
  return isNum(x) ? Math.round(/** @type {number} */ (x)).toLocaleString("en-US") : "—";
}

/**
 * A fraction (0..1) as a percentage with 3 significant digits: 0.0123 -> "1.23%".
 * @param {unknown} x
 */
export function pct(x) {
  return isNum(x) ? `${Number((/** @type {number} */ (x) * 100).toPrecision(3))}%` : "—";
}

/**
 * A result's rank as shown: ranks are 0-based in the protocol (0 = the method's first
 * result at that size), shown 1-based: 0 -> "#1".
 * @param {unknown} rank
 */
export function rankText(rank) {
  return isNum(rank) ? `#${Math.round(/** @type {number} */ (rank)) + 1}` : "#?";
}
