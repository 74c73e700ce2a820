// Request/response over anywidget custom messages.
//
//   JS -> Python   model.send({type, id, ...payload})
//   Python -> JS   msg:custom {id, ...reply} (+ binary buffers), or {id, error}
//
// Errors (error replies, time-outs, failures to send) are also passed to the per-model
// error listeners registered with onError(), which the status view shows.

/** @typedef {import("./types.js").Model} Model */

/** How long a request waits for its reply. */
export const TIMEOUT_MS = 30_000;

/** A failed request. `reason` is "error" (Python replied an error), "timeout", "send" or "aborted". */
export class RequestError extends Error {
  /**
   * @param {string} message
   * @param {"error" | "timeout" | "send" | "aborted"} reason
   * @param {string} type  the request type
   */
  constructor(message, reason, type) {
    super(message);
    this.name = "RequestError";
    this.reason = reason;
    this.type = type;
  }
}

const PREFIX = `sw${Math.random().toString(36).slice(2, 10)}`;
let counter = 0;

/** A new request id, unique on this page (crypto.randomUUID needs a secure context). */
export function newId() {
  counter += 1;
  return `${PREFIX}-${counter}`;
}

/** @type {WeakMap<Model, Set<(message: string) => void>>} */
const errorListeners = new WeakMap();

/**
 * Listen for errors to show for this model's widget. Returns the unsubscribe function.
 * @param {Model} model
 * @param {(message: string) => void} fn
 */
export function onError(model, fn) {
  let set = errorListeners.get(model);
  if (!set) {
    set = new Set();
    errorListeners.set(model, set);
  }
  set.add(fn);
  return () => {
    set?.delete(fn);
  };
}

/**
 * Show an error in the widget(s) of this model; logged when no view listens.
 * @param {Model} model
 * @param {string} message
 */
export function reportError(model, message) {
  const set = errorListeners.get(model);
  if (!set || set.size === 0) {
    console.error(`spotlight-widget: ${message}`);
    return;
  }
  for (const fn of [...set]) {
    try {
      fn(message);
    } catch (e) {
      console.error(e);
    }
  }
}

/**
 * @typedef {object} RequestOptions
 * @property {number} [timeout]       ms, default TIMEOUT_MS
 * @property {AbortSignal} [signal]   abort: the promise rejects with reason "aborted" and
 *                                     the msg:custom listener is removed; nothing is reported
 */

/**
 * Send `{type, id, ...payload}` and wait for the reply with the same id.
 * @param {Model} model
 * @param {string} type
 * @param {Record<string, any>} [payload]
 * @param {RequestOptions} [options]
 * @returns {Promise<{content: any, buffers: DataView<ArrayBuffer>[]}>}
 */
export function request(model, type, payload = {}, options = {}) {
  const { timeout = TIMEOUT_MS, signal } = options;
  const id = newId();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new RequestError(`${type}: aborted`, "aborted", type));
      return;
    }
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    const finish = () => {
      clearTimeout(timer);
      model.off("msg:custom", onMessage);
      signal?.removeEventListener("abort", onAbort);
    };
    /**
     * @param {"error" | "timeout" | "send"} reason
     * @param {string} message
     */
    const fail = (reason, message) => {
      finish();
      const err = new RequestError(message, reason, type);
      reportError(model, message);
      reject(err);
    };
    /**
     * @param {any} content
     * @param {DataView<ArrayBuffer>[] | undefined} buffers
     */
    const onMessage = (content, buffers) => {
      if (!content || typeof content !== "object" || content.id !== id) return;
      if (content.error != null && content.error !== false) {
        fail("error", `${type} failed: ${String(content.error)}`);
        return;
      }
      finish();
      resolve({ content, buffers: Array.isArray(buffers) ? buffers : [] });
    };
    const onAbort = () => {
      finish();
      reject(new RequestError(`${type}: aborted`, "aborted", type));
    };
    model.on("msg:custom", onMessage);
    signal?.addEventListener("abort", onAbort, { once: true });
    timer = setTimeout(() => {
      fail("timeout", `${type}: no reply from Python after ${Math.round(timeout / 1000)} s (is the kernel busy or dead?)`);
    }, timeout);
    const msg = { ...payload, type, id };
    try {
      model.send(msg);
    } catch (e) {
      fail("send", `${type}: could not send (${e instanceof Error ? e.message : String(e)})`);
    }
  });
}

/**
 * True for the rejection of an aborted request (a view was closed): ignore those.
 * @param {unknown} e
 */
export function isAbort(e) {
  return e instanceof RequestError && e.reason === "aborted";
}
