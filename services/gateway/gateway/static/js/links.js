// Viewer links for wall screens (admin): a read-only sign-in carried in the URL fragment.
import { api, listOf } from "./api.js";
import { h, notice } from "./dom.js";
import { when } from "./format.js";

export async function render(root, ctx) {
  const links = listOf(await api("/api/v1/links"), "links");
  const name = h("input", { id: "link-name", required: true, maxlength: 100, placeholder: "lobby screen" });
  const days = h("input", { id: "link-days", type: "number", min: 1, max: 365, value: 30 });
  const out = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const link = await api("/api/v1/links", { method: "POST",
        json: { name: name.value.trim(), ttl_s: Number(days.value) * 86400 } });
      const url = new URL(link.url, location.origin).href;
      out.replaceChildren(h("div", { class: "notice ok" }, h("p", {}, "Open this address on the screen (it is shown once):"),
        h("input", { class: "link-url", readonly: true, value: url, "aria-label": "Viewer link", onfocus: (ev) => ev.target.select() })));
      await renderList();
    } catch (err) { out.replaceChildren(notice(`Not created: ${err.message}`, "error")); }
  } }, h("label", { for: "link-name" }, "Screen name"), name, h("label", { for: "link-days" }, "Valid for (days)"), days,
  h("button", { type: "submit", class: "primary" }, "Create viewer link"));
  const list = h("ul", { class: "links" });
  async function renderList(items) {
    const all = items || listOf(await api("/api/v1/links"), "links");
    list.replaceChildren(...all.map((l) => h("li", {}, h("strong", {}, l.name), " · expires ", when(l.expires_at),
    h("button", { type: "button", class: "secondary", onclick: async () => {
      await api(`/api/v1/links/${encodeURIComponent(l.id)}`, { method: "DELETE" }); await renderList();
    } }, "Revoke"))));
    if (!all.length) list.replaceChildren(h("li", { class: "muted" }, "No viewer link yet."));
  }
  await renderList(links);
  root.replaceChildren(h("h1", {}, "Wall screens"),
    h("p", { class: "muted" }, "A viewer link signs a screen in read-only: no acknowledging, no editing."),
    form, out, h("h2", {}, "Active links"), list);
  void ctx;
}
