//! `GET`/`POST /consent` (SPEC §5): what the client asks for, and the person's decision — a
//! single-use code or `access_denied`, sent to the redirect URI as registered.

use super::pending::{open_request, pending_request};
use super::rules::session_answers_request;
use super::session::session_user;
use super::{expired_request, Browser, ErrorPage, Requester};
use crate::cimd;
use crate::config::Settings;
use crate::db::{write_tx, DbError};
use crate::error::AppError;
use crate::oauth::error::ErrorCode;
use crate::oauth::redirect_uri::{self, append_query, Destination};
use crate::paths;
use crate::secrets;
use crate::state::AppState;
use crate::store::auth_requests::{self, AuthRequestRow};
use crate::store::clients::Client;
use crate::store::codes::{self, CodeRow};
use crate::store::sessions::SessionRow;
use crate::store::users::UserRow;

/// What the consent page shows.
#[derive(Debug, Clone)]
pub struct ConsentView {
    pub request_id: String,
    pub csrf_token: String,
    pub logout_csrf_token: String,
    pub client_name: String,
    pub unverified: bool,
    /// Where the answer goes: a web host, or an app on this device (a private-use scheme).
    pub destination: Destination,
    pub loopback_only: bool,
    pub scopes: Vec<String>,
    /// What OpenID Connect will share, in words ("your email address").
    pub shared_claims: Vec<&'static str>,
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

fn consent_view(pending: &AuthRequestRow, client: &Client, session: &SessionRow, user: &UserRow) -> ConsentView {
    let registered = client.redirect_uris();
    ConsentView {
        request_id: pending.request_id.clone(),
        csrf_token: pending.csrf_token.clone(),
        logout_csrf_token: session.csrf_token.clone(),
        client_name: client.client_name().to_string(),
        unverified: !client.is_manual(),
        destination: redirect_uri::destination(&pending.redirect_uri),
        loopback_only: !registered.is_empty() && registered.iter().all(|u| redirect_uri::is_loopback(u)),
        scopes: pending.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        shared_claims: crate::oauth::oidc::shared_claims(&pending.scope),
        resource: pending.resource.clone(),
        user_email: user.display_name().to_string(),
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
    // The dashboard's sign-in (purpose `admin`) has no consent.
    let Some((pending, Requester::Client(client))) =
        pending_request(state, settings, request_id, browser, None).await?
    else {
        return Ok(ConsentOutcome::Page(expired_request()));
    };
    let session_token = browser.session_token.clone();
    let signed_in = state
        .db
        .run(move |conn| {
            let Some((session, user)) = session_user(conn, session_token.as_deref(), now)? else { return Ok(None) };
            let signed_in_for_request = pending.user_id.is_some();
            if !session_answers_request(
                pending.fresh_sign_in,
                pending.created_at,
                signed_in_for_request,
                session.auth_time,
            ) {
                return Ok(None);
            }
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
    cimd::store_at_consent(state, &client, &browser.origin).await?;
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
                let Some((session, user)) = session_user(conn, browser.session_token.as_deref(), now)? else {
                    return Ok(None);
                };
                if pending.user_id.as_deref() != Some(user.user_id.as_str())
                    || !session_answers_request(pending.fresh_sign_in, pending.created_at, true, session.auth_time)
                {
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
                            nonce: pending.nonce.clone(),
                            auth_time: Some(session.auth_time),
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
