//! `/authorize`, `/login`, `/consent`, `/logout`: the browser-facing handlers. They read query,
//! form and cookies, call `authorize`, and render a page or redirect. No CORS here, by design.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::pages;
use super::request::{origin, read_body, BodyError};
use crate::authorize::consent::{self, ConsentOutcome};
use crate::authorize::handoff::{self, Handoff};
use crate::authorize::login::{self, LoginOutcome};
use crate::authorize::request::{self, AuthorizeOutcome};
use crate::authorize::{session, throttle, Browser};
use crate::config::Settings;
use crate::error::AppError;
use crate::identity::{self, app::Returned};
use crate::oauth::query::{self, QueryError};
use crate::state::AppState;

/// Every cookie Gatehouse sets, named in this one place (SPEC §5, §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieName {
    /// The signed-in session.
    Session,
    /// Binds a pending authorization request to the browser that started it.
    Browser,
    /// This browser signed in before (SPEC §11): never delayed by others' failures.
    Device,
}

impl CookieName {
    fn base(self) -> &'static str {
        match self {
            CookieName::Session => "gh_session",
            CookieName::Browser => "gh_browser",
            CookieName::Device => "gh_device",
        }
    }

    /// The name as set and read: `__Host-gh_session` when the issuer is https with an empty
    /// path, so the browser accepts it only from this host, over https, for `/` and without a
    /// `Domain` (a sibling sub-domain cannot plant or shadow it); `gh_session` otherwise (an
    /// http issuer cannot set `Secure`, and an issuer path needs `Path` = that path).
    pub fn of(self, settings: &Settings) -> String {
        if host_prefixed(settings) {
            format!("__Host-{}", self.base())
        } else {
            self.base().to_string()
        }
    }
}

/// The `__Host-` prefix applies: https issuer, empty path.
fn host_prefixed(settings: &Settings) -> bool {
    settings.issuer.starts_with("https://") && settings.issuer_path().is_empty()
}

fn cookie(settings: &Settings, name: CookieName, value: String) -> Cookie<'static> {
    let path = settings.issuer_path();
    Cookie::build(name.of(settings), value)
        .path(if path.is_empty() { "/".to_string() } else { path })
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.issuer.starts_with("https://"))
        .finish()
}

fn browser(request: &HttpRequest, settings: &Settings) -> Browser {
    let value = |name: CookieName| request.cookie(&name.of(settings)).map(|c| c.value().to_string());
    Browser {
        session_token: value(CookieName::Session),
        browser_token: value(CookieName::Browser),
        device_token: value(CookieName::Device),
        origin: origin(request, settings),
    }
}

fn see_other(location: &str) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::SeeOther();
    response.insert_header((header::LOCATION, location.to_string())).insert_header((header::CACHE_CONTROL, "no-store"));
    response
}

/// A 302 (not 307: claude.ai refuses it) to the client's redirect URI.
fn redirect_to_client(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .finish()
}

/// One form field's value (the first), or "".
fn field(fields: &[(String, String)], name: &str) -> String {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

/// Form fields whose values may hold any character but U+0000: the password is only ever hashed.
const FREE_TEXT_FIELDS: &[&str] = &["password"];

/// A query or form refused for a control character: a page, before anything is looked up.
fn refused(error: &QueryError) -> HttpResponse {
    pages::message_page(
        400,
        "Invalid request",
        &format!("The request was refused: {error}. Go back to the application and start again."),
    )
}

/// Parse an `application/x-www-form-urlencoded` body ourselves, so a bad one gets a page, not
/// a framework error.
async fn form_fields(
    request: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Vec<(String, String)>, HttpResponse> {
    match read_body(request, payload, limit).await {
        Ok(body) => query::pairs(&body, FREE_TEXT_FIELDS).map_err(|e| refused(&e)),
        Err(BodyError::TooLarge) => Err(pages::message_page(413, "Request too large", "The form was too large.")),
        Err(BodyError::Broken) => Err(pages::message_page(400, "Invalid request", "The form could not be read.")),
    }
}

/// The `request_id` of a page's query, once the whole query has passed the decoder.
fn request_id_of(request: &HttpRequest) -> Result<String, QueryError> {
    let params = query::pairs(request.query_string().as_bytes(), &[])?;
    Ok(params.into_iter().find(|(name, _)| name == "request_id").map(|(_, value)| value).unwrap_or_default())
}

pub async fn authorize(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let browser = browser(&request, &settings);
    let outcome = request::authorize(&state, &settings, request.query_string(), &browser).await?;
    Ok(match outcome {
        AuthorizeOutcome::Page(page) => pages::error_page(&page),
        AuthorizeOutcome::RedirectToClient(location) => redirect_to_client(&location),
        AuthorizeOutcome::Continue { location, new_browser_token } => {
            let mut response = see_other(&location);
            if let Some(token) = new_browser_token {
                response.cookie(cookie(&settings, CookieName::Browser, token));
            }
            response.finish()
        }
    })
}

fn login_response(settings: &Settings, outcome: LoginOutcome) -> HttpResponse {
    match outcome {
        LoginOutcome::Form(view) => pages::login_page(&settings.issuer_path(), &view),
        LoginOutcome::Page(page) => pages::error_page(&page),
        LoginOutcome::SignedIn { session_token, device_token, location } => {
            let mut response = see_other(&location);
            response.cookie(cookie(settings, CookieName::Session, session_token));
            if let Some(token) = device_token {
                let mut device = cookie(settings, CookieName::Device, token);
                device.set_max_age(actix_web::cookie::time::Duration::seconds(throttle::DEVICE_COOKIE_TTL_SECS));
                response.cookie(device);
            }
            response.finish()
        }
    }
}

pub async fn login_form(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let request_id = match request_id_of(&request) {
        Ok(id) => id,
        Err(error) => return Ok(refused(&error)),
    };
    let outcome = login::login_form(&state, &settings, request_id, &browser(&request, &settings)).await?;
    Ok(login_response(&settings, outcome))
}

pub async fn login_submit(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let fields = match form_fields(&request, payload, settings.server.max_body_bytes).await {
        Ok(fields) => fields,
        Err(page) => return Ok(page),
    };
    let form = login::LoginForm {
        request_id: field(&fields, "request_id"),
        csrf_token: field(&fields, "csrf_token"),
        email: field(&fields, "email"),
        password: field(&fields, "password"),
    };
    let outcome = login::login_submit(&state, &settings, form, &browser(&request, &settings)).await?;
    Ok(login_response(&settings, outcome))
}

fn consent_response(settings: &Settings, outcome: ConsentOutcome) -> HttpResponse {
    match outcome {
        ConsentOutcome::Form(view) => pages::consent_page(&settings.issuer_path(), &view),
        ConsentOutcome::Page(page) => pages::error_page(&page),
        ConsentOutcome::Login(location) => see_other(&location).finish(),
        ConsentOutcome::RedirectToClient(location) => redirect_to_client(&location),
    }
}

pub async fn consent_form(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let request_id = match request_id_of(&request) {
        Ok(id) => id,
        Err(error) => return Ok(refused(&error)),
    };
    let outcome = consent::consent_form(&state, &settings, request_id, &browser(&request, &settings)).await?;
    Ok(consent_response(&settings, outcome))
}

pub async fn consent_submit(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let fields = match form_fields(&request, payload, settings.server.max_body_bytes).await {
        Ok(fields) => fields,
        Err(page) => return Ok(page),
    };
    let form = consent::ConsentForm {
        request_id: field(&fields, "request_id"),
        csrf_token: field(&fields, "csrf_token"),
        decision: field(&fields, "decision"),
    };
    let outcome = consent::consent_submit(&state, &settings, form, &browser(&request, &settings)).await?;
    Ok(consent_response(&settings, outcome))
}

/// `POST /login/app`: the login page's "Continue with NAME" button for the app (SPEC §9.2).
pub async fn login_at_app(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let fields = match form_fields(&request, payload, settings.server.max_body_bytes).await {
        Ok(fields) => fields,
        Err(page) => return Ok(page),
    };
    let browser = browser(&request, &settings);
    let outcome =
        handoff::to_app(&state, &settings, field(&fields, "request_id"), field(&fields, "csrf_token"), &browser)
            .await?;
    Ok(match outcome {
        Handoff::Redirect(location) => see_other(&location).finish(),
        Handoff::Page(page) => pages::error_page(&page),
    })
}

/// `GET /login/app/return?login_verifier=V`: the app sends the browser back (SPEC §9.2).
pub async fn app_return(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let verifier = match query::pairs(request.query_string().as_bytes(), &[]) {
        Ok(params) => params.into_iter().find(|(name, _)| name == "login_verifier").map(|(_, v)| v).unwrap_or_default(),
        Err(error) => return Ok(refused(&error)),
    };
    let browser = browser(&request, &settings);
    let returned =
        identity::app::finish(&state, &settings, &verifier, browser.browser_token.as_deref(), &browser.origin).await?;
    Ok(match returned {
        Returned::SignedIn { session_token, location } => {
            let mut response = see_other(&location);
            response.cookie(cookie(&settings, CookieName::Session, session_token));
            response.finish()
        }
        Returned::Refused { status, title, message } => pages::message_page(status, title, &message),
    })
}

pub async fn logout(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let fields = match form_fields(&request, payload, settings.server.max_body_bytes).await {
        Ok(fields) => fields,
        Err(page) => return Ok(page),
    };
    let ended = session::logout(&state, field(&fields, "csrf_token"), &browser(&request, &settings)).await?;
    if !ended {
        return Ok(pages::message_page(400, "Not signed out", "The sign-out request was not valid."));
    }
    let mut removal = cookie(&settings, CookieName::Session, String::new());
    removal.make_removal();
    let mut response = pages::message_page(200, "Signed out", "You have been signed out.");
    response.add_cookie(&removal).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(response)
}
