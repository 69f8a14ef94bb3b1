//! `config check` (SPEC §2, §4.5): the effective settings with secrets masked, the
//! registration rules in force in plain words, and warnings about likely mistakes.

use clap::Subcommand;

use super::CommandError;
use crate::config::{ConfigSource, Settings};
pub use crate::operator::{describe, describe_sign_in};

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
