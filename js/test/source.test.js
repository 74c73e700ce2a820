// Static checks on the sources: no HTML parsing sinks, every CSS selector scoped.

import { describe, expect, it } from "vitest";
import css from "../style.css?raw";

const sources = /** @type {Record<string, string>} */ (
  import.meta.glob(["../**/*.js", "!../test/**"], { query: "?raw", import: "default", eager: true })
);

describe("sources", () => {
  it("are found", () => {
    expect(Object.keys(sources)).toContain("../index.js");
    expect(Object.keys(sources)).toContain("../views/gallery.js");
  });

  it("never parse HTML (innerHTML, outerHTML, insertAdjacentHTML, document.write, eval)", () => {
    for (const [path, text] of Object.entries(sources)) {
      expect(text, path).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment|\beval\(|new Function\(/);
    }
  });

  it("load nothing from the network", () => {
    for (const [path, text] of Object.entries(sources)) {
      // The SVG namespace is a name, never fetched.
      expect(text.replaceAll('"http://www.w3.org/2000/svg"', ""), path).not.toMatch(/https?:\/\//);
      expect(text, path).not.toMatch(/\bfetch\(|import\(\s*["'`]http/);
    }
    expect(css).not.toMatch(/@import|url\(\s*["']?https?:/);
  });
});

describe("style.css", () => {
  /** Selector lists of every style rule (outside @keyframes). */
  function selectors() {
    const text = css.replace(/\/\*[\s\S]*?\*\//g, "");
    const out = [];
    // Drop @keyframes blocks (their "selectors" are percentages).
    const withoutKeyframes = text.replace(/@keyframes[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}/g, "");
    const re = /([^{}]+)\{[^{}]*\}/g;
    let m;
    while ((m = re.exec(withoutKeyframes))) {
      const sel = m[1].replace(/@media[^{]*\{/, "").trim();
      if (sel) out.push(sel);
    }
    return out;
  }

  it("scopes every selector under .spotlight-widget", () => {
    const list = selectors();
    expect(list.length).toBeGreaterThan(50);
    for (const group of list) {
      for (const sel of group.split(",")) {
        expect(sel.trim(), group).toMatch(/^\.spotlight-widget(?![\w-])/);
      }
    }
  });

  it("takes colours from Jupyter variables with fallbacks, with a dark fallback", () => {
    for (const v of ["--jp-ui-font-color1", "--jp-layout-color1", "--jp-border-color2", "--jp-brand-color1", "--jp-warn-color1"]) {
      expect(css).toMatch(new RegExp(`var\\(${v}, [^)]+\\)`));
    }
    expect(css).toMatch(/@media \(prefers-color-scheme: dark\)\s*\{\s*\.spotlight-widget/);
  });

  it("names its animation uniquely", () => {
    for (const m of css.matchAll(/@keyframes\s+([\w-]+)/g)) expect(m[1]).toMatch(/^spotlight-widget-/);
  });
});
