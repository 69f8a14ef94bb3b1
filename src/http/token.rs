//! `POST /token`, `POST /revoke`, `GET /.well-known/jwks.json`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::request::{origin, read_body, BodyError};
use crate::error::AppError;
use crate::keys::JWKS_MAX_AGE_SECS;
use crate::oauth::error::ErrorCode;
use crate::state::AppState;
use crate::token::request::{parse_revocation_request, parse_token_request};
use crate::token::{grants, revoke};

async fn form_body(request: &HttpRequest, payload: web::Payload, limit: usize) -> Result<Vec<u8>, AppError> {
    read_body(request, payload, limit).await.map_err(|e| match e {
        BodyError::TooLarge => AppError::oauth(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE.as_u16(),
            ErrorCode::InvalidRequest,
            format!("the request body is larger than {limit} bytes"),
        ),
        BodyError::Broken => AppError::bad_request(ErrorCode::InvalidRequest, "the request body could not be read"),
    })
}

fn content_type(request: &HttpRequest) -> Option<&str> {
    request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

pub async fn token(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let body = form_body(&request, payload, settings.server.max_body_bytes).await?;
    let parsed = parse_token_request(content_type(&request), &body)
        .map_err(|e| AppError::OAuth(actix_web::http::StatusCode::BAD_REQUEST, e))?;
    let response = grants::token(&state, &settings, parsed, &origin(&request, &settings)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(response))
}

pub async fn revoke(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let body = form_body(&request, payload, settings.server.max_body_bytes).await?;
    let parsed = parse_revocation_request(content_type(&request), &body)
        .map_err(|e| AppError::OAuth(actix_web::http::StatusCode::BAD_REQUEST, e))?;
    revoke::revoke(&state, parsed).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).finish())
}

pub async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let ring = state.keys.current().ok_or_else(|| AppError::Internal("signing keys are not loaded".into()))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, format!("public, max-age={JWKS_MAX_AGE_SECS}")))
        .json(&ring.jwks))
}
