// The lightning-eq page: predict a curve, draw it, equalise an upload, export presets. Plain JS, no libraries.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG_NS = "http://www.w3.org/2000/svg";
const PLOT = { width: 800, height: 320, left: 52, right: 16, top: 14, bottom: 40, fMin: 20, fMax: 20000 };
const GRID_HZ = [20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000];
const BASE_MAX_GAIN_DB = 5; // the API is asked at amount 1 and 5 dB; gains scale linearly from there

const state = { prediction: null, limits: null, equalisedWith: null, downloadUrl: null, originalUrl: null };

// ---------- talking to the API ----------

async function api(path, options) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new Error("Could not reach the lightning-eq server. Is `lightning-eq serve` still running?");
  }
  if (response.ok) return response;
  let message = `The server answered ${response.status} ${response.statusText}.`;
  try {
    const body = await response.json();
    if (typeof body.detail === "string") message = body.detail;
  } catch (err) { /* not JSON: keep the status line */ }
  throw new Error(message);
}

function showError(id, message) {
  const el = $(id);
  el.textContent = message || "";
  el.hidden = !message;
}

// Run a long step with its buttons disabled and a spinner plus text in its status line; the step may
// return a line to leave in the status when it is done.
async function working(button, statusId, text, errorId, step) {
  const buttons = button ? [].concat(button) : [];
  buttons.forEach((b) => { b.disabled = true; });
  showError(errorId, "");
  const status = $(statusId);
  status.innerHTML = "";
  const spinner = document.createElement("span");
  spinner.className = "spinner";
  status.append(spinner, text);
  status.classList.add("busy");
  try {
    const done = await step();
    status.textContent = done || "";
  } catch (err) {
    status.textContent = "";
    showError(errorId, err.message);
  } finally {
    status.classList.remove("busy");
    buttons.forEach((b) => { b.disabled = false; });
  }
}

// ---------- the curve ----------

function amount() { return parseFloat($("amount").value); }

function maxGainDb() {
  const value = parseFloat($("max-gain").value);
  return Number.isFinite(value) && value > 0 ? Math.min(value, 24) : BASE_MAX_GAIN_DB;
}

function currentGains() {
  const scale = amount() * maxGainDb() / BASE_MAX_GAIN_DB;
  return state.prediction.gains_db.map((g) => g * scale);
}

function xOf(hz) {
  const w = PLOT.width - PLOT.left - PLOT.right;
  return PLOT.left + (Math.log10(hz / PLOT.fMin) / Math.log10(PLOT.fMax / PLOT.fMin)) * w;
}

function yOf(db, rangeDb) {
  const h = PLOT.height - PLOT.top - PLOT.bottom;
  return PLOT.top + ((rangeDb - db) / (2 * rangeDb)) * h;
}

function el(name, attrs, parent, text) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function hzLabel(hz) { return hz >= 1000 ? `${hz / 1000}k` : `${hz}`; }
function freqText(hz) { return hz < 1000 ? `${hz} Hz` : `${parseFloat((hz / 1000).toFixed(hz < 10000 ? 2 : 1))} kHz`; }
function dbLabel(db) { return db > 0 ? `+${db}` : db < 0 ? `−${-db}` : "0"; }
function signed(db) { return (db >= 0 ? "+" : "−") + Math.abs(db).toFixed(1); }

// A smooth path through the points (Catmull-Rom as cubic Béziers).
function smoothPath(points) {
  let d = `M${points[0][0].toFixed(1)},${points[0][1].toFixed(1)}`;
  for (let i = 0; i < points.length - 1; i++) {
    const [p0, p1, p2, p3] = [points[Math.max(i - 1, 0)], points[i], points[i + 1], points[Math.min(i + 2, points.length - 1)]];
    const c1 = [p1[0] + (p2[0] - p0[0]) / 6, p1[1] + (p2[1] - p0[1]) / 6];
    const c2 = [p2[0] - (p3[0] - p1[0]) / 6, p2[1] - (p3[1] - p1[1]) / 6];
    d += ` C${c1[0].toFixed(1)},${c1[1].toFixed(1)} ${c2[0].toFixed(1)},${c2[1].toFixed(1)} ${p2[0].toFixed(1)},${p2[1].toFixed(1)}`;
  }
  return d;
}

function drawAxes(svg, rangeDb) {
  const step = rangeDb <= 6 ? 2 : rangeDb <= 12 ? 3 : rangeDb <= 24 ? 6 : 12;
  const grid = el("g", { class: "grid" }, svg);
  for (let db = -rangeDb; db <= rangeDb; db += step) {
    const y = yOf(db, rangeDb);
    el("line", { x1: PLOT.left, x2: PLOT.width - PLOT.right, y1: y, y2: y, class: db === 0 ? "zero" : "" }, grid);
    el("text", { x: PLOT.left - 8, y: y + 4, class: "axis-label", "text-anchor": "end" }, grid, dbLabel(db));
  }
  for (const hz of GRID_HZ) {
    const x = xOf(hz);
    el("line", { x1: x, x2: x, y1: PLOT.top, y2: PLOT.height - PLOT.bottom }, grid);
    el("text", { x, y: PLOT.height - PLOT.bottom + 16, class: "axis-label", "text-anchor": "middle" }, grid, hzLabel(hz));
  }
  el("text", { x: PLOT.width - PLOT.right, y: PLOT.height - 4, class: "axis-title", "text-anchor": "end" }, svg, "frequency (Hz)");
  el("text", { x: 14, y: (PLOT.height - PLOT.bottom + PLOT.top) / 2, class: "axis-title", "text-anchor": "middle",
                transform: `rotate(-90 14 ${(PLOT.height - PLOT.bottom + PLOT.top) / 2})` }, svg, "gain (dB)");
}

function drawPlot() {
  const svg = $("plot");
  svg.replaceChildren();
  $("amount-value").textContent = `${amount().toFixed(2)}×`;
  const peak = state.prediction ? Math.max(...currentGains().map(Math.abs)) : 0;
  const rangeDb = Math.max(6, Math.ceil((peak + 0.5) / 3) * 3);
  drawAxes(svg, rangeDb);
  if (!state.prediction) return;
  const gains = currentGains();
  const points = state.prediction.freqs_hz.map((hz, i) => [xOf(hz), yOf(gains[i], rangeDb)]);
  const line = smoothPath(points);
  const zeroY = yOf(0, rangeDb).toFixed(1);
  el("path", { d: `${line} L${points[points.length - 1][0].toFixed(1)},${zeroY} L${points[0][0].toFixed(1)},${zeroY} Z`, class: "area" }, svg);
  el("path", { d: line, class: "curve", id: "curve-path" }, svg);
  const ticks = el("g", { class: "centre-ticks" }, svg);
  const markers = el("g", { class: "centres" }, svg);
  state.prediction.freqs_hz.forEach((hz, i) => {
    const x = xOf(hz);
    el("line", { x1: x, x2: x, y1: PLOT.height - PLOT.bottom, y2: PLOT.height - PLOT.bottom - 6, class: "centre-tick" }, ticks);
    const dot = el("circle", { cx: x, cy: points[i][1], r: 3.5, class: "centre" }, markers);
    el("title", {}, dot, `${freqText(hz)}: ${signed(gains[i])} dB`);
  });
  describeCurve(gains);
}

function describeCurve(gains) {
  const freqs = state.prediction.freqs_hz;
  const hi = gains.indexOf(Math.max(...gains));
  const lo = gains.indexOf(Math.min(...gains));
  $("curve-summary").textContent =
    `Largest boost ${signed(gains[hi])} dB at ${freqText(freqs[hi])}; largest cut ${signed(gains[lo])} dB at ${freqText(freqs[lo])}.`;
  if (state.equalisedWith && state.equalisedWith !== settingsKey()) {
    $("apply-report").textContent = "The curve has changed since you equalised: press Equalise again to hear it.";
  }
}

async function predict(text) {
  await working($("predict-button"), "predict-status", "Finding the curve…", "predict-error", async () => {
    const response = await api("/api/predict", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text, amount: 1, max_gain_db: BASE_MAX_GAIN_DB }),
    });
    state.prediction = await response.json();
    const intensity = state.prediction.description_amount;
    const note = intensity === 1 ? "" : ` (intensity ${intensity.toFixed(2)} from the wording)`;
    $("curve-caption").textContent = `EQ for “${state.prediction.text}”, model ${state.prediction.model}${note}.`;
    drawPlot();
  });
}

function curveForRequest() {
  const p = state.prediction;
  return { curve_z: p.curve_z, description_amount: p.description_amount, text: p.text, model: p.model };
}

function settingsKey() { return JSON.stringify([state.prediction && state.prediction.text, amount(), maxGainDb()]); }

// ---------- audio ----------

function minutes(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function chooseFile() {
  showError("apply-error", "");
  const file = $("file").files[0];
  if (state.originalUrl) URL.revokeObjectURL(state.originalUrl);
  state.originalUrl = file ? URL.createObjectURL(file) : null;
  if (state.originalUrl) $("original").src = state.originalUrl;
  else $("original").removeAttribute("src"); // an empty src would load the page itself
  if (file && state.limits && file.size > state.limits.max_upload_mb * 1048576) {
    showError("apply-error", `${file.name} is ${(file.size / 1048576).toFixed(1)} MB; this server takes files up to ${state.limits.max_upload_mb} MB.`);
  }
}

async function equalise() {
  const file = $("file").files[0];
  if (!state.prediction) return showError("apply-error", "Describe a sound first, then press Show curve; that curve is what gets applied.");
  if (!file) return showError("apply-error", "Choose an audio file first (WAV, FLAC, OGG or MP3).");
  await working($("apply-button"), "apply-status", "Equalising…", "apply-error", async () => {
    const form = new FormData();
    form.append("file", file, file.name);
    form.append("curve", JSON.stringify(curveForRequest()));
    form.append("amount", String(amount()));
    form.append("max_gain_db", String(maxGainDb()));
    form.append("normalize", $("normalize").checked ? "true" : "false");
    if ($("out-format").value) form.append("format", $("out-format").value);
    const response = await api("/api/apply", { method: "POST", body: form });
    const blob = await response.blob();
    if (state.downloadUrl) URL.revokeObjectURL(state.downloadUrl);
    state.downloadUrl = URL.createObjectURL(blob);
    const match = /filename="?([^";]+)"?/.exec(response.headers.get("Content-Disposition") || "");
    $("equalised").src = state.downloadUrl;
    const link = $("download");
    link.href = state.downloadUrl;
    link.download = match ? match[1] : "equalised.wav";
    link.textContent = `Download ${link.download}`;
    link.hidden = false;
    $("ab-button").disabled = false;
    state.equalisedWith = settingsKey();
    reportApply(response.headers);
  });
}

function reportApply(headers) {
  const gain = parseFloat(headers.get("X-Normalization-Gain-Db"));
  const level = gain < 0 ? `turned down ${(-gain).toFixed(1)} dB to avoid clipping` : "level unchanged";
  const clipped = headers.get("X-Clipped") === "true" ? " Warning: it clips; tick “Turn down to avoid clipping” or lower the amount." : "";
  $("apply-report").textContent = `Equalised ${minutes(parseFloat(headers.get("X-Duration-S")))} at ${headers.get("X-Sample-Rate")} Hz, ` +
    `${headers.get("X-Channels")} ch: ${level}, peak ${headers.get("X-Peak-Out-Dbfs")} dBFS.${clipped}`;
}

// Switch between A and B at the same position; only one plays at a time.
function switchAB() {
  const a = $("original"), b = $("equalised");
  const [from, to] = !b.paused ? [b, a] : [a, b];
  const wasPlaying = !from.paused || (a.paused && b.paused);
  to.currentTime = Math.min(from.currentTime, to.duration || from.currentTime);
  from.pause();
  if (wasPlaying) to.play().catch((err) => showError("apply-error", `Cannot play: ${err.message}`));
}

// ---------- presets ----------

function download(text, filename, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function exportPreset(format) {
  if (!state.prediction) return showError("export-error", "Describe a sound first, then press Show curve; the preset is made from that curve.");
  const buttons = [...document.querySelectorAll("button.preset")];
  await working(buttons, "export-status", "Making the preset…", "export-error", async () => {
    const response = await api("/api/export", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ curve: curveForRequest(), format, filters: parseInt($("filters").value, 10) || 8,
                             amount: amount(), max_gain_db: maxGainDb() }),
    });
    const preset = await response.json();
    download(preset.preset, preset.filename, format === "json" ? "application/json" : "text/plain");
    const preview = $("preset-preview");
    preview.textContent = preset.preset;
    preview.hidden = false;
    const fit = preset.fit ? ` ${preset.fit.filters} filters fit the curve within ${preset.fit.max_error_db.toFixed(2)} dB ` +
      `(RMS ${preset.fit.rms_error_db.toFixed(2)} dB).` : "";
    return `Saved ${preset.filename}.${fit}`;
  });
}

// ---------- wiring ----------

async function loadHealth() {
  try {
    const health = await (await api("/api/health")).json();
    state.limits = health;
    $("model-badge").textContent = `model: ${health.model}`;
    $("model-badge").hidden = false;
    $("limits").textContent = `WAV, FLAC, OGG or MP3, up to ${health.max_upload_mb} MB and ${minutes(health.max_audio_seconds)} long.`;
  } catch (err) {
    showError("predict-error", err.message);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("predict-form").addEventListener("submit", (event) => { event.preventDefault(); predict($("text").value); });
  document.querySelectorAll("button.example").forEach((b) => b.addEventListener("click", () => {
    $("text").value = b.textContent;
    predict(b.textContent);
  }));
  $("amount").addEventListener("input", drawPlot);
  $("max-gain").addEventListener("input", drawPlot);
  $("file").addEventListener("change", chooseFile);
  $("apply-button").addEventListener("click", equalise);
  $("ab-button").addEventListener("click", switchAB);
  $("original").addEventListener("play", () => $("equalised").pause());
  $("equalised").addEventListener("play", () => $("original").pause());
  document.querySelectorAll("button.preset").forEach((b) => b.addEventListener("click", () => exportPreset(b.dataset.format)));
  drawPlot();
  loadHealth();
});
