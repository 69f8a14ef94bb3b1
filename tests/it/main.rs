//! One integration-test binary. Every test builds its own app and database; the backend is
//! chosen by GATEHOUSE_TEST_BACKEND (`sqlite`, the default, or `postgres`, which needs
//! GATEHOUSE_TEST_POSTGRES_URL). `scripts/test` runs the suite once on each.

mod common;

mod app_signin;
mod authorize;
mod branding;
mod cimd;
mod cimd_fetch;
mod cimd_stall;
mod cleanup;
mod cli;
mod config;
mod container;
mod dashboard;
mod db_faults;
mod end_to_end;
mod hardening;
mod health;
mod hostile_input;
mod keys_at_rest;
mod metadata;
mod migrations;
mod oidc;
mod oidc_rp;
mod operator;
mod policy;
mod rate_limit;
mod register;
mod registration_management;
mod reload;
mod signin;
mod token;
mod upstream;
mod upstream_forged;
mod upstream_github;
mod users;
