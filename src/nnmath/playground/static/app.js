// nnmath playground: this script only draws what the server computes and sends the user's
// choices. Every number on the page (regions, unit maps, costs, speeds, traces) is nnmath's.
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = [[230, 120, 30], [40, 110, 200], [60, 160, 70], [180, 60, 160], [200, 60, 60],
  [120, 120, 120], [0, 160, 160], [150, 120, 40], [90, 70, 200], [220, 170, 0]];
const FIELDS = ["data", "noise", "points", "train_fraction", "output", "cost", "init",
  "optimizer", "eta", "batch", "lmbda", "dropout", "seed"];
const state = { options: null, ws: null, session: null, config: {}, built: null, snap: null,
  history: [], speeds: [], selected: null, onnx: false };

function decode(b64, Type) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Type(bytes.buffer);
}

function message(text, info) {
  const el = $("message");
  el.textContent = text || "";
  el.className = info ? "info" : "";
}

function fmt(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  return Number(v).toPrecision(digits || 3);
}

// ------------------------------------------------------------------ configuration and URL

function configFromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const cfg = Object.assign({}, state.options.defaults);
  for (const [k, v] of params) if (k in cfg) cfg[k] = v;
  for (const k of ["layers", "activations"]) {
    if (typeof cfg[k] === "string") cfg[k] = cfg[k].split(",").filter((t) => t !== "");
  }
  return cfg;
}

function hashOf(cfg) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(cfg)) params.set(k, Array.isArray(v) ? v.join(",") : v);
  return "#" + params.toString();
}

function fillSelect(id, names) {
  const el = $(id);
  for (const name of names) el.add(new Option(name, name));
}

function showConfig(cfg) {
  for (const k of FIELDS) $(k).value = cfg[k];
  const box = $("layers");
  box.textContent = "";
  cfg.layers.forEach((width, i) => {
    const row = document.createElement("div");
    row.className = "layer-row";
    row.innerHTML = `<span>layer ${i + 2}</span>`;
    const w = document.createElement("input");
    w.type = "number"; w.min = 1; w.max = state.options.limits.units; w.value = width;
    w.className = "width";
    const a = document.createElement("select");
    a.className = "act";
    for (const name of state.options.activations) a.add(new Option(name, name));
    a.value = cfg.activations[i] || cfg.activations[0];
    row.append(w, a);
    box.append(row);
  });
}

function readConfig() {
  const cfg = {};
  for (const k of FIELDS) cfg[k] = $(k).value;
  cfg.layers = [...document.querySelectorAll("#layers .width")].map((e) => e.value);
  cfg.activations = [...document.querySelectorAll("#layers .act")].map((e) => e.value);
  return cfg;
}

function apply(cfg) {
  state.config = cfg;
  history.replaceState(null, "", hashOf(cfg));
  send({ type: "config", config: cfg });
}

function onSettingsChange() { apply(readConfig()); }

// ------------------------------------------------------------------ the connection

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  state.ws = ws;
  ws.onopen = () => { document.body.dataset.state = "connected"; };
  ws.onclose = () => {
    document.body.dataset.state = "closed";
    if (!$("message").textContent) message("the connection to the server closed: reload the page");
  };
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    const handler = HANDLERS[msg.type];
    if (handler) handler(msg);
  };
}

const HANDLERS = {
  hello(msg) {
    state.session = msg.session;
    const base = `api/session/${msg.session}/`;
    $("export-model").href = base + "model.safetensors";
    $("export-onnx").href = base + "model.onnx";
    $("export-onnx").hidden = !state.onnx;
    $("export-history").href = base + "history.csv";
    send({ type: "config", config: state.config });
  },
  built(msg) {
    state.built = msg;
    state.built.trainX = decode(msg.train.x, Float32Array);
    state.built.trainY = decode(msg.train.y, Uint8Array);
    state.built.testX = decode(msg.test.x, Float32Array);
    state.built.testY = decode(msg.test.y, Uint8Array);
    state.history = []; state.speeds = []; state.selected = null;
    $("speeds").tBodies[0].textContent = "";
    document.body.dataset.state = "built";
    $("upload-info").textContent = msg.upload
      ? `${msg.upload.rows} rows, classes ${msg.upload.classes.join(", ")} (features rescaled to [−1, 1])` : "";
    setPlaying(false);
  },
  snapshot(msg) {
    state.snap = msg;
    state.history.push([msg.epoch, msg.train_cost, msg.test_cost, msg.train_accuracy, msg.test_accuracy]);
    state.speeds.push([msg.epoch, msg.speeds]);
    if (state.history.length > 3000) { state.history = thin(state.history); state.speeds = thin(state.speeds); }
    setPlaying(msg.mode === "play");
    showScores(msg);
    drawRegions(); drawNetwork(); drawCostChart(); drawSpeedChart(); showSpeeds(msg);
    document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots || 0) + 1);
  },
  trace(msg) { showTrace(msg); },
  unit(msg) { showUnit(msg); },
  error(msg) { message(msg.message); },
  stopped(msg) { setPlaying(false); message(msg.message, true); },
};

function thin(rows) { return rows.filter((_, i) => i % 2 === 0 || i === rows.length - 1); }

function setPlaying(on) {
  state.playing = on;
  $("play").textContent = on ? "❚❚ pause" : "▶ play";
}

function setStat(id, value, text) {
  const el = $(id);
  el.dataset.value = value === null ? "" : String(value);
  el.textContent = text;
}

function showScores(s) {
  setStat("epoch", s.epoch, s.epoch.toFixed(2));
  setStat("steps", s.step, String(s.step));
  setStat("train-accuracy", s.train_accuracy, s.train_accuracy === null ? "–" : (100 * s.train_accuracy).toFixed(1) + " %");
  setStat("test-accuracy", s.test_accuracy, s.test_accuracy === null ? "–" : (100 * s.test_accuracy).toFixed(1) + " %");
  setStat("test-cost", s.test_cost, fmt(s.test_cost));
}

// ------------------------------------------------------------------ drawing

function toCanvas(x, y, b, w, h) {
  return [(x - b[0]) / (b[1] - b[0]) * w, (b[3] - y) / (b[3] - b[2]) * h];
}

function drawRegions() {
  const canvas = $("regions"), ctx = canvas.getContext("2d");
  const s = state.snap, built = state.built;
  if (!s || !built) return;
  const cls = decode(s.regions.cls, Uint8Array), level = decode(s.regions.level, Uint8Array);
  const n = Math.round(Math.sqrt(cls.length));
  const img = new ImageData(n, n);
  for (let i = 0; i < cls.length; i++) {
    const c = COLORS[cls[i] % COLORS.length], t = 0.15 + 0.55 * level[i] / 255;
    for (let k = 0; k < 3; k++) img.data[4 * i + k] = Math.round(255 - t * (255 - c[k]));
    img.data[4 * i + 3] = 255;
  }
  const off = document.createElement("canvas");
  off.width = n; off.height = n;
  off.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
  drawPoints(ctx, canvas, built.trainX, built.trainY, false);
  drawPoints(ctx, canvas, built.testX, built.testY, true);
}

function drawPoints(ctx, canvas, X, Y, ringed) {
  const b = state.built.bounds;
  for (let i = 0; i < Y.length; i++) {
    const [px, py] = toCanvas(X[2 * i], X[2 * i + 1], b, canvas.width, canvas.height);
    const c = COLORS[Y[i] % COLORS.length];
    ctx.beginPath();
    ctx.arc(px, py, 3, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
    ctx.fill();
    ctx.lineWidth = ringed ? 1.5 : 0.6;
    ctx.strokeStyle = ringed ? "#000" : "#fff";
    ctx.stroke();
  }
}

function layout(sizes, canvas) {
  const cols = sizes.length, dx = canvas.width / cols, maxUnits = Math.max(...sizes);
  const box = Math.max(4, Math.min(30, (canvas.height - 10) / maxUnits - 2, dx * 0.5));
  return sizes.map((n, l) => {
    const gap = Math.min(box + 4, (canvas.height - 10) / n);
    const top = (canvas.height - gap * n) / 2;
    return Array.from({ length: n }, (_, j) => ({ x: dx * (l + 0.5), y: top + gap * (j + 0.5), box }));
  });
}

function drawNetwork() {
  const canvas = $("network"), ctx = canvas.getContext("2d");
  const s = state.snap;
  if (!s || !state.built) return;
  const sizes = state.built.sizes, pos = layout(sizes, canvas);
  state.layout = pos;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const weights = s.weights.map((w) => decode(w, Float32Array));
  let wmax = 1e-12;
  for (const W of weights) for (const v of W) wmax = Math.max(wmax, Math.abs(v));
  for (let l = 0; l < weights.length; l++) {
    const W = weights[l], nIn = sizes[l];
    for (let j = 0; j < sizes[l + 1]; j++) {
      for (let k = 0; k < nIn; k++) {
        const v = W[j * nIn + k], a = pos[l][k], b = pos[l + 1][j];
        ctx.strokeStyle = v >= 0 ? "rgba(40,110,200,0.55)" : "rgba(230,120,30,0.55)";
        ctx.lineWidth = 0.2 + 3 * Math.abs(v) / wmax;
        ctx.beginPath(); ctx.moveTo(a.x, a.y); ctx.lineTo(b.x, b.y); ctx.stroke();
      }
    }
  }
  drawUnits(ctx, s, sizes, pos);
}

function drawUnits(ctx, s, sizes, pos) {
  const maps = s.units.map((u) => decode(u.data, Uint8Array));
  for (let l = 0; l < sizes.length; l++) {
    for (let j = 0; j < sizes[l]; j++) {
      const p = pos[l][j], h = p.box / 2;
      if (l > 0 && l < sizes.length - 1) {
        const m = maps[l - 1], n = Math.round(Math.sqrt(m.length / sizes[l]));
        const img = new ImageData(n, n);
        for (let i = 0; i < n * n; i++) {
          const v = m[j * n * n + i];
          img.data[4 * i] = 255 - v * 0.8; img.data[4 * i + 1] = 255 - v * 0.55;
          img.data[4 * i + 2] = 255 - v * 0.2; img.data[4 * i + 3] = 255;
        }
        const off = document.createElement("canvas");
        off.width = n; off.height = n;
        off.getContext("2d").putImageData(img, 0, 0);
        ctx.drawImage(off, p.x - h, p.y - h, p.box, p.box);
      } else {
        ctx.fillStyle = l === 0 ? "#dde" : "#eed";
        ctx.fillRect(p.x - h, p.y - h, p.box, p.box);
      }
      ctx.strokeStyle = "#555"; ctx.lineWidth = 0.8;
      ctx.strokeRect(p.x - h, p.y - h, p.box, p.box);
    }
  }
}

function axes(ctx, canvas, ylabel) {
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#999"; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(40, 5); ctx.lineTo(40, canvas.height - 20);
  ctx.lineTo(canvas.width - 5, canvas.height - 20); ctx.stroke();
  ctx.fillStyle = "#555"; ctx.font = "10px sans-serif";
  ctx.fillText(ylabel, 2, 12);
  ctx.fillText("epoch", canvas.width - 40, canvas.height - 6);
}

function line(ctx, canvas, xs, ys, lo, hi, color, dashed) {
  const x1 = Math.max(xs[xs.length - 1], 1e-9), w = canvas.width - 45, h = canvas.height - 25;
  ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.setLineDash(dashed ? [4, 3] : []);
  ctx.beginPath();
  let started = false;
  for (let i = 0; i < xs.length; i++) {
    if (ys[i] === null || !Number.isFinite(ys[i])) { started = false; continue; }
    const px = 40 + xs[i] / x1 * w, py = 5 + (1 - (ys[i] - lo) / (hi - lo || 1)) * h;
    if (started) ctx.lineTo(px, py); else ctx.moveTo(px, py);
    started = true;
  }
  ctx.stroke(); ctx.setLineDash([]);
}

function drawCostChart() {
  const canvas = $("cost-chart"), ctx = canvas.getContext("2d"), rows = state.history;
  if (!rows.length) return;
  axes(ctx, canvas, "cost / acc.");
  const xs = rows.map((r) => r[0]);
  const costs = rows.flatMap((r) => [r[1], r[2]]).filter(Number.isFinite);
  const cmax = Math.max(1e-9, ...costs);
  line(ctx, canvas, xs, rows.map((r) => r[1]), 0, cmax, "#c60", false);
  line(ctx, canvas, xs, rows.map((r) => r[2]), 0, cmax, "#06c", false);
  line(ctx, canvas, xs, rows.map((r) => r[3]), 0, 1, "#c60", true);
  line(ctx, canvas, xs, rows.map((r) => r[4]), 0, 1, "#06c", true);
  ctx.fillStyle = "#555";
  ctx.fillText(fmt(cmax, 2), 4, 24);
}

function drawSpeedChart() {
  const canvas = $("speed-chart"), ctx = canvas.getContext("2d"), rows = state.speeds;
  if (!rows.length) return;
  axes(ctx, canvas, "log10 ‖∂C/∂b‖");
  const logs = rows.map((r) => r[1].map((v) => (v > 0 ? Math.log10(v) : null)));
  const all = logs.flat().filter((v) => v !== null);
  if (!all.length) return;
  const lo = Math.floor(Math.min(...all)), hi = Math.ceil(Math.max(...all)) + (Math.min(...all) === Math.max(...all) ? 1 : 0);
  const xs = rows.map((r) => r[0]), L = logs[0].length;
  for (let l = 0; l < L; l++) {
    const c = COLORS[l % COLORS.length];
    line(ctx, canvas, xs, logs.map((r) => r[l]), lo, hi, `rgb(${c[0]},${c[1]},${c[2]})`, false);
  }
  ctx.fillStyle = "#555";
  ctx.fillText(String(hi), 26, 12 + 10); ctx.fillText(String(lo), 26, canvas.height - 22);
}

function showSpeeds(s) {
  const body = $("speeds").tBodies[0], acts = state.built.config.activations.concat([state.built.config.output]);
  if (body.rows.length !== s.speeds.length) {
    body.textContent = "";
    s.speeds.forEach((_, i) => {
      const tr = body.insertRow();
      tr.dataset.layer = String(i + 2);
      const c = COLORS[i % COLORS.length];
      tr.insertCell().innerHTML = `<span style="color:rgb(${c})">■</span> ${i + 2}`;
      tr.insertCell().textContent = acts[i];
      tr.insertCell().className = "speed";
    });
  }
  s.speeds.forEach((v, i) => {
    const cell = body.rows[i].cells[2];
    cell.dataset.value = String(v);
    cell.textContent = fmt(v);
  });
}

// ------------------------------------------------------------------ trace and unit

function vec(v) { return "[" + v.map((t) => fmt(t, 3)).join(", ") + "]"; }

// text from the user's CSV (class labels) as HTML text, never as markup
function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function showTrace(msg) {
  const t = msg.trace, el = $("trace");
  let html = `<p>${msg.split} point ${msg.index}, class ${esc(msg.label)}: a<sup>1</sup> = x = ${vec(t.x)}, y = ${vec(t.y)}, C<sub>x</sub> = ${fmt(t.cost, 4)} (${t.cost_name})</p>`;
  html += "<table><tr><th>l</th><th>σ</th><th>z<sup>l</sup></th><th>a<sup>l</sup></th><th>δ<sup>l</sup></th><th>∂C/∂b<sup>l</sup></th><th>∂C/∂w<sup>l</sup></th></tr>";
  for (const layer of t.layers) {
    html += `<tr><td>${layer.layer}</td><td>${layer.activation}</td><td>${vec(layer.z)}</td><td>${vec(layer.a)}</td>` +
      `<td>${vec(layer.delta)}</td><td>${vec(layer.nabla_b)}</td><td>${layer.nabla_w.map(vec).join("<br>")}</td></tr>`;
  }
  el.innerHTML = html + "</table>";
  el.dataset.layers = String(t.layers.length);
}

function showUnit(msg) {
  $("unit-info").textContent = `unit ${msg.unit} of layer ${msg.layer} (${msg.activation}): incoming w = ${vec(msg.weights)}, ` +
    `b = ${fmt(msg.bias)}; for ${msg.point[0]} point ${msg.point[1]}: z = ${fmt(msg.z)}, a = ${fmt(msg.a)}, δ = ${fmt(msg.delta)}`;
}

function onRegionsClick(event) {
  const built = state.built;
  if (!built) return;
  const canvas = $("regions"), r = canvas.getBoundingClientRect();
  const mx = (event.clientX - r.left) * canvas.width / r.width, my = (event.clientY - r.top) * canvas.height / r.height;
  let best = null;
  for (const [split, X] of [["train", built.trainX], ["test", built.testX]]) {
    for (let i = 0; i < X.length / 2; i++) {
      const [px, py] = toCanvas(X[2 * i], X[2 * i + 1], built.bounds, canvas.width, canvas.height);
      const d = (px - mx) ** 2 + (py - my) ** 2;
      if (d < 100 && (!best || d < best.d)) best = { split, index: i, d };
    }
  }
  if (best) send({ type: "trace", split: best.split, index: best.index });
}

function onNetworkClick(event) {
  if (!state.layout) return;
  const canvas = $("network"), r = canvas.getBoundingClientRect();
  const mx = (event.clientX - r.left) * canvas.width / r.width, my = (event.clientY - r.top) * canvas.height / r.height;
  state.layout.forEach((units, l) => units.forEach((p, j) => {
    if (l > 0 && Math.abs(p.x - mx) <= p.box / 2 + 2 && Math.abs(p.y - my) <= p.box / 2 + 2) {
      send({ type: "unit", layer: l + 1, unit: j });
    }
  }));
}

// ------------------------------------------------------------------ start

async function upload(event) {
  const file = event.target.files[0];
  if (!file || !state.session) return;
  if (file.size > state.options.limits.upload_bytes) {
    message(`the file is larger than ${state.options.limits.upload_bytes / 1024} KiB, the upload limit`);
    return;
  }
  const q = `?train_fraction=${encodeURIComponent($("train_fraction").value)}&seed=${encodeURIComponent($("seed").value)}`;
  const response = await fetch(`api/session/${state.session}/upload${q}`, { method: "POST", body: await file.text() });
  const answer = await response.json();
  if (!response.ok) { message(answer.error); return; }
  message("");
  state.config = Object.assign(readConfig(), { data: "upload" });
  $("data").value = "upload";
  history.replaceState(null, "", hashOf(state.config));
}

function wire() {
  $("settings").addEventListener("change", (event) => {
    if (event.target.id === "upload") return;
    if (event.target.id === "activation-all") {
      const name = event.target.value;
      if (!name) return;
      document.querySelectorAll("#layers .act").forEach((e) => { e.value = name; });
      event.target.value = "";
    }
    message("");
    onSettingsChange();
  });
  $("upload").addEventListener("change", upload);
  $("add-layer").onclick = () => {
    const cfg = readConfig();
    if (cfg.layers.length >= state.options.limits.hidden_layers) {
      message(`at most ${state.options.limits.hidden_layers} hidden layers`); return;
    }
    cfg.layers.push(cfg.layers[cfg.layers.length - 1] || 4);
    cfg.activations.push(cfg.activations[cfg.activations.length - 1] || state.options.defaults.activations[0]);
    showConfig(cfg); apply(cfg);
  };
  $("remove-layer").onclick = () => {
    const cfg = readConfig();
    cfg.layers.pop(); cfg.activations.pop();
    showConfig(cfg); apply(cfg);
  };
  $("play").onclick = () => send({ type: state.playing ? "pause" : "play" });
  $("step").onclick = () => send({ type: "step" });
  $("epoch-button").onclick = () => send({ type: "epoch" });
  $("reset").onclick = () => { message(""); send({ type: "reset" }); };
  $("share").onclick = (event) => { event.preventDefault(); message(location.href, true); };
  $("regions").addEventListener("click", onRegionsClick);
  $("network").addEventListener("click", onNetworkClick);
  window.addEventListener("hashchange", () => { const cfg = configFromHash(); showConfig(cfg); apply(cfg); });
}

async function main() {
  const response = await fetch("api/options");
  state.options = await response.json();
  state.onnx = state.options.onnx;
  fillSelect("data", state.options.datasets);
  for (const id of ["output", "cost", "init", "optimizer"]) fillSelect(id, state.options[id === "output" ? "outputs" : id + "s"]);
  fillSelect("activation-all", state.options.activations);
  state.config = configFromHash();
  showConfig(state.config);
  wire();
  connect();
}

main().catch((err) => message("the page could not start: " + err));
