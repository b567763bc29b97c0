//! `GET /api/health`: whether D1 answers; for admins also the isolate's memory gauge.

use super::App;
use crate::error::ApiError;
use crate::http::{Request, Response};
use crate::memory;
use crate::ports::Platform;
use crate::store;
use serde_json::json;

impl<P: Platform> App<P> {
    /// `GET /api/health`: the version, or 503 when D1 does not answer. With an admin's token the
    /// answer adds what this isolate holds: wasm memory, reserved bytes, requests in flight.
    pub(crate) async fn health(&self, req: &Request<P::Incoming>) -> Result<Response, ApiError> {
        store::ping(&self.db)
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        let mut body = json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")});
        let is_admin = req.header("authorization").is_some() && self.admin(req).await.is_ok();
        if is_admin {
            body["isolate"] = json!({
                "wasm_memory_bytes": memory::wasm_memory_bytes(),
                "memory_reserved_bytes": self.isolate.budget.reserved(),
                "requests_in_flight": self.isolate.in_flight.get(),
            });
        }
        Ok(Response::json(200, &body))
    }
}
