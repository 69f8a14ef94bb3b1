//! Live reload (SPEC §2): on SIGHUP or a change of the file's modification time (polled by
//! path: editors and `sed -i` replace the file), rebuild defaults → file → environment,
//! validate, and swap the settings atomically. An invalid file is logged with the start-up
//! messages and the running settings stay. Keys that need a restart are reported, not applied.

use std::time::{Duration, SystemTime};

use serde_json::json;

use crate::config::{ConfigSource, Settings};
use crate::state::AppState;
use crate::store::audit::{self, event, Actor, AuditRecord};

/// How often the file's modification time is checked.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Keys a running process cannot change (listeners and the pool are built at start).
const RESTART_KEYS: &[&str] = &[
    "server.bind",
    "admin.bind",
    "database.url",
    "keys.encryption_key",
    "keys.encryption_key_file",
    "keys.encryption_key_env",
    "login.max_concurrent_password_checks",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    Unchanged,
    Applied { changed: Vec<String>, restart_required: Vec<String> },
    Invalid(Vec<String>),
}

/// Every key whose value differs, as dotted paths.
pub fn changed_keys(old: &Settings, new: &Settings) -> Vec<String> {
    fn flatten(value: &toml::Value, prefix: &str, out: &mut Vec<(String, toml::Value)>) {
        match value {
            toml::Value::Table(table) => {
                for (key, child) in table {
                    let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    flatten(child, &path, out);
                }
            }
            other => out.push((prefix.to_string(), other.clone())),
        }
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    if let (Ok(old), Ok(new)) = (toml::Value::try_from(old), toml::Value::try_from(new)) {
        flatten(&old, "", &mut a);
        flatten(&new, "", &mut b);
    }
    let mut changed: Vec<String> = b
        .iter()
        .filter(|(key, value)| a.iter().find(|(k, _)| k == key).map(|(_, v)| v) != Some(value))
        .map(|(k, _)| k.clone())
        .collect();
    // The logo's bytes are read, not written in the file: a new logo under the same name is a
    // change too.
    const LOGO_KEY: &str = "branding.logo_file";
    if old.branding.logo != new.branding.logo && !changed.iter().any(|k| k == LOGO_KEY) {
        changed.push(LOGO_KEY.to_string());
    }
    changed
}

/// Keep the running values of keys that need a restart; returns the ones that were asked to change.
fn hold_restart_keys(current: &Settings, next: &mut Settings, changed: &[String]) -> Vec<String> {
    let mut held = Vec::new();
    for key in RESTART_KEYS {
        if changed.iter().any(|k| k == key) {
            held.push(key.to_string());
        }
    }
    next.server.bind = current.server.bind.clone();
    next.admin.bind = current.admin.bind.clone();
    next.database.url = current.database.url.clone();
    // The signing keys were unlocked with the key named at start.
    next.keys = current.keys.clone();
    // The password-check threads are started with the process.
    next.login.max_concurrent_password_checks = current.login.max_concurrent_password_checks;
    // Routes are built under the issuer's path at start: a new path needs a restart too.
    if next.issuer_path() != current.issuer_path() {
        held.push("issuer".into());
        next.issuer = current.issuer.clone();
    }
    held
}

/// Reload once.
pub async fn reload(state: &AppState, source: &ConfigSource) -> ReloadOutcome {
    let mut next = match source.load() {
        Ok(settings) => settings,
        Err(error) => {
            let lines = error.lines();
            for line in &lines {
                tracing::error!(problem = %line, "configuration reload refused; the running settings stay");
            }
            return ReloadOutcome::Invalid(lines);
        }
    };
    // Even when nothing else changed: a certificate may have been replaced under the same path.
    state.cimd.rebuild_fetcher();
    state.upstream.rebuild(&next.login);
    let current = state.settings.current();
    let requested = changed_keys(&current, &next);
    let restart_required = hold_restart_keys(&current, &mut next, &requested);
    for key in &restart_required {
        tracing::warn!(key = %key, "configuration change needs a restart; not applied");
    }
    let changed = changed_keys(&current, &next);
    if changed.is_empty() && restart_required.is_empty() {
        return ReloadOutcome::Unchanged;
    }
    state.settings.replace(next);
    tracing::info!(changed = ?changed, "configuration reloaded");
    // Key names only: values may be secrets.
    let record = AuditRecord::new(
        event::CONFIG_RELOADED,
        Actor::System,
        json!({"changed": changed, "restart_required": restart_required}),
    );
    let now = state.clock.now();
    if let Err(error) = state.db.run(move |conn| Ok(audit::record(conn, now, &record)?)).await {
        tracing::warn!(%error, "could not audit the configuration reload");
    }
    ReloadOutcome::Applied { changed, restart_required }
}

fn modified(source: &ConfigSource) -> Option<SystemTime> {
    std::fs::metadata(&source.path).and_then(|m| m.modified()).ok()
}

/// Watch for SIGHUP and for changes of the file's modification time. The SIGHUP handler is
/// installed before this returns.
pub fn spawn_watcher(state: AppState, source: ConfigSource) -> std::io::Result<()> {
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    actix_web::rt::spawn(async move {
        let mut last_modified = modified(&source);
        let mut poll = actix_web::rt::time::interval(POLL_INTERVAL);
        loop {
            let by_signal = tokio::select! {
                _ = hangup.recv() => true,
                _ = poll.tick() => false,
            };
            let now_modified = modified(&source);
            if by_signal || now_modified != last_modified {
                last_modified = now_modified;
                reload(&state, &source).await;
            }
        }
    });
    Ok(())
}
