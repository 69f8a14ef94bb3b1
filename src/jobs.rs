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
