//! OAuth error codes as they go on the wire (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 6750 §3.1).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    LoginRequired,
    ConsentRequired,
    InvalidScope,
    InvalidTarget,
    AccessDenied,
    InvalidToken,
    InvalidRedirectUri,
    InvalidClientMetadata,
    SlowDown,
    TemporarilyUnavailable,
    ServerError,
    NotFound,
    MethodNotAllowed,
    /// The login API (SPEC §9.2): the app's user is disabled in Gatehouse (403).
    UserDisabled,
    /// The login API (SPEC §9.2): another user holds that email (409).
    EmailInUse,
}

impl ErrorCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::ServerError => "server_error",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::UserDisabled => "user_disabled",
            ErrorCode::EmailInUse => "email_in_use",
        }
    }

    /// The HTTP status this error is answered with unless an endpoint says otherwise (413 for a
    /// body too large, 415 for a wrong media type).
    pub fn status(&self) -> u16 {
        match self {
            ErrorCode::InvalidToken => 401,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::UserDisabled => 403,
            ErrorCode::EmailInUse => 409,
            ErrorCode::SlowDown => 429,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// An OAuth error response body: `{"error": "...", "error_description": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OAuthError {
    pub error: ErrorCode,
    pub error_description: String,
}

impl OAuthError {
    pub fn new(error: ErrorCode, description: impl Into<String>) -> Self {
        OAuthError { error, error_description: description.into() }
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error.as_str(), self.error_description)
    }
}
