// The adoption registry: a table; staff create and edit animals and move their status. A move the
// registry refuses (409) is shown with its reason, the problem's detail.
import { api, listOf } from "./api.js";
import { h, notice } from "./dom.js";
import { STATUS_TEXT, naturalCompare, when } from "./format.js";

const STATUSES = Object.keys(STATUS_TEXT);

function field(label, input) {
  return h("label", { class: "field" }, h("span", {}, label), input);
}

function animalForm(animal, onSaved) {
  const a = animal || { name: "", species: "cat", space_id: "", status: "intake", notes: "" };
  const name = h("input", { name: "name", required: true, maxlength: 100, value: a.name });
  const species = h("select", { name: "species" }, ["cat", "dog"].map((s) => h("option", { value: s, selected: s === a.species }, s)));
  const space = h("input", { name: "space_id", value: a.space_id || "", placeholder: "kennel-4" });
  const status = h("select", { name: "status" }, STATUSES.map((s) => h("option", { value: s, selected: s === a.status }, STATUS_TEXT[s])));
  const notes = h("input", { name: "notes", maxlength: 2000, value: a.notes || "" });
  const out = h("p", { class: "form-result", role: "status" });
  const form = h("form", { class: "animal-form", onsubmit: async (e) => {
    e.preventDefault();
    const body = { name: name.value.trim(), species: species.value, space_id: space.value.trim() || null,
      status: status.value, notes: notes.value };
    try {
      const saved = animal
        ? await api(`/api/v1/animals/${encodeURIComponent(animal.id)}`, { method: "PUT", json: body })
        : await api("/api/v1/animals", { method: "POST", json: body });
      out.textContent = `Saved ${saved.name}.`;
      out.className = "form-result ok";
      onSaved(saved);
    } catch (err) {
      out.textContent = err.status === 409 ? `Refused: ${err.message}` : `Not saved: ${err.message}`;
      out.className = "form-result error";
    }
  } },
  field("Name", name), field("Species", species), field("Kennel", space), field("Status", status),
  field("Notes", notes), h("button", { type: "submit", class: "primary" }, animal ? "Save changes" : "Register animal"), out);
  return form;
}

function moveControl(animal, onMoved) {
  const out = h("span", { class: "move-result", role: "status" });
  const select = h("select", { "aria-label": `New status for ${animal.name}` },
    STATUSES.filter((s) => s !== animal.status).map((s) => h("option", { value: s }, STATUS_TEXT[s])));
  return h("form", { class: "move", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api(`/api/v1/animals/${encodeURIComponent(animal.id)}`, { method: "PATCH", json: { status: select.value } });
      onMoved();
    } catch (err) {
      out.textContent = err.status === 409 ? `Refused: ${err.message}` : err.message;
      out.className = "move-result error";
    }
  } }, select, h("button", { type: "submit", class: "secondary" }, "Move"), out);
}

function row(animal, canEdit, refresh, root) {
  const warnings = animal.warnings || [];
  return h("tr", { dataset: { animal: animal.id } },
    h("th", { scope: "row" }, animal.name),
    h("td", {}, animal.species),
    h("td", {}, animal.space_id ? h("a", { href: `#/space/${encodeURIComponent(animal.space_id)}` }, animal.space_id)
      : h("span", { class: "muted" }, "none")),
    h("td", {}, h("span", { class: `status s-${animal.status}` }, STATUS_TEXT[animal.status] || animal.status),
      h("span", { class: "muted" }, " ", when(animal.status_changed_at))),
    h("td", {}, warnings.length ? h("ul", { class: "warnings" }, warnings.map((w) => h("li", {}, `⚠ ${w}`)))
      : h("span", { class: "muted" }, "none")),
    canEdit ? h("td", {}, h("div", { class: "actions" }, moveControl(animal, refresh),
      h("button", { type: "button", class: "link", onclick: () => {
        const dialog = h("dialog", { class: "edit", "aria-label": `Edit ${animal.name}` },
          h("h2", {}, `Edit ${animal.name}`),
          animalForm(animal, () => { dialog.close(); refresh(); }),
          h("form", { method: "dialog" }, h("button", { class: "secondary" }, "Close")));
        dialog.addEventListener("close", () => dialog.remove());
        root.append(dialog);
        dialog.showModal();
      } }, "Edit"))) : null);
}

export async function render(root, ctx) {
  const animals = listOf(await api("/api/v1/animals"), "animals").sort((a, b) => naturalCompare(a.name, b.name));
  const canEdit = ctx.can("animals:write");
  const refresh = () => render(root, ctx);
  const heads = ["Name", "Species", "Kennel", "Status", "Warnings", ...(canEdit ? ["Actions"] : [])];
  root.replaceChildren(
    h("h1", {}, "Animals"),
    canEdit ? h("details", { class: "card", open: animals.length === 0 },
      h("summary", {}, "Register an animal"), animalForm(null, refresh)) : null,
    animals.length ? h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, heads.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, animals.map((a) => row(a, canEdit, refresh, root)))))
      : notice("No animal is registered yet."));
}
