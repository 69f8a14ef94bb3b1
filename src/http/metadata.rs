use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::oauth::metadata::server_metadata;
use crate::state::AppState;

/// RFC 8414 metadata, from the live settings (so `registration_endpoint` follows `dcr.enabled`).
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let settings = state.settings.current();
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "public, max-age=60")).json(server_metadata(&settings))
}
