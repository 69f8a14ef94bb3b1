//! "Use your app's own sign-in" (SPEC §9.2): Gatehouse hands the browser to the app with a
//! login challenge; the app signs the person in its own way and states, server to server with
//! its API key, who it is (accept) or that it will not (reject); the browser comes back with a
//! verifier that only the accept response carried, and only the browser that started the
//! request may redeem it. Then a session, consent, and tokens whose `sub` is the app's own id.

use serde::Serialize;
use serde_json::{json, Value};

use super::sign_in::SignIn;
use crate::clock::rfc3339;
use crate::config::{AppLoginSettings, Settings};
use crate::db::{write_tx, DbConnection, DbError};
use crate::error::AppError;
use crate::oauth::error::ErrorCode;
use crate::oauth::redirect_uri::append_query;
use crate::origin::Origin;
use crate::paths;
use crate::secrets;
use crate::state::AppState;
use crate::store::app_logins::{self, AppAnswer, AppLoginRow};
use crate::store::audit::{self, event, Actor, AuditRecord};
use crate::store::auth_requests::{self, AuthRequestRow};
use crate::store::sessions;
use crate::store::users::{self, UserRow};
use crate::text::echo;

const MAX_SUBJECT_CHARS: usize = 255;
const MAX_NAME_CHARS: usize = 255;
const MAX_DESCRIPTION_CHARS: usize = 500;
/// An app's clock may run a little ahead of ours.
const AUTH_TIME_SKEW_SECS: i64 = 60;

/// Where to send a browser to sign in at the app: a fresh challenge for this pending request,
/// bound to it and to the browser that started it, expiring with it.
pub fn start(
    conn: &mut DbConnection,
    app: &AppLoginSettings,
    pending: &AuthRequestRow,
    now: i64,
) -> Result<String, DbError> {
    let challenge = secrets::random_token(32);
    app_logins::insert(
        conn,
        &AppLoginRow {
            challenge_hash: secrets::digest(&challenge),
            request_id: pending.request_id.clone(),
            browser_hash: pending.browser_hash.clone(),
            status: app_logins::PENDING.into(),
            verifier_hash: None,
            user_id: None,
            auth_time: None,
            error_description: None,
            created_at: now,
            expires_at: pending.expires_at,
        },
    )?;
    Ok(append_query(&app.url, &[("login_challenge", &challenge)]))
}

/// The login API's bearer check (constant time). A request with the right key always passes;
/// wrong keys are counted per address, and past the limit they get 429 instead of 401.
pub async fn authenticate(
    state: &AppState,
    settings: &Settings,
    presented: &str,
    origin: &Origin,
) -> Result<(), AppError> {
    let expected = &settings.login.app.resolved_api_key;
    if !settings.login.app.enabled() {
        return Err(AppError::protocol(ErrorCode::NotFound, "the app's sign-in is not enabled"));
    }
    if !presented.is_empty() && secrets::constant_time_eq(presented, expected) {
        return Ok(());
    }
    // The right key is never throttled, so a stranger cannot lock the app out.
    let throttled = crate::credentials::count_wrong(state, "login-api", origin).await?;
    tracing::warn!("login API authentication failed");
    if let Some(retry_after) = throttled {
        return Err(AppError::SlowDown {
            retry_after,
            description: "too many wrong API keys from this address".into(),
        });
    }
    Err(AppError::InvalidToken("a valid API key is required (Authorization: Bearer …)".into()))
}

/// `GET /login/app/requests/{challenge}`: what the request is about, so the app can show
/// context and honour a requested fresh sign-in.
#[derive(Debug, Clone, Serialize)]
pub struct RequestInfo {
    /// `authorize` (a client's request) or `admin` (the dashboard's sign-in: no client fields).
    pub purpose: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_source: Option<String>,
    pub scopes: Vec<String>,
    pub resource: Option<String>,
    /// `"login"` when the person must sign in afresh (`prompt=login`, "Not you?").
    pub prompt: Option<&'static str>,
    pub max_age: Option<i64>,
    pub expires_at: String,
}

fn not_found() -> AppError {
    AppError::protocol(ErrorCode::NotFound, "no such login challenge: unknown, already answered, or expired")
}

pub async fn request_info(
    state: &AppState,
    settings: &Settings,
    challenge: &str,
    origin: &Origin,
) -> Result<RequestInfo, AppError> {
    let now = state.clock.now();
    let hash = secrets::digest(challenge);
    let found = state
        .db
        .run_idempotent(move |conn| {
            let Some(login) = app_logins::find_pending(conn, &hash, now)? else { return Ok(None) };
            Ok(auth_requests::find_open(conn, &login.request_id, now)?)
        })
        .await?;
    let Some(pending) = found else { return Err(not_found()) };
    if pending.is_admin() {
        return Ok(RequestInfo {
            purpose: auth_requests::PURPOSE_ADMIN,
            client_id: None,
            client_name: None,
            client_source: None,
            scopes: Vec::new(),
            resource: None,
            prompt: pending.fresh_sign_in.then_some("login"),
            max_age: None,
            expires_at: rfc3339(pending.expires_at),
        });
    }
    let client = match crate::cimd::lookup_client(state, settings, &pending.client_id, origin).await? {
        crate::cimd::Lookup::Found(client) => client,
        _ => return Err(not_found()),
    };
    Ok(RequestInfo {
        purpose: auth_requests::PURPOSE_AUTHORIZE,
        client_id: Some(client.client_id.clone()),
        client_name: Some(client.client_name().to_string()),
        client_source: Some(client.source.to_string()),
        scopes: pending.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        resource: pending.resource.clone(),
        prompt: pending.fresh_sign_in.then_some("login"),
        max_age: pending.max_age,
        expires_at: rfc3339(pending.expires_at),
    })
}

/// What the app states on accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub auth_time: Option<i64>,
}

/// The app's stable user id (SPEC §9.2): `[A-Za-z0-9._:@|+-]`, 1–255 characters, not starting
/// with `usr_` (Gatehouse's own ids), so it can be the user's id and the tokens' `sub` as it is.
pub fn check_subject(subject: &str) -> Result<(), String> {
    if subject.is_empty() || subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(format!("subject must be 1 to {MAX_SUBJECT_CHARS} characters"));
    }
    if let Some(c) = subject.chars().find(|c| !(c.is_ascii_alphanumeric() || "._:@|+-".contains(*c))) {
        return Err(format!("subject must use only letters, digits and . _ : @ | + - (found {:?})", c));
    }
    if subject.starts_with("usr_") {
        return Err("subject must not start with usr_ (Gatehouse's own user ids)".into());
    }
    Ok(())
}

/// The accept body, checked field by field: a clear reason for the first field that is wrong.
pub fn parse_statement(body: &Value, now: i64) -> Result<Statement, String> {
    let text = |name: &str| -> Result<Option<String>, String> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.clone())),
            Some(_) => Err(format!("{name} must be a string")),
        }
    };
    let subject = text("subject")?.ok_or("subject is required")?;
    check_subject(&subject)?;
    let email = match text("email")?.filter(|e| !e.trim().is_empty()) {
        Some(email) => Some(crate::operator::check_email(&email).map_err(|e| format!("email: {e}"))?),
        None => None,
    };
    let email_verified = match body.get("email_verified") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(verified)) => *verified,
        Some(_) => return Err("email_verified must be true or false".into()),
    };
    let name = text("name")?.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > MAX_NAME_CHARS) {
        return Err(format!("name must be at most {MAX_NAME_CHARS} characters"));
    }
    let auth_time = match body.get("auth_time") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(t) if t >= 0 && t <= now + AUTH_TIME_SKEW_SECS => Some(t),
            _ => return Err("auth_time must be a time in seconds since 1970, not in the future".into()),
        },
        Some(_) => return Err("auth_time must be a number (seconds since 1970)".into()),
    };
    Ok(Statement { subject, email, email_verified, name, auth_time })
}

/// Why an accept or reject was refused (SPEC §9.2), each with its status and JSON error.
#[derive(Debug)]
enum Refusal {
    NotFound,
    UserDisabled,
    EmailInUse,
}

impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotFound => not_found(),
            Refusal::UserDisabled => {
                AppError::oauth(403, ErrorCode::UserDisabled, "this user is disabled in Gatehouse")
            }
            Refusal::EmailInUse => {
                AppError::oauth(409, ErrorCode::EmailInUse, "this email address belongs to another user in Gatehouse")
            }
        }
    }
}

#[derive(Debug)]
enum AnswerError {
    Refused(Refusal),
    Db(DbError),
}

impl From<diesel::result::Error> for AnswerError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            // Another user took the email between the check and the write.
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                AnswerError::Refused(Refusal::EmailInUse)
            }
            e => AnswerError::Db(DbError::Query(e)),
        }
    }
}

impl From<DbError> for AnswerError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Query(e) => e.into(),
            e => AnswerError::Db(e),
        }
    }
}

impl From<AnswerError> for AppError {
    fn from(e: AnswerError) -> Self {
        match e {
            AnswerError::Refused(refusal) => refusal.into(),
            AnswerError::Db(e) => AppError::Db(e),
        }
    }
}

/// The URL the app sends the browser to after answering.
#[derive(Debug, Clone, Serialize)]
pub struct Answered {
    pub redirect_to: String,
}

fn return_url(settings: &Settings, verifier: &str) -> String {
    append_query(&paths::endpoint(&settings.issuer, paths::LOGIN_APP_RETURN), &[("login_verifier", verifier)])
}

/// `POST …/accept`: the app states who signed in. The user (id = the subject) is created or
/// refreshed under the email rule; the challenge is answered once. Nothing is written when
/// anything is refused.
pub async fn accept(
    state: &AppState,
    settings: &Settings,
    challenge: &str,
    statement: Statement,
    origin: &Origin,
) -> Result<Answered, AppError> {
    let now = state.clock.now();
    let challenge_hash = secrets::digest(challenge);
    let verifier = secrets::random_token(32);
    let verifier_hash = secrets::digest(&verifier);
    let origin = origin.clone();
    state
        .db
        .run_with(move |conn| {
            write_tx(conn, |conn| {
                let Some(login) = app_logins::find_pending(conn, &challenge_hash, now)? else {
                    return Err(AnswerError::Refused(Refusal::NotFound));
                };
                let user_id = upsert_user(conn, &statement, &login, &origin, now)?;
                let answer = AppAnswer::Accepted { user_id, auth_time: statement.auth_time.unwrap_or(now) };
                if !app_logins::answer(conn, &challenge_hash, &answer, &verifier_hash, now)? {
                    return Err(AnswerError::Refused(Refusal::NotFound));
                }
                Ok(())
            })
        })
        .await?;
    Ok(Answered { redirect_to: return_url(settings, &verifier) })
}

/// The app's user, created on the first accept (`source = "app"`) and refreshed on each:
/// name, and email with `email_verified` unless another user holds that email.
fn upsert_user(
    conn: &mut DbConnection,
    statement: &Statement,
    login: &AppLoginRow,
    origin: &Origin,
    now: i64,
) -> Result<String, AnswerError> {
    let existing = users::find(conn, &statement.subject)?;
    if let Some(user) = &existing {
        if !user.is_active() {
            return Err(AnswerError::Refused(Refusal::UserDisabled));
        }
        // Ids of the other sources start with `usr_`, which a subject cannot.
        if user.source != users::SOURCE_APP {
            return Err(AnswerError::Refused(Refusal::NotFound));
        }
    }
    if let Some(email) = &statement.email {
        if users::find_by_email(conn, email)?.is_some_and(|other| other.user_id != statement.subject) {
            return Err(AnswerError::Refused(Refusal::EmailInUse));
        }
    }
    let client_id =
        auth_requests::find_open(conn, &login.request_id, now)?.and_then(|p| p.client_id().map(str::to_string));
    let record = |event: &'static str, detail: Value| {
        let record = AuditRecord::new(event, Actor::App, detail).from(origin);
        match &client_id {
            Some(id) => record.client(id),
            None => record,
        }
    };
    match existing {
        Some(_) => {
            users::refresh_profile(
                conn,
                &statement.subject,
                statement.name.as_deref(),
                statement.email.as_deref(),
                statement.email_verified,
                now,
            )?;
        }
        None => {
            let row = UserRow {
                user_id: statement.subject.clone(),
                email_lower: statement.email.as_ref().map(|e| e.to_lowercase()),
                email: statement.email.clone(),
                password_hash: None,
                status: users::STATUS_ACTIVE.into(),
                created_at: now,
                updated_at: now,
                source: users::SOURCE_APP.into(),
                name: statement.name.clone(),
                email_verified: statement.email.is_some() && statement.email_verified,
                role: users::ROLE_USER.into(),
                last_sign_in_at: None,
            };
            users::insert(conn, &row)?;
            let detail = json!({"user_id": row.user_id, "email": row.email, "source": users::SOURCE_APP});
            audit::record(conn, now, &record(event::USER_CREATED, detail))?;
        }
    }
    Ok(statement.subject.clone())
}

/// `POST …/reject`: the app will not sign this person in; its words are shown on a Gatehouse
/// page (never a redirect to the client).
pub async fn reject(
    state: &AppState,
    settings: &Settings,
    challenge: &str,
    description: Option<String>,
) -> Result<Answered, AppError> {
    let now = state.clock.now();
    let challenge_hash = secrets::digest(challenge);
    let verifier = secrets::random_token(32);
    let verifier_hash = secrets::digest(&verifier);
    let description = description
        .map(|d| crate::text::truncate(d.trim(), MAX_DESCRIPTION_CHARS).to_string())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "The app did not sign you in.".into());
    let answered = state
        .db
        .run(move |conn| {
            let answer = AppAnswer::Rejected { error_description: description };
            Ok(app_logins::answer(conn, &challenge_hash, &answer, &verifier_hash, now)?)
        })
        .await?;
    if !answered {
        return Err(not_found());
    }
    Ok(Answered { redirect_to: return_url(settings, &verifier) })
}

/// What `GET /login/app/return` leads to.
#[derive(Debug)]
pub enum Returned {
    /// Signed in: set the session cookie and go on to consent.
    SignedIn { session_token: String, location: String },
    /// A page saying what happened: the app's refusal, another browser, an old link.
    Refused { status: u16, title: &'static str, message: String },
}

fn refused(status: u16, title: &'static str, message: impl Into<String>) -> Returned {
    Returned::Refused { status, title, message: message.into() }
}

/// The browser brings the verifier back. Only the browser that started the request may redeem
/// it: from any other, the statement is void and nobody is signed in. Either way it is used once.
pub async fn finish(
    state: &AppState,
    settings: &Settings,
    verifier: &str,
    browser_token: Option<&str>,
    origin: &Origin,
) -> Result<Returned, AppError> {
    let now = state.clock.now();
    let verifier_hash = secrets::digest(verifier);
    let browser_hash = browser_token.map(secrets::digest);
    let settings = settings.clone();
    let origin = origin.clone();
    let expired = || {
        refused(
            400,
            "Sign-in expired",
            "This sign-in link has expired or was already used. Go back to the application and start again.",
        )
    };
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let Some(login) = app_logins::find_answered(conn, &verifier_hash, now)? else { return Ok(expired()) };
                let Some(pending) = auth_requests::find_open(conn, &login.request_id, now)? else {
                    return Ok(expired());
                };
                let audit_base = AuditRecord::new(event::USER_LOGIN_DENIED, Actor::Anonymous, json!({})).from(&origin);
                let audit_base = match pending.client_id() {
                    Some(client_id) => audit_base.client(client_id),
                    None => audit_base,
                };
                let same_browser =
                    browser_hash.as_deref().is_some_and(|hash| secrets::constant_time_eq(hash, &login.browser_hash));
                if !same_browser {
                    app_logins::close(conn, &login.challenge_hash, app_logins::VOID)?;
                    let mut record = audit_base;
                    record.detail =
                        json!({"method": sessions::METHOD_APP, "rule": "other_browser", "user_id": login.user_id});
                    audit::record(conn, now, &record)?;
                    return Ok(refused(
                        400,
                        "Sign-in not completed",
                        "This sign-in was started in another browser, so it cannot be completed here. \
                         Go back to the application and start again in this browser.",
                    ));
                }
                if !app_logins::close(conn, &login.challenge_hash, app_logins::USED)? {
                    return Ok(expired());
                }
                let (Some(user_id), Some(auth_time)) = (login.user_id.clone(), login.auth_time) else {
                    let description = login.error_description.clone().unwrap_or_default();
                    let mut record = audit_base;
                    record.detail =
                        json!({"method": sessions::METHOD_APP, "rule": "rejected_by_app", "description": description});
                    audit::record(conn, now, &record)?;
                    return Ok(refused(
                        403,
                        "Not signed in",
                        format!("The app did not sign you in: {}", echo(&description)),
                    ));
                };
                match users::find(conn, &user_id)? {
                    Some(user) if user.is_active() => {}
                    _ => return Ok(refused(403, "Account disabled", "This account is disabled.")),
                }
                let sign_in = SignIn::new(&settings, &pending, &user_id, sessions::METHOD_APP, &origin, now)
                    .authenticated_at(auth_time)
                    // App sessions end with the request: every authorization goes back through the app.
                    .expiring_at(pending.expires_at);
                sign_in.record(conn, now)?;
                let location = sign_in.next_location(&settings);
                Ok::<_, DbError>(Returned::SignedIn { session_token: sign_in.session_token, location })
            })
        })
        .await
        .map_err(AppError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_the_apps_ids_within_bounds() {
        for good in ["42", "user-7", "auth0|abc123", "alice@example.com", "tenant:7.user+x_y"] {
            assert_eq!(check_subject(good), Ok(()), "{good}");
        }
        let long = "a".repeat(256);
        for bad in ["", "has space", "slash/", "usr_abc", "ümlaut", long.as_str(), "tab\there"] {
            assert!(check_subject(bad).is_err(), "{bad:?}");
        }
        assert!(check_subject(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn a_statement_is_checked_field_by_field() {
        let now = 1_700_000_000;
        let full = json!({"subject": "42", "email": " Ann@Example.com ", "email_verified": true, "name": "Ann", "auth_time": now - 5});
        assert_eq!(
            parse_statement(&full, now),
            Ok(Statement {
                subject: "42".into(),
                email: Some("Ann@Example.com".into()),
                email_verified: true,
                name: Some("Ann".into()),
                auth_time: Some(now - 5),
            })
        );
        let minimal = parse_statement(&json!({"subject": "42"}), now).unwrap();
        assert_eq!((minimal.email, minimal.email_verified, minimal.auth_time), (None, false, None));
        for (body, why) in [
            (json!({}), "subject is required"),
            (json!({"subject": 42}), "subject must be a string"),
            (json!({"subject": "usr_x"}), "usr_"),
            (json!({"subject": "42", "email": "nope"}), "email"),
            (json!({"subject": "42", "email_verified": "yes"}), "email_verified"),
            (json!({"subject": "42", "auth_time": now + 3600}), "future"),
            (json!({"subject": "42", "auth_time": "now"}), "auth_time"),
            (json!({"subject": "42", "name": "n".repeat(256)}), "name"),
        ] {
            let error = parse_statement(&body, now).unwrap_err();
            assert!(error.contains(why), "{body}: {error}");
        }
    }
}
