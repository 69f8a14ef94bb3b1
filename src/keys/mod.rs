//! Signing keys at run time: created on first start (one active key, even with replicas racing),
//! rotated by the operator (published before it signs), reloaded by every replica at least every
//! `KEY_RELOAD_SECS`, and held in memory behind a swappable handle. Private keys are stored
//! encrypted (SPEC §11: `cipher` seals them, `at_rest` finds the key that does); plaintext ones
//! from older versions are encrypted when loaded. `jwt` signs with them.

pub mod at_rest;
pub mod cipher;
pub mod jwt;

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use serde_json::Value;

use crate::db::{write_tx, DbConnection, DbError};
use crate::store::audit::{self, Actor, AuditRecord};
use crate::store::keys::{self, KeyRow};
use at_rest::EncryptError;
use cipher::{KeyCipher, SealError};
use jwt::SigningKey;

/// How often every replica reloads the keys.
pub const KEY_RELOAD_SECS: i64 = 30;
/// `Cache-Control: max-age` of the JWKS document.
pub const JWKS_MAX_AGE_SECS: i64 = 300;
/// A new key signs only after every replica has reloaded and every cached JWKS has expired.
pub const PUBLICATION_DELAY_SECS: i64 = KEY_RELOAD_SECS + JWKS_MAX_AGE_SECS;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("signing key: {0}")]
    Key(#[from] jwt::JwtError),
    #[error("a rotation is already pending: key {0} starts signing at {1}")]
    RotationPending(String, String),
    #[error("signing key {0}: {1}")]
    Sealed(String, SealError),
    #[error("encrypting plaintext signing keys: {0}")]
    Encrypt(#[from] EncryptError),
}

impl From<diesel::result::Error> for KeyError {
    fn from(e: diesel::result::Error) -> Self {
        KeyError::Db(DbError::Query(e))
    }
}

/// The keys one replica uses: the one that signs, and every key it publishes.
pub struct KeyRing {
    pub signing: SigningKey,
    pub jwks: Value,
}

/// The swappable handle; empty until the first load (readiness waits for it).
#[derive(Clone, Default)]
pub struct Keys(Arc<ArcSwapOption<KeyRing>>);

impl Keys {
    pub fn current(&self) -> Option<Arc<KeyRing>> {
        self.0.load_full()
    }

    pub fn replace(&self, ring: KeyRing) {
        self.0.store(Some(Arc::new(ring)));
    }
}

fn new_key_row(status: &str, now: i64, activates_at: i64, cipher: &KeyCipher) -> Result<KeyRow, KeyError> {
    let generated = jwt::generate_es256_key()?;
    let private_key =
        cipher.seal(&generated.kid, &generated.pkcs8_der).map_err(|e| KeyError::Sealed(generated.kid.clone(), e))?;
    Ok(KeyRow {
        kid: generated.kid.clone(),
        algorithm: "ES256".into(),
        private_key,
        public_jwk: generated.public_jwk.to_string(),
        status: status.into(),
        created_at: now,
        activates_at,
        retire_at: None,
    })
}

/// Create the first key when there is none. Two replicas racing: the unique index on the active
/// key lets one insert win; the other finds it.
fn ensure_active(conn: &mut DbConnection, now: i64, cipher: &KeyCipher) -> Result<(), KeyError> {
    if keys::active(conn)?.is_some() {
        return Ok(());
    }
    let row = new_key_row(keys::ACTIVE, now, now, cipher)?;
    let created = write_tx(conn, |conn| {
        if keys::active(conn)?.is_some() {
            return Ok(false);
        }
        keys::insert(conn, &row)?;
        Ok::<_, diesel::result::Error>(true)
    });
    match created {
        Ok(true) => {
            tracing::info!(kid = %row.kid, "created the first signing key");
            Ok(())
        }
        Ok(false) => Ok(()),
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Load (creating or promoting as due) the keys from the database. Blocking: run it on the
/// blocking pool. `access_token_ttl` keeps a retired key published until its tokens expire.
pub fn load(conn: &mut DbConnection, now: i64, access_token_ttl: i64, cipher: &KeyCipher) -> Result<KeyRing, KeyError> {
    ensure_active(conn, now, cipher)?;
    if let Some(next) = keys::next(conn)? {
        if next.activates_at <= now {
            // Other replicas may sign with the old key until their next reload.
            let retire_at = now + access_token_ttl + KEY_RELOAD_SECS;
            if write_tx(conn, |conn| keys::promote(conn, &next, retire_at))? {
                tracing::info!(kid = %next.kid, "signing key promoted");
            }
        }
    }
    keys::delete_expired(conn, now)?;
    let mut rows = keys::all(conn)?;
    at_rest::encrypt_plaintext(conn, cipher, &mut rows)?;
    let active = rows
        .iter()
        .find(|row| row.status == keys::ACTIVE)
        .ok_or_else(|| KeyError::Db(DbError::Unavailable("no active signing key".into())))?;
    let pkcs8 = cipher.open(&active.kid, &active.private_key).map_err(|e| KeyError::Sealed(active.kid.clone(), e))?;
    let signing = SigningKey::from_pkcs8(&active.kid, &pkcs8)?;
    let published: Vec<Value> = rows
        .iter()
        .filter(|row| row.status != keys::RETIRED || row.retire_at.is_some_and(|at| at >= now))
        .filter_map(|row| serde_json::from_str(&row.public_jwk).ok())
        .collect();
    Ok(KeyRing { signing, jwks: jwt::jwks(&published) })
}

/// `keys rotate`: a new key, published now, signing after `PUBLICATION_DELAY_SECS`.
pub fn rotate(conn: &mut DbConnection, now: i64, actor: Actor, cipher: &KeyCipher) -> Result<KeyRow, KeyError> {
    ensure_active(conn, now, cipher)?;
    let row = new_key_row(keys::NEXT, now, now + PUBLICATION_DELAY_SECS, cipher)?;
    write_tx(conn, |conn| {
        if let Some(pending) = keys::next(conn)? {
            return Err(KeyError::RotationPending(pending.kid, crate::clock::rfc3339(pending.activates_at)));
        }
        keys::insert(conn, &row)?;
        audit::record(
            conn,
            now,
            &AuditRecord::new(
                audit::event::KEYS_ROTATED,
                actor,
                serde_json::json!({"kid": row.kid, "activates_at": row.activates_at}),
            ),
        )?;
        Ok(row.clone())
    })
}
