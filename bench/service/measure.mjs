//! The service bench's measurements, over HTTP against running `wrangler dev` of the service, of
//! the same-checks reference Worker (plain, and matched to the service's work and configuration)
//! and of the ceiling Worker (all started by bench/service/run).
//! Prints a table and writes JSON.
//!
//! Environment: SERVICE_URL, REFERENCE_URL, MATCHED_URL, CEILING_URL (and *_PGID), ADMIN_USER, ADMIN_PASSWORD,
//! RESULTS (JSON path), IMAGING_RESULTS (bench/results/imaging.json, optional), BENCH_IMAGES
//! (folder), MACHINE (JSON).

import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import zlib from "node:zlib";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run bench/service/run`);
  return v;
};
const SERVICE = env("SERVICE_URL");
const REFERENCE = env("REFERENCE_URL");
const MATCHED = env("MATCHED_URL");
const CEILING = env("CEILING_URL");
const LOAD_SECONDS = Number(process.env.LOAD_SECONDS ?? 10);
// The cached-GET loads run in this many alternating slices, so drift on a shared machine hits the
// service, the reference and the ceiling alike.
const LOAD_ROUNDS = Number(process.env.LOAD_ROUNDS ?? 5);
const WARM_SECONDS = Number(process.env.WARM_SECONDS ?? 2);
const CONNECTIONS = 8;

// One keep-alive pool per target, at most CONNECTIONS sockets, like `wrk -c 8`.
const agents = new Map();
function agentFor(base) {
  if (!agents.has(base)) {
    agents.set(base, new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS }));
  }
  return agents.get(base);
}

/**
 * One request; resolves to {status, headers, body, bytes, ms}. Never rejects on an HTTP status.
 * `agent`: another pool than the shared one; `timeoutMs`: rejects when the answer stalls that long;
 * `discard`: counts the body's bytes without keeping them (body is then empty).
 */
function request(base, method, pathname, { headers = {}, body, agent, timeoutMs = 120_000, discard = false } = {}) {
  return new Promise((resolve, reject) => {
    const url = new URL(pathname, base);
    const start = process.hrtime.bigint();
    let answered = null; // set once the status line and headers are in
    const req = http.request(
      url,
      { method, headers, agent: agent ?? agentFor(base) },
      (res) => {
        const chunks = [];
        let bytes = 0;
        answered = () => ({
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks),
          bytes,
          ms: Number(process.hrtime.bigint() - start) / 1e6,
        });
        res.on("data", (c) => {
          bytes += c.length;
          if (!discard) chunks.push(c);
        });
        res.on("end", () => resolve(answered()));
        res.on("error", reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    // A server may answer (a 413 or 503) before it has read the whole upload and close the
    // connection; the answer counts, not the failed write of the rest.
    req.on("error", (e) => (answered ? resolve(answered()) : reject(e)));
    req.end(body);
  });
}

async function expect(status, reply, what) {
  if (reply.status !== status) {
    throw new Error(`${what}: expected ${status}, got ${reply.status}: ${reply.body.toString().slice(0, 300)}`);
  }
  return reply;
}

const json = (reply) => JSON.parse(reply.body.toString());
const jsonBody = (value) => ({
  headers: { "content-type": "application/json" },
  body: JSON.stringify(value),
});
const bearer = (token, extra = {}) => ({ authorization: `Bearer ${token}`, ...extra });

function quantile(values, q) {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  // Nearest rank, like wrk's percentiles.
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, digits = 2) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

// --- CPU time of a wrangler dev process group, from /proc ---------------------------------------
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** pid -> {name, ticks} for every live process in the process group (wrangler, workerd, esbuild). */
function groupCpu(pgid) {
  const out = new Map();
  if (!pgid) return out;
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let stat;
    let cmdline;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      continue; // gone meanwhile
    }
    // Fields after "(comm)": state ppid pgrp ... utime(14) stime(15), 1-based in the whole line.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(rest[2]) !== pgid) continue;
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const entry = cmdline.find((a) => a.startsWith("--socket-addr=entry="));
    // wrangler dev runs two workerd: its proxy on the port the bench calls, and the Worker itself
    // (with the local D1, R2 and cache simulators) behind it, on a port of its own (":0").
    const name =
      comm === "workerd" ? (entry && !entry.endsWith(":0") ? "workerd_proxy" : "workerd_worker") : comm;
    out.set(pid, { name, ticks: Number(rest[11]) + Number(rest[12]) });
  }
  return out;
}

const PGIDS = new Map([
  [SERVICE, Number(process.env.SERVICE_PGID ?? 0)],
  [REFERENCE, Number(process.env.REFERENCE_PGID ?? 0)],
  [MATCHED, Number(process.env.MATCHED_PGID ?? 0)],
  [CEILING, Number(process.env.CEILING_PGID ?? 0)],
]);

/** CONNECTIONS closed loops for `seconds_`, unsummarised (see `summarise`). */
async function loadSlice(base, pathname, headers, seconds_, status) {
  const cpuBefore = groupCpu(PGIDS.get(base));
  const loaderBefore = process.cpuUsage();
  const latencies = [];
  let errors = 0;
  const deadline = performance.now() + seconds_ * 1000;
  const start = performance.now();
  const loop = async () => {
    while (performance.now() < deadline) {
      const r = await request(base, "GET", pathname, { headers });
      if (r.status === status) latencies.push(r.ms);
      else errors += 1;
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, loop));
  const seconds = (performance.now() - start) / 1000;
  const loader = process.cpuUsage(loaderBefore);
  // CPU ticks of the wrangler dev process group by process name.
  const ticks = {};
  for (const [pid, a] of groupCpu(PGIDS.get(base))) {
    ticks[a.name] = (ticks[a.name] ?? 0) + a.ticks - (cpuBefore.get(pid)?.ticks ?? 0);
  }
  return { latencies, errors, seconds, ticks, loaderMicros: loader.user + loader.system };
}

/** Slices of one load merged: req/s over their total time, percentiles over all latencies. */
function summarise(slices) {
  const latencies = slices.flatMap((s) => s.latencies);
  const seconds = slices.reduce((t, s) => t + s.seconds, 0);
  const ticks = {};
  for (const s of slices) for (const [k, v] of Object.entries(s.ticks)) ticks[k] = (ticks[k] ?? 0) + v;
  const n = Math.max(1, latencies.length);
  const perReq = (t) => round(((t / TICKS_PER_SECOND) * 1000) / n, 3);
  const total = Object.values(ticks).reduce((x, y) => x + y, 0);
  return {
    // CPU of the wrangler dev process group per answered request (the machine has no other
    // way to see how much of the request is the Worker and how much is D1 or the cache).
    cpu_ms_per_request: {
      total: perReq(total),
      ...Object.fromEntries(Object.entries(ticks).filter(([, v]) => v > 0).map(([k, v]) => [k, perReq(v)])),
      loader: round(slices.reduce((t, s) => t + s.loaderMicros, 0) / 1000 / n, 3),
    },
    requests: latencies.length,
    errors: slices.reduce((t, s) => t + s.errors, 0),
    slices: slices.length,
    seconds: round(seconds, 3),
    rps: round(latencies.length / seconds, 1),
    p50_ms: round(quantile(latencies, 0.5), 3),
    p99_ms: round(quantile(latencies, 0.99), 3),
  };
}

/** CONNECTIONS closed loops for LOAD_SECONDS; answers other than `status` count as errors. */
async function load(base, pathname, headers, seconds_ = LOAD_SECONDS, status = 200) {
  return summarise([await loadSlice(base, pathname, headers, seconds_, status)]);
}

/**
 * Several loads, each LOAD_SECONDS in all, run in LOAD_ROUNDS alternating slices (A B C A B C ..),
 * so a burst of other work on the machine lands on all of them rather than on one.
 */
async function interleaved(targets) {
  const slices = targets.map(() => []);
  for (let r = 0; r < LOAD_ROUNDS; r++) {
    for (const [i, t] of targets.entries()) {
      slices[i].push(await loadSlice(t.base, t.path, t.headers ?? {}, LOAD_SECONDS / LOAD_ROUNDS, 200));
    }
  }
  return slices.map(summarise);
}

// --- multipart, as tests/api/client.rs builds it -------------------------------------------------
function multipart(name, filename, contentType, bytes) {
  const boundary = `----storagetiers-bench-${crypto.randomBytes(8).toString("hex")}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n${name}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="img"; filename="${filename}"\r\n` +
      `Content-Type: ${contentType}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    body: Buffer.concat([head, bytes, tail]),
  };
}

async function upload(token, filename, bytes, agent) {
  const form = multipart("bench", filename, filename.endsWith(".png") ? "image/png" : "image/jpeg", bytes);
  return request(SERVICE, "POST", "/api/pictures", {
    headers: bearer(token, { "content-type": form.contentType, "content-length": form.body.length }),
    body: form.body,
    agent,
  });
}

// --- setup -----------------------------------------------------------------------------------------
async function login(username, password) {
  const r = await expect(200, await request(SERVICE, "POST", "/api/token/", jsonBody({ username, password })), `login ${username}`);
  return json(r).access;
}

async function createUser(admin, tier) {
  const username = `bench-${tier.toLowerCase()}-${crypto.randomBytes(4).toString("hex")}`;
  const password = crypto.randomBytes(12).toString("hex");
  await expect(
    201,
    await request(SERVICE, "POST", "/api/admin/users", {
      headers: bearer(admin, { "content-type": "application/json" }),
      body: JSON.stringify({ username, password, tier }),
    }),
    `create ${username}`,
  );
  return { username, password, token: await login(username, password) };
}

async function hook(method, pathname) {
  return json(await expect(200, await request(SERVICE, method, pathname, { body: "" }), pathname));
}

// --- the measurements ------------------------------------------------------------------------------
/** The claims of a token, unverified (the bench only needs the user id). */
const claimsOf = (token) => JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());

// The headers the reference must answer like the service (the rest are the runtime's own).
const SAME_HEADERS = [
  "content-type", "etag", "cache-control", "x-content-type-options", "content-security-policy",
  "referrer-policy", "cf-cache-status",
];

async function cachedGet(user, tier, pictureId) {
  const pathname = `/api/picture/${pictureId}/200`;
  const headers = bearer(user.token);
  const first = await expect(200, await request(SERVICE, "GET", pathname, { headers }), "thumbnail");
  const warm = await expect(200, await request(SERVICE, "GET", pathname, { headers }), "thumbnail warm-up");
  if (warm.headers["cf-cache-status"] !== "HIT") {
    throw new Error(`warm-up thumbnail is not a cache HIT (cf-cache-status: ${warm.headers["cf-cache-status"]})`);
  }

  // The same-checks reference: the same user id, tier and picture in its own D1 (same
  // migrations), the same thumbnail in its cache, the same token; it must answer alike.
  const seed = new URLSearchParams({
    user_id: String(claimsOf(user.token).user_id),
    tier,
    picture_id: pictureId,
    content_type: warm.headers["content-type"],
  });
  for (const [base, what] of [[REFERENCE, "reference"], [MATCHED, "matched reference"]]) {
    await expect(204, await request(base, "PUT", `/api/seed?${seed}`, { body: warm.body }), `${what} seed`);
    const ref = await expect(200, await request(base, "GET", pathname, { headers }), what);
    if (!ref.body.equals(warm.body)) throw new Error(`the ${what} does not serve the thumbnail's bytes`);
    for (const h of SAME_HEADERS) {
      if (ref.headers[h] !== warm.headers[h]) {
        throw new Error(`the ${what} answers ${h}: ${ref.headers[h]}, the service ${warm.headers[h]}`);
      }
    }
    // The matched reference does the service's operator work too (D1 session, request id,
    // Server-Timing, one JSON log line per request) behind the same Static Assets router: not a
    // target, it tells the checks from what the service does besides them.
    const observed = base === MATCHED;
    if (observed !== Boolean(ref.headers["x-request-id"] && ref.headers["server-timing"])) {
      throw new Error(`the ${what} ${observed ? "lacks" : "has"} the service's request id and Server-Timing`);
    }
  }

  await expect(
    204,
    await request(CEILING, "PUT", "/", {
      headers: { "content-type": warm.headers["content-type"] },
      body: warm.body,
    }),
    "ceiling warm-up",
  );
  const check = await expect(200, await request(CEILING, "GET", "/"), "ceiling");
  if (!check.body.equals(warm.body)) throw new Error("the ceiling does not serve the thumbnail's bytes");

  // WARM_SECONDS of the same load first, not counted: V8 tiers the wasm and the JS up while
  // they run hot.
  await load(SERVICE, pathname, headers, WARM_SECONDS);
  await load(REFERENCE, pathname, headers, WARM_SECONDS);
  await load(MATCHED, pathname, headers, WARM_SECONDS);
  await load(CEILING, "/", {}, WARM_SECONDS);
  const [service, reference, reference_matched, ceiling] = await interleaved([
    { base: SERVICE, path: pathname, headers },
    { base: REFERENCE, path: pathname, headers },
    { base: MATCHED, path: pathname, headers },
    { base: CEILING, path: "/" },
  ]);
  // For reference, not targets: the Worker's floor (token checked, then a 404 for an id that is
  // not a UUID, before any D1 or cache call), one D1 `SELECT 1` without auth, and the runtime's
  // floor (the same bytes from memory, no Cache API).
  const service_floor = await load(SERVICE, "/api/picture/not-a-uuid/200", headers, LOAD_SECONDS / 2, 404);
  const service_health = await load(SERVICE, "/api/health", {}, LOAD_SECONDS / 2);
  const ceiling_plain = await load(CEILING, "/plain", {}, LOAD_SECONDS / 2);
  return {
    path: "/api/picture/{id}/200",
    bytes: warm.body.length,
    first_cf_cache_status: first.headers["cf-cache-status"],
    warm_cf_cache_status: warm.headers["cf-cache-status"],
    connections: CONNECTIONS,
    seconds: LOAD_SECONDS,
    rounds: LOAD_ROUNDS,
    warm_up_seconds: WARM_SECONDS,
    service,
    reference,
    reference_matched,
    ceiling,
    service_floor,
    service_health,
    ceiling_plain,
    // The targets: the service against the same-checks reference.
    rps_ratio_reference: round(service.rps / reference.rps, 3),
    p99_ratio_reference: round(service.p99_ms / reference.p99_ms, 3),
    // Not targets: against the reference that also does the service's operator work, behind the
    // same Static Assets router.
    rps_ratio_reference_matched: round(service.rps / reference_matched.rps, 3),
    p99_ratio_reference_matched: round(service.p99_ms / reference_matched.p99_ms, 3),
    // For reference: both against the Cache-only ceiling.
    rps_ratio: round(service.rps / ceiling.rps, 3),
    p99_ratio: round(service.p99_ms / ceiling.p99_ms, 3),
    reference_rps_ratio: round(reference.rps / ceiling.rps, 3),
  };
}

// --- concurrency: uploads and reads at once, with the isolate's memory gauge ------------------------
const MiB = 1024 * 1024;
// The wasm budget the service admits requests under (issue 10); the row's target.
const WASM_TARGET_BYTES = 96 * MiB;
// Its own pool for the gauge, so a poll never queues behind the load it watches.
const gaugeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/**
 * One reading of the gauge: `GET /api/health` as an admin answers `isolate: {wasm_memory_bytes,
 * memory_reserved_bytes, requests_in_flight}`. Null when the service has no gauge (yet) or the
 * poll failed, so the row reports n/a instead of failing.
 */
async function readGauge(adminToken) {
  try {
    const r = await request(SERVICE, "GET", "/api/health", {
      headers: bearer(adminToken),
      agent: gaugeAgent,
      timeoutMs: 10_000,
    });
    if (r.status !== 200) return null;
    const isolate = json(r).isolate;
    return isolate && Number.isFinite(isolate.wasm_memory_bytes) ? isolate : null;
  } catch {
    return null;
  }
}

/** Polls the gauge every ~100 ms until stopped; `stop()` resolves to the peaks seen meanwhile. */
function pollGauge(adminToken) {
  const PERIOD_MS = 100;
  const seen = { samples: 0, failed: 0, wasm: null, reserved: null, in_flight: null };
  const max = (a, b) => (a === null ? b : Math.max(a, b));
  let running = true;
  const loop = (async () => {
    while (running) {
      const start = performance.now();
      const g = await readGauge(adminToken);
      if (g) {
        seen.samples += 1;
        seen.wasm = max(seen.wasm, g.wasm_memory_bytes);
        seen.reserved = max(seen.reserved, g.memory_reserved_bytes ?? 0);
        seen.in_flight = max(seen.in_flight, g.requests_in_flight ?? 0);
      } else {
        seen.failed += 1;
      }
      const wait = PERIOD_MS - (performance.now() - start);
      if (running && wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
  };
}

/**
 * How one answer of a concurrent step counts: its status, with a 503 split by whether it is the
 * clean refusal the service promises (Retry-After and a JSON body); "error" when no answer came.
 */
async function outcome(promise, expected) {
  try {
    const r = await promise;
    if (r.status === 503) {
      let isJson = false;
      try {
        JSON.parse(r.body.toString());
        isJson = true;
      } catch {}
      return r.headers["retry-after"] && isJson ? "503" : "503 unclean";
    }
    if (r.status === expected.status && expected.bytes !== undefined && r.bytes !== expected.bytes) {
      return `${r.status} short body`;
    }
    return String(r.status);
  } catch (e) {
    return `error: ${e.message}`;
  }
}

/**
 * Runs `requests` at once while polling the gauge; statuses counted, gauge peaks during and after,
 * and each answer's latency from its start (the median and p95 over the step's requests).
 */
async function concurrentStep(adminToken, requests, expected) {
  const poll = pollGauge(adminToken);
  const started = performance.now();
  const latencies = [];
  const outcomes = await Promise.all(
    requests.map(async (make) => {
      const start = performance.now();
      const o = await outcome(make(), expected);
      latencies.push(performance.now() - start);
      return o;
    }),
  );
  const wall_ms = round(performance.now() - started, 1);
  const during = await poll.stop();
  const after = await readGauge(adminToken);
  const statuses = {};
  for (const o of outcomes) statuses[o] = (statuses[o] ?? 0) + 1;
  const ok = outcomes.every((o) => o === String(expected.status) || o === "503");
  const peak = during.wasm === null && !after ? null : Math.max(during.wasm ?? 0, after?.wasm_memory_bytes ?? 0);
  return {
    requests: requests.length,
    statuses,
    all_expected_or_clean_503: ok,
    wall_ms,
    p50_ms: round(quantile(latencies, 0.5), 1),
    p95_ms: round(quantile(latencies, 0.95), 1),
    gauge_samples: during.samples,
    peak_wasm_bytes_during: during.wasm,
    peak_reserved_bytes_during: during.reserved,
    peak_in_flight_during: during.in_flight,
    wasm_bytes_after: after?.wasm_memory_bytes ?? null,
    reserved_bytes_after: after?.memory_reserved_bytes ?? null,
    in_flight_after: after?.requests_in_flight ?? null,
    peak_wasm_bytes: peak,
  };
}

// 2600 x 2600 RGB: 20.3 MB of pixels, the "ordinary 20 MB PNG" of issue 17's table.
const NOISE_PNG_SIDE = 2600;

/**
 * A PNG of noise stored with deflate level 0 (so the file is as large as its pixels), made once
 * into `dir` and kept there. The noise comes from a fixed seed: the same bytes on every run.
 */
function noisePng(dir) {
  const file = path.join(dir, "noise-20mb.png");
  if (fs.existsSync(file)) return fs.readFileSync(file);
  const side = NOISE_PNG_SIDE;
  const row = 1 + side * 3; // filter byte 0 (none), then RGB
  const raw = Buffer.alloc(row * side);
  let state = 17; // xorshift32, seeded with the number
  for (let y = 0; y < side; y++) {
    for (let i = y * row + 1; i < (y + 1) * row; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      raw[i] = state & 0xff;
    }
  }
  const chunk = (kind, data) => {
    const body = Buffer.concat([Buffer.from(kind, "latin1"), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(zlib.crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB; compression, filter and interlace 0
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlib.deflateSync(raw, { level: 0 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, png);
  return png;
}

/**
 * What the concurrency rows upload, each set round robin: the largest bench photos, a 20 MB PNG
 * of noise (issue 17) and the 48 MP baseline JPEG of bench/big-photos.mjs (issue 18). The last two
 * are made once into bench/generated/ (git-ignored).
 */
async function concurrencySets(imagesDir) {
  const bench = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
  const generated = path.join(bench, "generated");
  const read = (name) => ({ name, bytes: fs.readFileSync(path.join(imagesDir, name)) });
  const { bigPhoto } = await import("../big-photos.mjs");
  const jpeg48 = await bigPhoto(bench, imagesDir, "big-48mp-baseline.jpg");
  return [
    {
      set: "bench photos",
      images: ["kleiber-24mp.jpg", "kleiber-20mp.jpg", "dragonfly-13mp-progressive.jpg", "life-6mp-alpha.png"].map(read),
    },
    { set: "20 MB noise PNG", images: [{ name: "noise-20mb.png", bytes: noisePng(generated) }] },
    { set: "48 MP baseline JPEG", images: [{ name: path.basename(jpeg48), bytes: fs.readFileSync(jpeg48) }] },
  ];
}

/**
 * For each set of images and N = 1, 4, 8, 16: N uploads at once (N users, one upload each, round
 * robin over the set's images); after the bench photos' uploads, 2N reads at once of the PNG's
 * original. All through the one `wrangler dev` (so one isolate), each request on a connection of
 * its own. wasm memory never shrinks, so every peak includes the steps (and sets) before it.
 */
async function concurrency(admin, imagesDir) {
  const NS = (process.env.CONCURRENCY ?? "1,4,8,16").split(",").map(Number);
  const sets = await concurrencySets(imagesDir);
  const png = sets[0].images[3];
  // One user per concurrent upload, as N clients would be: one user's uploads together may only
  // reserve their share of the budget, and the rows measure the isolate's.
  const users = [];
  for (let i = 0; i < Math.max(...NS); i++) users.push(await createUser(admin, "Premium"));
  const user = users[0];
  // No pooling, no cap: N requests are N connections, as N clients would be.
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const gauge_at_start = await readGauge(admin);
  // The picture every read step reads: uploaded alone, before any concurrent step.
  const pngUpload = await expect(201, await upload(user.token, png.name, png.bytes, agent), "PNG upload");
  const pngId = json(pngUpload).id;
  const gauge_after_setup = await readGauge(admin);

  const steps = [];
  for (const { set, images } of sets) {
    for (const n of NS) {
      const uploads_ = await concurrentStep(
        admin,
        Array.from({ length: n }, (_, i) => () => {
          const image = images[i % images.length];
          return upload(users[i].token, image.name, image.bytes, agent);
        }),
        { status: 201 },
      );
      const reads =
        set === sets[0].set
          ? await concurrentStep(
              admin,
              Array.from({ length: 2 * n }, () => () =>
                request(SERVICE, "GET", `/api/picture/${pngId}`, { headers: bearer(user.token), agent, discard: true }),
              ),
              { status: 200, bytes: png.bytes.length },
            )
          : null;
      steps.push({ set, images: images.map((i) => ({ name: i.name, bytes: i.bytes.length })), n, uploads: uploads_, reads });
    }
  }
  const health = await request(SERVICE, "GET", "/api/health", { agent, timeoutMs: 30_000 }).catch((e) => ({ status: `error: ${e.message}` }));
  agent.destroy();
  const measured = steps.flatMap((s) => (s.reads ? [s.uploads, s.reads] : [s.uploads]));
  const peaks = measured.map((m) => m.peak_wasm_bytes);
  const gauge = peaks.every((p) => p !== null);
  return {
    sets: sets.map((s) => s.set),
    read: png.name,
    gauge_available: gauge,
    gauge_at_start,
    gauge_after_setup,
    steps,
    health_after: health.status,
    target_wasm_bytes: WASM_TARGET_BYTES,
    statuses_met: measured.every((m) => m.all_expected_or_clean_503),
    // null: no gauge to tell.
    wasm_met: gauge ? peaks.every((p) => p < WASM_TARGET_BYTES) : null,
  };
}

async function uploads(user, imagesDir, imaging) {
  const RUNS = Number(process.env.UPLOAD_RUNS ?? 5);
  const names = ["sunset-2mp.jpg", "seeding-12mp.jpg", "kleiber-20mp.jpg", "life-6mp-alpha.png"].filter((n) =>
    fs.existsSync(path.join(imagesDir, n)),
  );
  const pipeline = new Map((imaging?.images ?? []).map((i) => [i.image, i.wasm_ms]));
  const results = [];
  let pictureId;
  for (const name of names) {
    const bytes = fs.readFileSync(path.join(imagesDir, name));
    const broken = Buffer.from(bytes);
    broken[0] ^= 0xff; // no longer a JPEG/PNG signature: rejected after the upload is read
    const ok = [];
    const rejected = [];
    // Interleaved, so drift affects both sides alike.
    for (let i = 0; i < RUNS; i++) {
      const r = await expect(201, await upload(user.token, name, bytes), `upload ${name}`);
      ok.push(r.ms);
      pictureId ??= json(r).id;
      rejected.push((await expect(400, await upload(user.token, name, broken), `rejected upload ${name}`)).ms);
    }
    const upload_ms = median(ok);
    const rejected_ms = median(rejected);
    const pipeline_ms = pipeline.get(name);
    results.push({
      image: name,
      bytes: bytes.length,
      runs: RUNS,
      upload_ms: round(upload_ms),
      rejected_ms: round(rejected_ms),
      difference_ms: round(upload_ms - rejected_ms),
      pipeline_ms: pipeline_ms === undefined ? null : round(pipeline_ms),
      difference_over_pipeline: pipeline_ms === undefined ? null : round((upload_ms - rejected_ms) / pipeline_ms, 3),
    });
  }
  return { results, pictureId };
}

async function listing(admin) {
  const ROUNDS = Number(process.env.LIST_ROUNDS ?? 25);
  const big = await createUser(admin, "Basic");
  const small = await createUser(admin, "Basic");
  for (let i = 0; i < 2; i++) await hook("POST", `/__test/pictures/bulk/${big.username}/5000`);
  await hook("POST", `/__test/pictures/bulk/${small.username}/10`);
  const counts = json(await request(SERVICE, "GET", `/__test/counts/${big.username}`));
  if (counts.pictures !== 10000) throw new Error(`expected 10000 pictures, have ${counts.pictures}`);

  // Follow the cursor through the whole account, keeping the cursors of a middle and the last page.
  const cursorAt = {};
  let next = "/api/pictures?limit=200";
  let seen = 0;
  while (next) {
    const r = await expect(200, await request(SERVICE, "GET", next, { headers: bearer(big.token) }), "page");
    seen += json(r).length;
    const link = r.headers.link;
    next = link ? link.slice(1, link.indexOf(">")) : null;
    const cursor = next && new URL(next, SERVICE).searchParams.get("cursor");
    if (seen === 5000) cursorAt.middle = cursor;
    if (seen === 9800) cursorAt.last = cursor; // the next 200: rows 9801..10000, so default page is 9801..9850
  }
  if (seen !== 10000) throw new Error(`paged through ${seen} pictures, expected 10000`);
  // The last full default page (rows 9951..10000): built from a cursor, as a client could.
  const lastPage = await expect(200, await request(SERVICE, "GET", `/api/pictures?limit=200&cursor=${cursorAt.last}`, { headers: bearer(big.token) }), "near-last page");
  const rows = json(lastPage);
  const row9950 = rows[149];
  const cursor9950 = Buffer.from(`${Date.parse(row9950.created_at)}:${row9950.id}`).toString("base64url");

  const scenarios = {
    small_first: { token: small.token, path: "/api/pictures" },
    big_first: { token: big.token, path: "/api/pictures" },
    big_middle: { token: big.token, path: `/api/pictures?cursor=${cursorAt.middle}` },
    big_last: { token: big.token, path: `/api/pictures?cursor=${cursor9950}` },
  };
  const times = Object.fromEntries(Object.keys(scenarios).map((k) => [k, []]));
  const items = {};
  for (let round_ = 0; round_ < ROUNDS; round_++) {
    for (const [k, s] of Object.entries(scenarios)) {
      const r = await expect(200, await request(SERVICE, "GET", s.path, { headers: bearer(s.token) }), k);
      times[k].push(r.ms);
      items[k] = json(r).length;
    }
  }
  const out = { requests_each: ROUNDS };
  for (const k of Object.keys(scenarios)) out[k] = { items: items[k], median_ms: round(median(times[k]), 3) };
  if (out.big_last.items !== 50) throw new Error(`the last page built from a cursor has ${out.big_last.items} items, expected 50`);
  const base = out.small_first.median_ms;
  out.ratio_first = round(out.big_first.median_ms / base, 3);
  out.ratio_middle = round(out.big_middle.median_ms / base, 3);
  out.ratio_last = round(out.big_last.median_ms / base, 3);
  return out;
}

async function cron(user, pictureId) {
  const N = 10000;
  const CHUNK = 2500;
  for (let done = 0; done < N; done += CHUNK) {
    const r = await hook("POST", `/__test/links/expired/${pictureId}/${CHUNK}`);
    if (r.inserted !== CHUNK) throw new Error(`inserted ${r.inserted} links, expected ${CHUNK}`);
  }
  const before = json(await request(SERVICE, "GET", `/__test/counts/${user.username}`)).links;
  const fired = await request(SERVICE, "GET", "/__scheduled?cron=*/5+*+*+*+*");
  const after = json(await request(SERVICE, "GET", `/__test/counts/${user.username}`)).links;
  if (fired.status !== 200) throw new Error(`/__scheduled answered ${fired.status}`);
  return { links_before: before, links_after: after, wall_ms: round(fired.ms, 1) };
}

async function logins(user) {
  const RUNS = Number(process.env.LOGIN_RUNS ?? 11);
  const ok = [];
  const wrong = [];
  for (let i = 0; i < RUNS; i++) {
    ok.push((await expect(200, await request(SERVICE, "POST", "/api/token/", jsonBody({ username: user.username, password: user.password })), "login")).ms);
  }
  // Below the throttle (10 failures per username and client in 15 min): 5 wrong passwords.
  for (let i = 0; i < 5; i++) {
    const r = await request(SERVICE, "POST", "/api/token/", jsonBody({ username: user.username, password: "not-the-password" }));
    await expect(401, r, "wrong-password login");
    wrong.push(r.ms);
  }
  return { logins: RUNS, median_ms: round(median(ok), 1), wrong_password_logins: wrong.length, wrong_password_median_ms: round(median(wrong), 1) };
}

function bundle(root) {
  const files = ["build/index_bg.wasm", "build/worker.mjs"];
  const out = {};
  let raw = 0;
  let gz = 0;
  for (const f of files) {
    const bytes = fs.readFileSync(path.join(root, f));
    const g = zlib.gzipSync(bytes, { level: 9 }).length;
    out[path.basename(f)] = { bytes: bytes.length, gzip_bytes: g };
    raw += bytes.length;
    gz += g;
  }
  out.total = { bytes: raw, gzip_bytes: gz };
  return out;
}

// --- report ------------------------------------------------------------------------------------------
const loadCell = (l) =>
  `${l.rps}  ${l.p50_ms}/${l.p99_ms}  cpu ${l.cpu_ms_per_request.total} ms/req` +
  ` (proxy ${l.cpu_ms_per_request.workerd_proxy ?? 0}, worker ${l.cpu_ms_per_request.workerd_worker ?? 0})` +
  (l.errors ? `  (${l.errors} unexpected answers)` : "");

function cachedGetRows(add, g) {
  add("cached GET service req/s, p50/p99 ms, cpu", loadCell(g.service));
  add("cached GET reference (same checks, JS)", loadCell(g.reference));
  if (g.reference_matched) {
    add("  matched: + session, id, Server-Timing, log, assets router", loadCell(g.reference_matched));
  }
  add("cached GET ceiling (Cache API only)", loadCell(g.ceiling));
  add("  ref: service token check + 404 (no D1)", loadCell(g.service_floor));
  add("  ref: service /api/health (D1 only)", loadCell(g.service_health));
  add("  ref: ceiling /plain (no Cache API)", loadCell(g.ceiling_plain));
  add("cached GET req/s service / reference", `${g.rps_ratio_reference}x`, ">= 1.0x", g.rps_ratio_reference >= 1);
  add("cached GET p99 service / reference", `${g.p99_ratio_reference}x`, "<= 1.0x", g.p99_ratio_reference <= 1);
  if (g.reference_matched) {
    add("  req/s, p99 service / matched reference", `${g.rps_ratio_reference_matched}x, ${g.p99_ratio_reference_matched}x`);
  }
  add("cached GET req/s service / ceiling", `${g.rps_ratio}x (reference / ceiling ${g.reference_rps_ratio}x)`);
  add("cached GET p99 service / ceiling", `${g.p99_ratio}x`);
}

/** The table of `r`'s rows; `only` builds only some of them (`cachedGetRows`). */
function table(r, only) {
  const rows = [];
  // met: true, false, or null when it cannot be told (no gauge yet): "n/a".
  const add = (what, value, target = "", met) =>
    rows.push([what, value, target, met === undefined ? "" : met === null ? "n/a" : met ? "met" : "NOT met"]);
  if (only) {
    only(add, r);
    return format(rows);
  }
  cachedGetRows(add, r.cached_get);
  const c_ = r.concurrency;
  const mib = (b) => (b === null || b === undefined ? "n/a" : `${(b / MiB).toFixed(1)} MiB`);
  const statusText = (st) =>
    Object.entries(st)
      .map(([k, v]) => `${k} x${v}`)
      .join(", ");
  add("concurrency: wasm at start / after setup", `${mib(c_.gauge_at_start?.wasm_memory_bytes)} / ${mib(c_.gauge_after_setup?.wasm_memory_bytes)}`);
  for (const st of c_.steps) {
    const rows_ = [[`${st.n} uploads at once`, st.uploads, 201]];
    if (st.reads) rows_.push([`${2 * st.n} original reads at once`, st.reads, 200]);
    for (const [what, step, code] of rows_) {
      const met = step.all_expected_or_clean_503 && (step.peak_wasm_bytes === null ? null : step.peak_wasm_bytes < c_.target_wasm_bytes);
      add(
        `concurrency ${st.set}, N=${st.n}: ${what}`,
        `${statusText(step.statuses)}; peak wasm ${mib(step.peak_wasm_bytes)}` +
          ` (after ${mib(step.wasm_bytes_after)}), reserved ${mib(step.peak_reserved_bytes_during)},` +
          ` in flight ${step.peak_in_flight_during ?? "n/a"}; p50/p95 ${step.p50_ms}/${step.p95_ms} ms;` +
          ` ${(step.wall_ms / 1000).toFixed(1)} s`,
        `${code} or clean 503, < 96 MiB`,
        step.peak_wasm_bytes === null && step.all_expected_or_clean_503 ? null : met,
      );
    }
  }
  add("concurrency: health afterwards", String(c_.health_after), "200", c_.health_after === 200);
  for (const u of r.upload) {
    add(
      `upload ${u.image} (${(u.bytes / 1e6).toFixed(1)} MB)`,
      `${u.upload_ms} - ${u.rejected_ms} rejected = ${u.difference_ms} ms`,
    );
    add(`  vs pipeline alone`, u.pipeline_ms === null ? "n/a" : `${u.pipeline_ms} ms -> ${u.difference_over_pipeline}x`);
  }
  const l = r.list;
  add("list 10 pictures, first page ms", `${l.small_first.median_ms} (${l.small_first.items} items)`);
  add("list 10k, first page ms", `${l.big_first.median_ms} -> ${l.ratio_first}x`, "<= 1.5x", l.ratio_first <= 1.5);
  add("list 10k, rows 5001-5050 ms", `${l.big_middle.median_ms} -> ${l.ratio_middle}x`, "<= 1.5x", l.ratio_middle <= 1.5);
  add("list 10k, rows 9951-10000 ms", `${l.big_last.median_ms} -> ${l.ratio_last}x`, "<= 1.5x", l.ratio_last <= 1.5);
  const c = r.cron;
  add("cron, 10,000 expired links", `${c.wall_ms} ms, links ${c.links_before} -> ${c.links_after}`, "-> 0", c.links_after === 0);
  add("login (PBKDF2 100k) median ms", `${r.login.median_ms} (n=${r.login.logins}; CPU <= this)`);
  add("wrong-password login median ms", `${r.login.wrong_password_median_ms} (n=${r.login.wrong_password_logins})`);
  const b = r.bundle.total;
  add("bundle wasm+js raw / gzip -9", `${(b.bytes / 1024).toFixed(0)} KiB / ${(b.gzip_bytes / 1024).toFixed(0)} KiB`, "<= 1 MB gzip", b.gzip_bytes <= 1_000_000);
  const m = r.machine;
  add("machine", `${m.nproc} cores, ${m.cpu}, load avg at start ${m.loadavg}`);
  add("node / wrangler", `${m.node} (wrangler on ${m.wrangler_node}), wrangler ${m.wrangler}`);

  return format(rows);
}

function format(rows) {
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i].length), ["what", "value", "target", ""][i].length));
  const line = (row) => row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(["what", "value", "target", ""]), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** The concurrency rows alone, one line each: what the memory targets are judged on. */
function concurrencyTable(c) {
  const mib = (b) => (b === null || b === undefined ? "n/a" : (b / MiB).toFixed(1));
  const rows = [["N", "images", "requests", "statuses", "peak wasm MiB", "p50/p95 ms", ""]];
  for (const st of c.steps) {
    const steps = [["uploads", st.set, st.uploads]];
    if (st.reads) steps.push(["reads", `2N reads of ${c.read}`, st.reads]);
    for (const [kind, what, step] of steps) {
      const met = step.all_expected_or_clean_503 && step.peak_wasm_bytes !== null && step.peak_wasm_bytes < c.target_wasm_bytes;
      rows.push([
        String(st.n),
        what,
        `${step.requests} ${kind}`,
        Object.entries(step.statuses).map(([k, v]) => `${k} x${v}`).join(", "),
        mib(step.peak_wasm_bytes),
        `${step.p50_ms}/${step.p95_ms}`,
        met ? "met" : "NOT met",
      ]);
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

async function main() {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
  let imaging = null;
  const imagingPath = process.env.IMAGING_RESULTS;
  if (imagingPath && fs.existsSync(imagingPath)) imaging = JSON.parse(fs.readFileSync(imagingPath, "utf8"));

  const admin = await login(env("ADMIN_USER"), env("ADMIN_PASSWORD"));
  const premium = await createUser(admin, "Premium");
  const started = new Date().toISOString();

  const log = (s) => process.stderr.write(`==> ${s}\n`);
  if (process.env.BENCH_ROWS === "cached-get") return cachedGetOnly(premium, started, log);
  // First, on an isolate that has served nothing big yet, so its memory figures start low.
  log(`concurrency: N uploads at once (bench photos, then 20 MB noise PNGs, then 48 MP JPEGs; 2N reads of the PNG original after the photos), N = ${process.env.CONCURRENCY ?? "1,4,8,16"}`);
  const concurrency_ = await concurrency(admin, env("BENCH_IMAGES"));
  log("uploads");
  const up = await uploads(premium, env("BENCH_IMAGES"), imaging);
  log(`cached GET: service, reference and ceiling, ${CONNECTIONS} connections x ${LOAD_SECONDS} s each`);
  const cached_get = await cachedGet(premium, "Premium", up.pictureId);
  log("list");
  const list = await listing(admin);
  log("cron");
  const cronResult = await cron(premium, up.pictureId);
  log("login");
  const login_ = await logins(premium);

  const result = {
    started,
    machine: JSON.parse(env("MACHINE")),
    imaging_results: imaging ? path.relative(root, imagingPath) : null,
    concurrency: concurrency_,
    cached_get,
    upload: up.results,
    list,
    cron: cronResult,
    login: login_,
    bundle: bundle(root),
  };
  fs.mkdirSync(path.dirname(env("RESULTS")), { recursive: true });
  fs.writeFileSync(env("RESULTS"), JSON.stringify(result, null, 2) + "\n");
  console.log(table(result));
  console.log(`\nconcurrency (one isolate, in this order; target: only 201/200 or a clean 503, peak < 96 MiB)\n${concurrencyTable(concurrency_)}`);
  console.log(`\n(written to ${path.relative(process.cwd(), env("RESULTS"))})`);
  for (const a of [...agents.values(), gaugeAgent]) a.destroy();
}

/**
 * `BENCH_ROWS=cached-get`: the cached-GET rows alone (one upload to have a thumbnail, then
 * `cachedGet`), for iterating on the read path; written beside RESULTS as service-cached-get.json.
 */
async function cachedGetOnly(user, started, log) {
  const name = "sunset-2mp.jpg";
  const bytes = fs.readFileSync(path.join(env("BENCH_IMAGES"), name));
  const pictureId = json(await expect(201, await upload(user.token, name, bytes), `upload ${name}`)).id;
  log(`cached GET only: service, reference and ceiling, ${CONNECTIONS} connections x ${LOAD_SECONDS} s each`);
  const result = { started, machine: JSON.parse(env("MACHINE")), cached_get: await cachedGet(user, "Premium", pictureId) };
  const out = path.join(path.dirname(env("RESULTS")), "service-cached-get.json");
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
  console.log(table(result, (add, r) => cachedGetRows(add, r.cached_get)));
  console.log(`\n(written to ${path.relative(process.cwd(), out)})`);
  for (const a of [...agents.values(), gaugeAgent]) a.destroy();
}

main().catch((e) => {
  console.error(`error: ${e.stack ?? e}`);
  process.exit(1);
});
