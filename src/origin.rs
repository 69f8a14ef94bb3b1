//! Who sent a request: the client's address (read behind trusted proxies by `http::request`),
//! the key its requests are counted under, and its user agent — for rate limits and the audit
//! trail (SPEC §4.3, §6).

/// The origin of one request, extracted once at the HTTP boundary.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub address: Option<String>,
    /// The address's rate-limit key (IPv4 as is, IPv6 by /64).
    pub rate_limit_key: String,
    /// The address's network (IPv4 /24, IPv6 /64), for sign-in throttling (SPEC §11).
    pub network_key: String,
    pub user_agent: Option<String>,
}
