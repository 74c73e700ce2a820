// Colours of the map's points. A palette is a 256-entry RGBA table indexed by the byte
// Python sends per point (map protocol, "colors"): 0..254 is the position on a continuous
// scale or a category's index, 255 is missing. The renderers look colours up in it.

/** @typedef {[number, number, number, number]} RGBA  0..255 each (alpha too) */

/** The byte that marks a missing value (NaN, no category). */
export const MISSING = 255;

/** Positions on a continuous scale: 0..STEPS - 1. */
export const STEPS = 255;

/** Most categories a categorical legend names (the rest are folded into "other" by Python). */
export const MAX_CATEGORIES = 20;

/**
 * Categorical colours readable on a light background: Tableau 10 then its darker
 * companions, so that the first ten (the usual case) are the most distinct.
 * @type {string[]}
 */
export const CATEGORICAL_LIGHT = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
  "#1f4e79", "#a65e00", "#9e1b32", "#3b7a78", "#2f6b2a", "#9a7d0a", "#6f3f6b", "#c25b6e", "#5e4433", "#6b6461",
];

/**
 * The same hues, lighter, for a dark background (the light set's browns and greys vanish there).
 * @type {string[]}
 */
export const CATEGORICAL_DARK = [
  "#79a6d8", "#ffad5c", "#ff8587", "#9fdcd6", "#86cf7b", "#ffe07a", "#d7a3cb", "#ffc2c9", "#c9a184", "#ddd4cf",
  "#4f8fd0", "#e08a2a", "#e0506a", "#5fb8b3", "#55b04e", "#d4b030", "#b072ab", "#f08aa0", "#a87f62", "#a8a09b",
];

/**
 * Parse a CSS colour as browsers compute it (`rgb()`, `rgba()`, `color(srgb ...)`) or as
 * written in hex. Null for anything else (named colours, unresolved `var()`).
 * @param {string | null | undefined} text
 * @returns {RGBA | null}
 */
export function parseColor(text) {
  const s = String(text ?? "").trim().toLowerCase();
  const hex = /^#([0-9a-f]{3,8})$/.exec(s);
  if (hex) {
    let digits = hex[1];
    if (digits.length === 3 || digits.length === 4) digits = [...digits].map((c) => c + c).join("");
    if (digits.length !== 6 && digits.length !== 8) return null;
    const v = (/** @type {number} */ k) => parseInt(digits.slice(2 * k, 2 * k + 2), 16);
    return [v(0), v(1), v(2), digits.length === 8 ? v(3) : 255];
  }
  const fn = /^(rgba?|color)\((.*)\)$/.exec(s);
  if (!fn) return null;
  let body = fn[2].trim();
  let srgb = false;
  if (fn[1] === "color") {
    if (!body.startsWith("srgb ")) return null;
    srgb = true;
    body = body.slice(5);
  }
  const parts = body.split(/[\s,/]+/).filter(Boolean);
  if (parts.length < 3 || parts.length > 4) return null;
  /** @param {string} p  @param {boolean} isAlpha */
  const channel = (p, isAlpha) => {
    const pctValue = p.endsWith("%");
    const x = parseFloat(p);
    if (!Number.isFinite(x)) return NaN;
    if (pctValue) return (x / 100) * 255;
    return isAlpha || srgb ? x * 255 : x;
  };
  const out = parts.map((p, k) => channel(p, k === 3));
  if (out.some((x) => Number.isNaN(x))) return null;
  const clamp = (/** @type {number} */ x) => Math.max(0, Math.min(255, Math.round(x)));
  return [clamp(out[0]), clamp(out[1]), clamp(out[2]), out.length === 4 ? clamp(out[3]) : 255];
}

/**
 * Linear interpolation between two colours (in sRGB: the ramps are short enough for it).
 * @param {RGBA} a
 * @param {RGBA} b
 * @param {number} t  0..1
 * @returns {RGBA}
 */
export function mix(a, b, t) {
  return /** @type {RGBA} */ (a.map((x, k) => Math.round(x + (b[k] - x) * t)));
}

/**
 * The colour at t (0..1) on a ramp through evenly spaced stops.
 * @param {RGBA[]} stops  at least one
 * @param {number} t
 * @returns {RGBA}
 */
export function rampColor(stops, t) {
  if (!stops.length) throw new RangeError("rampColor: stops must hold at least one colour, got none");
  if (stops.length === 1 || !(t > 0)) return [...stops[0]];
  if (t >= 1) return [...stops[stops.length - 1]];
  const x = t * (stops.length - 1);
  const k = Math.floor(x);
  return mix(stops[k], stops[k + 1], x - k);
}

/**
 * A palette for a continuous legend: entry v (0..254) is the ramp at v / 254; 255 is missing.
 * @param {RGBA[]} stops
 * @param {RGBA} missing
 * @returns {Uint8Array}  256 x RGBA
 */
export function continuousPalette(stops, missing) {
  const out = new Uint8Array(256 * 4);
  for (let v = 0; v < STEPS; v += 1) out.set(rampColor(stops, v / (STEPS - 1)), 4 * v);
  out.set(missing, 4 * MISSING);
  return out;
}

/**
 * A palette for a categorical legend of `count` categories: entry k is colours[k], the
 * entries past `count` and 255 are missing.
 * @param {RGBA[]} colors  at least `count`
 * @param {number} count   0..MAX_CATEGORIES
 * @param {RGBA} missing
 * @returns {Uint8Array}  256 x RGBA
 */
export function categoricalPalette(colors, count, missing) {
  if (!Number.isInteger(count) || count < 0 || count > MAX_CATEGORIES) {
    throw new RangeError(`categoricalPalette: count must be an integer in 0..${MAX_CATEGORIES}, got ${count}`);
  }
  if (colors.length < count) throw new RangeError(`categoricalPalette: ${count} categories need as many colours, got ${colors.length}`);
  const out = new Uint8Array(256 * 4);
  for (let v = 0; v < 256; v += 1) out.set(v < count ? colors[v] : missing, 4 * v);
  return out;
}

/**
 * A colour as CSS text.
 * @param {RGBA | Uint8Array} c
 */
export function cssColor(c) {
  return `rgba(${c[0]}, ${c[1]}, ${c[2]}, ${Math.round((c[3] / 255) * 1000) / 1000})`;
}

/**
 * Relative luminance (0 black .. 1 white) of an sRGB colour.
 * @param {RGBA} c
 */
export function luminance(c) {
  const lin = (/** @type {number} */ x) => {
    const v = x / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
}

/**
 * @typedef {object} MapColors
 * @property {boolean} dark          the background is dark
 * @property {RGBA[]} ramp           continuous scale, low to high
 * @property {RGBA[]} categorical    MAX_CATEGORIES colours
 * @property {RGBA} missing
 * @property {RGBA} outline          ring around selected points
 * @property {RGBA} background
 */

/** Fallbacks where the CSS variables cannot be read (no stylesheet): the light theme's. */
const FALLBACK = {
  "--sw-bg": "#ffffff",
  "--sw-map-low": "#c9d1dc",
  "--sw-map-mid": "#4c7cc4",
  "--sw-map-high": "#b3125a",
  "--sw-map-missing": "rgba(128, 128, 128, 0.35)",
  "--sw-map-outline": "#222222",
};

/**
 * Read the map's colours from the widget's CSS variables (they follow Jupyter's theme).
 * Each variable is resolved through a probe element's `color`, so that any CSS colour
 * (var(), color-mix()) comes back as the browser computes it.
 * @param {Element} el  an element inside the widget
 * @returns {MapColors}
 */
export function readColors(el) {
  const probe = document.createElement("span");
  probe.style.display = "none";
  el.append(probe);
  /** @param {keyof typeof FALLBACK} name */
  const read = (name) => {
    probe.style.color = "";
    probe.style.color = `var(${name}, ${FALLBACK[name]})`;
    const computed = typeof getComputedStyle === "function" ? getComputedStyle(probe).color : "";
    return parseColor(computed) ?? /** @type {RGBA} */ (parseColor(FALLBACK[name]));
  };
  try {
    const background = read("--sw-bg");
    const dark = background[3] > 0 && luminance(background) < 0.4;
    return {
      dark,
      background,
      ramp: [read("--sw-map-low"), read("--sw-map-mid"), read("--sw-map-high")],
      categorical: (dark ? CATEGORICAL_DARK : CATEGORICAL_LIGHT).map((c) => /** @type {RGBA} */ (parseColor(c))),
      missing: read("--sw-map-missing"),
      outline: read("--sw-map-outline"),
    };
  } finally {
    probe.remove();
  }
}

/**
 * The palette for a legend in the given colours.
 * @param {import("../types.js").Legend | null | undefined} legend
 * @param {MapColors} colors
 * @returns {Uint8Array}
 */
export function paletteFor(legend, colors) {
  if (legend?.kind === "categorical") {
    const count = Math.min(MAX_CATEGORIES, Array.isArray(legend.categories) ? legend.categories.length : 0);
    return categoricalPalette(colors.categorical, count, colors.missing);
  }
  return continuousPalette(colors.ramp, colors.missing);
}
