// A stand-in for the anywidget model (get / set / on / off / save_changes / send), with
// hooks for tests: emit Python-side changes and custom-message replies, count handlers.

/** @param {any} a @param {any} b */
function same(a, b) {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** @typedef {import("../types.js").Model} Model */
/** @typedef {(...args: any[]) => void} Handler */

/** @implements {Model} */
export class FakeModel {
  /** @param {Record<string, any>} [state] */
  constructor(state = {}) {
    /** @type {Record<string, any>} */
    this.state = structuredClone(state);
    /** @type {Map<string, Set<Handler>>} */
    this.handlers = new Map();
    /** @type {any[]} every message passed to send() */
    this.sent = [];
    /** @type {Record<string, any>[]} one entry per save_changes(): the traits set since the last one */
    this.saves = [];
    /** @type {Record<string, any>} */
    this.pending = {};
    /** @type {((msg: any, model: FakeModel) => void) | null} called on each send() */
    this.onSend = null;
  }

  /** @param {string} name */
  get(name) {
    return this.state[name];
  }

  /**
   * Like Backbone: change:<name> fires synchronously when the value changes.
   * @param {string} name
   * @param {any} value
   */
  set(name, value) {
    const old = this.state[name];
    this.state[name] = value;
    this.pending[name] = value;
    if (!same(old, value)) this.emit(`change:${name}`, this, value);
  }

  save_changes() {
    this.saves.push(this.pending);
    this.pending = {};
  }

  /** @param {string} name @param {Handler} cb */
  on(name, cb) {
    let set = this.handlers.get(name);
    if (!set) {
      set = new Set();
      this.handlers.set(name, set);
    }
    set.add(cb);
  }

  /** @param {string | null} [name] @param {Handler | null} [cb] */
  off(name, cb) {
    if (!name) this.handlers.clear();
    else if (!cb) this.handlers.delete(name);
    else this.handlers.get(name)?.delete(cb);
  }

  /** @param {any} content @param {any} [_callbacks] @param {any[]} [_buffers] */
  send(content, _callbacks, _buffers) {
    this.sent.push(content);
    this.onSend?.(content, this);
  }

  // ---- test helpers ----

  /** @param {string} event @param {...any} args */
  emit(event, ...args) {
    for (const cb of [...(this.handlers.get(event) ?? [])]) cb(...args);
  }

  /**
   * Python changes traits: state + change events, nothing recorded as written by JS.
   * @param {Record<string, any>} values
   */
  update(values) {
    for (const [name, value] of Object.entries(values)) {
      const old = this.state[name];
      this.state[name] = value;
      if (!same(old, value)) this.emit(`change:${name}`, this, value);
    }
  }

  /**
   * Python answers a request.
   * @param {{ id: string }} requestMsg  the message the front end sent
   * @param {Record<string, any>} content
   * @param {DataView[]} [buffers]
   */
  reply(requestMsg, content, buffers = []) {
    this.emit("msg:custom", { id: requestMsg.id, ...content }, buffers);
  }

  /**
   * Handlers registered, for one event or all.
   * @param {string} [event]
   */
  handlerCount(event) {
    if (event) return this.handlers.get(event)?.size ?? 0;
    let n = 0;
    for (const set of this.handlers.values()) n += set.size;
    return n;
  }

  /**
   * Messages sent of one type.
   * @param {string} type
   */
  requests(type) {
    return this.sent.filter((m) => m.type === type);
  }

  /**
   * The latest saved value of a trait written by JS (undefined when never saved).
   * @param {string} name
   */
  saved(name) {
    for (let k = this.saves.length - 1; k >= 0; k -= 1) if (name in this.saves[k]) return this.saves[k][name];
    return undefined;
  }
}
