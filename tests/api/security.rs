//! The security rules of DESIGN.md, driven over HTTP: CSRF, security headers, the session
//! cookie, tokens at rest, links from the base URL only, escaping, header injection, ids in
//! URLs, body size bounds and the log-in rate limit.

use chrono::Duration;
use diesel::prelude::*;
use joinery::db::schema::{invitations, memberships, outbox_emails, users};
use joinery::domain::text::PersonName;
use joinery::domain::{Plan, Role};
use joinery::paths;

use crate::helpers::{PASSWORD, Page, TestApp, columns_containing, spawn_app, spawn_app_with};

/// The 403 that a POST without a valid CSRF token gets.
fn assert_form_expired(page: &Page) {
    assert_eq!(page.status, 403, "{}", page.text());
    assert!(page.shows("Form expired"), "{}", page.text());
}

fn outbox_count(app: &TestApp) -> i64 {
    app.query(|c| Ok(outbox_emails::table.count().get_result::<i64>(c)?))
}

fn user_count(app: &TestApp) -> i64 {
    app.query(|c| Ok(users::table.count().get_result::<i64>(c)?))
}

fn membership_count(app: &TestApp) -> i64 {
    app.query(|c| Ok(memberships::table.count().get_result::<i64>(c)?))
}

fn invitation_statuses(app: &TestApp) -> Vec<String> {
    app.query(|c| {
        Ok(invitations::table
            .select(invitations::status)
            .order(invitations::email)
            .load::<String>(c)?)
    })
}

/// A CSRF token that is valid — but for another browser's session.
async fn someone_elses_token(app: &TestApp) -> String {
    app.browser().get(paths::LOGIN.pattern()).await.csrf()
}

#[tokio::test]
async fn invite_post_without_a_valid_csrf_token_is_refused_and_writes_nothing() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = paths::send_invitations(org);
    let other = someone_elses_token(&app).await;

    for token in [None, Some(""), Some("not-the-token"), Some(other.as_str())] {
        let mut fields = vec![
            ("emails", "target@example.com"),
            ("role", "viewer"),
            ("message", "hi"),
        ];
        if let Some(t) = token {
            fields.push(("csrf_token", t));
        }
        let page = owner.post(&path, &fields).await;
        assert_form_expired(&page);
    }
    assert_eq!(app.invitation_count(), 0);
    assert_eq!(outbox_count(&app), 0);
    assert!(app.no_email_to("target@example.com").await);

    // The same request with the page's own token goes through: the refusals above were the
    // token's doing.
    let sent = owner
        .invite(org, "target@example.com", "viewer", "hi")
        .await;
    assert!(sent.shows("1 invitation sent"), "{}", sent.text());
    assert_eq!(app.invitation_count(), 1);
}

#[tokio::test]
async fn logout_without_a_valid_csrf_token_keeps_the_session() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let other = someone_elses_token(&app).await;

    assert_form_expired(&owner.post(paths::LOGOUT.pattern(), &[]).await);
    assert_form_expired(
        &owner
            .post(paths::LOGOUT.pattern(), &[("csrf_token", "forged")])
            .await,
    );
    assert_form_expired(
        &owner
            .post(paths::LOGOUT.pattern(), &[("csrf_token", &other)])
            .await,
    );

    let team = owner.get(&paths::team(org)).await;
    assert_eq!(team.status, 200);
    assert_eq!(team.path(), paths::team(org), "still logged in");

    // The real Log out button works.
    let out = owner
        .click(&paths::team(org), paths::LOGOUT.pattern())
        .await;
    assert_eq!(out.path(), paths::LOGIN.pattern());
}

#[tokio::test]
async fn acceptance_posts_without_a_valid_csrf_token_change_nothing() {
    let app = spawn_app().await;
    app.create_user("ada@example.com", "Ada");
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let sent = owner
        .invite(org, "newbie@example.com, ada@example.com", "editor", "")
        .await;
    assert!(sent.shows("2 invitations sent"), "{}", sent.text());
    let newbie_link = app.email_to("newbie@example.com").await.invitation_path();
    let ada_link = app.email_to("ada@example.com").await.invitation_path();
    let (users_before, members_before) = (user_count(&app), membership_count(&app));

    // Signed out, as the new user: register and decline.
    let newbie = app.browser();
    assert_eq!(newbie.get(&newbie_link).await.status, 200);
    let other = someone_elses_token(&app).await;
    for token in [None, Some("forged"), Some(other.as_str())] {
        let mut register = vec![("name", "New Bie"), ("password", "a good long password")];
        let mut decline = vec![];
        if let Some(t) = token {
            register.push(("csrf_token", t));
            decline.push(("csrf_token", t));
        }
        assert_form_expired(
            &newbie
                .post(&format!("{newbie_link}/register"), &register)
                .await,
        );
        assert_form_expired(
            &newbie
                .post(&format!("{newbie_link}/decline"), &decline)
                .await,
        );
    }

    // Signed out, as an existing user: log in & accept.
    let ada = app.browser();
    assert_eq!(ada.get(&ada_link).await.status, 200);
    assert_form_expired(
        &ada.post(&format!("{ada_link}/login"), &[("password", PASSWORD)])
            .await,
    );
    assert_form_expired(
        &ada.post(
            &format!("{ada_link}/login"),
            &[("password", PASSWORD), ("csrf_token", "forged")],
        )
        .await,
    );

    // Signed in as the invitee: accept and decline.
    assert_eq!(ada.login("ada@example.com", PASSWORD).await.status, 200);
    let page = ada.get(&ada_link).await;
    assert!(page.shows("Accept invitation"), "{}", page.text());
    assert_form_expired(&ada.post(&format!("{ada_link}/accept"), &[]).await);
    assert_form_expired(
        &ada.post(&format!("{ada_link}/accept"), &[("csrf_token", "forged")])
            .await,
    );
    assert_form_expired(
        &ada.post(&format!("{ada_link}/decline"), &[("csrf_token", "forged")])
            .await,
    );

    assert_eq!(invitation_statuses(&app), vec!["pending", "pending"]);
    assert_eq!(user_count(&app), users_before, "no account was created");
    assert_eq!(membership_count(&app), members_before, "nobody joined");
    // Nothing was used up: the invitee can still accept with the page's own form.
    let done = ada.submit(&page.form("form[action$='/accept']")).await;
    assert!(done.shows("You joined Acme as Editor"), "{}", done.text());
}

fn assert_page_headers(page: &Page) {
    let csp = page
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("no CSP on {}", page.url));
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(
        page.header("x-content-type-options").as_deref(),
        Some("nosniff"),
        "{}",
        page.url
    );
}

fn assert_invitation_page_headers(page: &Page) {
    assert_page_headers(page);
    assert_eq!(
        page.header("referrer-policy").as_deref(),
        Some("no-referrer"),
        "{}",
        page.url
    );
    assert_eq!(
        page.header("cache-control").as_deref(),
        Some("no-store"),
        "{}",
        page.url
    );
}

#[tokio::test]
async fn every_page_sends_the_security_headers() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;

    let login = app.browser().get(paths::LOGIN.pattern()).await;
    assert_eq!(login.status, 200);
    assert_page_headers(&login);

    for path in [
        paths::dashboard(org),
        paths::team(org),
        paths::notifications(org),
    ] {
        let page = owner.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert_page_headers(&page);
    }

    let missing = owner.get("/no/such/page").await;
    assert_eq!(missing.status, 404);
    assert_page_headers(&missing);

    let expired_form = owner.post(paths::LOGOUT.pattern(), &[]).await;
    assert_eq!(expired_form.status, 403);
    assert_page_headers(&expired_form);
}

#[tokio::test]
async fn invitation_pages_send_no_referrer_and_no_store() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner
        .invite(org, "first@example.com, second@example.com", "viewer", "")
        .await;
    let first = app.email_to("first@example.com").await.invitation_path();
    let second = app.email_to("second@example.com").await.invitation_path();

    let visitor = app.browser();
    let page = visitor.get(&first).await;
    assert_eq!(page.status, 200);
    assert!(page.shows("Create account & join"));
    assert_invitation_page_headers(&page);

    // A form error re-shown on the invitation page keeps the headers.
    let refused = visitor
        .submit(
            &page
                .form("form[action$='/register']")
                .set("name", "")
                .set("password", "short"),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert_invitation_page_headers(&refused);

    // Revoked.
    let team = owner.get(&paths::team(org)).await;
    let revoke = revoke_path(&team, "first@example.com");
    let revoked = owner.click(&revoke, &revoke).await;
    assert!(revoked.shows("revoked"), "{}", revoked.text());
    let page = visitor.get(&first).await;
    assert_eq!(page.status, 410);
    assert!(
        page.shows("This invitation has been revoked"),
        "{}",
        page.text()
    );
    assert_invitation_page_headers(&page);

    // Expired.
    app.advance(Duration::days(8));
    let page = visitor.get(&second).await;
    assert_eq!(page.status, 410);
    assert!(page.shows("This invitation has expired"), "{}", page.text());
    assert_invitation_page_headers(&page);
}

/// The Revoke link of the pending invitation to `email` on the Team page.
fn revoke_path(team: &Page, email: &str) -> String {
    let css = "a[href$='/revoke']";
    team.texts(css)
        .into_iter()
        .zip(team.attrs(css, "href"))
        .find(|(text, _)| text.contains(email))
        .unwrap_or_else(|| panic!("no Revoke link for {email}: {}", team.text()))
        .1
}

/// Every `Set-Cookie` header of a plain GET of `/login` (no cookie jar, no redirects).
async fn login_set_cookies(base: &str) -> Vec<String> {
    let resp = reqwest::Client::new()
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn attributes(cookie: &str) -> Vec<String> {
    cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

/// The cookies a log-in sets (the session's), from a client that carries cookies by hand.
async fn session_set_cookies(base: &str) -> Vec<String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = client.get(format!("{base}/login")).send().await.unwrap();
    let cookie = cookie_header(login.headers());
    let form = Page {
        status: login.status().as_u16(),
        url: login.url().to_string(),
        headers: login.headers().clone(),
        body: login.text().await.unwrap(),
    }
    .form("form[action='/login']")
    .set("email", "owner@acme.test")
    .set("password", PASSWORD);
    let resp = client
        .post(format!("{base}/login"))
        .header("cookie", cookie)
        .form(&form.fields)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// A `Cookie` header carrying every cookie these response headers set.
fn cookie_header(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

/// DESIGN.md, "Security rules": the cookie that binds a signed-out visitor's CSRF token and the
/// session cookie are HttpOnly and SameSite=Lax, and not Secure over http.
#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_lax_and_not_secure_on_http() {
    let app = spawn_app().await;
    let owner = app.create_user("owner@acme.test", "Olive");
    let org = app.create_org("Acme", Plan::Starter);
    app.add_member(org, owner, Role::Owner);
    let shown = login_set_cookies(&app.address).await;
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(shown[0].starts_with("joinery_csrf="), "{}", shown[0]);
    let signed_in = session_set_cookies(&app.address).await;
    assert_eq!(signed_in.len(), 1, "{signed_in:?}");
    assert!(
        signed_in[0].starts_with("joinery_session="),
        "{}",
        signed_in[0]
    );
    for cookie in shown.iter().chain(&signed_in) {
        let attrs = attributes(cookie);
        assert!(attrs.contains(&"httponly".to_owned()), "{cookie}");
        assert!(attrs.contains(&"samesite=lax".to_owned()), "{cookie}");
        assert!(attrs.contains(&"path=/".to_owned()), "{cookie}");
        assert!(!attrs.contains(&"secure".to_owned()), "{cookie}");
    }
}

/// A port that was free a moment ago, so a test can know where an app with a foreign base URL
/// listens.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn on_https_the_session_cookie_is_host_prefixed_and_secure() {
    let port = free_port();
    let app = spawn_app_with(|s| {
        s.base_url = Some("https://joinery.example".into());
        s.bind = format!("127.0.0.1:{port}");
    })
    .await;
    let owner = app.create_user("owner@acme.test", "Olive");
    let org = app.create_org("Acme", Plan::Starter);
    app.add_member(org, owner, Role::Owner);
    let base = format!("http://127.0.0.1:{port}");
    let shown = login_set_cookies(&base).await;
    assert_eq!(shown.len(), 1, "{shown:?}");
    let signed_in = session_set_cookies(&base).await;
    assert_eq!(signed_in.len(), 1, "{signed_in:?}");
    assert!(shown[0].starts_with("__Host-joinery_csrf="), "{}", shown[0]);
    assert!(
        signed_in[0].starts_with("__Host-joinery_session="),
        "{}",
        signed_in[0]
    );
    for cookie in shown.iter().chain(&signed_in) {
        let attrs = attributes(cookie);
        assert!(attrs.contains(&"secure".to_owned()), "{cookie}");
        assert!(attrs.contains(&"httponly".to_owned()), "{cookie}");
        assert!(attrs.contains(&"samesite=lax".to_owned()), "{cookie}");
        // `__Host-` cookies must have Path=/ and no Domain, or browsers drop them.
        assert!(attrs.contains(&"path=/".to_owned()), "{cookie}");
        assert!(!attrs.iter().any(|a| a.starts_with("domain=")), "{cookie}");
    }
}

/// Plain GETs (no cookie jar, no redirects followed) of a page, a redirect, a 404, the health
/// check and a static file, and a POST refused for its CSRF token: every kind of response.
async fn responses_of_every_kind(base: &str) -> Vec<(String, reqwest::header::HeaderMap)> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut seen = Vec::new();
    for path in [
        paths::LOGIN.pattern(),
        "/",
        "/no/such/page",
        paths::HEALTHZ.pattern(),
        paths::APP_CSS.pattern(),
    ] {
        let resp = client.get(format!("{base}{path}")).send().await.unwrap();
        seen.push((
            format!("GET {path} {}", resp.status()),
            resp.headers().clone(),
        ));
    }
    let resp = client
        .post(format!("{base}/logout"))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    seen.push((
        format!("POST /logout {}", resp.status()),
        resp.headers().clone(),
    ));
    seen
}

#[tokio::test]
async fn every_response_sends_a_permissions_policy_and_no_hsts_over_http() {
    let app = spawn_app().await;
    let responses = responses_of_every_kind(&app.address).await;
    let statuses: Vec<&str> = responses.iter().map(|(what, _)| what.as_str()).collect();
    assert!(
        statuses.iter().any(|s| s.ends_with("303 See Other"))
            && statuses.iter().any(|s| s.ends_with("404 Not Found"))
            && statuses.iter().any(|s| s.ends_with("403 Forbidden")),
        "{statuses:?}"
    );
    for (what, headers) in &responses {
        let policy = headers
            .get("permissions-policy")
            .unwrap_or_else(|| panic!("no Permissions-Policy on {what}"))
            .to_str()
            .unwrap();
        for feature in ["camera", "microphone", "geolocation", "payment", "usb"] {
            assert!(
                policy.split(", ").any(|d| d == format!("{feature}=()")),
                "{what}: {feature} not denied in {policy}"
            );
        }
        assert!(
            headers.get("strict-transport-security").is_none(),
            "{what}: HSTS over plain http"
        );
    }
}

#[tokio::test]
async fn on_https_every_response_sends_strict_transport_security() {
    let port = free_port();
    let _app = spawn_app_with(|s| {
        s.base_url = Some("https://joinery.example".into());
        s.bind = format!("127.0.0.1:{port}");
    })
    .await;
    for (what, headers) in responses_of_every_kind(&format!("http://127.0.0.1:{port}")).await {
        assert_eq!(
            headers
                .get("strict-transport-security")
                .map(|v| v.to_str().unwrap()),
            Some("max-age=63072000; includeSubDomains"),
            "{what}"
        );
        assert!(headers.get("permissions-policy").is_some(), "{what}");
    }
}

#[tokio::test]
async fn invitation_tokens_are_never_stored_in_plaintext() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "secret@example.com", "viewer", "").await;
    let email = app.email_to("secret@example.com").await;
    let link = email.invitation_link();
    let token = email
        .invitation_path()
        .trim_start_matches("/invitations/")
        .to_owned();
    assert_eq!(token.len(), 32, "{link}");

    // The search does find what is stored: the invited address is in invitations and outbox.
    let address = columns_containing(&app, "secret@example.com");
    assert!(
        address.contains(&("invitations".into(), "email".into())),
        "{address:?}"
    );
    assert!(
        address.contains(&("outbox_emails".into(), "recipient".into())),
        "{address:?}"
    );

    assert_eq!(
        columns_containing(&app, &token),
        Vec::<(String, String)>::new(),
        "the token is stored"
    );
    assert_eq!(
        columns_containing(&app, &link),
        Vec::<(String, String)>::new(),
        "the link is stored"
    );

    // Opening the link (a session is written) and resending it store nothing more.
    assert_eq!(
        app.browser().get(&email.invitation_path()).await.status,
        200
    );
    app.advance(Duration::minutes(2));
    let team = owner.get(&paths::team(org)).await;
    let resend = team.attrs("button[formaction$='/resend']", "formaction");
    let resent = owner.click(&paths::team(org), &resend[0]).await;
    assert!(resent.shows("sent again"), "{}", resent.text());
    assert_eq!(
        app.email_to("secret@example.com").await.invitation_link(),
        link
    );
    assert_eq!(
        columns_containing(&app, &token),
        Vec::<(String, String)>::new()
    );
}

#[tokio::test]
async fn email_links_come_from_the_base_url_never_from_the_request_host() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let page = owner.get(&paths::invite(org)).await;
    let form = page
        .form("form.invite-form")
        .set("emails", "target@example.com")
        .set("role", "viewer");
    let sent = owner
        .submit_with_headers(
            &form,
            &[
                ("Host", "evil.example"),
                ("X-Forwarded-Host", "evil.example"),
                ("X-Forwarded-Proto", "https"),
                ("Forwarded", "host=evil.example;proto=https"),
            ],
        )
        .await;
    assert!(sent.shows("1 invitation sent"), "{}", sent.text());

    let email = app.email_to("target@example.com").await;
    assert!(
        email
            .invitation_link()
            .starts_with(&format!("{}/invitations/", app.address)),
        "{}",
        email.text
    );
    assert!(!email.raw.contains("evil.example"), "{}", email.raw);
}

#[tokio::test]
async fn email_links_use_the_configured_public_base_url() {
    let port = free_port();
    let app = spawn_app_with(|s| {
        s.base_url = Some("https://joinery.example".into());
        s.bind = format!("127.0.0.1:{port}");
    })
    .await;
    let org = app.create_org("Acme", Plan::Starter);
    let user = app.create_user("owner@acme.test", "Olive");
    app.add_member(org, user, Role::Owner);
    // The test reaches the app over plain http on its port; the cookie is `Secure`, which
    // reqwest's jar would not send back over http, so this client carries it by hand.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let session_cookie = |resp: &reqwest::Response| cookie_header(resp.headers());
    let page_of = |resp: reqwest::Response| async move {
        Page {
            status: resp.status().as_u16(),
            url: resp.url().to_string(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    };

    let login = client.get(format!("{base}/login")).send().await.unwrap();
    let cookie = session_cookie(&login);
    let form = page_of(login)
        .await
        .form("form[action='/login']")
        .set("email", "owner@acme.test")
        .set("password", PASSWORD);
    let logged_in = client
        .post(format!("{base}/login"))
        .header("cookie", &cookie)
        .form(&form.fields)
        .send()
        .await
        .unwrap();
    assert_eq!(logged_in.status(), 303);
    let cookie = format!("{cookie}; {}", session_cookie(&logged_in));
    let invite = client
        .get(format!("{base}/orgs/{org}/team/invite"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let page = page_of(invite).await;
    assert_eq!(page.status, 200);
    let form = page
        .form("form.invite-form")
        .set("emails", "target@example.com")
        .set("role", "viewer");
    let sent = client
        .post(format!("{base}{}", form.action))
        .header("cookie", &cookie)
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example")
        .form(&form.fields)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 303);

    let email = app.email_to("target@example.com").await;
    assert!(
        email
            .invitation_link()
            .starts_with("https://joinery.example/invitations/"),
        "{}",
        email.text
    );
    assert!(
        !email.raw.contains("127.0.0.1") && !email.raw.contains("evil.example"),
        "{}",
        email.raw
    );
}

const SCRIPT: &str = "<script>alert(1)</script>";
const MESSAGE: &str = "Hi <b>there</b> <img src=x onerror=alert(2)>";

/// Whether `html` shows `text` as text: the parsed document's text holds it, and the markup
/// holds it only escaped (askama writes `<` as `&#60;` or `&lt;`, both fine), never as tags.
fn escaped_in(html: &str, text: &str) -> bool {
    let doc = scraper::Html::parse_document(html);
    let shown: String = doc.root_element().text().collect();
    let escaped_forms = [
        text.replace('<', "&lt;").replace('>', "&gt;"),
        text.replace('<', "&#60;").replace('>', "&#62;"),
        text.replace('<', "&#x3c;").replace('>', "&#x3e;"),
    ];
    shown.contains(text)
        && !html.contains(text)
        && escaped_forms.iter().any(|e| html.contains(e.as_str()))
}

#[tokio::test]
async fn names_and_messages_are_escaped_in_pages_and_html_emails() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", Plan::Starter);
    let user = app.create_user("owner@acme.test", SCRIPT);
    app.add_member(org, user, Role::Owner);
    let owner = app.browser();
    assert_eq!(owner.login("owner@acme.test", PASSWORD).await.status, 200);

    let team = owner.get(&paths::team(org)).await;
    assert!(escaped_in(&team.body, SCRIPT), "{}", team.body);
    assert!(!team.body.contains("<script>alert"), "{}", team.body);

    let sent = owner
        .invite(org, "target@example.com", "viewer", MESSAGE)
        .await;
    assert!(sent.shows("1 invitation sent"), "{}", sent.text());
    let team = owner.get(&paths::team(org)).await;
    assert!(
        team.texts("tbody td").iter().any(|t| t == SCRIPT),
        "the pending row names the inviter"
    );
    assert!(!team.body.contains("<script>alert"), "{}", team.body);

    // The invite form re-shown with an error keeps the message, escaped.
    let refused = owner.invite(org, "not an address", "viewer", MESSAGE).await;
    assert_eq!(refused.status, 422);
    assert!(escaped_in(&refused.body, MESSAGE), "{}", refused.body);

    let email = app.email_to("target@example.com").await;
    assert!(escaped_in(&email.html, SCRIPT), "{}", email.html);
    assert!(escaped_in(&email.html, MESSAGE), "{}", email.html);
    assert!(
        !email.html.contains("<script")
            && !email.html.contains("<img")
            && !email.html.contains("<b>"),
        "{}",
        email.html
    );
    // The text part carries the text as typed, which is what a text part is for.
    assert!(email.text.contains(MESSAGE), "{}", email.text);

    let page = app.browser().get(&email.invitation_path()).await;
    assert_eq!(page.status, 200);
    assert!(escaped_in(&page.body, SCRIPT), "{}", page.body);
    assert!(escaped_in(&page.body, MESSAGE), "{}", page.body);
    assert!(
        !page.body.contains("<script>alert") && !page.body.contains("<img src=x"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn names_with_line_breaks_are_refused_and_subjects_stay_one_header() {
    // Nothing can seed a name that would add a header.
    for name in [
        "Eve\r\nBcc: victim@example.com",
        "Eve\nBcc: victim@example.com",
        "Eve\rX",
        "Eve\u{85}X",
    ] {
        assert!(PersonName::parse(name).is_err(), "{name:?}");
    }

    let app = spawn_app().await;
    // Nor can the acceptance page's sign-up.
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "eve@example.com", "viewer", "").await;
    let link = app.email_to("eve@example.com").await.invitation_path();
    let eve = app.browser();
    let page = eve.get(&link).await;
    let refused = eve
        .submit(
            &page
                .form("form[action$='/register']")
                .set("name", "Eve\r\nBcc: victim@example.com")
                .set("password", "a good long password"),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(refused.shows("line breaks"), "{}", refused.text());
    assert_eq!(user_count(&app), 1, "no account was created");

    // An odd (but allowed) inviter name still makes exactly one Subject header and no other.
    // An RFC 2047 encoded word typed as text must not be decoded by the reader's mail client:
    // this one would turn into a line break and a Bcc line.
    let odd = "Zoë \"Q\" =?utf-8?q?=0D=0ABcc:_victim@example.com?= \u{2028} Bcc: x; O'Brien 名前 — folded";
    let odd = odd.trim();
    let other = app.create_org("Initech", Plan::Starter);
    let inviter = app.create_user("odd@initech.test", odd);
    app.add_member(other, inviter, Role::Owner);
    let browser = app.browser();
    assert_eq!(
        browser.login("odd@initech.test", PASSWORD).await.status,
        200
    );
    browser
        .invite(other, "target@example.com", "editor", "")
        .await;
    let email = app.email_to("target@example.com").await;

    let head = email.raw.split("\r\n\r\n").next().unwrap();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", "\t");
    let headers: Vec<&str> = unfolded.split("\r\n").collect();
    let subjects: Vec<&&str> = headers
        .iter()
        .filter(|h| h.to_ascii_lowercase().starts_with("subject:"))
        .collect();
    assert_eq!(subjects.len(), 1, "{head}");
    assert!(
        !headers
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with("bcc:")),
        "{head}"
    );
    let bare = head.replace("\r\n", "");
    assert!(
        !bare.contains('\r') && !bare.contains('\n'),
        "a bare CR or LF in {head:?}"
    );
    let parsed = mail_parser::MessageParser::default()
        .parse(email.raw.as_bytes())
        .unwrap();
    assert!(parsed.bcc().is_none(), "{head}");
    assert_eq!(parsed.to().unwrap().iter().count(), 1);
    assert!(
        !email.subject.contains('\r') && !email.subject.contains('\n'),
        "{:?}",
        email.subject
    );
    // The reader sees the name as typed (an invisible word joiner may keep `=?` from being
    // read as the start of an encoded word).
    assert_eq!(
        email.subject.replace('\u{2060}', ""),
        format!("{odd} invited you to join Initech as Editor")
    );
}

fn assert_styled_404(page: &Page) {
    assert_eq!(page.status, 404, "{}: {}", page.url, page.text());
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html"),
        "{}",
        page.url
    );
    assert!(page.shows("Page not found"), "{}", page.text());
    assert_eq!(
        page.texts("p.status-code"),
        vec!["Error 404"],
        "{}",
        page.url
    );
    assert_page_headers(page);
}

#[tokio::test]
async fn malformed_and_foreign_ids_are_styled_404s() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let (other_org, other_owner) = app.org_with("Globex", Plan::Starter, Role::Owner).await;
    other_owner
        .invite(other_org, "theirs@example.com", "viewer", "")
        .await;
    let their_link = app.email_to("theirs@example.com").await.invitation_path();
    let their_invitation: String =
        app.query(|c| Ok(invitations::table.select(invitations::id).first(c)?));

    let unknown_token = "A".repeat(32);
    let bad_alphabet = format!("{}!", "a".repeat(31));
    for path in [
        "/orgs/not-a-uuid".to_owned(),
        "/orgs/not-a-uuid/team".to_owned(),
        format!("/orgs/{}", uuid::Uuid::new_v4()),
        paths::dashboard(other_org),
        paths::team(other_org),
        format!("/orgs/{org}/invitations/not-a-uuid/revoke"),
        paths::revoke(org, their_invitation.parse().unwrap()),
        "/invitations/short".to_owned(),
        paths::invitation(&unknown_token),
        paths::invitation(&bad_alphabet),
        format!("/invitations/{}", "a".repeat(33)),
    ] {
        assert_styled_404(&owner.get(&path).await);
    }

    // Acting on another organization's invitation through one's own organization: 404 and the
    // invitation is untouched.
    let csrf = owner.get(&paths::team(org)).await.csrf();
    for action in ["revoke", "resend"] {
        let page = owner
            .post(
                &format!("/orgs/{org}/invitations/{their_invitation}/{action}"),
                &[("csrf_token", &csrf)],
            )
            .await;
        assert_styled_404(&page);
    }
    assert_eq!(invitation_statuses(&app), vec!["pending"]);
    assert_eq!(
        app.browser().get(&their_link).await.status,
        200,
        "their link still works"
    );

    // Unknown tokens in the acceptance POSTs are 404s too, never 500s.
    let visitor = app.browser();
    let csrf = visitor.get(paths::LOGIN.pattern()).await.csrf();
    for action in ["register", "login", "accept", "decline"] {
        let page = visitor
            .post(
                &format!("/invitations/{unknown_token}/{action}"),
                &[("csrf_token", &csrf), ("password", PASSWORD), ("name", "X")],
            )
            .await;
        assert_styled_404(&page);
    }
}

#[tokio::test]
async fn an_oversized_form_body_gets_a_styled_413_page() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let csrf = owner.get(&paths::team(org)).await.csrf();
    let huge = "a".repeat(600 * 1024);
    let page = owner
        .post_oversized(
            &paths::send_invitations(org),
            &[("csrf_token", &csrf), ("role", "viewer"), ("emails", &huge)],
        )
        .await;
    assert_eq!(page.status, 413, "{}", page.text());
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(
        page.texts("p.status-code"),
        vec!["Error 413"],
        "{}",
        page.body
    );
    assert_eq!(app.invitation_count(), 0);

    let page = app
        .browser()
        .post_oversized(
            paths::LOGIN.pattern(),
            &[("email", "x@example.com"), ("password", &huge)],
        )
        .await;
    assert_eq!(page.status, 413, "{}", page.text());
    assert_eq!(
        page.texts("p.status-code"),
        vec!["Error 413"],
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_eleventh_rapid_failed_login_is_rate_limited() {
    let app = spawn_app().await;
    app.create_user("ada@example.com", "Ada");
    let browser = app.browser();
    let form = browser
        .get(paths::LOGIN.pattern())
        .await
        .form("form[action='/login']")
        .set("email", "ada@example.com")
        .set("password", "wrong password");
    for attempt in 1..=10 {
        let page = browser.submit(&form).await;
        assert_eq!(page.status, 401, "attempt {attempt}: {}", page.text());
    }
    let limited = browser.submit(&form).await;
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert!(
        limited
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(limited.shows("Too many attempts"), "{}", limited.text());
    assert_eq!(limited.texts("p.status-code"), vec!["Error 429"]);
    assert_page_headers(&limited);

    // While limited, even the right password does not get in.
    let right = browser
        .submit(&form.clone().set("password", PASSWORD))
        .await;
    assert_eq!(right.status, 429);
}

/// Sends `n` failed log-ins claiming to come from `from` (X-Forwarded-For); returns statuses.
async fn failed_logins(app: &crate::helpers::TestApp, from: &str, n: usize) -> Vec<u16> {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let login = format!("{}/login", app.address);
    let body = client
        .get(&login)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let html = scraper::Html::parse_document(&body);
    let sel = scraper::Selector::parse("input[name=csrf_token]").unwrap();
    let csrf = html
        .select(&sel)
        .next()
        .unwrap()
        .value()
        .attr("value")
        .unwrap()
        .to_owned();
    let mut statuses = Vec::new();
    for _ in 0..n {
        let resp = client
            .post(&login)
            .header("x-forwarded-for", from)
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("email", "nobody@example.com"),
                ("password", "wrong password"),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn log_in_limits_count_per_client_behind_a_trusted_proxy_and_ignore_forged_headers() {
    // Behind a trusted proxy, each forwarded client has its own budget of 10.
    let app = crate::helpers::spawn_app_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]
    })
    .await;
    assert_eq!(failed_logins(&app, "198.51.100.1", 10).await, vec![401; 10]);
    assert_eq!(
        failed_logins(&app, "198.51.100.2", 1).await,
        vec![401],
        "another client is not limited"
    );
    assert_eq!(
        failed_logins(&app, "198.51.100.1", 1).await,
        vec![429],
        "the first one is"
    );
    // Without a trusted proxy, X-Forwarded-For is the client's own claim: changing it buys nothing.
    let app = crate::helpers::spawn_app().await;
    assert_eq!(failed_logins(&app, "198.51.100.1", 10).await, vec![401; 10]);
    assert_eq!(failed_logins(&app, "198.51.100.2", 1).await, vec![429]);
}

/// The pending invitations' addresses, sorted.
fn invited_addresses(app: &TestApp) -> Vec<String> {
    app.query(|c| {
        Ok(invitations::table
            .select(invitations::email)
            .order(invitations::email)
            .load::<String>(c)?)
    })
}

#[tokio::test]
async fn the_hourly_invitation_limit_refuses_a_submission_that_would_exceed_it() {
    let app = spawn_app_with(|s| s.invitations_per_hour = 3).await;
    let (org, owner) = app.org_with("Acme", Plan::Professional, Role::Owner).await;
    let first = owner
        .invite(org, "a@example.com, b@example.com", "viewer", "")
        .await;
    assert!(first.shows("2 invitations sent"), "{}", first.text());

    let refused = owner
        .invite(org, "c@example.com\nd@example.com", "editor", "Welcome")
        .await;
    assert_eq!(refused.status, 429, "{}", refused.text());
    assert_eq!(refused.header("retry-after").as_deref(), Some("3600"));
    assert!(
        refused.shows("Sending this would create 2 new invitations")
            && refused.shows("may send at most 3 invitations an hour")
            && refused.shows("has sent 2 in the last hour"),
        "{}",
        refused.text()
    );
    // The form keeps what was typed, and nothing of the submission was written.
    let kept = refused.form("form.invite-form");
    let field = |name: &str| {
        kept.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(field("emails"), "c@example.com\nd@example.com");
    assert_eq!(field("role"), "editor");
    assert_eq!(field("message"), "Welcome");
    assert_eq!(invited_addresses(&app), ["a@example.com", "b@example.com"]);
    assert_eq!(outbox_count(&app), 2);

    // One more fits; an hour later the window has moved on.
    let third = owner.invite(org, "c@example.com", "viewer", "").await;
    assert!(third.shows("1 invitation sent"), "{}", third.text());
    app.advance(Duration::minutes(61));
    let later = owner
        .invite(org, "d@example.com, e@example.com", "viewer", "")
        .await;
    assert!(later.shows("2 invitations sent"), "{}", later.text());
}

#[tokio::test]
async fn addresses_that_create_no_invitation_do_not_count_against_the_hourly_limit() {
    let app = spawn_app_with(|s| s.invitations_per_hour = 2).await;
    let (org, owner) = app.org_with("Acme", Plan::Professional, Role::Owner).await;
    let member = app.create_user("member@example.com", "Mia Member");
    app.add_member(org, member, Role::Viewer);
    let first = owner
        .invite(org, "a@example.com, b@example.com", "viewer", "")
        .await;
    assert!(first.shows("2 invitations sent"), "{}", first.text());
    // At the limit: a member (skipped) and the two pending addresses again with the same role
    // (their original links resent, a minute on) create nothing, so the limit does not apply.
    app.advance(Duration::minutes(2));
    let again = owner
        .invite(
            org,
            "member@example.com, a@example.com, b@example.com",
            "viewer",
            "",
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert!(
        again.shows("0 invitations sent, 2 resent, 1 skipped"),
        "{}",
        again.text()
    );
    // But one new address in the same submission is one too many.
    let over = owner
        .invite(org, "member@example.com, new@example.com", "viewer", "")
        .await;
    assert_eq!(over.status, 429, "{}", over.text());
    assert!(
        over.shows("Sending this would create 1 new invitation,"),
        "{}",
        over.text()
    );
    assert_eq!(invited_addresses(&app), ["a@example.com", "b@example.com"]);
}

#[tokio::test]
async fn two_submissions_at_once_cannot_together_pass_the_hourly_limit() {
    let app = spawn_app_with(|s| s.invitations_per_hour = 5).await;
    let (org, owner) = app.org_with("Acme", Plan::Professional, Role::Owner).await;
    // Both forms are read first, then sent together, so neither sees the other's invitations
    // before deciding — unless the limit is checked inside the transaction that writes.
    let form = |emails: &'static str| {
        let owner = &owner;
        async move {
            owner
                .get(&paths::invite(org))
                .await
                .form("form.invite-form")
                .set("emails", emails)
                .set("role", "viewer")
        }
    };
    let (one, two) = tokio::join!(
        form("a1@example.com, a2@example.com, a3@example.com"),
        form("b1@example.com, b2@example.com, b3@example.com")
    );
    let (one, two) = tokio::join!(owner.submit(&one), owner.submit(&two));
    let mut statuses = [one.status, two.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 429], "{}\n{}", one.text(), two.text());
    assert_eq!(invited_addresses(&app).len(), 3);
}

#[tokio::test]
async fn the_hourly_limit_also_bounds_invite_links() {
    let app = spawn_app_with(|s| s.invitations_per_hour = 1).await;
    let (org, owner) = app.org_with("Acme", Plan::Professional, Role::Owner).await;
    let create_link = || async {
        let form = owner
            .get(&paths::new_invite_link(org))
            .await
            .form("form[action$='/invite-links']")
            .set("role", "viewer")
            .set("expiry", "24h");
        owner.submit(&form).await
    };
    // Two at once: the limit is checked in the transaction that writes, so one is refused.
    let (one, two) = tokio::join!(create_link(), create_link());
    let mut statuses = [one.status, two.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 429], "{}\n{}", one.text(), two.text());
    let refused = create_link().await;
    assert_eq!(refused.status, 429, "{}", refused.text());
    assert!(refused.header("retry-after").is_some());
    assert_eq!(
        refused
            .attrs("input[name=expiry][checked]", "value")
            .first()
            .map(String::as_str),
        Some("24h"),
        "the input is kept"
    );
    assert!(
        refused.shows("may create at most 1 invite link an hour"),
        "{}",
        refused.text()
    );
    let links: i64 = app.query(|c| {
        use joinery::db::schema::invite_links;
        Ok(invite_links::table.count().get_result(c)?)
    });
    assert_eq!(links, 1);
}

#[tokio::test]
async fn resending_an_expired_invitation_counts_against_the_hourly_limit() {
    let app = spawn_app_with(|s| s.invitations_per_hour = 2).await;
    let (org, owner) = app.org_with("Acme", Plan::Professional, Role::Owner).await;
    owner.invite(org, "late@example.com", "viewer", "").await;
    app.advance(Duration::days(8)); // expired, and the hour has passed
    owner
        .invite(org, "a@example.com, b@example.com", "viewer", "")
        .await;
    // The limit is used up: the expired invitation's resend would create a third.
    let team = owner.get(&paths::team(org)).await;
    let resend = team
        .button_form("section[aria-labelledby='history-heading'] button[formaction$='/resend']");
    let refused = owner.submit(&resend).await;
    assert_eq!(refused.status, 429, "{}", refused.text());
    assert!(
        refused.shows("had expired, and a new one would exceed this organization's limit of 2 an hour (2 sent in the last hour)"),
        "{}",
        refused.text()
    );
    assert_eq!(app.invitation_count(), 3, "no new invitation");
    // An hour later the resend goes through.
    app.advance(Duration::minutes(61));
    let sent = owner.submit(&resend).await;
    assert!(sent.shows("a new one was sent"), "{}", sent.text());
    assert_eq!(app.invitation_count(), 4);
}
