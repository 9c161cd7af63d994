// The lightning-eq page: predict a curve, draw it, equalise an upload, export presets. Plain JS, no libraries.
// Every word shown comes from i18n.js; messages are kept as {key, params} (or the server's error) in the state,
// so switching the language re-renders them all.
"use strict";

const $ = (id) => document.getElementById(id);
const BASE_MAX_GAIN_DB = 5; // the API is asked at amount 1 and 5 dB; gains scale linearly from there

const state = { prediction: null, limits: null, equalisedWith: null, downloadUrl: null, originalUrl: null,
                messages: {}, busy: {} };

// ---------- messages in the page's language ----------

// A message is {key, params} (params may hold messages too), {server: body} for an API error, or {text}.
class PageError extends Error {
  constructor(spec) { super(spec.key || (spec.server && spec.server.detail) || spec.text); this.spec = spec; }
}

function say(spec) {
  if (spec.server) return serverText(spec.server);
  if (!spec.key) return spec.text || "";
  const params = {};
  for (const [name, value] of Object.entries(spec.params || {})) params[name] = value && typeof value === "object" ? say(value) : value;
  return I18N.t(spec.key, params);
}

// The API's error in the page's language when its code has words here, else the server's own (English) detail.
function serverText(body) {
  const key = `server.${body.code}`;
  if (!body.code || !I18N.has(key)) return body.detail;
  const params = { ...(body.params || {}) };
  if (body.code === "audio_too_long") Object.assign(params, { seconds: minutes(params.seconds), max_seconds: minutes(params.max_seconds) });
  return I18N.t(key, params);
}

// Show (and remember, for a language switch) a message in an element; error boxes hide when empty.
function setMessage(id, spec) {
  state.messages[id] = spec || null;
  const el = $(id);
  el.replaceChildren();
  if (state.busy[id]) {
    const spinner = document.createElement("span");
    spinner.className = "spinner";
    el.append(spinner);
  }
  if (spec) el.append(say(spec));
  if (el.classList.contains("error")) el.hidden = !spec;
}

const showError = setMessage;

// ---------- talking to the API ----------

async function api(path, options) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new PageError({ key: "error.unreachable" });
  }
  if (response.ok) return response;
  let spec = { key: "error.status", params: { status: response.status, statusText: response.statusText } };
  try {
    const body = await response.json();
    if (typeof body.detail === "string") spec = { server: body };
  } catch (err) { /* not JSON: keep the status line */ }
  throw new PageError(spec);
}

// Run a long step with its buttons disabled and a spinner plus a message in its status line; the step may
// return a message to leave in the status when it is done.
async function working(button, statusId, busyKey, errorId, step) {
  const buttons = button ? [].concat(button) : [];
  buttons.forEach((b) => { b.disabled = true; });
  showError(errorId, null);
  state.busy[statusId] = true;
  setMessage(statusId, { key: busyKey });
  $(statusId).classList.add("busy");
  try {
    const done = await step();
    state.busy[statusId] = false;
    setMessage(statusId, done);
  } catch (err) {
    state.busy[statusId] = false;
    setMessage(statusId, null);
    showError(errorId, err instanceof PageError ? err.spec : { text: err.message });
  } finally {
    $(statusId).classList.remove("busy");
    buttons.forEach((b) => { b.disabled = false; });
  }
}

// ---------- the curve ----------

function amount() { return parseFloat($("amount").value); }

function maxGainDb() {
  const value = parseFloat($("max-gain").value);
  return Number.isFinite(value) && value > 0 ? Math.min(value, 24) : BASE_MAX_GAIN_DB;
}

function scaling() { return $("confidence-scaling").checked; }

// The API is asked for gains without the confidence; the page multiplies them by it when the box is ticked.
function gainScale() {
  const confidence = state.prediction.confidence;
  const trust = scaling() && confidence !== null && confidence !== undefined ? confidence : 1;
  return amount() * maxGainDb() / BASE_MAX_GAIN_DB * trust;
}

function currentGains() { return state.prediction.gains_db.map((g) => g * gainScale()); }

function drawPlot() {
  $("amount-value").textContent = `${amount().toFixed(2)}×`;
  describeAnswer();
  const p = state.prediction;
  const gains = p ? currentGains() : null;
  const others = p && p.probes ? p.probes.map((probe) => probe.gains_db.map((g) => g * gainScale())) : [];
  drawCurve($("plot"), p && p.freqs_hz, gains, { frequency: I18N.t("plot.frequency"), gain: I18N.t("plot.gain") },
            p && p.unfamiliar, others);
  if (gains) describeCurve(gains);
}

function describeCurve(gains) {
  const freqs = state.prediction.freqs_hz;
  const hi = gains.indexOf(Math.max(...gains));
  const lo = gains.indexOf(Math.min(...gains));
  $("curve-summary").textContent = I18N.t("curve.summary", { boost: signed(gains[hi]), boostAt: freqText(freqs[hi]),
                                                             cut: signed(gains[lo]), cutAt: freqText(freqs[lo]) });
  if (state.equalisedWith && state.equalisedWith !== settingsKey()) setMessage("apply-report", { key: "curve.changed" });
}

// Which description, model and language answered, how sure the model is, and a plain warning when it is a guess.
function describeAnswer() {
  const p = state.prediction;
  $("curve-meta").hidden = !p || p.tuned !== undefined;
  $("unfamiliar").hidden = !(p && p.unfamiliar);
  if (!p) {
    $("curve-caption").textContent = I18N.t("curve.none");
    return;
  }
  if (p.tuned !== undefined) { // tune.js's estimate: the listener's curve, no model's confidence
    $("curve-caption").textContent = p.text ? I18N.t("tune.caption", { text: p.text, count: p.tuned })
                                            : I18N.t("tune.caption-mean", { count: p.tuned });
    return;
  }
  const intensity = p.description_amount === 1 ? "" : I18N.t("curve.intensity", { value: p.description_amount.toFixed(2) });
  $("curve-caption").textContent = I18N.t("curve.caption", { text: p.text, intensity });
  const known = p.confidence !== null && p.confidence !== undefined;
  const parts = {
    "curve-model": [I18N.t("curve.model", { model: p.model }), "model", p.model],
    "curve-language": [I18N.t("curve.language", { language: p.language ? I18N.languageName(p.language) : I18N.t("curve.no-language") }),
                       "language", p.language || ""],
    "curve-confidence": [I18N.t("curve.confidence", { confidence: known ? I18N.percent(p.confidence) : I18N.t("curve.no-confidence") }),
                         "confidence", known ? String(p.confidence) : ""],
  };
  for (const [id, [text, name, value]] of Object.entries(parts)) {
    $(id).textContent = text;
    $(id).dataset[name] = value;
  }
  if (p.unfamiliar) {
    $("unfamiliar").textContent = I18N.t("curve.unfamiliar", { text: p.text, confidence: I18N.percent(p.confidence) }) +
      (scaling() ? I18N.t("curve.unfamiliar-scaled", { scaling: I18N.t("curve.scaling") }) : "");
  }
}

async function predict(text) {
  await working($("predict-button"), "predict-status", "describe.busy", "predict-error", async () => {
    const response = await api("/api/predict", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text, amount: 1, max_gain_db: BASE_MAX_GAIN_DB, confidence_scaling: false }),
    });
    state.prediction = await response.json();
    drawPlot();
  });
}

function curveForRequest() {
  const p = state.prediction;
  const text = p.tuned === undefined ? p.text : `${p.text || ""} tuned`.trim(); // "warm-tuned-graphic.txt"
  return { curve_z: p.curve_z, description_amount: p.description_amount, text, model: p.model,
           confidence: p.confidence, language: p.language };
}

function settingsKey() {
  const p = state.prediction;
  return JSON.stringify([p && p.text, p && p.curve_z, amount(), maxGainDb(), scaling()]);
}

// ---------- audio ----------

function minutes(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function chooseFile() {
  showError("apply-error", null);
  const file = $("file").files[0];
  if (state.originalUrl) URL.revokeObjectURL(state.originalUrl);
  state.originalUrl = file ? URL.createObjectURL(file) : null;
  if (state.originalUrl) $("original").src = state.originalUrl;
  else $("original").removeAttribute("src"); // an empty src would load the page itself
  if (file && state.limits && file.size > state.limits.max_upload_mb * 1048576) {
    showError("apply-error", { key: "audio.too-large",
                               params: { name: file.name, size: (file.size / 1048576).toFixed(1), max: state.limits.max_upload_mb } });
  }
}

async function equalise() {
  const file = $("file").files[0];
  if (!state.prediction) return showError("apply-error", { key: "audio.no-curve" });
  if (!file) return showError("apply-error", { key: "audio.no-file" });
  await working($("apply-button"), "apply-status", "audio.busy", "apply-error", async () => {
    const form = new FormData();
    form.append("file", file, file.name);
    form.append("curve", JSON.stringify(curveForRequest()));
    form.append("amount", String(amount()));
    form.append("max_gain_db", String(maxGainDb()));
    form.append("normalize", $("normalize").checked ? "true" : "false");
    form.append("confidence_scaling", scaling() ? "true" : "false");
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
    setMessage("download", { key: "audio.download-file", params: { filename: link.download } });
    link.hidden = false;
    $("ab-button").disabled = false;
    state.equalisedWith = settingsKey();
    reportApply(response.headers);
  });
}

function reportApply(headers) {
  const gain = parseFloat(headers.get("X-Normalization-Gain-Db"));
  const level = gain < 0 ? { key: "audio.turned-down", params: { db: (-gain).toFixed(1) } } : { key: "audio.unchanged" };
  const clipped = headers.get("X-Clipped") === "true" ? { key: "audio.clipped", params: { normalize: { key: "audio.normalize" } } } : { text: "" };
  setMessage("apply-report", { key: "audio.report", params: {
    duration: minutes(parseFloat(headers.get("X-Duration-S"))), rate: headers.get("X-Sample-Rate"),
    channels: headers.get("X-Channels"), level, peak: headers.get("X-Peak-Out-Dbfs"), clipped } });
}

// Switch between A and B at the same position; only one plays at a time.
function switchAB() {
  const a = $("original"), b = $("equalised");
  const [from, to] = !b.paused ? [b, a] : [a, b];
  const wasPlaying = !from.paused || (a.paused && b.paused);
  to.currentTime = Math.min(from.currentTime, to.duration || from.currentTime);
  from.pause();
  if (wasPlaying) to.play().catch((err) => showError("apply-error", { key: "audio.cannot-play", params: { message: err.message } }));
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
  if (!state.prediction) return showError("export-error", { key: "presets.no-curve" });
  const buttons = [...document.querySelectorAll("button.preset")];
  await working(buttons, "export-status", "presets.busy", "export-error", async () => {
    const response = await api("/api/export", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ curve: curveForRequest(), format, filters: parseInt($("filters").value, 10) || 8,
                             amount: amount(), max_gain_db: maxGainDb(), confidence_scaling: scaling() }),
    });
    const preset = await response.json();
    download(preset.preset, preset.filename, format === "json" ? "application/json" : "text/plain");
    const preview = $("preset-preview");
    preview.textContent = preset.preset;
    preview.hidden = false;
    const fit = preset.fit ? { key: "presets.fit", params: { filters: preset.fit.filters, max: preset.fit.max_error_db.toFixed(2),
                                                             rms: preset.fit.rms_error_db.toFixed(2) } } : { text: "" };
    return { key: "presets.saved", params: { filename: preset.filename, fit } };
  });
}

// ---------- wiring ----------

async function loadHealth() {
  try {
    const health = await (await api("/api/health")).json();
    state.limits = health;
    const models = health.models && health.models.length ? health.models : [health.model];
    setMessage("model-badge", { key: models.length > 1 ? "page.models" : "page.model", params: { models: models.join(", ") } });
    $("model-badge").hidden = false;
    setMessage("limits", { key: "audio.limits", params: { mb: health.max_upload_mb, minutes: minutes(health.max_audio_seconds) } });
  } catch (err) {
    showError("predict-error", err instanceof PageError ? err.spec : { text: err.message });
  }
}

function showExamples() {
  const buttons = I18N.t("describe.examples").map((text) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "example";
    b.textContent = text;
    b.addEventListener("click", () => { $("text").value = text; predict(text); });
    return b;
  });
  $("example-list").replaceChildren(...buttons);
}

// Every word on the page in the new language, from the state: labels, examples, messages, the curve's notes.
function switchLanguage(language) {
  I18N.use(language, true);
  showExamples();
  Object.entries(state.messages).forEach(([id, spec]) => setMessage(id, spec));
  drawPlot();
}

document.addEventListener("DOMContentLoaded", () => {
  I18N.use(I18N.detect(), false);
  showExamples();
  setMessage("limits", { key: "audio.formats" });
  document.querySelectorAll("[data-language]").forEach((b) => b.addEventListener("click", () => switchLanguage(b.dataset.language)));
  $("predict-form").addEventListener("submit", (event) => { event.preventDefault(); predict($("text").value); });
  $("amount").addEventListener("input", drawPlot);
  $("max-gain").addEventListener("input", drawPlot);
  $("confidence-scaling").addEventListener("change", drawPlot);
  $("file").addEventListener("change", chooseFile);
  $("apply-button").addEventListener("click", equalise);
  $("ab-button").addEventListener("click", switchAB);
  $("original").addEventListener("play", () => $("equalised").pause());
  $("equalised").addEventListener("play", () => $("original").pause());
  document.querySelectorAll("button.preset").forEach((b) => b.addEventListener("click", () => exportPreset(b.dataset.format)));
  drawPlot();
  loadHealth();
});
