//! Validating a Client ID Metadata Document (SPEC §8): the document names itself, has a name
//! and redirect URIs that pass the registration rules; `authorization_code` is required and
//! other grant types are dropped; the auth method is `none`, or `none` is among the supported
//! methods. Pure: the URL, the body and the rules in; the metadata to store, or why not, out.

use serde_json::{Map, Value};

use crate::oauth::client_metadata::ClientMetadata;
use crate::registration::rules::{self, RegistrationRules};
use crate::text::echo;

const SUPPORTED_GRANTS: &[&str] = &["authorization_code", "refresh_token"];

fn strings(value: Option<&Value>) -> Option<Vec<String>> {
    value?.as_array().map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
}

/// Validate the document fetched from `url`.
pub fn validate(url: &str, body: &[u8], rules: &RegistrationRules) -> Result<ClientMetadata, String> {
    let document: Map<String, Value> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err("the client metadata document is not a JSON object".into()),
        Err(_) => return Err("the client metadata document is not valid JSON".into()),
    };
    match document.get("client_id").and_then(Value::as_str) {
        Some(id) if id == url => {}
        Some(id) => {
            return Err(format!(
                "the document's client_id (\"{}\") must be exactly the URL it is served from (\"{}\")",
                echo(id),
                echo(url)
            ));
        }
        None => return Err(format!("the document has no client_id; it must be \"{}\"", echo(url))),
    }
    if document.get("client_name").and_then(Value::as_str).is_none_or(|n| n.trim().is_empty()) {
        return Err("the document has no client_name".into());
    }
    if document.get("redirect_uris").is_none_or(Value::is_null) {
        return Err("the document has no redirect_uris".into());
    }

    // Grant types: authorization_code is required; others (claude.ai lists jwt-bearer) are dropped.
    // Absent: both, as for a registration.
    let grants = strings(document.get("grant_types"))
        .unwrap_or_else(|| SUPPORTED_GRANTS.iter().map(|g| g.to_string()).collect());
    if !grants.iter().any(|g| g == "authorization_code") {
        return Err("the document's grant_types must include authorization_code".into());
    }
    let kept: Vec<String> = grants.into_iter().filter(|g| SUPPORTED_GRANTS.contains(&g.as_str())).collect();
    if let Some(response_types) = strings(document.get("response_types")) {
        if !response_types.iter().any(|r| r == "code") {
            return Err("the document's response_types must include code".into());
        }
    }
    // Auth method: `none`, or another one with `none` among the supported methods (ChatGPT).
    let method = document.get("token_endpoint_auth_method").and_then(Value::as_str).unwrap_or("none");
    let supported = strings(document.get("token_endpoint_auth_methods_supported")).unwrap_or_default();
    if method != "none" && !supported.iter().any(|m| m == "none") {
        return Err(format!(
            "the document asks for token_endpoint_auth_method \"{}\"; this server supports public clients only (\"none\")",
            echo(method)
        ));
    }

    // The rest is the registration rules, on a request rewritten to what will be stored.
    let mut request = document.clone();
    for secret in ["client_secret", "client_secret_expires_at", "client_id"] {
        request.remove(secret);
    }
    request.insert("grant_types".into(), Value::from(kept));
    request.insert("response_types".into(), Value::from(vec!["code"]));
    request.insert("token_endpoint_auth_method".into(), Value::from("none"));
    rules::validate(&request, rules).map_err(|e| e.description)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AuthMethodMismatch;

    const URL: &str = "https://client.example/oauth/client.json";

    fn rules() -> RegistrationRules {
        RegistrationRules {
            allow_https_redirect_uris: true,
            allow_loopback_redirect_uris: true,
            private_use_schemes: vec![],
            max_redirect_uris: 10,
            auth_method_mismatch: AuthMethodMismatch::Downgrade,
            supported_scopes: vec!["offline_access".into()],
        }
    }

    fn check(document: Value) -> Result<ClientMetadata, String> {
        validate(URL, document.to_string().as_bytes(), &rules())
    }

    #[test]
    fn chatgpt_shaped_document_is_public() {
        let m = check(serde_json::json!({
            "client_id": URL, "client_name": "ChatGPT", "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"],
            "token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_methods_supported": ["private_key_jwt", "none"],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]
        }))
        .unwrap();
        assert_eq!(m.token_endpoint_auth_method, "none");
    }

    #[test]
    fn claude_shaped_document_drops_jwt_bearer() {
        let m = check(serde_json::json!({
            "client_id": URL, "client_name": "Claude", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
            "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"]
        }))
        .unwrap();
        assert_eq!(m.grant_types, vec!["authorization_code", "refresh_token"]);
    }

    #[test]
    fn port_less_loopback_redirects_are_fine() {
        let m = check(serde_json::json!({"client_id": URL, "client_name": "Claude Code", "redirect_uris": ["http://localhost/callback", "http://127.0.0.1/callback"]}))
            .unwrap();
        assert_eq!(m.redirect_uris.len(), 2);
    }

    #[test]
    fn id_token_signed_response_alg_is_kept_or_refused() {
        let doc = |alg: Value| {
            check(serde_json::json!({
                "client_id": URL, "client_name": "RP", "redirect_uris": ["https://rp.example/cb"],
                "id_token_signed_response_alg": alg
            }))
        };
        assert_eq!(doc(Value::from("ES256")).unwrap().id_token_signed_response_alg.as_deref(), Some("ES256"));
        assert!(doc(Value::from("HS256")).unwrap_err().contains("id_token_signed_response_alg"));
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let cases = [
            (
                serde_json::json!({"client_id": format!("{URL}/"), "client_name": "x", "redirect_uris": ["https://a.example/cb"]}),
                "must be exactly",
            ),
            (
                serde_json::json!({"client_id": URL.replace("oauth", "OAuth"), "client_name": "x", "redirect_uris": ["https://a.example/cb"]}),
                "must be exactly",
            ),
            (serde_json::json!({"client_name": "x", "redirect_uris": ["https://a.example/cb"]}), "no client_id"),
            (serde_json::json!({"client_id": URL, "redirect_uris": ["https://a.example/cb"]}), "no client_name"),
            (serde_json::json!({"client_id": URL, "client_name": "x"}), "no redirect_uris"),
            (
                serde_json::json!({"client_id": URL, "client_name": "x", "redirect_uris": ["http://example.com/cb"]}),
                "http",
            ),
            (
                serde_json::json!({"client_id": URL, "client_name": "x", "redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"]}),
                "authorization_code",
            ),
            (
                serde_json::json!({"client_id": URL, "client_name": "x", "redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_basic"}),
                "public clients only",
            ),
            (
                serde_json::json!({"client_id": URL, "client_name": "x", "redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
                "response_types",
            ),
        ];
        for (document, part) in cases {
            let error = check(document.clone()).unwrap_err();
            assert!(error.contains(part), "{document}: {error}");
        }
        assert!(validate(URL, b"not json", &rules()).unwrap_err().contains("not valid JSON"));
        assert!(validate(URL, b"[]", &rules()).unwrap_err().contains("not a JSON object"));
    }
}
