//! Sign-in through upstream providers (SPEC §9.1): the "Continue with NAME" buttons, each
//! provider's callback, and "Not you? Sign out" on the consent page. Thin: `identity` decides.

use actix_web::{web, HttpRequest, HttpResponse};

use super::browser::{browser, cookie, field, form_fields, see_other, CookieName};
use super::pages;
use crate::config::Settings;
use crate::error::AppError;
use crate::identity::provider_sign_in::{self, ProviderForm, ProviderOutcome};
use crate::state::AppState;

fn respond(settings: &Settings, outcome: ProviderOutcome) -> Result<HttpResponse, AppError> {
    Ok(match outcome {
        ProviderOutcome::GoToSource(location) => see_other(&location).finish(),
        ProviderOutcome::Page(page) => pages::error_page(settings, &page),
        ProviderOutcome::SignedIn { session_token, location } => {
            see_other(&location).cookie(cookie(settings, CookieName::Session, session_token)).finish()
        }
        ProviderOutcome::SignedOut(location) => {
            let mut removal = cookie(settings, CookieName::Session, String::new());
            removal.make_removal();
            see_other(&location).cookie(removal).finish()
        }
    })
}

/// `POST /login/provider`.
pub async fn continue_with(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let fields = match form_fields(&request, payload, &settings).await {
        Ok(fields) => fields,
        Err(page) => return Ok(page),
    };
    let form = ProviderForm {
        provider: field(&fields, "provider"),
        request_id: field(&fields, "request_id"),
        csrf_token: field(&fields, "csrf_token"),
    };
    let outcome = provider_sign_in::continue_with(&state, &settings, form, &browser(&request, &settings)).await?;
    respond(&settings, outcome)
}

/// `GET /login/{provider}/callback`.
pub async fn callback(
    request: HttpRequest,
    provider: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let browser = browser(&request, &settings);
    let outcome = provider_sign_in::callback(&state, &settings, &provider, request.query_string(), &browser).await?;
    respond(&settings, outcome)
}

/// `POST /consent/sign-out`.
pub async fn consent_sign_out(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let fields = match form_fields(&request, payload, &settings).await {
        Ok(fields) => fields,
        Err(page) => return Ok(page),
    };
    let (request_id, csrf_token) = (field(&fields, "request_id"), field(&fields, "csrf_token"));
    let outcome =
        provider_sign_in::not_you(&state, &settings, request_id, csrf_token, &browser(&request, &settings)).await?;
    respond(&settings, outcome)
}
