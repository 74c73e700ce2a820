export function makePoints(n, seed = 1) {
  let s = seed >>> 0;
  const rand = () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  const xy = new Float32Array(2 * n), cat = new Uint8Array(n);
  const centres = Array.from({ length: 10 }, () => [rand() * 1.6 - 0.8, rand() * 1.6 - 0.8]);
  for (let i = 0; i < n; i++) {
    const c = i % 10; const r = Math.sqrt(-2 * Math.log(rand() + 1e-12)) * 0.08; const a = 2 * Math.PI * rand();
    xy[2 * i] = centres[c][0] + r * Math.cos(a); xy[2 * i + 1] = centres[c][1] + r * Math.sin(a); cat[i] = c;
  }
  return { xy, cat };
}
export const nextFrame = () => new Promise((r) => requestAnimationFrame(r));
// rAF-paced loop: `step(k)` changes the view and asks for a frame; returns ms per drawn frame.
export async function loop(seconds, step, drawnCount) {
  for (let k = 0; k < 10; k++) { step(k); await nextFrame(); } // warm up
  const start0 = drawnCount();
  const t0 = performance.now(); let k = 0;
  while (performance.now() - t0 < seconds * 1000) { step(k++); await nextFrame(); }
  const dt = performance.now() - t0; const frames = drawnCount() - start0;
  return { frames, ms_per_frame: dt / Math.max(1, frames) };
}
