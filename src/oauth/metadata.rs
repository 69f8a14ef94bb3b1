//! RFC 8414 authorization server metadata and OpenID Connect Discovery (SPEC §3, §10): the
//! documents, from plain values (the HTTP layer passes the live settings' issuer, scopes and
//! switches).

use serde::Serialize;

use crate::oauth::oidc::{CLAIMS_SUPPORTED, ID_TOKEN_ALGORITHMS};
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
    /// While an `[[introspection.clients]]` exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint_auth_methods_supported: Option<[&'static str; 1]>,
}

/// OpenID Connect Discovery 1.0 §3: the RFC 8414 document plus what OpenID Connect adds.
#[derive(Debug, Serialize)]
pub struct OpenIdConfiguration {
    #[serde(flatten)]
    pub server: ServerMetadata,
    pub userinfo_endpoint: String,
    pub subject_types_supported: [&'static str; 1],
    pub id_token_signing_alg_values_supported: [&'static str; 2],
    pub claims_supported: Vec<&'static str>,
    pub request_uri_parameter_supported: bool,
    pub request_parameter_supported: bool,
}

/// What the document depends on.
pub struct MetadataInputs<'a> {
    pub issuer: &'a str,
    pub scopes_supported: Vec<String>,
    /// `registration_endpoint` is published only while DCR is on.
    pub registration_enabled: bool,
    pub cimd_enabled: bool,
    /// `introspection_endpoint` is published only while a resource server may use it.
    pub introspection_enabled: bool,
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
        introspection_endpoint: inputs.introspection_enabled.then(|| paths::endpoint(issuer, paths::INTROSPECT)),
        introspection_endpoint_auth_methods_supported: inputs.introspection_enabled.then_some(["client_secret_basic"]),
    }
}

pub fn openid_configuration(inputs: MetadataInputs) -> OpenIdConfiguration {
    let userinfo_endpoint = paths::endpoint(inputs.issuer, paths::USERINFO);
    OpenIdConfiguration {
        server: server_metadata(inputs),
        userinfo_endpoint,
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ID_TOKEN_ALGORITHMS,
        claims_supported: CLAIMS_SUPPORTED.to_vec(),
        request_uri_parameter_supported: false,
        request_parameter_supported: false,
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
            introspection_enabled: registration_enabled,
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
        assert!(doc.introspection_endpoint.is_none());
        assert_eq!(
            server_metadata(inputs(true)).introspection_endpoint.as_deref(),
            Some("https://h.example/auth/introspect")
        );
        let oidc = serde_json::to_value(openid_configuration(inputs(false))).unwrap();
        assert_eq!(oidc["issuer"], "https://h.example/auth");
        assert_eq!(oidc["userinfo_endpoint"], "https://h.example/auth/userinfo");
        assert_eq!(oidc["id_token_signing_alg_values_supported"], serde_json::json!(["RS256", "ES256"]));
        assert_eq!(oidc["subject_types_supported"], serde_json::json!(["public"]));
        assert_eq!(oidc["request_parameter_supported"], false);
    }
}
