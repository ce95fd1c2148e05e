// nnmath playground: this script only draws what the server computes and sends the user's
// choices. Every number on the page (regions, unit maps, costs, speeds, traces) is nnmath's.
// The server sends a snapshot only when the page has drawn the last one (it acks each with
// {"type": "drawn"} once painted): a slow browser gets fewer frames, never a backlog.
"use strict";

const $ = (id) => document.getElementById(id);
const FIELDS = ["data", "noise", "points", "train_fraction", "output", "cost", "init",
  "optimizer", "eta", "batch", "lmbda", "dropout", "seed"];
// the toggles (checkboxes): batch normalisation, residual connections
const TOGGLES = ["batch_norm", "residual"];
const NAMES = { eta: "η", lmbda: "λ", batch: "the mini-batch", dropout: "dropout", optimizer: "the optimizer" };
const SPEEDS = [1, 2, 5, 10, 20, 50, 100, 200, 500, null]; // epochs a second; null: full speed
const state = { options: null, ws: null, session: null, config: {}, built: null, snap: null,
  history: [], speeds: [], selectedPoint: null, selectedUnit: null, onnx: false,
  playing: false, pausedAt: null, pending: null, unacked: 0, received: 0, frame: 0,
  announce: null, draws: [] };

function message(text, kind) {
  const el = $("message");
  el.textContent = text || "";
  el.className = kind || "";
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
  for (const k of ["layers", "activations", "features"]) {
    if (typeof cfg[k] === "string") cfg[k] = cfg[k].split(",").filter((t) => t !== "");
  }
  // one σ for every hidden layer (as the server reads it), so that a later change of η alone
  // is not taken for a change of the network
  if (cfg.activations.length === 1) cfg.activations = cfg.layers.map(() => cfg.activations[0]);
  return suited(cfg);
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

const isRegression = (data) => state.options.regression.includes(data);
const isOneD = (data) => state.options.one_d.includes(data);

// the output, cost and features a data set needs: a real output and the quadratic cost for
// a regression data set, x1's features only for a function of x1
function suited(cfg) {
  const regression = isRegression(cfg.data), d = state.options.defaults;
  if (regression && (cfg.cost !== "quadratic" || cfg.output === "softmax")) {
    cfg.output = "identity"; cfg.cost = "quadratic";
  } else if (!regression && !["softmax", "sigmoid"].includes(cfg.output)) {
    cfg.output = d.output; cfg.cost = d.cost;
  }
  if (isOneD(cfg.data)) {
    cfg.features = cfg.features.filter((f) => state.options.one_d_features.includes(f));
    if (!cfg.features.length) cfg.features = ["x1"];
  }
  return cfg;
}

function showFeatures(cfg) {
  const box = $("features");
  box.textContent = "";
  for (const { name, label } of state.options.features) {
    if (isOneD(cfg.data) && !state.options.one_d_features.includes(name)) continue;
    const el = document.createElement("label");
    const box1 = document.createElement("input");
    box1.type = "checkbox"; box1.value = name; box1.className = "feature"; box1.id = "feature-" + name;
    box1.checked = cfg.features.includes(name);
    el.append(box1, document.createTextNode(label));
    box.append(el);
  }
}

// a toggle's value from the URL ("true", "false") or a checkbox; anything else goes to the
// server as it is, which says what is wrong
const isOn = (v) => v === true || v === "true" || v === "1";

function showConfig(cfg) {
  for (const k of FIELDS) $(k).value = cfg[k];
  for (const k of TOGGLES) $(k).checked = isOn(cfg[k]);
  showFeatures(cfg);
  const box = $("layers");
  box.textContent = "";
  cfg.layers.forEach((width, i) => {
    const row = document.createElement("div");
    row.className = "layer-row";
    const name = document.createElement("span");
    name.textContent = `layer ${i + 2}`;
    const w = document.createElement("input");
    w.type = "number"; w.min = 1; w.max = state.options.limits.units; w.value = width;
    w.className = "width";
    const a = document.createElement("select");
    a.className = "act";
    for (const act of state.options.activations) a.add(new Option(act, act));
    a.value = cfg.activations[i] || cfg.activations[0];
    row.append(name, w, a);
    box.append(row);
  });
}

function readConfig() {
  const cfg = {};
  for (const k of FIELDS) cfg[k] = $(k).value;
  for (const k of TOGGLES) cfg[k] = $(k).checked;
  cfg.features = [...document.querySelectorAll("#features .feature")].filter((e) => e.checked).map((e) => e.value);
  cfg.layers = [...document.querySelectorAll("#layers .width")].map((e) => e.value);
  cfg.activations = [...document.querySelectorAll("#layers .act")].map((e) => e.value);
  return cfg;
}

// what a change does: the settings of training are taken by the running network; any other
// field builds it again, and the page says which
function describe(before, after) {
  const changed = Object.keys(after).filter((k) => String(before[k]) !== String(after[k]));
  return { changed, hot: changed.length > 0 && changed.every((k) => state.options.hot.includes(k)) };
}

function apply(cfg) {
  const { changed, hot } = describe(state.config, cfg);
  if (!changed.length && state.built) return; // nothing new (a field left without a change)
  state.config = cfg;
  history.replaceState(null, "", hashOf(cfg));
  if (!hot && changed.length && state.built) {
    const what = changed.some((k) => ["data", "noise", "points", "train_fraction"].includes(k)) ? "the data" : "the network";
    state.announce = `${what} changed (${changed.join(", ")}): a new network, from epoch 0`;
  }
  send({ type: "config", config: cfg });
}

function onSettingsChange() {
  const before = state.config.data, cfg = readConfig();
  if (cfg.data !== before) {
    // from a function of x1 back to the plane: x2 comes back as an input
    if (isOneD(before) && !isOneD(cfg.data) && !cfg.features.includes("x2")) cfg.features.splice(1, 0, "x2");
    suited(cfg); showConfig(cfg);
  }
  apply(cfg);
}

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

function sendPace() {
  const v = $("speed").value;
  send({ type: "pace", epochs_per_second: v === "full" ? null : Number(v) });
}

const HANDLERS = {
  hello(msg) {
    state.session = msg.session;
    const base = `api/session/${msg.session}/`;
    $("export-model").href = base + "model.safetensors";
    $("export-onnx").href = base + "model.onnx";
    $("export-onnx").hidden = !state.onnx;
    $("export-history").href = base + "history.csv";
    sendPace();
    send({ type: "config", config: state.config });
  },
  built(msg) {
    state.built = msg;
    const ys = msg.kind === "classes" ? Uint8Array : Float32Array;
    msg.trainX = decode(msg.train.x, Float32Array); msg.trainY = decode(msg.train.y, ys);
    msg.testX = decode(msg.test.x, Float32Array); msg.testY = decode(msg.test.y, ys);
    msg.inputLevels = decode(msg.inputs.data, Uint8Array);
    msg.top = Math.max(1e-9, ...[...msg.trainY, ...msg.testY].map(Math.abs));
    // what was shown belongs to the network before: clear it
    state.history = []; state.speeds = []; state.selectedPoint = null; state.selectedUnit = null;
    state.snap = null; state.pending = null;
    for (const row of $("speeds").tBodies[0].rows) while (row.cells.length > 1) row.deleteCell(1);
    $("unit-info").textContent = "Click a unit for its incoming weights and its z, a, δ.";
    $("trace").textContent = "Click a point for its forward and backward pass.";
    delete $("trace").dataset.layers;
    document.body.dataset.state = "built";
    message(state.announce || "", "info");
    state.announce = null;
    $("upload-info").textContent = msg.upload
      ? `${msg.upload.rows} rows, classes ${msg.upload.classes.join(", ")} (features rescaled to [−1, 1])` : "";
    showKind(msg);
    showBlocks(msg.blocks);
    fitCanvases();
    setPlaying(false);
  },
  retuned(msg) {
    const names = msg.changed.map((k) => `${NAMES[k] || k} = ${msg.config[k]}`).join(", ");
    const epoch = state.snap ? Math.floor(state.snap.epoch + 1e-9) : 0;
    message(`${names} from epoch ${epoch}: the network keeps its weights and goes on`, "info");
  },
  snapshot(msg) {
    state.unacked += 1; state.received += 1;
    if (msg.mode === "play" && !state.playing) {
      if (state.pausedAt !== null) { ack(); return; } // paused here: a late frame is never drawn
      setPlaying(true);
    }
    state.pending = msg;
    if (!state.frame) state.frame = requestAnimationFrame(draw);
  },
  trace(msg) { showTrace(msg); },
  unit(msg) { showUnit(msg); },
  error(msg) { message(msg.message); },
  stopped(msg) { setPlaying(false); message(msg.message, msg.message.includes("diverged") ? "warn" : "info"); },
};

function ack() {
  for (; state.unacked > 0; state.unacked--) state.ws.send('{"type":"drawn"}');
}

// one animation frame: draw the newest snapshot, then tell the server it may send the next
function draw() {
  state.frame = 0;
  const msg = state.pending;
  state.pending = null;
  if (msg && state.built && !(msg.mode === "play" && !state.playing)) {
    state.snap = msg;
    const last = state.history[state.history.length - 1];
    if (!last || last[0] !== msg.epoch) {
      state.history.push([msg.epoch, msg.train_cost, msg.test_cost, msg.train_accuracy, msg.test_accuracy]);
      state.speeds.push([msg.epoch, msg.speeds]);
    }
    if (state.history.length > 3000) { state.history = thin(state.history); state.speeds = thin(state.speeds); }
    if (msg.mode !== "play") setPlaying(false);
    showScores(msg);
    drawRegions(); drawNetwork(); drawCostChart(); drawSpeedChart(); showSpeeds(msg);
    showVerdict(msg.diverged);
    state.draws.push({ t: performance.now(), mode: msg.mode, epoch: msg.epoch });
    if (state.draws.length > 200) state.draws.shift();
    document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots || 0) + 1);
  }
  ack();
}

function thin(rows) { return rows.filter((_, i) => i % 2 === 0 || i === rows.length - 1); }

function setPlaying(on) {
  state.playing = on;
  $("play").textContent = on ? "❚❚ pause" : "▶ play";
}

function showVerdict(text) {
  const el = $("message");
  if (text) message(text, "warn");
  else if (el.className === "warn" && el.textContent.startsWith("the run diverged")) message("");
}

function setStat(id, value, text) {
  const el = $(id);
  el.dataset.value = value === null || value === undefined ? "" : String(value);
  el.textContent = text;
}

function percent(v) { return v === null || v === undefined ? "–" : (100 * v).toFixed(1) + " %"; }

function showScores(s) {
  setStat("epoch", s.epoch, String(Math.floor(s.epoch + 1e-9)));
  setStat("steps", s.step, String(s.step));
  setStat("train-accuracy", s.train_accuracy, percent(s.train_accuracy));
  setStat("test-accuracy", s.test_accuracy, percent(s.test_accuracy));
  setStat("test-cost", s.test_cost, fmt(s.test_cost));
}

function showKind(built) {
  $("regions-title").innerHTML = built.kind === "classes" ? "Decision regions (filled: train, ringed: test)"
    : built.dims === 1 ? "The network's output a<sup>L</sup> along x₁ (line) and the data (ringed: test)"
      : "The network's output a<sup>L</sup> over the plane (orange &gt; 0 &gt; blue; ringed: test)";
  $("cost-title").textContent = built.kind === "classes" ? "Cost and accuracy against epoch" : "Quadratic cost against epoch";
  document.querySelector(".legend span:last-child").textContent = built.kind === "classes"
    ? "solid: cost (left), dashed: accuracy (right)" : "cost";
}

// what the toggles changed in the titles: which gradient is a layer's speed, what the
// drawing's marks mean
function showBlocks(blocks) {
  const bn = blocks.batch_norm.some(Boolean), skip = blocks.residual.some(Boolean);
  $("speed-title").innerHTML = bn
    ? "Speed of learning ‖∂C/∂β<sup>l</sup>‖ of each layer's BN (output: ‖∂C/∂b<sup>L</sup>‖) against epoch"
    : "Speed of learning ‖∂C/∂b<sup>l</sup>‖ against epoch";
  $("speeds").rows[2].cells[0].title = bn ? "‖∂C/∂β^l‖ of the layer's BN; the output's ‖∂C/∂b^L‖" : "‖∂C/∂b^l‖";
  const marks = [bn ? "BN: batch norm before σ" : "", skip ? "arc: identity path" : ""].filter(Boolean);
  $("network-legend").textContent = marks.length ? "; " + marks.join(", ") : "";
}

function showSpeeds(s) {
  const rows = $("speeds").tBodies[0].rows, acts = state.built.config.activations.concat([state.built.config.output]);
  if (rows[0].cells.length !== s.speeds.length + 1) {
    for (const row of rows) while (row.cells.length > 1) row.deleteCell(1);
    s.speeds.forEach((_, i) => {
      rows[0].insertCell().innerHTML = `<span style="color:${rgb(COLORS[i % COLORS.length])}">■</span> ${i + 2}`;
      const act = rows[1].insertCell();
      act.textContent = acts[i]; act.className = "act";
      rows[2].insertCell().className = "speed";
    });
  }
  s.speeds.forEach((v, i) => {
    const cell = rows[2].cells[i + 1];
    cell.dataset.value = v === null ? "" : String(v);
    cell.textContent = v !== null && Math.abs(v) < 0.01 && v !== 0 ? v.toExponential(1) : fmt(v, 2);
  });
}

// ------------------------------------------------------------------ trace and unit

function vec(v) { return "[" + v.map((t) => fmt(t, 3)).join(", ") + "]"; }

// text from the user's CSV (class labels) as HTML text, never as markup
function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// ∂C/∂w: a Dense's matrix one row a line; a BatchNorm's ∂C/∂γ is a vector
function matrix(m) { return m.length && Array.isArray(m[0]) ? m.map(vec).join("<br>") : vec(m); }

// one layer's row of a point's trace; a residual block's inner layers (l.1, l.2, …: F, in
// forward order) come before the block's own row (z = a + F(a), a = σ(z))
function traceRows(layer) {
  const inner = (layer.inner || []).map(traceRows).join("");
  const what = layer.kind ? [layer.kind.split("(")[0], layer.activation].filter(Boolean).join(" ") : layer.activation;
  return inner + `<tr><td>${layer.layer}</td><td>${what}</td><td>${vec(layer.z)}</td><td>${vec(layer.a)}</td>` +
    `<td>${vec(layer.delta)}</td><td>${vec(layer.nabla_b)}</td><td>${matrix(layer.nabla_w)}</td></tr>`;
}

function showTrace(msg) {
  const t = msg.trace, el = $("trace");
  const what = typeof msg.label === "number" ? `target y = ${fmt(msg.label)}` : `class ${esc(msg.label)}`;
  let html = `<p>${msg.split} point ${msg.index}, ${what}: a<sup>1</sup> = x = ${vec(t.x)}, y = ${vec(t.y)}, C<sub>x</sub> = ${fmt(t.cost, 4)} (${t.cost_name})</p>`;
  html += "<table><tr><th>l</th><th>σ</th><th>z<sup>l</sup></th><th>a<sup>l</sup></th><th>δ<sup>l</sup></th><th>∂C/∂b<sup>l</sup></th><th>∂C/∂w<sup>l</sup></th></tr>";
  for (const layer of t.layers) html += traceRows(layer);
  el.innerHTML = html + "</table>";
  el.dataset.layers = String(t.layers.length);
  state.selectedPoint = { split: msg.split, index: msg.index };
  drawRegions();
}

function showUnit(msg) {
  $("unit-info").textContent = `unit ${msg.unit} of layer ${msg.layer} (${msg.activation}): incoming w = ${vec(msg.weights)}, ` +
    `b = ${fmt(msg.bias)}; for ${msg.point[0]} point ${msg.point[1]}: z = ${fmt(msg.z)}, a = ${fmt(msg.a)}, δ = ${fmt(msg.delta)}`;
  state.selectedUnit = { layer: msg.layer, unit: msg.unit };
  drawNetwork();
}

function onRegionsClick(event) {
  const built = state.built;
  if (!built) return;
  const canvas = $("regions"), r = canvas.getBoundingClientRect();
  const mx = (event.clientX - r.left) * canvas.width / r.width, my = (event.clientY - r.top) * canvas.height / r.height;
  let best = null;
  for (const [split, X, Y] of [["train", built.trainX, built.trainY], ["test", built.testX, built.testY]]) {
    for (let i = 0; i < Y.length; i++) {
      const [px, py] = pointAt(X, Y, i, canvas);
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
  state.config = suited(Object.assign(readConfig(), { data: "upload" }));
  showConfig(state.config);
  history.replaceState(null, "", hashOf(state.config));
}

function onPlay() {
  const playing = !state.playing;
  state.pausedAt = playing ? null : performance.now();
  setPlaying(playing); // at once: a play frame that arrives after a pause is never drawn
  if (!playing) { state.pending = null; }
  send({ type: playing ? "play" : "pause" });
}

function fitCanvases() {
  const wide = window.innerWidth >= 1200, side = wide ? 400 : 320;
  const size = (id, w, h) => { const c = $(id); if (c.width !== w || c.height !== h) { c.width = w; c.height = h; } };
  size("regions", side, side); size("cost-chart", side, 150);
  $("output-panel").style.width = side + 18 + "px"; // a long title wraps, never widens it
  // the middle column takes what the others leave: measured once their canvases are sized
  size("network", 10, 10); size("speed-chart", 10, 10);
  const net = $("network-panel").clientWidth - 18;
  size("network", net, wide ? 340 : 300); size("speed-chart", net, 140);
  if (state.snap) { drawRegions(); drawNetwork(); drawCostChart(); drawSpeedChart(); }
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
  $("play").onclick = onPlay;
  $("step").onclick = () => send({ type: "step" });
  $("epoch-button").onclick = () => send({ type: "epoch" });
  $("reset").onclick = () => { message(""); state.announce = "reset: the same seed, the same initial weights, epoch 0"; send({ type: "reset" }); };
  $("speed").addEventListener("change", sendPace);
  $("share").onclick = (event) => { event.preventDefault(); message(location.href, "info"); };
  $("regions").addEventListener("click", onRegionsClick);
  $("network").addEventListener("click", onNetworkClick);
  window.addEventListener("resize", fitCanvases);
  window.addEventListener("hashchange", () => { const cfg = configFromHash(); showConfig(cfg); apply(cfg); });
}

async function main() {
  const response = await fetch("api/options");
  state.options = await response.json();
  state.onnx = state.options.onnx;
  fillSelect("data", state.options.datasets);
  for (const id of ["output", "cost", "init", "optimizer"]) fillSelect(id, state.options[id === "output" ? "outputs" : id + "s"]);
  fillSelect("activation-all", state.options.activations);
  for (const v of SPEEDS) $("speed").add(new Option(v === null ? "full" : `${v} epoch${v === 1 ? "" : "s"}/s`, v === null ? "full" : String(v)));
  $("speed").value = state.options.pace === null ? "full" : String(state.options.pace);
  state.config = configFromHash();
  showConfig(state.config);
  fitCanvases();
  wire();
  connect();
}

main().catch((err) => message("the page could not start: " + err));
