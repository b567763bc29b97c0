//! HTTP tests against a real `wrangler dev` (workerd with local D1, R2 and Cache API).
//! Run them with `make test`, which starts and stops the server.

mod accounts;
mod client;
mod contract;
mod links;
mod pictures;
