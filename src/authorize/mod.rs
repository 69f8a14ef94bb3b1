//! The browser half of the authorization flow (SPEC §5): `/authorize` → `/login` → `/consent`
//! → redirect with a code. Handlers hand this module the query, form fields and cookies; it
//! answers with what to show or where to go. The request's protocol rules are `rules`.
//!
//! `request` takes the authorization request, `login` signs the person in (`handoff` sends
//! them to sign in at another source), `consent` records their decision, `pending` finds the
//! request a browser started, `session` the signed-in user.

pub mod admin_sign_in;
pub mod consent;
pub mod handoff;
pub mod login;
pub(crate) mod pending;
pub mod request;
pub mod rules;
pub mod session;
pub mod throttle;

use crate::oauth::redirect_uri::{self, Destination};
use crate::origin::Origin;
use crate::store::clients::Client;

/// What the browser sent besides the request itself.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    pub session_token: Option<String>,
    pub browser_token: Option<String>,
    /// The device cookie: this browser signed in before (SPEC §11).
    pub device_token: Option<String>,
    pub origin: Origin,
}

/// Who a pending request signs in for: a client, or the dashboard (purpose `admin`).
#[derive(Debug, Clone)]
pub enum Requester {
    Client(Box<Client>),
    Dashboard,
}

impl Requester {
    /// The name the sign-in page shows ("to continue to …").
    pub fn name(&self) -> String {
        match self {
            Requester::Client(client) => client.client_name().to_string(),
            Requester::Dashboard => "the operator dashboard".to_string(),
        }
    }

    /// A self-registered client, named by itself.
    pub fn unverified(&self) -> bool {
        matches!(self, Requester::Client(client) if !client.is_manual())
    }

    pub fn client_id(&self) -> Option<&str> {
        match self {
            Requester::Client(client) => Some(&client.client_id),
            Requester::Dashboard => None,
        }
    }
}

/// An error shown as a page, naming the client and where its redirect goes when they are known.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub status: u16,
    pub title: String,
    pub message: String,
    pub client_name: Option<String>,
    pub redirect: Option<Destination>,
    /// Seconds to wait, for a page that says "too many" (`Retry-After`).
    pub retry_after: Option<i64>,
}

impl ErrorPage {
    pub fn new(status: u16, title: &str, message: impl Into<String>) -> Self {
        ErrorPage {
            status,
            title: title.into(),
            message: message.into(),
            client_name: None,
            redirect: None,
            // A 503 is temporary by definition: come back in a second.
            retry_after: (status == 503).then_some(1),
        }
    }

    fn retry_after(mut self, seconds: i64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    fn about(mut self, client: &Client, redirect: Option<&str>) -> Self {
        self.client_name = Some(client.client_name().to_string());
        self.redirect = redirect.map(redirect_uri::destination);
        self
    }
}

pub fn expired_request() -> ErrorPage {
    ErrorPage::new(
        400,
        "Sign-in expired",
        "This sign-in request has expired or was already used. Go back to the application and start again.",
    )
}
