//! `GET`/`POST /login` (SPEC §5, §11): the sign-in form, throttled as `throttle` says, the
//! password checked on the bounded checkers of `password::PasswordChecks`.

use serde_json::json;

use super::pending::pending_request;
use super::throttle::{self, FREE_ACCOUNT_FAILURES, FREE_NETWORK_FAILURES};
use super::{expired_request, Browser, ErrorPage};
use crate::clock::Window;
use crate::config::Settings;
use crate::db::{write_tx, DbError};
use crate::error::AppError;
use crate::identity::provider_sign_in::{self, ProviderOutcome};
use crate::identity::sign_in::SignIn;
use crate::identity::{self, Source};
use crate::password;
use crate::secrets;
use crate::state::AppState;
use crate::store::audit::{self, event, Actor, AuditRecord};
use crate::store::devices::{self, DeviceRow};
use crate::store::rate_limits;
use crate::store::sessions;
use crate::store::users::{self, UserRow};

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
    /// The "Continue with NAME" buttons: (provider id, name), in order.
    pub providers: Vec<(String, String)>,
    /// The email + password form is shown.
    pub password_enabled: bool,
    /// "Continue with NAME" for the app's own sign-in (SPEC §9.2), when it is on.
    pub app_name: Option<String>,
}

/// The login page's sign-in sources, as the view shows them.
fn shown_sources(settings: &Settings) -> (Vec<(String, String)>, bool) {
    let mut providers = Vec::new();
    let mut password_enabled = false;
    for source in identity::sources(&settings.login) {
        match source {
            Source::Provider(p) => providers.push((p.id.clone(), p.name.clone())),
            Source::Password => password_enabled = true,
            // Its button is `app_name`.
            Source::App => {}
        }
    }
    (providers, password_enabled)
}

pub enum LoginOutcome {
    Form(LoginView),
    Page(ErrorPage),
    /// `auto_redirect` with a single source: straight there.
    GoUpstream(String),
    /// Signed in: set the session cookie (and a new device cookie, when given) and go on to
    /// consent.
    SignedIn {
        session_token: String,
        device_token: Option<String>,
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
    let Some((pending, requester)) = pending_request(state, settings, request_id, browser, None).await? else {
        return Ok(LoginOutcome::Page(expired_request()));
    };
    if let Some(source) = identity::auto_redirect_target(&settings.login) {
        return Ok(match provider_sign_in::go_to(state, settings, source, &pending).await? {
            ProviderOutcome::GoToSource(url) => LoginOutcome::GoUpstream(url),
            ProviderOutcome::Page(page) => LoginOutcome::Page(page),
            _ => LoginOutcome::Page(expired_request()),
        });
    }
    let (providers, password_enabled) = shown_sources(settings);
    Ok(LoginOutcome::Form(LoginView {
        request_id: pending.request_id,
        csrf_token: pending.csrf_token,
        unverified: requester.unverified(),
        client_name: requester.name(),
        email: String::new(),
        error: None,
        status: 200,
        providers,
        password_enabled,
        app_name: app_button(settings),
    }))
}

/// `POST /login` with `login.password_enabled = false`.
fn password_off() -> ErrorPage {
    ErrorPage::new(
        403,
        "Password sign-in is off",
        "Signing in with a password is not offered here. Go back and choose another way to sign in.",
    )
}

/// The app's button label, when the app's sign-in is on.
fn app_button(settings: &Settings) -> Option<String> {
    settings.login.app.enabled().then(|| settings.login.app.display_name())
}

pub struct LoginForm {
    pub request_id: String,
    pub csrf_token: String,
    pub email: String,
    pub password: String,
}

/// No password check could start within a second (SPEC §11): a 503 page with `Retry-After`.
fn busy() -> ErrorPage {
    ErrorPage::new(
        503,
        "Try again in a moment",
        "Too many sign-ins are being checked right now. Try again in a moment.",
    )
}

/// What the throttle found before the password is checked; nothing is counted yet.
struct Seen {
    user: Option<UserRow>,
    /// The browser holds a live device cookie of this user.
    trusted: bool,
    address_failures: i32,
    wait_secs: i64,
}

/// `POST /login`. Throttling follows SPEC §11 (see `throttle`): only failures count, a device
/// cookie of the account exempts its browser from everyone else's, and parallel sign-ins with
/// the right password all succeed (nothing is reserved before the check).
pub async fn login_submit(
    state: &AppState,
    settings: &Settings,
    form: LoginForm,
    browser: &Browser,
) -> Result<LoginOutcome, AppError> {
    if !settings.login.password_enabled {
        return Ok(LoginOutcome::Page(password_off()));
    }
    let now = state.clock.now();
    let window = Window::containing(now, throttle::ADDRESS_WINDOW_SECS);
    let address_key = throttle::address_key(&browser.origin.rate_limit_key);
    let account_key = throttle::account_key(&form.email);
    let network_key = throttle::account_network_key(&form.email, &browser.origin.network_key);
    let email = form.email.trim().to_string();
    let (request_id, csrf) = (form.request_id.clone(), form.csrf_token.clone());
    let Some((pending, requester)) = pending_request(state, settings, request_id, browser, Some(csrf)).await? else {
        return Ok(LoginOutcome::Page(expired_request()));
    };
    let device_hash = browser.device_token.as_deref().map(secrets::digest);
    let seen = {
        let (email, device_hash) = (email.clone(), device_hash.clone());
        let (address_key, account_key, network_key) = (address_key.clone(), account_key.clone(), network_key.clone());
        state
            .db
            .run(move |conn| {
                let user = users::find_by_email(conn, &email)?;
                let device = match &device_hash {
                    Some(hash) => devices::find_live(conn, hash, now)?,
                    None => None,
                };
                let trusted = matches!((&user, &device), (Some(user), Some(device)) if device.user_id == user.user_id);
                if trusted {
                    return Ok(Seen { user, trusted, address_failures: 0, wait_secs: 0 });
                }
                let address_failures = rate_limits::attempts(conn, &address_key, window.start)?;
                let network = throttle::wait_secs(users::failures(conn, &network_key)?, FREE_NETWORK_FAILURES, now);
                let account = throttle::wait_secs(users::failures(conn, &account_key)?, FREE_ACCOUNT_FAILURES, now);
                Ok(Seen { user, trusted, address_failures, wait_secs: network.max(account) })
            })
            .await?
    };
    let (providers, password_enabled) = shown_sources(settings);
    let view = |error: &str, status: u16| LoginView {
        providers: providers.clone(),
        password_enabled,
        request_id: pending.request_id.clone(),
        csrf_token: pending.csrf_token.clone(),
        client_name: requester.name(),
        unverified: requester.unverified(),
        email: email.clone(),
        error: Some(error.to_string()),
        status,
        app_name: app_button(settings),
    };
    if seen.address_failures >= throttle::ADDRESS_FAILURES_PER_WINDOW {
        let wait = window.seconds_left(now);
        return Ok(LoginOutcome::Form(view(&format!("Too many sign-in attempts. Try again in {wait} seconds."), 429)));
    }
    if seen.wait_secs > 0 {
        let message = format!("Too many failed attempts. Try again in {} seconds.", seen.wait_secs);
        return Ok(LoginOutcome::Form(view(&message, 429)));
    }

    // argon2 is slow on purpose: on the bounded checkers, never the async workers or the
    // database's threads. Unknown emails verify a dummy hash, so both take as long.
    // A user without a password (one from a provider or the app) is checked against the dummy
    // hash too, and never signs in here: "incorrect email or password", like an unknown email.
    let hash =
        seen.user.as_ref().and_then(|u| u.password_hash.clone()).unwrap_or_else(|| password::dummy_hash().to_string());
    let network = &browser.origin.network_key;
    let Ok(verified) = state.passwords.verify(form.password, hash, network, seen.trusted).await else {
        return Ok(LoginOutcome::Page(busy()));
    };
    let trusted = seen.trusted;
    let user = seen.user.filter(|u| verified && u.password_hash.is_some() && u.is_active());

    let audit_base = AuditRecord::new(event::USER_LOGIN_FAILED, Actor::Anonymous, json!({})).from(&browser.origin);
    let audit_base = match requester.client_id() {
        Some(client_id) => audit_base.client(client_id),
        None => audit_base,
    };
    match user {
        None => {
            let mut record = audit_base;
            record.detail = json!({"email": crate::text::truncate(&email, 320)});
            let forget_before = now - throttle::FAILURE_MEMORY_SECS;
            state
                .db
                .run(move |conn| {
                    match (&device_hash, trusted) {
                        // The owner's own browser: its failures count against its device cookie only.
                        (Some(device_hash), true) => devices::record_failure(conn, device_hash)?,
                        _ => {
                            users::record_failure(conn, &network_key, now, forget_before)?;
                            users::record_failure(conn, &account_key, now, forget_before)?;
                            rate_limits::hit(conn, &address_key, window.start)?;
                        }
                    }
                    // One failure row per address and window: a password spray cannot flood the audit table.
                    if rate_limits::claim_audit(conn, &address_key, window.start)? {
                        audit::record(conn, now, &record)?;
                    }
                    Ok(())
                })
                .await?;
            Ok(LoginOutcome::Form(view("Incorrect email or password.", 401)))
        }
        Some(user) => {
            let sign_in =
                SignIn::new(settings, &pending, &user.user_id, sessions::METHOD_PASSWORD, &browser.origin, now);
            let device_token = (!trusted).then(|| secrets::random_token(32));
            let new_device = device_token.as_ref().map(|token| DeviceRow {
                token_hash: secrets::digest(token),
                user_id: user.user_id.clone(),
                created_at: now,
                expires_at: now + throttle::DEVICE_COOKIE_TTL_SECS,
                failures: 0,
            });
            let sign_in = state
                .db
                .run(move |conn| {
                    write_tx(conn, |conn| {
                        sign_in.record(conn, now)?;
                        users::clear_failures(conn, &network_key)?;
                        match (&new_device, &device_hash) {
                            (Some(device), _) => devices::insert(conn, device)?,
                            (None, Some(device_hash)) => devices::clear_failures(conn, device_hash)?,
                            (None, None) => {}
                        }
                        Ok::<_, DbError>(sign_in)
                    })
                })
                .await?;
            let location = sign_in.next_location(settings);
            let session_token = sign_in.session_token;
            Ok(LoginOutcome::SignedIn { session_token, device_token, location })
        }
    }
}
