//! Who may sign in through a provider (SPEC §9.1), in order: a verified email unless the
//! identity is already linked; `allowed_email_domains` / `allowed_emails` (either may match);
//! `required_claims`. Plain values in, a decision out; each refusal says its rule in words.

use serde_json::{Map, Value};

use crate::config::ProviderSettings;

/// What a provider says about the person who signed in there.
#[derive(Debug, Clone)]
pub struct Account {
    /// The identity key's issuer part (`ProviderSettings::identity_issuer`).
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// Every claim seen (id_token, then userinfo), for `required_claims`.
    pub claims: Map<String, Value>,
}

impl Account {
    /// The email, when the provider verified it.
    pub fn verified_email(&self) -> Option<&str> {
        self.email.as_deref().filter(|_| self.email_verified)
    }
}

/// A refusal by the access rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    EmailNotVerified,
    EmailNotAllowed,
    ClaimMissing { claim: String, value: String },
}

impl Denial {
    /// The rule's name, for the audit row.
    pub fn rule(&self) -> &'static str {
        match self {
            Denial::EmailNotVerified => "email_not_verified",
            Denial::EmailNotAllowed => "email_not_allowed",
            Denial::ClaimMissing { .. } => "required_claim",
        }
    }

    /// The rule in plain words, for the refusal page.
    pub fn explain(&self, provider: &ProviderSettings) -> String {
        match self {
            Denial::EmailNotVerified => {
                format!("{} has not verified the email address of your account.", provider.name)
            }
            Denial::EmailNotAllowed => format!("Only {} may sign in here.", provider.who_may_sign_in()),
            Denial::ClaimMissing { claim, value } => {
                format!("Only accounts whose \"{claim}\" claim is or contains \"{value}\" may sign in here.")
            }
        }
    }
}

/// The access rules, in the SPEC's order. `already_linked`: the identity is linked to a user.
pub fn check(provider: &ProviderSettings, account: &Account, already_linked: bool) -> Result<(), Denial> {
    if !already_linked && account.verified_email().is_none() {
        return Err(Denial::EmailNotVerified);
    }
    let lists_set = !provider.allowed_email_domains.is_empty() || !provider.allowed_emails.is_empty();
    // The lists are matched against a verified email only: an unverified one proves nothing.
    if lists_set && !account.verified_email().is_some_and(|email| email_allowed(provider, email)) {
        return Err(Denial::EmailNotAllowed);
    }
    for (claim, value) in &provider.required_claims {
        if !claim_holds(account.claims.get(claim), value) {
            return Err(Denial::ClaimMissing { claim: claim.clone(), value: value.clone() });
        }
    }
    Ok(())
}

fn email_allowed(provider: &ProviderSettings, email: &str) -> bool {
    let email = email.to_lowercase();
    let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    provider.allowed_emails.iter().any(|allowed| allowed.to_lowercase() == email)
        || provider.allowed_email_domains.iter().any(|allowed| allowed.to_lowercase() == domain)
}

/// The claim equals the string, or is an array containing it.
fn claim_holds(claim: Option<&Value>, value: &str) -> bool {
    match claim {
        Some(Value::String(s)) => s == value,
        Some(Value::Array(items)) => items.iter().any(|item| item.as_str() == Some(value)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn provider() -> ProviderSettings {
        ProviderSettings {
            id: "acme".into(),
            name: "Acme SSO".into(),
            allowed_email_domains: vec!["acme.com".into()],
            ..ProviderSettings::default()
        }
    }

    fn account(email: &str, verified: bool, claims: Value) -> Account {
        Account {
            issuer: "https://idp".into(),
            subject: "1".into(),
            email: Some(email.into()),
            email_verified: verified,
            name: None,
            claims: claims.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn rules_apply_in_order() {
        let p = provider();
        assert_eq!(check(&p, &account("a@acme.com", true, json!({})), false), Ok(()));
        assert_eq!(check(&p, &account("a@ACME.com", true, json!({})), false), Ok(()));
        assert_eq!(check(&p, &account("a@acme.com", false, json!({})), false), Err(Denial::EmailNotVerified));
        assert_eq!(check(&p, &account("a@evil.com", true, json!({})), false), Err(Denial::EmailNotAllowed));
        assert_eq!(check(&p, &account("a@acme.com.evil.com", true, json!({})), false), Err(Denial::EmailNotAllowed));
        // Linked: no verified email needed — but the domain list still needs one.
        assert_eq!(check(&p, &account("a@acme.com", false, json!({})), true), Err(Denial::EmailNotAllowed));
    }

    #[test]
    fn either_list_may_match_and_claims_hold_as_string_or_array_member() {
        let p = ProviderSettings {
            allowed_emails: vec!["Guest@Partner.org".into()],
            required_claims: [("groups".to_string(), "mcp-users".to_string())].into(),
            ..provider()
        };
        let ok = json!({"groups": ["staff", "mcp-users"]});
        assert_eq!(check(&p, &account("guest@partner.org", true, ok.clone()), false), Ok(()));
        assert_eq!(check(&p, &account("b@acme.com", true, json!({"groups": "mcp-users"})), false), Ok(()));
        let denied = check(&p, &account("b@acme.com", true, json!({"groups": ["staff"]})), false);
        assert_eq!(denied.clone().unwrap_err().rule(), "required_claim");
        assert!(denied.unwrap_err().explain(&p).contains("\"groups\""));
        assert!(check(&p, &account("b@acme.com", true, json!({})), false).is_err());
    }
}
