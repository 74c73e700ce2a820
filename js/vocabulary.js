// What the current slice finder calls one result: "spotlight", "cluster", "slice". Every
// text that names a result goes through noun() so the widget speaks the method's language.

/** @typedef {import("./types.js").Model} Model */
/** @typedef {import("./types.js").MethodInfo} MethodInfo */

/** The word used when the current method does not name its results (or is not listed). */
export const FALLBACK_NOUN = "result";

/** Model events after which noun() may answer differently: views re-render their texts on them. */
export const NOUN_EVENTS = /** @type {const} */ (["change:method", "change:methods"]);

/**
 * The current method's word for one result, as the `methods` trait publishes it.
 *
 * Every noun in the catalogue (spotlight, cluster, slice, result) takes a regular English
 * plural, so the plural is the noun plus "s".
 * @param {Model} model
 * @param {{ plural?: boolean, capital?: boolean }} [options]
 *   plural: "clusters" instead of "cluster"; capital: "Cluster", to start a sentence or label
 * @returns {string}
 */
export function noun(model, { plural = false, capital = false } = {}) {
  /** @type {unknown} */
  const methods = model.get("methods");
  const current = model.get("method");
  const info = Array.isArray(methods) ? /** @type {MethodInfo[]} */ (methods).find((m) => m?.name === current) : undefined;
  let word = typeof info?.noun === "string" && info.noun.trim() ? info.noun.trim() : FALLBACK_NOUN;
  if (plural) word += "s";
  return capital ? word.charAt(0).toUpperCase() + word.slice(1) : word;
}
