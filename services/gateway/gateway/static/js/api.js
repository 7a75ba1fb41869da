// Talking to the gateway. The session cookie (HttpOnly, set by POST /api/v1/session)
// authenticates every call and the event stream; the key itself is sent once, to sign in, and
// never kept. Unsafe methods carry X-Requested-With, the gateway's CSRF guard for cookies.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

const listeners = new Set();
/** Called with the ApiError whenever an answer is 401: the session ended or the key was revoked. */
export const onUnauthorized = (fn) => listeners.add(fn);

export async function api(path, { method = "GET", json, body, headers = {} } = {}) {
  const h = { Accept: "application/json", ...headers };
  if (method !== "GET" && method !== "HEAD") h["X-Requested-With"] = "shelter-watch";
  if (json !== undefined) {
    h["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let r;
  try {
    r = await fetch(path, { method, headers: h, body, credentials: "same-origin" });
  } catch (err) {
    throw new ApiError(0, { title: "Network error", detail: "The gateway did not answer." });
  }
  if (r.status === 204) return null;
  const type = r.headers.get("content-type") || "";
  const data = type.includes("json") ? await r.json().catch(() => ({})) : await r.text();
  if (!r.ok) {
    const err = new ApiError(r.status, typeof data === "object" ? data : { detail: data });
    if (r.status === 401) for (const fn of listeners) fn(err);
    throw err;
  }
  return data;
}

/** A list from an answer that is either a list or {<name>: [...]}. */
export const listOf = (data, name) => (Array.isArray(data) ? data : (data && data[name]) || []);

export const session = {
  current: () => api("/api/v1/session"),
  signIn: (credentials) => api("/api/v1/session", { method: "POST", json: credentials }),
  signOut: () => api("/api/v1/session", { method: "DELETE" }),
};
