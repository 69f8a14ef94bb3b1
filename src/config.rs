//! Settings: typed structs with documented defaults, layered defaults → TOML file → environment,
//! then value checks that report every problem at once. `config/gatehouse.toml` documents every
//! key; a test keeps it in step with `Settings::default()`.

use std::collections::HashMap;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::net::parse_cidr;

mod providers;
use crate::oauth::redirect_uri::{check_private_use_scheme, is_loopback_host};
pub use providers::{is_provider_id, ProviderKind, ProviderSettings, RESERVED_PROVIDER_IDS};

/// Where the file is looked for when neither `--config` nor `GATEHOUSE_CONFIG` names one.
pub const DEFAULT_CONFIG_PATH: &str = "config/gatehouse.toml";

/// Keys whose values are lists; in the environment they are comma-separated.
const LIST_KEYS: &[&str] = &[
    "server.trusted_proxies",
    "dcr.private_use_schemes",
    "dcr.compatibility",
    "dcr.policy.redirect_hosts_allow",
    "dcr.policy.redirect_hosts_deny",
    "dcr.policy.registrant_networks_allow",
    "dcr.policy.software_ids_allow",
    "dcr.policy.client_name_deny",
    "cimd.trusted_hosts",
    "cimd.denied_hosts",
    "cimd.extra_root_certificates",
    "login.extra_root_certificates",
    "resources.allowed",
    "scopes.supported",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub issuer: String,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub log: LogSettings,
    pub dcr: DcrSettings,
    pub cimd: CimdSettings,
    pub tokens: TokenSettings,
    pub resources: ResourceSettings,
    pub scopes: ScopeSettings,
    pub login: LoginSettings,
    pub keys: KeysSettings,
    pub introspection: IntrospectionSettings,
    pub maintenance: MaintenanceSettings,
    pub branding: BrandingSettings,
    pub audit: AuditSettings,
    pub admin: AdminSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: String,
    pub trusted_proxies: Vec<String>,
    pub max_body_bytes: usize,
    /// Pending authorization requests a browser without a live session may open per address
    /// and minute (SPEC §11); 0 = no limit.
    pub pending_requests_per_minute: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
    pub connect_timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DcrSettings {
    pub enabled: bool,
    pub allow_https_redirect_uris: bool,
    pub allow_loopback_redirect_uris: bool,
    pub private_use_schemes: Vec<String>,
    pub max_redirect_uris: usize,
    pub rate_limit_window_secs: u64,
    pub max_registrations_per_window: u32,
    pub deduplicate: bool,
    pub auth_method_mismatch: AuthMethodMismatch,
    pub registration_management: bool,
    pub cleanup_enabled: bool,
    pub stale_client_retention_days: u64,
    pub cleanup_interval_secs: u64,
    pub compatibility: Vec<Compatibility>,
    pub policy: PolicySettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySettings {
    pub redirect_hosts_allow: Vec<String>,
    pub redirect_hosts_deny: Vec<String>,
    pub registrant_networks_allow: Vec<String>,
    pub require_software_id: bool,
    pub software_ids_allow: Vec<String>,
    pub client_name_deny: Vec<String>,
    pub webhook_url: String,
    pub webhook_timeout_ms: u64,
    pub webhook_on_error: WebhookOnError,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CimdSettings {
    pub enabled: bool,
    pub trusted_hosts: Vec<String>,
    pub denied_hosts: Vec<String>,
    pub http_timeout_ms: u64,
    pub max_document_bytes: usize,
    pub cache_default_secs: u64,
    pub cache_min_secs: u64,
    pub cache_max_secs: u64,
    pub stale_if_error_secs: u64,
    pub allow_private_addresses: bool,
    pub extra_root_certificates: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    pub access_token_ttl_secs: u64,
    pub authorization_code_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    pub refresh_reuse_grace_secs: u64,
    /// Lifetime of an OpenID Connect id_token (SPEC §10).
    pub id_token_ttl_secs: u64,
}

impl TokenSettings {
    /// The longest lifetime of a token a signing key signs: a retired key stays published that
    /// long.
    pub fn longest_token_ttl_secs(&self) -> i64 {
        self.access_token_ttl_secs.max(self.id_token_ttl_secs) as i64
    }
}

/// Resource servers that may ask `POST /introspect` (RFC 7662, SPEC §10).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntrospectionSettings {
    pub clients: Vec<IntrospectionClient>,
}

/// One `[[introspection.clients]]`: HTTP Basic `id` and a secret (exactly one of `secret`,
/// `secret_file`, `secret_env`, at least 32 characters), and the audiences (resource URIs) whose
/// tokens it may ask about. `Debug` masks the inline secret.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntrospectionClient {
    pub id: String,
    pub secret: String,
    pub secret_file: String,
    pub secret_env: String,
    pub audiences: Vec<String>,
}

/// Shortest secret an introspection client may have.
pub const MIN_INTROSPECTION_SECRET_CHARS: usize = 32;

impl std::fmt::Debug for IntrospectionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = if self.secret.is_empty() { "" } else { "********" };
        f.debug_struct("IntrospectionClient")
            .field("id", &self.id)
            .field("secret", &secret)
            .field("secret_file", &self.secret_file)
            .field("secret_env", &self.secret_env)
            .field("audiences", &self.audiences)
            .finish()
    }
}

impl IntrospectionClient {
    /// The secret, from wherever it is set (a file's trailing newline is not part of it).
    pub fn resolve_secret(&self) -> Result<String, String> {
        let set = [&self.secret, &self.secret_file, &self.secret_env].iter().filter(|v| !v.is_empty()).count();
        if set != 1 {
            return Err("set exactly one of secret, secret_file, secret_env".into());
        }
        let secret =
            read_secret("secret", &self.secret, &self.secret_file, &self.secret_env, &|name| std::env::var(name).ok())?;
        if secret.chars().count() < MIN_INTROSPECTION_SECRET_CHARS {
            return Err(format!("the secret must be at least {MIN_INTROSPECTION_SECRET_CHARS} characters"));
        }
        Ok(secret)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceSettings {
    pub allowed: Vec<String>,
    pub default_audience: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScopeSettings {
    pub supported: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginSettings {
    pub session_ttl_secs: u64,
    /// Local email + password; false hides the form and refuses `POST /login`.
    pub password_enabled: bool,
    /// Exactly one source and no password form: `/authorize` goes straight there.
    pub auto_redirect: bool,
    /// Every call to a provider, its discovery document or its JWKS.
    pub upstream_timeout_ms: u64,
    /// PEM files added to the webpki roots for provider calls.
    pub extra_root_certificates: Vec<String>,
    /// Password checks at once (argon2id, 19 MiB each); 0 = min(CPUs, 4). Restart to change.
    pub max_concurrent_password_checks: u32,
    /// Upstream identity providers (SPEC §9.1).
    pub providers: Vec<ProviderSettings>,
    /// The app beside Gatehouse signs its own users in (SPEC §9.2).
    pub app: AppLoginSettings,
}

/// `[login.app]` (SPEC §9.2): delegated sign-in. Off while `url` is empty. The API key comes
/// from exactly one of `api_key`, `api_key_file`, `api_key_env`, read at every (re)load into
/// `resolved_api_key`. `Debug` masks the keys.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppLoginSettings {
    pub url: String,
    pub api_key: String,
    pub api_key_file: String,
    pub api_key_env: String,
    /// The button's label ("Continue with NAME") when other sources are shown too.
    pub name: String,
    #[serde(skip)]
    pub resolved_api_key: String,
}

impl AppLoginSettings {
    pub fn enabled(&self) -> bool {
        !self.url.is_empty()
    }

    /// The name on the button: the configured one, else the app's host.
    pub fn display_name(&self) -> String {
        if !self.name.trim().is_empty() {
            return self.name.trim().to_string();
        }
        url::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "your app".into())
    }
}

impl std::fmt::Debug for AppLoginSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mask = |value: &str| if value.is_empty() { "" } else { "********" };
        f.debug_struct("AppLoginSettings")
            .field("url", &self.url)
            .field("api_key", &mask(&self.api_key))
            .field("api_key_file", &self.api_key_file)
            .field("api_key_env", &self.api_key_env)
            .field("name", &self.name)
            .field("resolved_api_key", &mask(&self.resolved_api_key))
            .finish()
    }
}

/// A secret given inline, in a file (its first line) or in an environment variable (SPEC §9:
/// arrays of tables cannot be set from `GATEHOUSE__…`, hence the file and variable forms).
/// `key` is the inline key's full name; the others are `{key}_file` and `{key}_env`; `env`
/// looks a variable up (the settings' environment at load, the process's at use). Nothing set
/// is `Ok("")`; the caller says whether that is allowed. A problem is one line naming the key.
/// The one reader of such secrets: the app's API key, providers' client secrets, introspection
/// clients' secrets.
pub fn read_secret(
    key: &str,
    inline: &str,
    file: &str,
    env_name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let set = [inline, file, env_name].iter().filter(|value| !value.is_empty()).count();
    if set > 1 {
        return Err(format!("{key}: set only one of {key}, {key}_file, {key}_env"));
    }
    if !file.is_empty() {
        let text = fs::read_to_string(file).map_err(|e| format!("{key}_file: cannot read {file:?}: {e}"))?;
        return Ok(text.lines().next().unwrap_or("").trim().to_string());
    }
    if !env_name.is_empty() {
        return env(env_name)
            .map(|value| value.trim().to_string())
            .ok_or_else(|| format!("{key}_env: the environment variable {env_name:?} is not set"));
    }
    Ok(inline.to_string())
}

/// Where the key that encrypts signing keys at rest comes from (SPEC §11): at most one of the
/// three; all empty means `keys.secret` beside the SQLite file, and on PostgreSQL no key (then
/// `serve` refuses to start). Restart-only. `Debug` masks the inline key.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysSettings {
    /// The key itself: 32 random bytes, base64.
    pub encryption_key: String,
    /// A file holding the key (base64, one line); created (0600) when absent while the database
    /// holds no encrypted key.
    pub encryption_key_file: String,
    /// The name of an environment variable holding the key (base64).
    pub encryption_key_env: String,
}

impl std::fmt::Debug for KeysSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = if self.encryption_key.is_empty() { "" } else { "********" };
        f.debug_struct("KeysSettings")
            .field("encryption_key", &key)
            .field("encryption_key_file", &self.encryption_key_file)
            .field("encryption_key_env", &self.encryption_key_env)
            .finish()
    }
}

/// Background upkeep that runs whatever the DCR settings (SPEC §11).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaintenanceSettings {
    /// How often expired pending requests, codes, sessions and rate-limit windows are purged.
    pub purge_interval_secs: u64,
}

/// The operator's name, logo, colour and help link on the pages (SPEC §12).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrandingSettings {
    /// Pages say "Sign in to {product_name}".
    pub product_name: String,
    /// A local PNG or SVG file (≤ 256 KiB), served from `/assets/logo` and `/favicon.ico`;
    /// empty = no logo. Never a URL: the pages load nothing from elsewhere.
    pub logo_file: String,
    /// `#rrggbb`: the primary buttons' colour; their text is black or white, whichever contrasts.
    pub accent_color: String,
    /// An https page where people get help; empty = no help link.
    pub support_url: String,
    /// The logo file's bytes, read by `ConfigSource::load` (and on every reload) so that what is
    /// served is what was checked.
    #[serde(skip)]
    pub logo: Option<Arc<crate::branding::Logo>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    pub retention_days: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSettings {
    pub token: String,
    pub bind: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            issuer: "http://localhost:8080".into(),
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            log: LogSettings::default(),
            dcr: DcrSettings::default(),
            cimd: CimdSettings::default(),
            tokens: TokenSettings::default(),
            resources: ResourceSettings::default(),
            scopes: ScopeSettings::default(),
            login: LoginSettings::default(),
            keys: KeysSettings::default(),
            introspection: IntrospectionSettings::default(),
            maintenance: MaintenanceSettings::default(),
            branding: BrandingSettings::default(),
            audit: AuditSettings::default(),
            admin: AdminSettings::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: "127.0.0.1:8080".into(),
            trusted_proxies: vec![],
            max_body_bytes: 65536,
            pending_requests_per_minute: 60,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings { url: "sqlite://data/gatehouse.db".into(), pool_size: 8, connect_timeout_ms: 2000 }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings { format: LogFormat::Text, level: "info".into() }
    }
}

impl Default for DcrSettings {
    fn default() -> Self {
        DcrSettings {
            enabled: false,
            allow_https_redirect_uris: true,
            allow_loopback_redirect_uris: true,
            private_use_schemes: vec![],
            max_redirect_uris: 10,
            rate_limit_window_secs: 60,
            max_registrations_per_window: 25,
            deduplicate: true,
            auth_method_mismatch: AuthMethodMismatch::Downgrade,
            registration_management: true,
            cleanup_enabled: true,
            stale_client_retention_days: 30,
            cleanup_interval_secs: 3600,
            compatibility: vec![],
            policy: PolicySettings::default(),
        }
    }
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            redirect_hosts_allow: vec![],
            redirect_hosts_deny: vec![],
            registrant_networks_allow: vec![],
            require_software_id: false,
            software_ids_allow: vec![],
            client_name_deny: vec![],
            webhook_url: String::new(),
            webhook_timeout_ms: 2000,
            webhook_on_error: WebhookOnError::Deny,
        }
    }
}

impl Default for CimdSettings {
    fn default() -> Self {
        CimdSettings {
            enabled: true,
            trusted_hosts: vec![],
            denied_hosts: vec![],
            http_timeout_ms: 5000,
            max_document_bytes: 16384,
            cache_default_secs: 3600,
            cache_min_secs: 60,
            cache_max_secs: 86400,
            stale_if_error_secs: 3600,
            allow_private_addresses: false,
            extra_root_certificates: vec![],
        }
    }
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            access_token_ttl_secs: 600,
            authorization_code_ttl_secs: 300,
            refresh_token_ttl_secs: 2_592_000,
            refresh_reuse_grace_secs: 30,
            id_token_ttl_secs: 600,
        }
    }
}

impl Default for ScopeSettings {
    fn default() -> Self {
        ScopeSettings { supported: vec!["offline_access".into()] }
    }
}

impl Default for LoginSettings {
    fn default() -> Self {
        LoginSettings {
            session_ttl_secs: 86400,
            password_enabled: true,
            auto_redirect: true,
            upstream_timeout_ms: 10_000,
            extra_root_certificates: Vec::new(),
            max_concurrent_password_checks: 0,
            providers: Vec::new(),
            app: AppLoginSettings::default(),
        }
    }
}

impl Default for MaintenanceSettings {
    fn default() -> Self {
        MaintenanceSettings { purge_interval_secs: 300 }
    }
}

impl Default for BrandingSettings {
    fn default() -> Self {
        BrandingSettings {
            product_name: "Gatehouse".into(),
            logo_file: String::new(),
            accent_color: crate::branding::DEFAULT_ACCENT_COLOR.into(),
            support_url: String::new(),
            logo: None,
        }
    }
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings { retention_days: 90 }
    }
}

/// A setting that takes one of a few words (serialised as the word).
pub trait Word: Copy + Sized + 'static {
    const ALL: &'static [Self];

    fn as_str(self) -> &'static str;

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|word| word.as_str() == text)
    }

    /// `"a", "b"`, as the problem messages list them.
    fn quoted_list() -> String {
        Self::ALL.iter().map(|word| format!("{:?}", word.as_str())).collect::<Vec<_>>().join(", ")
    }
}

/// An enum whose variants are written as words (a setting, a stored column): serde, [`Word`]
/// and `Display` (padded, for tables) read the same list.
macro_rules! word_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$variant_doc:meta])* $variant:ident = $word:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$variant_doc])* #[serde(rename = $word)] $variant,)+
        }

        impl $crate::config::Word for $name {
            const ALL: &'static [Self] = &[$($name::$variant,)+];

            fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad($crate::config::Word::as_str(*self))
            }
        }
    };
}
pub(crate) use word_enum;

word_enum! {
    /// `log.format`.
    LogFormat {
        Text = "text",
        Json = "json",
    }
}

word_enum! {
    /// `dcr.auth_method_mismatch`: what to do when a client asks for a confidential-client
    /// authentication method.
    AuthMethodMismatch {
        /// Register the client as public (`"none"`) anyway.
        Downgrade = "downgrade",
        /// Refuse the registration.
        Reject = "reject",
    }
}

word_enum! {
    /// `dcr.policy.webhook_on_error`: the decision when the policy webhook cannot answer.
    WebhookOnError {
        Deny = "deny",
        Allow = "allow",
    }
}

word_enum! {
    /// `dcr.compatibility`: the known clients whose registrations a profile describes
    /// (`registration::profiles` holds what each accepts).
    Compatibility {
        Chatgpt = "chatgpt",
        Claude = "claude",
        Vscode = "vscode",
        Cursor = "cursor",
        McpInspector = "mcp-inspector",
    }
}

/// The word-valued keys found with a value that is not one of their words: the overrides that
/// let the typed parse go on (a known word; a list without the unknown entries), and one
/// problem line for each unknown value.
fn check_words(built: &config::Config) -> (Vec<(&'static str, config::Value)>, Vec<String>) {
    let mut overrides: Vec<(&'static str, config::Value)> = Vec::new();
    let mut problems = Vec::new();
    check_word::<LogFormat>(built, "log.format", &mut overrides, &mut problems);
    check_word::<AuthMethodMismatch>(built, "dcr.auth_method_mismatch", &mut overrides, &mut problems);
    check_word::<WebhookOnError>(built, "dcr.policy.webhook_on_error", &mut overrides, &mut problems);
    if let Ok(values) = built.get_array("dcr.compatibility") {
        let names: Vec<&str> = Compatibility::ALL.iter().map(|c| c.as_str()).collect();
        let mut known = Vec::new();
        for value in values {
            match value.clone().into_string() {
                Ok(name) if Compatibility::parse(&name).is_some() => known.push(config::Value::from(name)),
                Ok(name) => {
                    problems.push(format!("dcr.compatibility: {name:?} is not a known profile ({})", names.join(", ")))
                }
                Err(_) => known.push(value),
            }
        }
        if problems.iter().any(|p| p.starts_with("dcr.compatibility:")) {
            overrides.push(("dcr.compatibility", config::Value::from(known)));
        }
    }
    (overrides, problems)
}

/// One word-valued key: an unknown word is a problem line, and is replaced by a known word so
/// the typed parse goes on (the load fails on the problem anyway, so which word does not matter).
fn check_word<W: Word>(
    built: &config::Config,
    key: &'static str,
    overrides: &mut Vec<(&'static str, config::Value)>,
    problems: &mut Vec<String>,
) {
    if let Ok(value) = built.get_string(key) {
        if W::parse(&value).is_none() {
            problems.push(format!("{key}: {value:?} is not one of {}", W::quoted_list()));
            overrides.push((key, W::ALL[0].as_str().into()));
        }
    }
}

/// The value checks of `[keys]`, as (key, why) pairs; never echoes a key.
fn check_keys_settings(keys: &KeysSettings) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    let set = [&keys.encryption_key, &keys.encryption_key_file, &keys.encryption_key_env]
        .iter()
        .filter(|value| !value.is_empty())
        .count();
    if set > 1 {
        problems.push((
            "keys",
            "set only one of keys.encryption_key, keys.encryption_key_file, keys.encryption_key_env".to_string(),
        ));
    }
    if !keys.encryption_key.is_empty() {
        if let Err(why) = crate::keys::cipher::KeyCipher::from_base64(&keys.encryption_key) {
            problems.push(("keys.encryption_key", why));
        }
    }
    let name = &keys.encryption_key_env;
    if !name.is_empty() && !providers::is_variable_name(name) {
        problems.push((
            "keys.encryption_key_env",
            format!("{name:?} is not an environment variable name (letters, digits and _)"),
        ));
    }
    problems
}

/// The value checks of `[branding]` but the logo file's contents (`BrandingSettings::read_logo`).
fn check_branding_settings(branding: &BrandingSettings) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    let name = &branding.product_name;
    if name.trim().is_empty() {
        problems.push(("branding.product_name", "must not be empty".to_string()));
    } else if name.chars().count() > MAX_PRODUCT_NAME_CHARS || crate::text::has_control(name) {
        problems.push((
            "branding.product_name",
            format!("must be at most {MAX_PRODUCT_NAME_CHARS} characters, without control characters"),
        ));
    }
    let logo = &branding.logo_file;
    if logo.contains("://") {
        problems.push(("branding.logo_file", format!("{logo:?} is a URL; name a local PNG or SVG file")));
    }
    if crate::branding::parse_hex_color(&branding.accent_color).is_none() {
        problems.push((
            "branding.accent_color",
            format!(
                "{:?} is not a colour written #rrggbb (e.g. \"{}\")",
                branding.accent_color,
                crate::branding::DEFAULT_ACCENT_COLOR
            ),
        ));
    }
    let support = &branding.support_url;
    if !support.is_empty() {
        let https = url::Url::parse(support).is_ok_and(|url| url.scheme() == "https" && url.host_str().is_some());
        if !https || crate::text::has_control(support) || support.contains(char::is_whitespace) {
            problems.push(("branding.support_url", format!("{support:?} is not an https URL")));
        }
    }
    problems
}

/// The value checks of `[[introspection.clients]]`; never echoes a secret.
fn check_introspection_clients(clients: &[IntrospectionClient]) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        let name = if client.id.is_empty() { format!("#{}", i + 1) } else { format!("{:?}", client.id) };
        if client.id.is_empty() {
            problems.push(format!("{name}: id is required"));
        } else if client.id.contains(':') || client.id.chars().any(|c| c.is_control()) {
            // HTTP Basic splits user and password at the first ':'.
            problems.push(format!("{name}: id must not contain ':' or control characters"));
        } else if clients[..i].iter().any(|other| other.id == client.id) {
            problems.push(format!("{name}: id is used twice"));
        }
        if let Err(why) = client.resolve_secret() {
            problems.push(format!("{name}: {why}"));
        }
        if client.audiences.is_empty() {
            problems.push(format!("{name}: audiences must list at least one resource URI"));
        }
        for audience in &client.audiences {
            if let Err(why) = check_absolute_http_uri(audience) {
                problems.push(format!("{name}: audiences: {why}"));
            }
        }
    }
    problems
}

/// Long enough for any product's name, short enough for a heading on a phone.
const MAX_PRODUCT_NAME_CHARS: usize = 60;

impl BrandingSettings {
    /// Read and check the logo file (none when `logo_file` is empty); a URL is refused by
    /// `validate` and not read here.
    pub fn read_logo(&mut self) -> Result<(), String> {
        self.logo = None;
        if self.logo_file.is_empty() || self.logo_file.contains("://") {
            return Ok(());
        }
        let logo = crate::branding::read_logo(Path::new(&self.logo_file))?;
        self.logo = Some(Arc::new(logo));
        Ok(())
    }
}

/// Why settings could not be loaded. `Parse` stops at the first problem (the parser's own
/// message, which names the key); `Invalid` lists every value problem, one line each.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("{0}")]
    Parse(String),
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

impl ConfigError {
    /// One line per problem, for printing.
    pub fn lines(&self) -> Vec<String> {
        match self {
            ConfigError::Invalid(problems) => problems.clone(),
            other => vec![other.to_string()],
        }
    }
}

/// Where the settings come from: the file (and whether it was named explicitly) plus the
/// process environment. Kept so that a reload rebuilds exactly the same layers.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    pub path: PathBuf,
    pub explicit: bool,
}

impl ConfigSource {
    pub fn new(path: Option<PathBuf>) -> Self {
        match path {
            Some(path) => ConfigSource { path, explicit: true },
            None => ConfigSource { path: PathBuf::from(DEFAULT_CONFIG_PATH), explicit: false },
        }
    }

    /// Defaults → file → `GATEHOUSE__…` environment, then the value checks.
    pub fn load(&self) -> Result<Settings, ConfigError> {
        self.load_with_env(std::env::vars())
    }

    /// As `load`, with the environment given explicitly (tests use this).
    pub fn load_with_env(&self, env: impl IntoIterator<Item = (String, String)>) -> Result<Settings, ConfigError> {
        let env: HashMap<String, String> = env.into_iter().collect();
        let (mut settings, mut problems) = self.parse(env.clone())?;
        problems.extend(settings.read_secrets(&env));
        problems.extend(settings.validate());
        if let Err(why) = settings.branding.read_logo() {
            problems.push(format!("branding.logo_file: {why}"));
        }
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// `server.bind` as well as it can be known — from the settings, even when a value check
    /// fails; else from the environment; else the default — for `healthcheck`, which must not
    /// call a running server unhealthy because of a broken edit to the file it reloads.
    pub fn bind_for_healthcheck(&self) -> String {
        match self.parse(std::env::vars()) {
            Ok((settings, _)) => settings.server.bind,
            Err(_) => std::env::var("GATEHOUSE__SERVER__BIND").unwrap_or_else(|_| Settings::default().server.bind),
        }
    }

    /// The typed settings, and the word-valued keys whose value is not one of their words.
    fn parse(&self, env: impl IntoIterator<Item = (String, String)>) -> Result<(Settings, Vec<String>), ConfigError> {
        let mut builder = config::Config::builder();
        if self.path.exists() {
            builder = builder
                .add_source(config::File::from(self.path.as_path()).format(config::FileFormat::Toml).required(true));
        } else if self.explicit {
            return Err(ConfigError::MissingFile(self.path.clone()));
        }
        let env_map: config::Map<String, String> =
            env.into_iter().filter(|(key, _)| key.starts_with("GATEHOUSE__")).collect();
        let mut environment = config::Environment::with_prefix("GATEHOUSE")
            .prefix_separator("__")
            .separator("__")
            .list_separator(",")
            .try_parsing(true)
            .source(Some(env_map));
        for key in LIST_KEYS {
            environment = environment.with_list_parse_key(key);
        }
        let parse_error = |e: config::ConfigError| ConfigError::Parse(describe_parse_error(&self.path, &e));
        let builder = builder.add_source(environment);
        let built = builder.clone().build().map_err(parse_error)?;
        // Wrong words are reported with the other value problems, not as the parser's first
        // error: they are replaced by a known word for the typed parse, and listed.
        let (overrides, word_problems) = check_words(&built);
        let built = if overrides.is_empty() {
            built
        } else {
            let mut builder = builder;
            for (key, value) in overrides {
                builder = builder.set_override(key, value).map_err(parse_error)?;
            }
            builder.build().map_err(parse_error)?
        };
        let settings = built.try_deserialize::<Settings>().map_err(parse_error)?;
        Ok((settings, word_problems))
    }
}

/// The parser's message, reshaped so that an unknown key reads `dcr.foo: unknown key`.
fn describe_parse_error(path: &Path, error: &config::ConfigError) -> String {
    let message = error.to_string();
    if let Some(field) = between(&message, "unknown field `", "`") {
        let key = match between(&message, "for key `", "`") {
            Some(section) => format!("{section}.{field}"),
            None => field.to_string(),
        };
        return format!(
            "{key}: unknown key (in {} or a GATEHOUSE__ environment variable; see config/gatehouse.toml for every key)",
            path.display()
        );
    }
    message
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let length = text[from..].find(end)?;
    Some(&text[from..from + length])
}

impl Settings {
    /// Read the secrets given by file or environment variable; one line per problem.
    fn read_secrets(&mut self, env: &HashMap<String, String>) -> Vec<String> {
        let mut problems = Vec::new();
        let app = &mut self.login.app;
        let env = |name: &str| env.get(name).cloned();
        match read_secret("login.app.api_key", &app.api_key, &app.api_key_file, &app.api_key_env, &env) {
            Ok(key) => app.resolved_api_key = key,
            Err(problem) => problems.push(problem),
        }
        problems
    }

    /// Every value problem, one line each, naming the key and why.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, why: String| problems.push(format!("{key}: {why}"));

        if let Err(why) = check_issuer(&self.issuer) {
            problem("issuer", why);
        }
        if let Err(why) = check_socket_addr(&self.server.bind) {
            problem("server.bind", why);
        }
        for cidr in &self.server.trusted_proxies {
            if parse_cidr(cidr).is_none() {
                problem("server.trusted_proxies", format!("{cidr:?} is not an IP address or CIDR"));
            }
        }
        if self.server.max_body_bytes == 0 {
            problem("server.max_body_bytes", "must be at least 1".into());
        }

        if let Err(why) = crate::db::DatabaseUrl::parse(&self.database.url) {
            problem("database.url", why);
        }
        if self.database.pool_size == 0 {
            problem("database.pool_size", "must be at least 1".into());
        }
        if self.database.connect_timeout_ms == 0 {
            problem("database.connect_timeout_ms", "must be at least 1".into());
        }

        if !is_log_filter(&self.log.level) {
            problem(
                "log.level",
                format!("{:?} is not a log level or filter (e.g. \"info\", \"debug\")", self.log.level),
            );
        }

        let dcr = &self.dcr;
        for scheme in &dcr.private_use_schemes {
            if let Err(why) = check_private_use_scheme(scheme) {
                problem("dcr.private_use_schemes", why);
            }
        }
        for (key, value) in [
            ("dcr.max_redirect_uris", dcr.max_redirect_uris as u64),
            ("dcr.rate_limit_window_secs", dcr.rate_limit_window_secs),
            ("dcr.max_registrations_per_window", dcr.max_registrations_per_window as u64),
            ("dcr.stale_client_retention_days", dcr.stale_client_retention_days),
            ("dcr.cleanup_interval_secs", dcr.cleanup_interval_secs),
            ("dcr.policy.webhook_timeout_ms", dcr.policy.webhook_timeout_ms),
            ("cimd.http_timeout_ms", self.cimd.http_timeout_ms),
            ("cimd.max_document_bytes", self.cimd.max_document_bytes as u64),
            ("cimd.cache_max_secs", self.cimd.cache_max_secs),
            ("tokens.access_token_ttl_secs", self.tokens.access_token_ttl_secs),
            ("tokens.authorization_code_ttl_secs", self.tokens.authorization_code_ttl_secs),
            ("tokens.refresh_token_ttl_secs", self.tokens.refresh_token_ttl_secs),
            ("tokens.id_token_ttl_secs", self.tokens.id_token_ttl_secs),
            ("login.session_ttl_secs", self.login.session_ttl_secs),
            ("login.upstream_timeout_ms", self.login.upstream_timeout_ms),
            ("maintenance.purge_interval_secs", self.maintenance.purge_interval_secs),
            ("audit.retention_days", self.audit.retention_days),
        ] {
            if value == 0 {
                problem(key, "must be at least 1".into());
            }
        }
        let policy = &dcr.policy;
        for (key, patterns) in [
            ("dcr.policy.redirect_hosts_allow", &policy.redirect_hosts_allow),
            ("dcr.policy.redirect_hosts_deny", &policy.redirect_hosts_deny),
            ("cimd.trusted_hosts", &self.cimd.trusted_hosts),
            ("cimd.denied_hosts", &self.cimd.denied_hosts),
        ] {
            for pattern in patterns {
                if let Err(why) = check_host_pattern(pattern) {
                    problem(key, why);
                }
            }
        }
        for cidr in &policy.registrant_networks_allow {
            if parse_cidr(cidr).is_none() {
                problem("dcr.policy.registrant_networks_allow", format!("{cidr:?} is not an IP address or CIDR"));
            }
        }
        if !policy.webhook_url.is_empty() {
            if let Err(why) = check_absolute_http_uri(&policy.webhook_url) {
                problem("dcr.policy.webhook_url", why);
            }
        }

        let cimd = &self.cimd;
        if cimd.cache_min_secs > cimd.cache_max_secs {
            problem("cimd.cache_min_secs", "must not be greater than cimd.cache_max_secs".into());
        }
        for path in &cimd.extra_root_certificates {
            if !Path::new(path).is_file() {
                problem("cimd.extra_root_certificates", format!("{path:?} is not a readable file"));
            }
        }

        for path in &self.login.extra_root_certificates {
            if !Path::new(path).is_file() {
                problem("login.extra_root_certificates", format!("{path:?} is not a readable file"));
            }
        }
        for (key, why) in providers::check_providers(&self.login.providers) {
            problem(&key, why);
        }
        if !self.login.password_enabled && self.login.providers.is_empty() && !self.login.app.enabled() {
            problem(
                "login.password_enabled",
                "false with no [[login.providers]] and no [login.app]: nobody could sign in".into(),
            );
        }

        for resource in &self.resources.allowed {
            if let Err(why) = check_absolute_http_uri(resource) {
                problem("resources.allowed", why);
            }
        }
        if !self.resources.default_audience.is_empty() {
            if let Err(why) = check_absolute_http_uri(&self.resources.default_audience) {
                problem("resources.default_audience", why);
            }
        }
        for scope in &self.scopes.supported {
            if !is_scope_token(scope) {
                problem("scopes.supported", format!("{scope:?} is not a valid scope value (RFC 6749 §3.3)"));
            }
        }

        for (key, why) in check_keys_settings(&self.keys) {
            problem(key, why);
        }
        for (key, why) in check_branding_settings(&self.branding) {
            problem(key, why);
        }
        for why in check_introspection_clients(&self.introspection.clients) {
            problem("introspection.clients", why);
        }

        let app = &self.login.app;
        if app.enabled() {
            if let Err(why) = check_upstream_url(&app.url) {
                problem("login.app.url", why);
            }
            if app.resolved_api_key.chars().count() < 32 {
                problem("login.app.api_key", "must be at least 32 characters (or api_key_file, or api_key_env)".into());
            }
        }

        if !self.admin.token.is_empty() && self.admin.token.chars().count() < 32 {
            problem("admin.token", "must be at least 32 characters (or empty to turn the admin API off)".into());
        }
        if !self.admin.bind.is_empty() {
            if let Err(why) = check_socket_addr(&self.admin.bind) {
                problem("admin.bind", why);
            }
        }
        problems
    }

    /// The issuer's path ("" for `https://h`, "/auth" for `https://h/auth`): every route is
    /// served below it.
    pub fn issuer_path(&self) -> String {
        issuer_path(&self.issuer)
    }

    /// A copy safe to print: secrets masked.
    pub fn masked(&self) -> Settings {
        let mut copy = self.clone();
        if !copy.admin.token.is_empty() {
            copy.admin.token = "********".into();
        }
        if !copy.keys.encryption_key.is_empty() {
            copy.keys.encryption_key = "********".into();
        }
        for client in &mut copy.introspection.clients {
            if !client.secret.is_empty() {
                client.secret = "********".into();
            }
        }
        if !copy.login.app.api_key.is_empty() {
            copy.login.app.api_key = "********".into();
        }
        copy.login.app.resolved_api_key.clear();
        copy.database.url = crate::db::mask_password(&copy.database.url);
        for provider in &mut copy.login.providers {
            if !provider.client_secret.is_empty() {
                provider.client_secret = "********".into();
            }
        }
        copy
    }
}

/// The path component of a valid issuer, without a trailing slash.
pub fn issuer_path(issuer: &str) -> String {
    match url::Url::parse(issuer) {
        Ok(url) => url.path().trim_end_matches('/').to_string(),
        Err(_) => String::new(),
    }
}

/// SPEC §9: a provider's issuer or the app's URL is `https://`, or `http://` on the literal
/// loopback hosts only (development and tests); absolute, no fragment.
pub fn check_upstream_url(value: &str) -> Result<(), String> {
    let url = url::Url::parse(value).map_err(|e| format!("{value:?} is not an absolute URL ({e})"))?;
    if url.fragment().is_some() {
        return Err(format!("{value:?} must not have a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{value:?} must not carry credentials"));
    }
    match (url.scheme(), url.host_str()) {
        ("https", Some(_)) => Ok(()),
        ("http", Some(host)) if is_loopback_host(host) => Ok(()),
        ("http", Some(_)) => Err(format!("{value:?} must use https unless its host is loopback")),
        _ => Err(format!("{value:?} must be an https URL")),
    }
}

/// SPEC §2: absolute, no query, no fragment, no trailing slash, https unless the host is loopback.
/// The string is used verbatim, so it must also be exactly what a URL parser would produce.
pub fn check_issuer(issuer: &str) -> Result<(), String> {
    if issuer.is_empty() {
        return Err("must be set to the server's public base URL".into());
    }
    if issuer.chars().any(|c| c.is_control() || c.is_whitespace() || !c.is_ascii()) {
        return Err(format!("{issuer:?} contains spaces, control or non-ASCII characters"));
    }
    let url = url::Url::parse(issuer).map_err(|e| format!("{issuer:?} is not an absolute URL ({e})"))?;
    if issuer.contains('?') {
        return Err(format!("{issuer:?} must not have a query"));
    }
    if issuer.contains('#') {
        return Err(format!("{issuer:?} must not have a fragment"));
    }
    if issuer.ends_with('/') {
        return Err(format!("{issuer:?} must not end with a slash (use {:?})", issuer.trim_end_matches('/')));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{issuer:?} must not contain user information"));
    }
    let host = url.host_str().unwrap_or("");
    match url.scheme() {
        "https" if !host.is_empty() => {}
        "http" if is_loopback_host(host) => {}
        "http" => return Err(format!("{issuer:?} must use https unless its host is loopback")),
        _ => return Err(format!("{issuer:?} must be an https URL")),
    }
    // Verbatim use: the parser's serialisation must be the string itself (plus the `/` it adds
    // to an empty path), or metadata and `iss` would disagree with what clients were given.
    let serialised = url.as_str();
    if serialised != issuer && serialised != format!("{issuer}/") {
        return Err(format!(
            "{issuer:?} is not in canonical form (did you mean {:?}?)",
            serialised.trim_end_matches('/')
        ));
    }
    Ok(())
}

fn check_socket_addr(value: &str) -> Result<(), String> {
    value
        .parse::<SocketAddr>()
        .map(|_| ())
        .map_err(|_| format!("{value:?} is not an address:port such as 127.0.0.1:8080"))
}

fn check_absolute_http_uri(value: &str) -> Result<(), String> {
    let url = url::Url::parse(value).map_err(|_| format!("{value:?} is not an absolute URI"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{value:?} must be an http or https URI with a host"));
    }
    if value.contains('#') {
        return Err(format!("{value:?} must not have a fragment"));
    }
    Ok(())
}

/// Host patterns: an exact host, or `*.` followed by a host (sub-domains only).
fn check_host_pattern(pattern: &str) -> Result<(), String> {
    let host = pattern.strip_prefix("*.").unwrap_or(pattern);
    let valid = !host.is_empty()
        && !host.contains('*')
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '[' | ']' | ':'));
    if valid {
        Ok(())
    } else {
        Err(format!("{pattern:?} is not a host name or a `*.domain` pattern"))
    }
}

/// A level (`info`) or a filter of `target=level` directives, each level a real one: a bare
/// word that is not a level is far more likely a typo than a target name.
fn is_log_filter(value: &str) -> bool {
    const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];
    let is_level = |word: &str| LEVELS.contains(&word.trim().to_ascii_lowercase().as_str());
    !value.trim().is_empty()
        && value.split(',').all(|directive| match directive.split_once('=') {
            Some((target, level)) => !target.trim().is_empty() && is_level(level),
            None => is_level(directive),
        })
        && tracing_subscriber::EnvFilter::try_new(value).is_ok()
}

/// RFC 6749 §3.3 scope-token: 1*( %x21 / %x23-5B / %x5D-7E ).
pub fn is_scope_token(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// The one swappable handle every part of the server reads settings through; a reload swaps
/// the whole value atomically.
#[derive(Clone)]
pub struct SettingsHandle(Arc<ArcSwap<Settings>>);

impl SettingsHandle {
    pub fn new(settings: Settings) -> Self {
        SettingsHandle(Arc::new(ArcSwap::from_pointee(settings)))
    }

    /// The current settings; hold the returned `Arc` for the duration of one request.
    pub fn current(&self) -> Arc<Settings> {
        self.0.load_full()
    }

    pub fn replace(&self, settings: Settings) {
        self.0.store(Arc::new(settings));
    }
}

/// Parsed trusted proxy networks (validated at load, so unparsable entries never reach here).
pub fn parsed_cidrs(values: &[String]) -> Vec<IpNet> {
    values.iter().filter_map(|v| parse_cidr(v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_checks_name_the_key_and_never_echo_it() {
        let none = KeysSettings::default();
        assert!(check_keys_settings(&none).is_empty());
        let two = KeysSettings {
            encryption_key: crate::keys::cipher::generate_key().unwrap(),
            encryption_key_file: "/k".into(),
            ..KeysSettings::default()
        };
        assert_eq!(check_keys_settings(&two)[0].0, "keys");
        let bad = KeysSettings { encryption_key: "c2VjcmV0".into(), ..KeysSettings::default() };
        let problems = check_keys_settings(&bad);
        assert_eq!(problems[0].0, "keys.encryption_key");
        assert!(!problems[0].1.contains("c2VjcmV0"));
        let env = KeysSettings { encryption_key_env: "1BAD-NAME".into(), ..KeysSettings::default() };
        assert_eq!(check_keys_settings(&env)[0].0, "keys.encryption_key_env");
        let good_env = KeysSettings { encryption_key_env: "GATEHOUSE_KEY".into(), ..KeysSettings::default() };
        assert!(check_keys_settings(&good_env).is_empty());
    }

    #[test]
    fn branding_checks_name_the_key() {
        let keys = |branding: BrandingSettings| -> Vec<&'static str> {
            check_branding_settings(&branding).into_iter().map(|(key, _)| key).collect()
        };
        assert!(keys(BrandingSettings::default()).is_empty());
        let good = BrandingSettings {
            product_name: "Acme Cloud".into(),
            accent_color: "#FFD700".into(),
            support_url: "https://help.acme.example/".into(),
            ..BrandingSettings::default()
        };
        assert!(keys(good.clone()).is_empty());
        for (bad, key) in [
            (BrandingSettings { product_name: "  ".into(), ..good.clone() }, "branding.product_name"),
            (BrandingSettings { product_name: "x".repeat(61), ..good.clone() }, "branding.product_name"),
            (BrandingSettings { product_name: "Acme\nCloud".into(), ..good.clone() }, "branding.product_name"),
            (
                BrandingSettings { logo_file: "https://cdn.example/logo.png".into(), ..good.clone() },
                "branding.logo_file",
            ),
            (BrandingSettings { accent_color: "#ffd70".into(), ..good.clone() }, "branding.accent_color"),
            (BrandingSettings { accent_color: "gold".into(), ..good.clone() }, "branding.accent_color"),
            (BrandingSettings { support_url: "http://help.example".into(), ..good.clone() }, "branding.support_url"),
            (BrandingSettings { support_url: "javascript:alert(1)".into(), ..good.clone() }, "branding.support_url"),
            (
                BrandingSettings { support_url: "https://help.example/a b".into(), ..good.clone() },
                "branding.support_url",
            ),
        ] {
            assert_eq!(keys(bad.clone()), [key], "{bad:?}");
        }
    }

    #[test]
    fn issuer_rules() {
        assert!(check_issuer("http://localhost:8080").is_ok());
        assert!(check_issuer("https://auth.example.com").is_ok());
        assert!(check_issuer("https://auth.example.com/auth").is_ok());
        assert!(check_issuer("http://127.0.0.1:9000").is_ok());
        assert!(check_issuer("http://[::1]:9000").is_ok());
        for bad in [
            "",
            "auth.example.com",
            "https://auth.example.com/",
            "https://auth.example.com/auth/",
            "https://auth.example.com?x=1",
            "https://auth.example.com#f",
            "http://auth.example.com",
            "ftp://auth.example.com",
            "https://user@auth.example.com",
            "HTTPS://auth.example.com",
            "https://auth.example.com:443",
        ] {
            assert!(check_issuer(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn issuer_path_is_the_path_without_slash() {
        assert_eq!(issuer_path("https://h"), "");
        assert_eq!(issuer_path("https://h/auth"), "/auth");
        assert_eq!(issuer_path("https://h/a/b"), "/a/b");
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Settings::default().validate(), Vec::<String>::new());
    }

    #[test]
    fn scope_tokens() {
        assert!(is_scope_token("offline_access"));
        assert!(is_scope_token("mcp:tools"));
        assert!(!is_scope_token("a b"));
        assert!(!is_scope_token("a\"b"));
        assert!(!is_scope_token(""));
    }
}
