// One vocabulary: every view names a result with the current method's noun ("spotlight",
// "cluster", "slice") and follows a change of `method` or `methods` without a rebuild.

import { afterEach, describe, expect, it } from "vitest";
import { FALLBACK_NOUN, noun } from "../vocabulary.js";
import { FakeModel } from "./fake-model.js";
import { makeState, mount, unmountAll } from "./fixtures.js";

afterEach(unmountAll);

const EMPTY = { history: [], current: -1, page_items: [], total_items: 0, breakdown: [] };

/** @param {HTMLElement} el */
const titles = (el) => [...el.querySelectorAll("[title]")].map((e) => e.getAttribute("title")).join(" | ");

describe("noun()", () => {
  it("is the current method's noun, in the forms asked for", () => {
    const model = new FakeModel(makeState());
    expect(noun(model)).toBe("spotlight");
    model.update({ method: "kmeans" });
    expect(noun(model)).toBe("cluster");
    expect(noun(model, { plural: true })).toBe("clusters");
    expect(noun(model, { capital: true })).toBe("Cluster");
    expect(noun(model, { plural: true, capital: true })).toBe("Clusters");
  });

  it.each([
    ["no methods trait", { methods: undefined }],
    ["a methods trait that is not a list", { methods: { spotlight: "spotlight" } }],
    ["a method not in the list", { method: "gmm" }],
    ["a method without a noun", { methods: [{ name: "spotlight", label: "Spotlight" }] }],
    ["a blank noun", { methods: [{ name: "spotlight", label: "Spotlight", noun: "  " }] }],
    ["a noun that is not a string", { methods: [{ name: "spotlight", label: "Spotlight", noun: 3 }] }],
    ["holes in the list", { methods: [null, { name: "kmeans", label: "K-means", noun: "cluster" }] }],
  ])("falls back to 'result' with %s", (_, overrides) => {
    const model = new FakeModel(makeState(overrides));
    expect(noun(model)).toBe(FALLBACK_NOUN);
    expect(noun(model, { plural: true, capital: true })).toBe("Results");
  });
});

describe("every view names the result after the method", () => {
  it("empty state: summary, history, gallery and breakdown", () => {
    const { $, model } = mount(EMPTY);
    expect($(".sw-summary").textContent).toContain("no spotlight yet");
    expect($(".sw-history").textContent).toContain("No spotlight found yet.");
    expect($(".sw-history-strip").getAttribute("aria-label")).toBe("Spotlights found so far");
    expect($(".sw-gallery").textContent).toContain("No spotlight yet: the search is running");
    expect($(".sw-breakdown-body").textContent).toBe("The breakdown appears once a spotlight is found.");
    expect($(".sw-legend").textContent).toContain("in spotlight");

    model.update({ method: "kmeans" });
    expect($(".sw-summary").textContent).toContain("no cluster yet");
    expect($(".sw-history").textContent).toContain("No cluster found yet.");
    expect($(".sw-history-strip").getAttribute("aria-label")).toBe("Clusters found so far");
    expect($(".sw-next").textContent).toBe("Next cluster");
    expect($(".sw-gallery").textContent).toContain("No cluster yet: the search is running");
    expect($(".sw-breakdown-body").textContent).toBe("The breakdown appears once a cluster is found.");
    expect($(".sw-legend").textContent).toContain("in cluster");
    for (const part of ["summary", "history", "gallery", "breakdown", "actions"]) {
      const el = $(`.sw-${part}`);
      expect(`${el.textContent} ${titles(el)}`, part).not.toMatch(/spotlight/i);
    }

    model.update({ method: "spotlight" });
    expect($(".sw-summary").textContent).toContain("no spotlight yet");
    expect($(".sw-breakdown-body").textContent).toContain("once a spotlight is found");
  });

  it("a result shown: summary titles, breakdown titles, gallery weights, selection buttons", () => {
    const { $, $$, model } = mount();
    const summaryTitles = () => titles($(".sw-summary"));
    expect(summaryTitles()).toContain("spotlight size: examples and share of N");
    expect(summaryTitles()).toContain("mean loss weighted by spotlight membership");

    model.update({ method: "kmeans" });
    expect(summaryTitles()).toContain("cluster size: examples and share of N");
    expect(summaryTitles()).toContain("mean loss weighted by cluster membership");
    const row = $$(".sw-breakdown .sw-row")[0];
    expect(row.querySelector(".sw-bar.sw-in")?.getAttribute("title")).toBe("in cluster: 70%");
    expect(row.querySelector(".sw-lift")?.getAttribute("title")).toBe("lift: share in cluster / share overall");
    expect(row.querySelector(".sw-group-loss")?.getAttribute("title")).toBe("mean loss: in cluster / overall");
    expect(row.querySelector(".sw-p")?.getAttribute("title")).toContain("at this cluster's effective size");
    const weights = $$(".sw-card .sw-weight");
    expect(weights.length).toBeGreaterThan(0);
    for (const w of weights) expect(w.getAttribute("title")).toBe("cluster weight");
    expect($(".sw-select-top").title).toBe("Select the S highest-weight members of the cluster");
    expect($(".sw-select-above").title).toBe("Select every example whose cluster weight is at least the threshold");
    for (const part of ["summary", "history", "gallery", "breakdown", "actions"]) {
      const el = $(`.sw-${part}`);
      expect(`${el.textContent} ${titles(el)}`, part).not.toMatch(/spotlight/i);
    }
  });

  it("says who is in the result when there are no metadata columns", () => {
    const { $, model } = mount({ columns: [], breakdown_column: "", breakdown: [] });
    expect($(".sw-breakdown-body").textContent).toBe("No metadata columns: pass metadata= to see who is in the spotlight.");
    model.update({ method: "kmeans" });
    expect($(".sw-breakdown-body").textContent).toBe("No metadata columns: pass metadata= to see who is in the cluster.");
  });

  it("follows a new `methods` list for the same method, and falls back to 'result'", () => {
    const { $, model } = mount({ ...EMPTY, method: "infembed" });
    expect($(".sw-next").textContent).toBe("Next result");
    expect($(".sw-summary").textContent).toContain("no result yet");
    expect($(".sw-history-strip").getAttribute("aria-label")).toBe("Results found so far");
    model.update({ methods: [...makeState().methods, { name: "infembed", label: "InfEmbed", noun: "slice" }] });
    expect($(".sw-next").textContent).toBe("Next slice");
    expect($(".sw-summary").textContent).toContain("no slice yet");
    expect($(".sw-history").textContent).toContain("No slice found yet.");
    expect($(".sw-gallery").textContent).toContain("No slice yet");
    expect($(".sw-breakdown-body").textContent).toContain("once a slice is found");
    expect($(".sw-history-strip").getAttribute("aria-label")).toBe("Slices found so far");
  });

  it("keeps the history buttons and gallery cards (and so the focus) when only the noun changes", () => {
    const { $, $$, model } = mount();
    const buttons = $$(".sw-history-item");
    const cards = $$(".sw-card");
    buttons[1].focus();
    model.update({ methods: makeState().methods.map((m) => ({ ...m, noun: "region" })) });
    expect($(".sw-next").textContent).toBe("Next region");
    expect($$(".sw-history-item")).toEqual(buttons);
    expect($$(".sw-card")).toEqual(cards);
    expect(document.activeElement).toBe(buttons[1]);
    expect(cards[0].querySelector(".sw-weight")?.getAttribute("title")).toBe("region weight");
  });

  it("names the size control 'Result size' for every method", () => {
    const { $, model } = mount();
    const labels = () => [$(".sw-size-range"), $(".sw-size-number")].map((e) => e.getAttribute("aria-label"));
    const before = labels();
    expect(before).toEqual(["Result size (log scale, 0.1% to 10%)", "Result size in percent"]);
    model.update({ method: "kmeans" });
    expect(labels()).toEqual(before);
  });
});

describe("view sources", () => {
  const views = /** @type {Record<string, string>} */ (
    import.meta.glob("../views/*.js", { query: "?raw", import: "default", eager: true })
  );

  it("write no 'spotlight' in a text: the noun comes from vocabulary.js", () => {
    expect(Object.keys(views).length).toBeGreaterThan(5);
    for (const [path, source] of Object.entries(views)) {
      const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
      const literals = code.match(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g) ?? [];
      // "spotlight" alone is a protocol value (the members tab's name), never shown.
      const texts = literals.filter((s) => /spotlight/i.test(s) && s.slice(1, -1) !== "spotlight");
      expect(texts, path).toEqual([]);
    }
  });
});
