//! `POST /register` (RFC 7591) and `GET`/`DELETE /register/{client_id}` (RFC 7592).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::request::{bearer_token, is_json_content_type, origin, read_body, BodyError};
use crate::error::AppError;
use crate::oauth::error::ErrorCode;
use crate::registration::service::{self, Registered};
use crate::state::AppState;

fn not_found(what: &str) -> AppError {
    AppError::protocol(ErrorCode::NotFound, format!("{what} is not enabled on this server"))
}

/// SPEC §4.2, in order: enabled?, content type, size, then the service (parse, rules, store).
pub async fn register(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    if !settings.dcr.enabled {
        return Err(not_found("dynamic client registration"));
    }
    let registrant = origin(&request, &settings);
    let admission = service::admit(&state, &settings, &registrant).await?;
    if !is_json_content_type(&request) {
        let description = "the request body must be JSON (Content-Type: application/json)";
        return Err(service::refuse(
            &state,
            &registrant,
            StatusCode::UNSUPPORTED_MEDIA_TYPE.as_u16(),
            ErrorCode::InvalidClientMetadata,
            description,
            None,
        )
        .await);
    }
    let body = match read_body(&request, payload, settings.server.max_body_bytes).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            let description = format!("the request body is larger than {} bytes", settings.server.max_body_bytes);
            return Err(service::refuse(
                &state,
                &registrant,
                StatusCode::PAYLOAD_TOO_LARGE.as_u16(),
                ErrorCode::InvalidClientMetadata,
                &description,
                None,
            )
            .await);
        }
        Err(BodyError::Broken) => {
            return Err(AppError::bad_request(ErrorCode::InvalidClientMetadata, "the request body could not be read"))
        }
    };
    let registered = service::register(&state, &settings, &registrant, &body).await?;
    if let Registered::Reused(_) = registered {
        service::refund(&state, admission).await;
    }
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(registered.response()))
}

/// The client id from the path. One with a control character names no client: answered like
/// an unknown client, before any lookup.
fn client_id(id: web::Path<String>) -> Result<String, AppError> {
    let id = id.into_inner();
    if crate::text::has_control(&id) {
        return Err(service::invalid_token());
    }
    Ok(id)
}

pub async fn read(
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    if !settings.dcr.registration_management {
        return Err(not_found("registration management"));
    }
    let response = service::read_registration(&state, &settings, client_id(id)?, bearer_token(&request)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(response))
}

pub async fn delete(
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    if !settings.dcr.registration_management {
        return Err(not_found("registration management"));
    }
    let registrant = origin(&request, &settings);
    service::delete_registration(&state, &registrant, client_id(id)?, bearer_token(&request)).await?;
    Ok(HttpResponse::NoContent().insert_header((header::CACHE_CONTROL, "no-store")).finish())
}
