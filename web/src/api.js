// The API client of the web app: the session (tokens kept in this tab's sessionStorage, never
// in a URL or localStorage), refresh before expiry, one retry after a 401, the D1 bookmark of
// this tab's latest change sent back on every call, and errors turned into ApiError values that
// ui.js words for people.

const STORE_KEY = "storagetiers.session";
const BOOKMARK_KEY = "storagetiers.bookmark";
/**
 * Every change answers where the database got to; a read that sends it back is served from a
 * replica at least that recent, so the owner sees their own upload, delete or tier change at
 * once even when reads go to a nearby D1 read replica.
 */
const BOOKMARK_HEADER = "x-d1-bookmark";
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
  else {
    sessionStorage.removeItem(STORE_KEY);
    sessionStorage.removeItem(BOOKMARK_KEY);
  }
  schedule();
}

/** The bookmark of this tab's latest change, or null. */
export function bookmark() {
  return sessionStorage.getItem(BOOKMARK_KEY);
}

/**
 * Keeps the newer of the kept bookmark and `value` (a header value, or null when the answer had
 * none). Two changes in flight can answer out of order: D1's bookmarks are fixed-width hex
 * positions, so of two of the same length the greater is the later one.
 */
function keepBookmark(value) {
  if (!value) return;
  const kept = bookmark();
  if (kept && kept.length === value.length && kept > value) return;
  sessionStorage.setItem(BOOKMARK_KEY, value);
}

/** The headers every call carries: the bookmark, when there is one. */
function baseHeaders() {
  const kept = bookmark();
  return kept ? { [BOOKMARK_HEADER]: kept } : {};
}

/** Called with a reason string when the session ends without the user signing out. */
export function onSessionLost(fn) {
  listeners.add(fn);
}

export function hasSession() {
  return session !== null;
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
      headers: { ...baseHeaders(), "content-type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, { detail: "network" });
  }
  keepBookmark(res.headers.get(BOOKMARK_HEADER));
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, json, res.headers);
  return { status: res.status, json };
}

/**
 * Signs in with a browser session (`POST /api/session/`): the token pair for this tab, and the
 * HttpOnly `st_access` cookie that lets <img src> load the user's images.
 */
export async function signIn(username, password) {
  const reply = await post("/api/session/", { username, password });
  save({ access: reply.json.access, refresh: reply.json.refresh, username });
}

/** Gets a new access token and a rotated refresh token (and a fresh cookie). */
export function refresh() {
  if (!session) return Promise.reject(new ApiError(401, {}));
  refreshing ??= (async () => {
    const current = session;
    try {
      const { json } = await post("/api/session/refresh/", { refresh: current.refresh });
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
  if (!current) return;
  // Clears the HttpOnly cookie; the tokens are already gone from this tab either way.
  await fetch("/api/session/", {
    method: "DELETE",
    headers: { authorization: `Bearer ${current.access}` },
  }).catch(() => {});
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
  const headers = baseHeaders();
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
  keepBookmark(res.headers.get(BOOKMARK_HEADER));
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
    for (const [name, value] of Object.entries(baseHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      keepBookmark(xhr.getResponseHeader(BOOKMARK_HEADER));
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
 * Shows a protected image in `img`: an ordinary, browser-cached <img src>, authenticated by the
 * session cookie. An <img> cannot send the bookmark: when a replica has not yet seen this tab's
 * latest change (a picture uploaded a moment ago is 404 there), the image is fetched once more
 * with the headers, bookmark included.
 */
export function showImage(img, path) {
  if (bookmark()) img.addEventListener("error", () => fetchImage(img, path), { once: true });
  img.src = path;
}

async function fetchImage(img, path) {
  try {
    await ensureFresh();
    const res = await fetch(path, {
      headers: { ...baseHeaders(), authorization: `Bearer ${session?.access}` },
    });
    if (!res.ok) return;
    img.src = URL.createObjectURL(await res.blob());
  } catch {
    // The card keeps its placeholder; the gallery stays usable.
  }
}
