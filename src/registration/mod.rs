//! Dynamic Client Registration: the rules (pure), the fingerprint (pure) and the service that
//! stores registrations and answers RFC 7592 requests.

pub mod fingerprint;
pub mod policy;
pub mod profiles;
pub mod rules;
pub mod service;
pub mod webhook;
