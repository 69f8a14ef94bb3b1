//! `GET /authorize` (RFC 6749 §4.1.1, SPEC §5): verify the client and its redirect URI, then
//! validate the rest and open a pending request that continues at sign-in or consent.

use super::rules::{self, RequestRules};
use super::session::reusable_session_user;
use super::{Browser, ErrorPage};
use crate::cimd::{self, Lookup};
use crate::clock::Window;
use crate::config::Settings;
use crate::error::AppError;
use crate::identity::{
    self,
    provider_sign_in::{self, ProviderOutcome},
};
use crate::oauth::error::ErrorCode;
use crate::oauth::query::{self, QueryError};
use crate::oauth::redirect_uri::{self, append_query};
use crate::paths;
use crate::secrets;
use crate::state::AppState;
use crate::store::auth_requests::{self, AuthRequestRow};
use crate::store::clients;
use crate::store::rate_limits;

/// How long a pending authorization request may take to reach consent.
pub(super) const REQUEST_TTL_SECS: i64 = 600;
/// The window `server.pending_requests_per_minute` counts in.
pub(super) const PENDING_WINDOW_SECS: u64 = 60;
const MAX_CLIENT_ID_CHARS: usize = 2000;

pub enum AuthorizeOutcome {
    Page(ErrorPage),
    /// A redirect to the client (errors of manual clients, after verification).
    RedirectToClient(String),
    /// On to `/login` or `/consent`; `new_browser_token` is set as the browser-binding cookie.
    Continue {
        location: String,
        new_browser_token: Option<String>,
    },
}

/// What opening the pending request came to.
enum Opened {
    /// `prompt=none`: nothing opened; whether a live session was there.
    PromptNone { signed_in: bool },
    /// Opened; on to consent when signed in, else to sign-in.
    Pending { signed_in: bool },
    /// Not opened: this address opened too many for browsers without a session this minute.
    TooMany,
}

fn error_redirect(
    settings: &Settings,
    redirect_uri: &str,
    state: Option<&str>,
    code: ErrorCode,
    description: &str,
) -> String {
    let mut params = vec![("error", code.as_str()), ("error_description", description)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", &settings.issuer));
    append_query(redirect_uri, &params)
}

/// `GET /authorize`.
pub async fn authorize(
    state: &AppState,
    settings: &Settings,
    query: &str,
    browser: &Browser,
) -> Result<AuthorizeOutcome, AppError> {
    let parsed = query::parse_query(query);
    for name in ["client_id", "redirect_uri"] {
        if let Err(QueryError::RepeatedParameter(repeated)) = &parsed {
            if repeated == name {
                return Ok(page(400, "Invalid request", format!("The {name} parameter appears more than once.")));
            }
        }
    }
    // Refused before any lookup (PostgreSQL text cannot hold U+0000): a page, like every error
    // before the client is verified.
    if let Err(error @ QueryError::ControlCharacter(_)) = &parsed {
        return Ok(page(400, "Invalid request", format!("The request was refused: {error}.")));
    }
    let client_id = query::first_value(query, "client_id").unwrap_or_default();
    if client_id.is_empty() || client_id.chars().count() > MAX_CLIENT_ID_CHARS {
        return Ok(page(400, "Invalid request", "The request has no valid client_id."));
    }
    let client = match cimd::lookup_client(state, settings, &client_id, &browser.origin).await? {
        Lookup::Found(client) => *client,
        Lookup::NotFound => {
            return Ok(page(400, "Unknown application", "This application is not registered with this server."))
        }
        Lookup::Failed(message) => return Ok(page(400, "Client metadata document refused", message)),
        Lookup::Busy(message) => return Ok(page(503, "Try again in a moment", message)),
    };
    let requested_redirect = query::first_value(query, "redirect_uri").unwrap_or_default();
    if !client.is_active() {
        return Ok(AuthorizeOutcome::Page(
            ErrorPage::new(400, "Application disabled", "This application has been disabled by the operator.")
                .about(&client, None),
        ));
    }
    if requested_redirect.is_empty() {
        return Ok(AuthorizeOutcome::Page(
            ErrorPage::new(400, "Invalid request", "The request has no redirect_uri.").about(&client, None),
        ));
    }
    if redirect_uri::find_registered(client.redirect_uris(), &requested_redirect).is_none() {
        return Ok(AuthorizeOutcome::Page(
            ErrorPage::new(400, "Invalid redirect", "The redirect_uri is not registered for this application.")
                .about(&client, Some(&requested_redirect)),
        ));
    }

    // Client and redirect URI verified. Manual clients get errors redirected from here on;
    // self-registered ones never do (RFC 9700 §4.11.2: no open redirector).
    let is_manual = client.is_manual();
    let state_param = query::first_value(query, "state").filter(|s| s.chars().count() <= rules::MAX_STATE_CHARS);
    let refuse = |code: ErrorCode, description: String| -> AuthorizeOutcome {
        if is_manual {
            AuthorizeOutcome::RedirectToClient(error_redirect(
                settings,
                &requested_redirect,
                state_param.as_deref(),
                code,
                &description,
            ))
        } else {
            AuthorizeOutcome::Page(
                ErrorPage::new(400, "Invalid request", description).about(&client, Some(&requested_redirect)),
            )
        }
    };
    let params = match parsed {
        Ok(params) => params,
        Err(QueryError::RepeatedParameter(name)) => {
            let (code, description) = rules::repeated_parameter_error(&name);
            return Ok(refuse(code, description));
        }
        Err(other) => return Ok(refuse(ErrorCode::InvalidRequest, other.to_string())),
    };
    let supported_scopes = crate::registration::profiles::effective_scopes(settings);
    let rules = RequestRules {
        supported_scopes: &supported_scopes,
        client_scope: client.metadata.scope.as_deref(),
        allowed_resources: &settings.resources.allowed,
    };
    let validated = match rules::validate_request(&params, &rules) {
        Ok(validated) => validated,
        Err((code, description)) => return Ok(refuse(code, description)),
    };
    if !validated.dropped_scopes.is_empty() {
        tracing::debug!(client_id = %client.client_id, dropped = ?validated.dropped_scopes, "requested scopes dropped");
    }

    let now = state.clock.now();
    let new_browser_token = browser.browser_token.is_none().then(|| secrets::random_token(32));
    let browser_token = browser.browser_token.clone().or_else(|| new_browser_token.clone()).unwrap_or_default();
    let session_token = browser.session_token.clone();
    let pending = AuthRequestRow {
        request_id: secrets::random_token(24),
        browser_hash: secrets::digest(&browser_token),
        csrf_token: secrets::random_token(24),
        client_id: client.client_id.clone(),
        redirect_uri: requested_redirect.clone(),
        state: validated.state.clone(),
        code_challenge: validated.code_challenge.clone(),
        scope: validated.scopes.join(" "),
        resource: validated.resource.clone(),
        user_id: None,
        created_at: now,
        expires_at: now + REQUEST_TTL_SECS,
        consumed: false,
        fresh_sign_in: false,
        nonce: validated.nonce.clone(),
        prompt: validated.prompt.clone(),
        max_age: validated.max_age,
        purpose: auth_requests::PURPOSE_AUTHORIZE.into(),
    };
    let (prompt_none, prompt_login, max_age) = (validated.prompt_none, validated.prompt_login, validated.max_age);
    let request_id = pending.request_id.clone();
    let opening = pending.clone();
    // Last seen: at most one write a minute, on its own connection — never a reason to fail the request.
    if clients::seen_long_ago(client.last_seen_at, now) {
        let id = client.client_id.clone();
        state
            .db
            .run_detached("update the client's last-seen time", move |conn| clients::touch_last_seen(conn, &id, now));
    }
    // Browsers without a live session may open only so many requests per address and minute
    // (SPEC §11): each one is a row, and a stranger needs no account to make them.
    let limit = settings.server.pending_requests_per_minute;
    let window = Window::containing(now, PENDING_WINDOW_SECS);
    let limit_key = format!("pending:{}", browser.origin.rate_limit_key);
    let opened = state
        .db
        .run(move |conn| {
            let user = reusable_session_user(conn, session_token.as_deref(), now)?;
            if prompt_none {
                return Ok(Opened::PromptNone { signed_in: user.is_some() });
            }
            if user.is_none() && limit > 0 && rate_limits::hit(conn, &limit_key, window.start)? > limit as i32 {
                return Ok(Opened::TooMany);
            }
            let mut pending = pending;
            // `prompt=login`, or a session older than `max_age`: the session does not answer
            // this request; the sign-in page shows (SPEC §10).
            let auth_time = user.as_ref().map(|(session, _)| session.auth_time);
            pending.fresh_sign_in = rules::needs_fresh_sign_in(prompt_login, max_age, auth_time, now);
            let user = user.filter(|_| !pending.fresh_sign_in);
            pending.user_id = user.as_ref().map(|(_, u)| u.user_id.clone());
            auth_requests::insert(conn, &pending)?;
            Ok(Opened::Pending { signed_in: user.is_some() })
        })
        .await?;
    let signed_in = match opened {
        Opened::PromptNone { signed_in } => {
            // Every client is asked for consent, so `prompt=none` can never succeed.
            let code = if signed_in { ErrorCode::ConsentRequired } else { ErrorCode::LoginRequired };
            return Ok(refuse(code, "this server always asks the user; prompt=none cannot be honoured".into()));
        }
        Opened::TooMany => {
            let wait = window.seconds_left(now);
            tracing::info!(limit, "pending authorization requests limited for an address");
            return Ok(AuthorizeOutcome::Page(
                ErrorPage::new(
                    429,
                    "Too many sign-in requests",
                    format!("Too many sign-in requests came from your network. Try again in {wait} seconds."),
                )
                .retry_after(wait),
            ));
        }
        Opened::Pending { signed_in } => signed_in,
    };
    // `auto_redirect` with a single source: straight there, no login page.
    if let Some(source) = identity::auto_redirect_target(&settings.login).filter(|_| !signed_in) {
        return Ok(match provider_sign_in::go_to(state, settings, source, &opening).await? {
            ProviderOutcome::GoToSource(location) => AuthorizeOutcome::Continue { location, new_browser_token },
            ProviderOutcome::Page(page) => AuthorizeOutcome::Page(page),
            _ => page(500, "Sign-in unavailable", "Sign-in could not start."),
        });
    }
    let target = if signed_in { paths::CONSENT } else { paths::LOGIN };
    let location = format!("{}{target}?request_id={request_id}", settings.issuer_path());
    Ok(AuthorizeOutcome::Continue { location, new_browser_token })
}

fn page(status: u16, title: &str, message: impl Into<String>) -> AuthorizeOutcome {
    AuthorizeOutcome::Page(ErrorPage::new(status, title, message))
}
