//! Every query the server issues lives below here; callers run these inside `Db::run`.

pub mod audit;
pub mod clients;
pub mod rate_limits;
pub mod registration_tokens;
