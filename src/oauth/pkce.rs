//! PKCE (RFC 7636) with S256 only: the shape of a challenge and a verifier, and the check that
//! the token endpoint runs when a code is redeemed. Tested with the RFC's Appendix B example.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Exactly 43 base64url characters `[A-Za-z0-9_-]` (the S256 challenge of RFC 7636 §4.2, unpadded).
pub fn is_valid_code_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// 43 to 128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
pub fn is_valid_code_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// BASE64URL-NOPAD(SHA256(ASCII(verifier))).
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()))
}

/// The verifier is valid and its S256 challenge equals `challenge` (compared in constant time; the length is
/// not secret).
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    if !is_valid_code_verifier(verifier) {
        return false;
    }
    crate::secrets::constant_time_eq(&s256_challenge(verifier), challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    #[test]
    fn rfc7636_appendix_b() {
        assert_eq!(s256_challenge(VERIFIER), CHALLENGE);
        assert!(verify_s256(VERIFIER, CHALLENGE));
        assert!(!verify_s256(VERIFIER, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
        assert!(!verify_s256(VERIFIER, &CHALLENGE[..42]));
        assert!(!verify_s256(VERIFIER, ""));
    }

    #[test]
    fn verifier_lengths_and_charset() {
        assert!(!is_valid_code_verifier(&"a".repeat(42)));
        assert!(is_valid_code_verifier(&"a".repeat(43)));
        assert!(is_valid_code_verifier(&"a".repeat(128)));
        assert!(!is_valid_code_verifier(&"a".repeat(129)));
        assert!(is_valid_code_verifier(&format!("{}-._~Z9", "a".repeat(40))));
        assert!(!is_valid_code_verifier(&format!("{}+", "a".repeat(42))));
        assert!(!is_valid_code_verifier(&format!("{}/", "a".repeat(42))));
        assert!(!is_valid_code_verifier(&format!("{} ", "a".repeat(42))));
        assert!(!is_valid_code_verifier(&format!("{}é", "a".repeat(42))));
        assert!(!is_valid_code_verifier(""));
        // an invalid verifier never verifies, even against its own hash
        let bad = format!("{}+", "a".repeat(42));
        assert!(!verify_s256(&bad, &s256_challenge(&bad)));
        let short = "a".repeat(42);
        assert!(!verify_s256(&short, &s256_challenge(&short)));
    }

    #[test]
    fn challenge_shape() {
        assert!(is_valid_code_challenge(CHALLENGE));
        assert!(!is_valid_code_challenge(&CHALLENGE[..42]));
        assert!(!is_valid_code_challenge(&format!("{CHALLENGE}A")));
        assert!(!is_valid_code_challenge(&format!("{}+", &CHALLENGE[..42])));
        assert!(!is_valid_code_challenge(&format!("{}/", &CHALLENGE[..42])));
        assert!(!is_valid_code_challenge(&format!("{}=", &CHALLENGE[..42])));
        assert!(!is_valid_code_challenge(""));
    }
}
