// The OpenAPI 3.1 document of the storagetiers API, printed as JSON on stdout; scripts/build-web
// writes it to build/web/api/openapi.json, served as a static asset at GET /api/openapi.json.
// Kept true by tests/api/contract.rs (every response the HTTP tests receive is checked against
// it) and by schemathesis in scripts/test.

import { readFileSync, readdirSync } from "node:fs";

const root = new URL("..", import.meta.url);
const version = readFileSync(new URL("Cargo.toml", root), "utf8").match(/^version = "([^"]+)"/m)[1];
// The Worker's sources, wherever the route table lives (tests excluded).
const sources = readdirSync(new URL("src", root), { recursive: true })
  .filter((f) => f.endsWith(".rs") && !f.includes("test"))
  .map((f) => readFileSync(new URL(`src/${f}`, root), "utf8"))
  .join("\n");
// The browser session endpoints, /api/me/, and HEAD on every GET arrive together in the route
// table; until a build has them, the document leaves them out so it describes what is served.
const sessions = /"session"/.test(sources) && /"me"/.test(sources);

const ref = (name) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema) => ({ "application/json": { schema } });
const res = (name) => ({ $ref: `#/components/responses/${name}` });
const header = (name) => ({ $ref: `#/components/headers/${name}` });

const authed = [{ bearerAuth: [] }];
// Reads (GET/HEAD) also accept the browser session's HttpOnly cookie.
const authedRead = sessions ? [{ bearerAuth: [] }, { cookieAuth: [] }] : authed;

const errors = (...codes) => Object.fromEntries(codes.map((code) => [String(code), res(`E${code}`)]));

const pageParams = [
  { name: "limit", in: "query", required: false, description: "Page size, 1 to 200 (default 50).", schema: { type: "integer", minimum: 1, maximum: 200, default: 50 } },
  { name: "cursor", in: "query", required: false, description: "Opaque position from the `Link` header of the previous page.", schema: { type: "string" } },
];
const userSearch = { name: "search", in: "query", required: false, description: "Only usernames that contain this text (ASCII letters in any case).", schema: { type: "string", maxLength: 150 } };
const pictureId = { name: "id", in: "path", required: true, description: "Picture id (a UUID; anything else is 404).", schema: { type: "string", format: "uuid" } };
const heightParam = { name: "height", in: "path", required: true, description: "Thumbnail height in pixels.", schema: { type: "integer", minimum: 1, maximum: 1000 } };
const linkId = { name: "id", in: "path", required: true, description: "Link id (a UUID).", schema: { type: "string", format: "uuid" } };
const tierName = { name: "name", in: "path", required: true, description: "Tier name.", schema: { type: "string", minLength: 1, maxLength: 100, pattern: "^[^/]+$" } };
const username = { name: "username", in: "path", required: true, description: "Username.", schema: { type: "string", minLength: 1, maxLength: 150, pattern: "^[\\w.@+-]+$" } };

const imageResponses = (headOnly) => ({
  200: {
    description: "The image bytes, with their own content type.",
    headers: { ETag: header("ETag"), "Cache-Control": header("CacheControlPrivate") },
    ...(headOnly ? {} : {
      content: {
        "image/jpeg": { schema: { type: "string", contentMediaType: "image/jpeg" } },
        "image/png": { schema: { type: "string", contentMediaType: "image/png" } },
        "image/webp": { schema: { type: "string", contentMediaType: "image/webp" } },
        "image/gif": { schema: { type: "string", contentMediaType: "image/gif" } },
        "image/bmp": { schema: { type: "string", contentMediaType: "image/bmp" } },
        "image/tiff": { schema: { type: "string", contentMediaType: "image/tiff" } },
      },
    }),
  },
  304: { description: "`If-None-Match` matched the ETag: the cached copy is still good.", headers: { ETag: header("ETag") } },
});
const ifNoneMatch = { name: "If-None-Match", in: "header", required: false, description: "An ETag from an earlier answer.", schema: { type: "string" } };

/** An image read as GET and (without a body) as HEAD. */
function imageRead(summary, description, params, security, extraErrors) {
  const op = (method) => ({
    tags: ["Pictures"],
    summary: method === "head" ? `${summary} (headers only)` : summary,
    description,
    security,
    parameters: [...params, ifNoneMatch],
    responses: { ...imageResponses(method === "head"), ...(method === "head" ? headErrors(extraErrors) : errors(...extraErrors)) },
  });
  return { get: op("get"), head: op("head") };
}

/** HEAD answers carry the status and headers of GET, without a body. */
function headErrors(codes) {
  return Object.fromEntries(codes.map((code) => [String(code), { description: `As GET, without a body.`, ...(code === 503 ? { headers: { "Retry-After": header("RetryAfterOptional") } } : {}) }]));
}

/** Adds a HEAD twin to every GET of `item` when the server answers HEAD wherever GET works. */
function withHead(item) {
  if (!sessions || !item.get || item.head) return item;
  const get = item.get;
  const responses = Object.fromEntries(Object.entries(get.responses).map(([code, r]) => {
    const resolved = r.$ref ? { description: "As GET, without a body." } : { ...r };
    delete resolved.content;
    return [code, resolved];
  }));
  return { ...item, head: { ...get, summary: `${get.summary} (headers only)`, responses } };
}

const paths = {
  "/api/health": {
    get: {
      tags: ["Service"], summary: "Health", description: "The service version, or 503 when D1 does not answer.", security: [],
      responses: { 200: { description: "Up.", content: json(ref("Health")) }, ...errors(503) },
    },
    head: {
      tags: ["Service"], summary: "Health (headers only)", security: [],
      responses: { 200: { description: "Up." }, ...headErrors([503]) },
    },
  },
  "/api/token": {
    post: {
      tags: ["Accounts"], summary: "Obtain a token pair", security: [],
      description: "Access and refresh JWTs (HS256). After 10 failed logins for one username from one address within 15 minutes, that pair gets 429 until the window ends.",
      requestBody: { required: true, content: json(ref("Credentials")) },
      responses: { 200: { description: "The tokens.", headers: { "Cache-Control": header("CacheControlNoStore") }, content: json(ref("TokenPair")) }, ...errors(400, 401, 429, 503) },
    },
  },
  "/api/token/refresh": {
    post: {
      tags: ["Accounts"], summary: "Refresh an access token", security: [],
      requestBody: { required: true, content: json(ref("RefreshRequest")) },
      responses: { 200: { description: "A new access token (and, where refresh tokens rotate, a new refresh token).", content: json(ref("RefreshedTokens")) }, ...errors(400, 401, 503) },
    },
  },
  "/api/pictures": {
    get: {
      tags: ["Pictures"], summary: "List your pictures", description: "Newest first, keyset-paginated: follow the `Link` header's `rel=\"next\"` URL.",
      security: authedRead, parameters: pageParams,
      responses: { 200: { description: "One page.", headers: { Link: header("Link") }, content: json({ type: "array", items: ref("Picture") }) }, ...errors(400, 401, 503) },
    },
    post: {
      tags: ["Pictures"], summary: "Upload a picture",
      description: "Multipart `name` (1 to 100 characters) and `img` (JPEG, PNG, WebP, GIF, BMP or TIFF; the content decides the type; JPEG up to MAX_UPLOAD_BYTES (100 MB) and MAX_IMAGE_PIXELS (100 MP), streamed; other formats up to 48 MiB). A body that arrives slower than UPLOAD_FLOOR_BYTES_PER_SEC after a grace of UPLOAD_GRACE_SECS is abandoned with 408. The original and every thumbnail of your tier are stored before the answer.",
      security: authed,
      requestBody: { required: true, content: { "multipart/form-data": { schema: ref("Upload"), encoding: { img: { contentType: "image/jpeg, image/png, image/webp, image/gif, image/bmp, image/tiff" } } } } },
      responses: { 201: { description: "Stored.", content: json(ref("Picture")) }, ...errors(400, 401, 408, 413, 503) },
    },
  },
  "/api/pictures/shared": {
    get: {
      tags: ["Share links"], summary: "List your active share links", description: "Newest first, paginated like `/api/pictures`.",
      security: authedRead, parameters: pageParams,
      responses: { 200: { description: "One page.", headers: { Link: header("Link") }, content: json({ type: "array", items: ref("SharedLink") }) }, ...errors(400, 401, 503) },
    },
  },
  "/api/picture/{id}": {
    ...imageRead("The original", "Only the owner; 403 when the owner's tier has no original.", [pictureId], authedRead, [401, 403, 404, 503]),
    post: {
      tags: ["Share links"], summary: "Create a share link", description: "For tiers with expiring links. Without `height` the link serves the original.",
      security: authed, parameters: [pictureId],
      requestBody: { required: true, content: json(ref("LinkRequest")) },
      responses: { 201: { description: "The link.", content: json(ref("Link")) }, ...errors(400, 401, 403, 404, 503) },
    },
    delete: {
      tags: ["Pictures"], summary: "Delete a picture", description: "The row, the original, every thumbnail, cached copies and the picture's links.",
      security: authed, parameters: [pictureId],
      responses: { 204: { description: "Deleted." }, ...errors(401, 404, 503) },
    },
  },
  "/api/picture/{id}/{height}": imageRead("A thumbnail", "Only the owner; 403 when the owner's tier lacks this height.", [pictureId, heightParam], authedRead, [401, 403, 404, 503]),
  "/api/timelink/{id}": {
    ...imageRead("Open a share link", "No login: the image until the second the link expires, then 404.", [linkId], [], [404, 503]),
    delete: {
      tags: ["Share links"], summary: "Revoke a share link", security: authed, parameters: [linkId],
      responses: { 204: { description: "Revoked." }, ...errors(401, 404, 503) },
    },
  },
  "/api/admin/tiers": {
    get: {
      tags: ["Admin"], summary: "List tiers", security: authedRead,
      responses: { 200: { description: "Every tier.", content: json({ type: "array", items: ref("Tier") }) }, ...errors(401, 403, 503) },
    },
    post: {
      tags: ["Admin"], summary: "Create a tier", security: authed,
      requestBody: { required: true, content: json(ref("TierCreate")) },
      responses: { 201: { description: "Created.", content: json(ref("Tier")) }, ...errors(400, 401, 403, 503) },
    },
  },
  "/api/admin/tiers/{name}": {
    get: {
      tags: ["Admin"], summary: "Get a tier", security: authedRead, parameters: [tierName],
      responses: { 200: { description: "The tier.", content: json(ref("Tier")) }, ...errors(401, 403, 404, 503) },
    },
    patch: {
      tags: ["Admin"], summary: "Change a tier", description: "Any of the fields; only those given are written. Renaming keeps its users, and keeps it the default if it is.", security: authed, parameters: [tierName],
      requestBody: { required: true, content: json(ref("TierPatch")) },
      responses: { 200: { description: "The tier as stored.", content: json(ref("Tier")) }, ...errors(400, 401, 403, 404, 503) },
    },
    delete: {
      tags: ["Admin"], summary: "Delete a tier", description: "409 while users still have it, or while it is the default tier.", security: authed, parameters: [tierName],
      responses: { 204: { description: "Deleted." }, ...errors(401, 403, 404, 409, 503) },
    },
  },
  "/api/admin/users": {
    get: {
      tags: ["Admin"], summary: "List users", description: "Newest first, keyset-paginated: follow the `Link` header's `rel=\"next\"` URL (it keeps the search).",
      security: authedRead, parameters: [...pageParams, userSearch],
      responses: { 200: { description: "One page.", headers: { Link: header("Link") }, content: json({ type: "array", items: ref("User") }) }, ...errors(400, 401, 403, 503) },
    },
    post: {
      tags: ["Admin"], summary: "Create a user", security: authed,
      requestBody: { required: true, content: json(ref("UserCreate")) },
      responses: { 201: { description: "Created.", content: json(ref("User")) }, ...errors(400, 401, 403, 503) },
    },
  },
  "/api/admin/users/{username}": {
    get: {
      tags: ["Admin"], summary: "Get a user", security: authedRead, parameters: [username],
      responses: { 200: { description: "The user.", content: json(ref("User")) }, ...errors(401, 403, 404, 503) },
    },
    patch: {
      tags: ["Admin"], summary: "Change a user", description: "The last admin cannot remove their own admin flag (409).", security: authed, parameters: [username],
      requestBody: { required: true, content: json(ref("UserPatch")) },
      responses: { 200: { description: "The user as stored.", content: json(ref("User")) }, ...errors(400, 401, 403, 404, 409, 503) },
    },
    delete: {
      tags: ["Admin"], summary: "Delete a user", description: "Also removes their pictures (rows and stored objects) and share links. The last admin cannot delete themselves (409).", security: authed, parameters: [username],
      responses: { 204: { description: "Deleted." }, ...errors(401, 403, 404, 409, 503) },
    },
  },
};

if (sessions) {
  const cookie = { "Set-Cookie": { description: "`st_access=<access JWT>; Path=/api/; HttpOnly; Secure; SameSite=Strict; Max-Age=<access lifetime>`: lets `<img src>` load your images. It authenticates GET and HEAD only.", schema: { type: "string" }, required: true }, "Cache-Control": header("CacheControlNoStore") };
  Object.assign(paths, {
    "/api/session": {
      post: {
        tags: ["Accounts"], summary: "Sign in (browser session)", security: [],
        description: "Like `POST /api/token/`, and also sets the `st_access` cookie. Throttled the same way.",
        requestBody: { required: true, content: json(ref("Credentials")) },
        responses: { 200: { description: "The tokens and the cookie.", headers: cookie, content: json(ref("TokenPair")) }, ...errors(400, 401, 429, 503) },
      },
      delete: {
        tags: ["Accounts"], summary: "Sign out (browser session)", description: "Clears the cookie.", security: authed,
        responses: { 204: { description: "Signed out; the cookie is cleared." }, ...errors(401, 503) },
      },
    },
    "/api/session/refresh": {
      post: {
        tags: ["Accounts"], summary: "Refresh a browser session", security: [],
        description: "Refresh tokens rotate: each works once, and using one again is 401.",
        requestBody: { required: true, content: json(ref("RefreshRequest")) },
        responses: { 200: { description: "New tokens and a fresh cookie.", headers: cookie, content: json(ref("TokenPair")) }, ...errors(400, 401, 503) },
      },
    },
    "/api/me": {
      get: {
        tags: ["Accounts"], summary: "Who am I", security: authedRead,
        responses: { 200: { description: "The signed-in user and their tier.", content: json(ref("Me")) }, ...errors(401, 503) },
      },
    },
  });
}

// Every path answers with and without one trailing slash: list both, the slashed one as the
// twin (its own operationId), so generated clients and schemathesis see each.
const allPaths = {};
for (const [path, item] of Object.entries(paths)) {
  const full = withHead(item);
  const slashed = {};
  for (const [method, op] of Object.entries(full)) {
    const id = operationId(method, path);
    full[method] = { ...op, operationId: id };
    // Hidden from /docs (Scalar's x-scalar-ignore), where it would only repeat the same operation.
    slashed[method] = { ...op, operationId: `${id}Slash`, summary: `${op.summary} (trailing slash)`, "x-scalar-ignore": true };
  }
  allPaths[path] = full;
  allPaths[`${path}/`] = slashed;
}

function operationId(method, path) {
  const words = path.replace(/^\/api\//, "").replace(/[{}]/g, "").split(/[/_]/).filter(Boolean);
  return method + words.map((w) => w[0].toUpperCase() + w.slice(1)).join("");
}

const detail = (description, example) => ({ description, content: json({ ...ref("Error"), examples: [{ detail: example, request_id: "8f1c2d3e4a5b6c7d-LHR" }] }) });
const responses = {
  E400: { description: "Invalid input: a list of messages per field (`non_field_errors` for the body as a whole).", content: json(ref("FieldErrors")) },
  E401: { ...detail("No valid access token (missing, garbled, expired, wrong type, or its user was deleted), or wrong credentials.", "Given token not valid for any token type"), headers: { "WWW-Authenticate": { schema: { type: "string" }, description: "`Bearer realm=\"api\"`." } } },
  E403: detail("Signed in, but not allowed: not an admin, or the tier lacks this size, the original or share links.", "Your tier does not include expiring links."),
  E404: detail("Unknown, or not yours (which of the two is never revealed).", "Not found."),
  E408: detail("The upload's body arrived slower than UPLOAD_FLOOR_BYTES_PER_SEC after UPLOAD_GRACE_SECS; nothing was stored.", "The upload arrived too slowly and was abandoned; nothing was stored."),
  E409: detail("Conflicts with what is stored: a tier that users still have, or the last admin removing themselves.", "This tier is still assigned to users."),
  E413: detail("Larger than MAX_UPLOAD_BYTES, or more pixels than MAX_IMAGE_PIXELS; the detail says the limit.", "Uploads are limited to 100000000 bytes."),
  E429: { ...detail("Too many failed logins for this username from this address.", "Too many failed attempts. Try again in 840 seconds."), headers: { "Retry-After": header("RetryAfter") } },
  E503: { ...detail("Temporarily unavailable (D1 unreachable, or the isolate is out of its memory budget).", "Service unavailable."), headers: { "Retry-After": header("RetryAfterOptional") } },
};

const heights = { type: "array", items: { type: "integer", minimum: 1, maximum: 1000 }, uniqueItems: true, maxItems: 10, description: "Distinct heights in pixels, ascending in answers." };
const schemas = {
  Error: { type: "object", required: ["detail", "request_id"], additionalProperties: false, properties: { detail: { type: "string" }, request_id: ref("RequestId") } },
  FieldErrors: {
    type: "object", required: ["request_id"], minProperties: 2, properties: { request_id: ref("RequestId") }, additionalProperties: { type: "array", items: { type: "string" }, minItems: 1 },
    description: "Messages per field name, and the request's id.", examples: [{ name: ["This field may not be blank."], img: ["No file was submitted."], request_id: "8f1c2d3e4a5b6c7d-LHR" }],
  },
  RequestId: { type: "string", pattern: "^[A-Za-z0-9-]{1,64}$", description: "The request's id, also in the `X-Request-Id` header and in every log line of the request: Cloudflare's `cf-ray`, or a random id." },
  Health: {
    type: "object", required: ["status", "version"], additionalProperties: false,
    properties: {
      status: { const: "ok" },
      version: { type: "string" },
      isolate: {
        type: "object", description: "Only for an admin's bearer token: this isolate's memory and load.",
        properties: { wasm_memory_bytes: { type: "integer", minimum: 0 }, memory_reserved_bytes: { type: "integer", minimum: 0 }, requests_in_flight: { type: "integer", minimum: 0 } },
      },
    },
  },
  Credentials: { type: "object", required: ["username", "password"], properties: { username: { type: "string", minLength: 1 }, password: { type: "string", minLength: 1 } } },
  TokenPair: { type: "object", required: ["access", "refresh"], additionalProperties: false, properties: { access: ref("Jwt"), refresh: ref("Jwt") } },
  RefreshedTokens: { type: "object", required: ["access"], additionalProperties: false, properties: { access: ref("Jwt"), refresh: ref("Jwt") } },
  RefreshRequest: { type: "object", required: ["refresh"], properties: { refresh: { type: "string", minLength: 1 } } },
  Jwt: { type: "string", pattern: "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$", description: "HS256 JWT with `token_type`, `user_id`, `exp`, `iat`, `jti`." },
  Upload: {
    type: "object", required: ["name", "img"],
    properties: { name: { type: "string", minLength: 1, maxLength: 100 }, img: { type: "string", contentMediaType: "application/octet-stream", description: "A JPEG, PNG, WebP, GIF, BMP or TIFF file." } },
  },
  Picture: {
    type: "object", additionalProperties: false,
    required: ["id", "owner", "name", "urls", "created_at", "width", "height", "content_type", "size"],
    properties: {
      id: { type: "string", format: "uuid" },
      owner: { type: "string" },
      name: { type: "string" },
      urls: { type: "array", items: { type: "string", pattern: "^/api/picture/[0-9a-f-]{36}(/[0-9]+)?$" }, description: "Thumbnails of the owner's current tier, ascending, then the original if the tier has it." },
      created_at: { type: "string", format: "date-time" },
      width: { type: "integer", minimum: 1 },
      height: { type: "integer", minimum: 1 },
      content_type: { enum: ["image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp", "image/tiff"] },
      size: { type: "integer", minimum: 1 },
    },
  },
  LinkRequest: {
    type: "object", required: ["time"],
    properties: {
      time: { description: "Seconds, 300 to 30000 (a string of digits is accepted too).", oneOf: [{ type: "integer", minimum: 300, maximum: 30000 }, { type: "string", pattern: "^\\s*[0-9]+\\s*$" }] },
      height: { type: ["integer", "null"], minimum: 1, maximum: 1000, description: "A thumbnail height of your tier; absent or null for the original." },
    },
  },
  Link: {
    type: "object", additionalProperties: false, required: ["url", "picture", "time", "expires_at"],
    properties: {
      url: { type: "string", pattern: "^/api/timelink/[0-9a-f-]{36}$" },
      picture: ref("Picture"),
      time: { type: "integer", minimum: 300, maximum: 30000 },
      expires_at: { type: "string", format: "date-time" },
    },
  },
  SharedLink: {
    type: "object", additionalProperties: false, required: ["url", "picture", "time", "time_left", "expires_at"],
    properties: {
      url: { type: "string", pattern: "^/api/timelink/[0-9a-f-]{36}$" },
      picture: ref("Picture"),
      time: { type: "integer", minimum: 300, maximum: 30000 },
      time_left: { type: "integer", minimum: 0, description: "Whole seconds left." },
      expires_at: { type: "string", format: "date-time" },
    },
  },
  Tier: {
    type: "object", additionalProperties: false, required: ["name", "thumbnail_heights", "allow_original", "allow_expiring_links", "is_default"],
    properties: { name: { type: "string", minLength: 1, maxLength: 100 }, thumbnail_heights: heights, allow_original: { type: "boolean" }, allow_expiring_links: { type: "boolean" }, is_default: { type: "boolean", description: "The tier a user gets when none is given; exactly one tier is." } },
  },
  TierCreate: {
    type: "object", required: ["name", "thumbnail_heights"],
    properties: { name: { type: "string", minLength: 1, maxLength: 100, pattern: "^[^/]+$" }, thumbnail_heights: heights, allow_original: { type: "boolean", default: false }, allow_expiring_links: { type: "boolean", default: false } },
  },
  TierPatch: {
    type: "object",
    properties: { name: { type: "string", minLength: 1, maxLength: 100, pattern: "^[^/]+$" }, thumbnail_heights: heights, allow_original: { type: "boolean" }, allow_expiring_links: { type: "boolean" }, is_default: { type: "boolean", enum: [true], description: "`true` makes this the default tier (the previous default stops being it); `false` is refused." } },
  },
  User: {
    type: "object", additionalProperties: false, required: ["username", "tier", "is_admin"],
    properties: { username: { type: "string" }, tier: { type: "string" }, is_admin: { type: "boolean" } },
    description: "Password hashes never appear.",
  },
  UserCreate: {
    type: "object", required: ["username", "password"],
    properties: {
      username: { type: "string", minLength: 1, maxLength: 150, pattern: "^[\\w.@+-]+$" },
      password: { type: "string", minLength: 8, writeOnly: true },
      tier: { type: "string", description: "A tier name; without it, the default tier (see `Tier.is_default`)." },
      is_admin: { type: "boolean", default: false },
    },
  },
  UserPatch: {
    type: "object",
    properties: {
      username: { type: "string", minLength: 1, maxLength: 150, pattern: "^[\\w.@+-]+$" },
      password: { type: "string", minLength: 8, writeOnly: true },
      tier: { type: "string" },
      is_admin: { type: "boolean" },
    },
  },
  Me: {
    type: "object", additionalProperties: false, required: ["username", "is_admin", "tier"],
    properties: { username: { type: "string" }, is_admin: { type: "boolean" }, tier: ref("Tier") },
  },
};

const doc = {
  openapi: "3.1.0",
  info: {
    title: "storagetiers",
    version,
    summary: "Tiered image service: upload JPEG, PNG, WebP, GIF, BMP or TIFF pictures, get the thumbnails of your tier, share them through expiring links.",
    description: [
      "Every body is JSON unless stated. Errors are `{\"detail\": \"...\", \"request_id\": \"...\"}`, or for invalid input (400) a list of messages per field beside the `request_id`.",
      "Every answer carries `X-Request-Id` (the id in error bodies and logs) and `Server-Timing` (time spent in D1, R2 and the cache, and in total).",
      "Every change answers `X-D1-Bookmark`; send it back on a read to see that change even if the read is served by a D1 read replica (README, Consistency).",
      "Paths work with and without a trailing slash; both are listed.",
      "",
      "Authenticate with `Authorization: Bearer <access>` from `POST /api/token/`." +
        (sessions ? " Browsers can sign in with `POST /api/session/` instead, which also sets an HttpOnly, Secure, SameSite=Strict cookie that authenticates GET and HEAD only (so `<img src>` works); every change still needs the bearer header, so a cross-site form or fetch cannot change anything." : ""),
    ].join("\n"),
    license: { name: "Proprietary" },
  },
  servers: [{ url: "/", description: "This server" }],
  tags: [
    { name: "Accounts", description: "Tokens and sessions." },
    { name: "Pictures", description: "Upload, list, read and delete pictures." },
    { name: "Share links", description: "Expiring links for tiers that allow them." },
    { name: "Admin", description: "Tiers and users, for admins only." },
    { name: "Service", description: "Health." },
  ],
  paths: allPaths,
  components: {
    securitySchemes: {
      bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "An access token from `POST /api/token/`." },
      ...(sessions ? { cookieAuth: { type: "apiKey", in: "cookie", name: "st_access", description: "Set by `POST /api/session/`; accepted for GET and HEAD only." } } : {}),
    },
    schemas,
    responses,
    headers: {
      Link: { description: "`</api/...?limit=N&cursor=...>; rel=\"next\"` when there is a next page.", schema: { type: "string", pattern: "^<[^>]+>; rel=\"next\"$" } },
      ETag: { description: "Strong validator of the image bytes; send it back in `If-None-Match` for a 304.", required: true, schema: { type: "string" } },
      CacheControlPrivate: { description: "`private, max-age=...`: only the requesting browser may keep it; a share link's never reaches past its expiry.", required: true, schema: { type: "string", pattern: "^private" } },
      CacheControlNoStore: { description: "Token answers are never stored.", schema: { type: "string" } },
      RetryAfter: { description: "Seconds to wait.", required: true, schema: { type: "string", pattern: "^[0-9]+$" } },
      RetryAfterOptional: { description: "Seconds to wait, when known.", schema: { type: "string", pattern: "^[0-9]+$" } },
    },
  },
};

process.stdout.write(`${JSON.stringify(doc, null, 1)}\n`);
