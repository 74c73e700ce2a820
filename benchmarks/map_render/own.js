import { createWebGLRenderer } from "../../js/map/webgl.js";
import { createCanvasRenderer } from "../../js/map/canvas2d.js";
import { fitView, zoomAt, panBy } from "../../js/map/view.js";
import { categoricalPalette, CATEGORICAL_LIGHT, parseColor } from "../../js/map/colors.js";
import { makePoints, loop, nextFrame } from "./common.js";
window.__bench = async (n, which = "webgl") => {
  const canvas = document.createElement("canvas"); canvas.width = 800; canvas.height = 600;
  canvas.style.width = "800px"; canvas.style.height = "600px"; document.body.append(canvas);
  const r = which === "webgl" ? createWebGLRenderer(canvas) : createCanvasRenderer(canvas);
  if (!r) return { error: `no ${which} context` };
  const { xy, cat } = makePoints(n);
  let t = performance.now();
  r.setPositions(xy); r.setValues(cat);
  r.setPalette(categoricalPalette(CATEGORICAL_LIGHT.map(parseColor), 10, [128, 128, 128, 90]));
  r.setSelected(Uint32Array.from({ length: 1000 }, (_, i) => i * 997));
  let view = fitView([-1, -1, 1, 1], 800, 600); const fit = view.scale;
  const style = { pointSize: 2, dpr: 1, outline: [0, 0, 0, 255] };
  r.draw(view, style);
  const gl = which === "webgl" ? canvas.getContext("webgl2") : null;
  const sync = () => { if (gl) gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4)); };
  sync(); const first_ms = performance.now() - t;
  let drawn = 0;
  const step = (k) => { view = k % 20 < 10 ? zoomAt(view, 1.05, 400, 300, fit) : panBy(zoomAt(view, 1 / 1.05, 400, 300, fit), 3, -2); r.draw(view, style); drawn++; };
  const raf = await loop(3, step, () => drawn);
  // synchronous cost: draw + 1-pixel readback forces the (software) GPU to finish
  const times = [];
  for (let k = 0; k < 20; k++) { const a = performance.now(); step(k); sync(); times.push(performance.now() - a); }
  times.sort((a, b) => a - b);
  r.destroy(); canvas.remove();
  return { which, n, first_draw_ms: first_ms, raf_ms_per_frame: raf.ms_per_frame, raf_frames: raf.frames, sync_median_ms: times[10], sync_p90_ms: times[18] };
};
