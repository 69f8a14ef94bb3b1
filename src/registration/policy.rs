//! The policy hook as configuration (`[dcr.policy]`, SPEC §4.4 and step 6 of §4.2), applied
//! after the built-in rules: redirect host allow/deny lists, the registrant's network,
//! software-id rules and a client-name deny list; plus the compatibility-profile restriction
//! (§4.5). Pure: settings, metadata and an address in, a reason out.

use std::net::IpAddr;

use ipnet::IpNet;

use super::profiles::{self, Profile};
use crate::config::Settings;
use crate::net::{canonical_ip, parse_cidr};
use crate::oauth::client_metadata::ClientMetadata;
use crate::oauth::redirect_uri::{normalise_host, normalised_host};
use crate::text::echo;

/// A host pattern: an exact host, or `*.` + a domain (its sub-domains, not the domain itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    SubdomainsOf(String),
}

impl HostPattern {
    pub fn parse(pattern: &str) -> HostPattern {
        let normalised = normalise_host(pattern);
        match normalised.strip_prefix("*.") {
            Some(domain) => HostPattern::SubdomainsOf(domain.to_string()),
            None => HostPattern::Exact(normalised),
        }
    }

    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(exact) => host == exact,
            HostPattern::SubdomainsOf(domain) => {
                host.strip_suffix(domain.as_str()).is_some_and(|label| label.len() > 1 && label.ends_with('.'))
            }
        }
    }
}

/// The rules compiled from the current settings (rebuilt whenever the settings are swapped:
/// callers compile from the live handle per request, which costs microseconds).
pub struct Policy {
    allow_hosts: Vec<HostPattern>,
    deny_hosts: Vec<HostPattern>,
    networks: Vec<IpNet>,
    require_software_id: bool,
    software_ids: Vec<String>,
    name_deny: Vec<String>,
    profiles: Vec<&'static Profile>,
}

impl Policy {
    pub fn from_settings(settings: &Settings) -> Policy {
        let policy = &settings.dcr.policy;
        Policy {
            allow_hosts: policy.redirect_hosts_allow.iter().map(|p| HostPattern::parse(p)).collect(),
            deny_hosts: policy.redirect_hosts_deny.iter().map(|p| HostPattern::parse(p)).collect(),
            networks: policy.registrant_networks_allow.iter().filter_map(|c| parse_cidr(c)).collect(),
            require_software_id: policy.require_software_id,
            software_ids: policy.software_ids_allow.clone(),
            name_deny: policy.client_name_deny.iter().map(|s| s.to_lowercase()).filter(|s| !s.is_empty()).collect(),
            profiles: profiles::selected(settings),
        }
    }

    fn host_allowed(&self, uri: &str) -> bool {
        normalised_host(uri).is_some_and(|host| self.allow_hosts.iter().any(|p| p.matches(&host)))
    }

    /// Compatibility profiles: a redirect URI outside the selected clients' own is refused
    /// (reported as `invalid_redirect_uri`).
    pub fn check_profiles(&self, metadata: &ClientMetadata) -> Result<(), String> {
        for uri in &metadata.redirect_uris {
            if !profiles::allows(&self.profiles, uri, |u| self.host_allowed(u)) {
                let names: Vec<&str> = self.profiles.iter().map(|p| p.name).collect();
                return Err(format!(
                    "redirect URI \"{}\" is not one this server accepts for registration ({}); accepted: {}",
                    echo(uri),
                    names.join(", "),
                    profiles::describe(&self.profiles).join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The `[dcr.policy]` rules (reported as `invalid_client_metadata`), each denial saying
    /// what to change.
    pub fn check(&self, metadata: &ClientMetadata, registrant: Option<IpAddr>) -> Result<(), String> {
        for uri in &metadata.redirect_uris {
            let host = normalised_host(uri);
            if let Some(host) = &host {
                if self.deny_hosts.iter().any(|p| p.matches(host)) {
                    return Err(format!("redirect URIs on host \"{}\" are not accepted by this server", echo(host)));
                }
            }
            // With profiles selected, the allow list widens their set instead (checked there).
            if self.profiles.is_empty() && !self.allow_hosts.is_empty() && !self.host_allowed(uri) {
                return Err(format!(
                    "redirect URI \"{}\" is not on an allowed host; this server accepts redirects to: {}",
                    echo(uri),
                    self.describe_allowed_hosts()
                ));
            }
        }
        if !self.networks.is_empty() {
            let inside =
                registrant.map(canonical_ip).is_some_and(|ip| self.networks.iter().any(|net| net.contains(&ip)));
            if !inside {
                return Err("registration is not accepted from this network".into());
            }
        }
        match metadata.software_id.as_deref() {
            None if self.require_software_id => {
                return Err("a software_id is required to register with this server".into());
            }
            Some(id) if !self.software_ids.is_empty() && !self.software_ids.iter().any(|allowed| allowed == id) => {
                return Err(format!("software_id \"{}\" is not accepted by this server", echo(id)));
            }
            _ => {}
        }
        let name = metadata.client_name.to_lowercase();
        if let Some(denied) = self.name_deny.iter().find(|d| name.contains(d.as_str())) {
            return Err(format!("client_name must not contain {denied:?}"));
        }
        Ok(())
    }

    fn describe_allowed_hosts(&self) -> String {
        self.allow_hosts
            .iter()
            .map(|p| match p {
                HostPattern::Exact(h) => h.clone(),
                HostPattern::SubdomainsOf(d) => format!("*.{d}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(uris: &[&str]) -> ClientMetadata {
        ClientMetadata {
            client_name: "App".into(),
            redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
            grant_types: vec!["authorization_code".into()],
            response_types: vec!["code".into()],
            token_endpoint_auth_method: "none".into(),
            client_uri: None,
            logo_uri: None,
            scope: None,
            software_id: None,
            software_version: None,
            contacts: None,
            application_type: None,
            id_token_signed_response_alg: None,
        }
    }

    fn policy(change: impl FnOnce(&mut Settings)) -> Policy {
        let mut settings = Settings::default();
        change(&mut settings);
        Policy::from_settings(&settings)
    }

    #[test]
    fn host_patterns() {
        let exact = HostPattern::parse("ChatGPT.com.");
        assert!(exact.matches("chatgpt.com"));
        assert!(!exact.matches("chatgpt.com.evil.net"));
        assert!(!exact.matches("evilchatgpt.com"));
        let wildcard = HostPattern::parse("*.example.com");
        assert!(wildcard.matches("a.example.com"));
        assert!(wildcard.matches("a.b.example.com"));
        assert!(!wildcard.matches("example.com"));
        assert!(!wildcard.matches("badexample.com"));
    }

    #[test]
    fn allow_list_compares_parsed_hosts() {
        let p = policy(|s| s.dcr.policy.redirect_hosts_allow = vec!["chatgpt.com".into()]);
        assert!(p.check(&metadata(&["https://chatgpt.com/cb"]), None).is_ok());
        assert!(p.check(&metadata(&["https://CHATGPT.COM./cb"]), None).is_ok(), "case and trailing dot");
        for bad in [
            "https://chatgpt.com.evil.net/cb",
            "https://evilchatgpt.com/cb",
            "https://evil.net/?chatgpt.com",
            "https://xn--chtgpt-8nf.com/cb",
        ] {
            let reason = p.check(&metadata(&[bad]), None).unwrap_err();
            assert!(reason.contains("chatgpt.com"), "{bad}: {reason}");
        }
    }

    #[test]
    fn deny_list_catches_case_and_trailing_dot() {
        let p = policy(|s| s.dcr.policy.redirect_hosts_deny = vec!["evil.example".into(), "*.bad.example".into()]);
        assert!(p.check(&metadata(&["https://EVIL.example./cb"]), None).is_err());
        assert!(p.check(&metadata(&["https://x.bad.example/cb"]), None).is_err());
        assert!(p.check(&metadata(&["https://good.example/cb"]), None).is_ok());
    }

    #[test]
    fn registrant_networks() {
        let p = policy(|s| s.dcr.policy.registrant_networks_allow = vec!["10.0.0.0/8".into(), "2001:db8::/32".into()]);
        let ok = |ip: &str| p.check(&metadata(&["https://a.example/cb"]), Some(ip.parse().unwrap())).is_ok();
        assert!(ok("10.1.2.3"));
        assert!(!ok("11.0.0.0"));
        assert!(ok("::ffff:10.0.0.1"), "mapped IPv4 matched as IPv4");
        assert!(ok("2001:db8::1"));
        assert!(!ok("2001:db9::1"));
        assert!(p.check(&metadata(&["https://a.example/cb"]), None).is_err());
    }

    #[test]
    fn software_id_and_names() {
        let p = policy(|s| {
            s.dcr.policy.require_software_id = true;
            s.dcr.policy.software_ids_allow = vec!["com.example.app".into()];
            s.dcr.policy.client_name_deny = vec!["Phish".into()];
        });
        let mut m = metadata(&["https://a.example/cb"]);
        assert!(p.check(&m, None).unwrap_err().contains("software_id is required"));
        m.software_id = Some("other".into());
        assert!(p.check(&m, None).unwrap_err().contains("not accepted"));
        m.software_id = Some("com.example.app".into());
        assert!(p.check(&m, None).is_ok());
        m.client_name = "Totally not a PHISHING app".into();
        assert!(p.check(&m, None).unwrap_err().contains("phish"));
    }

    #[test]
    fn profiles_restrict_and_the_allow_list_widens() {
        let claude = policy(|s| s.dcr.compatibility = vec![crate::config::Compatibility::Claude]);
        assert!(claude.check_profiles(&metadata(&["https://claude.ai/api/mcp/auth_callback"])).is_ok());
        assert!(claude.check_profiles(&metadata(&["https://app.example.com/cb"])).is_err());
        let widened = policy(|s| {
            s.dcr.compatibility = vec![crate::config::Compatibility::Claude];
            s.dcr.policy.redirect_hosts_allow = vec!["app.example.com".into()];
        });
        assert!(widened.check_profiles(&metadata(&["https://app.example.com/cb"])).is_ok());
        assert!(widened.check(&metadata(&["https://claude.ai/api/mcp/auth_callback"]), None).is_ok());
    }
}
