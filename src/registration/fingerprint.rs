//! The deduplication fingerprint (SPEC §4.2): SHA-256 of the canonical JSON of the metadata as
//! it would be stored — object keys sorted, arrays de-duplicated and sorted, scope values sorted.

use serde_json::Value;

use crate::oauth::client_metadata::ClientMetadata;
use crate::secrets::hex;

pub fn fingerprint(metadata: &ClientMetadata) -> String {
    let canonical = canonical_json(metadata);
    hex(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref())
}

/// serde_json's map is ordered by key (no `preserve_order`), so serialising a `Value` gives
/// sorted keys; arrays and the scope string are normalised here.
fn canonical_json(metadata: &ClientMetadata) -> String {
    let mut value = serde_json::to_value(metadata).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        for (key, field) in map.iter_mut() {
            match field {
                Value::Array(items) => {
                    let mut strings: Vec<String> =
                        items.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect();
                    strings.sort();
                    strings.dedup();
                    *items = strings.into_iter().map(Value::String).collect();
                }
                Value::String(s) if key == "scope" => {
                    let mut scopes: Vec<&str> = s.split(' ').filter(|v| !v.is_empty()).collect();
                    scopes.sort_unstable();
                    scopes.dedup();
                    *s = scopes.join(" ");
                }
                _ => {}
            }
        }
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(redirects: &[&str], grants: &[&str], scope: Option<&str>) -> ClientMetadata {
        ClientMetadata {
            client_name: "App".into(),
            redirect_uris: redirects.iter().map(|s| s.to_string()).collect(),
            grant_types: grants.iter().map(|s| s.to_string()).collect(),
            response_types: vec!["code".into()],
            token_endpoint_auth_method: "none".into(),
            client_uri: None,
            logo_uri: None,
            scope: scope.map(str::to_string),
            software_id: None,
            software_version: None,
            contacts: None,
            application_type: None,
            id_token_signed_response_alg: None,
        }
    }

    #[test]
    fn order_does_not_change_the_fingerprint() {
        let a = metadata(&["https://a/cb", "https://b/cb"], &["authorization_code", "refresh_token"], Some("x y"));
        let b = metadata(&["https://b/cb", "https://a/cb"], &["refresh_token", "authorization_code"], Some("y x"));
        assert_eq!(fingerprint(&a), fingerprint(&b));
    }

    #[test]
    fn different_metadata_gives_different_fingerprints() {
        let a = metadata(&["https://a/cb"], &["authorization_code"], None);
        let b = metadata(&["https://a/cb", "https://b/cb"], &["authorization_code"], None);
        let mut c = a.clone();
        c.client_name = "Other".into();
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
        assert_eq!(fingerprint(&a).len(), 64);
    }
}
