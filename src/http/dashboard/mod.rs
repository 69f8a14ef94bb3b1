//! The operator dashboard (SPEC §12) at `{issuer}/admin`, on the public listener: thin
//! handlers over the operator service (the one the CLI and the admin API use). Every request
//! reads the signed-in user's role from the database (`session::dashboard_access`); pages are
//! `no-store` under the pages' CSP; every action is a POST that carries the session's CSRF
//! token and is refused when `Sec-Fetch-Site` says another site sent it. The HTML is `views`,
//! the chart `chart`.

mod chart;
mod views;

use actix_web::{web, HttpRequest, HttpResponse};

use super::browser::{browser, cookie, field, form_fields, see_other, CookieName};
use super::pages;
use crate::authorize::admin_sign_in::{self, AdminSignIn};
use crate::authorize::session::{self, DashboardAccess};
use crate::config::Settings;
use crate::error::AppError;
use crate::oauth::query;
use crate::operator::{self, AuditRequest, ClientListRequest, OperatorError, Role, UserRef};
use crate::paths;
use crate::state::AppState;
use crate::store::audit::Actor;

/// Rows per page of the dashboard's lists.
const PAGE_SIZE: i64 = 50;

/// The signed-in admin a page or an action is for.
pub(super) struct Admin {
    pub user_id: String,
    pub email: Option<String>,
    pub csrf_token: String,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(paths::ADMIN).route(web::get().to(overview)))
        .service(web::resource(paths::ADMIN_CLIENTS).route(web::get().to(clients)))
        .service(web::resource(paths::ADMIN_CLIENT).route(web::get().to(client)))
        .service(
            web::resource(paths::ADMIN_CLIENT_ACTION)
                .route(web::get().to(confirm_client_action))
                .route(web::post().to(client_action)),
        )
        .service(web::resource(paths::ADMIN_AUDIT).route(web::get().to(audit)))
        .service(web::resource(paths::ADMIN_USERS).route(web::get().to(users)))
        .service(web::resource(paths::ADMIN_USER_ACTION).route(web::post().to(user_action)))
        .service(web::resource(paths::ADMIN_KEYS).route(web::get().to(keys)))
        .service(web::resource(paths::ADMIN_KEYS_ROTATE).route(web::post().to(rotate_keys)))
        .service(web::resource(paths::ADMIN_CONFIG).route(web::get().to(config)));
}

/// A page's admin, or the response instead: sign-in for a browser without a session (a
/// pending request of purpose `admin`), 403 for a user without the role.
async fn page_admin(
    request: &HttpRequest,
    state: &AppState,
    settings: &Settings,
) -> Result<Result<Admin, HttpResponse>, AppError> {
    let browser = browser(request, settings);
    match session::dashboard_access(state, &browser).await? {
        DashboardAccess::Admin { user_id, email, csrf_token } => Ok(Ok(Admin { user_id, email, csrf_token })),
        DashboardAccess::NotAdmin => Ok(Err(forbidden(settings))),
        DashboardAccess::SignedOut => Ok(Err(match admin_sign_in::start(state, settings, &browser).await? {
            AdminSignIn::Continue { location, new_browser_token } => {
                let mut response = see_other(&location);
                if let Some(token) = new_browser_token {
                    response.cookie(cookie(settings, CookieName::Browser, token));
                }
                response.finish()
            }
            AdminSignIn::Page(page) => pages::error_page(settings, &page),
        })),
    }
}

fn forbidden(settings: &Settings) -> HttpResponse {
    pages::message_page(settings, 403, "Not allowed", "The dashboard is for users with the admin role.")
}

fn bad_action(settings: &Settings, why: &str) -> HttpResponse {
    pages::message_page(
        settings,
        400,
        "Action refused",
        &format!("{why} Nothing was changed. Reload the page and try again."),
    )
}

/// `Sec-Fetch-Site` from a browser that says another site (or a sibling sub-domain) sent the
/// form. Absent (not a browser, or an old one) and `same-origin` / `none` pass.
fn sent_from_elsewhere(request: &HttpRequest) -> bool {
    request.headers().get("sec-fetch-site").is_some_and(|value| !matches!(value.to_str(), Ok("same-origin" | "none")))
}

/// An action's admin and form, or the response instead: 400 for another site's form or a CSRF
/// token that is not the session's; 403 without the admin role (or any session). Nothing is
/// changed before all of these pass.
async fn action_admin(
    request: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    settings: &Settings,
) -> Result<Result<(Admin, Vec<(String, String)>), HttpResponse>, AppError> {
    if sent_from_elsewhere(request) {
        return Ok(Err(bad_action(settings, "This form was sent from another site.")));
    }
    let fields = match form_fields(request, payload, settings).await {
        Ok(fields) => fields,
        Err(page) => return Ok(Err(page)),
    };
    let admin = match session::dashboard_access(state, &browser(request, settings)).await? {
        DashboardAccess::Admin { user_id, email, csrf_token } => Admin { user_id, email, csrf_token },
        _ => return Ok(Err(forbidden(settings))),
    };
    let presented = field(&fields, "csrf_token");
    if presented.is_empty() || !crate::secrets::constant_time_eq(&presented, &admin.csrf_token) {
        return Ok(Err(bad_action(settings, "The form's security token is missing or out of date.")));
    }
    Ok(Ok((admin, fields)))
}

/// The page's query, decoded once (a control character is refused with a page).
fn query_of(request: &HttpRequest, settings: &Settings) -> Result<Vec<(String, String)>, Box<HttpResponse>> {
    query::pairs(request.query_string().as_bytes(), &[]).map_err(|error| {
        Box::new(pages::message_page(settings, 400, "Invalid request", &format!("The request was refused: {error}.")))
    })
}

fn value(params: &[(String, String)], name: &str) -> Option<String> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// An operator-service error as a page: the operator's message as it is (it echoes input
/// quoted and escaped by `views`), 404 for what does not exist, 400 for what is invalid.
fn operator_page(settings: &Settings, admin: &Admin, error: OperatorError) -> Result<HttpResponse, AppError> {
    let (status, title) = match &error {
        OperatorError::NotFound(_) => (404, "Not found"),
        OperatorError::Invalid(_) => (400, "Not possible"),
        _ => return Err(AppError::from(error)),
    };
    Ok(views::problem(settings, admin, status, title, &error.to_string()))
}

macro_rules! admin_or_return {
    ($result:expr) => {
        match $result? {
            Ok(value) => value,
            Err(response) => return Ok(response),
        }
    };
}

pub async fn overview(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let admin = admin_or_return!(page_admin(&request, &state, &settings).await);
    let now = state.clock.now();
    let overview = state.db.run_with(move |conn| operator::overview(conn, now)).await;
    match overview {
        Ok(overview) => Ok(views::overview(&settings, &admin, &overview)),
        Err(error) => operator_page(&settings, &admin, error),
    }
}

pub async fn clients(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let admin = admin_or_return!(page_admin(&request, &state, &settings).await);
    let params = match query_of(&request, &settings) {
        Ok(params) => params,
        Err(page) => return Ok(*page),
    };
    let list = ClientListRequest {
        source: value(&params, "source"),
        status: value(&params, "status"),
        stale: value(&params, "stale").is_some(),
        cursor: value(&params, "cursor"),
        limit: Some(PAGE_SIZE),
        search: value(&params, "q"),
    };
    let now = state.clock.now();
    let retention = settings.dcr.stale_client_retention_days;
    let shown = list.clone();
    match state.db.run_with(move |conn| operator::list_clients(conn, &list, retention, now)).await {
        Ok(page) => Ok(views::clients(&settings, &admin, &shown, &page)),
        Err(error) => operator_page(&settings, &admin, error),
    }
}

pub async fn client(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let admin = admin_or_return!(page_admin(&request, &state, &settings).await);
    let params = match query_of(&request, &settings) {
        Ok(params) => params,
        Err(page) => return Ok(*page),
    };
    let id = value(&params, "id").unwrap_or_default();
    let now = state.clock.now();
    match state.db.run_with(move |conn| operator::show_client(conn, &id, now)).await {
        Ok(detail) => Ok(views::client(&settings, &admin, &detail, value(&params, "done").as_deref())),
        Err(error) => operator_page(&settings, &admin, error),
    }
}

/// The client actions, by the last path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClientAction {
    Disable,
    Enable,
    Revoke,
    Delete,
}

impl ClientAction {
    fn parse(segment: &str) -> Option<ClientAction> {
        Some(match segment {
            "disable" => ClientAction::Disable,
            "enable" => ClientAction::Enable,
            "revoke" => ClientAction::Revoke,
            "delete" => ClientAction::Delete,
            _ => return None,
        })
    }

    pub(super) fn segment(self) -> &'static str {
        match self {
            ClientAction::Disable => "disable",
            ClientAction::Enable => "enable",
            ClientAction::Revoke => "revoke",
            ClientAction::Delete => "delete",
        }
    }
}

/// `GET /admin/client/{action}?id=`: the confirmation, whose form posts the action.
pub async fn confirm_client_action(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let admin = admin_or_return!(page_admin(&request, &state, &settings).await);
    let Some(action) = ClientAction::parse(&path) else {
        return Ok(pages::message_page(&settings, 404, "Not found", "There is no such page."));
    };
    let params = match query_of(&request, &settings) {
        Ok(params) => params,
        Err(page) => return Ok(*page),
    };
    let id = value(&params, "id").unwrap_or_default();
    let now = state.clock.now();
    match state.db.run_with(move |conn| operator::show_client(conn, &id, now)).await {
        Ok(detail) => Ok(views::confirm_client_action(&settings, &admin, &detail, action)),
        Err(error) => operator_page(&settings, &admin, error),
    }
}

/// `POST /admin/client/{action}`: one operator-service call, then back to the client's page
/// (the list, after a delete).
pub async fn client_action(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let (admin, fields) = admin_or_return!(action_admin(&request, payload, &state, &settings).await);
    let Some(action) = ClientAction::parse(&path) else {
        return Ok(pages::message_page(&settings, 404, "Not found", "There is no such action."));
    };
    let id = field(&fields, "client_id");
    let reason = field(&fields, "reason");
    let actor = Actor::Admin(admin.user_id.clone());
    let now = state.clock.now();
    let for_db = id.clone();
    let done = state
        .db
        .run_with(move |conn| {
            let id = for_db.as_str();
            match action {
                ClientAction::Disable => operator::disable_client(conn, id, Some(&reason), actor, now).map(|_| ()),
                ClientAction::Enable => operator::enable_client(conn, id, actor, now),
                ClientAction::Revoke => operator::revoke_client_sessions(conn, id, actor, now).map(|_| ()),
                ClientAction::Delete => operator::delete_client(conn, id, actor, now),
            }
        })
        .await;
    let base = settings.issuer_path();
    match done {
        Ok(()) if action == ClientAction::Delete => {
            Ok(see_other(&format!("{base}{}?done=deleted", paths::ADMIN_CLIENTS)).finish())
        }
        Ok(()) => Ok(see_other(&format!(
            "{base}{}?id={}&done={}",
            paths::ADMIN_CLIENT,
            views::encode(&id),
            action.segment()
        ))
        .finish()),
        Err(OperatorError::NotFound(_)) => Ok(views::problem(
            &settings,
            &admin,
            404,
            "Client not found",
            &format!(
                "There is no client \"{}\" any more: it may have been deleted a moment ago, perhaps by another admin. Nothing was changed.",
                crate::text::echo(&id)
            ),
        )),
        Err(error) => operator_page(&settings, &admin, error),
    }
}

pub async fn audit(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let admin = admin_or_return!(page_admin(&request, &state, &settings).await);
    let params = match query_of(&request, &settings) {
        Ok(params) => params,
        Err(page) => return Ok(*page),
    };
    let filter = AuditRequest {
        event: value(&params, "event"),
        client_id: value(&params, "client_id"),
        since: value(&params, "since"),
        cursor: value(&params, "cursor"),
        limit: Some(PAGE_SIZE),
    };
    let now = state.clock.now();
    let shown = filter.clone();
    match state.db.run_with(move |conn| operator::query_audit(conn, &filter, now)).await {
        Ok(page) => Ok(views::audit(&settings, &admin, &shown, &page)),
        Err(error) => operator_page(&settings, &admin, error),
    }
}

pub async fn users(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let admin = admin_or_return!(page_admin(&request, &state, &settings).await);
    let params = match query_of(&request, &settings) {
        Ok(params) => params,
        Err(page) => return Ok(*page),
    };
    let (source, cursor) = (value(&params, "source"), value(&params, "cursor"));
    let shown = source.clone();
    let page = state
        .db
        .run_with(move |conn| operator::list_users_page(conn, source.as_deref(), cursor.as_deref(), Some(PAGE_SIZE)))
        .await;
    match page {
        Ok(page) => Ok(views::users(&settings, &admin, shown.as_deref(), &page, value(&params, "done").as_deref())),
        Err(error) => operator_page(&settings, &admin, error),
    }
}

/// `POST /admin/users/{action}`: `disable`, `enable`, `role` (with `role` = `admin` | `user`).
pub async fn user_action(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let (admin, fields) = admin_or_return!(action_admin(&request, payload, &state, &settings).await);
    let user = UserRef::Id(field(&fields, "user_id"));
    let actor = Actor::Admin(admin.user_id.clone());
    let now = state.clock.now();
    let action = path.into_inner();
    let role = field(&fields, "role");
    let done = state
        .db
        .run_with(move |conn| match action.as_str() {
            "disable" => operator::disable_user(conn, &user, actor, now).map(|_| "disabled"),
            "enable" => operator::enable_user(conn, &user, actor, now).map(|_| "enabled"),
            "role" => operator::set_role(conn, &user, Role::parse(&role)?, actor, now).map(|_| "role"),
            _ => Err(OperatorError::NotFound("there is no such action".into())),
        })
        .await;
    match done {
        Ok(done) => Ok(see_other(&format!("{}{}?done={done}", settings.issuer_path(), paths::ADMIN_USERS)).finish()),
        Err(error) => operator_page(&settings, &admin, error),
    }
}

pub async fn keys(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let admin = admin_or_return!(page_admin(&request, &state, &settings).await);
    let now = state.clock.now();
    let ttl = settings.tokens.longest_token_ttl_secs();
    let cipher = state.key_cipher.clone();
    let rotated = match query_of(&request, &settings) {
        Ok(params) => value(&params, "done").as_deref() == Some("rotated"),
        Err(page) => return Ok(*page),
    };
    match state.db.run_with(move |conn| operator::list_keys(conn, now, ttl, &cipher)).await {
        Ok(rows) => Ok(views::keys(&settings, &admin, &rows, rotated)),
        Err(error) => operator_page(&settings, &admin, error),
    }
}

pub async fn rotate_keys(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let (admin, _) = admin_or_return!(action_admin(&request, payload, &state, &settings).await);
    let now = state.clock.now();
    let cipher = state.key_cipher.clone();
    let actor = Actor::Admin(admin.user_id.clone());
    match state.db.run_with(move |conn| operator::rotate_key(conn, now, actor, &cipher)).await {
        Ok(_) => {
            // This replica publishes the new keys at once; the others on their next reload.
            state.reload_keys().await;
            Ok(see_other(&format!("{}{}?done=rotated", settings.issuer_path(), paths::ADMIN_KEYS)).finish())
        }
        Err(error) => operator_page(&settings, &admin, error),
    }
}

pub async fn config(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let admin = admin_or_return!(page_admin(&request, &state, &settings).await);
    Ok(views::config(&settings, &admin))
}
