// Shelter Watch dashboard: ES modules, no build step, no CDN. This module signs in, routes the
// hash (#/grid, #/space/<id>, #/cameras, #/alerts, #/animals, #/try, #/models, #/screens),
// shows only what the session's role may use, and re-renders the live panels on server events.
import { api, onUnauthorized, session } from "./js/api.js";
import { $, h, notice } from "./js/dom.js";
import { refreshAges } from "./js/format.js";
import { connect, disconnect, onEvent } from "./js/live.js";
import * as alerts from "./js/alerts.js";
import * as animals from "./js/animals.js";
import * as cameras from "./js/cameras.js";
import * as grid from "./js/grid.js";
import * as links from "./js/links.js";
import * as models from "./js/models.js";
import * as space from "./js/space.js";
import * as tryit from "./js/tryit.js";

// name: [label, module, permission needed or null, refreshed by live events]
const VIEWS = {
  grid: ["Kennels", grid, null, true],
  space: ["Space", space, null, true],
  cameras: ["Cameras", cameras, null, true],
  alerts: ["Alerts", alerts, null, true],
  animals: ["Animals", animals, null, false],
  try: ["Try it", tryit, "photos:classify", false],
  models: ["Models", models, "admin", false],
  screens: ["Wall screens", links, "admin", false],
};
const state = { session: null, generation: 0, rendering: null, pending: null };
const main = () => $("#main");

const ctx = {
  can: (perm) => Boolean(state.session && (state.session.role === "admin"
    || (state.session.permissions || []).includes(perm))),
};

function setBadge(text) {
  const badge = $("#live");
  badge.textContent = text;
  badge.className = `pill ${text === "live" ? "on" : "off"}`;
}

function route() {
  const [, name = "grid", ...rest] = (location.hash || "#/grid").split("/");
  const view = VIEWS[name] ? name : "grid";
  return { view, arg: decodeURIComponent(rest.join("/")) };
}

function renderNav() {
  const { view } = route();
  const items = Object.entries(VIEWS).filter(([n, [, , perm]]) => n !== "space" && (!perm || ctx.can(perm)));
  $("#nav").replaceChildren(...items.map(([n, [label]]) =>
    h("a", { href: `#/${n}`, "aria-current": n === view || (view === "space" && n === "grid") ? "page" : null }, label)));
  const s = state.session;
  $("#who").replaceChildren(s ? h("span", {}, h("strong", {}, s.name), ` · ${s.role}`) : "");
  $("#sign-out").hidden = !s;
}

async function show(live = false) {
  if (!state.session) return;
  if (state.rendering) { // once this one is done; a navigation wins over a live refresh
    state.pending = state.pending === "nav" || !live ? "nav" : "live";
    return;
  }
  const { view, arg } = route();
  const [label, module, perm] = VIEWS[view];
  renderNav();
  document.title = `${view === "space" ? arg : label} · Shelter Watch`;
  // Render off-screen, then swap in only if the same session is still signed in: a sign-out
  // during the fetches must not bring numbers back.
  const generation = state.generation, hash = location.hash;
  const target = h("div", { class: "view" });
  state.rendering = (async () => {
    try {
      if (perm && !ctx.can(perm)) target.replaceChildren(notice("Your role cannot open this page.", "error"));
      else await module.render(target, ctx, arg);
    } catch (err) {
      target.replaceChildren(notice(`Could not load ${label.toLowerCase()}: ${err.message}`, "error"));
    }
    const stillWanted = state.session && generation === state.generation && hash === location.hash;
    if (stillWanted && !(live && busy())) { // a live refresh never lands under the user's hands
      main().replaceChildren(target);
    }
  })();
  await state.rendering;
  state.rendering = null;
  if (state.pending) {
    const again = state.pending;
    state.pending = null;
    await show(again === "live");
  }
}

let liveTimer = null;
// Never re-render under the user's hands: an open dialog or correction form waits.
const busy = () => document.querySelector("dialog[open], #main form.feedback:not([hidden])");
const isLive = () => VIEWS[route().view][3];
function liveRefresh() {
  if (!isLive() || liveTimer || busy()) return;
  // checked again when it fires: the user may have opened a form page meanwhile
  liveTimer = setTimeout(() => { liveTimer = null; if (isLive() && !busy()) show(true); }, 400);
}

function signedIn(body) {
  state.session = body;
  state.generation += 1;
  $("#signin").hidden = true;
  $("#app").hidden = false;
  connect(setBadge);
  show();
}

/** Clear every number on screen and say why: sign-out, a wrong key, a revoked key or link. */
function signedOut(message, kind = "info") {
  state.session = null;
  state.generation += 1;
  disconnect();
  main().replaceChildren();
  $("#app").hidden = true;
  $("#signin").hidden = false;
  setBadge("signed out");
  renderNav();
  const msg = $("#signin-message");
  msg.replaceChildren(message ? notice(message, kind) : "");
  $("#key").value = "";
  $("#key").focus();
}

async function signIn(credentials) {
  try {
    signedIn(await session.signIn(credentials));
  } catch (err) {
    const what = credentials.link ? "This screen link" : "That key";
    signedOut(err.status === 401 ? `${what} was not accepted: it is wrong, expired or revoked.`
      : `Could not sign in: ${err.message}`, "error");
  }
}

function wire() {
  $("#signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = $("#key").value.trim();
    $("#key").value = "";
    if (key) signIn({ key });
  });
  $("#sign-out").addEventListener("click", async () => {
    try { await session.signOut(); } catch { /* signed out either way */ }
    signedOut("You are signed out.");
  });
  onUnauthorized(() => {
    if (state.session) signedOut("Your session ended or your key was revoked: nothing shown is current. Sign in again.", "error");
  });
  $(".skip").addEventListener("click", (e) => { e.preventDefault(); main().focus(); });
  window.addEventListener("hashchange", () => { if (!location.hash.startsWith("#link=")) show(); });
  onEvent(() => liveRefresh());
  setInterval(() => refreshAges(), 15000);
  setInterval(() => { if (state.session) liveRefresh(); }, 30000);
}

async function start() {
  wire();
  if (location.hash.startsWith("#link=")) {
    const token = location.hash.slice("#link=".length);
    history.replaceState(null, "", `${location.pathname}#/grid`); // the token leaves the address bar
    return signIn({ link: token });
  }
  try {
    signedIn(await session.current());
  } catch {
    signedOut("");
  }
}

start();
void api;
