// Camera health at a glance: online or offline since when, last error, frame counts and rate.
import { api, listOf } from "./api.js";
import { h } from "./dom.js";
import { naturalCompare, when } from "./format.js";

function row(c) {
  const st = c.status || {};
  const frames = st.frames || {};
  const online = st.state === "online";
  const rate = typeof st.frame_rate_per_min === "number" ? st.frame_rate_per_min
    : c.frame_rate_per_min;
  return h("tr", { dataset: { camera: c.id } },
    h("th", { scope: "row" }, c.id, c.enabled === false ? h("span", { class: "muted" }, " (disabled)") : null),
    h("td", {}, h("a", { href: `#/space/${encodeURIComponent(c.space_id)}` }, c.space_id)),
    h("td", {}, h("span", { class: `badge ${online ? "good" : "bad"}` }, online ? "Online" : "Offline"),
      !online && st.offline_since ? h("span", { class: "since" }, " since ", when(st.offline_since)) : null),
    h("td", {}, when(st.last_frame_at)),
    h("td", { class: "num" }, String(frames.accepted ?? 0)),
    h("td", { class: "num" }, String(frames.failed ?? 0)),
    h("td", { class: "num" }, String(st.frames_dead ?? 0)),
    h("td", { class: "num" }, typeof rate === "number" ? `${rate.toFixed(1)}/min` : "–"),
    h("td", { class: "error-text" }, st.last_error || h("span", { class: "muted" }, "none")));
}

export async function render(root) {
  const cams = listOf(await api("/api/v1/cameras"), "cameras").sort((a, b) => naturalCompare(a.id, b.id));
  const offline = cams.filter((c) => c.status?.state !== "online").length;
  root.replaceChildren(
    h("div", { class: "toolbar" }, h("h1", {}, "Cameras"),
      h("p", { class: offline ? "bad" : "good" }, offline ? `${offline} of ${cams.length} offline` : `All ${cams.length} online`)),
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Camera", "Space", "State", "Last frame", "Accepted", "Failed", "Dead",
        "Rate", "Last error"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, cams.map(row)))));
}
