// The kennel grid: every space as a tile, grouped by area in natural order, filterable by state.
// A tile shows each camera's latest frame with its age, the fused occupant and confidence, why a
// space is unknown, and the animal the registry puts there, marked when the two disagree.
import { api, listOf } from "./api.js";
import { h } from "./dom.js";
import { OCCUPANT_TEXT, STATUS_TEXT, areaOf, camerasOf, naturalCompare, pct, when } from "./format.js";

const FILTERS = { all: "All spaces", cat: "Cats", dog: "Dogs", empty: "Empty", unknown: "Unknown",
  mismatch: "Needs a look" };
const REASONS = {
  no_frames: "No frames yet", too_few_frames: "Not enough agreeing frames",
  stale: "No recent frames", cameras_disagree: "Cameras disagree",
};
let filter = "all";

export function reasonText(space) {
  if (space.occupant !== "unknown") return null;
  return space.reason_text || REASONS[space.reason] || (space.stale ? REASONS.stale
    : space.evidence_count ? REASONS.too_few_frames : REASONS.no_frames);
}

function mismatched(space) {
  if (typeof space.mismatch === "boolean") return space.mismatch;
  const a = space.animal;
  return Boolean(a && ["cat", "dog"].includes(space.occupant) && a.species !== space.occupant);
}

// The thumbnails on screen by camera: a live re-render moves them into the new tiles rather
// than making new <img> elements, and swaps in a newer frame only once it has loaded, so a
// picture never blinks grey.
let shown = new Map();

/** Call before building tiles: the thumbnails now on screen, to reuse. */
export function rememberThumbs() {
  shown = new Map([...document.querySelectorAll("#main .tile img")].map((i) => [i.dataset.camera, i]));
}

function thumbImage(cameraId, src) {
  const old = shown.get(cameraId);
  if (!old) return h("img", { src, alt: `Latest frame from ${cameraId}`, width: 160, height: 120, dataset: { camera: cameraId } });
  if (old.getAttribute("src") !== src) {
    const next = new Image();
    next.onload = () => { old.src = src; };
    next.src = src;
  }
  return old;
}

function thumb(cameraId, camera, latest) {
  const at = camera?.status?.last_frame_at || latest?.captured_at;
  const src = `/api/v1/cameras/${encodeURIComponent(cameraId)}/latest?at=${encodeURIComponent(at)}`;
  const img = at
    ? thumbImage(cameraId, src)
    : h("div", { class: "no-frame", role: "img", "aria-label": `No frame yet from ${cameraId}` }, "No frame yet");
  const offline = camera?.status?.state === "offline";
  return h("figure", { class: `thumb${offline ? " offline" : ""}` }, img,
    h("figcaption", {}, h("span", {}, cameraId), " · ", when(at, "no frame"),
      offline ? h("strong", { class: "bad" }, " offline") : null));
}

function animalLine(space) {
  const a = space.animal;
  if (!a) return h("p", { class: "animal muted" }, "No animal registered here");
  return h("p", { class: "animal" },
    h("a", { href: "#/animals" }, a.name), ` · ${a.species} · `,
    h("span", { class: `status s-${a.status}` }, STATUS_TEXT[a.status] || a.status));
}

export function tile(space, camerasById) {
  const reason = reasonText(space);
  const bad = mismatched(space);
  const cams = [...new Set([...camerasOf(space), ...[...camerasById.values()]
    .filter((c) => c.space_id === space.space_id).map((c) => c.id)])].sort(naturalCompare);
  return h("article", { class: `tile occ-${space.occupant}${bad ? " mismatch" : ""}`,
    dataset: { space: space.space_id, occupant: space.occupant } },
    h("header", {},
      h("h3", {}, h("a", { href: `#/space/${encodeURIComponent(space.space_id)}` }, space.space_id)),
      h("span", { class: `occupant o-${space.occupant}` }, OCCUPANT_TEXT[space.occupant] || space.occupant,
        space.occupant !== "unknown" ? h("span", { class: "conf" }, ` ${pct(space.confidence)}`) : null)),
    h("div", { class: "thumbs" }, cams.length ? cams.map((c) => thumb(c, camerasById.get(c), space.latest_frames?.[c]))
      : h("div", { class: "no-camera" }, "No camera in this space")),
    reason ? h("p", { class: "reason" }, reason) : null,
    animalLine(space),
    bad ? h("p", { class: "mismatch-mark", role: "note" },
      `⚠ Registry says ${space.animal.species}, cameras see ${space.occupant}`) : null,
    h("p", { class: "seen muted" }, "Last frame ", when(space.last_seen)));
}

function summaryBar(spaces, summary) {
  const count = (occupant) => spaces.filter((s) => s.occupant === occupant).length;
  const animals = summary?.animals || {};
  const avail = (sp) => animals[sp]?.available ?? 0;
  const item = (label, value, cls) => h("div", { class: `stat ${cls}` },
    h("span", { class: "value", dataset: { stat: cls } }, String(value)), h("span", { class: "label" }, label));
  return h("section", { class: "summary", "aria-label": "Summary" },
    item("cats seen", count("cat"), "cat"), item("dogs seen", count("dog"), "dog"),
    item("empty", count("empty"), "empty"), item("unknown", count("unknown"), "unknown"),
    item("cats available", avail("cat"), "cat-available"), item("dogs available", avail("dog"), "dog-available"));
}

function matches(space) {
  if (filter === "all") return true;
  if (filter === "mismatch") return mismatched(space) || space.occupant === "unknown";
  return space.occupant === filter;
}

export async function render(root) {
  const [spaces, cameras, summary] = await Promise.all([
    api("/api/v1/spaces"), api("/api/v1/cameras").catch(() => ({ cameras: [] })),
    api("/api/v1/summary")]);
  const camerasById = new Map(listOf(cameras, "cameras").map((c) => [c.id, c]));
  rememberThumbs();
  const all = listOf(spaces, "spaces");
  const list = all.filter(matches);
  const groups = new Map();
  for (const s of list.sort((a, b) => naturalCompare(a.space_id, b.space_id))) {
    const area = areaOf(s);
    if (!groups.has(area)) groups.set(area, []);
    groups.get(area).push(s);
  }
  const select = h("select", { id: "grid-filter", onchange: (e) => { filter = e.target.value; render(root); } },
    Object.entries(FILTERS).map(([v, t]) => h("option", { value: v, selected: v === filter }, t)));
  const areas = [...groups.keys()].sort(naturalCompare).map((area) =>
    h("section", { class: "area", "aria-label": area }, h("h2", {}, area),
      h("div", { class: "tiles" }, groups.get(area).map((s) => tile(s, camerasById)))));
  root.replaceChildren(
    h("div", { class: "toolbar" }, h("h1", {}, "Kennels"),
      h("label", { for: "grid-filter" }, "Show "), select),
    summaryBar(all, summary),
    ...(areas.length ? areas : [h("p", { class: "empty-state" }, "No space matches this filter.")]));
}
