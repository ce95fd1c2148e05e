// nnmath playground: the drawings. Each function draws what the server computed (state.snap,
// state.built) on one canvas; nothing here computes a number of the network.
"use strict";

const COLORS = [[230, 120, 30], [40, 110, 200], [60, 160, 70], [180, 60, 160], [200, 60, 60],
  [120, 120, 120], [0, 160, 160], [150, 120, 40], [90, 70, 200], [220, 170, 0]];
const rgb = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;
const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };

function decode(b64, Type) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Type(bytes.buffer);
}

function toCanvas(x, y, b, w, h) {
  return [(x - b[0]) / (b[1] - b[0]) * w, (b[3] - y) / (b[3] - b[2]) * h];
}

// a real target as a colour: orange above 0, blue below, white at 0 (scaled by `top`)
function valueColor(v, top) {
  const t = Math.max(-1, Math.min(1, v / (top || 1)));
  const c = t >= 0 ? COLORS[0] : COLORS[1], a = Math.abs(t) * 0.85;
  return [0, 1, 2].map((k) => Math.round(255 - a * (255 - c[k])));
}

function fillImage(ctx, canvas, n, m, pixel) {
  const img = new ImageData(m, n);
  for (let i = 0; i < n * m; i++) {
    const c = pixel(i);
    for (let k = 0; k < 3; k++) img.data[4 * i + k] = c[k];
    img.data[4 * i + 3] = 255;
  }
  const off = document.createElement("canvas");
  off.width = m; off.height = n;
  off.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
}

// ------------------------------------------------------------------ the output over the plane

function drawRegions() {
  const canvas = $("regions"), ctx = canvas.getContext("2d");
  const s = state.snap, built = state.built;
  if (!s || !built) return;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const [n, m] = built.grid;
  if (built.kind === "classes") {
    const cls = decode(s.regions.cls, Uint8Array), level = decode(s.regions.level, Uint8Array);
    fillImage(ctx, canvas, n, m, (i) => {
      const c = COLORS[cls[i] % COLORS.length], t = 0.15 + 0.55 * level[i] / 255;
      return c.map((ck) => Math.round(255 - t * (255 - ck)));
    });
  } else if (built.dims === 2) {
    const values = decode(s.regions.values, Float32Array);
    fillImage(ctx, canvas, n, m, (i) => valueColor(values[i], built.top));
  } else {
    drawCurve(ctx, canvas, decode(s.regions.values, Float32Array));
  }
  drawPoints(ctx, canvas, built.trainX, built.trainY, false);
  drawPoints(ctx, canvas, built.testX, built.testY, true);
  drawSelectedPoint(ctx, canvas);
}

// a function of x1: the axes, then the network's output a^L along x1 as a line
function drawCurve(ctx, canvas, values) {
  const b = state.built.bounds, w = canvas.width, h = canvas.height;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
  ctx.strokeStyle = "#bbb"; ctx.lineWidth = 1;
  const [, y0] = toCanvas(0, 0, b, w, h), [x0] = toCanvas(0, 0, b, w, h);
  ctx.beginPath(); ctx.moveTo(0, y0); ctx.lineTo(w, y0); ctx.moveTo(x0, 0); ctx.lineTo(x0, h); ctx.stroke();
  ctx.fillStyle = "#666"; ctx.font = "11px sans-serif";
  ctx.fillText("x₁", w - 16, y0 - 4); ctx.fillText("y", x0 + 4, 12);
  ctx.strokeStyle = "#222"; ctx.lineWidth = 2.5; ctx.beginPath();
  for (let i = 0; i < values.length; i++) {
    const x = b[0] + (b[1] - b[0]) * i / (values.length - 1);
    const [px, py] = toCanvas(x, values[i], b, w, h);
    if (i) ctx.lineTo(px, py); else ctx.moveTo(px, py);
  }
  ctx.stroke();
}

// where a point is drawn: (x1, x2), or (x1, y) for a function of x1
function pointAt(X, Y, i, canvas) {
  const b = state.built.bounds, up = state.built.dims === 1 ? Y[i] : X[2 * i + 1];
  return toCanvas(X[2 * i], up, b, canvas.width, canvas.height);
}

function drawPoints(ctx, canvas, X, Y, ringed) {
  const built = state.built;
  for (let i = 0; i < Y.length; i++) {
    const [px, py] = pointAt(X, Y, i, canvas);
    const c = built.kind === "classes" ? COLORS[Y[i] % COLORS.length]
      : built.dims === 1 ? [120, 120, 120] : valueColor(Y[i], built.top);
    ctx.beginPath();
    ctx.arc(px, py, 3, 0, 2 * Math.PI);
    ctx.fillStyle = rgb(c);
    ctx.fill();
    ctx.lineWidth = ringed ? 1.5 : 0.6;
    ctx.strokeStyle = ringed ? "#000" : "#fff";
    ctx.stroke();
  }
}

function drawSelectedPoint(ctx, canvas) {
  const sel = state.selectedPoint, built = state.built;
  if (!sel) return;
  const X = sel.split === "train" ? built.trainX : built.testX;
  const Y = sel.split === "train" ? built.trainY : built.testY;
  const [px, py] = pointAt(X, Y, sel.index, canvas);
  ctx.lineWidth = 3; ctx.strokeStyle = "#000";
  ctx.beginPath(); ctx.arc(px, py, 8, 0, 2 * Math.PI); ctx.stroke();
  ctx.lineWidth = 1.5; ctx.strokeStyle = "#ff0";
  ctx.beginPath(); ctx.arc(px, py, 8, 0, 2 * Math.PI); ctx.stroke();
}

// ------------------------------------------------------------------ the network

const LABEL_WIDTH = 46; // room left of the input units for their features' names
const ARC_ROOM = 20; // above the units: the residual blocks' identity paths
const TAG_ROOM = 16; // below the units: the "BN" tags

// where each unit is drawn; `above` and `below` pixels are kept free for the arcs and tags
function layout(sizes, canvas, above = 0, below = 0) {
  const cols = sizes.length, dx = (canvas.width - LABEL_WIDTH) / cols, maxUnits = Math.max(...sizes);
  const room = canvas.height - above - below;
  const box = Math.max(4, Math.min(28, (room - 10) / maxUnits - 2, dx * 0.5));
  return sizes.map((n, l) => {
    const gap = Math.min(box + 4, (room - 10) / n);
    const top = above + (room - gap * n) / 2;
    return Array.from({ length: n }, (_, j) => ({ x: LABEL_WIDTH + dx * (l + 0.5), y: top + gap * (j + 0.5), box }));
  });
}

// a residual block's identity path a^(l−1) → a^l: an arc over the two layers, an arrow at a^l
function drawSkip(ctx, from, to) {
  const a = from[0], b = to[0], y0 = a.y - a.box / 2 - 3, y1 = b.y - b.box / 2 - 3;
  const peak = Math.max(3, Math.min(y0, y1) - ARC_ROOM + 4);
  ctx.strokeStyle = "#1a7a3a"; ctx.lineWidth = 2;
  ctx.beginPath(); ctx.moveTo(a.x, y0); ctx.bezierCurveTo(a.x, peak, b.x, peak, b.x, y1); ctx.stroke();
  ctx.fillStyle = "#1a7a3a";
  ctx.beginPath(); ctx.moveTo(b.x, y1 + 1); ctx.lineTo(b.x - 4, y1 - 6); ctx.lineTo(b.x + 4, y1 - 6); ctx.fill();
}

// "BN" under a layer whose z is batch-normalised before its σ
function drawTag(ctx, units) {
  const last = units[units.length - 1], x = last.x, y = last.y + last.box / 2 + 3;
  ctx.fillStyle = "#5b3c88"; ctx.fillRect(x - 11, y, 22, 12);
  ctx.fillStyle = "#fff"; ctx.font = "bold 9px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
  ctx.fillText("BN", x, y + 6.5);
  ctx.textAlign = "left"; ctx.textBaseline = "alphabetic";
}

function drawNetwork() {
  const canvas = $("network"), ctx = canvas.getContext("2d");
  const s = state.snap;
  if (!s || !state.built) return;
  const sizes = state.built.sizes, blocks = state.built.blocks;
  const skip = blocks.residual.some(Boolean), bn = blocks.batch_norm.some(Boolean);
  const pos = layout(sizes, canvas, skip ? ARC_ROOM : 0, bn ? TAG_ROOM : 0);
  state.layout = pos;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const weights = s.weights.map((w) => decode(w, Float32Array));
  let wmax = 1e-12;
  for (const W of weights) for (const v of W) if (Number.isFinite(v)) wmax = Math.max(wmax, Math.abs(v));
  for (let l = 0; l < weights.length; l++) {
    const W = weights[l], nIn = sizes[l];
    for (let j = 0; j < sizes[l + 1]; j++) {
      for (let k = 0; k < nIn; k++) {
        const v = W[j * nIn + k], a = pos[l][k], b = pos[l + 1][j];
        ctx.strokeStyle = v >= 0 ? "rgba(40,110,200,0.55)" : "rgba(230,120,30,0.55)";
        ctx.lineWidth = 0.2 + 3 * Math.min(1, Math.abs(v) / wmax);
        ctx.beginPath(); ctx.moveTo(a.x, a.y); ctx.lineTo(b.x, b.y); ctx.stroke();
      }
    }
  }
  drawUnits(ctx, s, sizes, pos);
  blocks.residual.forEach((on, i) => { if (on) drawSkip(ctx, pos[i], pos[i + 1]); });
  blocks.batch_norm.forEach((on, i) => { if (on) drawTag(ctx, pos[i + 1]); });
  ctx.fillStyle = "#333"; ctx.font = "11px sans-serif"; ctx.textAlign = "right"; ctx.textBaseline = "middle";
  state.built.features.forEach((name, j) => ctx.fillText(name, pos[0][j].x - pos[0][j].box / 2 - 3, pos[0][j].y));
  ctx.textAlign = "left"; ctx.textBaseline = "alphabetic";
}

// one unit's map (0..255 over the plane), as a small image, or a small curve for a function of x1
function drawMap(ctx, p, levels, offset, shape) {
  const [n, m] = shape, h = p.box / 2;
  if (n === 1) {
    ctx.fillStyle = "#fff"; ctx.fillRect(p.x - h, p.y - h, p.box, p.box);
    ctx.strokeStyle = "#2a6ec8"; ctx.lineWidth = 1.2; ctx.beginPath();
    for (let i = 0; i < m; i++) {
      const px = p.x - h + p.box * i / (m - 1), py = p.y + h - p.box * levels[offset + i] / 255;
      if (i) ctx.lineTo(px, py); else ctx.moveTo(px, py);
    }
    ctx.stroke();
    return;
  }
  const img = new ImageData(m, n);
  for (let i = 0; i < n * m; i++) {
    const v = levels[offset + i];
    img.data[4 * i] = 255 - v * 0.8; img.data[4 * i + 1] = 255 - v * 0.55;
    img.data[4 * i + 2] = 255 - v * 0.2; img.data[4 * i + 3] = 255;
  }
  const off = document.createElement("canvas");
  off.width = m; off.height = n;
  off.getContext("2d").putImageData(img, 0, 0);
  ctx.drawImage(off, p.x - h, p.y - h, p.box, p.box);
}

function drawUnits(ctx, s, sizes, pos) {
  const shape = state.built.unit_grid, cells = shape[0] * shape[1];
  const maps = [state.built.inputLevels, ...s.units.map((u) => decode(u.data, Uint8Array))];
  const sel = state.selectedUnit;
  for (let l = 0; l < sizes.length; l++) {
    for (let j = 0; j < sizes[l]; j++) {
      const p = pos[l][j], h = p.box / 2;
      if (l < sizes.length - 1) {
        drawMap(ctx, p, maps[l], j * cells, shape);
      } else {
        ctx.fillStyle = state.built.kind === "classes" ? rgb(COLORS[j % COLORS.length]) : "#eed";
        ctx.fillRect(p.x - h, p.y - h, p.box, p.box);
      }
      const chosen = sel && sel.layer === l + 1 && sel.unit === j;
      ctx.strokeStyle = chosen ? "#d00" : "#555"; ctx.lineWidth = chosen ? 3 : 0.8;
      ctx.strokeRect(p.x - h, p.y - h, p.box, p.box);
    }
  }
}

// ------------------------------------------------------------------ charts against epoch

const PAD = { left: 40, right: 34, top: 6, bottom: 26 };

// the epoch axis: log(1 + epoch), so that the first epochs keep their room as the run grows
function epochX(e, emax, w) {
  return PAD.left + Math.log1p(Math.max(0, e)) / Math.log1p(Math.max(emax, 1)) * (w - PAD.left - PAD.right);
}

function niceTicks(emax) {
  const ticks = [0];
  for (let k = 1; k <= emax * 1.0001 && ticks.length < 40; k *= 10) {
    for (const f of [1, 2, 5]) if (f * k <= Math.max(emax, 1)) ticks.push(f * k);
  }
  return ticks;
}

function epochAxis(ctx, canvas, emax) {
  const w = canvas.width, h = canvas.height, base = h - PAD.bottom;
  ctx.strokeStyle = "#999"; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(PAD.left, PAD.top); ctx.lineTo(PAD.left, base); ctx.lineTo(w - PAD.right, base); ctx.stroke();
  ctx.fillStyle = "#555"; ctx.font = "10px sans-serif"; ctx.textAlign = "center";
  let last = -Infinity;
  for (const t of niceTicks(emax)) {
    const x = epochX(t, emax, w), label = String(t), half = ctx.measureText(label).width / 2;
    if (x - half < last + 4) continue;
    ctx.beginPath(); ctx.moveTo(x, base); ctx.lineTo(x, base + 3); ctx.stroke();
    ctx.fillText(label, x, base + 12);
    last = x + half;
  }
  ctx.fillText("epoch (log scale)", (PAD.left + w - PAD.right) / 2, h - 2);
  ctx.textAlign = "left";
}

function valueY(v, lo, hi, h) {
  return PAD.top + (1 - (v - lo) / (hi - lo || 1)) * (h - PAD.top - PAD.bottom);
}

function valueAxis(ctx, canvas, ticks, lo, hi, right) {
  const x = right ? canvas.width - PAD.right : PAD.left;
  ctx.fillStyle = "#555"; ctx.font = "10px sans-serif"; ctx.textAlign = right ? "left" : "right";
  ctx.textBaseline = "middle"; ctx.strokeStyle = "#999";
  for (const [v, label] of ticks) {
    const y = valueY(v, lo, hi, canvas.height);
    ctx.beginPath(); ctx.moveTo(x - 3, y); ctx.lineTo(x + 3, y); ctx.stroke();
    ctx.fillText(label, right ? x + 4 : x - 4, y);
  }
  ctx.textAlign = "left"; ctx.textBaseline = "alphabetic";
}

function line(ctx, canvas, xs, ys, lo, hi, emax, color, dashed) {
  ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.setLineDash(dashed ? [4, 3] : []);
  ctx.beginPath();
  let started = false;
  for (let i = 0; i < xs.length; i++) {
    if (ys[i] === null || !Number.isFinite(ys[i])) { started = false; continue; }
    const px = epochX(xs[i], emax, canvas.width), py = valueY(Math.min(hi, Math.max(lo, ys[i])), lo, hi, canvas.height);
    if (started) ctx.lineTo(px, py); else ctx.moveTo(px, py);
    started = true;
  }
  ctx.stroke(); ctx.setLineDash([]);
}

// a round number at or above v: 1, 2 or 5 times a power of ten
function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const f of [1, 2, 5, 10]) if (f * p >= v * 0.9999) return f * p;
  return 10 * p;
}

function drawCostChart() {
  const canvas = $("cost-chart"), ctx = canvas.getContext("2d"), rows = state.history;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!rows.length) return;
  const xs = rows.map((r) => r[0]), emax = xs[xs.length - 1];
  epochAxis(ctx, canvas, emax);
  const costs = rows.flatMap((r) => [r[1], r[2]]).filter(Number.isFinite);
  const cmax = niceCeil(Math.max(1e-6, ...costs));
  const c3 = (v) => Number(v.toPrecision(3)).toString();
  valueAxis(ctx, canvas, [[0, "0"], [cmax / 2, c3(cmax / 2)], [cmax, c3(cmax)]], 0, cmax, false);
  line(ctx, canvas, xs, rows.map((r) => r[1]), 0, cmax, emax, "#c60", false);
  line(ctx, canvas, xs, rows.map((r) => r[2]), 0, cmax, emax, "#06c", false);
  if (state.built.kind === "classes") {
    valueAxis(ctx, canvas, [[0, "0 %"], [0.5, "50 %"], [1, "100 %"]], 0, 1, true);
    line(ctx, canvas, xs, rows.map((r) => r[3]), 0, 1, emax, "#c60", true);
    line(ctx, canvas, xs, rows.map((r) => r[4]), 0, 1, emax, "#06c", true);
  }
}

function power(k) { return "10" + String(k).split("").map((c) => SUPERSCRIPT[c]).join(""); }

function drawSpeedChart() {
  const canvas = $("speed-chart"), ctx = canvas.getContext("2d"), rows = state.speeds;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!rows.length) return;
  const xs = rows.map((r) => r[0]), emax = xs[xs.length - 1];
  epochAxis(ctx, canvas, emax);
  const logs = rows.map((r) => r[1].map((v) => (v > 0 ? Math.log10(v) : null)));
  const all = logs.flat().filter((v) => v !== null && Number.isFinite(v));
  if (!all.length) return;
  const lo = Math.floor(Math.min(...all)), hi = Math.max(lo + 1, Math.ceil(Math.max(...all)));
  const step = Math.max(1, Math.ceil((hi - lo) / 4)), ticks = [];
  for (let k = hi; k >= lo; k -= step) ticks.push([k, power(k)]);
  valueAxis(ctx, canvas, ticks, lo, hi, false);
  for (let l = 0; l < logs[0].length; l++) {
    line(ctx, canvas, xs, logs.map((r) => r[l]), lo, hi, emax, rgb(COLORS[l % COLORS.length]), false);
  }
}
