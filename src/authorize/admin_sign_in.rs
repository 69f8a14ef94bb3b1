//! `GET /admin` without a signed-in user (SPEC §12): a client-less pending request with purpose
//! `admin` — the ordinary sign-in page with every source, no consent — that returns to the
//! dashboard once signed in.

use super::request::{PENDING_WINDOW_SECS, REQUEST_TTL_SECS};
use super::{Browser, ErrorPage};
use crate::clock::Window;
use crate::config::Settings;
use crate::error::AppError;
use crate::identity;
use crate::identity::provider_sign_in::{self, ProviderOutcome};
use crate::paths;
use crate::secrets;
use crate::state::AppState;
use crate::store::auth_requests::{self, AuthRequestRow};
use crate::store::rate_limits;

/// Where the browser goes to sign in for the dashboard.
pub enum AdminSignIn {
    /// To the login page (or straight to the only source); `new_browser_token` is set as the
    /// browser-binding cookie.
    Continue {
        location: String,
        new_browser_token: Option<String>,
    },
    Page(ErrorPage),
}

/// Open a pending request of purpose `admin` for this browser. Counted against
/// `server.pending_requests_per_minute` like every request of a browser without a session.
pub async fn start(state: &AppState, settings: &Settings, browser: &Browser) -> Result<AdminSignIn, AppError> {
    let now = state.clock.now();
    let new_browser_token = browser.browser_token.is_none().then(|| secrets::random_token(32));
    let browser_token = browser.browser_token.clone().or_else(|| new_browser_token.clone()).unwrap_or_default();
    let pending = AuthRequestRow {
        request_id: secrets::random_token(24),
        browser_hash: secrets::digest(&browser_token),
        csrf_token: secrets::random_token(24),
        client_id: String::new(),
        redirect_uri: String::new(),
        state: None,
        code_challenge: String::new(),
        scope: String::new(),
        resource: None,
        user_id: None,
        created_at: now,
        expires_at: now + REQUEST_TTL_SECS,
        consumed: false,
        fresh_sign_in: false,
        nonce: None,
        prompt: None,
        max_age: None,
        purpose: auth_requests::PURPOSE_ADMIN.into(),
    };
    let limit = settings.server.pending_requests_per_minute;
    let window = Window::containing(now, PENDING_WINDOW_SECS);
    let limit_key = format!("pending:{}", browser.origin.rate_limit_key);
    let row = pending.clone();
    let opened = state
        .db
        .run(move |conn| {
            if limit > 0 && rate_limits::hit(conn, &limit_key, window.start)? > limit as i32 {
                return Ok(false);
            }
            auth_requests::insert(conn, &row)?;
            Ok(true)
        })
        .await?;
    if !opened {
        let wait = window.seconds_left(now);
        return Ok(AdminSignIn::Page(
            ErrorPage::new(
                429,
                "Too many sign-in requests",
                format!("Too many sign-in requests came from your network. Try again in {wait} seconds."),
            )
            .retry_after(wait),
        ));
    }
    // `auto_redirect` with a single source: straight there, as for a client's request.
    if let Some(source) = identity::auto_redirect_target(&settings.login) {
        return Ok(match provider_sign_in::go_to(state, settings, source, &pending).await? {
            ProviderOutcome::GoToSource(location) => AdminSignIn::Continue { location, new_browser_token },
            ProviderOutcome::Page(page) => AdminSignIn::Page(page),
            _ => AdminSignIn::Page(super::expired_request()),
        });
    }
    let location = format!("{}{}?request_id={}", settings.issuer_path(), paths::LOGIN, pending.request_id);
    Ok(AdminSignIn::Continue { location, new_browser_token })
}
