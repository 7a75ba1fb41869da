// Shelter Watch dashboard: plain JS, no build step, no CDN.
// The API key stays in localStorage and goes in the X-API-Key header. Live updates read
// /api/v1/events with fetch streaming (so the key never appears in a URL); any event triggers a
// (debounced) refresh of summary, spaces and alerts.
"use strict";
const KEY = "shelterWatchApiKey";
const $ = (id) => document.getElementById(id);
let refreshTimer = null;
let streamAbort = null;

function apiKey() { return localStorage.getItem(KEY) || ""; }

function showError(text) { $("error").hidden = !text; $("error").textContent = text || ""; }

async function getJson(path) {
  const r = await fetch(path, { headers: { "X-API-Key": apiKey(), Accept: "application/json" } });
  if (!r.ok) {
    const problem = await r.json().catch(() => ({}));
    throw new Error(`${path}: ${r.status} ${problem.detail || r.statusText}`);
  }
  return r.json();
}

function listOf(data, name) {
  if (Array.isArray(data)) return data;
  return (data && (data[name] || data.items)) || [];
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function count(n) { return typeof n === "number" ? n : 0; }

function renderSummary(s) {
  // The aggregator's GET /v1/summary: {animals: {cat: {status: n}, dog: {...}},
  // spaces: {occupied: {cat, dog}, empty, unknown, total}}.
  const animals = (s && s.animals) || {};
  const spaces = (s && s.spaces) || {};
  const occupied = spaces.occupied || {};
  const rows = [["Cats", animals.cat || {}], ["Dogs", animals.dog || {}]].map(([name, c]) =>
    [name, `${count(c.available)} available · ${count(c.reserved)} reserved · ` +
           `${count(c.intake)} in intake · ${count(c.adopted)} adopted`]);
  rows.push(["Spaces", `${count(occupied.cat)} cat · ${count(occupied.dog)} dog · ` +
                       `${count(spaces.empty)} empty · ${count(spaces.unknown)} unknown`]);
  $("summary").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
}

function seen(iso) {
  if (!iso) return "never";
  const t = new Date(iso);
  return isNaN(t) ? iso : t.toLocaleTimeString();
}

function renderSpaces(spaces) {
  $("spaces").replaceChildren(...spaces.map((s) => {
    const tr = el("tr", undefined, s.stale ? "stale" : "");
    const conf = typeof s.confidence === "number" ? `${(100 * s.confidence).toFixed(0)}%` : "";
    tr.append(el("td", s.space_id), el("td", s.occupant, s.occupant), el("td", conf),
              el("td", seen(s.last_seen) + (s.stale ? " (stale)" : "")));
    return tr;
  }));
}

function renderAlerts(alerts) {
  const active = alerts.filter((a) => (a.status ? a.status === "active" : !a.resolved_at));
  $("alerts").replaceChildren(...(active.length ? active.map((a) =>
    el("li", [a.kind || a.type, a.space_id, a.message || a.detail].filter(Boolean).join(" · ")))
    : [el("li", "none")]));
}

async function refresh() {
  if (!apiKey()) return showError("Enter an API key (role viewer, staff or admin) to see the shelter.");
  try {
    const [summary, spaces, alerts] = await Promise.all(
      ["/api/v1/summary", "/api/v1/spaces", "/api/v1/alerts?status=active"].map(getJson));
    renderSummary(summary); renderSpaces(listOf(spaces, "spaces")); renderAlerts(listOf(alerts, "alerts"));
    showError("");
  } catch (e) { showError(e.message); }
}

function scheduleRefresh() {
  // At most one refresh a second, however many events arrive (one per classified frame).
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, 1000);
}

async function follow() {
  if (streamAbort) streamAbort.abort();
  if (!apiKey()) return;
  const abort = (streamAbort = new AbortController());
  let lastId = "";
  while (!abort.signal.aborted) {
    try {
      const headers = { "X-API-Key": apiKey(), Accept: "text/event-stream" };
      if (lastId) headers["Last-Event-ID"] = lastId;
      const r = await fetch("/api/v1/events", { headers, signal: abort.signal });
      if (!r.ok) throw new Error(`events: ${r.status}`);
      $("live").className = "pill"; $("live").textContent = "live";
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
          const id = block.split("\n").find((l) => l.startsWith("id:"));
          if (id) lastId = id.slice(3).trim();
          if (block.split("\n").some((l) => l.startsWith("data:"))) scheduleRefresh();
        }
      }
    } catch (e) {
      if (abort.signal.aborted) return;
    }
    $("live").className = "pill off"; $("live").textContent = "reconnecting";
    await new Promise((done) => setTimeout(done, 3000));
  }
}

$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  localStorage.setItem(KEY, $("key").value.trim());
  $("key").value = "";
  refresh(); follow();
});
$("forget").addEventListener("click", () => {
  localStorage.removeItem(KEY);
  if (streamAbort) streamAbort.abort();
  $("live").className = "pill off"; $("live").textContent = "offline";
  refresh();
});
refresh(); follow();
