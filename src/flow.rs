//! The browser half of the authorization flow (SPEC §5): `/authorize` → `/login` → `/consent`
//! → redirect with a code. Handlers hand this module the query, form fields and cookies; it
//! answers with what to show or where to go. The protocol rules live in `oauth::authorize`.

use serde_json::json;

use crate::cimd::{self, Lookup, Requester};
use crate::config::Settings;
use crate::db::{write_tx, DbConnection, DbError};
use crate::error::AppError;
use crate::oauth::authorize::{self, RequestRules};
use crate::oauth::error::ErrorCode;
use crate::oauth::query::{self, QueryError};
use crate::oauth::redirect_uri::{self, append_query};
use crate::paths;
use crate::registration::rate_limit::Window;
use crate::registration::rules::ClientMetadata;
use crate::secrets;
use crate::state::AppState;
use crate::store::audit::{self, event, Actor, AuditRecord};
use crate::store::auth_requests::{self, AuthRequestRow};
use crate::store::clients::{self, ClientRow, SOURCE_MANUAL};
use crate::store::codes::{self, CodeRow};
use crate::store::rate_limits;
use crate::store::sessions::{self, SessionRow};
use crate::store::users::{self, UserRow};

/// How long a pending authorization request may take to reach consent.
const REQUEST_TTL_SECS: i64 = 600;
/// Sign-in attempts allowed per address and window, before answering "slow down".
const LOGIN_ATTEMPTS_PER_WINDOW: i32 = 30;
const LOGIN_WINDOW_SECS: u64 = 600;
/// Failures on one account before each further attempt must wait (a growing delay).
const FREE_LOGIN_FAILURES: i32 = 3;
const MAX_LOGIN_DELAY_SECS: i64 = 60;
const MAX_CLIENT_ID_CHARS: usize = 2000;

/// What the browser sent besides the request itself.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    pub session_token: Option<String>,
    pub browser_token: Option<String>,
    pub address: Option<String>,
    pub rate_limit_key: String,
    pub user_agent: Option<String>,
}

/// An error shown as a page, naming the client and redirect host when they are known.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub status: u16,
    pub title: String,
    pub message: String,
    pub client_name: Option<String>,
    pub redirect_host: Option<String>,
}

impl ErrorPage {
    fn new(status: u16, title: &str, message: impl Into<String>) -> Self {
        ErrorPage { status, title: title.into(), message: message.into(), client_name: None, redirect_host: None }
    }

    fn about(mut self, client: &ClientRow, redirect: Option<&str>) -> Self {
        self.client_name = Some(client.client_name.clone());
        self.redirect_host = redirect.map(redirect_uri::display_host);
        self
    }
}

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

fn client_metadata(client: &ClientRow) -> Option<ClientMetadata> {
    serde_json::from_str(&client.metadata).ok()
}

fn registered_redirects(client: &ClientRow) -> Vec<String> {
    serde_json::from_str(&client.redirect_uris).unwrap_or_default()
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

/// The session's user, when the cookie names a live session of an active user.
fn session_user(
    conn: &mut DbConnection,
    token: Option<&str>,
    now: i64,
) -> Result<Option<(SessionRow, UserRow)>, DbError> {
    let Some(token) = token else { return Ok(None) };
    let Some(session) = sessions::find_live(conn, &secrets::digest(token), now)? else { return Ok(None) };
    match users::find(conn, &session.user_id)? {
        Some(user) if user.is_active() => Ok(Some((session, user))),
        _ => Ok(None),
    }
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
    let client = match cimd::lookup_client(state, settings, &client_id, &requester(browser)).await? {
        Lookup::Found(client) => *client,
        Lookup::NotFound => {
            return Ok(page(400, "Unknown application", "This application is not registered with this server."))
        }
        Lookup::Failed(message) => return Ok(page(400, "Client metadata document refused", message)),
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
    let registered = registered_redirects(&client);
    if redirect_uri::find_registered(&registered, &requested_redirect).is_none() {
        return Ok(AuthorizeOutcome::Page(
            ErrorPage::new(400, "Invalid redirect", "The redirect_uri is not registered for this application.")
                .about(&client, Some(&requested_redirect)),
        ));
    }

    // Client and redirect URI verified. Manual clients get errors redirected from here on;
    // self-registered ones never do (RFC 9700 §4.11.2: no open redirector).
    let is_manual = client.source == SOURCE_MANUAL;
    let state_param = query::first_value(query, "state").filter(|s| s.chars().count() <= authorize::MAX_STATE_CHARS);
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
            let (code, description) = authorize::repeated_parameter_error(&name);
            return Ok(refuse(code, description));
        }
        Err(other) => return Ok(refuse(ErrorCode::InvalidRequest, other.to_string())),
    };
    let metadata = client_metadata(&client);
    let supported_scopes = crate::registration::profiles::effective_scopes(settings);
    let rules = RequestRules {
        supported_scopes: &supported_scopes,
        client_scope: metadata.as_ref().and_then(|m| m.scope.as_deref()),
        allowed_resources: &settings.resources.allowed,
    };
    let validated = match authorize::validate_request(&params, &rules) {
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
    };
    let prompt_none = validated.prompt_none;
    let request_id = pending.request_id.clone();
    // Last seen: at most one write a minute, on its own connection — never a reason to fail the request.
    if clients::seen_long_ago(client.last_seen_at, now) {
        let id = client.client_id.clone();
        state
            .db
            .run_detached("update the client's last-seen time", move |conn| clients::touch_last_seen(conn, &id, now));
    }
    let signed_in = state
        .db
        .run(move |conn| {
            let user = session_user(conn, session_token.as_deref(), now)?;
            if prompt_none {
                return Ok(user.is_some());
            }
            let mut pending = pending;
            pending.user_id = user.as_ref().map(|(_, u)| u.user_id.clone());
            auth_requests::insert(conn, &pending)?;
            Ok(user.is_some())
        })
        .await?;
    if prompt_none {
        // Every client is asked for consent, so `prompt=none` can never succeed.
        let code = if signed_in { ErrorCode::ConsentRequired } else { ErrorCode::LoginRequired };
        return Ok(refuse(code, "this server always asks the user; prompt=none cannot be honoured".into()));
    }
    let target = if signed_in { paths::CONSENT } else { paths::LOGIN };
    let location = format!("{}{target}?request_id={request_id}", settings.issuer_path());
    Ok(AuthorizeOutcome::Continue { location, new_browser_token })
}

fn page(status: u16, title: &str, message: impl Into<String>) -> AuthorizeOutcome {
    AuthorizeOutcome::Page(ErrorPage::new(status, title, message))
}

fn expired_request() -> ErrorPage {
    ErrorPage::new(
        400,
        "Sign-in expired",
        "This sign-in request has expired or was already used. Go back to the application and start again.",
    )
}

/// A pending request that this browser started, checked against the form's CSRF token when given.
fn open_pending(
    conn: &mut DbConnection,
    request_id: &str,
    browser: &Browser,
    csrf_token: Option<&str>,
    now: i64,
) -> Result<Option<AuthRequestRow>, DbError> {
    let Some(pending) = auth_requests::find_open(conn, request_id, now)? else { return Ok(None) };
    let same_browser = browser
        .browser_token
        .as_deref()
        .is_some_and(|token| secrets::constant_time_eq(&secrets::digest(token), &pending.browser_hash));
    let csrf_ok = csrf_token.is_none_or(|token| secrets::constant_time_eq(token, &pending.csrf_token));
    Ok((same_browser && csrf_ok).then_some(pending))
}

/// As `open_pending`, with the request's client, which must be stored and active (the consent
/// decision: a CIMD client was stored when the consent page was shown).
fn open_request(
    conn: &mut DbConnection,
    request_id: &str,
    browser: &Browser,
    csrf_token: Option<&str>,
    now: i64,
) -> Result<Option<(AuthRequestRow, ClientRow)>, DbError> {
    let Some(pending) = open_pending(conn, request_id, browser, csrf_token, now)? else { return Ok(None) };
    match clients::find(conn, &pending.client_id)? {
        Some(client) if client.is_active() => Ok(Some((pending, client))),
        _ => Ok(None),
    }
}

fn requester(browser: &Browser) -> Requester {
    Requester { address: browser.address.clone(), user_agent: browser.user_agent.clone() }
}

/// The pending request and its client — stored, or (CIMD) described by its document.
async fn pending_request(
    state: &AppState,
    settings: &Settings,
    request_id: String,
    browser: &Browser,
    csrf_token: Option<String>,
) -> Result<Option<(AuthRequestRow, ClientRow)>, AppError> {
    let now = state.clock.now();
    let for_db = browser.clone();
    let pending = state
        .db
        .run_idempotent(move |conn| open_pending(conn, &request_id, &for_db, csrf_token.as_deref(), now))
        .await?;
    let Some(pending) = pending else { return Ok(None) };
    match cimd::lookup_client(state, settings, &pending.client_id, &requester(browser)).await? {
        Lookup::Found(client) if client.is_active() => Ok(Some((pending, *client))),
        _ => Ok(None),
    }
}

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
            unverified: client.source != SOURCE_MANUAL,
            client_name: client.client_name,
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
    let address_key = format!("login:{}", browser.rate_limit_key);
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
        client_name: client.client_name.clone(),
        unverified: client.source != SOURCE_MANUAL,
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
    let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| crate::users::dummy_hash().to_string());
    let verified = tokio::task::spawn_blocking(move || crate::users::verify_password(&password, &hash))
        .await
        .map_err(|e| AppError::Internal(format!("password check failed: {e}")))?;
    let user = user.filter(|u| verified && u.is_active());

    let audit_base = AuditRecord {
        event: event::USER_LOGIN_FAILED,
        actor: Actor::Anonymous,
        client_id: Some(client.client_id.clone()),
        address: browser.address.clone(),
        user_agent: browser.user_agent.clone(),
        detail: json!({}),
    };
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

/// What the consent page shows.
#[derive(Debug, Clone)]
pub struct ConsentView {
    pub request_id: String,
    pub csrf_token: String,
    pub logout_csrf_token: String,
    pub client_name: String,
    pub unverified: bool,
    pub redirect_host: String,
    pub loopback_only: bool,
    pub private_use: bool,
    pub scopes: Vec<String>,
    pub resource: Option<String>,
    pub user_email: String,
    /// CIMD clients: the host that serves (vouches for) the client's metadata document.
    pub document_host: Option<String>,
}

pub enum ConsentOutcome {
    Form(ConsentView),
    Page(ErrorPage),
    /// Not signed in (or signed in as someone else): sign in first.
    Login(String),
    /// The decision, sent to the client.
    RedirectToClient(String),
}

fn consent_view(pending: &AuthRequestRow, client: &ClientRow, session: &SessionRow, user: &UserRow) -> ConsentView {
    let registered = registered_redirects(client);
    ConsentView {
        request_id: pending.request_id.clone(),
        csrf_token: pending.csrf_token.clone(),
        logout_csrf_token: session.csrf_token.clone(),
        client_name: client.client_name.clone(),
        unverified: client.source != SOURCE_MANUAL,
        redirect_host: redirect_uri::display_host(&pending.redirect_uri),
        loopback_only: !registered.is_empty() && registered.iter().all(|u| redirect_uri::is_loopback(u)),
        private_use: redirect_uri::is_private_use(&pending.redirect_uri),
        scopes: pending.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        resource: pending.resource.clone(),
        user_email: user.email.clone(),
        document_host: cimd::document_host(client),
    }
}

/// `GET /consent`.
pub async fn consent_form(
    state: &AppState,
    settings: &Settings,
    request_id: String,
    browser: &Browser,
) -> Result<ConsentOutcome, AppError> {
    let now = state.clock.now();
    let login = format!("{}{}?request_id={request_id}", settings.issuer_path(), paths::LOGIN);
    let Some((pending, client)) = pending_request(state, settings, request_id, browser, None).await? else {
        return Ok(ConsentOutcome::Page(expired_request()));
    };
    let session_token = browser.session_token.clone();
    let signed_in = state
        .db
        .run(move |conn| {
            let Some((session, user)) = session_user(conn, session_token.as_deref(), now)? else { return Ok(None) };
            match pending.user_id.as_deref() {
                Some(id) if id == user.user_id => {}
                // Signed in (in another tab) since the request began: the request is theirs now.
                None => auth_requests::set_user(conn, &pending.request_id, &user.user_id)?,
                Some(_) => return Ok(None),
            }
            let mut pending = pending;
            pending.user_id = Some(user.user_id.clone());
            Ok(Some((pending, session, user)))
        })
        .await?;
    let Some((pending, session, user)) = signed_in else { return Ok(ConsentOutcome::Login(login)) };
    // A signed-in user reached consent: now a CIMD client is stored (and audited).
    cimd::store_at_consent(state, &client, &requester(browser)).await?;
    Ok(ConsentOutcome::Form(consent_view(&pending, &client, &session, &user)))
}

pub struct ConsentForm {
    pub request_id: String,
    pub csrf_token: String,
    pub decision: String,
}

/// `POST /consent`: allow → a single-use code; deny → `access_denied`. Either way a 302 to the
/// redirect URI as sent, with `state` and `iss`.
pub async fn consent_submit(
    state: &AppState,
    settings: &Settings,
    form: ConsentForm,
    browser: &Browser,
) -> Result<ConsentOutcome, AppError> {
    let allow = match form.decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => return Ok(ConsentOutcome::Page(ErrorPage::new(400, "Invalid request", "No decision was made."))),
    };
    let now = state.clock.now();
    let browser = browser.clone();
    let code = secrets::random_token(32);
    let code_hash = secrets::digest(&code);
    let code_ttl = settings.tokens.authorization_code_ttl_secs as i64;
    let decided = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let Some((pending, client)) =
                    open_request(conn, &form.request_id, &browser, Some(&form.csrf_token), now)?
                else {
                    return Ok(None);
                };
                let Some((_, user)) = session_user(conn, browser.session_token.as_deref(), now)? else {
                    return Ok(None);
                };
                if pending.user_id.as_deref() != Some(user.user_id.as_str()) {
                    return Ok(None);
                }
                // A replayed consent post finds the request already consumed.
                if !auth_requests::consume(conn, &pending.request_id)? {
                    return Ok(None);
                }
                if allow {
                    codes::insert(
                        conn,
                        &CodeRow {
                            code_hash: code_hash.clone(),
                            client_id: client.client_id.clone(),
                            user_id: user.user_id.clone(),
                            redirect_uri: pending.redirect_uri.clone(),
                            code_challenge: pending.code_challenge.clone(),
                            scope: pending.scope.clone(),
                            resource: pending.resource.clone(),
                            created_at: now,
                            expires_at: now + code_ttl,
                            used_at: None,
                            family_id: None,
                        },
                    )?;
                }
                Ok::<_, DbError>(Some(pending))
            })
        })
        .await?;
    let Some(pending) = decided else { return Ok(ConsentOutcome::Page(expired_request())) };
    let mut params: Vec<(&str, &str)> = Vec::new();
    if allow {
        params.push(("code", &code));
    } else {
        params.push(("error", ErrorCode::AccessDenied.as_str()));
        params.push(("error_description", "the user denied the request"));
    }
    if let Some(state_value) = pending.state.as_deref() {
        params.push(("state", state_value));
    }
    params.push(("iss", &settings.issuer));
    Ok(ConsentOutcome::RedirectToClient(append_query(&pending.redirect_uri, &params)))
}

/// `POST /logout`: ends the session when the form's CSRF token is the session's. Returns
/// whether a session was ended.
pub async fn logout(state: &AppState, csrf_token: String, browser: &Browser) -> Result<bool, AppError> {
    let now = state.clock.now();
    let Some(token) = browser.session_token.clone() else { return Ok(false) };
    state
        .db
        .run(move |conn| {
            let hash = secrets::digest(&token);
            let Some(session) = sessions::find_live(conn, &hash, now)? else { return Ok(false) };
            if !secrets::constant_time_eq(&csrf_token, &session.csrf_token) {
                return Ok(false);
            }
            Ok(sessions::delete(conn, &hash)?)
        })
        .await
        .map_err(AppError::from)
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
