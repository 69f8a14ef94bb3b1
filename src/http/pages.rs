//! Server-rendered pages (SPEC §5, §12): plain HTML forms under one shell that carries the
//! operator's brand, no JavaScript, readable on a phone, light and dark, never framed. The
//! stylesheet is served by Gatehouse (`/assets/style.css`), so the pages' CSP allows only its
//! own styles and images.

use std::sync::OnceLock;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, HttpResponseBuilder};

use crate::authorize::consent::ConsentView;
use crate::authorize::login::LoginView;
use crate::authorize::ErrorPage;
use crate::branding::{accent_or_default, text_on};
use crate::config::{BrandingSettings, Settings};
use crate::oauth::redirect_uri::Destination;
use crate::paths;

/// Every page's policy: nothing but Gatehouse's own stylesheet and images, no script, no frame.
pub const PAGE_CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The headers every page carries (SPEC §5).
pub fn page_response(status: u16) -> HttpResponseBuilder {
    let mut response = HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST));
    response
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
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

/// The fixed part of the stylesheet; the accent colours are prepended per settings.
const STYLE: &str = include_str!("style.css");

/// The stylesheet for these settings: the accent and the text colour chosen for it, then the
/// fixed rules.
pub fn stylesheet(branding: &BrandingSettings) -> String {
    let accent = accent_or_default(&branding.accent_color);
    format!(":root {{ --accent: {accent}; --on-accent: {}; }}\n{STYLE}", text_on(accent))
}

/// Names this stylesheet in its URL (`?v=`), so a browser that cached the last one asks again
/// after a reload or an upgrade changed it, and can keep it long otherwise.
fn stylesheet_version(branding: &BrandingSettings) -> String {
    static FIXED: OnceLock<String> = OnceLock::new();
    let fixed = FIXED.get_or_init(|| {
        let digest = ring::digest::digest(&ring::digest::SHA256, STYLE.as_bytes());
        digest.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect()
    });
    format!("{fixed}{}", branding.accent_color.trim_start_matches('#').to_ascii_lowercase())
}

/// The one page shell: head, the brand (logo and name), the page's own body, the help link.
fn layout(settings: &Settings, title: &str, body: &str) -> String {
    shell(settings, title, body, "<main>")
}

/// A dashboard page (SPEC §12): the same shell and headers, a wider column.
pub fn dashboard_page(settings: &Settings, status: u16, title: &str, body: &str) -> HttpResponse {
    page_response(status).body(shell(settings, title, body, "<main class=\"wide\">"))
}

fn shell(settings: &Settings, title: &str, body: &str, main: &str) -> String {
    let branding = &settings.branding;
    let base = settings.issuer_path();
    let product = escape(&branding.product_name);
    let (icon, logo) = match &branding.logo {
        Some(logo) => {
            let href = escape(&format!("{base}{}?v={}", paths::LOGO, logo.version));
            (
                format!("<link rel=\"icon\" type=\"{}\" href=\"{href}\">\n", logo.kind.content_type()),
                // Decorative: the product's name follows it as text.
                format!("<img src=\"{href}\" alt=\"\">"),
            )
        }
        None => (String::new(), String::new()),
    };
    // "Sign in to Acme" names the product already; other titles get it appended for the tab.
    let title =
        if title.contains(&branding.product_name) { escape(title) } else { format!("{} · {product}", escape(title)) };
    let footer = if branding.support_url.is_empty() {
        String::new()
    } else {
        format!(
            "<footer><a href=\"{}\" rel=\"noopener noreferrer\">Help with {product}</a></footer>\n",
            escape(&branding.support_url)
        )
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{title}</title>
<link rel="stylesheet" href="{style}">
{icon}</head><body>
{main}
<header class="brand">{logo}<span>{product}</span></header>
{body}
{footer}</main>
</body></html>"#,
        style = escape(&format!("{base}{}?v={}", paths::STYLESHEET, stylesheet_version(branding))),
    )
}

pub fn error_page(settings: &Settings, page: &ErrorPage) -> HttpResponse {
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
    response.body(layout(settings, &page.title, &body))
}

fn unverified_badge(unverified: bool) -> &'static str {
    if unverified {
        " <span class=\"muted\">(unverified)</span>"
    } else {
        ""
    }
}

pub fn login_page(settings: &Settings, view: &LoginView) -> HttpResponse {
    let error = view
        .error
        .as_deref()
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>\n", escape(e)))
        .unwrap_or_default();
    let title = format!("Sign in to {}", settings.branding.product_name);
    let issuer_path = settings.issuer_path();
    let hidden = format!(
        "<input type=\"hidden\" name=\"request_id\" value=\"{}\">\n<input type=\"hidden\" name=\"csrf_token\" value=\"{}\">\n",
        escape(&view.request_id),
        escape(&view.csrf_token)
    );
    // The other ways to sign in (SPEC §9.1, §9.2): one small form per source, a button that
    // posts, no script; secondary, full-width buttons above the password form.
    let mut buttons = String::new();
    if let Some(name) = &view.app_name {
        buttons.push_str(&format!(
            "<form method=\"post\" action=\"{action}\">\n{hidden}<button type=\"submit\">Continue with {name}</button>\n</form>\n",
            action = escape(&format!("{issuer_path}{}", paths::LOGIN_APP)),
            name = escape(name),
        ));
    }
    for (id, name) in &view.providers {
        buttons.push_str(&format!(
            "<form method=\"post\" action=\"{action}\">\n<input type=\"hidden\" name=\"provider\" value=\"{id}\">\n{hidden}<button type=\"submit\">Continue with {name}</button>\n</form>\n",
            action = escape(&format!("{issuer_path}{}", paths::LOGIN_PROVIDER)),
            id = escape(id),
            name = escape(name),
        ));
    }
    let mut sources = String::new();
    if !buttons.is_empty() {
        sources.push_str(&format!("<div class=\"sources\">\n{buttons}</div>\n"));
        if view.password_enabled {
            sources.push_str("<p class=\"or\">or</p>\n");
        }
    }
    if view.password_enabled {
        sources.push_str(&format!(
            r#"<form method="post" action="{action}" class="signin">
{hidden}<label for="email">Email</label>
<input type="email" id="email" name="email" value="{email}" autocomplete="username" required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit" class="primary wide">Sign in</button>
</form>"#,
            action = escape(&format!("{issuer_path}{}", paths::LOGIN)),
            email = escape(&view.email),
        ));
    }
    let body = format!(
        "<h1>{title}</h1>\n<p>to continue to <strong>{client}</strong>{badge}</p>\n{error}{sources}",
        title = escape(&title),
        client = escape(&view.client_name),
        badge = unverified_badge(view.unverified),
    );
    page_response(view.status).body(layout(settings, &title, &body))
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

pub fn consent_page(settings: &Settings, view: &ConsentView) -> HttpResponse {
    let issuer_path = settings.issuer_path();
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
<div class="actions">
<button type="submit" name="decision" value="allow" class="primary">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</div>
</form>
<form method="post" action="{logout}" class="secondary-actions">
<input type="hidden" name="request_id" value="{request_id}">
<input type="hidden" name="csrf_token" value="{logout_csrf}">
<button type="submit" class="link-button">Not you? Sign out</button>
</form>"#,
        client = escape(&view.client_name),
        badge = unverified_badge(view.unverified),
        email = escape(&view.user_email),
        action = escape(&format!("{issuer_path}{}", paths::CONSENT)),
        request_id = escape(&view.request_id),
        csrf = escape(&view.csrf_token),
        logout = escape(&format!("{issuer_path}{}", paths::CONSENT_SIGN_OUT)),
        logout_csrf = escape(&view.logout_csrf_token),
    );
    page_response(200).body(layout(settings, "Allow access?", &body))
}

pub fn message_page(settings: &Settings, status: u16, title: &str, message: &str) -> HttpResponse {
    let body = format!("<h1>{}</h1>\n<p>{}</p>", escape(title), escape(message));
    page_response(status).body(layout(settings, title, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
