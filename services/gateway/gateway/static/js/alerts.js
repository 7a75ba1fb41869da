// Alerts in words, with the animal's name; staff acknowledge them; resolved ones below.
import { api, listOf } from "./api.js";
import { h, notice } from "./dom.js";
import { when } from "./format.js";

const KIND_TEXT = {
  species_mismatch: "Species mismatch", animal_not_seen: "Animal not seen", space_stale: "No recent frames",
  camera_stale: "Camera offline", camera_offline: "Camera offline", adopted_occupied: "Adopted but still here",
};

function item(alert, canAck, refresh) {
  const status = h("p", { class: "ack-result", role: "status" });
  const ack = canAck && alert.status === "active"
    ? h("button", { class: "primary", type: "button", onclick: async (e) => {
      e.target.disabled = true;
      try { await api(`/api/v1/alerts/${encodeURIComponent(alert.id)}/ack`, { method: "POST" }); refresh(); }
      catch (err) { status.textContent = `Not acknowledged: ${err.message}`; e.target.disabled = false; }
    } }, "Acknowledge") : null;
  return h("li", { class: `alert a-${alert.status}`, dataset: { alert: alert.id } },
    h("div", {},
      h("p", { class: "kind" }, KIND_TEXT[alert.kind] || alert.kind, " · ",
        h("a", { href: `#/space/${encodeURIComponent(alert.space_id)}` }, alert.space_id)),
      h("p", { class: "message" }, alert.message || `${alert.kind} in ${alert.space_id}`),
      h("p", { class: "muted" }, "Raised ", when(alert.raised_at),
        alert.acked_at ? [" · acknowledged ", when(alert.acked_at)] : null,
        alert.resolved_at ? [" · resolved ", when(alert.resolved_at)] : null)),
    ack, status);
}

export async function render(root, ctx) {
  const [open, resolved] = await Promise.all([api("/api/v1/alerts?status=open"),
    api("/api/v1/alerts?status=resolved").catch(() => [])]);
  const refresh = () => render(root, ctx);
  const canAck = ctx.can("alerts:ack");
  const openList = listOf(open, "alerts");
  root.replaceChildren(
    h("h1", {}, "Alerts"),
    h("section", { "aria-label": "Open alerts" }, h("h2", {}, `Open (${openList.length})`),
      openList.length ? h("ul", { class: "alerts" }, openList.map((a) => item(a, canAck, refresh)))
        : notice("Nothing needs attention.", "ok")),
    h("section", { "aria-label": "Resolved alerts" }, h("h2", {}, "Resolved"),
      listOf(resolved, "alerts").length
        ? h("ul", { class: "alerts resolved" }, listOf(resolved, "alerts").slice(0, 50).map((a) => item(a, false, refresh)))
        : h("p", { class: "muted" }, "None yet.")));
}
