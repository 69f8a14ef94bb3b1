//! Users and identities in the store (SPEC §9.3): an email is unique case-insensitively when
//! present and may be absent, a password belongs to local users only, an identity is unique per
//! (provider, issuer, subject) and goes with its user; a user without a password never signs in
//! with the password form.

use crate::common::flow::*;
use crate::common::{backend, open_db, TestApp, TestDb, T0};
use gatehouse::db::DbConnection;
use gatehouse::store::identities::{self, IdentityRow};
use gatehouse::store::users::{self, UserRow};

const REDIRECT: &str = "https://app.example/callback";

fn user(user_id: &str, source: &str, email: Option<&str>, password_hash: Option<&str>) -> UserRow {
    UserRow {
        user_id: user_id.into(),
        email: email.map(str::to_string),
        email_lower: email.map(str::to_lowercase),
        password_hash: password_hash.map(str::to_string),
        status: users::STATUS_ACTIVE.into(),
        created_at: T0,
        updated_at: T0,
        source: source.into(),
        name: None,
        email_verified: source != users::SOURCE_LOCAL,
        role: users::ROLE_USER.into(),
        last_sign_in_at: None,
    }
}

fn identity(provider: &str, issuer: &str, subject: &str, user_id: &str) -> IdentityRow {
    IdentityRow {
        provider: provider.into(),
        issuer: issuer.into(),
        subject: subject.into(),
        user_id: user_id.into(),
        email: Some(format!("{subject}@example.com")),
        created_at: T0,
        last_sign_in_at: T0,
    }
}

fn migrated() -> (TestDb, gatehouse::db::Db) {
    let test_db = TestDb::new(backend());
    let db = open_db(test_db.url());
    db.migrate().unwrap();
    (test_db, db)
}

fn is_unique_violation(result: diesel::QueryResult<()>) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(result, Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)))
}

#[test]
fn an_email_is_unique_when_present_and_may_be_absent() {
    let (_test_db, db) = migrated();
    let mut conn = db.get().unwrap();
    let conn: &mut DbConnection = &mut conn;
    users::insert(conn, &user("usr_a", users::SOURCE_LOCAL, Some("Alice@Example.com"), Some("hash"))).unwrap();
    assert!(
        is_unique_violation(users::insert(
            conn,
            &user("usr_b", users::SOURCE_PROVIDER, Some("alice@example.COM"), None)
        )),
        "the same email in another case is taken"
    );
    // Any number of users without an email.
    users::insert(conn, &user("usr_c", users::SOURCE_PROVIDER, None, None)).unwrap();
    users::insert(conn, &user("usr_d", users::SOURCE_APP, None, None)).unwrap();
    assert_eq!(users::find_by_email(conn, "ALICE@example.com").unwrap().map(|u| u.user_id), Some("usr_a".into()));
    let listed: Vec<String> = users::list(conn).unwrap().into_iter().map(|u| u.user_id).collect();
    assert_eq!(listed, ["usr_a", "usr_c", "usr_d"], "users with an email first, on both backends");

    // A password is for local users only; an email without its lower-cased twin is refused.
    assert!(users::insert(conn, &user("usr_e", users::SOURCE_PROVIDER, None, Some("hash"))).is_err());
    let mut half = user("usr_f", users::SOURCE_APP, Some("f@example.com"), None);
    half.email_lower = None;
    assert!(users::insert(conn, &half).is_err());
    let mut odd = user("usr_g", "elsewhere", None, None);
    assert!(users::insert(conn, &odd).is_err(), "an unknown source");
    odd.source = users::SOURCE_APP.into();
    odd.role = "root".into();
    assert!(users::insert(conn, &odd).is_err(), "an unknown role");
    // Nothing of the refused rows arrived.
    assert_eq!(users::list(conn).unwrap().len(), 3);
}

#[test]
fn an_identity_is_unique_per_provider_issuer_and_subject_and_goes_with_its_user() {
    use diesel::prelude::*;
    let (_test_db, db) = migrated();
    let mut conn = db.get().unwrap();
    let conn: &mut DbConnection = &mut conn;
    users::insert(conn, &user("usr_a", users::SOURCE_PROVIDER, Some("a@example.com"), None)).unwrap();
    users::insert(conn, &user("usr_b", users::SOURCE_PROVIDER, None, None)).unwrap();

    let google = "https://accounts.google.com";
    let first = identity("google", google, "1001", "usr_a");
    identities::insert(conn, &first).unwrap();
    assert!(
        is_unique_violation(identities::insert(conn, &identity("google", google, "1001", "usr_b"))),
        "one identity, one user"
    );
    // The same subject at another issuer, or under another provider id, is another identity.
    identities::insert(conn, &identity("google", "https://other.example", "1001", "usr_b")).unwrap();
    identities::insert(conn, &identity("okta", google, "1001", "usr_b")).unwrap();
    identities::insert(conn, &identity("github", "https://api.github.com", "77", "usr_a")).unwrap();
    assert!(identities::insert(conn, &identity("google", google, "2002", "usr_nobody")).is_err(), "a user must exist");

    assert_eq!(identities::find(conn, "google", google, "1001").unwrap(), Some(first.clone()));
    assert_eq!(identities::find(conn, "google", google, "9999").unwrap(), None);
    assert_eq!(
        identities::find(conn, "google", "https://other.example", "1001").unwrap().map(|i| i.user_id),
        Some("usr_b".into())
    );
    let of_a: Vec<String> = identities::list_for_user(conn, "usr_a").unwrap().into_iter().map(|i| i.provider).collect();
    assert_eq!(of_a, ["github", "google"]);
    assert_eq!(identities::list_for_user(conn, "usr_b").unwrap().len(), 2);

    // Deleting a user deletes their identities (ON DELETE CASCADE), no one else's.
    use gatehouse::db::schema::{user_identities, users as u};
    diesel::delete(u::table.find("usr_a")).execute(conn).unwrap();
    assert!(identities::list_for_user(conn, "usr_a").unwrap().is_empty());
    assert_eq!(user_identities::table.count().get_result::<i64>(conn).unwrap(), 2);
}

/// A user without a password (from a provider or the app) at the password form: "Incorrect
/// email or password", as for an unknown email — whatever the password.
#[actix_web::test]
async fn a_user_without_a_password_does_not_sign_in_with_one() {
    let app = TestApp::spawn().await;
    app.with_db(|conn| {
        users::insert(conn, &user("usr_provider", users::SOURCE_PROVIDER, Some("pat@example.com"), None))?;
        users::insert(conn, &user("usr_local", users::SOURCE_LOCAL, Some("lee@example.com"), None))?;
        Ok(())
    })
    .await;
    let client = dcr_client(&app, &[REDIRECT]).await;
    for email in ["pat@example.com", "lee@example.com"] {
        for password in [PASSWORD, ""] {
            let browser = browser();
            let query = authorize_query(&client, REDIRECT, &pkce().challenge, &[]);
            let start = app.get_with(&browser, &format!("{}/authorize?{query}", app.issuer)).await;
            assert_eq!(start.status(), 303);
            let login = app.get_with(&browser, &location(&start)).await.text().await.unwrap();
            let refused = app.submit_login(&browser, &login, email, password).await;
            assert_eq!(refused.status(), 401, "{email} {password:?}");
            assert!(refused.text().await.unwrap().contains("Incorrect email or password."), "{email}");
        }
    }
    let sessions = app
        .with_db(|conn| {
            use diesel::prelude::*;
            Ok(gatehouse::db::schema::sessions::table.count().get_result::<i64>(conn)?)
        })
        .await;
    assert_eq!(sessions, 0);
}

const ADMIN_TOKEN: &str = "0123456789abcdef0123456789abcdef-admin";

async fn admin_call(app: &TestApp, method: reqwest::Method, path: &str) -> (u16, serde_json::Value) {
    let response =
        app.http.request(method, app.url(&format!("/admin/api{path}"))).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().await.unwrap()).unwrap_or_default())
}

fn users_cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    crate::common::process::run(args, &[("GATEHOUSE__DATABASE__URL", app.db.as_ref().unwrap().url())])
}

fn stdout_json(output: &std::process::Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// SPEC §9.3: operators name users by email or by id, see them in the §9.3 shape with their
/// identities, and unlink, disable and enable them — from the CLI and the admin API alike;
/// unlinking ends the user's sessions and refresh families.
#[actix_web::test]
async fn operators_show_unlink_disable_and_enable_users_by_email_or_id() {
    use reqwest::Method;
    let app = TestApp::spawn_with(|s| s.admin.token = ADMIN_TOKEN.into()).await;
    // Alice: local, signed in once, with an identity at "acme" too; Pat: a provider user
    // without an email, with identities at two providers.
    create_user(&app, "alice@example.com").await;
    let client = dcr_client(&app, &[REDIRECT]).await;
    let p = pkce();
    let code = app
        .authorization_code(&browser(), &authorize_query(&client, REDIRECT, &p.challenge, &[]), "alice@example.com")
        .await;
    let (status, tokens) = app.exchange_code(&client, REDIRECT, &code, &p.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let alice_refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    app.with_db(|conn| {
        let alice = users::find_by_email(conn, "alice@example.com")?.unwrap();
        identities::insert(conn, &identity("acme", "https://idp.acme.example", "alice-at-acme", &alice.user_id))?;
        let mut pat = user("usr_pat", users::SOURCE_PROVIDER, None, None);
        pat.name = Some("Pat".into());
        users::insert(conn, &pat)?;
        identities::insert(conn, &identity("acme", "https://idp.acme.example", "pat-at-acme", "usr_pat"))?;
        identities::insert(conn, &identity("other", "https://other.example", "pat-elsewhere", "usr_pat"))?;
        Ok(())
    })
    .await;

    // `users show` by email: exactly the fields of §9.3, the last sign-in recorded.
    let alice = stdout_json(&users_cli(&app, &["users", "show", "alice@example.com", "--json"]));
    let mut fields: Vec<&str> = alice.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "created_at",
            "email",
            "email_verified",
            "identities",
            "last_sign_in_at",
            "name",
            "role",
            "source",
            "status",
            "user_id"
        ]
    );
    assert_eq!((alice["source"].as_str(), alice["role"].as_str()), (Some("local"), Some("user")));
    assert!(alice["last_sign_in_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{alice}");
    let alice_id = alice["user_id"].as_str().unwrap().to_string();

    // By id, and the same answer from the admin API.
    let pat = stdout_json(&users_cli(&app, &["users", "show", "--id", "usr_pat", "--json"]));
    assert_eq!(pat["email"], serde_json::Value::Null);
    assert_eq!(pat["name"], "Pat");
    assert_eq!(pat["last_sign_in_at"], serde_json::Value::Null);
    let providers: Vec<&str> =
        pat["identities"].as_array().unwrap().iter().map(|i| i["provider"].as_str().unwrap()).collect();
    assert_eq!(providers, ["acme", "other"]);
    let mut identity_fields: Vec<&str> = pat["identities"][0].as_object().unwrap().keys().map(String::as_str).collect();
    identity_fields.sort();
    assert_eq!(identity_fields, ["email", "issuer", "last_sign_in_at", "provider", "subject"]);
    assert_eq!(admin_call(&app, Method::GET, "/users/usr_pat").await, (200, pat.clone()));

    // A value without `@` is not taken for an id; unknown users are 404 / a failure.
    let bare = users_cli(&app, &["users", "show", "usr_pat"]);
    assert!(!bare.status.success());
    assert!(String::from_utf8_lossy(&bare.stderr).contains("--id"), "{}", String::from_utf8_lossy(&bare.stderr));
    let (status, body) = admin_call(&app, Method::GET, "/users/usr_nobody").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    assert!(!users_cli(&app, &["users", "show", "--id", "usr_nobody"]).status.success());

    // The list: by source, paged by cursor.
    let (status, page) = admin_call(&app, Method::GET, "/users?source=provider").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = page["items"].as_array().unwrap().iter().map(|u| u["user_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["usr_pat"]);
    assert_eq!(page["items"][0]["identities"], serde_json::json!(["acme", "other"]));
    let (status, first) = admin_call(&app, Method::GET, "/users?limit=1").await;
    assert_eq!(status, 200);
    let cursor = first["next_cursor"].as_str().expect("another page").to_string();
    let (_, second) = admin_call(&app, Method::GET, &format!("/users?limit=1&cursor={cursor}")).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_ne!(first["items"][0]["user_id"], second["items"][0]["user_id"]);
    assert!(second.get("next_cursor").is_none(), "two users, two pages");
    let (status, body) = admin_call(&app, Method::GET, "/users?source=everyone").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    let cli_list = stdout_json(&users_cli(&app, &["users", "list", "--json"]));
    assert_eq!(cli_list.as_array().unwrap().len(), 2);

    // Unlink through the admin API: the identity goes; a second time there is nothing to unlink.
    let (status, done) = admin_call(&app, Method::DELETE, "/users/usr_pat/identities/other").await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["identities_removed"], 1);
    let (status, _) = admin_call(&app, Method::DELETE, "/users/usr_pat/identities/other").await;
    assert_eq!(status, 404);
    let left = app.with_db(|conn| Ok(identities::list_for_user(conn, "usr_pat")?)).await;
    assert_eq!(left.iter().map(|i| i.provider.as_str()).collect::<Vec<_>>(), ["acme"]);

    // Unlink through the CLI ends the user's refresh family.
    let unlinked = users_cli(&app, &["users", "unlink", "alice@example.com", "--provider", "acme"]);
    assert!(unlinked.status.success(), "{}", String::from_utf8_lossy(&unlinked.stderr));
    let (status, body) = app.refresh_token(&client, &alice_refresh).await;
    assert_eq!(status, 400, "the family was revoked: {body}");
    let rows = crate::register::audit_rows(&app, "user.identity.unlinked").await;
    assert_eq!(rows.len(), 2);

    // Disable and enable, by id, from either door; both audited.
    let (status, disabled) = admin_call(&app, Method::POST, "/users/usr_pat/disable").await;
    assert_eq!((status, disabled["status"].as_str()), (200, Some("disabled")));
    let enabled = users_cli(&app, &["users", "enable", "--id", "usr_pat"]);
    assert!(enabled.status.success(), "{}", String::from_utf8_lossy(&enabled.stderr));
    assert_eq!(app.with_db(|conn| Ok(users::find(conn, "usr_pat")?)).await.unwrap().status, "active");
    let (status, _) = admin_call(&app, Method::POST, &format!("/users/{alice_id}/disable")).await;
    assert_eq!(status, 200);
    let (status, enabled) = admin_call(&app, Method::POST, &format!("/users/{alice_id}/enable")).await;
    assert_eq!((status, enabled["status"].as_str()), (200, Some("active")));
    assert_eq!(crate::register::audit_rows(&app, "user.enabled").await.len(), 2);
    assert_eq!(crate::register::audit_rows(&app, "user.disabled").await.len(), 2);
}

/// SPEC §12: `users add --admin`, `users set-role` and the admin API's role route give and take
/// the admin role, each change audited `user.role_changed`; an unknown role changes nothing.
#[actix_web::test]
async fn operators_give_and_take_the_admin_role() {
    use reqwest::Method;
    let app = TestApp::spawn_with(|s| s.admin.token = ADMIN_TOKEN.into()).await;
    let env = [("GATEHOUSE__DATABASE__URL", app.db.as_ref().unwrap().url())];
    let added = crate::common::process::run_with_stdin(
        &["users", "add", "root@example.com", "--password-stdin", "--admin"],
        &env,
        "s3cret password\n",
    );
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let root = stdout_json(&users_cli(&app, &["users", "show", "root@example.com", "--json"]));
    assert_eq!(root["role"], "admin");
    create_user(&app, "bob@example.com").await;

    let promoted = users_cli(&app, &["users", "set-role", "bob@example.com", "admin"]);
    assert!(promoted.status.success(), "{}", String::from_utf8_lossy(&promoted.stderr));
    let bob = stdout_json(&users_cli(&app, &["users", "show", "bob@example.com", "--json"]));
    assert_eq!(bob["role"], "admin");
    let bob_id = bob["user_id"].as_str().unwrap().to_string();

    let wrong = users_cli(&app, &["users", "set-role", "--id", &bob_id, "root"]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("admin, user"));

    let response = app
        .http
        .request(Method::POST, app.url(&format!("/admin/api/users/{bob_id}/role")))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(r#"{"role": "user"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["role"], "user");
    let bad = app
        .http
        .request(Method::POST, app.url(&format!("/admin/api/users/{bob_id}/role")))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(r#"{"role": "superuser"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(app.with_db(move |conn| Ok(users::find(conn, &bob_id)?)).await.unwrap().role, "user");

    let rows = crate::register::audit_rows(&app, "user.role_changed").await;
    assert_eq!(rows.len(), 2, "promoted once, demoted once");
    let (status, _) = admin_call(&app, Method::GET, "/users").await;
    assert_eq!(status, 200);
}
