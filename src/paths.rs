//! Every route path, used by the router, the metadata document and the tests. All are appended
//! to the issuer (SPEC §3); the health checks, the icon and the path-insertion metadata URL are
//! also served at the root.

pub const METADATA: &str = "/.well-known/oauth-authorization-server";
pub const JWKS: &str = "/.well-known/jwks.json";
/// OpenID Connect Discovery (SPEC §10).
pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
pub const USERINFO: &str = "/userinfo";
/// RFC 7662 token introspection (SPEC §10).
pub const INTROSPECT: &str = "/introspect";
pub const REGISTER: &str = "/register";
/// RFC 7592 client configuration endpoint: `REGISTER` + `/` + client id.
pub const REGISTER_CLIENT: &str = "/register/{client_id}";
pub const AUTHORIZE: &str = "/authorize";
pub const TOKEN: &str = "/token";
pub const REVOKE: &str = "/revoke";
pub const LOGIN: &str = "/login";
pub const CONSENT: &str = "/consent";
pub const LOGOUT: &str = "/logout";
/// The "Continue with NAME" buttons post here (SPEC §9.1).
pub const LOGIN_PROVIDER: &str = "/login/provider";
/// A provider's callback, as routed; `provider_callback` gives one provider's.
pub const PROVIDER_CALLBACK: &str = "/login/{provider}/callback";
/// "Not you? Sign out" on the consent page.
pub const CONSENT_SIGN_OUT: &str = "/consent/sign-out";
/// The login page's "Continue with NAME" button for the app's own sign-in (SPEC §9.2).
pub const LOGIN_APP: &str = "/login/app";
/// The login API, for the app: `GET` the request, `POST …/accept`, `POST …/reject`.
pub const LOGIN_APP_REQUEST: &str = "/login/app/requests/{challenge}";
pub const LOGIN_APP_ACCEPT: &str = "/login/app/requests/{challenge}/accept";
pub const LOGIN_APP_REJECT: &str = "/login/app/requests/{challenge}/reject";
/// Where the app sends the browser back with `login_verifier`.
pub const LOGIN_APP_RETURN: &str = "/login/app/return";
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const METRICS: &str = "/metrics";
pub const ADMIN_API: &str = "/admin/api";
/// The operator dashboard (SPEC §12), on the public listener: its pages and its actions (POST).
pub const ADMIN: &str = "/admin";
pub const ADMIN_CLIENTS: &str = "/admin/clients";
/// One client's page (`?id=`: a CIMD client's id is a URL, so it travels in the query).
pub const ADMIN_CLIENT: &str = "/admin/client";
/// `disable`, `enable`, `revoke`, `delete`: GET the confirmation (`?id=`), POST the action.
pub const ADMIN_CLIENT_ACTION: &str = "/admin/client/{action}";
pub const ADMIN_AUDIT: &str = "/admin/audit";
pub const ADMIN_USERS: &str = "/admin/users";
/// `disable`, `enable`, `role` (POST, with `user_id`).
pub const ADMIN_USER_ACTION: &str = "/admin/users/{action}";
pub const ADMIN_KEYS: &str = "/admin/keys";
pub const ADMIN_KEYS_ROTATE: &str = "/admin/keys/rotate";
pub const ADMIN_CONFIG: &str = "/admin/config";
/// The icon browsers ask for by themselves; also served at the root (SPEC §11).
pub const FAVICON: &str = "/favicon.ico";
/// The pages' stylesheet, served by Gatehouse so the pages' CSP allows only its own styles.
pub const STYLESHEET: &str = "/assets/style.css";
/// The operator's logo (`branding.logo_file`, SPEC §12).
pub const LOGO: &str = "/assets/logo";

/// The RFC 8414 §3.1 path-insertion form for an issuer with a path: the well-known segment
/// goes between host and path (`https://h/auth` → `/.well-known/oauth-authorization-server/auth`).
pub fn metadata_path_insertion(issuer_path: &str) -> String {
    format!("{METADATA}{issuer_path}")
}

/// The path-insertion form of the OpenID Connect discovery URL (served at the root like RFC
/// 8414's): `/.well-known/openid-configuration/auth`.
pub fn openid_configuration_path_insertion(issuer_path: &str) -> String {
    format!("{OPENID_CONFIGURATION}{issuer_path}")
}

/// `issuer + path`, by string concatenation (a URL library would add a `/` or drop the
/// issuer's path).
pub fn endpoint(issuer: &str, path: &str) -> String {
    format!("{issuer}{path}")
}

/// One provider's callback path (`/login/{id}/callback`).
pub fn provider_callback(provider_id: &str) -> String {
    format!("/login/{provider_id}/callback")
}

/// The RFC 7592 `registration_client_uri` of a client.
pub fn registration_client_uri(issuer: &str, client_id: &str) -> String {
    format!("{issuer}{REGISTER}/{client_id}")
}
