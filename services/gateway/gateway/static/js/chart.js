// The space timeline: confidence over time as an SVG line, each point coloured by occupant.
// Hand-written rather than a vendored chart library: one small line chart with a legend is
// about 50 lines, needs no licence file or version to keep up, and keeps the page light.
import { h, svg } from "./dom.js";
import { fullDate, toMs } from "./format.js";

const W = 640, H = 180, PAD = { l: 40, r: 10, t: 10, b: 24 };
const COLORS = { cat: "#6a4c93", dog: "#a0522d", empty: "#6b7b7d", unknown: "#b8860b" };

export function timeline(points) {
  if (!points.length) return h("p", { class: "muted" }, "No history yet.");
  const ts = points.map((p) => toMs(p.at));
  const t0 = Math.min(...ts), t1 = Math.max(...ts, t0 + 1);
  const x = (t) => PAD.l + ((t - t0) / (t1 - t0)) * (W - PAD.l - PAD.r);
  const y = (c) => PAD.t + (1 - (c ?? 0)) * (H - PAD.t - PAD.b);
  const path = points.map((p, i) => `${i ? "L" : "M"}${x(ts[i]).toFixed(1)},${y(p.confidence).toFixed(1)}`).join("");
  const grid = [0, 0.5, 1].map((c) => [
    svg("line", { x1: PAD.l, x2: W - PAD.r, y1: y(c), y2: y(c), class: "gridline" }),
    svg("text", { x: PAD.l - 6, y: y(c) + 4, "text-anchor": "end", class: "axis" }, `${c * 100}%`)]);
  const dots = points.map((p, i) => svg("circle", { cx: x(ts[i]), cy: y(p.confidence), r: 3.5,
    fill: COLORS[p.occupant] || "#333" }, svg("title", {}, `${fullDate(p.at)}: ${p.occupant} ${Math.round((p.confidence ?? 0) * 100)}%`)));
  const labels = [
    svg("text", { x: PAD.l, y: H - 6, class: "axis" }, new Date(t0).toLocaleTimeString()),
    svg("text", { x: W - PAD.r, y: H - 6, "text-anchor": "end", class: "axis" }, new Date(t1).toLocaleTimeString())];
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
    "aria-label": `Occupant and confidence, ${points.length} points` },
    grid.flat(), svg("path", { d: path, class: "line" }), dots, labels);
  const seen = [...new Set(points.map((p) => p.occupant))];
  const legend = h("ul", { class: "legend" }, seen.map((o) =>
    h("li", {}, h("span", { class: "swatch", style: `background:${COLORS[o] || "#333"}` }), o)));
  return h("figure", { class: "timeline" }, chart, legend);
}
