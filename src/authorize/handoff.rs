//! Sending the browser to sign in at another source (SPEC §9.2): the login page's "Continue
//! with NAME" button for the app beside Gatehouse. The pending request must be this browser's
//! and the form's CSRF token its own.

use super::pending::open_pending;
use super::{expired_request, Browser, ErrorPage};
use crate::config::Settings;
use crate::error::AppError;
use crate::identity;
use crate::state::AppState;

/// Where the browser goes next, or a page.
pub enum Handoff {
    Redirect(String),
    Page(ErrorPage),
}

/// `POST /login/app`: a login challenge for the pending request, and the app's URL with it.
pub async fn to_app(
    state: &AppState,
    settings: &Settings,
    request_id: String,
    csrf_token: String,
    browser: &Browser,
) -> Result<Handoff, AppError> {
    if !settings.login.app.enabled() {
        return Ok(Handoff::Page(ErrorPage::new(404, "Not available", "Signing in through the app is not enabled.")));
    }
    let now = state.clock.now();
    let browser = browser.clone();
    let app = settings.login.app.clone();
    let location = state
        .db
        .run(move |conn| {
            let Some(pending) = open_pending(conn, &request_id, &browser, Some(&csrf_token), now)? else {
                return Ok(None);
            };
            Ok(Some(identity::app::start(conn, &app, &pending, now)?))
        })
        .await?;
    Ok(match location {
        Some(location) => Handoff::Redirect(location),
        None => Handoff::Page(expired_request()),
    })
}
