//! storagetiers: a tiered image service for Cloudflare Workers.
//!
//! Layers, each knowing only those below it:
//! - `domain`: values that validate on construction (tiers, users, ids, links, names);
//! - `store`: every SQL statement, over the `Database` port (D1);
//! - `observability`: request ids, per-request timings of the ports, structured log lines;
//! - `media`: the key scheme and the renditions kept in R2 and the edge cache;
//! - `routes`: the one route table and the handlers (authenticate, parse, call, shape);
//! - `worker_glue`: the only file that sees workerd, adapting its bindings to the ports.
//!
//! Everything but `worker_glue` compiles and is tested natively.

// The Worker is single-threaded wasm: its futures are not `Send`, and need not be.
#![allow(async_fn_in_trait)]
// A panic resets the wasm instance and fails every request in flight in the isolate: nothing
// outside tests may unwrap.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod maintenance;
pub mod media;
pub mod memory;
pub mod observability;
pub mod passwords;
pub mod ports;
pub mod routes;
pub mod store;
pub mod tokens;

#[cfg(test)]
mod api_tests;
#[cfg(test)]
mod fakes;

#[cfg(target_arch = "wasm32")]
mod worker_glue;
