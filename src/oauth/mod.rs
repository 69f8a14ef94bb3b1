//! OAuth protocol pieces that know nothing of actix or diesel.

pub mod authorize;
pub mod error;
pub mod metadata;
pub mod token;
