//! Operator controls over signing keys (SPEC §5, §6 `keys list`, `keys rotate`), over the key
//! life cycle in `crate::keys`.

use super::Result;
use crate::db::DbConnection;
use crate::keys::cipher::KeyCipher;
use crate::store::audit::Actor;
use crate::store::keys::{self, KeyRow};

/// Every stored key. Loading first creates the first key or promotes a due rotation, as a
/// server would.
pub fn list_keys(conn: &mut DbConnection, now: i64, access_token_ttl: i64, cipher: &KeyCipher) -> Result<Vec<KeyRow>> {
    crate::keys::load(conn, now, access_token_ttl, cipher)?;
    Ok(keys::all(conn)?)
}

/// A new key of each algorithm, published now, signing once every replica and cache has seen it.
pub fn rotate_key(conn: &mut DbConnection, now: i64, actor: Actor, cipher: &KeyCipher) -> Result<Vec<KeyRow>> {
    Ok(crate::keys::rotate(conn, now, actor, cipher)?)
}
