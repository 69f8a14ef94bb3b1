//! Every query the server issues lives below here; callers run these inside `Db::run`.
//!
//! Row structs insert `None` as a bound NULL (`treat_none_as_default_value = false`), not as
//! `DEFAULT`: the SQL of each insert is then fixed, so diesel prepares it once per connection
//! instead of parsing and planning it on every insert.

pub mod app_logins;
pub mod audit;
pub mod auth_requests;
pub mod clients;
pub mod codes;
pub mod devices;
pub mod identities;
pub mod keys;
pub mod purge;
pub mod rate_limits;
pub mod refresh;
pub mod registration_tokens;
pub mod sessions;
pub mod users;
