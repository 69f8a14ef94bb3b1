//! Signing keys encrypted at rest (SPEC §11), on the selected backend unless a test is about one
//! backend's rule: rows hold `v1:` ciphertext and no PKCS#8, plaintext keys from older versions
//! are encrypted at start, a wrong or missing key stops start-up (the real binary, its message)
//! and never yields a new key, PostgreSQL without a key refuses to start, SQLite makes its key
//! file, and a token issued before a restart verifies after it.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use crate::common::flow::*;
use crate::common::process::{run, ServerProcess};
use crate::common::{backend, test_settings, Backend, TestApp, TestDb};
use gatehouse::keys::cipher::KeyCipher;
use gatehouse::store::keys::{self, KeyRow};

const REDIRECT: &str = "https://app.example/callback";
/// The DER of the ecPublicKey algorithm OID (1.2.840.10045.2.1), in every EC PKCS#8 document.
const EC_PUBLIC_KEY_OID: [u8; 9] = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// The DER of the rsaEncryption OID (1.2.840.113549.1.1.1), in every RSA PKCS#8 document.
const RSA_ENCRYPTION_OID: [u8; 11] = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

async fn key_rows(app: &TestApp) -> Vec<KeyRow> {
    app.with_db(|conn| Ok(keys::all(conn)?)).await
}

/// The rows read with a separate connection (no app running).
fn rows_of(url: &str) -> Vec<KeyRow> {
    let db = crate::common::open_db(url);
    let mut conn = db.get().unwrap();
    keys::all(&mut conn).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A row holds `v1:` + base64 of nonce and ciphertext, with nothing of a PKCS#8 document in it;
/// `cipher` opens it to a key whose public half is the row's JWK.
fn assert_encrypted(row: &KeyRow, cipher: &KeyCipher) {
    let stored = &row.private_key;
    assert!(stored.starts_with("v1:"), "kid {}: not encrypted: {}…", row.kid, &stored[..12.min(stored.len())]);
    assert!(STANDARD.decode(stored).is_err(), "the stored value is not plain base64");
    let payload = STANDARD.decode(&stored[3..]).expect("base64 after v1:");
    assert!(!contains(&payload, &EC_PUBLIC_KEY_OID), "no PKCS#8 structure in the stored bytes");
    assert!(!contains(&payload, &RSA_ENCRYPTION_OID), "no PKCS#8 structure in the stored bytes");
    let der = cipher.open(&row.kid, stored).expect("opens with the configured key");
    assert!(!stored.contains(&STANDARD.encode(&der)), "the plaintext is not beside the ciphertext");
    // No 16-byte run of the key document is in the stored bytes. (Not "does not start with a
    // DER SEQUENCE byte": a random nonce starts with 0x30 once in 256 rows.)
    assert!(der.chunks(16).filter(|run| run.len() == 16).all(|run| !contains(&payload, run)), "no plaintext run");
    let published: Value = serde_json::from_str(&row.public_jwk).unwrap();
    match row.algorithm.as_str() {
        "ES256" => {
            assert!(contains(&der, &EC_PUBLIC_KEY_OID), "decrypts to an EC PKCS#8 key");
            let key = gatehouse::keys::jwt::SigningKey::from_pkcs8(&row.kid, &der).expect("a P-256 key");
            assert_eq!(key.public_jwk().unwrap(), published, "the row's own key");
        }
        "RS256" => {
            assert!(contains(&der, &RSA_ENCRYPTION_OID), "decrypts to an RSA PKCS#8 key");
            gatehouse::keys::jwt::RsaSigningKey::from_pkcs8(&row.kid, &der).expect("an RSA key");
            assert_eq!(published["kty"], "RSA");
            assert_eq!(published["kid"], row.kid.as_str());
        }
        other => panic!("unexpected algorithm {other}"),
    }
}

#[actix_web::test]
async fn signing_keys_are_stored_encrypted() {
    let app = TestApp::spawn().await;
    let cipher = app.state.key_cipher.clone();
    let now = app.clock_now();
    let rotating = cipher.clone();
    app.with_db(move |conn| {
        gatehouse::keys::rotate(conn, now, gatehouse::store::audit::Actor::Cli, &rotating)
            .map_err(|e| gatehouse::db::DbError::Unavailable(e.to_string()))
    })
    .await;
    let rows = key_rows(&app).await;
    assert_eq!(rows.len(), 4, "the first key of each algorithm and a rotated one of each");
    for row in &rows {
        assert_encrypted(row, &cipher);
    }
}

/// A key written in clear by an earlier version, as it wrote it.
fn plaintext_row(now: i64) -> (KeyRow, Vec<u8>) {
    let generated = gatehouse::keys::jwt::generate_es256_key().unwrap();
    let row = KeyRow {
        kid: generated.kid.clone(),
        algorithm: "ES256".into(),
        private_key: STANDARD.encode(&generated.pkcs8_der),
        public_jwk: generated.public_jwk.to_string(),
        status: keys::ACTIVE.into(),
        created_at: now,
        activates_at: now,
        retire_at: None,
    };
    (row, generated.pkcs8_der)
}

#[actix_web::test]
async fn plaintext_keys_from_an_earlier_version_are_encrypted_at_start() {
    let db = TestDb::new(backend());
    let (row, der) = plaintext_row(crate::common::T0);
    {
        let settings = test_settings(db.url());
        let opened = gatehouse::cli::serve::open_database(&settings).unwrap();
        keys::insert(&mut opened.get().unwrap(), &row).unwrap();
    }
    let app = TestApp::spawn_on(db.url(), "", |_| {}).await;
    let rows: Vec<KeyRow> = key_rows(&app).await.into_iter().filter(|r| r.algorithm == "ES256").collect();
    assert_eq!(rows.len(), 1, "the old key is kept, no new one made (an RS256 key is added beside it)");
    assert_eq!(rows[0].kid, row.kid);
    assert_encrypted(&rows[0], &app.state.key_cipher);
    assert_eq!(app.state.key_cipher.open(&row.kid, &rows[0].private_key).unwrap(), der, "the same key");
    assert_eq!(app.state.keys.current().unwrap().signing.kid(), row.kid, "and it still signs");
}

/// `gatehouse serve` over `url` that must fail at start: its stderr.
fn failed_start(url: &str, env: &[(&str, &str)]) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bind = format!("127.0.0.1:{port}");
    let mut all = vec![("GATEHOUSE__DATABASE__URL", url), ("GATEHOUSE__SERVER__BIND", bind.as_str())];
    all.extend_from_slice(env);
    let started = Instant::now();
    let output = run(&["serve"], &all);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert_eq!(output.status.code(), Some(1), "serve must stop: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(std::net::TcpStream::connect(&bind).is_err(), "nothing listens");
    stderr
}

#[actix_web::test]
async fn a_wrong_key_stops_start_up_with_a_clear_message_and_no_new_key() {
    let db = TestDb::new(backend());
    let app = TestApp::spawn_on(db.url(), "", |_| {}).await;
    app.stop().await;
    let before = key_rows(&app).await;
    drop(app);

    let wrong = gatehouse::keys::cipher::generate_key().unwrap();
    let stderr = failed_start(db.url(), &[("GATEHOUSE__KEYS__ENCRYPTION_KEY", &wrong)]);
    assert!(stderr.contains("keys.encryption_key does not decrypt the signing key"), "{stderr}");
    assert!(stderr.contains(&before[0].kid), "names the key it could not open: {stderr}");
    assert!(stderr.contains("does not replace it with a new one"), "{stderr}");
    assert!(!stderr.contains(&wrong), "the key is never printed: {stderr}");
    let after = rows_of(db.url());
    assert_eq!(
        after.iter().map(|r| (&r.kid, &r.private_key)).collect::<Vec<_>>(),
        before.iter().map(|r| (&r.kid, &r.private_key)).collect::<Vec<_>>(),
        "nothing changed, no key made"
    );
}

/// A named key file is created at the first start; gone while encrypted keys exist, start-up
/// stops and it is not made again.
#[actix_web::test]
async fn a_missing_key_file_beside_encrypted_keys_stops_start_up() {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDb::new(backend());
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("gatehouse-keys").join("keys.secret");
    std::fs::create_dir(key_file.parent().unwrap()).unwrap();
    let file_env = key_file.display().to_string();
    let env = [("GATEHOUSE__KEYS__ENCRYPTION_KEY_FILE", file_env.as_str())];
    {
        let server = ServerProcess::start(dir.path(), db.url(), &[], &env);
        server.metadata_when_up(&reqwest::Client::new()).await;
    }
    let mode = std::fs::metadata(&key_file).expect("the named file was created").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let cipher = KeyCipher::from_base64(&std::fs::read_to_string(&key_file).unwrap()).unwrap();
    let before = rows_of(db.url());
    assert_encrypted(&before[0], &cipher);

    std::fs::remove_file(&key_file).unwrap();
    let stderr = failed_start(db.url(), &env);
    assert!(stderr.contains(&format!("keys.encryption_key_file {}", key_file.display())), "{stderr}");
    assert!(stderr.contains("does not exist, but the database holds 2 signing key(s) encrypted"), "{stderr}");
    assert!(!key_file.exists(), "no new key file in place of the lost one");
    assert_eq!(
        rows_of(db.url()).iter().map(|r| r.private_key.clone()).collect::<Vec<_>>(),
        before.iter().map(|r| r.private_key.clone()).collect::<Vec<_>>()
    );
}

#[test]
fn on_postgres_serve_refuses_to_start_without_a_key_and_says_how_to_make_one() {
    let db = TestDb::new(Backend::Postgres);
    let stderr = failed_start(db.url(), &[]);
    assert!(stderr.contains("no key to encrypt the signing keys with"), "{stderr}");
    assert!(stderr.contains("gatehouse keys generate-encryption-key"), "{stderr}");
    assert!(stderr.contains("keys.encryption_key_file"), "{stderr}");
    // Refused before touching the database: not even migrated.
    let db_handle = crate::common::open_db(db.url());
    let mut conn = db_handle.get().unwrap();
    assert!(keys::all(&mut conn).is_err(), "no tables were created");

    // The command it names makes a usable key, on one line.
    let generated = run(&["keys", "generate-encryption-key"], &[]);
    assert!(generated.status.success());
    let text = String::from_utf8(generated.stdout).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(KeyCipher::from_base64(&text).is_ok());
}

#[actix_web::test]
async fn sqlite_makes_its_key_file_beside_the_database() {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDb::new(Backend::Sqlite);
    let app = TestApp::spawn_on(db.url(), "", |_| {}).await;
    let database = Path::new(db.url().strip_prefix("sqlite://").unwrap());
    let key_file = database.with_file_name("keys.secret");
    let text = std::fs::read_to_string(&key_file).expect("keys.secret beside the database");
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(text.trim_end().len(), 44, "32 bytes, base64");
    let cipher = KeyCipher::from_base64(&text).unwrap();
    for row in key_rows(&app).await {
        assert_encrypted(&row, &cipher);
    }
    app.stop().await;
    drop(app);

    // A second start reads it (no new key), and a wrong one in its place stops start-up.
    let again = TestApp::spawn_on(db.url(), "", |_| {}).await;
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), text);
    again.stop().await;
    drop(again);
    std::fs::write(&key_file, gatehouse::keys::cipher::generate_key().unwrap()).unwrap();
    let stderr = failed_start(db.url(), &[]);
    assert!(stderr.contains("(the default beside the SQLite database) does not decrypt"), "{stderr}");
}

#[actix_web::test]
async fn a_token_issued_before_a_restart_still_verifies_after() {
    let db = TestDb::new(backend());
    let first = TestApp::spawn_on(db.url(), "", |_| {}).await;
    first.clock.set(gatehouse::clock::SystemClock.now_secs());
    create_user(&first, "alice@example.com").await;
    let client = dcr_client(&first, &[REDIRECT]).await;
    let p = pkce();
    let query = authorize_query(&client, REDIRECT, &p.challenge, &[]);
    let code = first.authorization_code(&browser(), &query, "alice@example.com").await;
    let (status, tokens) = first.exchange_code(&client, REDIRECT, &code, &p.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let before = tokens["access_token"].as_str().unwrap().to_string();
    let first_issuer = first.issuer.clone();
    first.stop().await;
    drop(first);

    let second = TestApp::spawn_on(db.url(), "", |_| {}).await;
    second.clock.set(gatehouse::clock::SystemClock.now_secs());
    let kid = jsonwebtoken::decode_header(&before).unwrap().kid.unwrap();
    assert_eq!(second.state.keys.current().unwrap().signing.kid(), kid, "the same key signs after the restart");
    let jwks: jsonwebtoken::jwk::JwkSet =
        second.http.get(second.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(&kid).expect("published after the restart")).unwrap();
    // (Each test server has its own port, so its own issuer: the token names the first one.)
    let verify = |token: &str, issuer: &str| {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[issuer]);
        jsonwebtoken::decode::<Value>(token, &key, &validation).map(|data| data.claims)
    };
    verify(&before, &first_issuer).expect("the earlier token verifies against the JWKS after the restart");

    // And a refresh after the restart is signed by that key too.
    let (status, refreshed) = second.refresh_token(&client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{refreshed}");
    verify(refreshed["access_token"].as_str().unwrap(), &second.issuer).expect("signed by the same key");
}
