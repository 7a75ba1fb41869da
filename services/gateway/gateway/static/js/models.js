// Models (admin): the versions, the current strategy and the live comparison per version
// (share, latency, agreement, feedback accuracy); promote and rollback, each confirmed first.
import { api, listOf } from "./api.js";
import { confirmDialog, h, notice } from "./dom.js";
import { pct, when } from "./format.js";

function versionsTable(deployment) {
  const rows = listOf(deployment, "versions").map((v) => h("tr", {},
    h("th", { scope: "row" }, v.version), h("td", {}, v.role), h("td", {}, v.status),
    h("td", { class: "num" }, pct(v.share)), h("td", { class: "num" }, String(v.requests)),
    h("td", { class: "num" }, pct(v.error_rate)),
    h("td", { class: "num" }, v.latency?.p95_ms != null ? `${Math.round(v.latency.p95_ms)} ms` : "–"),
    h("td", { class: "num" }, pct(v.agreement)),
    h("td", { class: "num" }, v.feedback?.count ? `${pct(v.feedback.accuracy)} of ${v.feedback.count}` : "none")));
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, ["Version", "Role", "Status", "Share", "Requests", "Errors", "p95", "Agreement",
      "Feedback accuracy"].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows)));
}

function catalog(models) {
  return h("ul", { class: "catalog" }, listOf(models, "models").map((m) => h("li", {},
    h("strong", {}, m.name), ` · default version ${m.default_version}`,
    h("ul", {}, (m.versions || []).map((v) => {
      const acc = v.accuracy?.["pets-eval"]?.accuracy ?? v.accuracy?.pets?.accuracy;
      return h("li", {}, `v${v.version} · ${v.precision || ""} · ${v.status}`,
        acc != null ? ` · eval accuracy ${pct(acc)}` : "", v.roles?.length ? ` · ${v.roles.join(", ")}` : "");
    })))));
}

function action(label, enabled, why, question, path, root, ctx) {
  return h("button", { type: "button", class: "primary", disabled: !enabled, title: enabled ? null : why,
    onclick: async () => {
      if (!(await confirmDialog(label, question, label))) return;
      try { await api(path, { method: "POST" }); await render(root, ctx); }
      catch (err) { root.prepend(notice(`${label} failed: ${err.message}`, "error")); }
    } }, label);
}

export async function render(root, ctx) {
  const [models, dep] = await Promise.all([api("/api/v1/classifier/models"), api("/api/v1/classifier/deployment")]);
  const spec = dep.spec || {};
  const cmp = dep.comparison;
  root.replaceChildren(
    h("h1", {}, "Models"),
    h("section", { class: "card", "aria-label": "Deployment" },
      h("p", {}, "Strategy ", h("strong", {}, dep.strategy), " · primary ", h("strong", {}, spec.primary || "–"),
        spec.candidate ? [" · candidate ", h("strong", {}, spec.candidate)] : null),
      h("p", { class: "muted" }, "Changed ", when(dep.updated_at, "never"), dep.updated_by ? ` by key ${dep.updated_by}` : "",
        dep.previous_primary ? ` · previous primary ${dep.previous_primary}` : ""),
      dep.verdict ? notice(dep.verdict, "error") : null,
      cmp ? h("p", {}, `Agreement ${pct(cmp.agreement)} over ${cmp.compared} compared images`) : null,
      h("div", { class: "actions" },
        action("Promote", Boolean(spec.candidate), "There is no candidate to promote",
          `Make ${spec.candidate} the primary model for every camera?`, "/api/v1/classifier/deployment/promote", root, ctx),
        action("Roll back", Boolean(spec.candidate || dep.previous_primary), "Nothing to roll back to",
          spec.candidate ? `Stop sending images to ${spec.candidate}?` : `Return to ${dep.previous_primary}?`,
          "/api/v1/classifier/deployment/rollback", root, ctx))),
    h("h2", {}, "Versions in this rollout"), versionsTable(dep),
    h("h2", {}, "Catalogue"), catalog(models));
}
