//! The ceiling of a cached thumbnail read: the Cache API alone (no auth, no D1, no wasm), so the
//! service's cached GET can be compared with the best this runtime does on the same machine.

// Same shape of key and same stored headers as the service's edge cache (src/worker_glue.rs).
const KEY = "https://storagetiers.internal/ceiling/200";

let plain = null;

export default {
  async fetch(request) {
    const cache = caches.default;
    // bench/service/run waits for this before it measures anything.
    if (new URL(request.url).pathname === "/ready") return new Response("ready");
    // Warm-up: the bench PUTs the service's own thumbnail bytes once, so both serve the same size.
    if (request.method === "PUT") {
      const body = await request.arrayBuffer();
      await cache.put(
        KEY,
        new Response(body, {
          headers: {
            "content-type": request.headers.get("content-type") ?? "image/jpeg",
            "cache-control": "public, max-age=2592000",
          },
        }),
      );
      plain = { body, type: request.headers.get("content-type") ?? "image/jpeg" };
      return new Response(null, { status: 204 });
    }
    // The runtime's floor, for reference: the same bytes from memory, no Cache API.
    if (new URL(request.url).pathname === "/plain") {
      if (!plain) return new Response("not warmed up", { status: 404 });
      return new Response(plain.body, { headers: { "content-type": plain.type, "cf-cache-status": "NONE" } });
    }
    const hit = await cache.match(KEY);
    if (!hit) {
      return new Response("not warmed up", { status: 404 });
    }
    const headers = new Headers(hit.headers);
    headers.set("cf-cache-status", "HIT");
    return new Response(hit.body, { status: 200, headers });
  },
};
