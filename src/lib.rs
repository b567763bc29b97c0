//! storagetiers: a tiered image service for Cloudflare Workers.
//!
//! The core (everything but `worker_glue`) compiles and is tested natively; `worker_glue` adapts
//! it to workerd's D1, R2, Cache API and cron event.

// The Worker is single-threaded wasm: its futures are not `Send`, and need not be.
#![allow(async_fn_in_trait)]

pub mod accounts;
pub mod admin;
pub mod app;
pub mod config;
pub mod error;
pub mod http;
pub mod links;
pub mod maintenance;
pub mod passwords;
pub mod pictures;
pub mod ports;
pub mod tiers;
pub mod tokens;
pub mod users;

#[cfg(test)]
mod api_tests;
#[cfg(test)]
mod fakes;

#[cfg(target_arch = "wasm32")]
mod worker_glue;
