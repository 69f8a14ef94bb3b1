//! The OAuth vocabulary shared by every use case, knowing nothing of actix or diesel: the
//! authorization request's rules, redirect URIs, PKCE, the form decoder, errors, metadata, and
//! OpenID Connect's scopes and claims.

pub mod client_metadata;
pub mod error;
pub mod metadata;
pub mod oidc;
pub mod pkce;
pub mod query;
pub mod redirect_uri;
