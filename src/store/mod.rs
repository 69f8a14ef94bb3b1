//! Every query the server issues lives below here; callers run these inside `Db::run`.

pub mod audit;
pub mod auth_requests;
pub mod clients;
pub mod codes;
pub mod keys;
pub mod purge;
pub mod rate_limits;
pub mod refresh;
pub mod registration_tokens;
pub mod sessions;
pub mod users;
