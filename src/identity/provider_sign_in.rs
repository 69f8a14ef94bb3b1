//! The round trip to an upstream provider (SPEC §9.1): going there (PKCE S256, a single-use
//! `state` bound to the pending request, the browser and the provider, `nonce` for oidc), the
//! callback with its mix-up defences, the exchange and the account — the `id_token` (oidc) or
//! GitHub's API (github) —, then the access and linking rules and the shared finish of
//! `sign_in`. Also "Not you? Sign out", which goes back to the source. Every refusal is a page
//! (never a redirect to the client) and a `user.login.denied` row.

use std::time::Duration;

use serde_json::json;

use super::access::{Account, Membership};
use super::oidc::{self, Authorization, IdTokenError};
use super::sign_in::SignIn;
use super::upstream::{Discovery, TokenAnswer, TokenResponse};
use super::{callback_url, github, linking, provider, Source};
use crate::authorize::pending::{open_pending, pending_request};
use crate::authorize::{throttle, Browser, ErrorPage};
use crate::clock::Window;
use crate::config::{ProviderKind, ProviderSettings, Settings};
use crate::db::{write_tx, DbError};
use crate::error::AppError;
use crate::oauth::pkce::s256_challenge;
use crate::oauth::query;
use crate::paths;
use crate::secrets;
use crate::state::AppState;
use crate::store::audit::{self, event, Actor, AuditRecord};
use crate::store::auth_requests::{self, AuthRequestRow};
use crate::store::rate_limits;
use crate::store::sessions;
use crate::store::upstream_logins::{self, UpstreamLoginRow};

pub enum ProviderOutcome {
    /// 303 to the source: the provider's authorization endpoint, the app, the login page.
    GoToSource(String),
    Page(ErrorPage),
    /// Signed in: set the session cookie and go on to consent.
    SignedIn {
        session_token: String,
        location: String,
    },
    /// "Not you?": the session is over (remove its cookie); go back to the source.
    SignedOut(String),
}

/// The fields of a "Continue with NAME" button.
pub struct ProviderForm {
    pub provider: String,
    pub request_id: String,
    pub csrf_token: String,
}

fn timeout(settings: &Settings) -> Duration {
    Duration::from_millis(settings.login.upstream_timeout_ms)
}

fn unreachable_page(provider: &ProviderSettings) -> ErrorPage {
    ErrorPage::new(
        502,
        "Sign-in service unavailable",
        format!("{} could not be reached or did not answer in time. Try again in a moment.", provider.name),
    )
}

/// The provider's discovery document — GitHub has none: its endpoints follow from
/// `web_base_url` — or, when it cannot be had, the "could not be reached" page.
async fn discover(
    state: &AppState,
    settings: &Settings,
    provider: &ProviderSettings,
    now: i64,
) -> Result<Option<Discovery>, ErrorPage> {
    match provider.kind {
        ProviderKind::Oidc => match state.upstream.discovery(provider, timeout(settings), now).await {
            Ok(discovery) => Ok(Some(discovery)),
            Err(error) => {
                tracing::warn!(provider = %provider.id, %error, "provider discovery failed");
                Err(unreachable_page(provider))
            }
        },
        ProviderKind::Github => Ok(None),
    }
}

fn not_completed(message: &str) -> ErrorPage {
    ErrorPage::new(400, "Sign-in not completed", format!("{message} Go back to the application and start again."))
}

/// `POST /login/provider`: a "Continue with NAME" button.
pub async fn continue_with(
    state: &AppState,
    settings: &Settings,
    form: ProviderForm,
    browser: &Browser,
) -> Result<ProviderOutcome, AppError> {
    let Some((pending, _client)) =
        pending_request(state, settings, form.request_id, browser, Some(form.csrf_token)).await?
    else {
        return Ok(ProviderOutcome::Page(crate::authorize::expired_request()));
    };
    let Some(provider) = provider(&settings.login, &form.provider) else {
        return Ok(ProviderOutcome::Page(ErrorPage::new(
            400,
            "Unknown sign-in provider",
            "This way to sign in is not offered here.",
        )));
    };
    go_upstream(state, settings, provider, &pending).await
}

/// Send the browser to a source for a pending request (`auto_redirect`): a provider, or the app
/// with a fresh login challenge. The password form is the login page itself.
pub async fn go_to(
    state: &AppState,
    settings: &Settings,
    source: Source<'_>,
    pending: &AuthRequestRow,
) -> Result<ProviderOutcome, AppError> {
    match source {
        Source::Provider(provider) => go_upstream(state, settings, provider, pending).await,
        Source::App => {
            let (app, pending, now) = (settings.login.app.clone(), pending.clone(), state.clock.now());
            let location = state.db.run(move |conn| super::app::start(conn, &app, &pending, now)).await?;
            Ok(ProviderOutcome::GoToSource(location))
        }
        Source::Password => Ok(ProviderOutcome::GoToSource(format!(
            "{}{}?request_id={}",
            settings.issuer_path(),
            paths::LOGIN,
            pending.request_id
        ))),
    }
}

/// Send the browser to the provider for a pending request: the `state` is bound to it, to the
/// browser that started it (its binding cookie's digest) and to the provider, and expires with
/// it; `prompt=login` (GitHub: `prompt=select_account`) when it must sign in afresh.
pub async fn go_upstream(
    state: &AppState,
    settings: &Settings,
    provider: &ProviderSettings,
    pending: &AuthRequestRow,
) -> Result<ProviderOutcome, AppError> {
    let now = state.clock.now();
    let discovery = match discover(state, settings, provider, now).await {
        Ok(discovery) => discovery,
        Err(page) => return Ok(ProviderOutcome::Page(page)),
    };
    let upstream_state = secrets::random_token(32);
    // Stored for every kind, sent only to OpenID Providers (GitHub has no id_token to carry it).
    let nonce = secrets::random_token(32);
    let verifier = secrets::random_token(48);
    let row = UpstreamLoginRow {
        state_hash: secrets::digest(&upstream_state),
        request_id: pending.request_id.clone(),
        provider: provider.id.clone(),
        browser_hash: pending.browser_hash.clone(),
        pkce_verifier: verifier.clone(),
        nonce: nonce.clone(),
        created_at: now,
        expires_at: pending.expires_at,
    };
    state.db.run(move |conn| Ok(upstream_logins::insert(conn, &row)?)).await?;
    let redirect_uri = callback_url(&settings.issuer, &provider.id);
    let authorization = Authorization {
        redirect_uri: &redirect_uri,
        state: &upstream_state,
        nonce: &nonce,
        code_challenge: &s256_challenge(&verifier),
        fresh_sign_in: pending.fresh_sign_in,
    };
    let url = match &discovery {
        Some(discovery) => oidc::authorization_url(discovery, provider, &authorization),
        None => github::authorization_url(provider, &authorization),
    };
    Ok(ProviderOutcome::GoToSource(url))
}

/// A refusal: its audit row, and the page. Callbacks that name no sign-in of ours
/// (`client_id` unknown) cost a stranger nothing to send: one row per address and window.
async fn deny(
    state: &AppState,
    provider_id: &str,
    rule: &str,
    client_id: Option<String>,
    browser: &Browser,
    page: ErrorPage,
) -> Result<ProviderOutcome, AppError> {
    let now = state.clock.now();
    let anonymous = client_id.is_none();
    let window = Window::containing(now, throttle::ADDRESS_WINDOW_SECS);
    let flood_key = format!("upstream-denied:{}", browser.origin.rate_limit_key);
    let mut record =
        AuditRecord::new(event::USER_LOGIN_DENIED, Actor::Anonymous, json!({"method": provider_id, "rule": rule}))
            .from(&browser.origin);
    record.client_id = client_id;
    state
        .db
        .run(move |conn| {
            if anonymous {
                rate_limits::hit(conn, &flood_key, window.start)?;
                if !rate_limits::claim_audit(conn, &flood_key, window.start)? {
                    return Ok(());
                }
            }
            Ok(audit::record(conn, now, &record)?)
        })
        .await?;
    Ok(ProviderOutcome::Page(page))
}

/// `GET /login/{id}/callback`.
pub async fn callback(
    state: &AppState,
    settings: &Settings,
    provider_id: &str,
    raw_query: &str,
    browser: &Browser,
) -> Result<ProviderOutcome, AppError> {
    let params = match query::pairs(raw_query.as_bytes(), &[]) {
        Ok(params) => params,
        Err(error) => {
            return Ok(ProviderOutcome::Page(not_completed(&format!(
                "The answer of the sign-in service was refused: {error}."
            ))))
        }
    };
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let now = state.clock.now();
    let Some(upstream_state) = param("state") else {
        return deny(
            state,
            provider_id,
            "missing_state",
            None,
            browser,
            not_completed("The answer of the sign-in service had no state."),
        )
        .await;
    };
    // Taken whatever follows: a state is good for one callback, from whichever browser.
    let state_hash = secrets::digest(&upstream_state);
    let taken = state
        .db
        .run(move |conn| {
            let Some(row) = upstream_logins::take(conn, &state_hash)? else { return Ok(None) };
            let pending = auth_requests::find_open(conn, &row.request_id, now)?;
            Ok(Some((row, pending)))
        })
        .await?;
    let Some((row, pending)) = taken else {
        return deny(
            state,
            provider_id,
            "unknown_state",
            None,
            browser,
            not_completed("This sign-in is unknown, has expired or was already used."),
        )
        .await;
    };
    let client_id = pending.as_ref().and_then(|p| p.client_id().map(str::to_string));
    // The mix-up defence: the state was issued for the provider whose callback this is.
    if row.provider != provider_id {
        return deny(
            state,
            provider_id,
            "provider_mismatch",
            client_id,
            browser,
            not_completed("This answer came back from another sign-in service than the one this sign-in went to."),
        )
        .await;
    }
    let same_browser = browser
        .browser_token
        .as_deref()
        .is_some_and(|token| secrets::constant_time_eq(&secrets::digest(token), &row.browser_hash));
    if !same_browser {
        return deny(
            state,
            provider_id,
            "other_browser",
            client_id,
            browser,
            not_completed("This sign-in was started in another browser."),
        )
        .await;
    }
    let Some(pending) = pending.filter(|_| row.expires_at > now) else {
        return deny(state, provider_id, "expired_request", client_id, browser, crate::authorize::expired_request())
            .await;
    };
    let Some(provider) = provider(&settings.login, provider_id) else {
        return deny(
            state,
            provider_id,
            "unknown_provider",
            client_id,
            browser,
            not_completed("This sign-in service is no longer offered here."),
        )
        .await;
    };
    if let Some(error) = param("error") {
        let error = crate::text::truncate(&error, 64);
        let message = if error == "access_denied" {
            format!("The sign-in at {} was cancelled or refused.", provider.name)
        } else {
            format!("{} answered with an error ({error}).", provider.name)
        };
        return deny(state, provider_id, "upstream_error", client_id, browser, not_completed(&message)).await;
    }
    let discovery = match discover(state, settings, provider, now).await {
        Ok(discovery) => discovery,
        Err(page) => return Ok(ProviderOutcome::Page(page)),
    };
    let issuer_checked = match &discovery {
        Some(discovery) => oidc::check_callback_issuer(param("iss").as_deref(), provider, discovery),
        None => github::check_callback_issuer(param("iss").as_deref(), provider),
    };
    if let Err(why) = issuer_checked {
        tracing::info!(provider = %provider.id, %why, "callback refused");
        return deny(
            state,
            provider_id,
            "wrong_iss",
            client_id,
            browser,
            not_completed("The answer did not come from the sign-in service it should have."),
        )
        .await;
    }
    let Some(code) = param("code") else {
        return deny(
            state,
            provider_id,
            "missing_code",
            client_id,
            browser,
            not_completed("The answer of the sign-in service had no code."),
        )
        .await;
    };
    let account = match &discovery {
        Some(discovery) => verified_account(state, settings, provider, discovery, &row, &code).await,
        None => github_account(state, settings, provider, &row, &code).await,
    };
    let account = match account {
        Ok(account) => account,
        Err(Failure::Unreachable(error)) => {
            tracing::warn!(provider = %provider.id, %error, "provider call failed");
            let page = unreachable_page(provider);
            return deny(state, provider_id, "upstream_unavailable", client_id, browser, page).await;
        }
        Err(Failure::Refused(rule, said)) => {
            tracing::info!(provider = %provider.id, %said, "provider refused the sign-in");
            let page = not_completed(&format!("{} refused the sign-in ({said}).", provider.name));
            return deny(state, provider_id, rule, client_id, browser, page).await;
        }
        Err(Failure::Invalid(rule, why)) => {
            tracing::warn!(provider = %provider.id, %why, "provider answer refused");
            let page = not_completed(&format!("The answer of {} could not be verified.", provider.name));
            return deny(state, provider_id, rule, client_id, browser, page).await;
        }
    };

    let sign_in = SignIn::new(settings, &pending, "", &provider.id, &browser.origin, now);
    // The user is known once the linking rules have run, in the same transaction.
    let for_db = provider.clone();
    let (origin, client) = (browser.origin.clone(), pending.client_id().map(str::to_string));
    let outcome = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let linked = match linking::link(conn, &for_db, &account, now)? {
                    Ok(linked) => linked,
                    Err(refusal) => return Ok::<_, DbError>(Err(refusal)),
                };
                let sign_in = sign_in.for_user(&linked.user.user_id);
                for record in &linked.records {
                    let record = record.clone().from(&origin);
                    let record = match &client {
                        Some(client_id) => record.client(client_id),
                        None => record,
                    };
                    audit::record(conn, now, &record)?;
                }
                sign_in.record(conn, now)?;
                Ok(Ok(sign_in))
            })
        })
        .await?;
    match outcome {
        Ok(sign_in) => {
            let location = sign_in.next_location(settings);
            Ok(ProviderOutcome::SignedIn { session_token: sign_in.session_token, location })
        }
        Err(refusal) => {
            let page = ErrorPage::new(
                403,
                "Not allowed to sign in",
                format!("Your account is not allowed to sign in here. {}", refusal.explain(provider)),
            );
            deny(state, provider_id, refusal.rule(), client_id, browser, page).await
        }
    }
}

enum Failure {
    /// The provider could not be reached, did not answer in time or answered with an error.
    Unreachable(String),
    /// The provider answered and said no — its token endpoint with an OAuth `error` (GitHub:
    /// with status 200), or its API with a 4xx: (audit rule, what it said).
    Refused(&'static str, String),
    /// The provider's answer does not hold: (audit rule, why).
    Invalid(&'static str, String),
}

/// The code exchanged at this provider's token endpoint (only there: the mix-up defence), the
/// `id_token` verified (the JWKS refetched once for an unknown `kid`), `userinfo` when the
/// token has no email.
async fn verified_account(
    state: &AppState,
    settings: &Settings,
    provider: &ProviderSettings,
    discovery: &Discovery,
    row: &UpstreamLoginRow,
    code: &str,
) -> Result<super::access::Account, Failure> {
    let timeout = timeout(settings);
    let tokens = exchange_code(
        state,
        settings,
        provider,
        &discovery.token_endpoint,
        discovery.uses_client_secret_post(),
        row,
        code,
    )
    .await?;
    let id_token = tokens.id_token.ok_or(Failure::Invalid("id_token_missing", "no id_token".into()))?;
    let now = state.clock.now();
    let mut claims = None;
    for refetch in [false, true] {
        let jwks = state
            .upstream
            .jwks(&discovery.jwks_uri, refetch, timeout, now)
            .await
            .map_err(|e| Failure::Unreachable(e.to_string()))?;
        match oidc::verify_id_token(&id_token, &jwks, provider, &row.nonce, now) {
            Ok(verified) => {
                claims = Some(verified);
                break;
            }
            Err(IdTokenError::UnknownKey) if !refetch => continue,
            Err(IdTokenError::UnknownKey) => {
                return Err(Failure::Invalid(
                    "id_token_invalid",
                    "no key of the JWKS matches, even after a refetch".into(),
                ))
            }
            Err(IdTokenError::Invalid(why)) => return Err(Failure::Invalid("id_token_invalid", why)),
        }
    }
    let claims = claims.ok_or(Failure::Invalid("id_token_invalid", "not verified".into()))?;
    let userinfo = if claims.get("email").and_then(|e| e.as_str()).is_some() {
        None
    } else {
        let endpoint = discovery
            .userinfo_endpoint
            .as_deref()
            .ok_or(Failure::Invalid("email_missing", "no email in the id_token and no userinfo endpoint".into()))?;
        let info = state
            .upstream
            .userinfo(endpoint, &tokens.access_token, timeout)
            .await
            .map_err(|e| Failure::Unreachable(e.to_string()))?;
        Some(info)
    };
    oidc::account(provider, claims, userinfo).map_err(|why| Failure::Invalid("userinfo_subject", why))
}

/// The code exchanged at `token_endpoint` with the PKCE verifier of the sign-in's state.
async fn exchange_code(
    state: &AppState,
    settings: &Settings,
    provider: &ProviderSettings,
    token_endpoint: &str,
    client_secret_post: bool,
    row: &UpstreamLoginRow,
    code: &str,
) -> Result<TokenResponse, Failure> {
    let secret = client_secret(provider).map_err(Failure::Unreachable)?;
    let redirect_uri = callback_url(&settings.issuer, &provider.id);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", row.pkce_verifier.as_str()),
    ];
    let answer = state
        .upstream
        .exchange(token_endpoint, client_secret_post, &provider.client_id, &secret, &form, timeout(settings))
        .await
        .map_err(|e| Failure::Unreachable(e.to_string()))?;
    match answer {
        TokenAnswer::Tokens(tokens) => Ok(tokens),
        TokenAnswer::Error(error) => Err(Failure::Refused("upstream_token_error", error)),
    }
}

/// GitHub: the code exchanged at `{web_base_url}/login/oauth/access_token` (the secret in the
/// form, as GitHub documents), then `/user`, `/user/emails` and, per allowed organisation, the
/// membership. The access token is used for these calls and dropped.
async fn github_account(
    state: &AppState,
    settings: &Settings,
    provider: &ProviderSettings,
    row: &UpstreamLoginRow,
    code: &str,
) -> Result<Account, Failure> {
    let tokens = exchange_code(state, settings, provider, &github::token_endpoint(provider), true, row, code).await?;
    // `answers`: the statuses besides 200 that are an answer of this endpoint.
    let get = |url: String, answers: &'static [u16]| {
        let token = tokens.access_token.clone();
        async move {
            let (status, body) = state
                .upstream
                .api_get(&url, &token, &github::API_HEADERS, timeout(settings))
                .await
                .map_err(|e| Failure::Unreachable(e.to_string()))?;
            match status {
                200 => Ok((status, body)),
                _ if answers.contains(&status) => Ok((status, body)),
                400..=499 => Err(Failure::Refused("upstream_api_error", format!("its API answered HTTP {status}"))),
                _ => Err(Failure::Unreachable(format!("{url} answered HTTP {status}"))),
            }
        }
    };
    let (_, user) = get(github::user_url(provider), &[]).await?;
    let (_, emails) = get(github::emails_url(provider), &[]).await?;
    let mut memberships = std::collections::BTreeMap::new();
    for org in &provider.allowed_orgs {
        // 404: not a member; 403: the organisation has not approved this app.
        let (status, body) = get(github::membership_url(provider, org), &[403, 404]).await?;
        let membership: Membership =
            github::membership(status, &body).map_err(|why| Failure::Invalid("github_answer_invalid", why))?;
        memberships.insert(org.clone(), membership);
    }
    github::account(provider, &user, &emails, memberships).map_err(|why| Failure::Invalid("github_answer_invalid", why))
}

/// The provider's client secret: the value, the file's content or the environment variable's.
pub fn client_secret(provider: &ProviderSettings) -> Result<String, String> {
    crate::config::read_secret(
        "client_secret",
        &provider.client_secret,
        &provider.client_secret_file,
        &provider.client_secret_env,
        &|name| std::env::var(name).ok(),
    )
}

/// `POST /consent/sign-out` ("Not you? Sign out"): end the session, mark the pending request
/// for a fresh sign-in, and go back to the source the session came from — its provider with
/// `prompt=login`, the app (whose request info then says `prompt: "login"`), else the login page.
pub async fn not_you(
    state: &AppState,
    settings: &Settings,
    request_id: String,
    csrf_token: String,
    browser: &Browser,
) -> Result<ProviderOutcome, AppError> {
    let now = state.clock.now();
    let Some(token) = browser.session_token.clone() else {
        return Ok(ProviderOutcome::Page(crate::authorize::expired_request()));
    };
    let for_db = browser.clone();
    let app = settings.login.app.clone();
    let ended = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let hash = secrets::digest(&token);
                let Some(session) = sessions::find_live(conn, &hash, now)? else { return Ok::<_, DbError>(None) };
                if !secrets::constant_time_eq(&csrf_token, &session.csrf_token) {
                    return Ok(None);
                }
                let Some(pending) = open_pending(conn, &request_id, &for_db, None, now)? else { return Ok(None) };
                sessions::delete(conn, &hash)?;
                auth_requests::restart_sign_in(conn, &pending.request_id)?;
                // As `restart_sign_in` left it.
                let pending = AuthRequestRow { fresh_sign_in: true, user_id: None, ..pending };
                let to_app = if session.method == sessions::METHOD_APP && app.enabled() {
                    Some(super::app::start(conn, &app, &pending, now)?)
                } else {
                    None
                };
                Ok(Some((session, pending, to_app)))
            })
        })
        .await?;
    let Some((session, pending, to_app)) = ended else {
        return Ok(ProviderOutcome::Page(ErrorPage::new(400, "Not signed out", "The sign-out request was not valid.")));
    };
    if let Some(location) = to_app {
        return Ok(ProviderOutcome::SignedOut(location));
    }
    if let Some(provider) = provider(&settings.login, &session.method) {
        if let ProviderOutcome::GoToSource(url) = go_upstream(state, settings, provider, &pending).await? {
            return Ok(ProviderOutcome::SignedOut(url));
        }
    }
    let login = format!("{}{}?request_id={}", settings.issuer_path(), paths::LOGIN, pending.request_id);
    Ok(ProviderOutcome::SignedOut(login))
}
