// The map's points in WebGL2: one draw call of gl.POINTS over every point (positions as
// float32 pairs, one byte per point indexing a 256-colour palette texture), then one over
// the selected points, drawn larger with a ring. Pan and zoom only change a 3 x 3 matrix.

import { clipMatrix } from "./view.js";

/** @typedef {import("./view.js").View} View */

/**
 * @typedef {object} DrawStyle
 * @property {number} pointSize     diameter, CSS pixels
 * @property {number} dpr           device pixels per CSS pixel
 * @property {import("./colors.js").RGBA} outline  ring around selected points
 */

/**
 * What both renderers (WebGL2 and the Canvas 2D fallback) offer the map view.
 * @typedef {object} Renderer
 * @property {"webgl" | "canvas"} kind
 * @property {(positions: Float32Array) => void} setPositions  x0, y0, x1, y1, ...
 * @property {(values: Uint8Array | null) => void} setValues  one palette index per point; null: all 0
 * @property {(palette: Uint8Array) => void} setPalette  256 x RGBA
 * @property {(indices: Uint32Array) => void} setSelected  indices past the points are ignored
 * @property {(view: View, style: DrawStyle) => void} draw
 * @property {() => void} destroy  frees everything (the WebGL context included)
 */

const VERTEX = `#version 300 es
layout(location = 0) in vec2 a_pos;
layout(location = 1) in uint a_value;
uniform mat3 u_matrix;
uniform float u_size;
uniform sampler2D u_palette;
out vec4 v_color;
void main() {
  vec3 p = u_matrix * vec3(a_pos, 1.0);
  gl_Position = vec4(p.xy, 0.0, 1.0);
  gl_PointSize = u_size;
  v_color = texelFetch(u_palette, ivec2(int(a_value), 0), 0);
}`;

const FRAGMENT = `#version 300 es
precision mediump float;
in vec4 v_color;
uniform vec4 u_ring;
uniform float u_inner;
out vec4 out_color;
void main() {
  vec2 d = gl_PointCoord * 2.0 - 1.0;
  float r2 = dot(d, d);
  if (r2 > 1.0) discard;
  vec4 c = (u_ring.a > 0.0 && r2 > u_inner * u_inner) ? u_ring : v_color;
  out_color = vec4(c.rgb * c.a, c.a);
}`;

/**
 * @param {WebGL2RenderingContext} gl
 * @param {number} type
 * @param {string} source
 */
function compile(gl, type, source) {
  const shader = /** @type {WebGLShader} */ (gl.createShader(type));
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS) && !gl.isContextLost()) {
    const log = gl.getShaderInfoLog(shader);
    gl.deleteShader(shader);
    throw new Error(`map: shader does not compile: ${log}`);
  }
  return shader;
}

/**
 * A WebGL2 renderer on `canvas`, or null where WebGL2 is not available.
 * @param {HTMLCanvasElement} canvas
 * @param {{ onRestored?: () => void }} [options]  called after a lost context came back (redraw then)
 * @returns {Renderer | null}
 */
export function createWebGLRenderer(canvas, options = {}) {
  /** @type {WebGL2RenderingContext | null} */
  let gl = null;
  try {
    gl = /** @type {WebGL2RenderingContext | null} */ (
      // preserveDrawingBuffer: the pixels stay readable after the frame (screenshots,
      // tests reading the canvas back), for one copy per frame.
      canvas.getContext("webgl2", { antialias: false, depth: false, stencil: false, premultipliedAlpha: true, alpha: true, preserveDrawingBuffer: true })
    );
  } catch {
    gl = null;
  }
  if (!gl) return null;
  const ctx = gl;

  /** @type {Float32Array} */
  let positions = new Float32Array(0);
  /** @type {Uint8Array | null} */
  let values = null;
  /** @type {Uint8Array} */
  let palette = new Uint8Array(256 * 4);
  /** @type {Uint32Array} */
  let selected = new Uint32Array(0);
  let lost = false;

  /** @type {{ program: WebGLProgram, vao: WebGLVertexArrayObject, pos: WebGLBuffer, val: WebGLBuffer, sel: WebGLBuffer, tex: WebGLTexture, u: Record<string, WebGLUniformLocation | null> } | null} */
  let res = null;

  const init = () => {
    const vs = compile(ctx, ctx.VERTEX_SHADER, VERTEX);
    const fs = compile(ctx, ctx.FRAGMENT_SHADER, FRAGMENT);
    const program = /** @type {WebGLProgram} */ (ctx.createProgram());
    ctx.attachShader(program, vs);
    ctx.attachShader(program, fs);
    ctx.linkProgram(program);
    ctx.deleteShader(vs);
    ctx.deleteShader(fs);
    if (!ctx.getProgramParameter(program, ctx.LINK_STATUS) && !ctx.isContextLost()) {
      throw new Error(`map: shaders do not link: ${ctx.getProgramInfoLog(program)}`);
    }
    const vao = /** @type {WebGLVertexArrayObject} */ (ctx.createVertexArray());
    const pos = /** @type {WebGLBuffer} */ (ctx.createBuffer());
    const val = /** @type {WebGLBuffer} */ (ctx.createBuffer());
    const sel = /** @type {WebGLBuffer} */ (ctx.createBuffer());
    const tex = /** @type {WebGLTexture} */ (ctx.createTexture());
    ctx.bindVertexArray(vao);
    ctx.bindBuffer(ctx.ARRAY_BUFFER, pos);
    ctx.enableVertexAttribArray(0);
    ctx.vertexAttribPointer(0, 2, ctx.FLOAT, false, 0, 0);
    ctx.bindBuffer(ctx.ELEMENT_ARRAY_BUFFER, sel);
    ctx.bindVertexArray(null);
    ctx.bindTexture(ctx.TEXTURE_2D, tex);
    ctx.texParameteri(ctx.TEXTURE_2D, ctx.TEXTURE_MIN_FILTER, ctx.NEAREST);
    ctx.texParameteri(ctx.TEXTURE_2D, ctx.TEXTURE_MAG_FILTER, ctx.NEAREST);
    ctx.texParameteri(ctx.TEXTURE_2D, ctx.TEXTURE_WRAP_S, ctx.CLAMP_TO_EDGE);
    ctx.texParameteri(ctx.TEXTURE_2D, ctx.TEXTURE_WRAP_T, ctx.CLAMP_TO_EDGE);
    const u = Object.fromEntries(["u_matrix", "u_size", "u_palette", "u_ring", "u_inner"].map((k) => [k, ctx.getUniformLocation(program, k)]));
    res = { program, vao, pos, val, sel, tex, u };
    uploadPositions();
    uploadValues();
    uploadPalette();
    uploadSelected();
  };

  const uploadPositions = () => {
    if (!res) return;
    ctx.bindBuffer(ctx.ARRAY_BUFFER, res.pos);
    ctx.bufferData(ctx.ARRAY_BUFFER, positions, ctx.STATIC_DRAW);
  };

  const uploadValues = () => {
    if (!res) return;
    ctx.bindVertexArray(res.vao);
    if (values && values.length === positions.length >> 1) {
      ctx.bindBuffer(ctx.ARRAY_BUFFER, res.val);
      ctx.bufferData(ctx.ARRAY_BUFFER, values, ctx.STATIC_DRAW);
      ctx.enableVertexAttribArray(1);
      ctx.vertexAttribIPointer(1, 1, ctx.UNSIGNED_BYTE, 0, 0);
    } else {
      // No per-point values: every point takes palette entry 0.
      ctx.disableVertexAttribArray(1);
      ctx.vertexAttribI4ui(1, 0, 0, 0, 0);
    }
    ctx.bindVertexArray(null);
  };

  const uploadPalette = () => {
    if (!res) return;
    ctx.bindTexture(ctx.TEXTURE_2D, res.tex);
    ctx.pixelStorei(ctx.UNPACK_ALIGNMENT, 1);
    ctx.texImage2D(ctx.TEXTURE_2D, 0, ctx.RGBA8, 256, 1, 0, ctx.RGBA, ctx.UNSIGNED_BYTE, palette);
  };

  const uploadSelected = () => {
    if (!res) return;
    ctx.bindVertexArray(res.vao);
    ctx.bindBuffer(ctx.ELEMENT_ARRAY_BUFFER, res.sel);
    ctx.bufferData(ctx.ELEMENT_ARRAY_BUFFER, selected, ctx.DYNAMIC_DRAW);
    ctx.bindVertexArray(null);
  };

  /** @param {Event} ev */
  const onLost = (ev) => {
    // preventDefault asks the browser to restore the context later.
    ev.preventDefault();
    lost = true;
    res = null;
  };
  const onRestored = () => {
    lost = false;
    init();
    options.onRestored?.();
  };
  canvas.addEventListener("webglcontextlost", onLost);
  canvas.addEventListener("webglcontextrestored", onRestored);

  try {
    init();
  } catch (e) {
    canvas.removeEventListener("webglcontextlost", onLost);
    canvas.removeEventListener("webglcontextrestored", onRestored);
    ctx.getExtension("WEBGL_lose_context")?.loseContext();
    throw e;
  }

  return {
    kind: "webgl",
    setPositions(p) {
      positions = p;
      uploadPositions();
      uploadValues();
      this.setSelected(selected);
    },
    setValues(v) {
      values = v;
      uploadValues();
    },
    setPalette(p) {
      palette = p;
      uploadPalette();
    },
    setSelected(indices) {
      const n = positions.length >> 1;
      selected = indices.length && indices[indices.length - 1] >= n ? indices.filter((i) => i < n) : indices;
      uploadSelected();
    },
    draw(view, style) {
      ctx.viewport(0, 0, canvas.width, canvas.height);
      ctx.clearColor(0, 0, 0, 0);
      ctx.clear(ctx.COLOR_BUFFER_BIT);
      if (lost || !res) return;
      const n = positions.length >> 1;
      if (!n) return;
      ctx.useProgram(res.program);
      ctx.bindVertexArray(res.vao);
      ctx.enable(ctx.BLEND);
      ctx.blendFunc(ctx.ONE, ctx.ONE_MINUS_SRC_ALPHA);
      ctx.activeTexture(ctx.TEXTURE0);
      ctx.bindTexture(ctx.TEXTURE_2D, res.tex);
      ctx.uniform1i(res.u.u_palette, 0);
      ctx.uniformMatrix3fv(res.u.u_matrix, false, clipMatrix(view));
      const size = Math.max(1, style.pointSize * style.dpr);
      ctx.uniform1f(res.u.u_size, size);
      ctx.uniform4f(res.u.u_ring, 0, 0, 0, 0);
      ctx.uniform1f(res.u.u_inner, 1);
      ctx.drawArrays(ctx.POINTS, 0, n);
      if (selected.length) {
        const big = Math.max(size + 4 * style.dpr, size * 1.8);
        const [r, g, b, a] = style.outline;
        ctx.uniform1f(res.u.u_size, big);
        ctx.uniform4f(res.u.u_ring, r / 255, g / 255, b / 255, a / 255);
        // The ring is about 1.5 CSS pixels wide whatever the point's size.
        ctx.uniform1f(res.u.u_inner, Math.max(0.2, 1 - (3 * style.dpr) / big));
        ctx.drawElements(ctx.POINTS, selected.length, ctx.UNSIGNED_INT, 0);
      }
      ctx.bindVertexArray(null);
    },
    destroy() {
      canvas.removeEventListener("webglcontextlost", onLost);
      canvas.removeEventListener("webglcontextrestored", onRestored);
      if (res && !ctx.isContextLost()) {
        ctx.deleteBuffer(res.pos);
        ctx.deleteBuffer(res.val);
        ctx.deleteBuffer(res.sel);
        ctx.deleteTexture(res.tex);
        ctx.deleteVertexArray(res.vao);
        ctx.deleteProgram(res.program);
      }
      res = null;
      // Browsers cap live WebGL contexts (about 16): give this one back now, not at GC.
      ctx.getExtension("WEBGL_lose_context")?.loseContext();
      positions = new Float32Array(0);
      values = null;
      selected = new Uint32Array(0);
    },
  };
}
