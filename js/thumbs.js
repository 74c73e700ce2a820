// Thumbnails requested from Python, kept as object URLs. A bounded LRU cache: URLs that
// fall out of it (and all of them on dispose) are revoked.

import { request } from "./messages.js";

/** @typedef {import("./types.js").Model} Model */

export class ThumbCache {
  /**
   * @param {Model} model
   * @param {{capacity?: number, source?: "data" | "train"}} [options]  how many URLs to keep (the
   *   shown ones are always kept); which examples the indices refer to (the training examples
   *   have their own index space)
   */
  constructor(model, options = {}) {
    this.model = model;
    this.capacity = options.capacity ?? 192;
    this.source = options.source ?? "data";
    /** @type {Map<number, string>} index -> object URL, oldest first */
    this.urls = new Map();
    /** @type {Set<number>} */
    this.pending = new Set();
    this.controller = new AbortController();
  }

  /**
   * The URL of a cached thumbnail (marks it recently used).
   * @param {number} index
   */
  get(index) {
    const url = this.urls.get(index);
    if (url !== undefined) {
      this.urls.delete(index);
      this.urls.set(index, url);
    }
    return url;
  }

  /**
   * Request the thumbnails not cached yet. Resolves once they have arrived; rejects with
   * the request's error (already reported in the widget).
   * @param {number[]} indices
   */
  async load(indices) {
    const missing = [...new Set(indices)].filter((i) => !this.urls.has(i) && !this.pending.has(i));
    if (!missing.length) return;
    for (const i of missing) this.pending.add(i);
    try {
      // Python answers at most this many per request (the `limits` trait).
      const most = Math.max(1, Number(this.model.get("limits")?.thumbnails_per_request) || 1);
      const chunks = [];
      for (let k = 0; k < missing.length; k += most) chunks.push(missing.slice(k, k + most));
      await Promise.all(chunks.map((chunk) => this._fetch(chunk)));
    } finally {
      for (const i of missing) this.pending.delete(i);
    }
  }

  /** @param {number[]} chunk */
  async _fetch(chunk) {
    const { content, buffers } = await request(
      this.model,
      "thumbnails",
      this.source === "data" ? { indices: chunk } : { indices: chunk, source: this.source },
      { signal: this.controller.signal },
    );
    if (this.controller.signal.aborted) return;
    const mime = typeof content.mime === "string" && content.mime.startsWith("image/") ? content.mime : "image/png";
    const got = Array.isArray(content.indices) ? content.indices : chunk;
    got.forEach((/** @type {number} */ index, /** @type {number} */ k) => {
      const buf = buffers[k];
      if (!buf) return;
      const old = this.urls.get(index);
      if (old) URL.revokeObjectURL(old);
      this.urls.delete(index);
      this.urls.set(index, URL.createObjectURL(new Blob([buf], { type: mime })));
    });
  }

  /**
   * Revoke the least recently used URLs beyond capacity, except those in `keep`.
   * @param {Set<number>} keep
   */
  trim(keep) {
    let excess = this.urls.size - Math.max(this.capacity, keep.size);
    if (excess <= 0) return;
    for (const [index, url] of this.urls) {
      if (excess <= 0) break;
      if (keep.has(index)) continue;
      URL.revokeObjectURL(url);
      this.urls.delete(index);
      excess -= 1;
    }
  }

  /** Abort pending requests and revoke every URL. */
  dispose() {
    this.controller.abort();
    for (const url of this.urls.values()) URL.revokeObjectURL(url);
    this.urls.clear();
    this.pending.clear();
  }
}
