//! `serve`, `migrate` and `healthcheck` (SPEC §1, §3): opening and migrating the database, the
//! server's start-up, and the container health check against `/healthz`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::SystemClock;
use crate::config::{ConfigSource, DatabaseSettings, Settings};
use crate::db::{mask_password, Db};
use crate::keys::at_rest::{self, KeySource};
use crate::keys::cipher::KeyCipher;
use crate::state::AppState;
use crate::{http, jobs, paths};

/// Connect to the database and run pending migrations (blocking: call off the async workers).
pub fn open_database(settings: &Settings) -> Result<Db, String> {
    let database = &settings.database;
    migrated(database, Db::connect(&database.url, database.pool_size, database.connect_timeout_ms))
}

/// As `open_database`, plus the key that encrypts its signing keys (SPEC §11), for `serve`. On
/// PostgreSQL without a key this refuses before touching the database.
pub fn open_database_with_keys(settings: &Settings) -> Result<(Db, KeyCipher), String> {
    KeySource::from_settings(settings)?;
    let db = open_database(settings)?;
    let mut conn = db.get().map_err(|e| format!("cannot open the database: {e}"))?;
    let cipher = at_rest::unlock(settings, &mut conn)?;
    drop(conn);
    Ok((db, cipher))
}

/// The database for a one-shot CLI command: a single connection, nothing left running at exit.
pub fn open_command_database(settings: &Settings) -> Result<Db, String> {
    let database = &settings.database;
    migrated(database, Db::connect_single(&database.url, database.connect_timeout_ms))
}

fn migrated(database: &DatabaseSettings, opened: Result<Db, String>) -> Result<Db, String> {
    let db = opened.map_err(|e| format!("cannot open the database {}: {e}", mask_password(&database.url)))?;
    let ran = db.migrate().map_err(|e| format!("database migration failed: {e}"))?;
    if ran > 0 {
        tracing::info!(migrations = ran, "database migrated");
    }
    Ok(db)
}

pub fn migrate(settings: &Settings) -> Result<(), String> {
    open_command_database(settings).map(|_| ())
}

pub fn serve(source: ConfigSource, settings: Settings) -> Result<(), String> {
    for warning in super::config::warnings(&settings) {
        tracing::warn!("{warning}");
    }
    actix_web::rt::System::new().block_on(async move {
        let for_db = settings.clone();
        let (db, key_cipher) = tokio::task::spawn_blocking(move || open_database_with_keys(&for_db))
            .await
            .map_err(|e| format!("start-up failed: {e}"))??;
        let listener = TcpListener::bind(&settings.server.bind)
            .map_err(|e| format!("cannot listen on {}: {e}", settings.server.bind))?;
        tracing::info!(bind = %settings.server.bind, issuer = %settings.issuer, dcr = settings.dcr.enabled, "gatehouse listening");
        let state = AppState::new(settings, db, Arc::new(SystemClock), key_cipher);
        if !state.reload_keys().await {
            return Err("cannot load the signing keys (see the log)".into());
        }
        jobs::spawn_key_reloader(state.clone());
        jobs::spawn_cleanup(state.clone());
        jobs::spawn_purge(state.clone());
        crate::reload::spawn_watcher(state.clone(), source).map_err(|e| format!("cannot watch for SIGHUP: {e}"))?;
        let admin_listener = match settings_admin_bind(&state) {
            Some(bind) => Some(TcpListener::bind(&bind).map_err(|e| format!("cannot listen on admin.bind {bind}: {e}"))?),
            None => None,
        };
        let with_admin = admin_listener.is_none();
        let server = http::start(state.clone(), listener, with_admin, None).map_err(|e| format!("cannot start the server: {e}"))?;
        match admin_listener {
            Some(admin_listener) => {
                let admin = http::start_admin(state, admin_listener).map_err(|e| format!("cannot start the admin server: {e}"))?;
                let (public, admin) = futures_util::future::join(server, admin).await;
                public.and(admin).map_err(|e| format!("server failed: {e}"))?;
            }
            None => server.await.map_err(|e| format!("server failed: {e}"))?,
        }
        tracing::info!("gatehouse stopped");
        Ok(())
    })
}

fn settings_admin_bind(state: &AppState) -> Option<String> {
    let bind = state.settings.current().admin.bind.clone();
    (!bind.is_empty()).then_some(bind)
}

/// GET /healthz on the configured bind address (0.0.0.0 / [::] meaning this machine).
pub fn healthcheck(bind: &str) -> Result<(), String> {
    let mut addr: SocketAddr = bind.parse().map_err(|e| format!("server.bind: {e}"))?;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() { [127, 0, 0, 1].into() } else { std::net::Ipv6Addr::LOCALHOST.into() });
    }
    let timeout = Duration::from_secs(3);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    write!(stream, "GET {} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n", paths::HEALTHZ)
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
    let status_line = response.lines().next().unwrap_or("");
    if status_line.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("unhealthy: {status_line}"))
    }
}
