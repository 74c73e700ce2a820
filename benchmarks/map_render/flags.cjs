const { chromium } = require("playwright-core");
const base = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];
const sets = {
  "current (--disable-gpu)": ["--disable-gpu"],
  "none": [],
  "--enable-unsafe-swiftshader": ["--enable-unsafe-swiftshader"],
  "--use-angle=swiftshader": ["--use-angle=swiftshader"],
  "--use-angle=swiftshader --enable-unsafe-swiftshader": ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
  "--use-gl=angle --use-angle=swiftshader --enable-unsafe-swiftshader": ["--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
  "--disable-gpu --enable-unsafe-swiftshader": ["--disable-gpu", "--enable-unsafe-swiftshader"],
  "--use-gl=swiftshader": ["--use-gl=swiftshader"],
  "--enable-unsafe-swiftshader --ignore-gpu-blocklist": ["--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"],
};
(async () => {
  for (const [name, extra] of Object.entries(sets)) {
    const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: [...base, ...extra] });
    const page = await browser.newPage();
    const r = await page.evaluate(() => {
      const out = {};
      for (const kind of ["webgl2", "webgl"]) {
        const c = document.createElement("canvas");
        const gl = c.getContext(kind);
        if (!gl) { out[kind] = null; continue; }
        const ext = gl.getExtension("WEBGL_debug_renderer_info");
        out[kind] = ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
      }
      out.gpu = !!navigator.gpu;
      return out;
    });
    console.log(JSON.stringify(name), JSON.stringify(r));
    await browser.close();
  }
})();
