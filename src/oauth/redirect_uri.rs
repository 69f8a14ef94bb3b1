//! Redirect URIs (RFC 6749 §3.1.2, RFC 8252 §7, RFC 9700 §2.1): the one home of their rules.
//! Registration-time checks ([`check`]), match-time comparison ([`matches`], with the loopback
//! port exception), classification, and how a redirect URI is shown and extended — in one
//! module, because registration and matching must agree byte for byte.
//!
//! Decisions worth knowing:
//! - A stored redirect URI is the raw string the client sent, which must already be in the URL
//!   parser's canonical form, so what is stored is what every later comparison sees.
//! - Loopback matching is done on raw text: the scheme must be literally `http` (no case
//!   folding), the host text literally `localhost`, `127.0.0.1` or `[::1]`; a port must be 1–5
//!   ASCII digits with a value from 1 to 65535. `http://127.0.0.1:/cb` (separator with no
//!   digits), `:abc`, `:0`, `:99999`, userinfo (`@`) and a fragment (`#`) are all refused for the
//!   port-flexible comparison.
//! - [`is_private_use`] compares the scheme case-insensitively (`HTTPS:` is not private-use);
//!   an input without a syntactically valid scheme is not private-use.

use url::Url;

use crate::text::echo;

/// Longest redirect URI accepted (also the limit for other URIs in client metadata).
pub const MAX_URI_CHARS: usize = 2000;

/// Host texts of RFC 8252 loopback redirection, the only hosts an `http` redirect URI may name.
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// Schemes that may never be configured as private-use redirect schemes: web schemes have
/// their own rules, the others can run code or read local data.
const RESERVED_SCHEMES: &[&str] =
    &["http", "https", "javascript", "data", "file", "blob", "about", "vbscript", "ws", "wss"];

/// The configured rules that decide which redirect URIs may be registered.
#[derive(Debug, Clone, Copy)]
pub struct RedirectRules<'a> {
    pub allow_https: bool,
    pub allow_loopback: bool,
    /// Exact lower-case scheme names, each accepted by [`check_private_use_scheme`].
    pub private_use_schemes: &'a [String],
}

/// `localhost`, `127.0.0.1` or `[::1]`, as host text.
pub fn is_loopback_host(host: &str) -> bool {
    LOOPBACK_HOSTS.contains(&host)
}

// ------------------------------------------------------------------------------------------------
// Registration: what may be stored
// ------------------------------------------------------------------------------------------------

/// Validate one configured private-use scheme name (used at config load).
pub fn check_private_use_scheme(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '.' | '-'));
    if !starts_with_letter || !rest_ok {
        return Err(format!(
            "private-use scheme \"{}\" is not a lower-case RFC 3986 scheme name \
             (a letter, then letters, digits, '+', '.' or '-')",
            echo(name)
        ));
    }
    if RESERVED_SCHEMES.contains(&name) {
        return Err(format!("\"{name}\" cannot be a private-use scheme: it is reserved for the web or unsafe"));
    }
    Ok(())
}

/// What kind of redirect URI a scheme makes, under the configured rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RedirectKind {
    Https,
    Loopback,
    PrivateUse,
}

/// Check one redirect URI as the raw string that will be stored, echoed and compared.
pub fn check(raw: &str, rules: &RedirectRules) -> Result<(), String> {
    if raw.is_empty() {
        return Err("redirect URI must not be an empty string".to_string());
    }
    let shown = echo(raw);
    let len = raw.chars().count();
    if len > MAX_URI_CHARS {
        return Err(format!("redirect URI \"{shown}\" is {len} characters long; at most {MAX_URI_CHARS} are allowed"));
    }
    if let Some(problem) = forbidden_char_problem(raw) {
        return Err(format!("redirect URI \"{shown}\" {problem}"));
    }
    let url = Url::parse(raw).map_err(|e| match e {
        url::ParseError::RelativeUrlWithoutBase => {
            format!("redirect URI \"{shown}\" is not an absolute URI (it has no scheme)")
        }
        other => format!("redirect URI \"{shown}\" is not a valid URI: {other}"),
    })?;
    if has_userinfo(raw, &url) {
        return Err(format!("redirect URI \"{shown}\" must not contain user information (user:password@)"));
    }
    let kind = classify_scheme(url.scheme(), rules).map_err(|why| format!("redirect URI \"{shown}\" {why}"))?;
    check_kind_specific(kind, raw, &url).map_err(|why| format!("redirect URI \"{shown}\" {why}"))?;
    if !is_canonical(raw, &url) {
        return Err(format!("redirect URI \"{shown}\" is not in canonical form; did you mean {}?", echo(url.as_str())));
    }
    Ok(())
}

/// First character that may never appear in a stored redirect URI, described.
fn forbidden_char_problem(raw: &str) -> Option<&'static str> {
    raw.chars().find_map(|c| match c {
        // Even an empty fragment is a fragment (RFC 6749 section 3.1.2).
        '#' => Some("must not contain a fragment ('#')"),
        ' ' => Some("must not contain spaces"),
        '\\' => Some("must not contain a backslash"),
        c if c.is_control() => Some("must not contain control characters"),
        c if !c.is_ascii() => Some("must contain only ASCII characters (percent-encode anything else)"),
        _ => None,
    })
}

/// User-info judged on the raw authority text, so an empty `@` is caught too.
fn has_userinfo(raw: &str, url: &Url) -> bool {
    if !url.username().is_empty() || url.password().is_some() {
        return true;
    }
    // The raw string starts with the scheme (leading junk was refused before).
    let after_scheme = raw.get(url.scheme().len() + 1..).unwrap_or("");
    match after_scheme.strip_prefix("//") {
        Some(rest) => rest.split(['/', '?']).next().is_some_and(|authority| authority.contains('@')),
        None => false,
    }
}

/// `scheme` is the parser's lower-cased scheme; case is judged later by the canonical check.
fn classify_scheme(scheme: &str, rules: &RedirectRules) -> Result<RedirectKind, String> {
    match scheme {
        "https" if rules.allow_https => Ok(RedirectKind::Https),
        "https" => Err("uses https, which this server does not accept for redirect URIs".into()),
        "http" if rules.allow_loopback => Ok(RedirectKind::Loopback),
        "http" => Err("uses http, which this server does not accept (loopback redirect URIs are disabled)".into()),
        s if is_configured_private_scheme(s, rules) => Ok(RedirectKind::PrivateUse),
        s => Err(format!("uses scheme \"{}\", which is not allowed; {}", echo(s), allowed_summary(rules))),
    }
}

/// Re-checks the name so a bad config entry (say "javascript") can never open a hole.
fn is_configured_private_scheme(scheme: &str, rules: &RedirectRules) -> bool {
    rules.private_use_schemes.iter().any(|s| s == scheme) && check_private_use_scheme(scheme).is_ok()
}

fn allowed_summary(rules: &RedirectRules) -> String {
    let mut allowed = Vec::new();
    if rules.allow_https {
        allowed.push("https URIs".to_string());
    }
    if rules.allow_loopback {
        allowed.push("http URIs on localhost, 127.0.0.1 or [::1]".to_string());
    }
    let schemes: Vec<&str> =
        rules.private_use_schemes.iter().filter(|s| check_private_use_scheme(s).is_ok()).map(String::as_str).collect();
    if !schemes.is_empty() {
        allowed.push(format!("private-use schemes {}", echo(&schemes.join(", "))));
    }
    if allowed.is_empty() {
        "this server accepts no redirect URIs".to_string()
    } else {
        format!("allowed are {}", allowed.join("; "))
    }
}

fn check_kind_specific(kind: RedirectKind, raw: &str, url: &Url) -> Result<(), String> {
    match kind {
        RedirectKind::Https => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err("must have a host".into());
            }
        }
        RedirectKind::Loopback => {
            // host_str is the normalised host; the canonical check that follows
            // guarantees it is also exactly the raw host text.
            if !is_loopback_host(url.host_str().unwrap_or("")) {
                return Err("uses http, which is allowed only with host localhost, \
                            127.0.0.1 or [::1]; use https for other hosts"
                    .into());
            }
        }
        RedirectKind::PrivateUse => {
            let after_colon = raw.get(url.scheme().len() + 1..).unwrap_or("");
            if after_colon.trim_start_matches('/').is_empty() {
                return Err("has nothing after the scheme".into());
            }
        }
    }
    Ok(())
}

/// The raw string must be exactly what the URL parser would produce, so that
/// what is stored is what every later comparison sees. The one tolerated
/// difference: the parser adds `/` to an empty path of http(s) URIs
/// (`https://example.com` becomes `https://example.com/`).
fn is_canonical(raw: &str, url: &Url) -> bool {
    let serialized = url.as_str();
    if serialized == raw {
        return true;
    }
    matches!(url.scheme(), "http" | "https")
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && serialized.strip_suffix('/') == Some(raw)
}

// ------------------------------------------------------------------------------------------------
// Matching and classification
// ------------------------------------------------------------------------------------------------

/// A loopback `http` URI split on raw text: host text, port text (if any), and the rest (path, query)
/// with an empty path written as `/`.
struct LoopbackParts<'a> {
    host: &'a str,
    rest: String,
}

/// Split `uri` when it is `http://` + a loopback host literal + an optional well-formed port. `None` otherwise,
/// also when it contains a fragment or userinfo.
fn split_loopback(uri: &str) -> Option<LoopbackParts<'_>> {
    let after_scheme = uri.strip_prefix("http://")?;
    if uri.contains('#') {
        return None;
    }
    let authority_end = after_scheme.find(['/', '?']).unwrap_or(after_scheme.len());
    let (authority, rest) = after_scheme.split_at(authority_end);
    if authority.contains('@') {
        return None;
    }
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, after) = authority.split_at(close + 1);
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if !is_loopback_host(host) {
        return None;
    }
    if port.is_some_and(|p| !is_valid_port(p)) {
        return None;
    }
    let rest = if rest.is_empty() || rest.starts_with('?') { format!("/{rest}") } else { rest.to_string() };
    Some(LoopbackParts { host, rest })
}

/// 1 to 5 ASCII digits, value 1..=65535. An empty port (`host:`) is refused.
fn is_valid_port(port: &str) -> bool {
    !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p))
}

/// `http` (literally, lower case) with host text literally `localhost`, `127.0.0.1` or `[::1]`, an optional
/// well-formed port, no userinfo and no fragment.
pub fn is_loopback(uri: &str) -> bool {
    split_loopback(uri).is_some()
}

/// The scheme is neither `http` nor `https` (compared case-insensitively). `false` when there is no valid
/// scheme (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by `:`).
pub fn is_private_use(uri: &str) -> bool {
    let Some((scheme, _)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid && !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https")
}

/// Exact string match; for a registered loopback URI, additionally a request that differs only in its port
/// (another port, or none) matches. Host text, scheme, path and query must be identical; an empty path equals `/`.
pub fn matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    match (split_loopback(registered), split_loopback(requested)) {
        (Some(reg), Some(req)) => reg.host == req.host && reg.rest == req.rest,
        _ => false,
    }
}

/// The registered URI that `requested` matches: an exact match first, then a loopback port-flexible match.
pub fn find_registered<'a>(registered: &'a [String], requested: &str) -> Option<&'a String> {
    registered.iter().find(|r| r.as_str() == requested).or_else(|| registered.iter().find(|r| matches(r, requested)))
}

/// `http://HOST[:port]/…` with HOST exactly `host` (raw text) and a well-formed port or none:
/// the loopback form a compatibility profile accepts for one host.
pub fn is_loopback_on(uri: &str, host: &str) -> bool {
    split_loopback(uri).is_some_and(|parts| parts.host == host)
}

// ------------------------------------------------------------------------------------------------
// Display and use
// ------------------------------------------------------------------------------------------------

/// Where a redirect URI sends the answer, as the user is told (SPEC §5, §11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A web host and its port, if any: `chatgpt.com`, `127.0.0.1:33418`.
    Web(String),
    /// An app on this device that handles `scheme:` links. `shown` is the scheme with its
    /// authority (`myapp://claude.ai`), or the scheme alone (`com.example.app:`) when there is
    /// none — never the bare authority, which would read like a web host.
    App { scheme: String, shown: String },
}

impl Destination {
    /// The one-line form: the web host, or the app link's `scheme://authority`.
    pub fn shown(&self) -> &str {
        match self {
            Destination::Web(host) => host,
            Destination::App { shown, .. } => shown,
        }
    }
}

/// Where `uri` sends the answer: a web host, or an app that handles its private-use scheme.
pub fn destination(uri: &str) -> Destination {
    let parsed = Url::parse(uri);
    if is_private_use(uri) {
        let raw_scheme = uri.split_once(':').map(|(scheme, _)| scheme.to_ascii_lowercase()).unwrap_or_default();
        let (scheme, authority) = match &parsed {
            Ok(url) => {
                let authority = match (url.host_str().filter(|h| !h.is_empty()), url.port()) {
                    (Some(host), Some(port)) => Some(format!("{host}:{port}")),
                    (Some(host), None) => Some(host.to_string()),
                    (None, _) => None,
                };
                (url.scheme().to_string(), authority)
            }
            Err(_) => (raw_scheme, None),
        };
        let shown = match authority {
            Some(authority) => format!("{scheme}://{authority}"),
            None => format!("{scheme}:"),
        };
        return Destination::App { scheme, shown };
    }
    Destination::Web(match parsed {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => format!("{}:", url.scheme()),
        },
        Err(_) => uri.chars().take(100).collect(),
    })
}

/// A redirect URI's destination in one line: the host (and port) of a web URI; for a
/// private-use one the scheme with its authority (`myapp://claude.ai`).
pub fn display_host(uri: &str) -> String {
    destination(uri).shown().to_string()
}

/// Lower-cased, without a trailing dot: `CHATGPT.COM.` is `chatgpt.com`.
pub fn normalise_host(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The parsed host of a redirect URI, normalised for comparison with host lists (`None` when
/// it has none).
pub fn normalised_host(uri: &str) -> Option<String> {
    Url::parse(uri).ok()?.host_str().map(normalise_host)
}

/// `redirect_uri` + `?`/`&` + the parameters, keeping the registered URI's own query.
pub fn append_query(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        serializer.append_pair(name, value);
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{separator}{}", serializer.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn redirect_exact() {
        assert!(matches("https://a.example/cb", "https://a.example/cb"));
        assert!(matches("com.example.app:/cb", "com.example.app:/cb"));
        assert!(!matches("https://a.example/cb", "https://A.example/cb"));
        assert!(!matches("https://a.example/cb", "HTTPS://a.example/cb"));
        assert!(!matches("https://a.example/cb", "https://a.example/CB"));
        assert!(!matches("https://a.example/cb", "https://a.example/cb2"));
        assert!(!matches("https://a.example/cb", "https://a.example/cb/"));
        assert!(!matches("https://a.example/cb/", "https://a.example/cb"));
        assert!(!matches("https://a.example/cb", "https://a.example/cb?x=1"));
        assert!(!matches("https://a.example/cb?x=1", "https://a.example/cb?x=2"));
        assert!(!matches("https://a.example/cb", "https://a.example/%63b"));
        assert!(!matches("https://a.example/cb", "https://a.example:443/cb"));
        assert!(!matches("https://a.example:8443/cb", "https://a.example:9443/cb"));
        assert!(!matches("https://a.example/", "https://a.example"));
    }

    #[test]
    fn redirect_loopback_ports() {
        assert!(matches("http://127.0.0.1/cb", "http://127.0.0.1:51234/cb"));
        assert!(matches("http://localhost:3000/cb", "http://localhost/cb"));
        assert!(matches("http://localhost:3000/cb", "http://localhost:9/cb"));
        assert!(matches("http://[::1]:1/x", "http://[::1]:2/x"));
        assert!(matches("http://[::1]/x", "http://[::1]:65535/x"));
        assert!(matches("http://127.0.0.1/", "http://127.0.0.1:33418/"));
        assert!(matches("http://127.0.0.1/", "http://127.0.0.1:33418"));
        assert!(matches("http://127.0.0.1", "http://127.0.0.1:33418/"));
        assert!(matches("http://127.0.0.1/?a=1", "http://127.0.0.1:5?a=1"));
        assert!(matches("http://127.0.0.1/cb?a=1", "http://127.0.0.1:5/cb?a=1"));
    }

    #[test]
    fn redirect_loopback_refusals() {
        // host text must be identical
        assert!(!matches("http://localhost/cb", "http://127.0.0.1/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://localhost/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://[::1]/cb"));
        assert!(!matches("http://localhost/cb", "http://LOCALHOST:5/cb"));
        // scheme must be http on both sides
        assert!(!matches("http://127.0.0.1/cb", "https://127.0.0.1/cb"));
        assert!(!matches("http://127.0.0.1/cb", "https://127.0.0.1:5/cb"));
        assert!(!matches("http://127.0.0.1/cb", "HTTP://127.0.0.1:5/cb"));
        assert!(!matches("https://127.0.0.1/cb", "https://127.0.0.1:5/cb"));
        // path and query exact
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:5/cb/"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:5/CB"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:5/cb?x=1"));
        assert!(!matches("http://127.0.0.1/cb?x=1", "http://127.0.0.1:5/cb?x=2"));
        assert!(!matches("http://127.0.0.1/cb?x=1", "http://127.0.0.1:5/cb"));
        assert!(!matches("http://127.0.0.1/", "http://127.0.0.1:5/?"));
        // look-alike hosts
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1.evil.com/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1.evil.com:80/cb"));
        assert!(!matches("http://localhost/cb", "http://localhost.evil.com/cb"));
        assert!(!matches("http://localhost/cb", "http://localhost@evil.com/cb"));
        assert!(!matches("http://localhost/cb", "http://localhost:80@evil.com/cb"));
        assert!(!matches("http://localhost/cb", "http://evil.com@localhost/cb"));
        assert!(!matches("http://localhost/cb", "http://localhost\\@evil.com/cb"));
        assert!(!matches("http://localhost/cb", "http://localhost:1\\@evil.com/cb"));
        assert!(!matches("http://[::1]/cb", "http://[::1]evil/cb"));
        assert!(!matches("http://[::1]/cb", "http://[::1]:/cb"));
        // fragments
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:5/cb#x"));
        // weird ports are refused: not 1-5 digits, out of range, zero, or an empty port after ':'
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:abc/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:0/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:65536/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:123456/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:+80/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:80:81/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1: 80/cb"));
        // ...also on the registered side (then only an exact match works)
        assert!(!matches("http://127.0.0.1:abc/cb", "http://127.0.0.1:5/cb"));
        assert!(matches("http://127.0.0.1:abc/cb", "http://127.0.0.1:abc/cb"));
        // a non-loopback http registration is exact-only
        assert!(!matches("http://a.example/cb", "http://a.example:8080/cb"));
    }

    #[test]
    fn finds_the_registered_uri() {
        let reg = strings(&["https://a.example/cb", "http://127.0.0.1/cb", "http://localhost:8000/cb"]);
        assert_eq!(find_registered(&reg, "https://a.example/cb"), Some(&reg[0]));
        assert_eq!(find_registered(&reg, "http://127.0.0.1:4000/cb"), Some(&reg[1]));
        assert_eq!(find_registered(&reg, "http://localhost:8000/cb"), Some(&reg[2]));
        assert_eq!(find_registered(&reg, "http://localhost/cb"), Some(&reg[2]));
        assert_eq!(find_registered(&reg, "http://[::1]/cb"), None);
        assert_eq!(find_registered(&reg, "https://a.example/cb/"), None);
        assert_eq!(find_registered(&[], "https://a.example/cb"), None);
        // an exact match is preferred over an earlier port-flexible one
        let reg = strings(&["http://127.0.0.1:1/cb", "http://127.0.0.1:2/cb"]);
        assert_eq!(find_registered(&reg, "http://127.0.0.1:2/cb"), Some(&reg[1]));
        assert_eq!(find_registered(&reg, "http://127.0.0.1:3/cb"), Some(&reg[0]));
    }

    #[test]
    fn loopback_and_private_use_classification() {
        assert!(is_loopback("http://localhost/cb"));
        assert!(is_loopback("http://127.0.0.1:8080/cb"));
        assert!(is_loopback("http://[::1]"));
        assert!(is_loopback("http://localhost?x=1"));
        assert!(!is_loopback("https://localhost/cb"));
        assert!(!is_loopback("HTTP://localhost/cb"));
        assert!(!is_loopback("http://127.0.0.2/cb"));
        assert!(!is_loopback("http://localhost.evil.com/cb"));
        assert!(!is_loopback("http://user@localhost/cb"));
        assert!(!is_loopback("http://localhost/cb#frag"));
        assert!(!is_loopback("http://localhost:/cb"));
        assert!(!is_loopback("http://[::1/cb"));
        assert!(!is_loopback("com.example.app:/cb"));

        assert!(is_private_use("com.example.app:/oauth2redirect"));
        assert!(is_private_use("myapp://cb"));
        assert!(is_private_use("x-y+z.1:cb"));
        assert!(!is_private_use("http://localhost/cb"));
        assert!(!is_private_use("https://a.example/cb"));
        assert!(!is_private_use("HTTPS://a.example/cb"));
        assert!(!is_private_use("Http://a.example/cb"));
        assert!(!is_private_use("no-scheme"));
        assert!(!is_private_use(":/cb"));
        assert!(!is_private_use("1app:/cb"));
        assert!(!is_private_use("my app:/cb"));
        assert!(!is_private_use(""));
    }

    #[test]
    fn loopback_on_one_host() {
        assert!(is_loopback_on("http://127.0.0.1:33418/", "127.0.0.1"));
        assert!(is_loopback_on("http://127.0.0.1/", "127.0.0.1"));
        assert!(is_loopback_on("http://localhost:6274/oauth/callback", "localhost"));
        assert!(!is_loopback_on("http://localhost:6274/oauth/callback", "127.0.0.1"));
        assert!(!is_loopback_on("http://127.0.0.1.evil.example/", "127.0.0.1"));
        assert!(!is_loopback_on("https://127.0.0.1/", "127.0.0.1"));
        assert!(!is_loopback_on("http://127.0.0.1:/", "127.0.0.1"));
    }

    #[test]
    fn appends_to_an_existing_query() {
        assert_eq!(append_query("https://a.example/cb", &[("code", "x y")]), "https://a.example/cb?code=x+y");
        assert_eq!(append_query("https://a.example/cb?t=1", &[("code", "c")]), "https://a.example/cb?t=1&code=c");
    }

    #[test]
    fn hosts_as_shown_and_as_compared() {
        assert_eq!(display_host("https://chatgpt.com/connector/oauth/x"), "chatgpt.com");
        assert_eq!(display_host("http://127.0.0.1:33418/"), "127.0.0.1:33418");
        assert_eq!(display_host("cursor://anysphere.cursor-mcp/oauth/callback"), "cursor://anysphere.cursor-mcp");
        assert_eq!(normalised_host("https://CHATGPT.COM./cb").as_deref(), Some("chatgpt.com"));
        assert_eq!(normalised_host("com.example.app:/cb"), None);
    }

    #[test]
    fn a_private_use_redirect_is_an_app_named_by_scheme_and_authority() {
        let app = |scheme: &str, shown: &str| Destination::App { scheme: scheme.into(), shown: shown.into() };
        assert_eq!(destination("myapp://claude.ai/api/mcp/auth_callback"), app("myapp", "myapp://claude.ai"));
        assert_eq!(destination("myapp://host.example:7000/cb"), app("myapp", "myapp://host.example:7000"));
        assert_eq!(destination("com.example.app:/oauth2redirect"), app("com.example.app", "com.example.app:"));
        assert_eq!(destination("com.example.app:///cb"), app("com.example.app", "com.example.app:"));
        assert_eq!(destination("MyApp://claude.ai/cb"), app("myapp", "myapp://claude.ai"));
        assert_eq!(destination("https://claude.ai/api/mcp/auth_callback"), Destination::Web("claude.ai".into()));
        assert_eq!(destination("http://localhost:3000/cb"), Destination::Web("localhost:3000".into()));
    }
}
