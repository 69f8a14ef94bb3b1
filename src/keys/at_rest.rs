//! Where the key that encrypts signing keys at rest comes from (SPEC §11; the cipher is
//! `keys::cipher`). The key (32 random bytes, base64) comes from
//! `keys.encryption_key`, `keys.encryption_key_file` or `keys.encryption_key_env`; without any,
//! from `keys.secret` beside the SQLite file, and on PostgreSQL there is none (start-up stops
//! and says how to make one). A key file that does not exist is created (0600) only while the
//! database holds no encrypted key: a missing or wrong key beside encrypted keys is a start-up
//! error, never a silently new key.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::cipher::{generate_key, is_encrypted, KeyCipher, SealError};
use crate::config::Settings;
use crate::db::{DatabaseUrl, DbConnection};
use crate::store::keys::{self as stored_keys, KeyRow};

/// The default key file's name, beside the SQLite database file.
pub const DEFAULT_FILE_NAME: &str = "keys.secret";

/// Where this process takes the encryption key from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `keys.encryption_key`.
    Inline,
    /// `keys.encryption_key_env`: the variable's name.
    Env(String),
    /// `keys.encryption_key_file`, or (`default`) `keys.secret` beside the SQLite file.
    File { path: PathBuf, default: bool },
}

impl KeySource {
    /// From the settings alone (no database access): on PostgreSQL without a key configured,
    /// the refusal that says how to make one.
    pub fn from_settings(settings: &Settings) -> Result<KeySource, String> {
        let keys = &settings.keys;
        if !keys.encryption_key.is_empty() {
            return Ok(KeySource::Inline);
        }
        if !keys.encryption_key_env.is_empty() {
            return Ok(KeySource::Env(keys.encryption_key_env.clone()));
        }
        if !keys.encryption_key_file.is_empty() {
            return Ok(KeySource::File { path: PathBuf::from(&keys.encryption_key_file), default: false });
        }
        match DatabaseUrl::parse(&settings.database.url) {
            Ok(DatabaseUrl::Sqlite(database)) => {
                Ok(KeySource::File { path: database.with_file_name(DEFAULT_FILE_NAME), default: true })
            }
            Ok(DatabaseUrl::Postgres(_)) => Err(String::from(
                "no key to encrypt the signing keys with: on PostgreSQL, set keys.encryption_key_file, \
                 keys.encryption_key_env or keys.encryption_key (32 random bytes, base64). For example \
                 `gatehouse keys generate-encryption-key > /secure/place/keys.secret`, `chmod 600` it, and set \
                 keys.encryption_key_file = \"/secure/place/keys.secret\" (or GATEHOUSE__KEYS__ENCRYPTION_KEY_FILE); \
                 a named file that does not exist yet is created at the first start. Keep it apart from the \
                 database and its backups, and give every replica the same key",
            )),
            Err(why) => Err(format!("database.url: {why}")),
        }
    }

    /// The setting (and file or variable) the key comes from, for messages.
    pub fn describe(&self) -> String {
        match self {
            KeySource::Inline => "keys.encryption_key".into(),
            KeySource::Env(name) => format!("keys.encryption_key_env (variable {name})"),
            KeySource::File { path, default: false } => format!("keys.encryption_key_file {}", path.display()),
            KeySource::File { path, default: true } => {
                format!("the key file {} (the default beside the SQLite database)", path.display())
            }
        }
    }
}

/// The encryption key for this database, ready for use (blocking: files and the database).
/// Reads (or, while the database holds no encrypted key, creates) the key, and checks that it
/// opens every encrypted signing key stored: a wrong or missing key is an error that says so.
pub fn unlock(settings: &Settings, conn: &mut DbConnection) -> Result<KeyCipher, String> {
    let source = KeySource::from_settings(settings)?;
    let rows = stored_keys::all(conn).map_err(|e| format!("cannot read the signing keys: {e}"))?;
    let encrypted: Vec<&KeyRow> = rows.iter().filter(|row| is_encrypted(&row.private_key)).collect();
    let cipher = match &source {
        KeySource::Inline => KeyCipher::from_base64(&settings.keys.encryption_key),
        KeySource::Env(name) => match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => KeyCipher::from_base64(&value),
            _ => Err(format!("the environment variable {name} is not set")),
        },
        KeySource::File { path, .. } => read_or_create(path, &encrypted),
    }
    .map_err(|why| format!("{}: {why}", source.describe()))?;
    for row in &encrypted {
        if cipher.open(&row.kid, &row.private_key).is_err() {
            return Err(format!(
                "{} does not decrypt the signing key {} stored in the database: it is not the key the signing \
                 keys were encrypted with (another file, another replica's key, or a changed setting). Configure \
                 the key used before; Gatehouse does not replace it with a new one",
                source.describe(),
                row.kid
            ));
        }
    }
    Ok(cipher)
}

/// The key in `path`; when the file does not exist and no key is encrypted yet, a new key
/// written there first.
fn read_or_create(path: &Path, encrypted: &[&KeyRow]) -> Result<KeyCipher, String> {
    match fs::read_to_string(path) {
        Ok(text) => return KeyCipher::from_base64(&text),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read the file: {e}")),
    }
    if let Some(row) = encrypted.first() {
        return Err(format!(
            "the file does not exist, but the database holds {} signing key(s) encrypted with the key it held \
             (kid {}). Restore the file, or point keys.encryption_key_file at it; Gatehouse does not make a new \
             key in its place, because the stored signing keys could not be read with it",
            encrypted.len(),
            row.kid
        ));
    }
    create_key_file(path)?;
    // Read back: a replica starting at the same moment may have created it first.
    let text = fs::read_to_string(path).map_err(|e| format!("cannot read the file just created: {e}"))?;
    KeyCipher::from_base64(&text)
}

/// Write a new key to `path` (mode 0600), never over an existing file. The key is written under
/// a temporary name and linked into place, so a process starting at the same moment finds no
/// file or the whole key, never half of one.
fn create_key_file(path: &Path) -> Result<(), String> {
    let key = generate_key()?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| DEFAULT_FILE_NAME.into());
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", crate::secrets::random_token(6)));
    let write = |target: &Path| -> std::io::Result<()> {
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(target)?;
        file.write_all(format!("{key}\n").as_bytes())?;
        file.sync_all()
    };
    write(&temporary).map_err(|e| format!("cannot create the key file: {e}"))?;
    let linked = fs::hard_link(&temporary, path);
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(()),
        // A file system without hard links: create it in place (still never over a file).
        Err(_) => match write(path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(()),
            Err(e) => return Err(format!("cannot create the key file: {e}")),
        },
    }
    tracing::info!(path = %path.display(), "created the key that encrypts the signing keys; keep it apart from the database's backups");
    Ok(())
}

/// Encrypt the plaintext private keys among `rows` (from versions before encryption at rest),
/// in the database and in `rows`. The update is conditional on the old value, so replicas doing
/// this at once do not overwrite each other.
pub fn encrypt_plaintext(
    conn: &mut DbConnection,
    cipher: &KeyCipher,
    rows: &mut [KeyRow],
) -> Result<usize, EncryptError> {
    let mut encrypted = 0;
    for row in rows.iter_mut().filter(|row| !is_encrypted(&row.private_key)) {
        let der = STANDARD.decode(row.private_key.trim()).map_err(|_| EncryptError::Unreadable(row.kid.clone()))?;
        let sealed = cipher.seal(&row.kid, &der)?;
        if stored_keys::replace_private_key(conn, &row.kid, &row.private_key, &sealed)? {
            tracing::info!(kid = %row.kid, "signing key encrypted at rest");
            encrypted += 1;
        }
        row.private_key = sealed;
    }
    Ok(encrypted)
}

/// Why plaintext keys could not be encrypted.
#[derive(Debug, thiserror::Error)]
pub enum EncryptError {
    #[error("the plaintext signing key {0} is not base64")]
    Unreadable(String),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("database error: {0}")]
    Db(#[from] diesel::result::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_follows_the_settings_and_the_backend() {
        let mut settings = Settings::default();
        settings.database.url = "sqlite://var/db/gatehouse.db".into();
        assert_eq!(
            KeySource::from_settings(&settings).unwrap(),
            KeySource::File { path: PathBuf::from("var/db/keys.secret"), default: true }
        );
        settings.database.url = "postgres://u@h/db".into();
        let refused = KeySource::from_settings(&settings).unwrap_err();
        assert!(refused.contains("gatehouse keys generate-encryption-key"), "{refused}");
        settings.keys.encryption_key_file = "/run/secrets/gatehouse".into();
        assert_eq!(
            KeySource::from_settings(&settings).unwrap(),
            KeySource::File { path: PathBuf::from("/run/secrets/gatehouse"), default: false }
        );
        settings.keys.encryption_key_file.clear();
        settings.keys.encryption_key_env = "GATEHOUSE_KEY".into();
        assert_eq!(KeySource::from_settings(&settings).unwrap(), KeySource::Env("GATEHOUSE_KEY".into()));
    }

    #[test]
    fn a_key_file_is_created_private_and_never_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.secret");
        let first = read_or_create(&path, &[]).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim().len(), 44);
        let sealed = first.seal("k", b"x").unwrap();
        // Read again: the same key, not a new one.
        assert_eq!(read_or_create(&path, &[]).unwrap().open("k", &sealed).unwrap(), b"x");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");
    }
}
