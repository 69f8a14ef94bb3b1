//! `GET /.well-known/oauth-authorization-server` (RFC 8414, SPEC §3): the metadata document
//! from the live settings.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::config::Settings;
use crate::error::AppError;
use crate::oauth::metadata::{server_metadata, MetadataInputs};
use crate::registration::profiles::effective_scopes;
use crate::state::AppState;

fn metadata_of(settings: &Settings) -> crate::oauth::metadata::ServerMetadata {
    server_metadata(MetadataInputs {
        issuer: &settings.issuer,
        scopes_supported: effective_scopes(settings),
        registration_enabled: settings.dcr.enabled,
        cimd_enabled: settings.cimd.enabled,
    })
}

thread_local! {
    /// The document as sent, with the settings it was made from: it changes only when a reload
    /// swaps the settings, so each worker thread serialises it once per reload, not per request.
    /// The `Weak` keeps the old settings' allocation reserved, so a pointer match is exact.
    static DOCUMENT: RefCell<Option<(Weak<Settings>, web::Bytes)>> = const { RefCell::new(None) };
}

fn document(settings: &Arc<Settings>) -> Result<web::Bytes, AppError> {
    DOCUMENT.with(|cached| {
        let mut cached = cached.borrow_mut();
        if let Some((of, body)) = cached.as_ref() {
            if std::ptr::eq(of.as_ptr(), Arc::as_ptr(settings)) {
                return Ok(body.clone());
            }
        }
        let body = serde_json::to_vec(&metadata_of(settings))
            .map_err(|e| AppError::Internal(format!("the metadata document did not serialise: {e}")))?;
        let body = web::Bytes::from(body);
        *cached = Some((Arc::downgrade(settings), body.clone()));
        Ok(body)
    })
}

/// RFC 8414 metadata, from the live settings (so `registration_endpoint` follows `dcr.enabled`).
pub async fn metadata(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let body = document(&state.settings.current())?;
    Ok(HttpResponse::Ok()
        .insert_header(header::ContentType::json())
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .body(body))
}
