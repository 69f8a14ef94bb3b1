//! The application error and how it maps to HTTP: OAuth errors in their RFC shape, a database
//! outage as a quick 503, everything else a 500 with a generic body and the detail in the log.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use crate::db::DbError;
use crate::oauth::error::{ErrorCode, OAuthError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{1}")]
    OAuth(StatusCode, OAuthError),
    #[error(transparent)]
    Db(#[from] DbError),
    /// Too many attempts: 429 with `Retry-After` (seconds).
    #[error("rate limited: {description}")]
    SlowDown { retry_after: i64, description: String },
    /// RFC 6750 §3.1: a bearer token that is missing, unknown or retired.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// An OAuth error answered with `status` (an HTTP status code).
    pub fn oauth(status: u16, code: ErrorCode, description: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        AppError::OAuth(status, OAuthError::new(code, description))
    }

    /// An OAuth error answered with its code's own status ([`ErrorCode::status`]).
    pub fn protocol(code: ErrorCode, description: impl Into<String>) -> Self {
        Self::oauth(code.status(), code, description)
    }

    pub fn bad_request(code: ErrorCode, description: impl Into<String>) -> Self {
        Self::oauth(400, code, description)
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::Db(DbError::Query(e))
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::OAuth(status, _) => *status,
            AppError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            AppError::SlowDown { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Db(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Db(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self {
            AppError::OAuth(_, error) => error.clone(),
            AppError::InvalidToken(description) => OAuthError::new(ErrorCode::InvalidToken, description.clone()),
            AppError::Db(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable");
                OAuthError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "the server is temporarily unavailable; try again shortly",
                )
            }
            AppError::SlowDown { description, .. } => OAuthError::new(ErrorCode::SlowDown, description.clone()),
            other @ (AppError::Db(_) | AppError::Internal(_)) => {
                tracing::error!(error = %other, "internal error");
                OAuthError::new(ErrorCode::ServerError, "internal server error")
            }
        };
        let mut response = HttpResponse::build(self.status_code());
        // As on the token endpoint's successes (RFC 6749 §5.1), for HTTP/1.0 caches too.
        response.insert_header((header::CACHE_CONTROL, "no-store")).insert_header((header::PRAGMA, "no-cache"));
        if let AppError::SlowDown { retry_after, .. } = self {
            response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        if let AppError::InvalidToken(_) = self {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""));
        }
        if self.status_code() == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        response.json(body)
    }
}
