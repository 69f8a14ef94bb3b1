//! Configuration: layering, parse errors naming the key, every value check, and the documented
//! default file kept in step with the code.

use std::io::Write;

use gatehouse::config::{ConfigError, ConfigSource, Settings};

fn file_with(contents: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(contents.as_bytes()).unwrap();
    file
}

fn load(contents: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let file = file_with(contents);
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    ConfigSource::new(Some(file.path().to_path_buf())).load_with_env(env)
}

fn problems(contents: &str) -> Vec<String> {
    match load(contents, &[]) {
        Err(e) => e.lines(),
        Ok(_) => panic!("expected a configuration error for:\n{contents}"),
    }
}

#[test]
fn defaults_then_file_then_environment() {
    let settings = load(
        "issuer = \"https://auth.example.com\"\n[dcr]\nenabled = false\nmax_redirect_uris = 5\n",
        &[
            ("GATEHOUSE__DCR__ENABLED", "true"),
            ("GATEHOUSE__SERVER__TRUSTED_PROXIES", "10.0.0.0/8,192.168.1.1"),
            ("GATEHOUSE__SCOPES__SUPPORTED", "offline_access,mcp:tools"),
            ("GATEHOUSE__DCR__POLICY__WEBHOOK_TIMEOUT_MS", "1500"),
            ("GATEHOUSE_CONFIG", "ignored-by-the-variable-source"),
            ("OTHER", "x"),
        ],
    )
    .unwrap();
    assert_eq!(settings.issuer, "https://auth.example.com"); // file over default
    assert!(settings.dcr.enabled); // environment over file
    assert_eq!(settings.dcr.max_redirect_uris, 5); // file
    assert_eq!(settings.dcr.rate_limit_window_secs, 60); // default
    assert_eq!(settings.server.trusted_proxies, vec!["10.0.0.0/8", "192.168.1.1"]);
    assert_eq!(settings.scopes.supported, vec!["offline_access", "mcp:tools"]);
    assert_eq!(settings.dcr.policy.webhook_timeout_ms, 1500);
}

#[test]
fn environment_sets_top_level_keys() {
    let settings = load("", &[("GATEHOUSE__ISSUER", "https://id.example.org/auth")]).unwrap();
    assert_eq!(settings.issuer, "https://id.example.org/auth");
    assert_eq!(settings.issuer_path(), "/auth");
}

#[test]
fn missing_default_file_is_fine_but_a_named_one_is_not() {
    let missing = std::path::PathBuf::from("/nonexistent/gatehouse.toml");
    let named = ConfigSource { path: missing.clone(), explicit: true };
    assert!(matches!(named.load_with_env(vec![]), Err(ConfigError::MissingFile(_))));
    let default = ConfigSource { path: missing, explicit: false };
    assert_eq!(default.load_with_env(vec![]).unwrap(), Settings::default());
}

#[test]
fn syntax_error_names_the_line() {
    let lines = problems("issuer = \"http://localhost:8080\"\n[dcr]\nenabled = tru\n");
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains("line 3"), "{lines:?}");
}

#[test]
fn unknown_key_is_named() {
    let lines = problems("[dcr]\nenabeld = true\n");
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with("dcr.enabeld: unknown key"), "{lines:?}");
    let top = problems("isuer = \"https://x\"\n");
    assert!(top[0].starts_with("isuer: unknown key"), "{top:?}");
    let nested = problems("[dcr.policy]\nwebhook = \"x\"\n");
    assert!(nested[0].starts_with("dcr.policy.webhook: unknown key"), "{nested:?}");
}

#[test]
fn unknown_environment_key_is_refused() {
    let error = load("", &[("GATEHOUSE__DCR__ENABLE", "true")]).unwrap_err();
    assert!(error.lines()[0].starts_with("dcr.enable: unknown key"), "{:?}", error.lines());
}

#[test]
fn wrong_type_names_the_key() {
    let lines = problems("[dcr]\nmax_redirect_uris = \"ten\"\n");
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains("dcr.max_redirect_uris"), "{lines:?}");
    let lines = problems("[server]\ntrusted_proxies = \"10.0.0.0/8\"\n");
    assert!(lines[0].contains("server.trusted_proxies"), "{lines:?}");
}

#[test]
fn every_value_problem_is_reported_at_once() {
    let lines = problems(
        r#"
issuer = "https://auth.example.com/"
[server]
trusted_proxies = ["10.0.0.0/33"]
[dcr]
rate_limit_window_secs = 0
[log]
format = "xml"
"#,
    );
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("issuer:") && l.contains("slash")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("server.trusted_proxies:")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("dcr.rate_limit_window_secs:")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("log.format:")), "{lines:?}");
}

#[test]
fn issuer_rules_are_checked() {
    for (issuer, why) in [
        ("auth.example.com", "absolute"),
        ("http://auth.example.com", "https"),
        ("https://auth.example.com?a=1", "query"),
        ("https://auth.example.com#x", "fragment"),
        ("https://auth.example.com/", "slash"),
        ("HTTPS://auth.example.com", "canonical"),
    ] {
        let lines = problems(&format!("issuer = {issuer:?}\n"));
        assert_eq!(lines.len(), 1, "{issuer}: {lines:?}");
        assert!(lines[0].starts_with("issuer:") && lines[0].contains(why), "{issuer}: {lines:?}");
    }
    assert!(load("issuer = \"http://127.0.0.1:9000/auth\"\n", &[]).is_ok());
}

#[test]
fn each_value_check_names_its_key() {
    for (toml, key) in [
        ("[server]\nbind = \"localhost\"\n", "server.bind"),
        ("[server]\nmax_body_bytes = 0\n", "server.max_body_bytes"),
        ("[database]\nurl = \"mysql://x\"\n", "database.url"),
        ("[database]\npool_size = 0\n", "database.pool_size"),
        ("[log]\nlevel = \"loud\"\n", "log.level"),
        ("[dcr]\nmax_registrations_per_window = 0\n", "dcr.max_registrations_per_window"),
        ("[dcr]\nauth_method_mismatch = \"maybe\"\n", "dcr.auth_method_mismatch"),
        ("[dcr]\ncompatibility = [\"netscape\"]\n", "dcr.compatibility"),
        ("[dcr]\nprivate_use_schemes = [\"https\"]\n", "dcr.private_use_schemes"),
        ("[dcr]\nprivate_use_schemes = [\"javascript\"]\n", "dcr.private_use_schemes"),
        ("[dcr]\nprivate_use_schemes = [\"Cursor\"]\n", "dcr.private_use_schemes"),
        ("[dcr]\nprivate_use_schemes = [\"java script\"]\n", "dcr.private_use_schemes"),
        ("[dcr.policy]\nredirect_hosts_allow = [\"*.*.x\"]\n", "dcr.policy.redirect_hosts_allow"),
        ("[dcr.policy]\nregistrant_networks_allow = [\"nope\"]\n", "dcr.policy.registrant_networks_allow"),
        ("[dcr.policy]\nwebhook_on_error = \"maybe\"\n", "dcr.policy.webhook_on_error"),
        ("[dcr.policy]\nwebhook_url = \"not a url\"\n", "dcr.policy.webhook_url"),
        ("[cimd]\ncache_min_secs = 100\ncache_max_secs = 10\n", "cimd.cache_min_secs"),
        ("[tokens]\naccess_token_ttl_secs = 0\n", "tokens.access_token_ttl_secs"),
        ("[resources]\nallowed = [\"urn:x\"]\n", "resources.allowed"),
        ("[scopes]\nsupported = [\"two words\"]\n", "scopes.supported"),
        ("[admin]\ntoken = \"short\"\n", "admin.token"),
        ("[admin]\nbind = \"nowhere\"\n", "admin.bind"),
        ("[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n", "server.trusted_proxies"),
        ("[database]\nconnect_timeout_ms = 0\n", "database.connect_timeout_ms"),
        ("[dcr.policy]\nredirect_hosts_deny = [\"a.*.example\"]\n", "dcr.policy.redirect_hosts_deny"),
        ("[cimd]\ntrusted_hosts = [\"*\"]\n", "cimd.trusted_hosts"),
        ("[cimd]\ndenied_hosts = [\"https://x.example\"]\n", "cimd.denied_hosts"),
        ("[cimd]\nextra_root_certificates = [\"/nonexistent/ca.pem\"]\n", "cimd.extra_root_certificates"),
        ("[resources]\ndefault_audience = \"not a uri\"\n", "resources.default_audience"),
    ] {
        let lines = problems(toml);
        assert_eq!(lines.len(), 1, "{toml}: {lines:?}");
        assert!(lines[0].starts_with(&format!("{key}:")), "{toml}: {lines:?}");
    }
}

/// Every count, size, duration and interval must be at least 1.
#[test]
fn zero_is_refused_for_every_positive_value() {
    for (section, key) in [
        ("dcr", "max_redirect_uris"),
        ("dcr", "rate_limit_window_secs"),
        ("dcr", "max_registrations_per_window"),
        ("dcr", "stale_client_retention_days"),
        ("dcr", "cleanup_interval_secs"),
        ("dcr.policy", "webhook_timeout_ms"),
        ("cimd", "http_timeout_ms"),
        ("cimd", "max_document_bytes"),
        ("cimd", "cache_max_secs"),
        ("tokens", "access_token_ttl_secs"),
        ("tokens", "authorization_code_ttl_secs"),
        ("tokens", "refresh_token_ttl_secs"),
        ("login", "session_ttl_secs"),
        ("maintenance", "purge_interval_secs"),
        ("audit", "retention_days"),
    ] {
        let lines = problems(&format!("[{section}]\n{key} = 0\n"));
        assert!(
            lines.iter().any(|l| l == &format!("{section}.{key}: must be at least 1")),
            "{section}.{key}: {lines:?}"
        );
    }
}

/// `config/gatehouse.toml` lists every key with the code's default value, and nothing else.
#[test]
fn documented_default_file_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/gatehouse.toml");
    let from_file = ConfigSource::new(Some(path.into())).load_with_env(vec![]).unwrap();
    assert_eq!(from_file, Settings::default(), "a default in config/gatehouse.toml differs from the code");

    let documented: toml::Value = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let code: toml::Value = toml::Value::try_from(Settings::default()).unwrap();
    let (mut documented_keys, mut code_keys) = (Vec::new(), Vec::new());
    key_paths(&documented, "", &mut documented_keys);
    key_paths(&code, "", &mut code_keys);
    documented_keys.sort();
    code_keys.sort();
    assert_eq!(documented_keys, code_keys, "config/gatehouse.toml must document every key");
}

fn key_paths(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
    if let toml::Value::Table(table) = value {
        for (key, child) in table {
            let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            if child.is_table() {
                key_paths(child, &path, out);
            } else {
                out.push(path);
            }
        }
    }
}

/// `[login.app]` (SPEC §9.2): the key from exactly one of the value, a file or an environment
/// variable (at least 32 characters), the URL https or loopback http; one line per problem.
#[test]
fn the_apps_sign_in_settings_are_checked() {
    let key = "k".repeat(40);
    let base = "issuer = \"https://auth.example.com\"\n[login.app]\nurl = \"https://app.example.com/login\"\n";

    let inline = load(&format!("{base}api_key = \"{key}\"\n"), &[]).unwrap();
    assert_eq!(inline.login.app.resolved_api_key, key);
    assert!(!format!("{:?}", inline.login.app).contains(&key), "Debug masks the key");
    assert_eq!(inline.masked().login.app.api_key, "********");

    let file = file_with(&format!("{key}\n"));
    let from_file = load(&format!("{base}api_key_file = {:?}\n", file.path().display().to_string()), &[]).unwrap();
    assert_eq!(from_file.login.app.resolved_api_key, key);
    let from_env = load(&format!("{base}api_key_env = \"APP_KEY\"\n"), &[("APP_KEY", key.as_str())]).unwrap();
    assert_eq!(from_env.login.app.resolved_api_key, key);

    let problems_of = |contents: String, env: &[(&str, &str)]| match load(&contents, env) {
        Err(e) => e.lines(),
        Ok(_) => panic!("expected a configuration error for:\n{contents}"),
    };
    let two = problems_of(format!("{base}api_key = \"{key}\"\napi_key_env = \"APP_KEY\"\n"), &[("APP_KEY", "x")]);
    assert!(two.iter().any(|p| p.starts_with("login.app.api_key: set only one of")), "{two:?}");
    let short = problems_of(format!("{base}api_key = \"short\"\n"), &[]);
    assert!(short.iter().any(|p| p.starts_with("login.app.api_key: must be at least 32")), "{short:?}");
    let missing_env = problems_of(format!("{base}api_key_env = \"NOT_SET_ANYWHERE\"\n"), &[]);
    assert!(
        missing_env.iter().any(|p| p.contains("login.app.api_key_env") && p.contains("not set")),
        "{missing_env:?}"
    );
    let missing_file = problems_of(format!("{base}api_key_file = \"/nonexistent/key\"\n"), &[]);
    assert!(missing_file.iter().any(|p| p.starts_with("login.app.api_key_file: cannot read")), "{missing_file:?}");
    let plain_http = problems_of(
        format!("issuer = \"https://auth.example.com\"\n[login.app]\nurl = \"http://app.example.com/login\"\napi_key = \"{key}\"\n"),
        &[],
    );
    assert!(plain_http.iter().any(|p| p.starts_with("login.app.url:") && p.contains("https")), "{plain_http:?}");
    let loopback = format!("[login.app]\nurl = \"http://127.0.0.1:3000/login\"\napi_key = \"{key}\"\n");
    assert!(load(&loopback, &[]).is_ok(), "http on loopback is for development");
}
