//! The key that encrypts signing keys at rest (SPEC §11): AES-256-GCM through ring, the `kid` as
//! associated data, a fresh 96-bit nonce from the system RNG per encryption stored in front of
//! the ciphertext, all base64 behind a `v1:` prefix. Where the key comes from is `at_rest`'s.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

/// What an encrypted private key starts with (the format's version).
pub const PREFIX: &str = "v1:";
/// Bytes of an AES-256 key.
pub const KEY_LEN: usize = 32;
/// How to make a key, for messages.
pub(super) const HOW_TO_MAKE_ONE: &str = "`gatehouse keys generate-encryption-key` prints one";

/// The key that encrypts and decrypts signing keys. `Debug` never shows it.
pub struct KeyCipher {
    key: LessSafeKey,
}

impl std::fmt::Debug for KeyCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCipher(********)")
    }
}

/// Why a private key could not be sealed or opened. The texts name no key material.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the private key is not encrypted (no {PREFIX} prefix)")]
    NotEncrypted,
    #[error("the private key cannot be decrypted with this encryption key (another key, or altered data)")]
    Open,
    #[error("encrypting the private key failed")]
    Seal,
}

impl KeyCipher {
    /// A cipher over 32 key bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<KeyCipher, String> {
        if bytes.len() != KEY_LEN {
            return Err(format!(
                "must be {KEY_LEN} random bytes in base64, found {} bytes ({HOW_TO_MAKE_ONE})",
                bytes.len()
            ));
        }
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| "not a usable AES-256 key".to_string())?;
        Ok(KeyCipher { key: LessSafeKey::new(key) })
    }

    /// A cipher over a base64 key (standard or URL-safe alphabet, padding optional; surrounding
    /// whitespace such as a file's final newline ignored).
    pub fn from_base64(text: &str) -> Result<KeyCipher, String> {
        let text = text.trim();
        let bytes = [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or_else(|| {
                format!("must be {KEY_LEN} random bytes in base64, and is not base64 ({HOW_TO_MAKE_ONE})")
            })?;
        KeyCipher::from_bytes(&bytes)
    }

    /// `v1:` + base64(nonce ‖ ciphertext ‖ tag), with `kid` as associated data (a ciphertext
    /// moved to another row does not open).
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| SealError::Seal)?;
        let mut sealed = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(kid.as_bytes()), &mut sealed)
            .map_err(|_| SealError::Seal)?;
        let mut stored = Vec::with_capacity(NONCE_LEN + sealed.len());
        stored.extend_from_slice(&nonce);
        stored.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(stored)))
    }

    /// The plaintext of a value made by [`KeyCipher::seal`] for the same `kid`.
    pub fn open(&self, kid: &str, stored: &str) -> Result<Vec<u8>, SealError> {
        let encoded = stored.strip_prefix(PREFIX).ok_or(SealError::NotEncrypted)?;
        let mut bytes = STANDARD.decode(encoded).map_err(|_| SealError::Open)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let mut sealed = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| SealError::Open)?;
        let plaintext =
            self.key.open_in_place(nonce, Aad::from(kid.as_bytes()), &mut sealed).map_err(|_| SealError::Open)?;
        Ok(plaintext.to_vec())
    }
}

/// Whether a stored private key is encrypted (anything else is a plaintext key from a version
/// before encryption at rest).
pub fn is_encrypted(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// A new key: 32 bytes from the system RNG, base64 (44 characters).
pub fn generate_key() -> Result<String, String> {
    let mut bytes = [0u8; KEY_LEN];
    SystemRandom::new().fill(&mut bytes).map_err(|_| "the system random number generator failed".to_string())?;
    Ok(STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> KeyCipher {
        KeyCipher::from_base64(&generate_key().unwrap()).unwrap()
    }

    #[test]
    fn sealed_keys_open_with_the_same_key_and_kid_only() {
        let a = cipher();
        let sealed = a.seal("kid-1", b"private key bytes").unwrap();
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("private key bytes"));
        assert_eq!(a.open("kid-1", &sealed).unwrap(), b"private key bytes");
        assert!(matches!(a.open("kid-2", &sealed), Err(SealError::Open)), "the kid is bound");
        assert!(matches!(cipher().open("kid-1", &sealed), Err(SealError::Open)), "another key fails");
        assert!(matches!(a.open("kid-1", "cHJpdmF0ZQ=="), Err(SealError::NotEncrypted)));
        assert!(matches!(a.open("kid-1", "v1:AAAA"), Err(SealError::Open)));
        assert!(matches!(a.open("kid-1", "v1:!!"), Err(SealError::Open)));
    }

    #[test]
    fn every_encryption_has_a_fresh_nonce() {
        let a = cipher();
        let one = a.seal("k", b"same").unwrap();
        let two = a.seal("k", b"same").unwrap();
        assert_ne!(one, two);
        let nonce = |s: &str| STANDARD.decode(&s[3..]).unwrap()[..NONCE_LEN].to_vec();
        assert_ne!(nonce(&one), nonce(&two));
    }

    #[test]
    fn altered_ciphertext_does_not_open() {
        let a = cipher();
        let sealed = a.seal("k", b"secret").unwrap();
        let mut bytes = STANDARD.decode(&sealed[3..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(a.open("k", &format!("v1:{}", STANDARD.encode(bytes))).is_err());
    }

    #[test]
    fn keys_are_32_bytes_of_base64() {
        let key = generate_key().unwrap();
        assert_eq!(key.len(), 44);
        assert_ne!(key, generate_key().unwrap());
        assert!(KeyCipher::from_base64(&format!("  {key}\n")).is_ok(), "a file's newline is fine");
        let url_safe = URL_SAFE_NO_PAD.encode(STANDARD.decode(&key).unwrap());
        assert!(KeyCipher::from_base64(&url_safe).is_ok());
        let short = KeyCipher::from_base64(&STANDARD.encode([7u8; 16])).unwrap_err();
        assert!(short.contains("found 16 bytes"), "{short}");
        let garbage = KeyCipher::from_base64("not a key!").unwrap_err();
        assert!(garbage.contains("not base64") && !garbage.contains("not a key!"), "{garbage}");
    }
}
