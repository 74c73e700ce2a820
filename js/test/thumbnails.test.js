import { afterEach, describe, expect, it, vi } from "vitest";
import { ThumbCache } from "../thumbs.js";
import { FakeModel } from "./fake-model.js";
import { click, flush, inBrowser, itemsFor, mount, PAGE_INDICES, pngView, unmountAll } from "./fixtures.js";

afterEach(unmountAll);

/**
 * Answer a thumbnails request like Python: one PNG buffer per index.
 * @param {FakeModel} model
 * @param {{ id: string, indices: number[] }} msg  the request
 */
function answer(model, msg) {
  model.reply(msg, { type: "thumbnails", indices: msg.indices, mime: "image/png" }, msg.indices.map(() => pngView()));
}

describe("thumbnails", () => {
  it("are requested for the page's indices and shown as <img> with blob: URLs", async () => {
    const { model, $$ } = mount();
    const reqs = model.requests("thumbnails");
    expect(reqs).toHaveLength(1);
    expect(reqs[0].indices).toEqual(PAGE_INDICES);
    expect($$(".sw-card img")).toHaveLength(0);
    answer(model, reqs[0]);
    await flush();
    const imgs = /** @type {HTMLImageElement[]} */ ($$(".sw-card .sw-thumb img"));
    expect(imgs).toHaveLength(PAGE_INDICES.length);
    for (const img of imgs) expect(img.src).toMatch(/^blob:/);
    expect(imgs[0].alt).toBe("example 417");
    expect(model.handlerCount("msg:custom")).toBe(0);
  });

  it.runIf(inBrowser)("decode in the browser (a real PNG)", async () => {
    const { model, $$ } = mount();
    answer(model, model.requests("thumbnails")[0]);
    await flush();
    const img = /** @type {HTMLImageElement} */ ($$(".sw-card img")[0]);
    await img.decode();
    expect(img.naturalWidth).toBe(2);
    expect(img.naturalHeight).toBe(2);
  });

  it("are cached: going back a page sends no new request", async () => {
    const { model } = mount();
    answer(model, model.requests("thumbnails")[0]);
    await flush();
    const other = [1000, 1001, 1002];
    model.update({ page: 1, page_items: itemsFor(other) });
    expect(model.requests("thumbnails")).toHaveLength(2);
    expect(model.requests("thumbnails")[1].indices).toEqual(other);
    answer(model, model.requests("thumbnails")[1]);
    await flush();
    model.update({ page: 0, page_items: itemsFor(PAGE_INDICES) });
    expect(model.requests("thumbnails")).toHaveLength(2);
    // only the missing ones are asked for
    model.update({ page: 1, page_items: itemsFor([1000, 1003]) });
    expect(model.requests("thumbnails").at(-1).indices).toEqual([1003]);
  });

  it("old URLs are revoked when pages change and all on cleanup", async () => {
    const revoke = vi.spyOn(URL, "revokeObjectURL");
    const create = vi.spyOn(URL, "createObjectURL");
    const { model, unmount } = mount({ page_size: 2, page_items: itemsFor([0, 1]) });
    answer(model, model.requests("thumbnails").at(-1));
    await flush();
    // capacity: 3 pages of 2
    for (let page = 1; page <= 4; page += 1) {
      model.update({ page, page_items: itemsFor([2 * page, 2 * page + 1]) });
      answer(model, model.requests("thumbnails").at(-1));
      await flush();
    }
    expect(create).toHaveBeenCalledTimes(10);
    const revokedEarly = revoke.mock.calls.map((c) => c[0]);
    const created = create.mock.results.map((r) => r.value);
    // pages 0 and 1 fell out of the cache
    expect(revokedEarly).toEqual(created.slice(0, 4));
    unmount();
    expect(new Set(revoke.mock.calls.map((c) => c[0]))).toEqual(new Set(created));
  });

  it("are requested in chunks of at most what Python's limits say", async () => {
    const model = new FakeModel({ limits: { thumbnails_per_request: 200 } });
    const cache = new ThumbCache(model);
    const indices = Array.from({ length: 450 }, (_, i) => i);
    const done = cache.load(indices);
    expect(model.sent.map((m) => m.indices.length)).toEqual([200, 200, 50]);
    for (const msg of model.sent) answer(model, msg);
    await done;
    expect(cache.urls.size).toBe(450);
    cache.dispose();
    expect(cache.urls.size).toBe(0);
  });

  it("a failed thumbnail request is shown and marks the thumbnails", async () => {
    const { model, $, $$ } = mount();
    model.reply(model.requests("thumbnails")[0], { error: "these examples have no images" });
    await flush();
    expect($(".sw-error-request").textContent).toContain("thumbnails failed: these examples have no images");
    expect($$(".sw-thumb.sw-failed")).toHaveLength(PAGE_INDICES.length);
  });

  it("a reply arriving after cleanup creates no URL", async () => {
    const create = vi.spyOn(URL, "createObjectURL");
    const { model, unmount } = mount();
    const req = model.requests("thumbnails")[0];
    unmount();
    answer(model, req);
    await flush();
    expect(create).not.toHaveBeenCalled();
  });

  it("the detail panel shows a larger thumbnail and revokes it on close", async () => {
    const revoke = vi.spyOn(URL, "revokeObjectURL");
    const { model, $, $$ } = mount();
    click($$(".sw-details")[0]);
    const req = model.requests("thumbnails").find((m) => m.indices.length === 1);
    answer(model, req);
    model.reply(model.requests("detail")[0], { index: 417, loss: 1, weight: 1, label: "a", prediction: "b", text: null, fields: {} });
    await flush();
    const img = /** @type {HTMLImageElement} */ ($(".sw-detail-thumb img"));
    expect(img.src).toMatch(/^blob:/);
    if (inBrowser) await img.decode();
    click($(".sw-detail-close"));
    expect(revoke).toHaveBeenCalledWith(img.src);
  });
});
