//! storagetiers: a tiered image service for Cloudflare Workers.
//!
//! Layers, each importing only those above it in this list (checked with grep):
//! - `domain`: values that validate on construction (tiers, users, ids, links, names) and the
//!   per-field messages of invalid input (`FieldErrors`); no HTTP, no SQL;
//! - `http` (request and response types, the multipart parser) and `memory` (the isolate's
//!   budget): no other module of the crate;
//! - `ports`: every port (`Database`, `BlobStore`, `EdgeCache`, `Clock`, `Kdf`) and `Platform`,
//!   which names one runtime's set of them;
//! - `store`: every SQL statement, over the `Database` port, returning domain values;
//! - `observability`: request ids, per-request timings of the ports (`Timed`), log lines;
//! - `media`: the key scheme, uploads and renditions, services over the ports with their own
//!   errors (`UploadError`, `MediaError`);
//! - `config` (settings read once, typed, such as the upload limits), `passwords` and `tokens`
//!   (each with its own error);
//! - `maintenance`: what the cron runs, over `store`, `media::keys` and the ports;
//! - `error` and `routes`: the HTTP edge. `ApiError` is the one error type that becomes a status,
//!   mapped from every service's error in `routes` (and `error.rs`); the one route table and the
//!   handlers (authenticate, parse, call, shape);
//! - `worker_glue`: the only file that sees workerd, adapting its bindings to the ports.
//!
//! Nothing below `routes` names `routes` or `ApiError`. Everything but `worker_glue` compiles
//! and is tested natively.

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
