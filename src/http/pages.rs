//! Server-rendered pages: plain HTML forms, no JavaScript, readable on a phone, never framed.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, HttpResponseBuilder};

use crate::authorize::consent::ConsentView;
use crate::authorize::login::LoginView;
use crate::authorize::ErrorPage;
use crate::oauth::redirect_uri::Destination;
use crate::paths;

/// The headers every page carries (SPEC §5).
pub fn page_response(status: u16) -> HttpResponseBuilder {
    let mut response = HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST));
    response
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    response
}

/// HTML-escape text for element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn layout(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#1b1b1b}}
h1{{font-size:1.35rem}} label{{display:block;margin:.8rem 0 .2rem}}
input{{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem}}
button{{padding:.6rem 1.2rem;font-size:1rem;margin:.8rem .5rem 0 0}}
.error{{background:#fde8e8;padding:.6rem;border-radius:.3rem}} .warn{{background:#fff4d6;padding:.6rem;border-radius:.3rem}}
.muted{{color:#555;font-size:.9rem}} code{{word-break:break-all}}
</style></head><body>
{body}
</body></html>"#,
        title = escape(title)
    )
}

pub fn error_page(page: &ErrorPage) -> HttpResponse {
    let mut body = format!("<h1>{}</h1>\n<p>{}</p>\n", escape(&page.title), escape(&page.message));
    if let Some(name) = &page.client_name {
        body.push_str(&format!("<p class=\"muted\">Application: {}</p>\n", escape(name)));
    }
    match &page.redirect {
        Some(Destination::Web(host)) => {
            body.push_str(&format!("<p class=\"muted\">Redirect host: <code>{}</code></p>\n", escape(host)))
        }
        Some(app @ Destination::App { .. }) => {
            body.push_str(&format!("<p class=\"muted\">Redirect: {}</p>\n", destination_html(app)))
        }
        None => {}
    }
    let mut response = page_response(page.status);
    if let Some(seconds) = page.retry_after {
        response.insert_header((header::RETRY_AFTER, seconds.to_string()));
    }
    response.body(layout(&page.title, &body))
}

fn unverified_badge(unverified: bool) -> &'static str {
    if unverified {
        " <span class=\"muted\">(unverified)</span>"
    } else {
        ""
    }
}

pub fn login_page(issuer_path: &str, view: &LoginView) -> HttpResponse {
    let error = view
        .error
        .as_deref()
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>\n", escape(e)))
        .unwrap_or_default();
    let app_button = view
        .app_name
        .as_deref()
        .map(|name| {
            format!(
                r#"<form method="post" action="{action}">
<input type="hidden" name="request_id" value="{request_id}">
<input type="hidden" name="csrf_token" value="{csrf}">
<button type="submit">Continue with {name}</button>
</form>
"#,
                action = escape(&format!("{issuer_path}{}", paths::LOGIN_APP)),
                request_id = escape(&view.request_id),
                csrf = escape(&view.csrf_token),
                name = escape(name),
            )
        })
        .unwrap_or_default();
    let body = format!(
        r#"<h1>Sign in</h1>
<p>to continue to <strong>{client}</strong>{badge}</p>
{error}{app_button}<form method="post" action="{action}">
<input type="hidden" name="request_id" value="{request_id}">
<input type="hidden" name="csrf_token" value="{csrf}">
<label for="email">Email</label>
<input type="email" id="email" name="email" value="{email}" autocomplete="username" required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>"#,
        client = escape(&view.client_name),
        badge = unverified_badge(view.unverified),
        action = escape(&format!("{issuer_path}{}", paths::LOGIN)),
        request_id = escape(&view.request_id),
        csrf = escape(&view.csrf_token),
        email = escape(&view.email),
    );
    page_response(view.status).body(layout("Sign in", &body))
}

/// Where a redirect goes, in words (SPEC §11): a web host by name; a private-use redirect as
/// the app that handles its scheme, with the full `scheme://authority` — never the bare
/// authority, which would read like a web site.
fn destination_html(destination: &Destination) -> String {
    match destination {
        Destination::Web(host) => format!("<strong><code>{}</code></strong>", escape(host)),
        Destination::App { scheme, shown } => format!(
            "an app on this device that handles <code>{}:</code> links, at <strong><code>{}</code></strong>",
            escape(scheme),
            escape(shown)
        ),
    }
}

pub fn consent_page(issuer_path: &str, view: &ConsentView) -> HttpResponse {
    let mut details = String::new();
    let goes_to = match &view.destination {
        Destination::Web(_) => "you will be sent to",
        Destination::App { .. } => "the answer goes to",
    };
    details.push_str(&format!("<p>After you decide, {goes_to} {}.</p>\n", destination_html(&view.destination)));
    if view.loopback_only {
        details.push_str(
            "<p class=\"warn\">This application receives the answer on this computer (a loopback address). Allow only if you started this from an application running on this device.</p>\n",
        );
    }
    if matches!(view.destination, Destination::App { .. }) {
        details.push_str(
            "<p class=\"warn\">This application receives the answer through an app link on your device. Any app can claim such a link; allow only if you started this from the app you expect.</p>\n",
        );
    }
    match &view.document_host {
        Some(host) => details.push_str(&format!(
            "<p class=\"muted\">This application is described by a document published by <strong><code>{}</code></strong>; its name has not been verified.</p>\n",
            escape(host)
        )),
        None if view.unverified => details
            .push_str("<p class=\"muted\">This application registered itself; its name has not been verified.</p>\n"),
        None => {}
    }
    if view.scopes.is_empty() {
        details.push_str("<p>It asks for basic access to your account.</p>\n");
    } else {
        details.push_str("<p>It asks for:</p>\n<ul>\n");
        for scope in &view.scopes {
            details.push_str(&format!("<li><code>{}</code></li>\n", escape(scope)));
        }
        details.push_str("</ul>\n");
    }
    if !view.shared_claims.is_empty() {
        details.push_str(&format!("<p>It will see {}.</p>\n", view.shared_claims.join(" and ")));
    }
    if let Some(resource) = &view.resource {
        details.push_str(&format!("<p>For use with <code>{}</code></p>\n", escape(resource)));
    }
    let body = format!(
        r#"<h1>Allow access?</h1>
<p><strong>{client}</strong>{badge} wants to access your account <strong>{email}</strong>.</p>
{details}<form method="post" action="{action}">
<input type="hidden" name="request_id" value="{request_id}">
<input type="hidden" name="csrf_token" value="{csrf}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<form method="post" action="{logout}">
<input type="hidden" name="csrf_token" value="{logout_csrf}">
<button type="submit" class="muted">Not you? Sign out</button>
</form>"#,
        client = escape(&view.client_name),
        badge = unverified_badge(view.unverified),
        email = escape(&view.user_email),
        action = escape(&format!("{issuer_path}{}", paths::CONSENT)),
        request_id = escape(&view.request_id),
        csrf = escape(&view.csrf_token),
        logout = escape(&format!("{issuer_path}{}", paths::LOGOUT)),
        logout_csrf = escape(&view.logout_csrf_token),
    );
    page_response(200).body(layout("Allow access?", &body))
}

pub fn message_page(status: u16, title: &str, message: &str) -> HttpResponse {
    let body = format!("<h1>{}</h1>\n<p>{}</p>", escape(title), escape(message));
    page_response(status).body(layout(title, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
