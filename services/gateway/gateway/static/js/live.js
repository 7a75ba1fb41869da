// The live feed: one same-origin EventSource on /api/v1/events (the cookie authenticates it).
// Each event calls the handlers; when the stream breaks, the browser retries by itself, and we
// ask /api/v1/session whether we are still signed in (a 401 there signs the page out).
import { session } from "./api.js";

let source = null;
const handlers = new Set();
const TYPES = ["space.updated", "alert.raised", "alert.acked", "alert.resolved", "animal.created",
  "animal.updated", "animal.deleted", "camera.updated", "message"];

export const onEvent = (fn) => handlers.add(fn);

export function connect(setBadge) {
  disconnect();
  source = new EventSource("/api/v1/events");
  source.onopen = () => setBadge("live");
  source.onerror = async () => {
    setBadge("reconnecting");
    try {
      await session.current(); // still signed in: EventSource reconnects on its own
    } catch {
      /* a 401 went to onUnauthorized; anything else: keep retrying */
    }
  };
  for (const type of TYPES) {
    source.addEventListener(type, (e) => {
      let data = null;
      try { data = JSON.parse(e.data); } catch { /* a comment or keep-alive */ }
      for (const fn of handlers) fn(type, data);
    });
  }
}

export function disconnect() {
  if (source) source.close();
  source = null;
}
