//! RFC 7591 client metadata as Gatehouse stores and echoes it: the one shape shared by
//! registration, client metadata documents, the authorization flow and the operator views.

use serde::{Deserialize, Serialize};

/// Metadata as it will be stored and echoed. Serialize skips `None` fields (never emits null).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    /// Always `"none"`: public clients only.
    pub token_endpoint_auth_method: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub logo_uri: Option<String>,
    /// Space-separated, only supported scopes, `None` when nothing supported was asked for.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub software_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub software_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub contacts: Option<Vec<String>>,
    /// `"web"` or `"native"`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub application_type: Option<String>,
    /// OpenID Connect Registration: `"RS256"` (the default when absent) or `"ES256"`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id_token_signed_response_alg: Option<String>,
}
