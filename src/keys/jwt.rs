//! JWS signing: ES256 access tokens (RFC 9068 `at+jwt`), RS256 or ES256 id_tokens (`JWT`,
//! SPEC §10), the verification of Gatehouse's own ES256 access tokens (introspection,
//! userinfo), and JWK / JWKS helpers.
//!
//! All cryptography is done by `ring` — ECDSA key generation, PKCS#8 parsing, ECDSA and RSA
//! signing, ECDSA verification, SHA-256 — except RSA key *generation*, which ring cannot do: the
//! `rsa` crate generates the key and exports it as PKCS#8. This module only does base64url (no
//! padding) and JSON.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair as _, RsaKeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use serde::Serialize;
use serde_json::{json, Value};

/// Length of an uncompressed SEC1 P-256 point: `0x04 || x (32) || y (32)`.
const P256_UNCOMPRESSED_LEN: usize = 65;
/// Length of one P-256 field element (an affine coordinate).
const P256_COORD_LEN: usize = 32;
/// RSA modulus size of the id_token keys.
const RSA_BITS: usize = 2048;

/// The JWS `typ` of an access token (RFC 9068).
pub const TYP_ACCESS_TOKEN: &str = "at+jwt";
/// The JWS `typ` of an id_token.
pub const TYP_ID_TOKEN: &str = "JWT";
/// The algorithms keys are stored under (`signing_keys.algorithm`).
pub const ES256: &str = "ES256";
pub const RS256: &str = "RS256";

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("key generation failed")]
    KeyGeneration,
    #[error("invalid key: {0}")]
    InvalidKey(String),
    #[error("signing failed")]
    Signing,
}

/// A freshly generated ECDSA P-256 key.
///
/// `kid` is the RFC 7638 thumbprint of the public key; `pkcs8_der` is the private key in clear (a
/// v1 PKCS#8 document as produced by ring) — this module does not encrypt it: `keys` stores it
/// only sealed by `keys::cipher` (SPEC §11); `public_jwk` is ready for the JWKS.
pub struct GeneratedKey {
    pub kid: String,
    pub pkcs8_der: Vec<u8>,
    pub public_jwk: Value,
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private key.
        f.debug_struct("GeneratedKey")
            .field("kid", &self.kid)
            .field("pkcs8_der", &"<redacted>")
            .field("public_jwk", &self.public_jwk)
            .finish()
    }
}

/// Generate a new ES256 (ECDSA P-256 / SHA-256) key with ring's system RNG.
pub fn generate_es256_key() -> Result<GeneratedKey, JwtError> {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|_| JwtError::KeyGeneration)?;
    let pkcs8_der = pkcs8.as_ref().to_vec();
    // Parse it back to get the public point; a failure here means ring produced something it
    // cannot read, which is a generation failure rather than a caller error.
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8_der, &rng)
        .map_err(|_| JwtError::KeyGeneration)?;
    let (x, y) = split_point(pair.public_key().as_ref()).map_err(|_| JwtError::KeyGeneration)?;
    let kid = ec_thumbprint(&x, &y);
    let public_jwk = jwk_value(&kid, x, y);
    Ok(GeneratedKey { kid, pkcs8_der, public_jwk })
}

/// A loaded signing key (parsed once; reused for many signatures).
///
/// `Debug` prints only the `kid` and the algorithm, never key material.
pub struct SigningKey {
    kid: String,
    key_pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &"ES256").finish_non_exhaustive()
    }
}

/// The protected header. Field order here is the serialization order:
/// `{"alg":"ES256","typ":"at+jwt","kid":...}`.
#[derive(Serialize)]
struct JwsHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

impl SigningKey {
    /// Parse a PKCS#8 (v1 or v2) DER ECDSA P-256 private key.
    pub fn from_pkcs8(kid: &str, pkcs8_der: &[u8]) -> Result<SigningKey, JwtError> {
        let rng = SystemRandom::new();
        let key_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8_der, &rng)
            .map_err(|e| JwtError::InvalidKey(format!("not a P-256 PKCS#8 key: {e}")))?;
        Ok(SigningKey { kid: kid.to_owned(), key_pair, rng })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK of this key (with this key's `kid`).
    pub fn public_jwk(&self) -> Result<Value, JwtError> {
        public_jwk(&self.kid, self.key_pair.public_key().as_ref())
    }

    /// Compact JWS: header `{"alg":"ES256","typ":"at+jwt","kid":kid}` (exactly those, in that order),
    /// payload = claims JSON, signature = ring's fixed 64-byte `r||s`, all base64url without padding.
    ///
    /// `claims` must be a JSON object (RFC 7519 §7.2); anything else is rejected with
    /// [`JwtError::Signing`].
    pub fn sign(&self, claims: &Value) -> Result<String, JwtError> {
        self.sign_typed(claims, TYP_ACCESS_TOKEN)
    }

    /// As [`SigningKey::sign`], with another `typ` (an ES256 id_token: `JWT`).
    pub fn sign_typed(&self, claims: &Value, typ: &'static str) -> Result<String, JwtError> {
        compact_jws(JwsHeader { alg: ES256, typ, kid: &self.kid }, claims, |input| {
            self.key_pair.sign(&self.rng, input).map(|s| s.as_ref().to_vec()).map_err(|_| JwtError::Signing)
        })
    }
}

/// `header.claims.signature`, base64url without padding; `claims` must be a JSON object (RFC
/// 7519 §7.2).
fn compact_jws(
    header: JwsHeader<'_>,
    claims: &Value,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, JwtError>,
) -> Result<String, JwtError> {
    if !claims.is_object() {
        return Err(JwtError::Signing);
    }
    let header_json = serde_json::to_vec(&header).map_err(|_| JwtError::Signing)?;
    let claims_json = serde_json::to_vec(claims).map_err(|_| JwtError::Signing)?;
    let mut token = URL_SAFE_NO_PAD.encode(header_json);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(claims_json, &mut token);
    let signature = sign(token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// A freshly generated RSA key for RS256 id_tokens: generated by the `rsa` crate (ring cannot
/// generate RSA keys), exported as PKCS#8 for ring to sign with. `kid` is the RFC 7638
/// thumbprint.
pub fn generate_rs256_key() -> Result<GeneratedKey, JwtError> {
    use rsa::pkcs8::EncodePrivateKey as _;
    use rsa::traits::PublicKeyParts as _;
    let private = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, RSA_BITS).map_err(|_| JwtError::KeyGeneration)?;
    let pkcs8_der = private.to_pkcs8_der().map_err(|_| JwtError::KeyGeneration)?.as_bytes().to_vec();
    let n = URL_SAFE_NO_PAD.encode(private.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
    // ring must accept what it will sign with.
    RsaKeyPair::from_pkcs8(&pkcs8_der).map_err(|_| JwtError::KeyGeneration)?;
    let kid = rsa_thumbprint(&n, &e);
    let public_jwk = json!({"kty": "RSA", "n": n, "e": e, "kid": kid, "alg": RS256, "use": "sig"});
    Ok(GeneratedKey { kid, pkcs8_der, public_jwk })
}

/// RFC 7638 thumbprint of an RSA key: SHA-256 of `{"e":..,"kty":"RSA","n":..}`.
pub fn rsa_thumbprint(n_b64: &str, e_b64: &str) -> String {
    #[derive(Serialize)]
    struct Canonical<'a> {
        e: &'a str,
        kty: &'static str,
        n: &'a str,
    }
    let input = serde_json::to_vec(&Canonical { e: e_b64, kty: "RSA", n: n_b64 })
        .expect("serializing a struct of strings cannot fail");
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &input))
}

/// A loaded RS256 key (ring's `RsaKeyPair`), for id_tokens. `Debug` prints only the `kid`.
pub struct RsaSigningKey {
    kid: String,
    key_pair: RsaKeyPair,
    rng: SystemRandom,
}

impl fmt::Debug for RsaSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaSigningKey").field("kid", &self.kid).field("alg", &RS256).finish_non_exhaustive()
    }
}

impl RsaSigningKey {
    pub fn from_pkcs8(kid: &str, pkcs8_der: &[u8]) -> Result<RsaSigningKey, JwtError> {
        let key_pair = RsaKeyPair::from_pkcs8(pkcs8_der)
            .map_err(|e| JwtError::InvalidKey(format!("not an RSA PKCS#8 key: {e}")))?;
        Ok(RsaSigningKey { kid: kid.to_owned(), key_pair, rng: SystemRandom::new() })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Compact JWS with header `{"alg":"RS256","typ":typ,"kid":kid}`.
    pub fn sign_typed(&self, claims: &Value, typ: &'static str) -> Result<String, JwtError> {
        compact_jws(JwsHeader { alg: RS256, typ, kid: &self.kid }, claims, |input| {
            let mut signature = vec![0u8; self.key_pair.public().modulus_len()];
            self.key_pair.sign(&RSA_PKCS1_SHA256, &self.rng, input, &mut signature).map_err(|_| JwtError::Signing)?;
            Ok(signature)
        })
    }
}

/// An ES256 public key Gatehouse published (from its JWK), for verifying its own access tokens.
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    pub kid: String,
    /// The uncompressed SEC1 point `0x04 || x || y`.
    point: Vec<u8>,
}

impl VerifyingKey {
    /// From a published ES256 JWK; `None` for any other key.
    pub fn from_jwk(jwk: &Value) -> Option<VerifyingKey> {
        if jwk["kty"] != "EC" || jwk["crv"] != "P-256" {
            return None;
        }
        let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str()?).ok()?;
        let y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str()?).ok()?;
        if x.len() != P256_COORD_LEN || y.len() != P256_COORD_LEN {
            return None;
        }
        let mut point = Vec::with_capacity(P256_UNCOMPRESSED_LEN);
        point.push(0x04);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        Some(VerifyingKey { kid: jwk["kid"].as_str()?.to_string(), point })
    }
}

/// A JWS whose signature one of `keys` made: its header and claims. Only `alg: ES256` with a
/// `kid` of one of the keys is considered; ring verifies the signature. `None` for anything
/// else — malformed, unsigned, another algorithm, an unknown key, a bad signature. Claims
/// (`exp`, `aud` …) are the caller's to check.
pub fn verify_es256(token: &str, keys: &[VerifyingKey]) -> Option<(Value, Value)> {
    let mut parts = token.split('.');
    let (header_b64, claims_b64, signature_b64) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header_b64).ok()?).ok()?;
    if header["alg"] != ES256 {
        return None;
    }
    let kid = header["kid"].as_str()?;
    let key = keys.iter().find(|k| k.kid == kid)?;
    let signature = URL_SAFE_NO_PAD.decode(signature_b64).ok()?;
    let signed_len = header_b64.len() + 1 + claims_b64.len();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key.point)
        .verify(&token.as_bytes()[..signed_len], &signature)
        .ok()?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims_b64).ok()?).ok()?;
    claims.is_object().then_some((header, claims))
}

/// The public JWK of a P-256 key from its uncompressed public point (65 bytes `0x04||x||y`):
/// `{"kty":"EC","crv":"P-256","x":..,"y":..,"kid":..,"alg":"ES256","use":"sig"}`.
///
/// Only the encoding is checked (length and `0x04` prefix), not that the point is on the curve;
/// callers pass ring's own `public_key()` output.
pub fn public_jwk(kid: &str, public_point: &[u8]) -> Result<Value, JwtError> {
    let (x, y) = split_point(public_point)?;
    Ok(jwk_value(kid, x, y))
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC key: the hash of exactly
/// `{"crv":"P-256","kty":"EC","x":"...","y":"..."}` (lexicographic member order, no whitespace).
pub fn ec_thumbprint(x_b64: &str, y_b64: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &thumbprint_input(x_b64, y_b64)))
}

/// For the JWKS document: `{"keys":[jwk, ...]}`.
pub fn jwks(public_jwks: &[Value]) -> Value {
    json!({ "keys": public_jwks })
}

/// The canonical JSON hashed by [`ec_thumbprint`]. Members are the required EC members only, in
/// lexicographic order; serde_json emits struct fields in declaration order with no whitespace and
/// escapes strings per RFC 8259 (base64url values never need escaping anyway).
fn thumbprint_input(x_b64: &str, y_b64: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct Canonical<'a> {
        crv: &'static str,
        kty: &'static str,
        x: &'a str,
        y: &'a str,
    }
    serde_json::to_vec(&Canonical { crv: "P-256", kty: "EC", x: x_b64, y: y_b64 })
        .expect("serializing a struct of strings cannot fail")
}

/// Split an uncompressed P-256 point into base64url `x` and `y`.
fn split_point(point: &[u8]) -> Result<(String, String), JwtError> {
    if point.len() != P256_UNCOMPRESSED_LEN {
        return Err(JwtError::InvalidKey(format!(
            "P-256 public point must be {P256_UNCOMPRESSED_LEN} bytes, got {}",
            point.len()
        )));
    }
    if point[0] != 0x04 {
        return Err(JwtError::InvalidKey("P-256 public point must be uncompressed (0x04 prefix)".into()));
    }
    let (x, y) = point[1..].split_at(P256_COORD_LEN);
    Ok((URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y)))
}

fn jwk_value(kid: &str, x: String, y: String) -> Value {
    json!({
        "kty": "EC",
        "crv": "P-256",
        "x": x,
        "y": y,
        "kid": kid,
        "alg": "ES256",
        "use": "sig",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::errors::ErrorKind;
    use jsonwebtoken::{decode, decode_header, jwk::Jwk, Algorithm, DecodingKey, Validation};
    use std::time::{SystemTime, UNIX_EPOCH};

    const ISS: &str = "https://gatehouse.example";
    const AUD: &str = "https://api.example";

    fn now() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    fn claims() -> Value {
        let now = now();
        json!({
            "iss": ISS,
            "sub": "user-123",
            "aud": AUD,
            "client_id": "client-abc",
            "scope": "openid profile",
            "iat": now,
            "exp": now + 300,
            "jti": "f4b1c2d3",
        })
    }

    fn validation() -> Validation {
        let mut v = Validation::new(Algorithm::ES256);
        v.set_issuer(&[ISS]);
        v.set_audience(&[AUD]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v
    }

    fn decoding_key(public_jwk: &Value) -> DecodingKey {
        let jwk: Jwk = serde_json::from_value(public_jwk.clone()).unwrap();
        DecodingKey::from_jwk(&jwk).unwrap()
    }

    fn new_signing_key() -> (GeneratedKey, SigningKey) {
        let generated = generate_es256_key().unwrap();
        let key = SigningKey::from_pkcs8(&generated.kid, &generated.pkcs8_der).unwrap();
        (generated, key)
    }

    fn b64_json(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn thumbprint_hashes_exact_canonical_json() {
        // RFC 7517 Appendix A.1 example P-256 key.
        let x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
        let y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
        let expected = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        assert_eq!(thumbprint_input(x, y), expected.as_bytes());

        let want = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, expected.as_bytes()));
        assert_eq!(ec_thumbprint(x, y), want);
        // SHA-256 → 32 bytes → 43 base64url chars, no padding.
        assert_eq!(want.len(), 43);
        assert!(!want.contains('='));
        assert_ne!(ec_thumbprint(y, x), want, "x and y must not be interchangeable");
        // Known answer, computed independently (`openssl dgst -sha256 -binary | base64url`) for the
        // RFC 7517 Appendix A.1 example EC public key.
        assert_eq!(ec_thumbprint(x, y), "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U");
    }

    #[test]
    fn generated_kid_is_thumbprint_of_own_jwk() {
        let generated = generate_es256_key().unwrap();
        let jwk = &generated.public_jwk;
        let x = jwk["x"].as_str().unwrap();
        let y = jwk["y"].as_str().unwrap();
        assert_eq!(generated.kid, ec_thumbprint(x, y));
        assert_eq!(jwk["kid"], generated.kid.as_str());
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["alg"], "ES256");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(URL_SAFE_NO_PAD.decode(x).unwrap().len(), 32);
        assert_eq!(URL_SAFE_NO_PAD.decode(y).unwrap().len(), 32);
        assert_eq!(jwk.as_object().unwrap().len(), 7, "no private members (d) in a public JWK");

        // The loaded key reports the same JWK.
        let key = SigningKey::from_pkcs8(&generated.kid, &generated.pkcs8_der).unwrap();
        assert_eq!(key.kid(), generated.kid);
        assert_eq!(&key.public_jwk().unwrap(), jwk);
    }

    #[test]
    fn signing_key_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SigningKey>();
    }

    #[test]
    fn two_generated_keys_differ() {
        let a = generate_es256_key().unwrap();
        let b = generate_es256_key().unwrap();
        assert_ne!(a.kid, b.kid);
        assert_ne!(a.pkcs8_der, b.pkcs8_der);
    }

    #[test]
    fn token_verifies_with_jsonwebtoken_from_public_jwk() {
        let (generated, key) = new_signing_key();
        let claims = claims();
        let token = key.sign(&claims).unwrap();

        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(!token.contains('='), "no base64 padding");
        assert!(!token.contains('+') && !token.contains('/'), "base64url alphabet only");
        let header_bytes = URL_SAFE_NO_PAD.decode(parts[0]).unwrap();
        assert_eq!(
            std::str::from_utf8(&header_bytes).unwrap(),
            format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{}"}}"#, generated.kid)
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 64, "fixed r||s signature");

        let header = decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(generated.kid.as_str()));

        let data = decode::<Value>(&token, &decoding_key(&generated.public_jwk), &validation()).unwrap();
        assert_eq!(data.claims, claims);
        assert_eq!(data.header, header);
    }

    #[test]
    fn key_parsed_once_signs_many_tokens() {
        let (generated, key) = new_signing_key();
        let dk = decoding_key(&generated.public_jwk);
        let c = claims();
        let t1 = key.sign(&c).unwrap();
        let t2 = key.sign(&c).unwrap();
        // ECDSA with a random nonce: same input, different signatures, both valid.
        assert_ne!(t1, t2);
        for t in [&t1, &t2] {
            assert_eq!(decode::<Value>(t, &dk, &validation()).unwrap().claims, c);
        }
    }

    #[test]
    fn jsonwebtoken_still_enforces_claims() {
        let (generated, key) = new_signing_key();
        let dk = decoding_key(&generated.public_jwk);

        let mut expired = claims();
        expired["exp"] = json!(now() - 3600);
        let err = decode::<Value>(key.sign(&expired).unwrap(), &dk, &validation()).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::ExpiredSignature);

        let mut wrong_aud = claims();
        wrong_aud["aud"] = json!("https://other.example");
        let err = decode::<Value>(key.sign(&wrong_aud).unwrap(), &dk, &validation()).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidAudience);
    }

    #[test]
    fn other_keys_jwk_rejects_token() {
        let (_, key_a) = new_signing_key();
        let other = generate_es256_key().unwrap();
        let token = key_a.sign(&claims()).unwrap();
        let err = decode::<Value>(&token, &decoding_key(&other.public_jwk), &validation()).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidSignature);
    }

    #[test]
    fn tampered_payload_rejected() {
        let (generated, key) = new_signing_key();
        let token = key.sign(&claims()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();

        let mut forged = b64_json(parts[1]);
        forged["scope"] = json!("openid profile admin");
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);

        let dk = decoding_key(&generated.public_jwk);
        let err = decode::<Value>(&tampered, &dk, &validation()).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidSignature);
        // Sanity: the untouched token still verifies.
        decode::<Value>(&token, &dk, &validation()).unwrap();
    }

    #[test]
    fn non_object_claims_rejected() {
        let (_, key) = new_signing_key();
        for bad in [json!(null), json!("x"), json!([1, 2]), json!(7)] {
            assert!(matches!(key.sign(&bad), Err(JwtError::Signing)), "{bad}");
        }
    }

    #[test]
    fn garbage_pkcs8_is_invalid_key() {
        let generated = generate_es256_key().unwrap();
        let truncated = &generated.pkcs8_der[..generated.pkcs8_der.len() - 1];
        let inputs: [&[u8]; 4] = [b"", b"not a key at all", &[0x30, 0x82, 0xff, 0xff, 0x00], truncated];
        for bytes in inputs {
            match SigningKey::from_pkcs8("k", bytes) {
                Err(JwtError::InvalidKey(msg)) => assert!(!msg.is_empty()),
                other => panic!("expected InvalidKey, got {other:?}"),
            }
        }
    }

    #[test]
    fn public_jwk_rejects_bad_points() {
        assert!(matches!(public_jwk("k", &[0x04; 64]), Err(JwtError::InvalidKey(_))));
        assert!(matches!(public_jwk("k", &[0x04; 66]), Err(JwtError::InvalidKey(_))));
        let mut compressed_prefix = [0u8; 65];
        compressed_prefix[0] = 0x02;
        assert!(matches!(public_jwk("k", &compressed_prefix), Err(JwtError::InvalidKey(_))));

        let mut point = [0u8; 65];
        point[0] = 0x04;
        point[1..33].fill(0xAA);
        point[33..].fill(0xBB);
        let jwk = public_jwk("kid-1", &point).unwrap();
        assert_eq!(jwk["x"], URL_SAFE_NO_PAD.encode([0xAA; 32]));
        assert_eq!(jwk["y"], URL_SAFE_NO_PAD.encode([0xBB; 32]));
        assert_eq!(jwk["kid"], "kid-1");
    }

    #[test]
    fn jwks_wraps_keys() {
        let a = generate_es256_key().unwrap().public_jwk;
        let b = generate_es256_key().unwrap().public_jwk;
        let doc = jwks(&[a.clone(), b.clone()]);
        assert_eq!(doc, json!({ "keys": [a, b] }));
        assert_eq!(jwks(&[]), json!({ "keys": [] }));
        // jsonwebtoken can read it as a JwkSet and find a key by kid.
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(doc).unwrap();
        assert!(set.find(a["kid"].as_str().unwrap()).is_some());
    }

    #[test]
    fn debug_output_has_no_key_material() {
        let generated = generate_es256_key().unwrap();
        let der = &generated.pkcs8_der;
        let key = SigningKey::from_pkcs8(&generated.kid, der).unwrap();
        let dbg = format!("{key:?}");
        let dbg_alt = format!("{key:#?}");
        assert!(dbg.contains(&generated.kid));

        // ring's P-256 PKCS#8: ECPrivateKey { version 1, privateKey OCTET STRING (32) ... }.
        let marker = [0x02, 0x01, 0x01, 0x04, 0x20];
        let at = der.windows(marker.len()).position(|w| w == marker).expect("private scalar in PKCS#8") + marker.len();
        let scalar = &der[at..at + 32];

        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let dec_list = |b: &[u8]| b.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ");
        let needles = [
            hex(scalar),
            hex(scalar).to_uppercase(),
            URL_SAFE_NO_PAD.encode(scalar),
            base64::engine::general_purpose::STANDARD.encode(der),
            dec_list(&scalar[..8]),
            dec_list(&der[..8]),
        ];
        for out in [&dbg, &dbg_alt] {
            for needle in &needles {
                assert!(!out.contains(needle.as_str()), "debug output leaks {needle}: {out}");
            }
            // Nor the public coordinates (the EcdsaKeyPair is not printed at all).
            assert!(!out.contains(generated.public_jwk["x"].as_str().unwrap()));
        }

        let gen_dbg = format!("{generated:?}");
        assert!(!gen_dbg.contains(&hex(scalar)) && !gen_dbg.contains(&dec_list(&scalar[..8])));
    }

    #[test]
    fn rs256_id_token_verifies_with_jsonwebtoken_from_public_jwk() {
        let generated = generate_rs256_key().unwrap();
        let jwk = &generated.public_jwk;
        assert_eq!(generated.kid, rsa_thumbprint(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap()));
        assert_eq!(jwk["kty"], "RSA");
        assert!(jwk.get("d").is_none(), "no private members in a public JWK");
        let key = RsaSigningKey::from_pkcs8(&generated.kid, &generated.pkcs8_der).unwrap();
        let token = key.sign_typed(&claims(), TYP_ID_TOKEN).unwrap();
        let header = decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let mut validation = validation();
        validation.algorithms = vec![Algorithm::RS256];
        let data = decode::<Value>(&token, &decoding_key(jwk), &validation).unwrap();
        assert_eq!(data.claims, claims());
        assert!(!format!("{key:?}").contains(jwk["n"].as_str().unwrap()));
    }

    #[test]
    fn verify_es256_accepts_only_tokens_of_the_given_keys() {
        let (generated, key) = new_signing_key();
        let keys = vec![VerifyingKey::from_jwk(&generated.public_jwk).unwrap()];
        let token = key.sign(&claims()).unwrap();
        let (header, verified) = verify_es256(&token, &keys).unwrap();
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(verified, claims());

        let (other_generated, other) = new_signing_key();
        // A key never published, even one naming a published kid.
        assert!(verify_es256(&other.sign(&claims()).unwrap(), &keys).is_none());
        let impostor = SigningKey::from_pkcs8(&generated.kid, &other_generated.pkcs8_der).unwrap();
        assert!(verify_es256(&impostor.sign(&claims()).unwrap(), &keys).is_none());
        // Tampered claims, alg none, garbage.
        let parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#);
        assert!(verify_es256(&format!("{}.{forged}.{}", parts[0], parts[2]), &keys).is_none());
        let none_header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","kid":"{}"}}"#, generated.kid));
        assert!(verify_es256(&format!("{none_header}.{}.", parts[1]), &keys).is_none());
        for garbage in ["", "a.b", "a.b.c", "a.b.c.d", &format!("{token}.x")] {
            assert!(verify_es256(garbage, &keys).is_none(), "{garbage}");
        }
        // An RSA JWK is not an ES256 verifying key.
        assert!(VerifyingKey::from_jwk(&json!({"kty": "RSA", "n": "x", "e": "AQAB", "kid": "r"})).is_none());
    }
}
