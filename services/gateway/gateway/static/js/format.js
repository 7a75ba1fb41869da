// Readable numbers and dates: relative ages with the full date on hover, natural sort.
import { h } from "./dom.js";

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
/** Natural order: kennel-2 before kennel-11. */
export const naturalCompare = (a, b) => collator.compare(String(a), String(b));

const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** Milliseconds since the epoch from an ISO 8601 string or epoch seconds (history points). */
export function toMs(at) {
  if (typeof at === "number") return at * 1000;
  return Date.parse(at);
}

export function ago(at, now = Date.now()) {
  const t = toMs(at);
  if (Number.isNaN(t)) return "unknown";
  const s = Math.round((now - t) / 1000);
  const span = spanText(Math.abs(s));
  if (span === null) return "just now";
  return s < 0 ? `in ${span}` : `${span} ago`;
}

function spanText(s) {
  if (s < 10) return null;
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const hr = Math.round(m / 60);
  if (hr < 48) return `${hr} h`;
  return `${Math.round(hr / 24)} days`;
}

/** <time> with a relative age, the full date as its tooltip; the ticker in app.js refreshes it. */
export function when(at, empty = "never") {
  if (!at) return h("span", { class: "muted" }, empty);
  const t = toMs(at);
  if (Number.isNaN(t)) return h("span", {}, String(at));
  const iso = new Date(t).toISOString();
  return h("time", { datetime: iso, title: full.format(new Date(t)), "data-ago": "" }, ago(iso));
}

export function refreshAges(root = document) {
  for (const el of root.querySelectorAll("time[data-ago]")) el.textContent = ago(el.dateTime);
}

export const pct = (x) => (typeof x === "number" ? `${Math.round(x * 100)}%` : "–");
export const fullDate = (at) => (at ? full.format(new Date(toMs(at))) : "");

export const OCCUPANT_TEXT = { cat: "Cat", dog: "Dog", empty: "Empty", unknown: "Unknown" };
export const STATUS_TEXT = {
  intake: "Intake", available: "Available", reserved: "Reserved", adopted: "Adopted",
};

/** The area a space belongs to: the back end's `area`, else its id without the number. */
export function areaOf(space) {
  const base = space.area || String(space.space_id).replace(/[-_ ]*\d+$/, "");
  return base ? base.charAt(0).toUpperCase() + base.slice(1) : "Other";
}

/** The camera ids of a space: a list in newer aggregators, a dict keyed by id before. */
export function camerasOf(space) {
  const cams = space.cameras;
  if (Array.isArray(cams)) return cams.map((c) => (typeof c === "string" ? c : c.camera_id || c.id));
  return cams ? Object.keys(cams) : [];
}
