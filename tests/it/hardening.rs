//! SPEC §11 over the real HTTP surface: consent names app-link redirects truthfully.

use crate::common::flow::*;
use crate::common::TestApp;

const WEB_REDIRECT: &str = "https://app.example/callback";

// ---- Consent: a private-use redirect is an app on this device, named by scheme and authority ----

#[actix_web::test]
async fn consent_names_a_private_use_redirect_as_an_app_with_its_full_scheme_and_authority() {
    let app = TestApp::spawn_with(|s| s.dcr.private_use_schemes = vec!["myapp".into()]).await;
    create_user(&app, "alice@example.com").await;
    let client = dcr_client(&app, &["myapp://claude.ai/api/mcp/auth_callback", WEB_REDIRECT]).await;

    let b = browser();
    let query = authorize_query(&client, "myapp://claude.ai/api/mcp/auth_callback", &pkce().challenge, &[]);
    let consent = app.sign_in_to_consent(&b, &query, "alice@example.com").await;
    assert!(
        consent.contains(
            "the answer goes to an app on this device that handles <code>myapp:</code> links, at \
             <strong><code>myapp://claude.ai</code></strong>"
        ),
        "{consent}"
    );
    assert!(!consent.contains("<code>claude.ai</code>"), "never the bare authority, as if a web host: {consent}");
    assert!(!consent.contains("sent to"), "{consent}");

    // A web redirect of the same client is still named by its host.
    let query = authorize_query(&client, WEB_REDIRECT, &pkce().challenge, &[]);
    let consent = app.sign_in_to_consent(&b, &query, "alice@example.com").await;
    assert!(consent.contains("you will be sent to <strong><code>app.example</code></strong>"), "{consent}");
    assert!(!consent.contains("an app on this device"), "{consent}");

    // The error page for an unregistered app link names it the same way.
    let query = authorize_query(&client, "myapp://evil.example/cb", &pkce().challenge, &[]);
    let refused = app.get_with(&browser(), &format!("{}/authorize?{query}", app.issuer)).await;
    assert_eq!(refused.status(), 400);
    let page = refused.text().await.unwrap();
    assert!(page.contains("handles <code>myapp:</code> links, at <strong><code>myapp://evil.example</code>"), "{page}");
}
