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
