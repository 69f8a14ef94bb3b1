//! Who may sign in through a provider (SPEC §9.1), in order: a verified email unless the
//! identity is already linked; `allowed_email_domains` / `allowed_emails` (either may match);
//! `required_claims`; `allowed_orgs` (GitHub). Plain values in, a decision out; each refusal
//! says its rule in words.

use std::collections::BTreeMap;

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
    /// GitHub: the person's membership in each of `allowed_orgs`, as the API reported it.
    pub org_memberships: BTreeMap<String, Membership>,
}

/// A membership in a GitHub organisation (`GET /user/memberships/orgs/{org}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// `state: "active"`: the only one that counts.
    Active,
    /// `state: "pending"`: invited, not yet accepted.
    Pending,
    /// 404: not a member.
    None,
    /// 403: the organisation restricts third-party access and has not approved this OAuth app.
    Hidden,
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
    ClaimMissing {
        claim: String,
        value: String,
    },
    /// No active membership in any of `allowed_orgs`; the other states seen, to say why.
    NotOrgMember {
        pending: Vec<String>,
        hidden: Vec<String>,
    },
}

impl Denial {
    /// The rule's name, for the audit row.
    pub fn rule(&self) -> &'static str {
        match self {
            Denial::EmailNotVerified => "email_not_verified",
            Denial::EmailNotAllowed => "email_not_allowed",
            Denial::ClaimMissing { .. } => "required_claim",
            Denial::NotOrgMember { pending, .. } if !pending.is_empty() => "org_membership_pending",
            Denial::NotOrgMember { hidden, .. } if !hidden.is_empty() => "org_access_restricted",
            Denial::NotOrgMember { .. } => "org_not_member",
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
            Denial::NotOrgMember { pending, hidden } => {
                let mut words = format!("Only {} may sign in here.", provider.who_may_sign_in());
                if !pending.is_empty() {
                    words.push_str(&format!(
                        " Your membership in {} is pending: accept the invitation on {}, then sign in again.",
                        pending.join(", "),
                        provider.github_host()
                    ));
                }
                if !hidden.is_empty() {
                    words.push_str(&format!(
                        " {} restricts third-party access and has not approved this sign-in: an owner of the organisation must approve it.",
                        hidden.join(", ")
                    ));
                }
                words
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
    if !provider.allowed_orgs.is_empty() {
        let state = |org: &String| account.org_memberships.get(org).copied().unwrap_or(Membership::None);
        if !provider.allowed_orgs.iter().any(|org| state(org) == Membership::Active) {
            let having = |wanted: Membership| {
                provider.allowed_orgs.iter().filter(|org| state(org) == wanted).cloned().collect::<Vec<_>>()
            };
            return Err(Denial::NotOrgMember {
                pending: having(Membership::Pending),
                hidden: having(Membership::Hidden),
            });
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
            org_memberships: BTreeMap::new(),
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

    #[test]
    fn only_an_active_membership_in_an_allowed_org_counts() {
        let p = ProviderSettings {
            kind: crate::config::ProviderKind::Github,
            allowed_email_domains: vec![],
            allowed_orgs: vec!["acme".into(), "widgets".into()],
            ..provider()
        };
        let with = |memberships: &[(&str, Membership)]| Account {
            org_memberships: memberships.iter().map(|(o, m)| (o.to_string(), *m)).collect(),
            ..account("a@example.org", true, json!({}))
        };
        assert_eq!(check(&p, &with(&[("widgets", Membership::Active)]), false), Ok(()));
        assert_eq!(check(&p, &with(&[("acme", Membership::Pending), ("widgets", Membership::Active)]), false), Ok(()));
        let pending = check(&p, &with(&[("acme", Membership::Pending)]), false).unwrap_err();
        assert_eq!(pending.rule(), "org_membership_pending");
        assert!(pending.explain(&p).contains("Your membership in acme is pending"), "{}", pending.explain(&p));
        let none = check(&p, &with(&[("acme", Membership::None)]), false).unwrap_err();
        assert_eq!(none.rule(), "org_not_member");
        assert!(none.explain(&p).contains("members of the acme or widgets organisations on github.com"));
        assert_eq!(check(&p, &with(&[]), false).unwrap_err().rule(), "org_not_member");
        assert_eq!(
            check(&p, &with(&[("acme", Membership::Hidden)]), false).unwrap_err().rule(),
            "org_access_restricted"
        );
        // The email rule comes first.
        assert_eq!(
            check(&p, &Account { email_verified: false, ..with(&[("acme", Membership::Active)]) }, false),
            Err(Denial::EmailNotVerified)
        );
    }
}
