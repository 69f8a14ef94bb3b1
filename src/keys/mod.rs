//! Signing keys at run time: created on first start (one active key, even with replicas racing),
//! rotated by the operator (published before it signs), reloaded by every replica at least every
//! `KEY_RELOAD_SECS`, and held in memory behind a swappable handle. Private keys are stored
//! encrypted (SPEC §11: `cipher` seals them, `at_rest` finds the key that does); plaintext ones
//! from older versions are encrypted when loaded. `jwt` signs with them. Two algorithms live
//! side by side, each with its own active key and the same life cycle: ES256 (access tokens,
//! and id_tokens for clients that ask for it) and RS256 (id_tokens, SPEC §10); every published
//! key of either is in the one JWKS.

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
use jwt::{RsaSigningKey, SigningKey, VerifyingKey, ES256, RS256};

/// Every algorithm that has a key, in the order keys are made.
const ALGORITHMS: [&str; 2] = [ES256, RS256];

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
    /// ES256: access tokens, and id_tokens of clients that registered ES256.
    pub signing: SigningKey,
    /// RS256: id_tokens.
    pub id_token_rs256: RsaSigningKey,
    /// Every published ES256 key: Gatehouse's own access tokens verify against these.
    pub verifying: Vec<VerifyingKey>,
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

fn new_key_row(
    algorithm: &str,
    status: &str,
    now: i64,
    activates_at: i64,
    cipher: &KeyCipher,
) -> Result<KeyRow, KeyError> {
    let generated = if algorithm == RS256 { jwt::generate_rs256_key()? } else { jwt::generate_es256_key()? };
    let private_key =
        cipher.seal(&generated.kid, &generated.pkcs8_der).map_err(|e| KeyError::Sealed(generated.kid.clone(), e))?;
    Ok(KeyRow {
        kid: generated.kid.clone(),
        algorithm: algorithm.into(),
        private_key,
        public_jwk: generated.public_jwk.to_string(),
        status: status.into(),
        created_at: now,
        activates_at,
        retire_at: None,
    })
}

/// Create the first key of each algorithm when there is none (an RS256 key appears on the first
/// start after the upgrade that added it). Two replicas racing: the unique index on the active
/// key of an algorithm lets one insert win; the other finds it.
fn ensure_active(conn: &mut DbConnection, now: i64, cipher: &KeyCipher) -> Result<(), KeyError> {
    for algorithm in ALGORITHMS {
        ensure_active_of(conn, algorithm, now, cipher)?;
    }
    Ok(())
}

fn ensure_active_of(conn: &mut DbConnection, algorithm: &str, now: i64, cipher: &KeyCipher) -> Result<(), KeyError> {
    if keys::active(conn, algorithm)?.is_some() {
        return Ok(());
    }
    let row = new_key_row(algorithm, keys::ACTIVE, now, now, cipher)?;
    let created = write_tx(conn, |conn| {
        if keys::active(conn, algorithm)?.is_some() {
            return Ok(false);
        }
        keys::insert(conn, &row)?;
        Ok::<_, diesel::result::Error>(true)
    });
    match created {
        Ok(true) => {
            tracing::info!(kid = %row.kid, algorithm, "created the first signing key");
            Ok(())
        }
        Ok(false) => Ok(()),
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Load (creating or promoting as due) the keys from the database. Blocking: run it on the
/// blocking pool. `token_ttl` (the longest lifetime of a token a key signs) keeps a retired key
/// published until its tokens expire.
pub fn load(conn: &mut DbConnection, now: i64, token_ttl: i64, cipher: &KeyCipher) -> Result<KeyRing, KeyError> {
    ensure_active(conn, now, cipher)?;
    for algorithm in ALGORITHMS {
        if let Some(next) = keys::next(conn, algorithm)? {
            if next.activates_at <= now {
                // Other replicas may sign with the old key until their next reload.
                let retire_at = now + token_ttl + KEY_RELOAD_SECS;
                if write_tx(conn, |conn| keys::promote(conn, &next, retire_at))? {
                    tracing::info!(kid = %next.kid, algorithm, "signing key promoted");
                }
            }
        }
    }
    keys::delete_expired(conn, now)?;
    let mut rows = keys::all(conn)?;
    at_rest::encrypt_plaintext(conn, cipher, &mut rows)?;
    let active_der = |algorithm: &str| -> Result<(String, Vec<u8>), KeyError> {
        let active = rows
            .iter()
            .find(|row| row.status == keys::ACTIVE && row.algorithm == algorithm)
            .ok_or_else(|| KeyError::Db(DbError::Unavailable(format!("no active {algorithm} signing key"))))?;
        let pkcs8 =
            cipher.open(&active.kid, &active.private_key).map_err(|e| KeyError::Sealed(active.kid.clone(), e))?;
        Ok((active.kid.clone(), pkcs8))
    };
    let (kid, pkcs8) = active_der(ES256)?;
    let signing = SigningKey::from_pkcs8(&kid, &pkcs8)?;
    let (kid, pkcs8) = active_der(RS256)?;
    let id_token_rs256 = RsaSigningKey::from_pkcs8(&kid, &pkcs8)?;
    let published: Vec<Value> = rows
        .iter()
        .filter(|row| row.status != keys::RETIRED || row.retire_at.is_some_and(|at| at >= now))
        .filter_map(|row| serde_json::from_str(&row.public_jwk).ok())
        .collect();
    let verifying = published.iter().filter_map(VerifyingKey::from_jwk).collect();
    Ok(KeyRing { signing, id_token_rs256, verifying, jwks: jwt::jwks(&published) })
}

/// `keys rotate`: a new key of each algorithm (ES256 first, then RS256), published now, signing
/// after `PUBLICATION_DELAY_SECS`; one audit row names both.
pub fn rotate(conn: &mut DbConnection, now: i64, actor: Actor, cipher: &KeyCipher) -> Result<Vec<KeyRow>, KeyError> {
    ensure_active(conn, now, cipher)?;
    let rows = ALGORITHMS
        .iter()
        .map(|algorithm| new_key_row(algorithm, keys::NEXT, now, now + PUBLICATION_DELAY_SECS, cipher))
        .collect::<Result<Vec<_>, _>>()?;
    write_tx(conn, |conn| {
        if let Some(pending) = keys::any_next(conn)? {
            return Err(KeyError::RotationPending(pending.kid, crate::clock::rfc3339(pending.activates_at)));
        }
        for row in &rows {
            keys::insert(conn, row)?;
        }
        let kids: Vec<&str> = rows.iter().map(|row| row.kid.as_str()).collect();
        audit::record(
            conn,
            now,
            &AuditRecord::new(
                audit::event::KEYS_ROTATED,
                actor,
                serde_json::json!({"kid": kids[0], "kids": kids, "activates_at": now + PUBLICATION_DELAY_SECS}),
            ),
        )?;
        Ok(rows.clone())
    })
}
