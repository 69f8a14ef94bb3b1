//! The effective settings in words (SPEC §2, §4.5, §9, §12): the sign-in sources and the
//! registration rules in force, for `config check` and the dashboard's configuration page.

use crate::config::{AuthMethodMismatch, Settings, Word};

/// The sign-in sources (SPEC §9), one line each: who may sign in through each provider, in
/// plain words, and the callback URL to register there. No secret appears.
pub fn describe_sign_in(settings: &Settings) -> Vec<String> {
    let mut lines = Vec::new();
    for provider in &settings.login.providers {
        lines.push(format!(
            "provider {:?} ({}, {}): {} may sign in; callback URL to register: {}",
            provider.id,
            provider.kind.as_str(),
            provider.identity_issuer(),
            provider.who_may_sign_in(),
            crate::identity::callback_url(&settings.issuer, &provider.id)
        ));
        let mut first = Vec::new();
        first.push(if provider.create_users { "a first sign-in creates the user" } else { "no new users" });
        if provider.link_existing_by_email {
            first.push("or links to an existing local user with the same verified email (not an admin)");
        }
        lines.push(format!("  {}", first.join(", ")));
    }
    lines.push(if settings.login.password_enabled {
        "password: local users sign in with email and password".into()
    } else {
        "password: off (no form; POST /login refused)".into()
    });
    match crate::identity::auto_redirect_target(&settings.login) {
        Some(crate::identity::Source::Provider(provider)) => {
            lines.push(format!("auto_redirect: /authorize goes straight to provider {:?}", provider.id))
        }
        Some(crate::identity::Source::App) => lines.push("auto_redirect: /authorize goes straight to the app".into()),
        _ => {}
    }
    lines
}

/// The registration rules in force, one line each, in plain words.
pub fn describe(settings: &Settings) -> Vec<String> {
    let dcr = &settings.dcr;
    let on_off = |on: bool| if on { "allowed" } else { "refused" };
    let mut lines = vec![format!(
        "dynamic client registration (POST /register): {}",
        if dcr.enabled { "ON" } else { "OFF (POST /register answers 404; compatibility profiles never switch it on)" }
    )];
    if !dcr.enabled {
        return lines;
    }
    lines.push("only public clients: token_endpoint_auth_method \"none\", no secrets, PKCE S256 required".into());
    lines.push(match dcr.auth_method_mismatch {
        AuthMethodMismatch::Reject => "a request for client_secret_* or private_key_jwt is refused".into(),
        AuthMethodMismatch::Downgrade => {
            "a request for client_secret_* or private_key_jwt is registered as public (\"none\")".into()
        }
    });
    let profiles = crate::registration::profiles::selected(settings);
    if profiles.is_empty() {
        lines.push(format!("https redirect URIs with a host: {}", on_off(dcr.allow_https_redirect_uris)));
        lines.push(format!(
            "http loopback redirect URIs (localhost, 127.0.0.1, [::1], any port): {}",
            on_off(dcr.allow_loopback_redirect_uris)
        ));
    } else {
        let names: Vec<&str> = profiles.iter().map(|p| p.name).collect();
        let mut accepted = crate::registration::profiles::describe(&profiles);
        accepted.extend(dcr.policy.redirect_hosts_allow.iter().map(|h| format!("https://{h}/…")));
        lines.push(format!(
            "compatibility profiles {}: accepted redirects only: {}",
            names.join(", "),
            accepted.join(", ")
        ));
        if !dcr.allow_https_redirect_uris {
            lines.push("  … but https redirect URIs are switched off (dcr.allow_https_redirect_uris = false)".into());
        }
        if !dcr.allow_loopback_redirect_uris {
            lines.push(
                "  … but loopback redirect URIs are switched off (dcr.allow_loopback_redirect_uris = false)".into(),
            );
        }
    }
    let schemes = crate::registration::profiles::effective_private_use_schemes(settings);
    lines.push(if schemes.is_empty() {
        "private-use (native app) schemes: none".into()
    } else {
        format!("private-use (native app) schemes: {}", schemes.join(", "))
    });
    let policy = &dcr.policy;
    if profiles.is_empty() && !policy.redirect_hosts_allow.is_empty() {
        lines.push(format!("redirect hosts allowed: {}", policy.redirect_hosts_allow.join(", ")));
    }
    if !policy.redirect_hosts_deny.is_empty() {
        lines.push(format!("redirect hosts refused: {}", policy.redirect_hosts_deny.join(", ")));
    }
    lines.push(if policy.registrant_networks_allow.is_empty() {
        "registrants from: anywhere".into()
    } else {
        format!("registrants from: {}", policy.registrant_networks_allow.join(", "))
    });
    if policy.require_software_id || !policy.software_ids_allow.is_empty() {
        let ids =
            if policy.software_ids_allow.is_empty() { "any".to_string() } else { policy.software_ids_allow.join(", ") };
        let required = if policy.require_software_id { "required" } else { "optional" };
        lines.push(format!("software_id: {required}; accepted: {ids}"));
    }
    if !policy.client_name_deny.is_empty() {
        lines.push(format!("client names refused when they contain: {}", policy.client_name_deny.join(", ")));
    }
    lines.push(if policy.webhook_url.is_empty() {
        "webhook: none".into()
    } else {
        format!(
            "webhook: {} asked after every other rule (timeout {} ms; on error: {})",
            policy.webhook_url,
            policy.webhook_timeout_ms,
            policy.webhook_on_error.as_str()
        )
    });
    lines.push(format!("at most {} redirect URIs per client", dcr.max_redirect_uris));
    lines.push(format!(
        "rate limit: {} attempts per {} s per registering address",
        dcr.max_registrations_per_window, dcr.rate_limit_window_secs
    ));
    lines.push(if dcr.deduplicate {
        "identical registrations get the existing client back".into()
    } else {
        "every registration creates a new client".into()
    });
    lines.push(if dcr.registration_management {
        "registrants may read and delete their registration (RFC 7592)".into()
    } else {
        "RFC 7592 registration management: off".into()
    });
    lines.push(format!(
        "scopes granted at most: {}",
        crate::registration::profiles::effective_scopes(settings).join(" ")
    ));
    lines
}
