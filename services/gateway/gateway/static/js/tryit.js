// Try it: upload a photo, see the prediction with its probabilities and model version, and
// (staff) correct it. The image goes as the raw body, as cameras send it.
import { api } from "./api.js";
import { h, notice } from "./dom.js";
import { pct } from "./format.js";
import { feedbackControl } from "./feedback.js";

function bars(probabilities) {
  return h("dl", { class: "bars" }, Object.entries(probabilities).sort((a, b) => b[1] - a[1]).map(([label, p]) => [
    h("dt", {}, label),
    h("dd", {}, h("span", { class: `bar b-${label}`, style: `width:${Math.max(1, p * 100).toFixed(1)}%` }),
      h("span", { class: "bar-value" }, pct(p)))]));
}

function result(r, file, canCorrect) {
  return h("section", { class: "card prediction", "aria-label": "Prediction" },
    h("img", { src: URL.createObjectURL(file), alt: "The uploaded photo", class: "preview" }),
    h("div", {},
      h("p", { class: "verdict" }, "It is ", h("strong", { dataset: { label: r.label } },
        r.label === "other" ? "neither a cat nor a dog" : `a ${r.label}`)),
      bars(r.probabilities),
      h("p", { class: "muted" }, `${r.model} version ${r.version}${r.strategy ? ` · ${r.strategy}` : ""}`),
      canCorrect && r.prediction_id ? feedbackControl(r.prediction_id, r.label) : null));
}

export async function render(root, ctx) {
  const input = h("input", { type: "file", id: "photo", accept: "image/jpeg,image/png,image/webp", required: true });
  const out = h("div", { class: "try-result", "aria-live": "polite" });
  const form = h("form", { class: "card upload", onsubmit: async (e) => {
    e.preventDefault();
    const file = input.files[0];
    if (!file) return;
    out.replaceChildren(notice("Classifying…"));
    try {
      const r = await api("/api/v1/classifier/predict", { method: "POST", body: file,
        headers: { "Content-Type": file.type || "image/jpeg" } });
      out.replaceChildren(result(r, file, ctx.can("predictions:feedback")));
    } catch (err) {
      out.replaceChildren(notice(`Could not classify this photo: ${err.message}`, "error"));
    }
  } },
  h("label", { for: "photo" }, "A photo of a kennel (JPEG, PNG or WebP)"), input,
  h("button", { type: "submit", class: "primary" }, "Classify"));
  root.replaceChildren(h("h1", {}, "Try the classifier"),
    h("p", { class: "muted" }, "The photo is classified by the model in service now; it is not stored as a camera frame."),
    form, out);
}
