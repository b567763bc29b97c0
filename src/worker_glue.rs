//! The Cloudflare Worker entry points: a thin adapter from workerd to the core.

use worker::*;

#[event(fetch)]
async fn fetch(_req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    Response::from_json(&serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}
