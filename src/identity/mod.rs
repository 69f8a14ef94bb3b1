//! Who signs in (SPEC §9): the sign-in sources beside the password form — the app's own
//! sign-in (`app`) — and the users they create.

pub mod app;
