import { afterEach, describe, expect, it, vi } from "vitest";
import { isAbort, onError, reportError, request, RequestError, TIMEOUT_MS } from "../messages.js";
import { FakeModel } from "./fake-model.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("request()", () => {
  it("sends {type, id, ...payload} and resolves with the reply that has the same id", async () => {
    const model = new FakeModel();
    const p = request(model, "detail", { index: 7 });
    expect(model.sent).toHaveLength(1);
    const msg = model.sent[0];
    expect(msg).toMatchObject({ type: "detail", index: 7 });
    expect(typeof msg.id).toBe("string");
    expect(model.handlerCount("msg:custom")).toBe(1);

    // Other ids and foreign messages are ignored.
    model.emit("msg:custom", { id: "someone-else", loss: 1 }, []);
    model.emit("msg:custom", "not an object", []);
    const buf = new DataView(new ArrayBuffer(3));
    model.reply(msg, { index: 7, loss: 0.5 }, [buf]);
    const { content, buffers } = await p;
    expect(content).toMatchObject({ id: msg.id, index: 7, loss: 0.5 });
    expect(buffers).toEqual([buf]);
    expect(model.handlerCount()).toBe(0);
  });

  it("gives every request a unique id", () => {
    const model = new FakeModel();
    for (let k = 0; k < 50; k += 1) request(model, "next").catch(() => {});
    expect(new Set(model.sent.map((m) => m.id)).size).toBe(50);
  });

  it("does not let the payload override type or id", () => {
    const model = new FakeModel();
    request(model, "next", { type: "evil", id: "x" }).catch(() => {});
    expect(model.sent[0].type).toBe("next");
    expect(model.sent[0].id).not.toBe("x");
  });

  it("rejects on {id, error} and reports the error to the model's error listeners", async () => {
    const model = new FakeModel();
    /** @type {string[]} */
    const seen = [];
    const off = onError(model, (m) => seen.push(m));
    const p = request(model, "select", { mode: "top" });
    model.reply(model.sent[0], { error: "no spotlight yet" });
    await expect(p).rejects.toMatchObject({ name: "RequestError", reason: "error" });
    expect(seen).toEqual(["select failed: no spotlight yet"]);
    expect(model.handlerCount()).toBe(0);
    off();
  });

  it("errors of one model are not shown in another model's widget", async () => {
    const a = new FakeModel();
    const b = new FakeModel();
    /** @type {string[]} */
    const seenB = [];
    onError(b, (m) => seenB.push(m));
    /** @type {string[]} */
    const seenA = [];
    onError(a, (m) => seenA.push(m));
    const p = request(a, "next");
    a.reply(a.sent[0], { error: "boom" });
    await expect(p).rejects.toBeInstanceOf(RequestError);
    expect(seenA).toHaveLength(1);
    expect(seenB).toHaveLength(0);
  });

  it(`times out after ${TIMEOUT_MS / 1000} s`, async () => {
    vi.useFakeTimers();
    const model = new FakeModel();
    /** @type {string[]} */
    const seen = [];
    onError(model, (m) => seen.push(m));
    const p = request(model, "next");
    const settled = vi.fn();
    p.catch(settled);
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS - 1);
    expect(settled).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    await expect(p).rejects.toMatchObject({ reason: "timeout" });
    expect(seen[0]).toMatch(/no reply from Python after 30 s/);
    expect(model.handlerCount()).toBe(0);
    // A late reply does nothing.
    model.reply(model.sent[0], { ok: true });
  });

  it("can be aborted: rejects quietly and removes its listener", async () => {
    const model = new FakeModel();
    /** @type {string[]} */
    const seen = [];
    onError(model, (m) => seen.push(m));
    const ctrl = new AbortController();
    const p = request(model, "thumbnails", { indices: [1] }, { signal: ctrl.signal });
    ctrl.abort();
    const err = await p.catch((e) => e);
    expect(isAbort(err)).toBe(true);
    expect(seen).toEqual([]);
    expect(model.handlerCount()).toBe(0);
    // Already aborted: nothing is sent.
    await expect(request(model, "next", {}, { signal: ctrl.signal })).rejects.toMatchObject({ reason: "aborted" });
    expect(model.sent).toHaveLength(1);
  });

  it("reports a failing send()", async () => {
    const model = new FakeModel();
    model.send = () => {
      throw new Error("comm closed");
    };
    /** @type {string[]} */
    const seen = [];
    onError(model, (m) => seen.push(m));
    await expect(request(model, "next")).rejects.toMatchObject({ reason: "send" });
    expect(seen[0]).toMatch(/comm closed/);
    expect(model.handlerCount()).toBe(0);
  });

  it("logs errors when no view listens", () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    reportError(new FakeModel(), "lonely");
    expect(spy).toHaveBeenCalledWith(expect.stringContaining("lonely"));
  });
});
