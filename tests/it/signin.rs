//! Sign-in that no stranger can lock (SPEC §11), tried the way an attacker would: browsers at
//! different source addresses (every 127.x.y.z is loopback; 127.0.1.x and 127.0.2.x are different
//! /24 networks), an attacker posting wrong passwords on a timer, the owner's browsers with and
//! without a device cookie, parallel sign-ins, and password checks that stay bounded.

use std::net::IpAddr;
use std::sync::Arc;

use crate::common::flow::*;
use crate::common::TestApp;
use gatehouse::operator::UserRef;
use gatehouse::store::audit::Actor;

const REDIRECT: &str = "https://app.example/callback";
const ALICE: &str = "alice@example.com";
const OWNER_HOME: &str = "127.0.1.10";
const OWNER_LAPTOP: &str = "127.0.1.11";
const ATTACKER: &str = "127.0.2.20";
const DEVICE_COOKIE: &str = "gh_device";

struct Site {
    app: TestApp,
    client: String,
}

async fn site() -> Site {
    let app = TestApp::spawn().await;
    create_user(&app, ALICE).await;
    let client = dcr_client(&app, &[REDIRECT]).await;
    Site { app, client }
}

/// A browser at `ip`, holding only `device` (a device cookie's value) when given.
fn browser_at(site: &Site, ip: &str, device: Option<&str>) -> reqwest::Client {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    if let Some(device) = device {
        let url: reqwest::Url = site.app.root.parse().unwrap();
        jar.add_cookie_str(&format!("{DEVICE_COOKIE}={device}; Path=/"), &url);
    }
    reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// A fresh login page for `browser`.
async fn login_page(site: &Site, browser: &reqwest::Client) -> String {
    let query = authorize_query(&site.client, REDIRECT, &pkce().challenge, &[]);
    let start = site.app.get_with(browser, &format!("{}/authorize?{query}", site.app.issuer)).await;
    assert_eq!(start.status(), 303);
    let to = location(&start);
    assert!(to.contains("/login"), "{to}");
    site.app.get_with(browser, &to).await.text().await.unwrap()
}

/// Sign in from `browser` with `password`; the response.
async fn sign_in(site: &Site, browser: &reqwest::Client, password: &str) -> reqwest::Response {
    let page = login_page(site, browser).await;
    site.app.submit_login(browser, &page, ALICE, password).await
}

fn device_cookie_set(response: &reqwest::Response) -> Option<String> {
    response.headers().get_all("set-cookie").iter().find_map(|value| {
        let value = value.to_str().ok()?;
        let rest = value.strip_prefix(&format!("{DEVICE_COOKIE}="))?;
        Some(rest.split(';').next()?.to_string())
    })
}

/// The seconds a 429 page asks to wait.
async fn wait_asked(response: reqwest::Response) -> i64 {
    assert_eq!(response.status(), 429);
    let text = response.text().await.unwrap();
    let after = text.split("Try again in ").nth(1).expect("a wait on the page");
    after.split(' ').next().unwrap().parse().expect("seconds")
}

async fn live_device_cookies(site: &Site) -> i64 {
    let now = site.app.clock_now();
    site.app
        .with_db(move |conn| {
            use diesel::prelude::*;
            use gatehouse::db::schema::device_cookies as d;
            Ok(d::table.filter(d::expires_at.gt(now)).count().get_result::<i64>(conn)?)
        })
        .await
}

#[actix_web::test]
async fn a_stranger_posting_wrong_passwords_cannot_keep_the_owner_out() {
    let site = site().await;
    // The owner signs in at home once: the browser gets a device cookie.
    let first = sign_in(&site, &browser_at(&site, OWNER_HOME, None), PASSWORD).await;
    assert_eq!(first.status(), 303);
    let device = device_cookie_set(&first).expect("a device cookie on sign-in");

    // A stranger posts a wrong password for the owner's account every minute for half an hour.
    let attacker = browser_at(&site, ATTACKER, None);
    let mut refused = 0;
    for _ in 0..30 {
        let response = sign_in(&site, &attacker, "wrong password").await;
        assert!(matches!(response.status().as_u16(), 401 | 429), "{}", response.status());
        refused += 1;
        site.app.clock.advance(61);
    }
    assert_eq!(refused, 30);
    // One more right away: it is counted, and the next is slowed down (at most a minute).
    assert_eq!(sign_in(&site, &attacker, "wrong password").await.status(), 401);
    let slowed = sign_in(&site, &attacker, "wrong password").await;
    assert!((1..=60).contains(&wait_asked(slowed).await));

    // ...while the owner's browser that signed in before is never delayed, not even a second.
    let home = browser_at(&site, OWNER_HOME, Some(&device));
    let back = sign_in(&site, &home, PASSWORD).await;
    assert_eq!(back.status(), 303, "the device cookie's browser signs in at once");

    // A new browser of the owner's (no device cookie) waits at most a minute per attempt, then signs in.
    let laptop = browser_at(&site, OWNER_LAPTOP, None);
    let wait = wait_asked(sign_in(&site, &laptop, PASSWORD).await).await;
    assert!((1..=60).contains(&wait), "{wait}");
    site.app.clock.advance(wait);
    let signed_in = sign_in(&site, &laptop, PASSWORD).await;
    assert_eq!(signed_in.status(), 303, "no hard lockout");
    assert!(device_cookie_set(&signed_in).is_some());
}

#[actix_web::test]
async fn parallel_sign_ins_with_the_right_password_all_succeed() {
    let site = site().await;
    let (tab_a, tab_b) = (browser_at(&site, OWNER_HOME, None), browser_at(&site, OWNER_HOME, None));
    let (page_a, page_b) = (login_page(&site, &tab_a).await, login_page(&site, &tab_b).await);
    let (a, b) = futures::join!(
        site.app.submit_login(&tab_a, &page_a, ALICE, PASSWORD),
        site.app.submit_login(&tab_b, &page_b, ALICE, PASSWORD),
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (303, 303));
    // A double click: the same form posted twice at once.
    let tab = browser_at(&site, OWNER_HOME, None);
    let page = login_page(&site, &tab).await;
    let (a, b) = futures::join!(
        site.app.submit_login(&tab, &page, ALICE, PASSWORD),
        site.app.submit_login(&tab, &page, ALICE, PASSWORD),
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (303, 303));
}

#[actix_web::test]
async fn the_address_window_counts_failures_only() {
    let site = site().await;
    // A busy office behind one address: forty sign-ins in a few minutes all succeed.
    for _ in 0..40 {
        let response = sign_in(&site, &browser_at(&site, OWNER_HOME, None), PASSWORD).await;
        assert_eq!(response.status(), 303);
    }
    assert_eq!(live_device_cookies(&site).await, 20, "at most twenty device cookies per user");
    // Thirty failures from that address (on other accounts, each under its own delay)...
    let device = device_cookie_set(&sign_in(&site, &browser_at(&site, OWNER_HOME, None), PASSWORD).await).unwrap();
    let spray = browser_at(&site, OWNER_HOME, None);
    for n in 0..30 {
        let page = login_page(&site, &spray).await;
        let response = site.app.submit_login(&spray, &page, &format!("user{n}@example.com"), "guess").await;
        assert_eq!(response.status(), 401);
    }
    // ...and the address is told to slow down, right password or not,
    let page = login_page(&site, &spray).await;
    let slowed = site.app.submit_login(&spray, &page, ALICE, PASSWORD).await;
    assert!(wait_asked(slowed).await > 0);
    // except for a browser that signed in to the account before.
    let trusted = sign_in(&site, &browser_at(&site, OWNER_HOME, Some(&device)), PASSWORD).await;
    assert_eq!(trusted.status(), 303);
}

#[actix_web::test]
async fn five_failures_void_a_device_cookie_and_never_arm_the_account() {
    let site = site().await;
    let device = device_cookie_set(&sign_in(&site, &browser_at(&site, OWNER_HOME, None), PASSWORD).await).unwrap();
    let home = browser_at(&site, OWNER_HOME, Some(&device));
    for _ in 0..5 {
        assert_eq!(sign_in(&site, &home, "typo").await.status(), 401);
    }
    assert_eq!(live_device_cookies(&site).await, 0, "void after five failures");
    // The owner's own typos did not slow anyone else down.
    let elsewhere = sign_in(&site, &browser_at(&site, ATTACKER, None), PASSWORD).await;
    assert_eq!(elsewhere.status(), 303);
    // The home browser is now an ordinary one: three more failures from its network delay it.
    for _ in 0..3 {
        assert_eq!(sign_in(&site, &home, "typo").await.status(), 401);
    }
    assert!(wait_asked(sign_in(&site, &home, PASSWORD).await).await > 0);
}

#[actix_web::test]
async fn a_new_password_or_a_disabled_account_voids_device_cookies() {
    let site = site().await;
    let device = device_cookie_set(&sign_in(&site, &browser_at(&site, OWNER_HOME, None), PASSWORD).await).unwrap();
    assert_eq!(live_device_cookies(&site).await, 1);
    let now = site.app.clock_now();
    site.app
        .with_db(move |conn| {
            gatehouse::operator::set_password(conn, &UserRef::Email(ALICE.into()), PASSWORD, Actor::Cli, now)
                .map_err(|e| gatehouse::db::DbError::Unavailable(e.to_string()))
        })
        .await;
    assert_eq!(live_device_cookies(&site).await, 0, "set-password voids them");
    // The old device cookie no longer exempts its browser: after an attacker's failures it waits.
    let attacker = browser_at(&site, ATTACKER, None);
    for _ in 0..25 {
        assert_eq!(sign_in(&site, &attacker, "wrong password").await.status(), 401);
        site.app.clock.advance(61);
    }
    assert_eq!(sign_in(&site, &attacker, "wrong password").await.status(), 401);
    let home = browser_at(&site, OWNER_HOME, Some(&device));
    assert!(wait_asked(sign_in(&site, &home, PASSWORD).await).await > 0);

    let other = TestApp::spawn().await;
    let site = Site { client: dcr_client(&other, &[REDIRECT]).await, app: other };
    create_user(&site.app, ALICE).await;
    sign_in(&site, &browser_at(&site, OWNER_HOME, None), PASSWORD).await;
    assert_eq!(live_device_cookies(&site).await, 1);
    let now = site.app.clock_now();
    site.app
        .with_db(move |conn| {
            gatehouse::operator::disable_user(conn, &UserRef::Email(ALICE.into()), Actor::Cli, now)
                .map(|_| ())
                .map_err(|e| gatehouse::db::DbError::Unavailable(e.to_string()))
        })
        .await;
    assert_eq!(live_device_cookies(&site).await, 0, "disable voids them");
}

#[actix_web::test]
async fn a_flood_of_sign_in_posts_is_bounded_and_the_server_keeps_answering() {
    let site = site().await;
    // Sixty unauthenticated posts at once, from sixty networks.
    let mut posts = Vec::new();
    for n in 0..60 {
        let browser = browser_at(&site, &format!("127.1.{n}.9"), None);
        let page = login_page(&site, &browser).await;
        posts.push((browser, page));
    }
    let flood = futures::future::join_all(
        posts.iter().map(|(browser, page)| site.app.submit_login(browser, page, ALICE, "wrong password")),
    );
    let health = async {
        // While they run, liveness and the token endpoint answer.
        let healthz = site.app.http.get(site.app.url("/healthz")).send().await.unwrap().status();
        let (token, _) = site
            .app
            .post_form(
                "/token",
                &[("grant_type", "refresh_token"), ("refresh_token", "x"), ("client_id", &site.client)],
            )
            .await;
        (healthz.as_u16(), token)
    };
    let (responses, (healthz, token)) = futures::join!(flood, health);
    assert_eq!(healthz, 200);
    assert_eq!(token, 400, "an ordinary invalid_grant, not a stall");
    for response in responses {
        match response.status().as_u16() {
            401 => {}
            503 => assert_eq!(response.headers()["retry-after"], "1"),
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(site.app.state.passwords.tracked_networks(), 0, "nothing left behind");
}
