//! storagetiers: a tiered image service for Cloudflare Workers.

#[cfg(target_arch = "wasm32")]
mod worker_glue;
