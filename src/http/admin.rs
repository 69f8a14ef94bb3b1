//! `/admin/api` (SPEC §6): the operator API over the same service layer as the CLI. Enabled
//! only when `admin.token` is set; bearer token compared in constant time; failures throttled
//! per address. No CORS: browsers have no business here.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::request::{bearer_token, json_object, origin};
use crate::clock::Window;
use crate::config::Settings;
use crate::error::AppError;
use crate::oauth::error::ErrorCode;
use crate::oauth::query;
use crate::operator::{self, AuditRequest, ClientListRequest, OperatorError, UserRef};
use crate::secrets;
use crate::state::AppState;
use crate::store::audit::Actor;
use crate::store::rate_limits;
use crate::text::{self, echo};

/// Failed authentications allowed per address and minute before every attempt is refused.
const FAILURES_PER_WINDOW: i32 = 10;
const FAILURE_WINDOW_SECS: u64 = 60;

impl From<OperatorError> for AppError {
    fn from(error: OperatorError) -> Self {
        match error {
            OperatorError::NotFound(message) => AppError::protocol(ErrorCode::NotFound, message),
            OperatorError::Invalid(message) => AppError::bad_request(ErrorCode::InvalidRequest, message),
            OperatorError::Internal(message) => AppError::Internal(message),
            OperatorError::Db(e) => AppError::Db(e),
        }
    }
}

/// Run an operator-service call on the blocking pool, keeping its error kinds.
async fn run_operator<T, F>(state: &AppState, work: F) -> Result<T, AppError>
where
    F: FnOnce(&mut crate::db::DbConnection) -> Result<T, OperatorError> + Send + 'static,
    T: Send + 'static,
{
    state.db.run_with(work).await.map_err(AppError::from)
}

/// The bearer check, with per-address throttling of failures.
async fn authenticate(request: &HttpRequest, state: &AppState, settings: &Settings) -> Result<(), AppError> {
    if settings.admin.token.is_empty() {
        return Err(AppError::protocol(ErrorCode::NotFound, "the admin API is not enabled"));
    }
    let now = state.clock.now();
    let window = Window::containing(now, FAILURE_WINDOW_SECS);
    let key = format!("admin:{}", origin(request, settings).rate_limit_key);
    let peek_key = key.clone();
    let failures =
        state.db.run_idempotent(move |conn| Ok(rate_limits::attempts(conn, &peek_key, window.start)?)).await?;
    if failures >= FAILURES_PER_WINDOW {
        return Err(AppError::SlowDown {
            retry_after: window.seconds_left(now),
            description: "too many failed admin authentications from this address".into(),
        });
    }
    let presented = bearer_token(request).unwrap_or_default();
    if secrets::constant_time_eq(&presented, &settings.admin.token) {
        return Ok(());
    }
    state.db.run(move |conn| Ok(rate_limits::hit(conn, &key, window.start)?)).await?;
    tracing::warn!("admin API authentication failed");
    Err(AppError::InvalidToken("a valid admin bearer token is required".into()))
}

/// An authenticated operator: taking this as a handler's first argument runs the bearer check
/// (and its throttling) before anything else is read.
pub struct Admin;

impl actix_web::FromRequest for Admin {
    type Error = AppError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Admin, AppError>>>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let state = request
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| AppError::Internal("application state missing".into()))?;
            let settings = state.settings.current();
            authenticate(&request, &state, &settings).await?;
            Ok(Admin)
        })
    }
}

/// `/metrics` on the public listener (SPEC §11): the same bearer check as the admin API (and
/// its throttling); without `admin.token` it is not served there at all. On `admin.bind` the
/// listener itself is the protection and `/metrics` is open.
pub async fn metrics(_: Admin, state: web::Data<AppState>) -> HttpResponse {
    super::health::metrics(state).await
}

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> HttpResponse {
    HttpResponse::build(status).insert_header((header::CACHE_CONTROL, "no-store")).json(body)
}

/// The query string, decoded once: a control character anywhere is a 400 before any lookup.
struct Query(Vec<(String, String)>);

impl Query {
    fn of(request: &HttpRequest) -> Result<Query, AppError> {
        query::pairs(request.query_string().as_bytes(), &[])
            .map(Query)
            .map_err(|e| AppError::bad_request(ErrorCode::InvalidRequest, e.to_string()))
    }

    /// The first non-empty value of `name`.
    fn value(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
    }

    fn flag(&self, name: &str) -> Result<bool, AppError> {
        match self.value(name).as_deref() {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(other) => Err(AppError::bad_request(
                ErrorCode::InvalidRequest,
                format!("{name}=\"{}\": use true or false", echo(other)),
            )),
        }
    }

    fn limit(&self) -> Result<Option<i64>, AppError> {
        self.value("limit")
            .map(|v| {
                v.parse::<i64>().map_err(|_| AppError::bad_request(ErrorCode::InvalidRequest, "limit must be a number"))
            })
            .transpose()
    }
}

/// A client id from the path. One with a control character names no client: 404, before any
/// lookup.
fn client_id(id: web::Path<String>) -> Result<String, AppError> {
    let id = id.into_inner();
    if text::has_control(&id) {
        return Err(AppError::protocol(ErrorCode::NotFound, format!("no client with id \"{}\"", echo(&id))));
    }
    Ok(id)
}

pub async fn list_clients(
    _admin: Admin,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let query = Query::of(&request)?;
    let list = ClientListRequest {
        source: query.value("source"),
        status: query.value("status"),
        stale: query.flag("stale")?,
        cursor: query.value("cursor"),
        limit: query.limit()?,
        search: query.value("search"),
    };
    let now = state.clock.now();
    let retention = settings.dcr.stale_client_retention_days;
    let page = run_operator(&state, move |conn| operator::list_clients(conn, &list, retention, now)).await?;
    Ok(json_response(StatusCode::OK, &page))
}

pub async fn show_client(
    _admin: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let id = client_id(id)?;
    let detail = run_operator(&state, move |conn| operator::show_client(conn, &id, now)).await?;
    Ok(json_response(StatusCode::OK, &detail))
}

pub async fn add_client(
    _admin: Admin,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let body = json_object(&request, payload, settings.server.max_body_bytes, false).await?;
    let name = body["name"].as_str().or(body["client_name"].as_str()).unwrap_or("").to_string();
    let uris: Vec<String> = match body.get("redirect_uris") {
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
        }
        _ => return Err(AppError::bad_request(ErrorCode::InvalidRequest, "redirect_uris must be an array of strings")),
    };
    if name.trim().is_empty() {
        return Err(AppError::bad_request(ErrorCode::InvalidRequest, "name is required"));
    }
    let metadata = operator::manual_metadata(&settings, &name, &uris)?;
    let now = state.clock.now();
    let created = run_operator(&state, move |conn| operator::add_manual(conn, &metadata, Actor::AdminApi, now)).await?;
    Ok(json_response(StatusCode::CREATED, &operator::ClientSummary::of(&created, now)))
}

pub async fn disable_client(
    _admin: Admin,
    request: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let body = json_object(&request, payload, settings.server.max_body_bytes, true).await?;
    let reason = match body.get("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(reason)) => Some(reason.clone()),
        Some(_) => return Err(AppError::bad_request(ErrorCode::InvalidRequest, "reason must be a string")),
    };
    let now = state.clock.now();
    let id = client_id(id)?;
    let done =
        run_operator(&state, move |conn| operator::disable_client(conn, &id, reason.as_deref(), Actor::AdminApi, now))
            .await?;
    Ok(json_response(StatusCode::OK, &done))
}

pub async fn enable_client(
    _admin: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let id = client_id(id)?;
    let client_id = id.clone();
    run_operator(&state, move |conn| operator::enable_client(conn, &id, Actor::AdminApi, now)).await?;
    Ok(json_response(StatusCode::OK, &json!({"client_id": client_id, "status": "active"})))
}

pub async fn revoke_sessions(
    _admin: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let id = client_id(id)?;
    let client_id = id.clone();
    let revoked =
        run_operator(&state, move |conn| operator::revoke_client_sessions(conn, &id, Actor::AdminApi, now)).await?;
    Ok(json_response(StatusCode::OK, &json!({"client_id": client_id, "revoked": revoked})))
}

pub async fn delete_client(
    _admin: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let id = client_id(id)?;
    run_operator(&state, move |conn| operator::delete_client(conn, &id, Actor::AdminApi, now)).await?;
    Ok(HttpResponse::NoContent().insert_header((header::CACHE_CONTROL, "no-store")).finish())
}

pub async fn list_users(
    _admin: Admin,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let query = Query::of(&request)?;
    let (source, cursor, limit) = (query.value("source"), query.value("cursor"), query.limit()?);
    let page =
        run_operator(&state, move |conn| operator::list_users_page(conn, source.as_deref(), cursor.as_deref(), limit))
            .await?;
    Ok(json_response(StatusCode::OK, &page))
}

pub async fn show_user(
    _admin: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let user = UserRef::Id(id.into_inner());
    let detail = run_operator(&state, move |conn| operator::show_user(conn, &user)).await?;
    Ok(json_response(StatusCode::OK, &detail))
}

pub async fn disable_user(
    _admin: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let user = UserRef::Id(id.into_inner());
    let detail = run_operator(&state, move |conn| operator::disable_user(conn, &user, Actor::AdminApi, now)).await?;
    Ok(json_response(StatusCode::OK, &detail))
}

pub async fn enable_user(
    _admin: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let user = UserRef::Id(id.into_inner());
    let detail = run_operator(&state, move |conn| operator::enable_user(conn, &user, Actor::AdminApi, now)).await?;
    Ok(json_response(StatusCode::OK, &detail))
}

/// `POST /users/{id}/role` with `{"role": "admin" | "user"}`.
pub async fn set_user_role(
    _admin: Admin,
    request: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let body = json_object(&request, payload, settings.server.max_body_bytes, false).await?;
    let role = match body.get("role") {
        Some(Value::String(role)) => operator::Role::parse(role)?,
        _ => return Err(AppError::bad_request(ErrorCode::InvalidRequest, "role must be \"admin\" or \"user\"")),
    };
    let now = state.clock.now();
    let user = UserRef::Id(id.into_inner());
    let detail = run_operator(&state, move |conn| operator::set_role(conn, &user, role, Actor::AdminApi, now)).await?;
    Ok(json_response(StatusCode::OK, &detail))
}

pub async fn unlink_identity(
    _admin: Admin,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let (id, provider) = path.into_inner();
    let user = UserRef::Id(id);
    let done =
        run_operator(&state, move |conn| operator::unlink_identity(conn, &user, &provider, Actor::AdminApi, now))
            .await?;
    Ok(json_response(StatusCode::OK, &done))
}

pub async fn audit(_admin: Admin, request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let params = Query::of(&request)?;
    let query = AuditRequest {
        event: params.value("event"),
        client_id: params.value("client"),
        since: params.value("since"),
        cursor: params.value("cursor"),
        limit: params.limit()?,
    };
    let now = state.clock.now();
    let page = run_operator(&state, move |conn| operator::query_audit(conn, &query, now)).await?;
    Ok(json_response(StatusCode::OK, &page))
}

pub async fn cleanup(
    _admin: Admin,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.current();
    let dry_run = Query::of(&request)?.flag("dry_run")?;
    let now = state.clock.now();
    let report =
        state.db.run(move |conn| Ok(crate::cleanup::run(conn, &settings, now, Actor::AdminApi, dry_run))).await?;
    Ok(json_response(StatusCode::OK, &report))
}

/// A method the route does not have: the token is checked first (a stranger learns nothing
/// about which methods exist), then a JSON `method_not_allowed` with `Allow`, as at `/token`.
fn wrong_method(allow: &'static str) -> actix_web::Route {
    web::to(move |_admin: Admin| async move {
        let mut response = actix_web::ResponseError::error_response(&AppError::protocol(
            ErrorCode::MethodNotAllowed,
            "this method is not supported on this endpoint",
        ));
        response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static(allow));
        Ok::<_, AppError>(response)
    })
}

/// A path under the admin API that names nothing: after the token check, a JSON `not_found`.
async fn no_such_route(_admin: Admin) -> Result<HttpResponse, AppError> {
    Err(AppError::protocol(ErrorCode::NotFound, "no such admin API endpoint"))
}

/// Every admin route, relative to wherever the scope is mounted.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/clients")
            .route(web::get().to(list_clients))
            .route(web::post().to(add_client))
            .default_service(wrong_method("GET, POST")),
    )
    .service(
        web::resource("/clients/{id}")
            .route(web::get().to(show_client))
            .route(web::delete().to(delete_client))
            .default_service(wrong_method("GET, DELETE")),
    )
    .service(
        web::resource("/clients/{id}/disable")
            .route(web::post().to(disable_client))
            .default_service(wrong_method("POST")),
    )
    .service(
        web::resource("/clients/{id}/enable")
            .route(web::post().to(enable_client))
            .default_service(wrong_method("POST")),
    )
    .service(
        web::resource("/clients/{id}/revoke-sessions")
            .route(web::post().to(revoke_sessions))
            .default_service(wrong_method("POST")),
    )
    .service(web::resource("/users").route(web::get().to(list_users)).default_service(wrong_method("GET")))
    .service(web::resource("/users/{id}").route(web::get().to(show_user)).default_service(wrong_method("GET")))
    .service(
        web::resource("/users/{id}/disable").route(web::post().to(disable_user)).default_service(wrong_method("POST")),
    )
    .service(
        web::resource("/users/{id}/enable").route(web::post().to(enable_user)).default_service(wrong_method("POST")),
    )
    .service(
        web::resource("/users/{id}/role").route(web::post().to(set_user_role)).default_service(wrong_method("POST")),
    )
    .service(
        web::resource("/users/{id}/identities/{provider}")
            .route(web::delete().to(unlink_identity))
            .default_service(wrong_method("DELETE")),
    )
    .service(web::resource("/audit").route(web::get().to(audit)).default_service(wrong_method("GET")))
    .service(web::resource("/cleanup").route(web::post().to(cleanup)).default_service(wrong_method("POST")))
    .default_service(web::to(no_such_route));
}
