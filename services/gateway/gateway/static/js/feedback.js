// "This prediction is wrong": pick the right label, POST /api/v1/classifier/feedback.
import { api } from "./api.js";
import { h } from "./dom.js";

const LABELS = ["cat", "dog", "other"];
// Corrections sent from this page, by prediction id: a live re-render keeps saying so.
const sent = new Map();

export function feedbackControl(predictionId, predicted) {
  if (sent.has(predictionId)) {
    return h("p", { class: "feedback-result ok", role: "status" }, `Thank you: recorded as ${sent.get(predictionId)}.`);
  }
  const out = h("p", { class: "feedback-result", role: "status" });
  const choices = LABELS.filter((l) => l !== predicted);
  const select = h("select", { "aria-label": "The right label" },
    choices.map((l) => h("option", { value: l }, l === "other" ? "no cat or dog" : `a ${l}`)));
  const form = h("form", { class: "feedback", hidden: true, onsubmit: async (e) => {
    e.preventDefault();
    try {
      const r = await api("/api/v1/classifier/feedback", { method: "POST",
        json: { prediction_id: predictionId, label: select.value } });
      sent.set(predictionId, r.label);
      out.textContent = r.duplicate ? `Already recorded: ${r.label}.` : `Thank you: recorded as ${r.label}.`;
      out.className = "feedback-result ok";
      form.hidden = true;
    } catch (err) {
      out.textContent = `Not recorded: ${err.message}`;
      out.className = "feedback-result error";
    }
  } }, h("label", {}, "It is ", select), h("button", { type: "submit", class: "primary" }, "Send correction"));
  const open = h("button", { type: "button", class: "secondary wrong", onclick: () => {
    form.hidden = false; open.hidden = true; select.focus();
  } }, "This prediction is wrong");
  return h("div", { class: "feedback-box" }, open, form, out);
}
