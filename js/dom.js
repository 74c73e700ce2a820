// DOM helpers. Nothing here ever parses HTML: user data goes through textContent and
// attribute setters only.

import { reportError } from "./messages.js";

/** @typedef {import("./types.js").Model} Model */

const FOCUSABLE = new Set(["BUTTON", "INPUT", "SELECT", "TEXTAREA"]);

/**
 * @typedef {object} ElementOptions
 * @property {string} [class]     className
 * @property {string | number} [text]  textContent
 * @property {Record<string, string | number | boolean | null | undefined>} [attrs]
 *   attributes; false / null / undefined are skipped, true sets an empty attribute
 * @property {Record<string, any>} [props]  element properties (type, value, disabled, ...)
 */

/**
 * Create an element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {ElementOptions} [opts]
 * @param {...(Node | string | null | undefined | false)} children  strings become text nodes
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, opts = {}, ...children) {
  const el = document.createElement(tag);
  if (opts.class) el.className = opts.class;
  if (opts.attrs) {
    for (const [k, v] of Object.entries(opts.attrs)) {
      if (v === false || v == null) continue;
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  if (opts.props) Object.assign(el, opts.props);
  if (opts.text != null) el.textContent = String(opts.text);
  // JupyterLab (Lumino) matches its notebook shortcuts (Enter, arrows, ...) against the
  // focused element and cancels the key: this attribute on the element itself opts out.
  if (FOCUSABLE.has(el.tagName) || el.hasAttribute("tabindex")) el.setAttribute("data-lm-suppress-shortcuts", "true");
  for (const c of children) {
    if (c == null || c === false) continue;
    el.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return el;
}

/** Collects cleanups and runs them in reverse order. */
export class Disposer {
  constructor() {
    /** @type {(() => void)[]} */
    this.fns = [];
  }

  /** @param {() => void} fn */
  add(fn) {
    this.fns.push(fn);
  }

  /**
   * `model.on(event, fn)`, undone by dispose(). Errors thrown by `fn` are shown in the
   * widget's status area instead of vanishing inside the event loop.
   * @param {Model} model
   * @param {string} event
   * @param {(...args: any[]) => void} fn
   */
  on(model, event, fn) {
    const wrapped = safe(model, fn);
    model.on(event, wrapped);
    this.add(() => model.off(event, wrapped));
  }

  /**
   * addEventListener, undone by dispose().
   * @param {EventTarget} target
   * @param {string} type
   * @param {(ev: any) => void} fn
   * @param {Model} [model]  when given, errors are shown in the widget
   */
  listen(target, type, fn, model) {
    const wrapped = model ? safe(model, fn) : fn;
    target.addEventListener(type, wrapped);
    this.add(() => target.removeEventListener(type, wrapped));
  }

  dispose() {
    while (this.fns.length) {
      const fn = /** @type {() => void} */ (this.fns.pop());
      try {
        fn();
      } catch (e) {
        console.error(e);
      }
    }
  }
}

/**
 * Wrap a callback so that an exception is reported in the widget (and the console).
 * @template {(...args: any[]) => any} F
 * @param {Model} model
 * @param {F} fn
 * @returns {F}
 */
export function safe(model, fn) {
  return /** @type {F} */ (
    (...args) => {
      try {
        return fn(...args);
      } catch (e) {
        console.error(e);
        reportError(model, `widget error: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  );
}

/**
 * Write traits and sync them to Python in one message.
 * @param {Model} model
 * @param {Record<string, any>} values
 */
export function write(model, values) {
  for (const [k, v] of Object.entries(values)) model.set(k, v);
  model.save_changes();
}
