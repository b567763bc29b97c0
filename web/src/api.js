// The API client of the web app: the session (tokens kept in this tab's sessionStorage, never
// in a URL or localStorage), refresh before expiry, one retry after a 401, and errors turned
// into ApiError values that ui.js words for people.

const STORE_KEY = "storagetiers.session";
/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_MS = 60_000;

/** An API answer other than 2xx/304, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, body, headers) {
    super(typeof body?.detail === "string" ? body.detail : `HTTP ${status}`);
    this.status = status;
    this.body = body ?? {};
    this.retryAfter = Number(headers?.get?.("retry-after")) || null;
  }
  /** Per-field messages of a 400: {"field": ["message", ...]}. */
  get fields() {
    if (this.status !== 400 || typeof this.body !== "object") return {};
    return Object.fromEntries(
      Object.entries(this.body).filter(([, v]) => Array.isArray(v)),
    );
  }
}

let session = load();
let refreshTimer = null;
let refreshing = null;
const listeners = new Set();

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE_KEY)) ?? null;
  } catch {
    return null;
  }
}

function save(next) {
  session = next;
  if (next) sessionStorage.setItem(STORE_KEY, JSON.stringify(next));
  else sessionStorage.removeItem(STORE_KEY);
  schedule();
}

/** Called with a reason string when the session ends without the user signing out. */
export function onSessionLost(fn) {
  listeners.add(fn);
}

export function hasSession() {
  return session !== null;
}

/** True when the server set the st_access cookie, so <img src> can load protected images. */
export function cookieImages() {
  return session?.mode === "cookie";
}

function expiryMs(jwt) {
  try {
    const payload = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).exp * 1000;
  } catch {
    return 0;
  }
}

function schedule() {
  clearTimeout(refreshTimer);
  if (!session) return;
  const wait = expiryMs(session.access) - Date.now() - REFRESH_MARGIN_MS;
  refreshTimer = setTimeout(() => refresh().catch(() => {}), Math.max(wait, 1000));
}

async function post(path, body) {
  let res;
  try {
    res = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, { detail: "network" });
  }
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, json, res.headers);
  return { status: res.status, json };
}

/**
 * Signs in. Uses the cookie session (`POST /api/session/`) where the server has it, else the
 * plain token pair (`POST /api/token/`), in which case images are fetched with the header.
 */
export async function signIn(username, password) {
  let mode = "cookie";
  let reply;
  try {
    reply = await post("/api/session/", { username, password });
  } catch (e) {
    if (e.status !== 404 && e.status !== 405) throw e;
    mode = "token";
    reply = await post("/api/token/", { username, password });
  }
  save({ mode, access: reply.json.access, refresh: reply.json.refresh, username });
}

/** Gets a new access token (and, with cookie sessions, a rotated refresh token). */
export function refresh() {
  if (!session) return Promise.reject(new ApiError(401, {}));
  refreshing ??= (async () => {
    const current = session;
    const path = current.mode === "cookie" ? "/api/session/refresh/" : "/api/token/refresh/";
    try {
      const { json } = await post(path, { refresh: current.refresh });
      save({ ...current, access: json.access, refresh: json.refresh ?? current.refresh });
    } catch (e) {
      if (e.status !== 0) lose("Your session has ended. Please sign in again.");
      throw e;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

function lose(reason) {
  save(null);
  for (const fn of listeners) fn(reason);
}

export async function signOut() {
  const current = session;
  save(null);
  if (current?.mode === "cookie") {
    // Clears the HttpOnly cookie; the tokens are already gone from this tab either way.
    await fetch("/api/session/", {
      method: "DELETE",
      headers: { authorization: `Bearer ${current.access}` },
    }).catch(() => {});
  }
}

async function ensureFresh() {
  if (session && expiryMs(session.access) - Date.now() < 5_000) await refresh();
}

/**
 * One API call with the access token. JSON bodies go in `json`; returns
 * {status, json, headers}. A 401 triggers one refresh and one retry.
 */
export async function api(method, path, { json, retry = true } = {}) {
  await ensureFresh();
  const headers = {};
  if (session) headers.authorization = `Bearer ${session.access}`;
  if (json !== undefined) headers["content-type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, { detail: "network" });
  }
  if (res.status === 401 && retry && session) {
    await refresh();
    return api(method, path, { json, retry: false });
  }
  const text = res.status === 204 ? "" : await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { detail: text };
  }
  if (!res.ok) throw new ApiError(res.status, body, res.headers);
  return { status: res.status, json: body, headers: res.headers };
}

/** The path of a `Link: <...>; rel="next"` header, or null on the last page. */
export function nextLink(headers) {
  const link = headers.get("link");
  if (!link) return null;
  for (const part of link.split(",")) {
    const m = part.match(/<([^>]+)>\s*;\s*rel="?next"?/);
    if (m) return m[1];
  }
  return null;
}

/**
 * Uploads one picture with XMLHttpRequest (the only browser API with upload progress).
 * `onProgress(fraction)` runs as bytes leave; resolves with the picture, rejects with ApiError.
 */
export async function upload(file, name, onProgress, retry = true) {
  await ensureFresh();
  const form = new FormData();
  form.append("name", name);
  form.append("img", file, file.name);
  const result = await new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/pictures");
    if (session) xhr.setRequestHeader("authorization", `Bearer ${session.access}`);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = { detail: xhr.responseText };
      }
      resolve({ status: xhr.status, body, retryAfter: xhr.getResponseHeader("retry-after") });
    };
    xhr.onerror = () => resolve({ status: 0, body: { detail: "network" } });
    xhr.send(form);
  });
  if (result.status === 401 && retry && session) {
    await refresh();
    return upload(file, name, onProgress, false);
  }
  if (result.status !== 201) {
    throw new ApiError(result.status, result.body, new Headers(
      result.retryAfter ? { "retry-after": result.retryAfter } : {},
    ));
  }
  onProgress(1);
  return result.body;
}

/**
 * Shows a protected image in `img`: with the cookie session an ordinary, browser-cached
 * <img src>; without it (a server that has no /api/session/ yet), fetched with the header.
 */
export async function showImage(img, path) {
  if (cookieImages()) {
    img.src = path;
    return;
  }
  try {
    await ensureFresh();
    const res = await fetch(path, { headers: { authorization: `Bearer ${session?.access}` } });
    if (!res.ok) return;
    img.src = URL.createObjectURL(await res.blob());
  } catch {
    // The card keeps its placeholder; the gallery stays usable.
  }
}
