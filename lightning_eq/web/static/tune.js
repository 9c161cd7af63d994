// Tune by ear: play versions (probes) of the listener's own audio, rate each, and let /api/tune move the curve.
// The server keeps no session: the ratings live here (and in localStorage, so a reload keeps them) and every
// request sends them all. Each answer replaces the page's curve (state.prediction), so apply and the presets take
// the tuned curve like any other. Playback is Web Audio: one looping source feeds one filter chain per version
// (the original, the current curve, each probe), built from the biquads the server designs for the context's sample
// rate (the same filters /api/apply runs), and switching versions only moves gains, so it is instant.
"use strict";

const TUNE_STORAGE_KEY = "lightning-eq.tune";
const N_PROBES = 2;
const RATING_STEPS = 10; // sliders 0..10, sent as 0..1
const SWITCH_S = 0.01; // crossfade time constant when switching versions (no click)

// text: the description tuned (null: the average curve); rounds: the ratings sent, one list per press of "Rate";
// answers: the server's answer after each number of rounds (answers[k] follows rounds[0..k)), kept for Undo.
const tune = { active: false, text: null, rounds: [], answers: [], audio: null, selected: "current", playing: false };

function allRatings() { return tune.rounds.flat(); }

function currentAnswer() { return tune.answers[tune.rounds.length] || null; }

function saveTune() {
  try {
    if (tune.active) localStorage.setItem(TUNE_STORAGE_KEY, JSON.stringify({ text: tune.text, rounds: tune.rounds }));
    else localStorage.removeItem(TUNE_STORAGE_KEY);
  } catch (err) { /* storage off: the ratings last this visit */ }
}

// ---------- the server ----------

// The estimate and next probes for the ratings so far; the seed is the round, so an answer is the same when asked
// again (Undo after a reload asks again and gets the curve it had).
async function askTuner() {
  const body = { ratings: allRatings(), n_probes: N_PROBES, seed: tune.rounds.length, amount: 1,
                 max_gain_db: BASE_MAX_GAIN_DB };
  if (tune.text) body.text = tune.text;
  if (tune.audio) body.sample_rate = tune.audio.context.sampleRate;
  const response = await api("/api/tune", { method: "POST", headers: { "Content-Type": "application/json" },
                                            body: JSON.stringify(body) });
  return response.json();
}

async function refresh() {
  const answer = await askTuner();
  tune.answers.length = tune.rounds.length;
  tune.answers.push(answer);
  showAnswer();
}

// ---------- audio ----------

// Decode the chosen file once into an AudioContext (made on a click, as browsers ask).
async function loadAudio() {
  const file = $("file").files[0];
  if (!file) throw new PageError({ key: "tune.no-file" });
  if (tune.audio && tune.audio.file === file) return;
  stopAudio();
  const context = tune.audio ? tune.audio.context : new AudioContext();
  let buffer;
  try {
    buffer = await context.decodeAudioData(await file.arrayBuffer());
  } catch (err) {
    throw new PageError({ key: "tune.cannot-decode", params: { name: file.name } });
  }
  // Headroom for the boosts: every version, the original included, is turned down by the largest gain.
  const output = context.createGain();
  output.gain.value = Math.pow(10, -BASE_MAX_GAIN_DB / 20);
  output.connect(context.destination);
  tune.audio = { file, context, buffer, output, chains: {}, source: null };
  tune.answers = []; // their filters were designed for no sample rate, or another one
}

// One version's chain: the server's biquads as IIRFilterNodes, then a gain that is 1 for the version heard.
function buildChain(sos) {
  const { context, output } = tune.audio;
  const input = context.createGain();
  const level = context.createGain();
  level.gain.value = 0;
  let node = input;
  for (const [b0, b1, b2, a0, a1, a2] of sos) {
    const filter = new IIRFilterNode(context, { feedforward: [b0, b1, b2], feedback: [a0, a1, a2] });
    node.connect(filter);
    node = filter;
  }
  node.connect(level);
  level.connect(output);
  return { input, level };
}

function buildChains(answer) {
  const audio = tune.audio;
  if (!audio || !answer.sos) return;
  Object.values(audio.chains).forEach((chain) => chain.level.disconnect());
  audio.chains = { original: buildChain([]), current: buildChain(answer.sos) };
  answer.probes.forEach((probe, i) => { audio.chains[`probe${i}`] = buildChain(probe.sos); });
  if (audio.source) Object.values(audio.chains).forEach((chain) => audio.source.connect(chain.input));
  if (!audio.chains[tune.selected]) tune.selected = "current";
  select(tune.selected);
}

function select(version) {
  tune.selected = version;
  const audio = tune.audio;
  if (audio) {
    for (const [name, chain] of Object.entries(audio.chains)) {
      chain.level.gain.setTargetAtTime(name === version ? 1 : 0, audio.context.currentTime, SWITCH_S);
    }
  }
  document.querySelectorAll("#tune-panel [data-play]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.play === version)));
}

function stopAudio() {
  const audio = tune.audio;
  if (audio && audio.source) {
    audio.source.stop();
    audio.source.disconnect();
    audio.source = null;
  }
  tune.playing = false;
  setMessage("tune-play-label", { key: "tune.play" });
}

async function togglePlay() {
  if (tune.playing) return stopAudio();
  await tuneStep(async () => {
    await ensureFilters();
    const audio = tune.audio;
    await audio.context.resume();
    const source = audio.context.createBufferSource();
    source.buffer = audio.buffer;
    source.loop = true;
    Object.values(audio.chains).forEach((chain) => source.connect(chain.input));
    source.start();
    audio.source = source;
    tune.playing = true;
    setMessage("tune-play-label", { key: "tune.stop" });
  });
}

// The audio decoded and the current answer's filters designed for its sample rate.
async function ensureFilters() {
  await loadAudio();
  if (!currentAnswer() || !currentAnswer().sos) await refresh();
}

// ---------- the panel ----------

async function tuneStep(step) {
  const buttons = ["tune-start", "tune-rate", "tune-undo", "tune-reset"].map($);
  await working(buttons, "tune-status", "tune.busy", "tune-error", step);
  updateButtons();
}

function updateButtons() {
  $("tune-undo").disabled = !tune.active || tune.rounds.length === 0;
  $("tune-reset").disabled = !tune.active;
  $("tune-panel").hidden = !tune.active;
}

function showProbes(answer) {
  const rows = answer.probes.map((probe, i) => {
    const row = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    const play = document.createElement("button");
    play.type = "button";
    play.className = "choice";
    play.dataset.play = `probe${i}`;
    play.textContent = I18N.t("tune.probe", { n: i + 1 });
    play.addEventListener("click", () => select(play.dataset.play));
    const slider = document.createElement("input");
    Object.assign(slider, { type: "range", min: "0", max: String(RATING_STEPS), step: "1", value: String(RATING_STEPS / 2) });
    slider.className = "rating";
    slider.setAttribute("aria-label", I18N.t("tune.rating-label", { n: i + 1 }));
    const value = document.createElement("output");
    value.textContent = slider.value;
    slider.addEventListener("input", () => { value.textContent = slider.value; });
    row.append(swatch, play, slider, value);
    return row;
  });
  $("probe-list").replaceChildren(...rows);
}

// The current answer on the plot (as the page's curve) and in the panel.
function showAnswer() {
  const answer = currentAnswer();
  if (!answer) return;
  state.prediction = { text: tune.text, tuned: answer.n_ratings, freqs_hz: answer.freqs_hz, curve_z: answer.curve_z,
                       gains_db: answer.gains_db, description_amount: 1, confidence: null, unfamiliar: false,
                       language: null, model: answer.model, probes: answer.probes };
  showProbes(answer);
  buildChains(answer);
  const guess = tune.text && answer.prior === "mean" ? { key: "tune.from-mean", params: { text: tune.text } } : { text: "" };
  setMessage("tune-summary", { key: "tune.summary", params: { count: answer.n_ratings, guess } });
  drawPlot();
  saveTune();
}

async function startTuning() {
  await tuneStep(async () => {
    await loadAudio();
    const p = state.prediction;
    tune.text = (p && p.text) || null; // a tuned curve carries the description it was tuned from
    tune.rounds = [];
    tune.answers = [];
    tune.active = true;
    await refresh();
  });
}

async function rate() {
  const answer = currentAnswer();
  if (!answer) return;
  const sliders = [...document.querySelectorAll("#probe-list input.rating")];
  const round = answer.probes.map((probe, i) => ({ curve_z: probe.curve_z, rating: Number(sliders[i].value) / RATING_STEPS }));
  await tuneStep(async () => {
    await loadAudio();
    tune.rounds.push(round);
    try {
      await refresh();
    } catch (err) {
      tune.rounds.pop();
      throw err;
    }
  });
}

async function undo() {
  if (!tune.rounds.length) return;
  await tuneStep(async () => {
    tune.rounds.pop();
    if (currentAnswer() && (currentAnswer().sos || !tune.audio)) showAnswer();
    else await refresh();
  });
}

async function startOver() {
  stopAudio();
  await tuneStep(async () => {
    tune.rounds = [];
    if (currentAnswer()) showAnswer();
    else await refresh();
  });
}

// A new description ends tuning: its curve is the page's curve again, and "Tune by ear" starts from it.
function endTuning() {
  if (!tune.active) return;
  stopAudio();
  Object.assign(tune, { active: false, text: null, rounds: [], answers: [] });
  $("probe-list").replaceChildren();
  setMessage("tune-summary", null);
  saveTune();
  updateButtons();
}

// A reload keeps the ratings: the panel comes back with the curve they give (the audio needs choosing again).
async function restoreTuning() {
  let saved = null;
  try { saved = JSON.parse(localStorage.getItem(TUNE_STORAGE_KEY) || "null"); } catch (err) { saved = null; }
  if (!saved || !Array.isArray(saved.rounds)) return;
  Object.assign(tune, { active: true, text: saved.text || null, rounds: saved.rounds, answers: [] });
  await tuneStep(refresh);
}

// Words that tune.js puts on the page, again in a newly chosen language.
function retranslateTune() {
  document.querySelectorAll("#probe-list li").forEach((row, i) => {
    row.querySelector("button").textContent = I18N.t("tune.probe", { n: i + 1 });
    row.querySelector("input").setAttribute("aria-label", I18N.t("tune.rating-label", { n: i + 1 }));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setMessage("tune-play-label", { key: "tune.play" });
  $("tune-start").addEventListener("click", startTuning);
  $("tune-rate").addEventListener("click", rate);
  $("tune-undo").addEventListener("click", undo);
  $("tune-reset").addEventListener("click", startOver);
  $("tune-play").addEventListener("click", togglePlay);
  document.querySelectorAll("#tune-panel .listen [data-play]").forEach((b) => b.addEventListener("click", () => select(b.dataset.play)));
  document.querySelectorAll("[data-language]").forEach((b) => b.addEventListener("click", retranslateTune));
  $("predict-form").addEventListener("submit", endTuning);
  $("example-list").addEventListener("click", (event) => { if (event.target.closest("button")) endTuning(); });
  $("file").addEventListener("change", () => { if (tune.audio && tune.audio.file !== $("file").files[0]) stopAudio(); });
  select("current");
  updateButtons();
  restoreTuning();
});
