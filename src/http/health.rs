//! `/healthz`, `/readyz` and `/metrics` (SPEC §3): liveness, readiness (database and keys)
//! and the Prometheus counters.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::db;
use crate::state::AppState;

/// How long readiness waits for the database.
const READINESS_TIMEOUT: Duration = Duration::from_secs(1);

/// Liveness: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(serde_json::json!({"status": "ok"}))
}

/// Readiness: the database answers within a second and the signing keys are loaded.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let check = tokio::time::timeout(READINESS_TIMEOUT, state.db.run(db::ping)).await;
    let (ready, problem) = match check {
        Ok(Ok(())) if state.keys.current().is_none() => (false, Some("signing keys not loaded")),
        Ok(Ok(())) => (true, None),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database check failed");
            (false, Some("database unavailable"))
        }
        Err(_) => (false, Some("database did not answer within 1 s")),
    };
    let mut response = if ready { HttpResponse::Ok() } else { HttpResponse::ServiceUnavailable() };
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    match problem {
        None => response.json(serde_json::json!({"status": "ready"})),
        Some(problem) => response.json(serde_json::json!({"status": "unavailable", "reason": problem})),
    }
}

/// The Prometheus text. Served as is on `admin.bind`; on the public listener only behind the
/// admin token (`admin::metrics`).
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}
