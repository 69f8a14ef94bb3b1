//! Background jobs of a running server.

use std::time::Duration;

use crate::keys::KEY_RELOAD_SECS;
use crate::state::AppState;

/// Reload the signing keys every `KEY_RELOAD_SECS` (promoting a due rotation, picking up keys
/// another replica created). A failure keeps the keys already loaded and is retried next time.
pub fn spawn_key_reloader(state: AppState) {
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(Duration::from_secs(KEY_RELOAD_SECS as u64));
        interval.tick().await; // the first tick is immediate; the keys were loaded at start
        loop {
            interval.tick().await;
            state.reload_keys().await;
        }
    });
}

/// Purge the flow's expired leftovers — pending requests, codes, sessions, rate-limit windows —
/// every `maintenance.purge_interval_secs` (read live), whatever the DCR settings (SPEC §11):
/// `/authorize` writes a row for every stranger, so this must not wait for an opt-in cleanup.
pub fn spawn_purge(state: AppState) {
    actix_web::rt::spawn(async move {
        loop {
            let interval = state.settings.current().maintenance.purge_interval_secs.max(1);
            actix_web::rt::time::sleep(Duration::from_secs(interval)).await;
            let settings = state.settings.current();
            let now = state.clock.now();
            let result = state.db.run(move |conn| Ok(crate::cleanup::purge_expired(conn, &settings, now))).await;
            match result {
                Ok((purged, errors)) if !errors.is_empty() => {
                    tracing::warn!(?errors, ?purged, "purge of expired rows finished with errors")
                }
                Ok((purged, _)) => tracing::debug!(?purged, "expired rows purged"),
                Err(error) => tracing::warn!(%error, "purge of expired rows could not run; retrying next interval"),
            }
        }
    });
}

/// Run the cleanup every `dcr.cleanup_interval_secs` while `dcr.cleanup_enabled` (both read
/// live, so a reload changes them without a restart).
pub fn spawn_cleanup(state: AppState) {
    actix_web::rt::spawn(async move {
        loop {
            let interval = state.settings.current().dcr.cleanup_interval_secs.max(1);
            actix_web::rt::time::sleep(Duration::from_secs(interval)).await;
            let settings = state.settings.current();
            if !settings.dcr.cleanup_enabled {
                continue;
            }
            let now = state.clock.now();
            let result = state
                .db
                .run(move |conn| {
                    Ok(crate::cleanup::run(conn, &settings, now, crate::store::audit::Actor::System, false))
                })
                .await;
            match result {
                Ok(report) if !report.errors.is_empty() => {
                    tracing::warn!(errors = ?report.errors, "cleanup finished with errors")
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cleanup could not run; retrying next interval"),
            }
        }
    });
}
