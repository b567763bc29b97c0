//! HTTP tests against a real `wrangler dev` (workerd with local D1, R2 and Cache API).
//! Run them with `make test`, which starts and stops the server. `scripts/test` runs
//! `cold_start::` first and alone (before anything logs in), then everything else in parallel,
//! then `last_admin::` alone (if it failed wrongly, no admin would be left for the others).

mod accounts;
mod client;
mod cold_start;
mod contract;
mod formats;
mod jwt;
mod last_admin;
mod links;
mod login;
mod memory;
mod observability;
mod pictures;
mod protocol;
mod raw;
mod replicas;
mod sessions;
mod upload_limits;
