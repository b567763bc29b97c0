//! The Worker's module entry: what workerd calls on each request and cron run, handed straight to
//! the wasm exports (`fetch` and `scheduled` in src/worker_glue.rs). scripts/build bundles it
//! with wasm-bindgen's glue into build/worker.mjs.
//!
//! A plain object, as a JS Worker's entry is. worker-build's entry, used before, is a class
//! that workerd constructs for every request, behind a Proxy that makes a new Proxy around each
//! method looked up, for what this service does not use (RPC, Durable Objects). A V8 profile
//! with the inspector attached put a tenth of the isolate's samples there, but six side-by-side
//! runs of the cached read without it could not tell the two entries apart (-3.8% to +4.4%
//! req/s, mean +0.9%): this one is kept for being plain, not faster.
//!
//! What it kept is kept here: after a panic or a trap the wasm instance is dead (every request
//! in flight fails with it), and the next request starts a new one instead of failing too.
//! wasm-bindgen's glue (built with --experimental-reset-state-function and
//! --force-enable-abort-handler) makes the new instance on the next call after an abort; a
//! panic also sets `criticalError` (the worker crate's panic hook), and a trap seen here or as
//! an uncaught error does too, and then the instance is reset before the next call.
import * as wasm from "./index.js";

Error.stackTraceLimit = 100;
const state = wasm.__worker_init_state();

function noteCritical(error) {
  if (error instanceof WebAssembly.RuntimeError) {
    console.error("Critical", error);
    state.criticalError = true;
  }
}

function resetIfCritical() {
  if (state.criticalError) {
    console.log("Reinitializing Wasm application");
    wasm.__wbg_reset_state();
    state.criticalError = false;
    state.instanceId++;
  }
}

addEventListener("error", (event) => noteCritical(event.error));

async function call(handler, argument, env, ctx) {
  resetIfCritical();
  try {
    return await handler(argument, env, ctx);
  } catch (error) {
    noteCritical(error);
    throw error;
  }
}

export default {
  fetch(request, env, ctx) {
    return call(wasm.fetch, request, env, ctx);
  },
  scheduled(controller, env, ctx) {
    return call(wasm.scheduled, controller, env, ctx);
  },
};
