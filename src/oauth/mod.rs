//! OAuth protocol pieces that know nothing of actix or diesel.

pub mod error;
pub mod metadata;
