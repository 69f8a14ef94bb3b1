//! The GitHub half of an upstream sign-in (SPEC §9.1), free of HTTP and storage: GitHub (and
//! GitHub Enterprise Server) is OAuth 2.0 plus its REST API, not an OpenID Provider — no
//! discovery, no nonce, no `id_token`. Its URLs, the headers its API wants, and its answers
//! (`/user`, `/user/emails`, `/user/memberships/orgs/{org}`) read into an `Account`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::access::{Account, Membership};
use super::oidc::Authorization;
use crate::config::ProviderSettings;

/// The headers of every API call (GitHub's REST API documentation); the client adds the
/// User-Agent GitHub requires.
pub const API_HEADERS: [(&str, &str); 2] =
    [("accept", "application/vnd.github+json"), ("x-github-api-version", "2022-11-28")];

fn web(provider: &ProviderSettings) -> &str {
    provider.web_base_url.trim_end_matches('/')
}

fn api(provider: &ProviderSettings) -> &str {
    provider.identity_issuer()
}

/// `{web_base_url}/login/oauth/authorize` with PKCE S256 and `state` (no nonce: there is no
/// `id_token` to carry it); `prompt=select_account` when a fresh sign-in is asked for.
pub fn authorization_url(provider: &ProviderSettings, request: &Authorization) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("client_id", &provider.client_id)
        .append_pair("redirect_uri", request.redirect_uri)
        .append_pair("scope", &provider.effective_scopes().join(" "))
        .append_pair("state", request.state)
        .append_pair("code_challenge", request.code_challenge)
        .append_pair("code_challenge_method", "S256");
    if request.fresh_sign_in {
        query.append_pair("prompt", "select_account");
    }
    format!("{}/login/oauth/authorize?{}", web(provider), query.finish())
}

/// Where the code is exchanged (with the client's secret in the form, as GitHub documents).
pub fn token_endpoint(provider: &ProviderSettings) -> String {
    format!("{}/login/oauth/access_token", web(provider))
}

pub fn user_url(provider: &ProviderSettings) -> String {
    format!("{}/user", api(provider))
}

pub fn emails_url(provider: &ProviderSettings) -> String {
    format!("{}/user/emails", api(provider))
}

/// `org` comes from the configuration, checked to be a GitHub login (no `/`, `?` or `#`).
pub fn membership_url(provider: &ProviderSettings, org: &str) -> String {
    format!("{}/user/memberships/orgs/{org}", api(provider))
}

/// GitHub sends no `iss` on its callbacks; one that is there must name this GitHub.
pub fn check_callback_issuer(iss: Option<&str>, provider: &ProviderSettings) -> Result<(), String> {
    match iss {
        Some(iss) if iss.trim_end_matches('/') != web(provider) => {
            Err("the callback's iss is not this GitHub's address".into())
        }
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
struct User {
    id: u64,
    login: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

#[derive(Deserialize)]
struct OrgMembership {
    state: String,
}

/// A membership answer: 200 with its `state`, 404 (not a member), 403 (the organisation has
/// not approved this OAuth app); any other status is not an answer.
pub fn membership(status: u16, body: &[u8]) -> Result<Membership, String> {
    match status {
        200 => {
            let answer: OrgMembership =
                serde_json::from_slice(body).map_err(|e| format!("membership answer is not valid: {e}"))?;
            Ok(match answer.state.as_str() {
                "active" => Membership::Active,
                "pending" => Membership::Pending,
                _ => Membership::None,
            })
        }
        404 => Ok(Membership::None),
        403 => Ok(Membership::Hidden),
        other => Err(format!("membership answered HTTP {other}")),
    }
}

/// The account from `/user` (the numeric `id` is the subject; `name`, else `login`, the name)
/// and `/user/emails` (the primary address, verified or not: the access rules decide).
pub fn account(
    provider: &ProviderSettings,
    user: &[u8],
    emails: &[u8],
    org_memberships: BTreeMap<String, Membership>,
) -> Result<Account, String> {
    let user: User = serde_json::from_slice(user).map_err(|e| format!("/user answer is not valid: {e}"))?;
    let emails: Vec<Email> =
        serde_json::from_slice(emails).map_err(|e| format!("/user/emails answer is not valid: {e}"))?;
    let primary = emails.into_iter().find(|e| e.primary);
    let name = user.name.filter(|n| !n.trim().is_empty()).unwrap_or(user.login);
    Ok(Account {
        issuer: provider.identity_issuer().to_string(),
        subject: user.id.to_string(),
        email_verified: primary.as_ref().is_some_and(|e| e.verified),
        email: primary.map(|e| e.email.trim().to_string()).filter(|e| !e.is_empty()),
        name: Some(crate::text::truncate(&name, 200)),
        claims: Default::default(),
        org_memberships,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderKind;

    fn enterprise() -> ProviderSettings {
        ProviderSettings {
            id: "ghe".into(),
            kind: ProviderKind::Github,
            client_id: "Iv1.x".into(),
            api_base_url: "https://github.acme.com/api/v3/".into(),
            web_base_url: "https://github.acme.com/".into(),
            allowed_orgs: vec!["acme".into()],
            ..ProviderSettings::default()
        }
    }

    #[test]
    fn urls_follow_the_base_urls() {
        let p = enterprise();
        let request = Authorization {
            redirect_uri: "https://gh.example/login/ghe/callback",
            state: "st",
            nonce: "unused",
            code_challenge: "ch",
            fresh_sign_in: true,
        };
        let url = authorization_url(&p, &request);
        assert!(url.starts_with("https://github.acme.com/login/oauth/authorize?client_id=Iv1.x&"), "{url}");
        assert!(url.contains("scope=read%3Auser+user%3Aemail+read%3Aorg"), "{url}");
        assert!(url.contains("code_challenge_method=S256") && url.contains("prompt=select_account"), "{url}");
        assert!(!url.contains("nonce"), "{url}");
        let url = authorization_url(&p, &Authorization { fresh_sign_in: false, ..request });
        assert!(!url.contains("prompt"), "{url}");
        assert_eq!(token_endpoint(&p), "https://github.acme.com/login/oauth/access_token");
        assert_eq!(membership_url(&p, "acme"), "https://github.acme.com/api/v3/user/memberships/orgs/acme");
        assert_eq!(
            user_url(&ProviderSettings { kind: ProviderKind::Github, ..Default::default() }),
            "https://api.github.com/user"
        );
    }

    #[test]
    fn the_numeric_id_is_the_subject_and_the_primary_email_counts() {
        let user = br#"{"login": "octocat", "id": 583231, "name": null, "email": "public@example.org"}"#;
        let emails = br#"[{"email": "other@acme.com", "verified": true, "primary": false},
                          {"email": "octo@acme.com", "verified": false, "primary": true, "visibility": "private"}]"#;
        let a = account(&enterprise(), user, emails, BTreeMap::new()).unwrap();
        assert_eq!((a.subject.as_str(), a.issuer.as_str()), ("583231", "https://github.acme.com/api/v3"));
        assert_eq!(a.name.as_deref(), Some("octocat"));
        assert_eq!(a.email.as_deref(), Some("octo@acme.com"));
        assert_eq!(a.verified_email(), None, "an unverified primary is not made up for by another address");
        assert!(account(&enterprise(), br#"{"login": "x"}"#, b"[]", BTreeMap::new()).is_err());
    }

    #[test]
    fn only_active_is_an_active_membership() {
        assert_eq!(membership(200, br#"{"state": "active", "role": "member"}"#), Ok(Membership::Active));
        assert_eq!(membership(200, br#"{"state": "pending", "role": "member"}"#), Ok(Membership::Pending));
        assert_eq!(membership(404, b"{}"), Ok(Membership::None));
        assert_eq!(membership(403, b"{}"), Ok(Membership::Hidden));
        assert!(membership(401, b"{}").is_err());
        assert!(membership(200, b"not json").is_err());
    }

    #[test]
    fn an_iss_on_the_callback_must_name_this_github() {
        let p = enterprise();
        assert!(check_callback_issuer(None, &p).is_ok());
        assert!(check_callback_issuer(Some("https://github.acme.com"), &p).is_ok());
        assert!(check_callback_issuer(Some("https://github.com"), &p).is_err());
    }
}
