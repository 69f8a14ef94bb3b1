//! The token endpoint and revocation (SPEC §5): request parsing, the grants, revocation.
//! Access tokens are signed by `jwt` with the keys of `keys`.

pub mod grants;
pub mod request;
pub mod revoke;
