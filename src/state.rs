//! What every request handler and background job shares.

use crate::clock::SharedClock;
use crate::config::SettingsHandle;
use crate::db::Db;
use crate::keys::Keys;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub settings: SettingsHandle,
    pub db: Db,
    pub clock: SharedClock,
    pub metrics: Metrics,
    pub keys: Keys,
    /// Encrypts and decrypts the signing keys at rest (SPEC §11); unlocked before start.
    pub key_cipher: std::sync::Arc<crate::keys::cipher::KeyCipher>,
    /// Shared HTTP client of the policy webhook.
    pub webhook: reqwest::Client,
    /// Client ID Metadata Documents: fetcher and caches.
    pub cimd: std::sync::Arc<crate::cimd::documents::Cimd>,
    /// The sign-in password checks, bounded (SPEC §11).
    pub passwords: std::sync::Arc<crate::password::PasswordChecks>,
    /// Calls to upstream identity providers, with their discovery and JWKS caches (SPEC §9).
    pub upstream: std::sync::Arc<crate::identity::upstream::Upstream>,
}

impl AppState {
    pub fn new(
        settings: crate::config::Settings,
        db: Db,
        clock: SharedClock,
        key_cipher: crate::keys::cipher::KeyCipher,
    ) -> AppState {
        let checks = crate::password::concurrent_checks(settings.login.max_concurrent_password_checks);
        let passwords = std::sync::Arc::new(crate::password::PasswordChecks::new(checks));
        let upstream = std::sync::Arc::new(crate::identity::upstream::Upstream::new(&settings.login));
        AppState {
            upstream,
            settings: SettingsHandle::new(settings),
            db,
            clock,
            metrics: Metrics::new(),
            keys: Keys::default(),
            key_cipher: std::sync::Arc::new(key_cipher),
            webhook: crate::registration::webhook::client(),
            cimd: std::sync::Arc::new(crate::cimd::documents::Cimd::new()),
            passwords,
        }
    }

    /// Reload the signing keys (creating or promoting as due). Errors are logged; the keys
    /// already loaded stay in use.
    pub async fn reload_keys(&self) -> bool {
        let now = self.clock.now();
        let ttl = self.settings.current().tokens.longest_token_ttl_secs();
        let cipher = self.key_cipher.clone();
        let loaded = self
            .db
            .run(move |conn| {
                crate::keys::load(conn, now, ttl, &cipher).map_err(|e| crate::db::DbError::Unavailable(e.to_string()))
            })
            .await;
        match loaded {
            Ok(ring) => {
                self.keys.replace(ring);
                true
            }
            Err(error) => {
                tracing::warn!(%error, "could not load the signing keys");
                false
            }
        }
    }
}
