// Which renderer draws the map: WebGL2 where the GPU does the work, Canvas 2D where WebGL
// is software or missing.

import { createCanvasRenderer } from "./canvas2d.js";
import { createWebGLRenderer } from "./webgl.js";

/** @typedef {import("./webgl.js").Renderer} Renderer */

/**
 * The renderer for this canvas: WebGL2, except where WebGL is software (SwiftShader,
 * llvmpipe), on which the Canvas 2D renderer draws a million points several times faster
 * (see benchmarks/README.md); Canvas 2D where WebGL2 is missing; null when neither works.
 * @param {HTMLCanvasElement} canvas
 * @param {() => void} onRestored
 * @returns {Renderer | null}
 */
export function createRenderer(canvas, onRestored) {
  let gl = null;
  try {
    gl = createWebGLRenderer(canvas, { onRestored });
  } catch (e) {
    console.error(e);
  }
  if (gl) {
    if (!isSoftwareGL(canvas)) return gl;
    gl.destroy();
    // A canvas keeps the kind of its first context: the 2D renderer needs a new one.
    const fresh = /** @type {HTMLCanvasElement} */ (canvas.cloneNode(false));
    canvas.replaceWith(fresh);
    return createCanvasRenderer(fresh);
  }
  return createCanvasRenderer(canvas);
}

/**
 * Whether the canvas's WebGL context is drawn in software.
 * @param {HTMLCanvasElement} canvas
 */
function isSoftwareGL(canvas) {
  const gl = /** @type {WebGL2RenderingContext | null} */ (canvas.getContext("webgl2"));
  if (!gl) return false;
  const info = gl.getExtension("WEBGL_debug_renderer_info");
  const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? "");
  return /swiftshader|llvmpipe|softpipe|software/i.test(name);
}
