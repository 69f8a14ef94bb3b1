//! The HTTP surface: routing, CORS, request logging and the server itself. Handlers are thin:
//! they extract what the request says and call one service function.

mod admin;
mod assets;
mod browser;
mod dashboard;
mod health;
mod icon;
mod login_api;
mod metadata;
mod pages;
mod providers;
mod register;
mod request;
mod token;

use std::net::TcpListener;
use std::time::Instant;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, DefaultHeaders, Next};
use actix_web::{web, App, HttpResponse, HttpServer};

use crate::error::AppError;
use crate::oauth::error::ErrorCode;
use crate::paths;
use crate::state::AppState;

/// CORS for browser-hosted clients (SPEC §3): any origin, no credentials, a fixed header list.
/// Applied only to the resources the SPEC names.
fn cors() -> Cors {
    Cors::default()
        .allow_any_origin()
        .send_wildcard()
        .allowed_methods(["GET", "POST", "DELETE", "OPTIONS"])
        .allowed_headers(["content-type", "authorization", "mcp-protocol-version"])
        .max_age(86400)
}

/// A cross-origin API endpoint: CORS, and a JSON `method_not_allowed` for any method it lacks.
fn api_resource(
    path: &str,
    routes: impl FnOnce(actix_web::Resource) -> actix_web::Resource,
) -> impl actix_web::dev::HttpServiceFactory {
    routes(web::resource(path)).wrap(cors()).default_service(web::to(method_not_allowed))
}

/// A server-to-server JSON endpoint: no CORS; other methods get a JSON 405.
fn json_resource(
    path: &str,
    routes: impl FnOnce(actix_web::Resource) -> actix_web::Resource,
) -> impl actix_web::dev::HttpServiceFactory {
    routes(web::resource(path)).default_service(web::to(method_not_allowed))
}

/// Every route, under the issuer's path; health, the icon and the path-insertion forms of both
/// metadata documents also at the root. The admin API and `/metrics` are here only when they have no listener of their own.
pub fn routes(cfg: &mut web::ServiceConfig, issuer_path: &str, with_admin: bool) {
    let scoped = web::scope(issuer_path)
        .service(web::resource(paths::METADATA).wrap(cors()).route(web::get().to(metadata::metadata)))
        .service(
            web::resource(paths::OPENID_CONFIGURATION)
                .wrap(cors())
                .route(web::get().to(metadata::openid_configuration_document)),
        )
        .service(api_resource(paths::USERINFO, |r| {
            r.route(web::get().to(token::userinfo)).route(web::post().to(token::userinfo))
        }))
        .service(json_resource(paths::INTROSPECT, |r| r.route(web::post().to(token::introspect))))
        .service(api_resource(paths::REGISTER, |r| r.route(web::post().to(register::register))))
        .service(api_resource(paths::REGISTER_CLIENT, |r| {
            r.route(web::get().to(register::read)).route(web::delete().to(register::delete))
        }))
        .service(web::resource(paths::JWKS).wrap(cors()).route(web::get().to(token::jwks)))
        .service(api_resource(paths::TOKEN, |r| r.route(web::post().to(token::token))))
        .service(api_resource(paths::REVOKE, |r| r.route(web::post().to(token::revoke))))
        .service(web::resource(paths::AUTHORIZE).route(web::get().to(browser::authorize)))
        .service(
            web::resource(paths::LOGIN)
                .route(web::get().to(browser::login_form))
                .route(web::post().to(browser::login_submit)),
        )
        .service(
            web::resource(paths::CONSENT)
                .route(web::get().to(browser::consent_form))
                .route(web::post().to(browser::consent_submit)),
        )
        .service(web::resource(paths::LOGIN_PROVIDER).route(web::post().to(providers::continue_with)))
        .service(web::resource(paths::PROVIDER_CALLBACK).route(web::get().to(providers::callback)))
        .service(web::resource(paths::CONSENT_SIGN_OUT).route(web::post().to(providers::consent_sign_out)))
        .service(web::resource(paths::LOGOUT).route(web::post().to(browser::logout)))
        .service(web::resource(paths::LOGIN_APP).route(web::post().to(browser::login_at_app)))
        .service(web::resource(paths::LOGIN_APP_RETURN).route(web::get().to(browser::app_return)))
        .service(json_resource(paths::LOGIN_APP_REQUEST, |r| r.route(web::get().to(login_api::request_info))))
        .service(json_resource(paths::LOGIN_APP_ACCEPT, |r| r.route(web::post().to(login_api::accept))))
        .service(json_resource(paths::LOGIN_APP_REJECT, |r| r.route(web::post().to(login_api::reject))))
        .service(web::resource(paths::HEALTHZ).route(web::get().to(health::healthz)))
        .service(web::resource(paths::READYZ).route(web::get().to(health::readyz)))
        .service(web::resource(paths::FAVICON).route(web::get().to(icon::favicon)))
        .service(web::resource(paths::STYLESHEET).route(web::get().to(assets::stylesheet)))
        .service(web::resource(paths::LOGO).route(web::get().to(assets::logo)))
        // The dashboard (SPEC §12): always here, on the public listener beside the sign-in pages.
        .configure(dashboard::routes);
    // On the public listener `/metrics` asks for the admin token (SPEC §11); on `admin.bind`
    // (`start_admin`) it is open.
    let scoped = if with_admin {
        scoped
            .service(web::resource(paths::METRICS).route(web::get().to(admin::metrics)))
            .service(web::scope(paths::ADMIN_API).configure(admin::routes))
    } else {
        scoped
    };
    if !issuer_path.is_empty() {
        cfg.service(
            web::resource(paths::metadata_path_insertion(issuer_path))
                .wrap(cors())
                .route(web::get().to(metadata::metadata)),
        )
        .service(
            web::resource(paths::openid_configuration_path_insertion(issuer_path))
                .wrap(cors())
                .route(web::get().to(metadata::openid_configuration_document)),
        )
        .service(web::resource(paths::HEALTHZ).route(web::get().to(health::healthz)))
        .service(web::resource(paths::READYZ).route(web::get().to(health::readyz)))
        .service(web::resource(paths::FAVICON).route(web::get().to(icon::favicon)));
    }
    cfg.service(scoped);
}

async fn method_not_allowed() -> Result<HttpResponse, AppError> {
    Err(AppError::protocol(ErrorCode::MethodNotAllowed, "this method is not supported on this endpoint"))
}

/// One log line per request: method, path (never the query string: it may carry codes),
/// status and duration.
async fn log_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.path().to_string();
    let response = next.call(request).await?;
    tracing::info!(
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    Ok(response)
}

fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")).add(("X-Frame-Options", "DENY"))
}

/// Start serving on an already bound listener (the caller chooses the address; tests bind
/// port 0). Graceful shutdown on SIGTERM/SIGINT is actix's default. `with_admin`: serve the admin
/// API and `/metrics` here too (when `admin.bind` is not set).
pub fn start(
    state: AppState,
    listener: TcpListener,
    with_admin: bool,
    workers: Option<usize>,
) -> std::io::Result<Server> {
    let issuer_path = state.settings.current().issuer_path();
    let data = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(security_headers())
            .wrap(from_fn(log_request))
            .configure(|cfg| routes(cfg, &issuer_path, with_admin))
    })
    .shutdown_timeout(10)
    .listen(listener)?;
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// The admin listener (`admin.bind`): `/admin/api/…` and `/metrics` at its root, nothing else.
pub fn start_admin(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(security_headers())
            .wrap(from_fn(log_request))
            .service(web::resource(paths::METRICS).route(web::get().to(health::metrics)))
            .service(web::scope(paths::ADMIN_API).configure(admin::routes))
    })
    .shutdown_timeout(10)
    .workers(1)
    .listen(listener)?;
    Ok(server.run())
}
