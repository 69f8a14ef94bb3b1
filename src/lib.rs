//! Gatehouse: a standalone OAuth 2.1 authorization server for self-registering clients.
//! The binary (`main.rs`) is a thin shell over this library, which tests build in-process.

pub mod authorize;
pub mod branding;
pub mod cimd;
pub mod cleanup;
pub mod cli;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod db;
pub mod error;
pub mod http;
pub mod identity;
pub mod jobs;
pub mod keys;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod oauth;
pub mod operator;
pub mod origin;
pub mod password;
pub mod paths;
pub mod registration;
pub mod reload;
pub mod secrets;
pub mod state;
pub mod store;
pub mod text;
pub mod token;
