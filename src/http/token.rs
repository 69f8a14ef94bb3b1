//! `POST /token`, `POST /revoke`, `GET /.well-known/jwks.json`, and the endpoints that read
//! access tokens back (SPEC §10): `GET|POST /userinfo`, `POST /introspect`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::request::{bearer_token, origin, read_body, BodyError};
use crate::error::AppError;
use crate::keys::JWKS_MAX_AGE_SECS;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::state::AppState;
use crate::token::introspect::{self, Caller};
use crate::token::request::{parse_introspection_request, parse_revocation_request, parse_token_request};
use crate::token::{grants, revoke, userinfo};

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

/// `GET|POST /userinfo` with `Authorization: Bearer`.
pub async fn userinfo(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let claims = userinfo::userinfo(&state, &settings, bearer_token(&request).as_deref()).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(claims))
}

/// `POST /introspect` (RFC 7662): HTTP Basic first (no body is read for a stranger), then the
/// form's `token`.
pub async fn introspect(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let caller = match introspect::caller(&state, &settings, authorization, &origin(&request, &settings)).await? {
        Caller::Client(client) => client,
        Caller::Throttled { retry_after } => {
            return Err(AppError::SlowDown {
                retry_after,
                description: "too many requests with wrong credentials; try again later".into(),
            })
        }
        Caller::Unauthorized => {
            return Ok(HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"introspection\""))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(OAuthError::new(
                    ErrorCode::InvalidClient,
                    "introspection needs the credentials of a resource server",
                )))
        }
    };
    let body = form_body(&request, payload, settings.server.max_body_bytes).await?;
    let token = parse_introspection_request(content_type(&request), &body)
        .map_err(|e| AppError::OAuth(actix_web::http::StatusCode::BAD_REQUEST, e))?;
    let answer = introspect::introspect(&state, &settings, &caller, &token).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(answer))
}
