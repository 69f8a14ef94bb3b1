//! `GET`/`POST /login` (SPEC §5): the sign-in form, throttled per address and per account.

use serde_json::json;

use super::pending::pending_request;
use super::{expired_request, Browser, ErrorPage};
use crate::clock::Window;
use crate::config::Settings;
use crate::db::{write_tx, DbError};
use crate::error::AppError;
use crate::paths;
use crate::secrets;
use crate::state::AppState;
use crate::store::audit::{self, event, Actor, AuditRecord};
use crate::store::auth_requests;
use crate::store::rate_limits;
use crate::store::sessions::{self, SessionRow};
use crate::store::users;

/// Sign-in attempts allowed per address and window, before answering "slow down".
const LOGIN_ATTEMPTS_PER_WINDOW: i32 = 30;
const LOGIN_WINDOW_SECS: u64 = 600;
/// Failures on one account before each further attempt must wait (a growing delay).
const FREE_LOGIN_FAILURES: i32 = 3;
const MAX_LOGIN_DELAY_SECS: i64 = 60;

/// What the login page shows.
#[derive(Debug, Clone)]
pub struct LoginView {
    pub request_id: String,
    pub csrf_token: String,
    pub client_name: String,
    pub unverified: bool,
    pub email: String,
    pub error: Option<String>,
    pub status: u16,
}

pub enum LoginOutcome {
    Form(LoginView),
    Page(ErrorPage),
    /// Signed in: set the session cookie and go on to consent.
    SignedIn {
        session_token: String,
        location: String,
    },
}

/// `GET /login`.
pub async fn login_form(
    state: &AppState,
    settings: &Settings,
    request_id: String,
    browser: &Browser,
) -> Result<LoginOutcome, AppError> {
    Ok(match pending_request(state, settings, request_id, browser, None).await? {
        None => LoginOutcome::Page(expired_request()),
        Some((pending, client)) => LoginOutcome::Form(LoginView {
            request_id: pending.request_id,
            csrf_token: pending.csrf_token,
            unverified: !client.is_manual(),
            client_name: client.client_name().to_string(),
            email: String::new(),
            error: None,
            status: 200,
        }),
    })
}

pub struct LoginForm {
    pub request_id: String,
    pub csrf_token: String,
    pub email: String,
    pub password: String,
}

/// The growing per-account delay: nothing for the first few failures, then 2, 4, 8 … seconds.
pub fn login_delay_secs(failures: i32) -> i64 {
    if failures < FREE_LOGIN_FAILURES {
        0
    } else {
        let exponent = (failures - FREE_LOGIN_FAILURES + 1).min(10) as u32;
        (1i64 << exponent).min(MAX_LOGIN_DELAY_SECS)
    }
}

/// `POST /login`.
pub async fn login_submit(
    state: &AppState,
    settings: &Settings,
    form: LoginForm,
    browser: &Browser,
) -> Result<LoginOutcome, AppError> {
    let now = state.clock.now();
    let window = Window::containing(now, LOGIN_WINDOW_SECS);
    let address_key = format!("login:{}", browser.origin.rate_limit_key);
    let account_key = secrets::digest(&format!("login:{}", form.email.trim().to_lowercase()));
    let email = form.email.trim().to_string();
    let (request_id, csrf) = (form.request_id.clone(), form.csrf_token.clone());
    let Some((pending, client)) = pending_request(state, settings, request_id, browser, Some(csrf)).await? else {
        return Ok(LoginOutcome::Page(expired_request()));
    };
    // Count the attempt against the address, and reserve it against the account *before* the
    // password is checked (a conditional update), so parallel guesses cannot slip past the delay.
    let (address_attempts, account_wait, user) = {
        let address_key = address_key.clone();
        let account_key = account_key.clone();
        let email = email.clone();
        state
            .db
            .run(move |conn| {
                let attempts = rate_limits::hit(conn, &address_key, window.start)?;
                if attempts > LOGIN_ATTEMPTS_PER_WINDOW {
                    return Ok((attempts, 0, None));
                }
                let seen = users::failures(conn, &account_key)?;
                if let Some((failures, last_failed_at)) = seen {
                    let wait = last_failed_at + login_delay_secs(failures) - now;
                    if wait > 0 {
                        return Ok((attempts, wait, None));
                    }
                }
                if !users::reserve_attempt(conn, &account_key, seen, now)? {
                    // Another attempt on this account got there first.
                    return Ok((attempts, 1, None));
                }
                Ok((attempts, 0, users::find_by_email(conn, &email)?))
            })
            .await?
    };
    let view = |error: &str, status: u16| LoginView {
        request_id: pending.request_id.clone(),
        csrf_token: pending.csrf_token.clone(),
        client_name: client.client_name().to_string(),
        unverified: !client.is_manual(),
        email: email.clone(),
        error: Some(error.to_string()),
        status,
    };
    if address_attempts > LOGIN_ATTEMPTS_PER_WINDOW {
        let wait = window.seconds_left(now);
        return Ok(LoginOutcome::Form(view(&format!("Too many sign-in attempts. Try again in {wait} seconds."), 429)));
    }
    if account_wait > 0 {
        let message = format!("Too many failed attempts. Try again in {account_wait} seconds.");
        return Ok(LoginOutcome::Form(view(&message, 429)));
    }

    // argon2 is slow on purpose: off the async workers. Unknown emails verify a dummy hash.
    let password = form.password;
    let hash =
        user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| crate::password::dummy_hash().to_string());
    let verified = tokio::task::spawn_blocking(move || crate::password::verify_password(&password, &hash))
        .await
        .map_err(|e| AppError::Internal(format!("password check failed: {e}")))?;
    let user = user.filter(|u| verified && u.is_active());

    let audit_base = AuditRecord::new(event::USER_LOGIN_FAILED, Actor::Anonymous, json!({}))
        .client(&client.client_id)
        .from(&browser.origin);
    match user {
        None => {
            let mut record = audit_base;
            record.detail = json!({"email": crate::text::truncate(&email, 320)});
            state
                .db
                .run(move |conn| {
                    write_tx(conn, |conn| {
                        // The attempt was counted against the account before the check.
                        // One failure row per address and window: a password spray cannot flood the audit table.
                        if rate_limits::claim_audit(conn, &address_key, window.start)? {
                            audit::record(conn, now, &record)?;
                        }
                        Ok::<_, DbError>(())
                    })
                })
                .await?;
            Ok(LoginOutcome::Form(view("Incorrect email or password.", 401)))
        }
        Some(user) => {
            let session_token = secrets::random_token(32);
            let session = SessionRow {
                session_hash: secrets::digest(&session_token),
                user_id: user.user_id.clone(),
                csrf_token: secrets::random_token(24),
                created_at: now,
                expires_at: now + settings.login.session_ttl_secs as i64,
            };
            let mut record = audit_base;
            record.event = event::USER_LOGIN_SUCCEEDED;
            record.detail = json!({"user_id": user.user_id});
            let request_id = pending.request_id.clone();
            state
                .db
                .run(move |conn| {
                    write_tx(conn, |conn| {
                        sessions::insert(conn, &session)?;
                        auth_requests::set_user(conn, &request_id, &session.user_id)?;
                        users::clear_failures(conn, &account_key)?;
                        audit::record(conn, now, &record)?;
                        Ok::<_, DbError>(())
                    })
                })
                .await?;
            let location = format!("{}{}?request_id={}", settings.issuer_path(), paths::CONSENT, pending.request_id);
            Ok(LoginOutcome::SignedIn { session_token, location })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_delay_grows_and_is_capped() {
        assert_eq!(login_delay_secs(0), 0);
        assert_eq!(login_delay_secs(2), 0);
        assert_eq!(login_delay_secs(3), 2);
        assert_eq!(login_delay_secs(4), 4);
        assert_eq!(login_delay_secs(5), 8);
        assert_eq!(login_delay_secs(50), 60);
    }
}
