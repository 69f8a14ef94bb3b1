//! Branding (SPEC §12): the operator's name, logo, accent and help link on the pages, the logo
//! and stylesheet served by Gatehouse itself, and bad branding refused — at start and on reload,
//! where the running settings stay — with a line that names the key.

use std::path::{Path, PathBuf};

use gatehouse::config::ConfigSource;
use gatehouse::reload::{reload, ReloadOutcome};

use crate::common::flow::{authorize_query, browser, location, manual_client, pkce};
use crate::common::process::run;
use crate::common::{backend, TestApp, TestDb};

/// The PNG signature and the start of a header chunk: what the sniffer reads.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0";
const SVG: &str = "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1 1\"/>\n";

/// An app on a fresh database, and a config file beside it that a reload reads.
struct Branded {
    app: TestApp,
    dir: tempfile::TempDir,
    source: ConfigSource,
    _db: TestDb,
}

impl Branded {
    async fn new() -> Branded {
        let db = TestDb::new(backend());
        let app = TestApp::spawn_on(db.url(), "", |_| {}).await;
        let dir = tempfile::tempdir().unwrap();
        let source = ConfigSource::new(Some(dir.path().join("gatehouse.toml")));
        Branded { app, dir, source, _db: db }
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// The running app's own settings, plus `branding` (the lines of a `[branding]` table).
    fn config(&self, branding: &str) -> String {
        let settings = self.app.settings();
        format!(
            "issuer = {:?}\n[keys]\nencryption_key = {:?}\n[database]\nurl = {:?}\npool_size = 4\n\
             connect_timeout_ms = 500\n[branding]\n{branding}\n",
            settings.issuer, settings.keys.encryption_key, settings.database.url
        )
    }

    async fn reload_with(&self, branding: &str) -> ReloadOutcome {
        let path = self.dir.path().join("gatehouse.toml");
        std::fs::write(&path, self.config(branding)).unwrap();
        reload(&self.app.state, &self.source).await
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.app.http.get(self.app.url(path)).send().await.unwrap()
    }

    /// The sign-in page of a fresh authorization request.
    async fn login_page(&self) -> (reqwest::header::HeaderMap, String) {
        let client_id = manual_client(&self.app, &["https://app.example/cb"]).await;
        let browser = browser();
        let query = authorize_query(&client_id, "https://app.example/cb", &pkce().challenge, &[]);
        let start = self.app.get_with(&browser, &format!("{}/authorize?{query}", self.app.issuer)).await;
        let page = self.app.get_with(&browser, &location(&start)).await;
        assert_eq!(page.status(), 200);
        let headers = page.headers().clone();
        (headers, page.text().await.unwrap())
    }
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers().get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

#[actix_web::test]
async fn pages_carry_the_configured_brand_under_the_same_strict_policy() {
    let branded = Branded::new().await;
    let (headers, html) = branded.login_page().await;
    assert!(html.contains("<h1>Sign in to Gatehouse</h1>"), "the default name: {html}");
    assert!(!html.contains("<img"), "no logo configured, none shown");

    let logo = branded.file("logo.svg", SVG.as_bytes());
    let outcome = branded
        .reload_with(&format!(
            "product_name = \"Acme <Cloud>\"\nlogo_file = {:?}\naccent_color = \"#FFD700\"\nsupport_url = \"https://help.acme.example/\"",
            logo.display()
        ))
        .await;
    assert!(matches!(outcome, ReloadOutcome::Applied { .. }), "{outcome:?}");
    let (branded_headers, html) = branded.login_page().await;
    assert!(html.contains("<h1>Sign in to Acme &lt;Cloud&gt;</h1>"), "the name, escaped: {html}");
    assert!(html.contains("<img src=\"/assets/logo?v="), "{html}");
    assert!(html.contains("href=\"https://help.acme.example/\""), "the help link: {html}");
    assert!(html.contains("<link rel=\"stylesheet\" href=\"/assets/style.css?v="), "{html}");
    assert!(html.contains("class=\"primary wide\">Sign in</button>"), "the primary action: {html}");
    assert!(!html.contains("<script") && !html.contains("style=") && !html.contains("<style"), "{html}");

    // The same policy before and after branding: own styles and images only, never framed.
    let csp = branded_headers["content-security-policy"].to_str().unwrap();
    assert_eq!(csp, headers["content-security-policy"].to_str().unwrap());
    assert!(csp.contains("default-src 'none'") && csp.contains("style-src 'self'") && csp.contains("img-src 'self'"));
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(branded_headers["x-frame-options"], "DENY");

    // The stylesheet carries the accent and, on a light gold, black text (white would be 1.4:1).
    let style = branded.get("/assets/style.css").await;
    assert_eq!(style.status(), 200);
    assert!(header(&style, "content-type").starts_with("text/css"));
    assert!(header(&style, "cache-control").contains("max-age="));
    let css = style.text().await.unwrap();
    assert!(css.contains("--accent: #ffd700; --on-accent: #000000;"), "{}", &css[..200]);
    assert!(css.contains("prefers-color-scheme: dark"));
}

#[actix_web::test]
async fn the_logo_is_served_by_gatehouse_as_the_image_its_bytes_are() {
    let branded = Branded::new().await;
    assert_eq!(branded.get("/assets/logo").await.status(), 404, "no logo configured");

    let svg = branded.file("logo.svg", SVG.as_bytes());
    branded.reload_with(&format!("logo_file = {:?}", svg.display())).await;
    let served = branded.get("/assets/logo").await;
    assert_eq!(served.status(), 200);
    assert_eq!(header(&served, "content-type"), "image/svg+xml");
    assert_eq!(header(&served, "content-security-policy"), "sandbox");
    assert_eq!(header(&served, "x-content-type-options"), "nosniff");
    assert!(header(&served, "cache-control").contains("max-age="));
    let etag = header(&served, "etag").to_string();
    assert_eq!(served.bytes().await.unwrap(), SVG.as_bytes());
    let again =
        branded.app.http.get(branded.app.url("/assets/logo")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304, "a cached copy is revalidated");

    // A PNG named .svg is served as the PNG it is; the favicon is the logo too (SPEC §11).
    let png = branded.file("misnamed.svg", PNG);
    let outcome = branded.reload_with(&format!("logo_file = {:?}", png.display())).await;
    let ReloadOutcome::Applied { changed, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(changed, ["branding.logo_file"]);
    for path in ["/assets/logo", "/favicon.ico"] {
        let served = branded.get(path).await;
        assert_eq!(header(&served, "content-type"), "image/png", "{path}");
        assert_eq!(header(&served, "x-content-type-options"), "nosniff", "{path}");
        assert_ne!(header(&served, "etag"), etag, "{path}: a new version");
        assert_eq!(served.bytes().await.unwrap(), PNG, "{path}");
    }

    // A new image under the same name is picked up on the next reload.
    let mut bigger = PNG.to_vec();
    bigger.extend_from_slice(b"more");
    std::fs::write(&png, &bigger).unwrap();
    let outcome = branded.reload_with(&format!("logo_file = {:?}", png.display())).await;
    let ReloadOutcome::Applied { changed, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(changed, ["branding.logo_file"], "the bytes changed, the key did not");
    assert_eq!(branded.get("/assets/logo").await.bytes().await.unwrap(), bigger);
}

/// Each bad `[branding]`, as the lines of the table and the key its problem must name.
fn bad_brandings(dir: &Path) -> Vec<(String, &'static str)> {
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    };
    let too_large = {
        let mut bytes = PNG.to_vec();
        bytes.resize(256 * 1024 + 1, 0);
        write("huge.png", &bytes)
    };
    vec![
        (format!("logo_file = {:?}", dir.join("missing.png").display()), "branding.logo_file"),
        (format!("logo_file = {too_large:?}"), "branding.logo_file"),
        (format!("logo_file = {:?}", write("fake.png", b"GIF89a\x01\0\x01\0")), "branding.logo_file"),
        (format!("logo_file = {:?}", write("page.svg", b"<html><svg></svg></html>")), "branding.logo_file"),
        ("logo_file = \"https://cdn.example/logo.png\"".to_string(), "branding.logo_file"),
        ("accent_color = \"#abc\"".to_string(), "branding.accent_color"),
        ("accent_color = \"blue\"".to_string(), "branding.accent_color"),
        ("accent_color = \"#12345g\"".to_string(), "branding.accent_color"),
        ("support_url = \"http://help.example\"".to_string(), "branding.support_url"),
        ("product_name = \"\"".to_string(), "branding.product_name"),
    ]
}

#[actix_web::test]
async fn bad_branding_on_reload_is_refused_and_the_running_brand_stays() {
    let branded = Branded::new().await;
    let logo = branded.file("logo.png", PNG);
    let good = format!("product_name = \"Acme\"\nlogo_file = {:?}\naccent_color = \"#0f766e\"", logo.display());
    let outcome = branded.reload_with(&good).await;
    assert!(matches!(outcome, ReloadOutcome::Applied { .. }), "{outcome:?}");
    let running = branded.app.settings().branding.clone();
    assert!(running.logo.is_some());

    for (branding, key) in bad_brandings(branded.dir.path()) {
        // A good change beside the bad one is not applied either.
        let other_change = if branding.starts_with("product_name") { "" } else { "product_name = \"Other\"\n" };
        let outcome = branded.reload_with(&format!("{other_change}{branding}")).await;
        let ReloadOutcome::Invalid(lines) = outcome else { panic!("{branding}: expected a refusal, got {outcome:?}") };
        assert_eq!(lines.len(), 1, "{branding}: one line per problem: {lines:?}");
        assert!(lines[0].starts_with(&format!("{key}: ")), "{branding}: {lines:?}");
        assert_eq!(branded.app.settings().branding, running, "{branding}: the running brand stays");
        let served = branded.get("/assets/logo").await;
        assert_eq!(served.bytes().await.unwrap(), PNG, "{branding}: the running logo is still served");
    }
}

#[actix_web::test]
async fn bad_branding_at_start_stops_the_server_with_the_key_named() {
    let db = TestDb::new(backend());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gatehouse.toml");
    for (branding, key) in bad_brandings(dir.path()) {
        std::fs::write(&config, format!("[branding]\n{branding}\n")).unwrap();
        let output = run(&["--config", config.to_str().unwrap(), "serve"], &[("GATEHOUSE__DATABASE__URL", db.url())]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{branding}: {stderr}");
        assert!(stderr.contains("invalid configuration"), "{branding}: {stderr}");
        assert!(stderr.lines().any(|line| line.trim_start().starts_with(&format!("{key}: "))), "{branding}: {stderr}");
    }
}

/// Under an issuer with a path, the pages link their assets under that path, where they are.
#[actix_web::test]
async fn assets_are_linked_and_served_under_the_issuer_path() {
    let db = TestDb::new(backend());
    let app = TestApp::spawn_on(db.url(), "/auth", |_| {}).await;
    let page = app.http.get(app.url("/authorize?client_id=nobody")).send().await.unwrap();
    assert_eq!(page.status(), 400);
    let html = page.text().await.unwrap();
    let marker = "<link rel=\"stylesheet\" href=\"";
    let start = html.find(marker).expect("a stylesheet link") + marker.len();
    let href = &html[start..start + html[start..].find('"').unwrap()];
    assert!(href.starts_with("/auth/assets/style.css?v="), "{href}");
    let style = app.http.get(format!("{}{}", app.root, href)).send().await.unwrap();
    assert_eq!(style.status(), 200);
    assert!(style.text().await.unwrap().contains("--accent: #1d4ed8; --on-accent: #ffffff;"));
}
