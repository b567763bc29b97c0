//! The same-checks reference of a cached thumbnail read: what `GET /api/picture/{id}/{height}` of
//! the service does on a cache hit (`read_variant` in src/routes/pictures.rs, `serve` in
//! src/media/renditions.rs), written as a plain JS Worker: HS256 verify with WebCrypto, the same
//! D1 query, a `caches.default.match`, the cached body passed through with the same headers. The
//! bench holds the service to this (>= 1.0x its req/s, p99 no higher).
//!
//! Started with `REFERENCE_WORK=observed` (the bench's "matched" reference) it also does what the
//! service does for an operator on every request (issue 20): the query in a D1 session
//! (`first-unconstrained`), a request id and `Server-Timing` in the answer, and one JSON log line;
//! the bench runs that one behind the service's Static Assets configuration too. It tells the cost
//! of the checks from the cost of what the service does besides them.

// The service's SQL, verbatim (`read_check` in src/store/pictures.rs, with TIER_COLUMNS of
// src/store/tiers.rs and PICTURE_COLUMNS expanded).
const READ_CHECK_SQL =
  "SELECT u.token_generation, t.id AS tier_id, t.name AS tier_name, t.thumbnail_heights, " +
  "t.allow_original, t.allow_expiring_links, " +
  "p.id, p.owner_id, p.name, p.content_type, p.width, p.height, p.size, p.created_at " +
  "FROM users u JOIN tiers t ON t.id = u.tier_id " +
  "LEFT JOIN pictures p ON p.id = ? AND p.owner_id = u.id WHERE u.id = ?";

// Same key, ETag and client headers as the service (src/pictures.rs).
const cacheKey = (id, variant) => `https://storagetiers.internal/${id}/${variant}`;
const etagOf = (id, variant) => `"${id}-${variant}"`;
const CLIENT_CACHE_CONTROL = "private, max-age=3600";
// What the service puts on every answer (`finish` in src/routes/mod.rs).
const API_CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; sandbox";
const EDGE_CACHE_CONTROL = "public, max-age=2592000";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const problem = (status, detail) =>
  new Response(JSON.stringify({ detail }), { status, headers: { "content-type": "application/json" } });

// The HMAC key is imported once per isolate, as any JS Worker would keep it.
let hmacKey = null;
async function key(secret) {
  hmacKey ??= await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  return hmacKey;
}

function base64url(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The claims of a valid access token, or null: HS256 only, signature, type, expiry. */
async function verify(header, secret) {
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!m) return null;
  const parts = m[1].split(".");
  if (parts.length !== 3) return null;
  try {
    const head = JSON.parse(new TextDecoder().decode(base64url(parts[0])));
    if (head.alg !== "HS256") return null;
    const data = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
    if (!(await crypto.subtle.verify("HMAC", await key(secret), base64url(parts[2]), data))) return null;
    const claims = JSON.parse(new TextDecoder().decode(base64url(parts[1])));
    if (claims.token_type !== "access" || !Number.isInteger(claims.user_id)) return null;
    if (Math.floor(Date.now() / 1000) >= claims.exp) return null;
    return claims;
  } catch {
    return null;
  }
}

/**
 * `PUT /api/seed?user_id=&tier=&picture_id=&content_type=` with the thumbnail's bytes: the bench's
 * set-up, once. The user gets the service user's id (so the service's token is valid here too)
 * and the tier of that name from the migrations' seed rows.
 */
async function seed(request, env) {
  const q = new URL(request.url).searchParams;
  const userId = Number(q.get("user_id"));
  const pictureId = q.get("picture_id");
  const contentType = q.get("content_type");
  await env.DB.batch([
    env.DB.prepare(
      "INSERT INTO users (id, username, password_hash, tier_id, is_admin, created_at) " +
        "SELECT ?, ?, 'x', id, 0, 0 FROM tiers WHERE name = ?",
    ).bind(userId, `reference-${userId}`, q.get("tier")),
    env.DB.prepare(
      "INSERT INTO pictures (id, owner_id, name, content_type, width, height, size, created_at) " +
        "VALUES (?, ?, 'reference', ?, 1, 1, 1, 0)",
    ).bind(pictureId, userId, contentType),
  ]);
  const body = await request.arrayBuffer();
  await caches.default.put(
    cacheKey(pictureId, "200"),
    new Response(body, { headers: { "content-type": contentType, "cache-control": EDGE_CACHE_CONTROL } }),
  );
  return new Response(null, { status: 204 });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    // Under /api/ like the service's routes, so the matched reference's Static Assets router
    // passes them to the Worker (`run_worker_first`).
    if (url.pathname === "/api/ready") return new Response("ready");
    if (request.method === "PUT" && url.pathname === "/api/seed") return seed(request, env);
    if (env.REFERENCE_WORK === "observed") return observed(request, env);
    return read(request, env, env.DB, null);
  },
};

/**
 * `read` as the service answers it, with its operator's view: a D1 session, the request id (the
 * `cf-ray`, else a random one) and `Server-Timing` on the answer, one JSON log line of the same
 * fields as the service's.
 */
async function observed(request, env) {
  const started = Date.now();
  const ray = request.headers.get("cf-ray");
  const id = ray && /^[A-Za-z0-9-]{1,64}$/.test(ray) ? ray : crypto.randomUUID().replaceAll("-", "");
  const trace = { d1: 0, cache: 0, lookup: null, user: null };
  const response = await read(request, env, env.DB.withSession("first-unconstrained"), trace);
  const total = Date.now() - started;
  const timing = [];
  if (trace.lookup) timing.push(`d1;dur=${trace.d1}`, `cache;desc=${trace.lookup};dur=${trace.cache}`);
  timing.push(`total;dur=${total}`);
  response.headers.set("x-request-id", id);
  response.headers.set("server-timing", timing.join(", "));
  const line = {
    message: "request", request_id: id, method: request.method, route: "/api/picture/{id}/{height}",
    status: response.status, duration_ms: total, user_id: trace.user, bytes: null, level: "info",
  };
  if (trace.lookup) Object.assign(line, { d1_ms: trace.d1, d1_calls: 1, cache_ms: trace.cache, cache_calls: 1, cache: trace.lookup });
  console.log(JSON.stringify(line));
  return response;
}

/** The cached read; `trace`, when given, learns the user and the D1 and cache times. */
async function read(request, env, db, trace) {
  const url = new URL(request.url);
  const m = /^\/api\/picture\/([^/]+)\/(\d+)\/?$/.exec(url.pathname);
  if (request.method !== "GET" || !m) return problem(404, "Not found.");
  const claims = await verify(request.headers.get("authorization"), env.JWT_SECRET);
  if (!claims) return problem(401, "Token is invalid.");
  if (trace) trace.user = claims.user_id;
  const [, id, height] = m;
  if (!UUID.test(id)) return problem(404, "Not found.");
  const variant = String(Number(height));

  // As the service does: the cache lookup overlaps the check, its result used only after it.
  // The plain reference awaits the calls themselves, with nothing added.
  const timed = trace
    ? async (step, promise) => {
        const start = Date.now();
        const value = await promise;
        trace[step] = Date.now() - start;
        return value;
      }
    : (_, promise) => promise;
  const [rows, cached] = await Promise.all([
    timed("d1", db.prepare(READ_CHECK_SQL).bind(id.toLowerCase(), claims.user_id).all()),
    timed("cache", caches.default.match(cacheKey(id.toLowerCase(), variant))),
  ]);
  if (trace) trace.lookup = cached ? "hit" : "miss";
  const row = rows.results[0];
  if (!row) return problem(401, "User not found.");
  // A password or username change raises the generation; older tokens stop working.
  if (row.token_generation !== (claims.generation ?? 0)) return problem(401, "Token is no longer valid.");
  if (row.id === null) return problem(404, "Not found.");
  if (!JSON.parse(row.thumbnail_heights).includes(Number(height))) {
    return problem(403, "Your tier does not include thumbnails of this height.");
  }
  const etag = etagOf(id.toLowerCase(), variant);
  const headers = new Headers({
    etag,
    "cache-control": CLIENT_CACHE_CONTROL,
    "x-content-type-options": "nosniff",
    "content-security-policy": API_CONTENT_SECURITY_POLICY,
    "referrer-policy": "no-referrer",
  });
  const inm = request.headers.get("if-none-match");
  if (inm && inm.split(",").some((c) => c.trim() === "*" || c.trim().replace(/^W\//, "") === etag)) {
    return new Response(null, { status: 304, headers });
  }
  // The reference has no R2: only hits are measured.
  if (!cached) return problem(503, "not seeded");
  headers.set("content-type", cached.headers.get("content-type") ?? "application/octet-stream");
  headers.set("cf-cache-status", "HIT");
  return new Response(cached.body, { status: 200, headers });
}
