//! Known-client compatibility profiles (SPEC §4.5): data, one table. A non-empty
//! `dcr.compatibility` restricts registration to the selected clients' own redirect URIs (plus
//! hosts in `redirect_hosts_allow`); profiles never switch DCR on.

use crate::config::{Settings, Word};
use crate::oauth::redirect_uri;

pub struct Profile {
    pub name: &'static str,
    /// Raw strings; `{id}` stands for exactly one non-empty path segment.
    pub templates: &'static [&'static str],
    /// Loopback host texts accepted with any port (and any path): `http://127.0.0.1:…/…`.
    pub loopback_hosts: &'static [&'static str],
    /// Private-use schemes the profile adds to `dcr.private_use_schemes`.
    pub schemes: &'static [&'static str],
    /// Scopes the profile adds to `scopes.supported`.
    pub scopes: &'static [&'static str],
}

pub const PROFILES: &[Profile] = &[
    Profile {
        name: "chatgpt",
        templates: &[
            "https://chatgpt.com/connector_platform_oauth_redirect",
            "https://chatgpt.com/connector/oauth/{id}",
        ],
        loopback_hosts: &[],
        schemes: &[],
        scopes: &["offline_access"],
    },
    Profile {
        name: "claude",
        templates: &["https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback"],
        loopback_hosts: &[],
        schemes: &[],
        scopes: &[],
    },
    Profile {
        name: "vscode",
        templates: &["https://vscode.dev/redirect", "https://insiders.vscode.dev/redirect"],
        loopback_hosts: &["127.0.0.1"],
        schemes: &[],
        scopes: &[],
    },
    Profile {
        name: "cursor",
        templates: &[
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "https://www.cursor.com/agents/mcp/oauth/callback",
        ],
        loopback_hosts: &["localhost"],
        schemes: &["cursor"],
        scopes: &[],
    },
    Profile { name: "mcp-inspector", templates: &[], loopback_hosts: &["localhost"], schemes: &[], scopes: &[] },
];

/// The selected profiles (unknown names are refused at load, so they never reach here).
pub fn selected(settings: &Settings) -> Vec<&'static Profile> {
    PROFILES.iter().filter(|p| settings.dcr.compatibility.iter().any(|c| c.as_str() == p.name)).collect()
}

fn merged(base: &[String], extra: impl Iterator<Item = &'static str>) -> Vec<String> {
    let mut all = base.to_vec();
    for value in extra {
        if !all.iter().any(|v| v == value) {
            all.push(value.to_string());
        }
    }
    all
}

/// `dcr.private_use_schemes` plus what the selected profiles add.
pub fn effective_private_use_schemes(settings: &Settings) -> Vec<String> {
    merged(&settings.dcr.private_use_schemes, selected(settings).into_iter().flat_map(|p| p.schemes.iter().copied()))
}

/// `scopes.supported` plus what the selected profiles add.
pub fn effective_scopes(settings: &Settings) -> Vec<String> {
    merged(&settings.scopes.supported, selected(settings).into_iter().flat_map(|p| p.scopes.iter().copied()))
}

/// Does `uri` (a raw string) fit `template`, where `{id}` is one non-empty path segment?
pub fn template_matches(template: &str, uri: &str) -> bool {
    match template.split_once("{id}") {
        None => template == uri,
        Some((prefix, suffix)) => match uri.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(suffix)) {
            Some(segment) => !segment.is_empty() && !segment.contains(['/', '?', '#', '\\']),
            None => false,
        },
    }
}

/// Whether a redirect URI is acceptable under the selected profiles (plus the hosts allowed
/// by `redirect_hosts_allow`, checked by the caller's `host_allowed`). Empty selection: yes.
pub fn allows(profiles: &[&Profile], uri: &str, host_allowed: impl Fn(&str) -> bool) -> bool {
    if profiles.is_empty() {
        return true;
    }
    profiles.iter().any(|p| {
        p.templates.iter().any(|t| template_matches(t, uri))
            || p.loopback_hosts.iter().any(|h| redirect_uri::is_loopback_on(uri, h))
    }) || host_allowed(uri)
}

/// What the selected profiles accept, for error messages and `config check`.
pub fn describe(profiles: &[&Profile]) -> Vec<String> {
    let mut accepted = Vec::new();
    for profile in profiles {
        accepted.extend(profile.templates.iter().map(|t| t.to_string()));
        accepted.extend(profile.loopback_hosts.iter().map(|h| format!("http://{h}:<any port>/…")));
    }
    accepted.dedup();
    accepted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Compatibility;

    #[test]
    fn every_compatibility_word_has_its_profile() {
        for word in Compatibility::ALL {
            assert_eq!(PROFILES.iter().filter(|p| p.name == word.as_str()).count(), 1, "{word:?}");
        }
        assert_eq!(PROFILES.len(), Compatibility::ALL.len());
    }

    fn profile(name: &str) -> &'static Profile {
        PROFILES.iter().find(|p| p.name == name).unwrap()
    }

    #[test]
    fn templates_with_one_segment() {
        let t = "https://chatgpt.com/connector/oauth/{id}";
        assert!(template_matches(t, "https://chatgpt.com/connector/oauth/abc123"));
        assert!(!template_matches(t, "https://chatgpt.com/connector/oauth/"));
        assert!(!template_matches(t, "https://chatgpt.com/connector/oauth/a/b"));
        assert!(!template_matches(t, "https://chatgpt.com/connector/oauth/a?x=1"));
        assert!(template_matches("https://claude.ai/api/mcp/auth_callback", "https://claude.ai/api/mcp/auth_callback"));
        assert!(!template_matches(
            "https://claude.ai/api/mcp/auth_callback",
            "https://claude.ai/api/mcp/auth_callback/"
        ));
    }

    #[test]
    fn profiles_accept_their_clients_and_refuse_look_alikes() {
        let chatgpt = [profile("chatgpt")];
        let none = |_: &str| false;
        assert!(allows(&chatgpt, "https://chatgpt.com/connector_platform_oauth_redirect", none));
        assert!(allows(&chatgpt, "https://chatgpt.com/connector/oauth/x1", none));
        assert!(!allows(&chatgpt, "https://chatgpt.com/evil", none));
        assert!(!allows(&chatgpt, "https://chatgpt.com.evil.net/connector_platform_oauth_redirect", none));
        let vscode = [profile("vscode")];
        assert!(allows(&vscode, "http://127.0.0.1:33418/", none));
        assert!(allows(&vscode, "http://127.0.0.1/", none));
        assert!(!allows(&vscode, "http://localhost:33418/", none));
        assert!(!allows(&vscode, "http://127.0.0.1.evil.net/", none));
        let cursor = [profile("cursor")];
        assert!(allows(&cursor, "cursor://anysphere.cursor-mcp/oauth/callback", none));
        assert!(allows(&cursor, "http://localhost:5173/callback", none));
        assert!(!allows(&cursor, "cursor://anysphere.cursor-mcp/other", none));
        assert!(allows(&[], "https://anything.example/cb", none), "no profiles: no restriction");
        assert!(allows(&chatgpt, "https://app.example.com/cb", |_| true), "hosts allowed by policy pass");
    }

    #[test]
    fn profiles_add_schemes_and_scopes() {
        let mut settings = Settings::default();
        settings.scopes.supported = vec![];
        settings.dcr.compatibility = vec![Compatibility::Chatgpt, Compatibility::Cursor];
        assert_eq!(effective_scopes(&settings), vec!["offline_access"]);
        assert_eq!(effective_private_use_schemes(&settings), vec!["cursor"]);
        settings.dcr.compatibility = vec![];
        assert!(effective_private_use_schemes(&settings).is_empty());
    }
}
