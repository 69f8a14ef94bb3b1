//! `GET /.well-known/oauth-authorization-server` (RFC 8414, SPEC §3) and
//! `GET /.well-known/openid-configuration` (SPEC §10): the documents from the live settings.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::config::Settings;
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

/// RFC 8414 metadata, from the live settings (so `registration_endpoint` follows `dcr.enabled`).
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let settings = state.settings.current();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .json(server_metadata(inputs_of(&settings)))
}

/// OpenID Connect Discovery, from the live settings.
pub async fn openid_configuration_document(state: web::Data<AppState>) -> HttpResponse {
    let settings = state.settings.current();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .json(openid_configuration(inputs_of(&settings)))
}
