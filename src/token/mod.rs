//! The token endpoint and revocation (SPEC §5): request parsing, the grants, revocation; and
//! what SPEC §10 adds: id_tokens, `/userinfo` and RFC 7662 introspection, which read
//! Gatehouse's own access tokens back and answer from the grant's live state. Tokens are signed
//! by `keys::jwt` with the keys of `keys`.

pub mod grants;
pub mod id_token;
pub mod introspect;
pub mod request;
pub mod revoke;
pub mod userinfo;
