//! Migrations: an empty database gets every table, a second run does nothing, the
//! migrations round-trip (up, down, up), and the users migration of SPEC §9.3 keeps every row
//! that points at a user (a refresh token issued before it works after it).

use serde_json::Value;

use crate::common::flow::*;
use crate::common::{backend, open_db, test_settings, TestApp, TestDb, T0};
use gatehouse::db::DbConnection;
use gatehouse::store::audit::Actor;

#[test]
fn migrations_run_once_and_round_trip() {
    let test_db = TestDb::new(backend());
    let db = open_db(test_db.url());
    let first = db.migrate().unwrap();
    assert!(first >= 2, "expected every migration to run, ran {first}");
    assert_eq!(db.migrate().unwrap(), 0, "a second start runs nothing");

    let mut conn = db.get().unwrap();
    assert_eq!(gatehouse::store::clients::count(&mut conn).unwrap(), 0);
    gatehouse::db::revert_all_migrations(&mut conn).unwrap();
    assert!(gatehouse::store::clients::count(&mut conn).is_err(), "tables are gone after reverting");
    drop(conn);
    assert_eq!(db.migrate().unwrap(), first);
}

#[test]
fn concurrent_migrations_do_not_race() {
    let test_db = TestDb::new(backend());
    let url = test_db.url().to_string();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || open_db(&url).migrate())
        })
        .collect();
    let ran: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap().expect("migrate")).collect();
    let total: usize = ran.iter().sum();
    assert_eq!(total, ran.iter().copied().max().unwrap(), "exactly one runner applied the migrations: {ran:?}");
}

/// The last migration before the users migration of SPEC §9.3.
const BEFORE_USERS_MIGRATION: &str = "2026-12-02-000007";
/// The users migration of SPEC §9.3.
const USERS_MIGRATION: &str = "2026-12-02-000008";
const REDIRECT: &str = "https://app.example/callback";

/// What the users migration must keep: one row of each table that points at `users`.
struct Before {
    user_id: String,
    client_id: String,
    refresh_token: String,
    session_hash: String,
    code_hash: String,
    device_hash: String,
    request_id: String,
}

/// Rows counted in every table that references `users` (and refresh tokens, through families).
fn dependants(conn: &mut DbConnection) -> [i64; 7] {
    use diesel::prelude::*;
    use gatehouse::db::schema::*;
    [
        users::table.count().get_result(conn).unwrap(),
        sessions::table.count().get_result(conn).unwrap(),
        authorization_codes::table.count().get_result(conn).unwrap(),
        refresh_families::table.count().get_result(conn).unwrap(),
        refresh_tokens::table.count().get_result(conn).unwrap(),
        device_cookies::table.count().get_result(conn).unwrap(),
        auth_requests::table.count().get_result(conn).unwrap(),
    ]
}

/// A database at 000007 holding what that version wrote: a local user (written in that
/// version's shape, by SQL), a manual client, a session, a used code, its refresh family with a
/// live refresh token, a device cookie and a pending request of the user.
fn database_before_users_migration(url: &str) -> Before {
    use diesel::prelude::*;
    let db = open_db(url);
    let mut pooled = db.get().unwrap();
    let conn: &mut DbConnection = &mut pooled;
    let ran = gatehouse::db::migrate_through(conn, BEFORE_USERS_MIGRATION).unwrap();
    assert_eq!(ran, 7, "the migrations up to {BEFORE_USERS_MIGRATION}");

    let user_id = "usr_beforemigration".to_string();
    let hash = gatehouse::password::hash_password(PASSWORD).unwrap();
    diesel::sql_query(format!(
        "INSERT INTO users (user_id, email, email_lower, password_hash, status, created_at, updated_at) \
         VALUES ('{user_id}', 'Alice@Example.com', 'alice@example.com', '{hash}', 'active', {T0}, {T0})"
    ))
    .execute(conn)
    .unwrap();
    let session_hash = gatehouse::secrets::digest("the session cookie");
    diesel::sql_query(format!(
        "INSERT INTO sessions (session_hash, user_id, csrf_token, created_at, expires_at) \
         VALUES ('{session_hash}', '{user_id}', 'csrf', {T0}, {})",
        T0 + 86_400
    ))
    .execute(conn)
    .unwrap();

    let mut settings = test_settings(url);
    settings.issuer = "http://127.0.0.1:1".into();
    let metadata = gatehouse::operator::manual_metadata(&settings, "Operator app", &[REDIRECT.to_string()]).unwrap();
    let client_id = gatehouse::operator::add_manual(conn, &metadata, Actor::Cli, T0).unwrap().client_id;

    // Every row in 000007's shape, by SQL: the store's row types follow the newest schema.
    let family_id = "fam_beforemigration";
    let code_hash = gatehouse::secrets::digest("the code");
    let challenge = pkce().challenge;
    let refresh_token = gatehouse::secrets::random_token(32);
    let refresh_hash = gatehouse::secrets::digest(&refresh_token);
    let device_hash = gatehouse::secrets::digest("the device cookie");
    let request_id = "req_beforemigration".to_string();
    let browser_hash = gatehouse::secrets::digest("the browser");
    let (t1, code_expires, family_expires, device_expires, request_expires) =
        (T0 + 1, T0 + 60, T0 + 30 * 86_400, T0 + 90 * 86_400, T0 + 600);
    for statement in [
        format!(
            "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, code_challenge, scope, \
             resource, created_at, expires_at, used_at, family_id) VALUES ('{code_hash}', '{client_id}', \
             '{user_id}', '{REDIRECT}', '{challenge}', 'offline_access', NULL, {T0}, {code_expires}, {t1}, \
             '{family_id}')"
        ),
        format!(
            "INSERT INTO refresh_families (family_id, client_id, user_id, scope, resource, created_at, expires_at, \
             revoked_at, revoked_reason) VALUES ('{family_id}', '{client_id}', '{user_id}', 'offline_access', NULL, \
             {t1}, {family_expires}, NULL, NULL)"
        ),
        format!(
            "INSERT INTO refresh_tokens (token_hash, family_id, created_at) VALUES ('{refresh_hash}', '{family_id}', {t1})"
        ),
        format!(
            "INSERT INTO device_cookies (token_hash, user_id, created_at, expires_at, failures) \
             VALUES ('{device_hash}', '{user_id}', {T0}, {device_expires}, 0)"
        ),
        format!(
            "INSERT INTO auth_requests (request_id, browser_hash, csrf_token, client_id, redirect_uri, state, \
             code_challenge, scope, resource, user_id, created_at, expires_at, consumed) VALUES ('{request_id}', \
             '{browser_hash}', 'csrf', '{client_id}', '{REDIRECT}', NULL, '{challenge}', 'offline_access', NULL, \
             '{user_id}', {T0}, {request_expires}, FALSE)"
        ),
    ] {
        diesel::sql_query(statement).execute(conn).unwrap();
    }
    assert_eq!(dependants(conn), [1, 1, 1, 1, 1, 1, 1], "the rows the migration must keep");
    Before { user_id, client_id, refresh_token, session_hash, code_hash, device_hash, request_id }
}

/// The `sub` of an access token (its signature is checked by the token tests).
fn subject(access_token: &str) -> String {
    use base64::Engine;
    let payload = access_token.split('.').nth(1).expect("a JWS");
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sub"].as_str().expect("sub").to_string()
}

/// SPEC §9.3: the users migration rebuilds `users` on SQLite; with foreign keys on, dropping
/// the old table would delete every session, code, refresh family and device cookie with it.
/// A refresh token issued before it must still work after it, through the real `/token`.
#[actix_web::test]
async fn a_refresh_token_issued_before_the_users_migration_still_works_after_it() {
    let test_db = TestDb::new(backend());
    let before = database_before_users_migration(test_db.url());

    // Starting the server runs the pending migration (the users migration) first.
    let app = TestApp::spawn_on(test_db.url(), "", |_| {}).await;
    let (status, tokens) = app.refresh_token(&before.client_id, &before.refresh_token).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(subject(tokens["access_token"].as_str().unwrap()), before.user_id);
    let next = tokens["refresh_token"].as_str().expect("a rotated refresh token").to_string();

    let b = Before { refresh_token: next.clone(), ..before };
    let (counts, user, session, code, device, request) = {
        let (user_id, session_hash, code_hash, device_hash, request_id) = (
            b.user_id.clone(),
            b.session_hash.clone(),
            b.code_hash.clone(),
            b.device_hash.clone(),
            b.request_id.clone(),
        );
        app.with_db(move |conn| {
            use gatehouse::store::{auth_requests, codes, devices, sessions, users};
            Ok((
                dependants(conn),
                users::find(conn, &user_id)?,
                sessions::find_live(conn, &session_hash, T0)?,
                codes::find(conn, &code_hash)?,
                devices::find_live(conn, &device_hash, T0)?,
                auth_requests::find_open(conn, &request_id, T0)?,
            ))
        })
        .await
    };
    // One more refresh token (the rotation); nothing else came or went.
    assert_eq!(counts, [1, 1, 1, 1, 2, 1, 1], "rows after the migration");
    let user = user.expect("the user");
    assert_eq!(user.email.as_deref(), Some("Alice@Example.com"));
    assert_eq!(user.email_lower.as_deref(), Some("alice@example.com"));
    assert_eq!((user.source.as_str(), user.role.as_str(), user.email_verified), ("local", "user", false));
    assert!(user.name.is_none());
    assert!(gatehouse::password::verify_password(PASSWORD, user.password_hash.as_deref().expect("the password")));
    let session = session.expect("the session");
    assert_eq!((session.auth_time, session.method.as_str()), (T0, "password"), "a session's auth_time is its creation");
    assert_eq!(code.expect("the code").family_id.as_deref(), Some("fam_beforemigration"));
    assert!(device.is_some(), "the device cookie");
    assert!(request.is_some(), "the pending request");

    // The migrated user signs in with the password, to a session of its own kind.
    app.clock.set(T0 + 120);
    let browser = browser();
    let p = pkce();
    let query = authorize_query(&b.client_id, REDIRECT, &p.challenge, &[("scope", "offline_access")]);
    let code = app.authorization_code(&browser, &query, "alice@example.com").await;
    let (status, tokens) = app.exchange_code(&b.client_id, REDIRECT, &code, &p.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(subject(tokens["access_token"].as_str().unwrap()), b.user_id);
    let user_id = b.user_id.clone();
    let newest: (i64, i64, String) = app
        .with_db(move |conn| {
            use diesel::prelude::*;
            use gatehouse::db::schema::sessions as s;
            Ok(s::table
                .filter(s::user_id.eq(user_id))
                .order(s::created_at.desc())
                .select((s::created_at, s::auth_time, s::method))
                .first(conn)?)
        })
        .await;
    assert_eq!(newest, (T0 + 120, T0 + 120, "password".to_string()));
    app.stop().await;

    // And back: the down migration keeps the rows too (on SQLite another rebuild), and the
    // refresh token works once more after the users migration runs again.
    let db = open_db(test_db.url());
    {
        let mut conn = db.get().unwrap();
        let reverted = gatehouse::db::revert_after(&mut conn, BEFORE_USERS_MIGRATION).unwrap();
        assert!(reverted >= 1, "the users migration and any after it");
        assert_eq!(dependants(&mut conn), [1, 2, 2, 2, 3, 2, 2], "rows after the down migration");
        drop(conn);
        assert_eq!(db.migrate().unwrap(), reverted);
    }
    drop(db);
    let again = TestApp::spawn_on(test_db.url(), "", |_| {}).await;
    again.clock.set(T0 + 180);
    let (status, tokens) = again.refresh_token(&b.client_id, &next).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(subject(tokens["access_token"].as_str().unwrap()), b.user_id);
    again.stop().await;
}

/// The down migration cannot put a user without an email or a password into the old shape: it
/// fails and changes nothing, and the connection keeps enforcing foreign keys (on SQLite the
/// migration turned them off and opened its own transaction).
#[test]
fn the_down_migration_refuses_users_the_old_shape_cannot_hold() {
    use gatehouse::store::users;
    let test_db = TestDb::new(backend());
    let db = open_db(test_db.url());
    db.migrate().unwrap();
    let mut conn = db.get().unwrap();
    let provider_user = users::UserRow {
        user_id: "usr_fromprovider".into(),
        email: None,
        email_lower: None,
        password_hash: None,
        status: users::STATUS_ACTIVE.into(),
        created_at: T0,
        updated_at: T0,
        source: users::SOURCE_PROVIDER.into(),
        name: Some("Pat".into()),
        email_verified: false,
        role: users::ROLE_USER.into(),
        last_sign_in_at: None,
    };
    users::insert(&mut conn, &provider_user).unwrap();

    // Step back to the users migration itself; the later ones (which only add columns) revert.
    let later = gatehouse::db::revert_after(&mut conn, USERS_MIGRATION).unwrap();
    let error = gatehouse::db::revert_last_migration(&mut conn).unwrap_err();
    assert!(error.to_lowercase().contains("null"), "{error}");
    // The new shape stays (read by SQL: the store's row type has the later columns too).
    let kept: i64 = {
        use diesel::prelude::*;
        use gatehouse::db::schema::users as u;
        u::table
            .filter(u::user_id.eq("usr_fromprovider"))
            .filter(u::email.is_null())
            .count()
            .get_result::<i64>(&mut *conn as &mut DbConnection)
    }
    .unwrap();
    assert_eq!(kept, 1, "the user without an email is still there");
    let orphan = gatehouse::store::sessions::SessionRow {
        session_hash: "orphan".into(),
        user_id: "usr_nobody".into(),
        csrf_token: "csrf".into(),
        created_at: T0,
        expires_at: T0 + 60,
        auth_time: T0,
        method: "password".into(),
    };
    assert!(gatehouse::store::sessions::insert(&mut conn, &orphan).is_err(), "foreign keys are enforced again");
    drop(conn);
    assert_eq!(db.migrate().unwrap(), later, "the users migration was not reverted");
    let mut conn = db.get().unwrap();
    assert_eq!(users::find(&mut conn, "usr_fromprovider").unwrap(), Some(provider_user));
}
