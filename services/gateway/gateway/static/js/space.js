// A space's page: its tile, the occupant/confidence timeline, and the recent frames with their
// predictions and model versions; staff can say a prediction was wrong.
import { api, listOf } from "./api.js";
import { h, notice } from "./dom.js";
import { pct, toMs, when } from "./format.js";
import { feedbackControl } from "./feedback.js";
import { timeline } from "./chart.js";
import { rememberThumbs, tile } from "./grid.js";

const enc = encodeURIComponent;

function frameRow(frame, canCorrect) {
  const conf = frame.confidence ?? Math.max(...Object.values(frame.probabilities || { x: 0 }));
  return h("li", { class: "frame", dataset: { frame: frame.frame_id } },
    h("img", { src: `/api/v1/frames/${enc(frame.frame_id)}/image`, alt: `Frame from ${frame.camera_id}`,
      width: 120, height: 90 }),
    h("div", {},
      h("p", {}, h("strong", {}, frame.label), ` ${pct(conf)} · `, when(frame.captured_at)),
      h("p", { class: "muted" }, `${frame.camera_id} · ${frame.model || "model"} v${frame.model_version ?? "?"}`),
      canCorrect && frame.prediction_id ? feedbackControl(frame.prediction_id, frame.label) : null));
}

export async function render(root, ctx, id) {
  const base = `/api/v1/spaces/${enc(id)}`;
  const [space, cameras] = await Promise.all([api(base),
    api("/api/v1/cameras").catch(() => ({ cameras: [] }))]);
  const [history, frames] = await Promise.all([
    api(`${base}/history?limit=200`).catch(() => []),
    api(`${base}/frames?limit=20`).catch((err) => err)]);
  const points = listOf(history, "points").map((p) => ({ at: p.at || p.captured_at,
    occupant: p.occupant || p.label, confidence: p.confidence })).filter((p) => p.at)
    .sort((a, b) => toMs(a.at) - toMs(b.at));
  const camerasById = new Map(listOf(cameras, "cameras").map((c) => [c.id, c]));
  rememberThumbs();
  const frameList = frames instanceof Error
    ? notice(`Recent frames are not available: ${frames.message}`, "error")
    : h("ul", { class: "frames" }, listOf(frames, "frames").map((f) => frameRow(f, ctx.can("predictions:feedback"))));
  root.replaceChildren(
    h("p", { class: "crumbs" }, h("a", { href: "#/grid" }, "← All kennels")),
    h("h1", {}, space.space_id),
    h("div", { class: "space-layout" },
      h("div", {}, tile(space, camerasById)),
      h("section", { "aria-label": "Timeline" }, h("h2", {}, "Occupant and confidence"), timeline(points))),
    h("section", { "aria-label": "Recent frames" }, h("h2", {}, "Recent frames"), frameList));
}
