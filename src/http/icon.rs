//! `GET /favicon.ico` (SPEC §3, §11): Gatehouse's icon, built into the binary, so a browser's
//! first request to the issuer — the sign-in page's automatic icon fetch — finds something.

use actix_web::http::header;
use actix_web::HttpResponse;

/// A 16×16 and a 32×32 PNG in one ICO container: a gatehouse, white on blue.
const FAVICON: &[u8] = include_bytes!("favicon.ico");

/// The icon, cached for a day; `nosniff` so it is only ever read as an icon.
pub async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/x-icon")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(FAVICON)
}
