//! What each subcommand does. Kept apart from `main.rs` so tests can call them.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::SystemClock;
use crate::config::{ConfigSource, Settings};
use crate::db::{mask_password, Db, DbConnection};
use crate::key_encryption::{self, KeyCipher, KeySource};
use crate::state::AppState;
use crate::store::audit::Actor;
use crate::{http, jobs, paths, rules_summary};

/// How a command failed: `Failed` exits 1, `Usage` (a command line that cannot work) exits 2.
#[derive(Debug)]
pub enum CommandError {
    Failed(String),
    Usage(String),
}

impl From<String> for CommandError {
    fn from(message: String) -> Self {
        CommandError::Failed(message)
    }
}

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
    let cipher = key_encryption::unlock(settings, &mut conn)?;
    drop(conn);
    Ok((db, cipher))
}

/// The database for a one-shot CLI command: a single connection, nothing left running at exit.
pub fn open_command_database(settings: &Settings) -> Result<Db, String> {
    let database = &settings.database;
    migrated(database, Db::connect_single(&database.url, database.connect_timeout_ms))
}

fn migrated(database: &crate::config::DatabaseSettings, opened: Result<Db, String>) -> Result<Db, String> {
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

/// `config check`: the effective settings (secrets masked), the rules in plain words, warnings.
pub fn config_check(source: &ConfigSource, settings: &Settings) -> Result<(), String> {
    let origin = if source.path.exists() {
        source.path.display().to_string()
    } else {
        format!("{} (not found; built-in defaults)", source.path.display())
    };
    println!("# configuration is valid — file: {origin}");
    println!("# effective settings (defaults ← file ← GATEHOUSE__* environment; secrets masked):\n");
    let rendered = toml::to_string_pretty(&settings.masked()).map_err(|e| e.to_string())?;
    println!("{rendered}");
    println!("# registration rules in effect:");
    for line in rules_summary::describe(settings) {
        println!("#   {line}");
    }
    let warnings = rules_summary::warnings(settings);
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    Ok(())
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

/// Run one CLI command's work on a migrated database (direct access, beside a running server).
pub fn with_connection<T>(
    settings: &Settings,
    work: impl FnOnce(&mut DbConnection) -> Result<T, CommandError>,
) -> Result<T, CommandError> {
    let db = open_command_database(settings)?;
    let mut conn = db.get().map_err(|e| e.to_string())?;
    work(&mut conn)
}

/// `users add EMAIL [--password-stdin]`.
pub fn users_add(settings: &Settings, email: &str, password_stdin: bool) -> Result<(), CommandError> {
    let password = read_new_password(password_stdin)?;
    let user = with_connection(settings, |conn| {
        Ok(crate::users::add_user(conn, email, &password, Actor::Cli, SystemClock.now_secs())
            .map_err(|e| e.to_string())?)
    })?;
    println!("created user {} ({})", user.email, user.user_id);
    Ok(())
}

/// The first line of standard input, or — only on a terminal — a prompt, twice.
pub fn read_new_password(from_stdin: bool) -> Result<String, CommandError> {
    use std::io::{BufRead, IsTerminal};
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("cannot read standard input: {e}"))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::Usage(
            "standard input is not a terminal: pass --password-stdin and write the password on its first line".into(),
        ));
    }
    let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
    let second = rpassword::prompt_password("Repeat password: ").map_err(|e| e.to_string())?;
    if first != second {
        return Err(CommandError::Failed("the passwords differ".into()));
    }
    Ok(first)
}

/// `clients add --name N --redirect-uri U…`: prints the new client id.
pub fn clients_add(settings: &Settings, name: &str, redirect_uris: &[String]) -> Result<(), CommandError> {
    let metadata = crate::clients::manual_metadata(settings, name, redirect_uris).map_err(|e| e.to_string())?;
    let client = with_connection(settings, |conn| {
        Ok(crate::clients::add_manual(conn, &metadata, Actor::Cli, SystemClock.now_secs())
            .map_err(|e| e.to_string())?)
    })?;
    println!("{}", client.client_id);
    Ok(())
}

/// `keys list`.
pub fn keys_list(settings: &Settings) -> Result<(), CommandError> {
    let rows = with_connection(settings, |conn| {
        // Loading creates the first key or promotes a due rotation, as a server would.
        let cipher = key_encryption::unlock(settings, conn)?;
        crate::keys::load(conn, SystemClock.now_secs(), settings.tokens.access_token_ttl_secs as i64, &cipher)
            .map_err(|e| e.to_string())?;
        Ok(crate::store::keys::all(conn).map_err(|e| e.to_string())?)
    })?;
    println!("{:<45} {:<8} {:<22} {:<22} RETIRE_AT", "KID", "STATUS", "CREATED", "SIGNS_FROM");
    for row in rows {
        println!(
            "{:<45} {:<8} {:<22} {:<22} {}",
            row.kid,
            row.status,
            crate::clock::rfc3339(row.created_at),
            crate::clock::rfc3339(row.activates_at),
            row.retire_at.map(crate::clock::rfc3339).unwrap_or_else(|| "-".into())
        );
    }
    Ok(())
}

/// `keys rotate`.
pub fn keys_rotate(settings: &Settings) -> Result<(), CommandError> {
    let row = with_connection(settings, |conn| {
        let cipher = key_encryption::unlock(settings, conn)?;
        Ok(crate::keys::rotate(conn, SystemClock.now_secs(), Actor::Cli, &cipher).map_err(|e| e.to_string())?)
    })?;
    println!(
        "new key {} published; it signs from {} (after every replica has reloaded and cached JWKS have expired)",
        row.kid,
        crate::clock::rfc3339(row.activates_at)
    );
    Ok(())
}

/// `keys generate-encryption-key`: a new key for `keys.encryption_key*` on standard output, one
/// line (so `> keys.secret` makes the file); nothing is stored.
pub fn keys_generate_encryption_key() -> Result<(), CommandError> {
    use std::io::IsTerminal;
    let key = key_encryption::generate_key()?;
    println!("{key}");
    if std::io::stdout().is_terminal() {
        eprintln!(
            "gatehouse: store it in a file readable only by Gatehouse (chmod 600), apart from the database and its \
             backups, and set keys.encryption_key_file to its path; every replica needs the same key"
        );
    }
    Ok(())
}
