//! OpenID Connect vocabulary (SPEC §10), knowing nothing of actix or diesel: the scopes, the user
//! claims each one releases (one home for the id_token, `/userinfo` and the consent page), and
//! the values discovery advertises.

use serde_json::{Map, Value};

pub const SCOPE_OPENID: &str = "openid";
pub const SCOPE_PROFILE: &str = "profile";
pub const SCOPE_EMAIL: &str = "email";

/// `claims_supported` in discovery: what an id_token or `/userinfo` may carry.
pub const CLAIMS_SUPPORTED: [&str; 11] =
    ["iss", "sub", "aud", "iat", "exp", "auth_time", "nonce", "email", "email_verified", "name", "grant_id"];

/// The id_token algorithms offered (RS256 is the default, OIDC Discovery requires it).
pub const ID_TOKEN_ALGORITHMS: [&str; 2] = ["RS256", "ES256"];

/// Whether a space-separated scope string contains `name`.
pub fn has_scope(scope: &str, name: &str) -> bool {
    scope.split(' ').any(|s| s == name)
}

/// What the user shares, in the consent page's words, for the granted scopes: `email` → "your
/// email address", `profile` → "your name". Only with `openid` (without it nothing is released).
pub fn shared_claims(scope: &str) -> Vec<&'static str> {
    if !has_scope(scope, SCOPE_OPENID) {
        return Vec::new();
    }
    let mut shared = Vec::new();
    if has_scope(scope, SCOPE_EMAIL) {
        shared.push("your email address");
    }
    if has_scope(scope, SCOPE_PROFILE) {
        shared.push("your name");
    }
    shared
}

/// The stored facts about a user that claims come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFacts {
    pub user_id: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

/// `sub` and the user claims the scope releases: `email` and `email_verified` (the stored value)
/// with `email`, `name` with `profile`. Absent values are left out, never `null`.
pub fn user_claims(user: &UserFacts, scope: &str) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), Value::from(user.user_id.clone()));
    if has_scope(scope, SCOPE_EMAIL) {
        if let Some(email) = &user.email {
            claims.insert("email".into(), Value::from(email.clone()));
            claims.insert("email_verified".into(), Value::from(user.email_verified));
        }
    }
    if has_scope(scope, SCOPE_PROFILE) {
        if let Some(name) = &user.name {
            claims.insert("name".into(), Value::from(name.clone()));
        }
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(email: Option<&str>, verified: bool, name: Option<&str>) -> UserFacts {
        UserFacts {
            user_id: "usr_1".into(),
            email: email.map(str::to_string),
            email_verified: verified,
            name: name.map(str::to_string),
        }
    }

    #[test]
    fn claims_follow_the_scopes() {
        let u = user(Some("a@example.com"), false, Some("Ada"));
        let only_sub = user_claims(&u, "openid");
        assert_eq!(Value::Object(only_sub), serde_json::json!({"sub": "usr_1"}));
        let email = user_claims(&u, "openid email");
        assert_eq!(
            Value::Object(email),
            serde_json::json!({"sub": "usr_1", "email": "a@example.com", "email_verified": false})
        );
        let all = user_claims(&user(Some("a@example.com"), true, Some("Ada")), "profile openid email");
        assert_eq!(all["email_verified"], true);
        assert_eq!(all["name"], "Ada");
        // Absent facts are absent claims, never null.
        let bare = user_claims(&user(None, true, None), "openid email profile");
        assert_eq!(Value::Object(bare), serde_json::json!({"sub": "usr_1"}));
    }

    #[test]
    fn consent_names_what_is_shared() {
        assert_eq!(shared_claims("openid email profile"), vec!["your email address", "your name"]);
        assert_eq!(shared_claims("openid"), Vec::<&str>::new());
        assert_eq!(shared_claims("email profile"), Vec::<&str>::new(), "nothing without openid");
        assert!(!has_scope("openidx", "openid"));
    }
}
