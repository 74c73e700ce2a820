const { chromium } = require("playwright-core");
const fs = require("fs");
const base = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];
const [flagsName, bundle, n, which] = process.argv.slice(2);
const flagSets = { project: ["--disable-gpu"], swiftshader: ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"], nosoftware: ["--disable-gpu", "--disable-software-rasterizer"] };
(async () => {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: [...base, ...flagSets[flagsName]] });
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  page.on("console", (m) => { if (m.type() === "error") console.error("console:", m.text()); });
  await page.setContent("<!doctype html><html><body style='margin:0'></body></html>");
  await page.addScriptTag({ content: fs.readFileSync(bundle, "utf8") });
  const r = await page.evaluate(([n, which]) => window.__bench(n, which), [Number(n), which]);
  console.log(JSON.stringify({ flags: flagsName, ...r }));
  await browser.close();
})();
