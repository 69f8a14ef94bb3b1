//! Gatehouse's own assets for the pages (SPEC §12): the stylesheet (fixed rules plus the
//! configured accent) and the operator's logo, read from `branding.logo_file` at start and on
//! reload and served from memory. Nothing the pages show comes from anywhere else.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::pages;
use crate::branding::{Logo, LogoKind};
use crate::state::AppState;

/// Long: the pages name each version in the URL (`?v=`), so a change is a new URL.
const VERSIONED_CACHE: &str = "public, max-age=86400";

/// `GET /assets/style.css`.
pub async fn stylesheet(state: web::Data<AppState>) -> HttpResponse {
    let settings = state.settings.current();
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, VERSIONED_CACHE))
        .body(pages::stylesheet(&settings.branding))
}

/// `GET /assets/logo`: the configured logo, or 404 when there is none.
pub async fn logo(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match &state.settings.current().branding.logo {
        Some(logo) => logo_response(&request, logo, VERSIONED_CACHE),
        None => HttpResponse::NotFound().insert_header((header::CACHE_CONTROL, "no-store")).finish(),
    }
}

/// The logo's bytes as the image type they were sniffed to be, never anything a browser would
/// guess (`nosniff`); an SVG opened on its own runs in a sandbox (no script, its own origin).
/// A request that names the current version in `If-None-Match` gets a 304.
pub fn logo_response(request: &HttpRequest, logo: &Logo, cache_control: &'static str) -> HttpResponse {
    let etag = format!("\"{}\"", logo.version);
    let unchanged = if_none_match(request, &etag);
    let mut response = if unchanged { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::ETAG, etag))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if logo.kind == LogoKind::Svg {
        response.insert_header((header::CONTENT_SECURITY_POLICY, "sandbox"));
    }
    if unchanged {
        return response.finish();
    }
    response.content_type(logo.kind.content_type()).body(logo.bytes.clone())
}

fn if_none_match(request: &HttpRequest, etag: &str) -> bool {
    request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"))
}
