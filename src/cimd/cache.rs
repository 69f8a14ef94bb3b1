//! How long a fetched document stays fresh (SPEC §8): `Cache-Control` (`max-age`, `no-store`,
//! `no-cache`) and `Expires`, clamped to `[cache_min_secs, cache_max_secs]`, else
//! `cache_default_secs`. `no-store` and `no-cache` get the lower bound: the origin asked not to be
//! cached, but every authorization must not become a fetch either.

use crate::config::CimdSettings;

/// Seconds the document is fresh for, from its response headers.
pub fn freshness_secs(cache_control: Option<&str>, expires: Option<&str>, now: i64, settings: &CimdSettings) -> i64 {
    let (min, max) = (settings.cache_min_secs as i64, settings.cache_max_secs as i64);
    let clamp = |secs: i64| secs.clamp(min, max.max(min));
    if let Some(cache_control) = cache_control {
        let directives: Vec<String> = cache_control.split(',').map(|d| d.trim().to_ascii_lowercase()).collect();
        if directives.iter().any(|d| d == "no-store" || d == "no-cache") {
            return min;
        }
        if let Some(max_age) =
            directives.iter().find_map(|d| d.strip_prefix("max-age=")?.trim_matches('"').parse::<i64>().ok())
        {
            return clamp(max_age);
        }
    }
    if let Some(expires) = expires {
        return match httpdate::parse_http_date(expires.trim()) {
            Ok(at) => {
                let at = at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
                clamp(at - now)
            }
            // An invalid Expires means "already expired" (RFC 9111 §5.3).
            Err(_) => min,
        };
    }
    clamp(settings.cache_default_secs as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> CimdSettings {
        CimdSettings { cache_default_secs: 3600, cache_min_secs: 60, cache_max_secs: 86_400, ..CimdSettings::default() }
    }

    #[test]
    fn cache_headers_decide_within_bounds() {
        let s = settings();
        let now = 1_795_651_200; // Thu, 26 Nov 2026 00:00:00 GMT
        assert_eq!(freshness_secs(None, None, now, &s), 3600);
        assert_eq!(freshness_secs(Some("public, max-age=600"), None, now, &s), 600);
        assert_eq!(freshness_secs(Some("max-age=5"), None, now, &s), 60, "clamped up");
        assert_eq!(freshness_secs(Some("max-age=9999999"), None, now, &s), 86_400, "clamped down");
        assert_eq!(freshness_secs(Some("no-store"), None, now, &s), 60);
        assert_eq!(freshness_secs(Some("No-Cache, max-age=600"), None, now, &s), 60);
        assert_eq!(freshness_secs(None, Some("Thu, 26 Nov 2026 02:00:00 GMT"), now, &s), 7200);
        assert_eq!(freshness_secs(None, Some("garbage"), now, &s), 60);
        assert_eq!(
            freshness_secs(Some("max-age=120"), Some("Thu, 26 Nov 2026 02:00:00 GMT"), now, &s),
            120,
            "max-age wins"
        );
    }
}
