//! `GET /favicon.ico` (SPEC §3, §11): the operator's logo when `branding.logo_file` names one,
//! else Gatehouse's icon built into the binary, so a browser's first request to the issuer —
//! the sign-in page's automatic icon fetch — finds something.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::assets::logo_response;
use crate::state::AppState;

/// A 16×16 and a 32×32 PNG in one ICO container: a gatehouse, white on blue.
const FAVICON: &[u8] = include_bytes!("favicon.ico");

/// Cached for an hour: this URL cannot name a version, and a new logo should show soon.
const ICON_CACHE: &str = "public, max-age=3600";

/// The icon; `nosniff` so it is only ever read as an icon.
pub async fn favicon(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(logo) = &state.settings.current().branding.logo {
        return logo_response(&request, logo, ICON_CACHE);
    }
    HttpResponse::Ok()
        .content_type("image/x-icon")
        .insert_header((header::CACHE_CONTROL, ICON_CACHE))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(FAVICON)
}
