//! `config check` (SPEC §2, §4.5): the effective settings with secrets masked, the
//! registration rules in force in plain words, and warnings about likely mistakes.

use clap::Subcommand;

use super::CommandError;
use crate::config::{AuthMethodMismatch, ConfigSource, Settings, Word};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration, print the effective settings (secrets masked) and the
    /// registration rules in plain words
    Check,
}

pub fn run(source: &ConfigSource, settings: &Settings, command: ConfigCommand) -> Result<(), CommandError> {
    match command {
        ConfigCommand::Check => check(source, settings).map_err(Into::into),
    }
}

/// `config check`: the effective settings (secrets masked), the rules in plain words, warnings.
pub fn check(source: &ConfigSource, settings: &Settings) -> Result<(), String> {
    let origin = if source.path.exists() {
        source.path.display().to_string()
    } else {
        format!("{} (not found; built-in defaults)", source.path.display())
    };
    println!("# configuration is valid — file: {origin}");
    println!("# effective settings (defaults ← file ← GATEHOUSE__* environment; secrets masked):\n");
    let rendered = toml::to_string_pretty(&settings.masked()).map_err(|e| e.to_string())?;
    println!("{rendered}");
    println!("# sign-in sources:");
    for line in describe_sign_in(settings) {
        println!("#   {line}");
    }
    println!("# registration rules in effect:");
    for line in describe(settings) {
        println!("#   {line}");
    }
    let warnings = warnings(settings);
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

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

/// Settings that work but are probably not what the operator meant: printed by `config check`
/// and logged by `serve` at start.
pub fn warnings(settings: &Settings) -> Vec<String> {
    let mut warnings = Vec::new();
    let behind_proxy = settings.issuer.starts_with("https://")
        && !["https://localhost", "https://127.0.0.1", "https://[::1]"].iter().any(|prefix| {
            settings.issuer == *prefix
                || settings.issuer.starts_with(&format!("{prefix}:"))
                || settings.issuer.starts_with(&format!("{prefix}/"))
        });
    // Whether DCR is on or not: sign-in and pending requests are counted per address too.
    if behind_proxy && settings.server.trusted_proxies.is_empty() {
        warnings.push(
            "the issuer is https but server.trusted_proxies is empty: behind a reverse proxy every user and \
             registrant shares the proxy's address — one sign-in window, one pending-request limit, one \
             registration window for everyone — list the proxy's address in server.trusted_proxies"
                .into(),
        );
    }
    // Tokens requested without a resource get `default_audience`; /userinfo takes only tokens
    // for the issuer (SPEC §10).
    let default_audience = &settings.resources.default_audience;
    let openid =
        crate::registration::profiles::effective_scopes(settings).iter().any(|s| s == crate::oauth::oidc::SCOPE_OPENID);
    if openid && !default_audience.is_empty() && *default_audience != settings.issuer {
        warnings.push(format!(
            "resources.default_audience is {default_audience:?}, not the issuer: access tokens requested without a              resource are for that audience, so /userinfo refuses them and OpenID Connect clients cannot read              userinfo — leave resources.default_audience empty, or have those clients request no other resource"
        ));
    }
    if !settings.admin.token.is_empty() && settings.admin.bind.is_empty() {
        warnings.push(
            "admin.token is set without admin.bind: the admin API and /metrics are served on the public \
             listener (behind the token) — set admin.bind (e.g. 127.0.0.1:9090) to keep them off it"
                .into(),
        );
    }
    warnings
}
