//! `GET /.well-known/oauth-authorization-server` (RFC 8414, SPEC §3) and
//! `GET /.well-known/openid-configuration` (SPEC §10): the documents from the live settings.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::config::Settings;
use crate::error::AppError;
use crate::oauth::metadata::{openid_configuration, server_metadata, MetadataInputs};
use crate::registration::profiles::effective_scopes;
use crate::state::AppState;

fn inputs_of(settings: &Settings) -> MetadataInputs<'_> {
    MetadataInputs {
        issuer: &settings.issuer,
        scopes_supported: effective_scopes(settings),
        registration_enabled: settings.dcr.enabled,
        cimd_enabled: settings.cimd.enabled,
        introspection_enabled: !settings.introspection.clients.is_empty(),
    }
}

/// The two documents as sent.
#[derive(Clone)]
struct Documents {
    oauth: web::Bytes,
    openid: web::Bytes,
}

thread_local! {
    /// The documents as sent, with the settings they were made from: they change only when a
    /// reload swaps the settings, so each worker thread serialises them once per reload, not per
    /// request. The `Weak` keeps the old settings' allocation reserved, so a pointer match is
    /// exact.
    static DOCUMENTS: RefCell<Option<(Weak<Settings>, Documents)>> = const { RefCell::new(None) };
}

fn documents(settings: &Arc<Settings>) -> Result<Documents, AppError> {
    DOCUMENTS.with(|cached| {
        let mut cached = cached.borrow_mut();
        if let Some((of, documents)) = cached.as_ref() {
            if std::ptr::eq(of.as_ptr(), Arc::as_ptr(settings)) {
                return Ok(documents.clone());
            }
        }
        let serialise = |value: Result<Vec<u8>, serde_json::Error>| {
            value
                .map(web::Bytes::from)
                .map_err(|e| AppError::Internal(format!("the metadata document did not serialise: {e}")))
        };
        let made = Documents {
            oauth: serialise(serde_json::to_vec(&server_metadata(inputs_of(settings))))?,
            openid: serialise(serde_json::to_vec(&openid_configuration(inputs_of(settings))))?,
        };
        *cached = Some((Arc::downgrade(settings), made.clone()));
        Ok(made)
    })
}

fn json_document(body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(header::ContentType::json())
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .body(body)
}

/// RFC 8414 metadata, from the live settings (so `registration_endpoint` follows `dcr.enabled`).
pub async fn metadata(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    Ok(json_document(documents(&state.settings.current())?.oauth))
}

/// OpenID Connect Discovery, from the live settings.
pub async fn openid_configuration_document(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    Ok(json_document(documents(&state.settings.current())?.openid))
}
