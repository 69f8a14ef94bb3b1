//! Who signs in (SPEC §9): the sign-in sources a pending request can use — the password form,
//! each upstream provider, the app beside Gatehouse — the users they create, and how a sign-in
//! through any of them ends.
//!
//! `app` is the app's own sign-in (§9.2). `sources` lists them for the login page and `auto_redirect`; `upstream` makes the calls to
//! providers (HTTP client, discovery, JWKS caches); `oidc` and `github` are the two kinds'
//! protocols (authorization URL, `iss`, the `id_token`; GitHub's endpoints and API answers);
//! `access` the access rules and `linking` the users/identities rules;
//! `sign_in` the one way a sign-in for a pending request is finished; `provider_sign_in` the
//! round trip itself and "Not you? Sign out".

pub mod access;
pub mod app;
pub mod github;
pub mod linking;
pub mod oidc;
pub mod provider_sign_in;
pub mod sign_in;
pub mod upstream;

use crate::config::{LoginSettings, ProviderSettings};

/// A way to sign in that the login page offers.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// The app beside Gatehouse (§9.2): its "Continue with NAME" button.
    App,
    /// An upstream provider: a "Continue with NAME" button.
    Provider(&'a ProviderSettings),
    /// The local email + password form.
    Password,
}

/// The sign-in sources in the order the login page shows them: the app, the providers, then the
/// password form when it is on.
pub fn sources(login: &LoginSettings) -> Vec<Source<'_>> {
    let mut sources: Vec<Source> = Vec::new();
    if login.app.enabled() {
        sources.push(Source::App);
    }
    sources.extend(login.providers.iter().map(Source::Provider));
    if login.password_enabled {
        sources.push(Source::Password);
    }
    sources
}

/// The source `/authorize` goes straight to: `auto_redirect` on and it is the only source (a
/// provider or the app; never the password form, which is the login page itself).
pub fn auto_redirect_target(login: &LoginSettings) -> Option<Source<'_>> {
    match sources(login).as_slice() {
        [source @ (Source::Provider(_) | Source::App)] if login.auto_redirect => Some(*source),
        _ => None,
    }
}

/// A configured provider, by id.
pub fn provider<'a>(login: &'a LoginSettings, id: &str) -> Option<&'a ProviderSettings> {
    login.providers.iter().find(|p| p.id == id)
}

/// The redirect URI registered at a provider: `{issuer}/login/{id}/callback`.
pub fn callback_url(issuer: &str, provider_id: &str) -> String {
    crate::paths::endpoint(issuer, &crate::paths::provider_callback(provider_id))
}
