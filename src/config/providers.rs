//! `[[login.providers]]` (SPEC §9): upstream identity providers, their value checks (one line
//! per problem, naming the key) and who may sign in through each, in plain words.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::check_upstream_url;

super::word_enum! {
    /// `login.providers[].kind`.
    ProviderKind {
        /// Any OpenID Provider, by discovery.
        Oidc = "oidc",
        /// GitHub or GitHub Enterprise Server: OAuth 2.0 and its REST API.
        Github = "github",
    }
}

/// Provider ids that name other sign-in sources (SPEC §9: `sessions.method`).
pub const RESERVED_PROVIDER_IDS: &[&str] = &["app", "password", "local"];

/// One upstream identity provider. `Debug` masks the inline secret.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderSettings {
    pub id: String,
    pub kind: ProviderKind,
    pub name: String,
    pub issuer: String,
    pub api_base_url: String,
    pub web_base_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub client_secret_file: String,
    pub client_secret_env: String,
    pub scopes: Vec<String>,
    pub allowed_email_domains: Vec<String>,
    pub allowed_emails: Vec<String>,
    pub required_claims: BTreeMap<String, String>,
    pub allowed_orgs: Vec<String>,
    pub allow_any_account: bool,
    pub create_users: bool,
    pub link_existing_by_email: bool,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        ProviderSettings {
            id: String::new(),
            kind: ProviderKind::Oidc,
            name: String::new(),
            issuer: String::new(),
            api_base_url: "https://api.github.com".into(),
            web_base_url: "https://github.com".into(),
            client_id: String::new(),
            client_secret: String::new(),
            client_secret_file: String::new(),
            client_secret_env: String::new(),
            scopes: Vec::new(),
            allowed_email_domains: Vec::new(),
            allowed_emails: Vec::new(),
            required_claims: BTreeMap::new(),
            allowed_orgs: Vec::new(),
            allow_any_account: false,
            create_users: true,
            link_existing_by_email: false,
        }
    }
}

impl std::fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = if self.client_secret.is_empty() { "" } else { "********" };
        f.debug_struct("ProviderSettings")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("api_base_url", &self.api_base_url)
            .field("web_base_url", &self.web_base_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &secret)
            .field("client_secret_file", &self.client_secret_file)
            .field("client_secret_env", &self.client_secret_env)
            .field("scopes", &self.scopes)
            .field("allowed_email_domains", &self.allowed_email_domains)
            .field("allowed_emails", &self.allowed_emails)
            .field("required_claims", &self.required_claims)
            .field("allowed_orgs", &self.allowed_orgs)
            .field("allow_any_account", &self.allow_any_account)
            .field("create_users", &self.create_users)
            .field("link_existing_by_email", &self.link_existing_by_email)
            .finish()
    }
}

impl ProviderSettings {
    /// The scopes asked for: the configured ones, else the kind's default.
    pub fn effective_scopes(&self) -> Vec<String> {
        if !self.scopes.is_empty() {
            return self.scopes.clone();
        }
        let defaults: &[&str] = match self.kind {
            ProviderKind::Oidc => &["openid", "email", "profile"],
            ProviderKind::Github if self.allowed_orgs.is_empty() => &["read:user", "user:email"],
            ProviderKind::Github => &["read:user", "user:email", "read:org"],
        };
        defaults.iter().map(|s| s.to_string()).collect()
    }

    /// The identity key's issuer part (SPEC §9.1): the issuer, for GitHub `api_base_url`
    /// (without a trailing `/`, so that `…/api/v3/` and `…/api/v3` are one GitHub).
    pub fn identity_issuer(&self) -> &str {
        match self.kind {
            ProviderKind::Oidc => &self.issuer,
            ProviderKind::Github => self.api_base_url.trim_end_matches('/'),
        }
    }

    /// GitHub's host as people know it ("github.com", "github.acme.com"), from `web_base_url`.
    pub fn github_host(&self) -> String {
        url::Url::parse(&self.web_base_url)
            .ok()
            .and_then(|url| {
                url.host_str().map(|host| match url.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host.to_string(),
                })
            })
            .unwrap_or_else(|| self.web_base_url.clone())
    }

    /// Whether no access list restricts who signs in.
    pub fn has_no_access_list(&self) -> bool {
        self.allowed_email_domains.is_empty()
            && self.allowed_emails.is_empty()
            && self.required_claims.is_empty()
            && self.allowed_orgs.is_empty()
    }

    /// Who may sign in through this provider, in plain words (SPEC §9: `config check`, the
    /// README): "any Google account whose email ends in @acme.com".
    pub fn who_may_sign_in(&self) -> String {
        if self.kind == ProviderKind::Github {
            return self.who_may_sign_in_on_github();
        }
        let mut conditions: Vec<String> = self.email_condition().into_iter().collect();
        for (claim, value) in &self.required_claims {
            conditions.push(format!("whose \"{claim}\" claim is or contains \"{value}\""));
        }
        let mut words = format!("any {} account", self.name);
        if !conditions.is_empty() {
            words.push(' ');
            words.push_str(&conditions.join(" and "));
        }
        self.with_no_new_users(words)
    }

    /// "members of the acme organisation on github.com whose email ends in @acme.com".
    fn who_may_sign_in_on_github(&self) -> String {
        let host = self.github_host();
        let mut words = match self.allowed_orgs.as_slice() {
            [] => format!("any account on {host}"),
            [org] => format!("members of the {org} organisation on {host}"),
            orgs => format!("members of the {} organisations on {host}", or_list(orgs)),
        };
        if let Some(emails) = self.email_condition() {
            words.push(' ');
            words.push_str(&emails);
        }
        self.with_no_new_users(words)
    }

    /// "whose email ends in @acme.com", when an email list is set.
    fn email_condition(&self) -> Option<String> {
        let domains: Vec<String> = self.allowed_email_domains.iter().map(|d| format!("@{d}")).collect();
        match (domains.is_empty(), self.allowed_emails.is_empty()) {
            (false, true) => Some(format!("whose email ends in {}", or_list(&domains))),
            (true, false) => Some(format!("whose email is {}", or_list(&self.allowed_emails))),
            (false, false) => {
                Some(format!("whose email ends in {} or is {}", or_list(&domains), or_list(&self.allowed_emails)))
            }
            (true, true) => None,
        }
    }

    fn with_no_new_users(&self, mut words: String) -> String {
        if !self.create_users {
            words.push_str(", already linked to a Gatehouse user (no new users)");
        }
        words
    }
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// `[a-z0-9-]{1,32}`.
pub fn is_provider_id(id: &str) -> bool {
    (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub(super) fn is_variable_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Every problem of the providers list, as (key, why); never echoes a secret.
pub fn check_providers(providers: &[ProviderSettings]) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (index, provider) in providers.iter().enumerate() {
        let key = |name: &str| format!("login.providers[{index}].{name}");
        let mut problem = |name: &str, why: String| problems.push((key(name), why));
        let id = &provider.id;
        if !is_provider_id(id) {
            problem("id", format!("{id:?} must be 1 to 32 of a-z, 0-9 and -"));
        } else if RESERVED_PROVIDER_IDS.contains(&id.as_str()) {
            problem("id", format!("{id:?} is reserved (app, password and local name other sign-in sources)"));
        } else if !seen.insert(id.clone()) {
            problem("id", format!("{id:?} is used by another provider"));
        }
        if provider.name.trim().is_empty() {
            problem("name", "must be set (the button says \"Continue with NAME\")".into());
        }
        if provider.kind == ProviderKind::Oidc {
            if let Err(why) = check_upstream_url(&provider.issuer) {
                problem("issuer", why);
            } else if provider.issuer.contains('?') {
                problem("issuer", format!("{:?} must not have a query", provider.issuer));
            }
            if !provider.allowed_orgs.is_empty() {
                problem("allowed_orgs", "applies to kind = \"github\" only (OpenID Providers: required_claims)".into());
            }
            let scopes = provider.effective_scopes();
            if !scopes.iter().any(|s| s == "openid") {
                problem("scopes", "must include \"openid\"".into());
            }
        }
        if provider.kind == ProviderKind::Github {
            check_github(provider, &mut problem);
        }
        for scope in &provider.scopes {
            if !super::is_scope_token(scope) {
                problem("scopes", format!("{scope:?} is not a valid scope value"));
            }
        }
        if provider.client_id.is_empty() {
            problem("client_id", "must be set (the client id registered at the provider)".into());
        }
        let secrets = [&provider.client_secret, &provider.client_secret_file, &provider.client_secret_env];
        match secrets.iter().filter(|value| !value.is_empty()).count() {
            0 => problem(
                "client_secret",
                "set exactly one of client_secret, client_secret_file, client_secret_env".into(),
            ),
            1 => {}
            _ => {
                problem("client_secret", "set only one of client_secret, client_secret_file, client_secret_env".into())
            }
        }
        let file = &provider.client_secret_file;
        if !file.is_empty() && !Path::new(file).is_file() {
            problem("client_secret_file", format!("{file:?} is not a readable file"));
        }
        let name = &provider.client_secret_env;
        if !name.is_empty() {
            if !is_variable_name(name) {
                problem(
                    "client_secret_env",
                    format!("{name:?} is not an environment variable name (letters, digits and _)"),
                );
            } else if std::env::var(name).map(|v| v.trim().is_empty()).unwrap_or(true) {
                problem("client_secret_env", format!("the environment variable {name} is not set"));
            }
        }
        for domain in &provider.allowed_email_domains {
            let valid = !domain.is_empty()
                && !domain.contains('@')
                && domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.');
            if !valid {
                problem("allowed_email_domains", format!("{domain:?} is not a domain such as \"acme.com\""));
            }
        }
        for email in &provider.allowed_emails {
            if !email.contains('@') || email.chars().any(char::is_whitespace) {
                problem("allowed_emails", format!("{email:?} is not an email address"));
            }
        }
        for (claim, value) in &provider.required_claims {
            if claim.is_empty() || value.is_empty() {
                problem("required_claims", format!("{claim:?} = {value:?}: name and value must be set"));
            }
        }
        if provider.has_no_access_list() && provider.create_users && !provider.allow_any_account {
            let name = if provider.name.is_empty() { id.as_str() } else { provider.name.as_str() };
            let lists = match provider.kind {
                ProviderKind::Oidc => "required_claims",
                ProviderKind::Github => "allowed_orgs",
            };
            problem(
                "allow_any_account",
                format!(
                    "anyone with a {name} account could sign in: set allowed_email_domains, allowed_emails or {lists}, or allow_any_account = true"
                ),
            );
        }
    }
    problems
}

/// The checks of a `kind = "github"` entry: its two base URLs, the keys that are oidc's only,
/// organisation names, and scopes that can read what the sign-in needs.
fn check_github(provider: &ProviderSettings, problem: &mut impl FnMut(&str, String)) {
    for (name, value) in [("api_base_url", &provider.api_base_url), ("web_base_url", &provider.web_base_url)] {
        if let Err(why) = check_upstream_url(value) {
            problem(name, why);
        }
    }
    if !provider.issuer.is_empty() {
        problem("issuer", "applies to kind = \"oidc\" only (GitHub: api_base_url and web_base_url)".into());
    }
    if !provider.required_claims.is_empty() {
        problem("required_claims", "applies to kind = \"oidc\" only (GitHub: allowed_orgs)".into());
    }
    for org in &provider.allowed_orgs {
        if !is_github_org(org) {
            problem("allowed_orgs", format!("{org:?} is not a GitHub organisation name (letters, digits and -)"));
        }
    }
    let scopes = provider.effective_scopes();
    let has = |wanted: &[&str]| scopes.iter().any(|s| wanted.contains(&s.as_str()));
    if !has(&["user:email", "user"]) {
        problem("scopes", "must include \"user:email\" (the sign-in reads the primary verified email)".into());
    }
    if !provider.allowed_orgs.is_empty() && !has(&["read:org", "write:org", "admin:org"]) {
        problem("scopes", "must include \"read:org\" when allowed_orgs is set".into());
    }
}

/// A GitHub login: 1 to 39 letters, digits and single hyphens, not at either end.
fn is_github_org(name: &str) -> bool {
    (1..=39).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn google() -> ProviderSettings {
        ProviderSettings {
            id: "google".into(),
            name: "Google".into(),
            issuer: "https://accounts.google.com".into(),
            client_id: "abc".into(),
            client_secret: "s3cret".into(),
            allowed_email_domains: vec!["acme.com".into()],
            ..ProviderSettings::default()
        }
    }

    #[test]
    fn a_good_provider_passes() {
        assert_eq!(check_providers(&[google()]), Vec::<(String, String)>::new());
    }

    #[test]
    fn anyone_could_sign_in_is_refused() {
        let open = ProviderSettings { allowed_email_domains: vec![], ..google() };
        let problems = check_providers(std::slice::from_ref(&open));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].1.contains("anyone with a Google account could sign in"), "{problems:?}");
        assert!(check_providers(&[ProviderSettings { allow_any_account: true, ..open.clone() }]).is_empty());
        assert!(check_providers(&[ProviderSettings { create_users: false, ..open }]).is_empty());
    }

    #[test]
    fn ids_issuers_and_secrets_are_checked() {
        for (bad, key) in [
            (ProviderSettings { id: "Google".into(), ..google() }, "login.providers[0].id"),
            (ProviderSettings { id: "password".into(), ..google() }, "login.providers[0].id"),
            (ProviderSettings { issuer: "http://idp.example.com".into(), ..google() }, "login.providers[0].issuer"),
            (ProviderSettings { client_secret_env: "X".into(), ..google() }, "login.providers[0].client_secret"),
            (ProviderSettings { client_secret: String::new(), ..google() }, "login.providers[0].client_secret"),
            (ProviderSettings { kind: ProviderKind::Github, ..google() }, "login.providers[0].issuer"),
        ] {
            let problems = check_providers(&[bad]);
            assert!(problems.iter().any(|(k, _)| k == key), "{key}: {problems:?}");
            assert!(problems.iter().all(|(_, why)| !why.contains("s3cret")));
        }
        assert!(check_providers(&[ProviderSettings { issuer: "http://127.0.0.1:9/x".into(), ..google() }]).is_empty());
        let twice = check_providers(&[google(), google()]);
        assert!(twice.iter().any(|(_, why)| why.contains("used by another provider")));
    }

    #[test]
    fn who_may_sign_in_in_plain_words() {
        assert_eq!(google().who_may_sign_in(), "any Google account whose email ends in @acme.com");
        let claims = ProviderSettings {
            allowed_email_domains: vec![],
            required_claims: BTreeMap::from([("groups".to_string(), "mcp-users".to_string())]),
            ..google()
        };
        assert_eq!(claims.who_may_sign_in(), "any Google account whose \"groups\" claim is or contains \"mcp-users\"");
    }

    fn github() -> ProviderSettings {
        ProviderSettings {
            id: "github".into(),
            kind: ProviderKind::Github,
            name: "GitHub".into(),
            client_id: "Iv1.abc".into(),
            client_secret: "s3cret".into(),
            allowed_orgs: vec!["acme".into()],
            ..ProviderSettings::default()
        }
    }

    #[test]
    fn a_github_entry_is_checked_for_its_own_keys() {
        assert_eq!(check_providers(&[github()]), Vec::<(String, String)>::new());
        let enterprise = ProviderSettings {
            api_base_url: "https://github.acme.com/api/v3".into(),
            web_base_url: "https://github.acme.com".into(),
            ..github()
        };
        assert!(check_providers(&[enterprise]).is_empty());
        for (bad, key, why) in [
            (
                ProviderSettings { api_base_url: "http://github.acme.com/api/v3".into(), ..github() },
                "api_base_url",
                "https",
            ),
            (ProviderSettings { web_base_url: "github.com".into(), ..github() }, "web_base_url", "absolute URL"),
            (ProviderSettings { issuer: "https://github.com".into(), ..github() }, "issuer", "oidc\" only"),
            (
                ProviderSettings {
                    required_claims: BTreeMap::from([("login".to_string(), "x".to_string())]),
                    ..github()
                },
                "required_claims",
                "oidc\" only",
            ),
            (
                ProviderSettings { allowed_orgs: vec!["acme/team".into()], ..github() },
                "allowed_orgs",
                "organisation name",
            ),
            (
                ProviderSettings { scopes: vec!["read:user".into(), "user:email".into()], ..github() },
                "scopes",
                "read:org",
            ),
            (ProviderSettings { allowed_orgs: vec![], ..github() }, "allow_any_account", "or allowed_orgs"),
            (
                ProviderSettings { kind: ProviderKind::Oidc, issuer: "https://idp".into(), ..github() },
                "allowed_orgs",
                "github\" only",
            ),
        ] {
            let problems = check_providers(&[bad]);
            let key = format!("login.providers[0].{key}");
            assert!(problems.iter().any(|(k, w)| *k == key && w.contains(why)), "{key}: {problems:?}");
        }
    }

    #[test]
    fn github_defaults_and_words() {
        assert_eq!(github().effective_scopes(), ["read:user", "user:email", "read:org"]);
        assert_eq!(
            ProviderSettings { allowed_orgs: vec![], ..github() }.effective_scopes(),
            ["read:user", "user:email"]
        );
        assert_eq!(github().who_may_sign_in(), "members of the acme organisation on github.com");
        let two = ProviderSettings {
            allowed_orgs: vec!["acme".into(), "widgets".into()],
            allowed_email_domains: vec!["acme.com".into()],
            web_base_url: "https://github.acme.com".into(),
            ..github()
        };
        assert_eq!(
            two.who_may_sign_in(),
            "members of the acme or widgets organisations on github.acme.com whose email ends in @acme.com"
        );
        let any = ProviderSettings { allowed_orgs: vec![], allow_any_account: true, create_users: false, ..github() };
        assert_eq!(
            any.who_may_sign_in(),
            "any account on github.com, already linked to a Gatehouse user (no new users)"
        );
        let slash = ProviderSettings { api_base_url: "https://github.acme.com/api/v3/".into(), ..github() };
        assert_eq!(slash.identity_issuer(), "https://github.acme.com/api/v3");
    }
}
