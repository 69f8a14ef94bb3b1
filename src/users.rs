//! Local accounts: creation, argon2id password hashing and verification. Hashing is slow by
//! design, so callers on the async side run these on the blocking pool.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use ring::rand::{SecureRandom, SystemRandom};

use crate::db::{write_tx, DbConnection, DbError};
use crate::secrets;
use crate::store::audit::{self, Actor, AuditRecord};
use crate::store::users::{self, UserRow, STATUS_ACTIVE};

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0:?} is not an email address")]
    InvalidEmail(String),
    #[error("the password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")]
    WeakPassword,
    #[error("a user with the email {0:?} already exists")]
    Exists(String),
    #[error("no user with the email {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

impl From<diesel::result::Error> for UserError {
    fn from(e: diesel::result::Error) -> Self {
        UserError::Db(DbError::Query(e))
    }
}

/// argon2id with a salt from ring's generator; returns the PHC string.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    let mut salt = [0u8; 16];
    SystemRandom::new().fill(&mut salt).map_err(|_| UserError::Hashing("random salt".into()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| UserError::Hashing(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| UserError::Hashing(e.to_string()))
}

/// Constant-time verification against a stored PHC string (false for an unreadable hash).
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified for unknown emails so that "no such user" takes as
/// long as "wrong password" (no timing oracle).
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&secrets::random_token(24)).unwrap_or_default())
}

pub fn check_email(email: &str) -> Result<String, UserError> {
    let email = email.trim();
    let valid = email.len() <= 320
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email.to_string())
    } else {
        Err(UserError::InvalidEmail(email.to_string()))
    }
}

pub fn check_password(password: &str) -> Result<(), UserError> {
    let length = password.chars().count();
    if (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&length) {
        Ok(())
    } else {
        Err(UserError::WeakPassword)
    }
}

/// Create a user (hashing included: call off the async workers). Audited `user.created`.
pub fn add_user(
    conn: &mut DbConnection,
    email: &str,
    password: &str,
    actor: Actor,
    now: i64,
) -> Result<UserRow, UserError> {
    let email = check_email(email)?;
    check_password(password)?;
    let password_hash = hash_password(password)?;
    let row = UserRow {
        user_id: format!("usr_{}", secrets::random_token(12)),
        email_lower: email.to_lowercase(),
        email,
        password_hash,
        status: STATUS_ACTIVE.into(),
        created_at: now,
        updated_at: now,
    };
    write_tx(conn, |conn| {
        if users::find_by_email(conn, &row.email)?.is_some() {
            return Err(UserError::Exists(row.email.clone()));
        }
        users::insert(conn, &row)?;
        audit::record(
            conn,
            now,
            &AuditRecord {
                event: audit::event::USER_CREATED,
                actor,
                client_id: None,
                address: None,
                user_agent: None,
                detail: serde_json::json!({"user_id": row.user_id, "email": row.email}),
            },
        )?;
        Ok(row.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("wrong horse", &a));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn email_and_password_checks() {
        assert!(check_email("a@example.com").is_ok());
        assert!(check_email("nope").is_err());
        assert!(check_email("a b@example.com").is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
    }
}
