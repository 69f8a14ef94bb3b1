//! RFC 8414 authorization server metadata: the document, from plain values (the HTTP layer
//! passes the live settings' issuer, scopes and switches).

use serde::Serialize;

use crate::paths;

#[derive(Debug, Serialize)]
pub struct ServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub revocation_endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    pub scopes_supported: Vec<String>,
    pub response_types_supported: [&'static str; 1],
    pub response_modes_supported: [&'static str; 1],
    pub grant_types_supported: [&'static str; 2],
    pub token_endpoint_auth_methods_supported: [&'static str; 1],
    pub revocation_endpoint_auth_methods_supported: [&'static str; 1],
    pub code_challenge_methods_supported: [&'static str; 1],
    pub authorization_response_iss_parameter_supported: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id_metadata_document_supported: Option<bool>,
}

/// What the document depends on.
pub struct MetadataInputs<'a> {
    pub issuer: &'a str,
    pub scopes_supported: Vec<String>,
    /// `registration_endpoint` is published only while DCR is on.
    pub registration_enabled: bool,
    pub cimd_enabled: bool,
}

pub fn server_metadata(inputs: MetadataInputs) -> ServerMetadata {
    let issuer = inputs.issuer;
    ServerMetadata {
        issuer: issuer.to_string(),
        authorization_endpoint: paths::endpoint(issuer, paths::AUTHORIZE),
        token_endpoint: paths::endpoint(issuer, paths::TOKEN),
        jwks_uri: paths::endpoint(issuer, paths::JWKS),
        revocation_endpoint: paths::endpoint(issuer, paths::REVOKE),
        registration_endpoint: inputs.registration_enabled.then(|| paths::endpoint(issuer, paths::REGISTER)),
        scopes_supported: inputs.scopes_supported,
        response_types_supported: ["code"],
        response_modes_supported: ["query"],
        grant_types_supported: ["authorization_code", "refresh_token"],
        token_endpoint_auth_methods_supported: ["none"],
        revocation_endpoint_auth_methods_supported: ["none"],
        code_challenge_methods_supported: ["S256"],
        authorization_response_iss_parameter_supported: true,
        client_id_metadata_document_supported: inputs.cimd_enabled.then_some(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_issuer_plus_path() {
        let inputs = |registration_enabled| MetadataInputs {
            issuer: "https://h.example/auth",
            scopes_supported: vec![],
            registration_enabled,
            cimd_enabled: true,
        };
        let doc = server_metadata(inputs(false));
        assert_eq!(doc.issuer, "https://h.example/auth");
        assert_eq!(doc.token_endpoint, "https://h.example/auth/token");
        assert_eq!(doc.jwks_uri, "https://h.example/auth/.well-known/jwks.json");
        assert!(doc.registration_endpoint.is_none());
        assert_eq!(
            server_metadata(inputs(true)).registration_endpoint.as_deref(),
            Some("https://h.example/auth/register")
        );
    }
}
