//! The login API for the app beside Gatehouse (SPEC §9.2): JSON, `Authorization: Bearer
//! {login.app.api_key}`, no CORS (it is called server to server). Thin: the rules are
//! `identity::app`.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::request::{bearer_token, json_object, origin};
use crate::error::AppError;
use crate::identity::app;
use crate::oauth::error::ErrorCode;
use crate::state::AppState;
use crate::text;

fn json_response(body: &impl serde::Serialize) -> HttpResponse {
    HttpResponse::build(StatusCode::OK).insert_header((header::CACHE_CONTROL, "no-store")).json(body)
}

/// The bearer check first, then the challenge from the path (one with a control character is
/// no challenge: 404 before any lookup).
async fn authenticated_challenge(
    request: &HttpRequest,
    state: &AppState,
    challenge: web::Path<String>,
) -> Result<String, AppError> {
    let settings = state.settings.current();
    let presented = bearer_token(request).unwrap_or_default();
    app::authenticate(state, &settings, &presented, &origin(request, &settings)).await?;
    let challenge = challenge.into_inner();
    if text::has_control(&challenge) {
        return Err(AppError::protocol(ErrorCode::NotFound, "no such login challenge"));
    }
    Ok(challenge)
}

/// `GET /login/app/requests/{challenge}`.
pub async fn request_info(
    request: HttpRequest,
    challenge: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let challenge = authenticated_challenge(&request, &state, challenge).await?;
    let settings = state.settings.current();
    let info = app::request_info(&state, &settings, &challenge, &origin(&request, &settings)).await?;
    Ok(json_response(&info))
}

/// `POST /login/app/requests/{challenge}/accept`.
pub async fn accept(
    request: HttpRequest,
    challenge: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let challenge = authenticated_challenge(&request, &state, challenge).await?;
    let settings = state.settings.current();
    let body = json_object(&request, payload, settings.server.max_body_bytes, false).await?;
    let statement = app::parse_statement(&body, state.clock.now())
        .map_err(|why| AppError::bad_request(ErrorCode::InvalidRequest, why))?;
    let answered = app::accept(&state, &settings, &challenge, statement, &origin(&request, &settings)).await?;
    Ok(json_response(&answered))
}

/// `POST /login/app/requests/{challenge}/reject`.
pub async fn reject(
    request: HttpRequest,
    challenge: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let challenge = authenticated_challenge(&request, &state, challenge).await?;
    let settings = state.settings.current();
    let body = json_object(&request, payload, settings.server.max_body_bytes, true).await?;
    let description = match body.get("error_description") {
        None | Some(Value::Null) => None,
        Some(Value::String(description)) => Some(description.clone()),
        Some(_) => return Err(AppError::bad_request(ErrorCode::InvalidRequest, "error_description must be a string")),
    };
    let answered = app::reject(&state, &settings, &challenge, description).await?;
    Ok(json_response(&answered))
}
