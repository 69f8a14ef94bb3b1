//! `GET /.well-known/oauth-authorization-server` (RFC 8414, SPEC §3): the metadata document
//! from the live settings.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::config::Settings;
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

/// RFC 8414 metadata, from the live settings (so `registration_endpoint` follows `dcr.enabled`).
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let settings = state.settings.current();
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "public, max-age=60")).json(metadata_of(&settings))
}
