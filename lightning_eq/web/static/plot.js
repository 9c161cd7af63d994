// The curve plot: gains in dB at the band centres on a log-frequency SVG, with a grid, axis labels and a dot per
// band whose tooltip gives its gain. Plain JS, no libraries; app.js calls drawCurve and formats with freqText / signed.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const PLOT = { width: 800, height: 320, left: 52, right: 16, top: 14, bottom: 40, fMin: 20, fMax: 20000 };
const GRID_HZ = [20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000];

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

function drawAxes(svg, rangeDb, titles) {
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
  el("text", { x: PLOT.width - PLOT.right, y: PLOT.height - 4, class: "axis-title", "text-anchor": "end" }, svg, titles.frequency);
  el("text", { x: 14, y: (PLOT.height - PLOT.bottom + PLOT.top) / 2, class: "axis-title", "text-anchor": "middle",
                transform: `rotate(-90 14 ${(PLOT.height - PLOT.bottom + PLOT.top) / 2})` }, svg, titles.gain);
}

// Axes (titles: {frequency, gain}) and, when gains is given, the curve through freqs_hz; dashed when it is a guess.
// ``others`` (optional) are further curves drawn thin underneath, e.g. the versions being rated in tune mode.
function drawCurve(svg, freqsHz, gains, titles, guess, others) {
  svg.replaceChildren();
  const extra = gains ? others || [] : [];
  const peak = gains ? Math.max(...gains.map(Math.abs), ...extra.flat().map(Math.abs)) : 0;
  const rangeDb = Math.max(6, Math.ceil((peak + 0.5) / 3) * 3);
  drawAxes(svg, rangeDb, titles);
  if (!gains) return;
  const probes = el("g", { class: "probes" }, svg);
  extra.forEach((g, i) => el("path", { d: smoothPath(freqsHz.map((hz, j) => [xOf(hz), yOf(g[j], rangeDb)])),
                                         class: `probe probe-${i}` }, probes));
  const points = freqsHz.map((hz, i) => [xOf(hz), yOf(gains[i], rangeDb)]);
  const line = smoothPath(points);
  const zeroY = yOf(0, rangeDb).toFixed(1);
  el("path", { d: `${line} L${points[points.length - 1][0].toFixed(1)},${zeroY} L${points[0][0].toFixed(1)},${zeroY} Z`, class: "area" }, svg);
  el("path", { d: line, class: guess ? "curve guess" : "curve", id: "curve-path" }, svg);
  const ticks = el("g", { class: "centre-ticks" }, svg);
  const markers = el("g", { class: "centres" }, svg);
  freqsHz.forEach((hz, i) => {
    const x = xOf(hz);
    el("line", { x1: x, x2: x, y1: PLOT.height - PLOT.bottom, y2: PLOT.height - PLOT.bottom - 6, class: "centre-tick" }, ticks);
    const dot = el("circle", { cx: x, cy: points[i][1], r: 3.5, class: "centre" }, markers);
    el("title", {}, dot, `${freqText(hz)}: ${signed(gains[i])} dB`);
  });
}
