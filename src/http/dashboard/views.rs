//! The dashboard's HTML (SPEC §12): every value escaped by `pages::escape`, every link's query
//! value percent-encoded by `encode`, every form a POST with the session's CSRF token.

use actix_web::HttpResponse;

use super::chart::chart_svg;
use super::{Admin, ClientAction};
use crate::config::Settings;
use crate::http::pages::{dashboard_page, escape};
use crate::operator::{
    AuditEntry, AuditRequest, ClientDetail, ClientListRequest, ClientSummary, Overview, Page, UserSummary,
};
use crate::paths;
use crate::store::keys::KeyRow;

/// A query value, percent-encoded.
pub(super) fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn href(settings: &Settings, path: &str, query: &[(&str, &str)]) -> String {
    let mut url = format!("{}{path}", settings.issuer_path());
    let pairs: Vec<String> =
        query.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", encode(v))).collect();
    if !pairs.is_empty() {
        url.push('?');
        url.push_str(&pairs.join("&"));
    }
    escape(&url)
}

fn csrf(admin: &Admin) -> String {
    format!("<input type=\"hidden\" name=\"csrf_token\" value=\"{}\">", escape(&admin.csrf_token))
}

/// The page: the navigation, who is signed in (and signing out), then the body.
fn page(settings: &Settings, admin: &Admin, status: u16, title: &str, body: &str) -> HttpResponse {
    let links = [
        (paths::ADMIN, "Overview"),
        (paths::ADMIN_CLIENTS, "Clients"),
        (paths::ADMIN_AUDIT, "Audit log"),
        (paths::ADMIN_USERS, "Users"),
        (paths::ADMIN_KEYS, "Keys"),
        (paths::ADMIN_CONFIG, "Configuration"),
    ];
    let nav: String =
        links.iter().map(|(path, name)| format!("<a href=\"{}\">{name}</a>", href(settings, path, &[]))).collect();
    let who = admin.email.as_deref().unwrap_or(&admin.user_id);
    let html = format!(
        "<nav class=\"dashboard\" aria-label=\"Dashboard\">{nav}</nav>\n\
         <form method=\"post\" action=\"{logout}\" class=\"who\">{csrf}<span class=\"muted\">Signed in as {who}</span> \
         <button type=\"submit\" class=\"link-button\">Sign out</button></form>\n<h1>{title}</h1>\n{body}",
        logout = href(settings, paths::LOGOUT, &[]),
        csrf = csrf(admin),
        who = escape(who),
        title = escape(title),
    );
    dashboard_page(settings, status, title, &html)
}

/// A refusal or a missing thing, inside the dashboard.
pub(super) fn problem(settings: &Settings, admin: &Admin, status: u16, title: &str, message: &str) -> HttpResponse {
    page(settings, admin, status, title, &format!("<p class=\"error\" role=\"alert\">{}</p>", escape(message)))
}

fn notice(message: &str) -> String {
    format!("<p class=\"notice\" role=\"status\">{}</p>\n", escape(message))
}

fn table(headers: &[&str], rows: &[String]) -> String {
    if rows.is_empty() {
        return "<p class=\"muted\">Nothing to show.</p>\n".into();
    }
    let head: String = headers.iter().map(|h| format!("<th scope=\"col\">{h}</th>")).collect();
    // Focusable, so a keyboard can scroll it sideways on a phone.
    format!(
        "<div class=\"table\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table><thead><tr>{head}</tr></thead><tbody>\n{}</tbody></table></div>\n",
        rows.concat()
    )
}

pub(super) fn overview(settings: &Settings, admin: &Admin, overview: &Overview) -> HttpResponse {
    let rows: Vec<String> = overview
        .clients
        .iter()
        .map(|(source, status, count)| {
            format!(
                "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{count}</td></tr>\n",
                href(settings, paths::ADMIN_CLIENTS, &[("source", source), ("status", status)]),
                escape(source),
                escape(status)
            )
        })
        .collect();
    let body = format!(
        "<h2>Registrations and refusals, last {days} days</h2>\n<figure>{chart}\n<figcaption class=\"legend\">\
         <span class=\"key registered\"></span>registrations <span class=\"key refused\"></span>refusals</figcaption></figure>\n\
         <h2>Clients</h2>\n{clients}<ul class=\"facts\"><li>Live grants: <strong>{grants}</strong></li>\
         <li>Client metadata documents failing: <strong>{failing}</strong></li></ul>\n",
        days = overview.days.len(),
        chart = chart_svg(&overview.days),
        clients = table(&["Source", "Status", "Clients"], &rows),
        grants = overview.live_grants,
        failing = overview.failing_documents,
    );
    page(settings, admin, 200, "Overview", &body)
}

fn select(name: &str, label: &str, options: &[&str], chosen: Option<&str>) -> String {
    let options: String = std::iter::once("")
        .chain(options.iter().copied())
        .map(|o| {
            let selected = if Some(o) == chosen || (o.is_empty() && chosen.is_none()) { " selected" } else { "" };
            format!("<option value=\"{o}\"{selected}>{}</option>", if o.is_empty() { "any" } else { o })
        })
        .collect();
    format!("<label for=\"{name}\">{label}</label><select id=\"{name}\" name=\"{name}\">{options}</select>")
}

fn client_row(settings: &Settings, client: &ClientSummary) -> String {
    format!(
        "<tr><td><a href=\"{}\">{}</a><br><code class=\"muted\">{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        href(settings, paths::ADMIN_CLIENT, &[("id", &client.client_id)]),
        escape(&client.client_name),
        escape(&client.client_id),
        client.source,
        client.status,
        escape(&client.created_at),
        escape(client.last_seen_at.as_deref().unwrap_or("never")),
    )
}

pub(super) fn clients(
    settings: &Settings,
    admin: &Admin,
    shown: &ClientListRequest,
    page_of: &Page<ClientSummary>,
) -> HttpResponse {
    let search = shown.search.as_deref().unwrap_or("");
    let form = format!(
        "<form method=\"get\" action=\"{action}\" class=\"filters\">\
         <label for=\"q\">Name or id</label><input type=\"search\" id=\"q\" name=\"q\" value=\"{search}\">\
         {source}{status}<label class=\"check\"><input type=\"checkbox\" name=\"stale\" value=\"1\"{stale}> stale only</label>\
         <button type=\"submit\">Filter</button></form>\n",
        action = href(settings, paths::ADMIN_CLIENTS, &[]),
        search = escape(search),
        source = select("source", "Source", &["dcr", "manual", "cimd"], shown.source.as_deref()),
        status = select("status", "Status", &["active", "disabled"], shown.status.as_deref()),
        stale = if shown.stale { " checked" } else { "" },
    );
    let rows: Vec<String> = page_of.items.iter().map(|c| client_row(settings, c)).collect();
    let mut body = form;
    body.push_str(&table(&["Client", "Source", "Status", "Registered", "Last seen"], &rows));
    if let Some(cursor) = &page_of.next_cursor {
        body.push_str(&format!(
            "<p><a href=\"{}\">Next page</a></p>\n",
            href(
                settings,
                paths::ADMIN_CLIENTS,
                &[
                    ("q", search),
                    ("source", shown.source.as_deref().unwrap_or("")),
                    ("status", shown.status.as_deref().unwrap_or("")),
                    ("stale", if shown.stale { "1" } else { "" }),
                    ("cursor", cursor),
                ]
            )
        ));
    }
    page(settings, admin, 200, "Clients", &body)
}

fn audit_rows(settings: &Settings, entries: &[AuditEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            let client = match &e.client_id {
                Some(id) => format!(
                    "<a href=\"{}\"><code>{}</code></a>",
                    href(settings, paths::ADMIN_CLIENT, &[("id", id)]),
                    escape(id)
                ),
                None => String::new(),
            };
            format!(
                "<tr><td>{}</td><td>{}</td><td class=\"actor\">{}</td><td>{client}</td><td>{}</td><td><code>{}</code></td></tr>\n",
                escape(&e.at),
                escape(&e.event),
                escape(&e.actor),
                escape(e.address.as_deref().unwrap_or("")),
                escape(&e.detail.to_string()),
            )
        })
        .collect()
}

const AUDIT_HEADERS: &[&str] = &["When", "Event", "Actor", "Client", "Address", "Detail"];

pub(super) fn client(settings: &Settings, admin: &Admin, detail: &ClientDetail, done: Option<&str>) -> HttpResponse {
    let c = &detail.summary;
    let done = match done {
        Some("disable") => notice("The client is disabled."),
        Some("enable") => notice("The client is enabled."),
        Some("revoke") => notice("The client's sessions are revoked."),
        _ => String::new(),
    };
    let uris: String = c.redirect_uris.iter().map(|u| format!("<li><code>{}</code></li>", escape(u))).collect();
    let facts = [
        ("Client id", format!("<code>{}</code>", escape(&c.client_id))),
        ("Source", c.source.to_string()),
        (
            "Status",
            escape(&format!(
                "{}{}",
                c.status,
                c.disabled_reason.as_deref().map(|r| format!(" — {r}")).unwrap_or_default()
            )),
        ),
        ("Registered", escape(&c.created_at)),
        ("Last seen", escape(c.last_seen_at.as_deref().unwrap_or("never"))),
        ("Registrant address", escape(c.registrant_address.as_deref().unwrap_or("—"))),
        ("Registrant agent", escape(detail.registrant_user_agent.as_deref().unwrap_or("—"))),
        ("Live grants", detail.active_sessions.to_string()),
    ];
    let facts: String = facts.iter().map(|(k, v)| format!("<dt>{k}</dt><dd>{v}</dd>")).collect();
    let actions: String = [ClientAction::Disable, ClientAction::Enable, ClientAction::Revoke, ClientAction::Delete]
        .iter()
        .map(|a| {
            format!(
                "<a class=\"button\" href=\"{}\">{}</a>",
                href(settings, &paths::ADMIN_CLIENT_ACTION.replace("{action}", a.segment()), &[("id", &c.client_id)]),
                action_name(*a)
            )
        })
        .collect();
    let metadata = serde_json::to_string_pretty(&detail.metadata).unwrap_or_default();
    let body = format!(
        "{done}<p class=\"lead\">{name}</p>\n<dl class=\"facts\">{facts}</dl>\n<h2>Redirect URIs</h2>\n<ul>{uris}</ul>\n\
         <h2>Actions</h2>\n<div class=\"actions\">{actions}</div>\n<h2>Metadata</h2>\n<pre tabindex=\"0\">{metadata}</pre>\n\
         <h2>Audit trail</h2>\n{audit}",
        name = escape(&c.client_name),
        metadata = escape(&metadata),
        audit = table(AUDIT_HEADERS, &audit_rows(settings, &detail.recent_audit)),
    );
    page(settings, admin, 200, &format!("Client {}", c.client_name), &body)
}

fn action_name(action: ClientAction) -> &'static str {
    match action {
        ClientAction::Disable => "Disable",
        ClientAction::Enable => "Enable",
        ClientAction::Revoke => "Revoke sessions",
        ClientAction::Delete => "Delete",
    }
}

pub(super) fn confirm_client_action(
    settings: &Settings,
    admin: &Admin,
    detail: &ClientDetail,
    action: ClientAction,
) -> HttpResponse {
    let c = &detail.summary;
    let what = match action {
        ClientAction::Disable => "No new sign-ins, codes or tokens for this client, and its live grants are revoked.",
        ClientAction::Enable => "The client can sign people in again; grants revoked while disabled stay revoked.",
        ClientAction::Revoke => "Every live grant of this client is revoked: its users sign in again.",
        ClientAction::Delete => {
            "The client and everything that hangs off it are deleted for good; its audit trail stays."
        }
    };
    let reason = if action == ClientAction::Disable {
        "<label for=\"reason\">Reason (kept with the client and in the audit log)</label>\
         <input type=\"text\" id=\"reason\" name=\"reason\" maxlength=\"500\">"
    } else {
        ""
    };
    let body = format!(
        "<p><strong>{name}</strong> <code class=\"muted\">{id}</code></p>\n<p>{what}</p>\n\
         <form method=\"post\" action=\"{action_url}\">{csrf}<input type=\"hidden\" name=\"client_id\" value=\"{id}\">{reason}\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">{verb}</button>\
         <a class=\"button\" href=\"{back}\">Cancel</a></div></form>\n",
        name = escape(&c.client_name),
        id = escape(&c.client_id),
        action_url = href(settings, &paths::ADMIN_CLIENT_ACTION.replace("{action}", action.segment()), &[]),
        csrf = csrf(admin),
        verb = action_name(action),
        back = href(settings, paths::ADMIN_CLIENT, &[("id", &c.client_id)]),
    );
    page(settings, admin, 200, &format!("{} {}?", action_name(action), c.client_name), &body)
}

pub(super) fn audit(
    settings: &Settings,
    admin: &Admin,
    shown: &AuditRequest,
    page_of: &Page<AuditEntry>,
) -> HttpResponse {
    let text = |name: &str, label: &str, value: &Option<String>, hint: &str| {
        format!(
            "<label for=\"{name}\">{label}</label><input type=\"text\" id=\"{name}\" name=\"{name}\" value=\"{}\" placeholder=\"{hint}\">",
            escape(value.as_deref().unwrap_or(""))
        )
    };
    let form = format!(
        "<form method=\"get\" action=\"{}\" class=\"filters\">{}{}{}<button type=\"submit\">Filter</button></form>\n",
        href(settings, paths::ADMIN_AUDIT, &[]),
        text("event", "Event", &shown.event, "client.disabled"),
        text("client_id", "Client id", &shown.client_id, ""),
        text("since", "Since", &shown.since, "24h or 2026-12-01T00:00:00Z"),
    );
    let mut body = form;
    body.push_str(&table(AUDIT_HEADERS, &audit_rows(settings, &page_of.items)));
    if let Some(cursor) = &page_of.next_cursor {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let (event, client_id, since) = (opt(&shown.event), opt(&shown.client_id), opt(&shown.since));
        body.push_str(&format!(
            "<p><a href=\"{}\">Older entries</a></p>\n",
            href(
                settings,
                paths::ADMIN_AUDIT,
                &[("event", &event), ("client_id", &client_id), ("since", &since), ("cursor", cursor)]
            )
        ));
    }
    page(settings, admin, 200, "Audit log", &body)
}

fn user_form(settings: &Settings, admin: &Admin, user_id: &str, action: &str, extra: &str, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\" class=\"inline\">{}<input type=\"hidden\" name=\"user_id\" value=\"{}\">{extra}\
         <button type=\"submit\">{label}</button></form>",
        href(settings, &paths::ADMIN_USER_ACTION.replace("{action}", action), &[]),
        csrf(admin),
        escape(user_id),
    )
}

pub(super) fn users(
    settings: &Settings,
    admin: &Admin,
    source: Option<&str>,
    page_of: &Page<UserSummary>,
    done: Option<&str>,
) -> HttpResponse {
    let done = match done {
        Some("disabled") => notice("The user is disabled."),
        Some("enabled") => notice("The user is enabled."),
        Some("role") => notice("The role is changed."),
        _ => String::new(),
    };
    let rows: Vec<String> = page_of
        .items
        .iter()
        .map(|u| {
            let toggle = if u.status == "active" {
                user_form(settings, admin, &u.user_id, "disable", "", "Disable")
            } else {
                user_form(settings, admin, &u.user_id, "enable", "", "Enable")
            };
            let (role, role_label) = if u.role == "admin" { ("user", "Make user") } else { ("admin", "Make admin") };
            let role_form = user_form(
                settings,
                admin,
                &u.user_id,
                "role",
                &format!("<input type=\"hidden\" name=\"role\" value=\"{role}\">"),
                role_label,
            );
            format!(
                "<tr><td>{}<br><code class=\"muted\">{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{toggle} {role_form}</td></tr>\n",
                escape(u.email.as_deref().unwrap_or("(no email)")),
                escape(&u.user_id),
                escape(&u.source),
                escape(&u.identities.join(", ")),
                escape(&u.status),
                escape(&u.role),
            )
        })
        .collect();
    let mut body = format!(
        "{done}<form method=\"get\" action=\"{}\" class=\"filters\">{}<button type=\"submit\">Filter</button></form>\n",
        href(settings, paths::ADMIN_USERS, &[]),
        select("source", "Source", &["local", "provider", "app"], source),
    );
    body.push_str(&table(&["User", "Source", "Identities", "Status", "Role", "Actions"], &rows));
    if let Some(cursor) = &page_of.next_cursor {
        body.push_str(&format!(
            "<p><a href=\"{}\">Next page</a></p>\n",
            href(settings, paths::ADMIN_USERS, &[("source", source.unwrap_or("")), ("cursor", cursor)])
        ));
    }
    page(settings, admin, 200, "Users", &body)
}

pub(super) fn keys(settings: &Settings, admin: &Admin, rows: &[KeyRow], rotated: bool) -> HttpResponse {
    let time = |at: i64| crate::clock::rfc3339(at);
    let rows: Vec<String> = rows
        .iter()
        .map(|k| {
            format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                escape(&k.kid),
                escape(&k.algorithm),
                escape(&k.status),
                escape(&time(k.created_at)),
                escape(&time(k.activates_at)),
                escape(&k.retire_at.map(time).unwrap_or_default()),
            )
        })
        .collect();
    let body = format!(
        "{done}{table}<form method=\"post\" action=\"{action}\">{csrf}<p class=\"muted\">Rotating publishes a new key of each \
         algorithm now; it signs once every replica and cache has seen it.</p><button type=\"submit\" class=\"primary\">Rotate keys</button></form>\n",
        done = if rotated { notice("New keys are published.") } else { String::new() },
        table = table(&["Key id", "Algorithm", "Status", "Created", "Signs from", "Retires"], &rows),
        action = href(settings, paths::ADMIN_KEYS_ROTATE, &[]),
        csrf = csrf(admin),
    );
    page(settings, admin, 200, "Signing keys", &body)
}

pub(super) fn config(settings: &Settings, admin: &Admin) -> HttpResponse {
    let list = |lines: Vec<String>| -> String { lines.iter().map(|l| format!("<li>{}</li>", escape(l))).collect() };
    let effective = toml::to_string_pretty(&settings.masked()).unwrap_or_else(|e| format!("(not shown: {e})"));
    let body = format!(
        "<h2>Registration rules</h2>\n<ul>{}</ul>\n<h2>Sign-in sources</h2>\n<ul>{}</ul>\n\
         <h2>Effective settings</h2>\n<p class=\"muted\">Defaults, then the file, then <code>GATEHOUSE__*</code> variables; secrets masked.</p>\n<pre tabindex=\"0\">{}</pre>\n",
        list(crate::operator::describe(settings)),
        list(crate::operator::describe_sign_in(settings)),
        escape(&effective),
    );
    page(settings, admin, 200, "Configuration", &body)
}
