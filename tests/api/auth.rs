//! Log-in, log-out and sessions (DESIGN.md, "Security rules"): one answer for every failed
//! log-in, a new session key on log-in and acceptance, local redirects only, log-out that ends
//! the session at once, roles read on every request, and the health endpoints.

use std::sync::Arc;

use diesel::prelude::*;
use joinery::db::schema::{memberships, sessions, users};
use joinery::domain::{Plan, Role};
use reqwest::cookie::Jar;

use crate::helpers::{PASSWORD, Page, TestApp, cookie_value, spawn_app, spawn_app_with};

const SESSION_COOKIE: &str = "joinery_session";

fn session_cookie(app: &TestApp, jar: &Jar) -> String {
    cookie_value(jar, &app.address, SESSION_COOKIE).expect("no session cookie")
}

/// A fresh browser that sends `cookie` as its session cookie — what an attacker holding that
/// value would do.
fn browser_with_cookie(
    app: &TestApp,
    cookie: &str,
    follow_redirects: bool,
) -> crate::helpers::Browser {
    let jar = Arc::new(Jar::default());
    jar.add_cookie_str(
        &format!("{SESSION_COOKIE}={cookie}; Path=/"),
        &reqwest::Url::parse(&app.address).unwrap(),
    );
    app.browser_with_jar(jar, follow_redirects)
}

fn user_id(app: &TestApp, email: &str) -> String {
    let email = email.to_owned();
    app.query(move |c| {
        Ok(users::table
            .filter(users::email.eq(email))
            .select(users::id)
            .first::<String>(c)?)
    })
}

fn session_rows_of(app: &TestApp, user: &str) -> i64 {
    let user = user.to_owned();
    app.query(move |c| {
        Ok(sessions::table
            .filter(sessions::user_id.eq(user))
            .count()
            .get_result::<i64>(c)?)
    })
}

#[tokio::test]
async fn unknown_email_wrong_password_and_malformed_email_get_the_same_answer() {
    let app = spawn_app().await;
    app.create_user("ada@example.com", "Ada");

    let mut answers: Vec<(u16, Vec<String>, String)> = Vec::new();
    for (email, password) in [
        ("nobody@example.com", PASSWORD),
        ("ada@example.com", "not the password"),
        ("not an email", PASSWORD),
        ("", ""),
    ] {
        let browser = app.browser();
        let page = browser.login(email, password).await;
        assert_eq!(page.path(), "/login", "{email}: not signed in");
        let error = page.texts(".form-error");
        // The visible text (what was typed goes back only into the email field's value).
        let shown = page.text();
        answers.push((page.status, error, shown));
        // And the browser is still signed out.
        assert_eq!(browser.get("/").await.path(), "/login");
    }
    for answer in &answers {
        assert_eq!(answer.0, 401);
        assert_eq!(
            answer.1,
            vec!["That email and password do not match an account."]
        );
        assert_eq!(answer.2, answers[0].2, "the visible page is the same");
    }

    // The right password does get in, so the refusals above were about the credentials.
    let page = app.browser().login("ADA@example.com ", PASSWORD).await;
    assert_eq!(page.status, 200);
    assert_ne!(page.path(), "/login");
}

#[tokio::test]
async fn an_unknown_email_takes_as_long_as_a_wrong_password() {
    // Many attempts from one address: lift the rate limit, which is not under test here.
    let app = spawn_app_with(|s| s.login_attempts_per_minute = 1_000).await;
    app.create_user("ada@example.com", "Ada");
    let browser = app.browser();
    let form = browser.get("/login").await.form("form[action='/login']");
    let kinds = ["ada@example.com", "nobody@example.com", "nobody"].map(|email| {
        form.clone()
            .set("email", email)
            .set("password", "not the password")
    });
    let timed = |form| {
        let browser = &browser;
        async move {
            let start = std::time::Instant::now();
            assert_eq!(browser.submit(form).await.status, 401);
            start.elapsed()
        }
    };
    // Warm up (connection, password threads), then interleave the kinds, each round starting
    // with another one, so a slow spell of a loaded machine falls on all of them alike.
    for form in &kinds {
        timed(form).await;
    }
    const TRIES: usize = 21;
    let mut times: [Vec<std::time::Duration>; 3] = Default::default();
    for round in 0..TRIES {
        for i in 0..kinds.len() {
            let k = (round + i) % kinds.len();
            times[k].push(timed(&kinds[k]).await);
        }
    }
    let [wrong_password, unknown_email, malformed_email] = times.map(|mut t| {
        t.sort_unstable();
        t[t.len() / 2]
    });
    // Without a password hash to check, an unknown email would answer many times faster.
    for (what, took) in [("unknown", unknown_email), ("malformed", malformed_email)] {
        let ratio = took.as_secs_f64() / wrong_password.as_secs_f64();
        assert!(
            (0.5..=2.0).contains(&ratio),
            "median of {TRIES}: {what} email answered in {took:?}, a wrong password in \
             {wrong_password:?}"
        );
    }
}

#[tokio::test]
async fn log_in_renews_the_session_key() {
    let app = spawn_app().await;
    let (org, _) = app.org_with("Acme", Plan::Starter, Role::Owner).await;

    let jar = Arc::new(Jar::default());
    let browser = app.browser_with_jar(jar.clone(), true);
    let login = browser.get("/login").await;
    let before = session_cookie(&app, &jar);
    let form = login
        .form("form[action='/login']")
        .set("email", "owner@acme.test")
        .set("password", PASSWORD);
    let done = browser.submit(&form).await;
    assert_eq!(done.path(), format!("/orgs/{org}"));
    let after = session_cookie(&app, &jar);
    assert_ne!(before, after);

    // Session fixation: whoever planted or saw the pre-log-in cookie is not signed in by it.
    let attacker = browser_with_cookie(&app, &before, true);
    let page = attacker.get(&format!("/orgs/{org}/team")).await;
    assert_eq!(page.path(), "/login", "the old session key still works");
    // The new one does (the replay technique itself works).
    let owner_again = browser_with_cookie(&app, &after, true);
    let page = owner_again.get(&format!("/orgs/{org}/team")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.path(), format!("/orgs/{org}/team"));
}

#[tokio::test]
async fn accepting_an_invitation_renews_the_session_key() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "newbie@example.com", "viewer", "").await;
    let link = app.email_to("newbie@example.com").await.invitation_path();

    let jar = Arc::new(Jar::default());
    let invitee = app.browser_with_jar(jar.clone(), true);
    let page = invitee.get(&link).await;
    let before = session_cookie(&app, &jar);
    let form = page
        .form("form[action$='/register']")
        .set("name", "New Bie")
        .set("password", "a good long password");
    let done = invitee.submit(&form).await;
    assert!(done.shows("You joined Acme as Viewer"), "{}", done.text());
    let after = session_cookie(&app, &jar);
    assert_ne!(before, after);

    let attacker = browser_with_cookie(&app, &before, true);
    assert_eq!(attacker.get(&format!("/orgs/{org}")).await.path(), "/login");
    let invitee_again = browser_with_cookie(&app, &after, true);
    assert_eq!(
        invitee_again.get(&format!("/orgs/{org}")).await.path(),
        format!("/orgs/{org}")
    );

    // The same for "Log in & accept".
    app.create_user("ada@example.com", "Ada");
    owner.invite(org, "ada@example.com", "viewer", "").await;
    let link = app.email_to("ada@example.com").await.invitation_path();
    let jar = Arc::new(Jar::default());
    let ada = app.browser_with_jar(jar.clone(), true);
    let page = ada.get(&link).await;
    let before = session_cookie(&app, &jar);
    let done = ada
        .submit(
            &page
                .form("form[action$='/login']")
                .set("password", PASSWORD),
        )
        .await;
    assert!(done.shows("You joined Acme as Viewer"), "{}", done.text());
    assert_ne!(session_cookie(&app, &jar), before);
    assert_eq!(
        browser_with_cookie(&app, &before, true)
            .get(&format!("/orgs/{org}"))
            .await
            .path(),
        "/login"
    );
}

/// Logs in through `/login?next=…` (as the query gives it) with a browser that does not follow
/// redirects; returns where the log-in sends it.
async fn login_location(app: &TestApp, query_next: &str, form_next: Option<&str>) -> String {
    let browser = app.browser_without_redirects();
    let query: String = url::form_urlencoded::byte_serialize(query_next.as_bytes()).collect();
    let page = browser.get(&format!("/login?next={query}")).await;
    assert_eq!(page.status, 200);
    let mut form = page
        .form("form[action='/login']")
        .set("email", "owner@acme.test")
        .set("password", PASSWORD);
    if let Some(next) = form_next {
        form = form.set("next", next);
    }
    let done = browser.submit(&form).await;
    assert_eq!(done.status, 303, "{}", done.text());
    done.header("location").unwrap()
}

#[tokio::test]
async fn after_log_in_next_goes_only_to_local_paths() {
    // Many log-ins from one address: lift the rate limit, which is not under test here.
    let app = spawn_app_with(|s| s.login_attempts_per_minute = 1_000).await;
    let (org, _) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let team = format!("/orgs/{org}/team");

    // A local path is followed, all the way to the page.
    let browser = app.browser();
    let page = browser.get(&format!("/login?next={team}")).await;
    let done = browser
        .submit(
            &page
                .form("form[action='/login']")
                .set("email", "owner@acme.test")
                .set("password", PASSWORD),
        )
        .await;
    assert_eq!(done.path(), team);
    assert!(done.shows("Team Management"), "{}", done.text());
    assert_eq!(login_location(&app, &team, None).await, team);

    for evil in [
        "//evil.example",
        "//evil.example/orgs",
        "https://evil.example",
        "http://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
    ] {
        // Through the query string, as a link would carry it…
        assert_eq!(login_location(&app, evil, None).await, "/", "next={evil:?}");
        // …and typed straight into the form field.
        assert_eq!(
            login_location(&app, "/", Some(evil)).await,
            "/",
            "form next={evil:?}"
        );
    }
    // A browser following the redirect stays on this site.
    let browser = app.browser();
    let page = browser.get("/login?next=//evil.example").await;
    let done = browser
        .submit(
            &page
                .form("form[action='/login']")
                .set("email", "owner@acme.test")
                .set("password", PASSWORD),
        )
        .await;
    assert!(done.url.starts_with(&app.address), "{}", done.url);
}

#[tokio::test]
async fn a_signed_out_visit_comes_back_after_log_in() {
    let app = spawn_app().await;
    let (org, _) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    let team = format!("/orgs/{org}/team");

    let raw = app.browser_without_redirects().get(&team).await;
    assert_eq!(raw.status, 303);
    let location = raw.header("location").unwrap();
    assert!(location.starts_with("/login?next="), "{location}");

    let browser = app.browser();
    let page = browser.get(&team).await;
    assert_eq!(page.path(), "/login");
    let next = reqwest::Url::parse(&page.url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned());
    assert_eq!(next.as_deref(), Some(team.as_str()));
    assert_eq!(page.attrs("input[name=next]", "value"), vec![team.clone()]);

    let done = browser
        .submit(
            &page
                .form("form[action='/login']")
                .set("email", "admin@acme.test")
                .set("password", PASSWORD),
        )
        .await;
    assert_eq!(done.status, 200);
    assert_eq!(done.path(), format!("/orgs/{org}/team"));
    assert!(done.shows("Team Management"), "{}", done.text());
}

fn assert_signed_out(page: &Page) {
    assert_eq!(page.path(), "/login", "{}", page.url);
    assert!(page.shows("Log in"), "{}", page.text());
}

#[tokio::test]
async fn log_out_ends_the_session_at_once() {
    let app = spawn_app().await;
    let (org, _) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let owner_id = user_id(&app, "owner@acme.test");

    let jar = Arc::new(Jar::default());
    let owner = app.browser_with_jar(jar.clone(), true);
    owner.login("owner@acme.test", PASSWORD).await;
    let cookie = session_cookie(&app, &jar);
    let team = format!("/orgs/{org}/team");
    // The copied cookie works while the session lives.
    assert_eq!(
        browser_with_cookie(&app, &cookie, true)
            .get(&team)
            .await
            .status,
        200
    );
    // The helper's own login above made a session too; count only what this log-out ends.
    let rows_before = session_rows_of(&app, &owner_id);
    assert!(rows_before >= 1);

    let out = owner.click(&team, "/logout").await;
    assert_eq!(out.path(), "/login");
    assert!(out.shows("You are logged out."), "{}", out.text());
    assert_signed_out(&owner.get(&team).await);

    // Reusing the old cookie value, as a stolen copy would: the session is gone.
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{team}", app.address))
        .header("cookie", format!("{SESSION_COOKIE}={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 303);
    assert!(
        raw.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
    assert_signed_out(&browser_with_cookie(&app, &cookie, true).get(&team).await);
    assert_eq!(
        session_rows_of(&app, &owner_id),
        rows_before - 1,
        "the session row is deleted"
    );
}

#[tokio::test]
async fn a_demotion_takes_effect_on_the_next_request() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    let team = format!("/orgs/{org}/team");
    assert_eq!(admin.get(&team).await.status, 200);
    let page = admin.get(&format!("/orgs/{org}/team/invite")).await;
    let form = page.form("form.invite-form").set("emails", "x@example.com");

    let admin_id = user_id(&app, "admin@acme.test");
    let changed = app.query(move |c| {
        Ok(
            diesel::update(memberships::table.filter(memberships::user_id.eq(admin_id)))
                .set(memberships::role.eq("viewer"))
                .execute(c)?,
        )
    });
    assert_eq!(changed, 1);

    let page = admin.get(&team).await;
    assert_eq!(page.status, 403, "{}", page.text());
    assert!(page.shows("Viewer"), "{}", page.text());
    // A form loaded before the demotion no longer works either.
    let sent = admin.submit(&form).await;
    assert_eq!(sent.status, 403, "{}", sent.text());
    assert_eq!(app.invitation_count(), 0);
    // Still signed in, still a member: the dashboard shows the new role.
    let dashboard = admin.get(&format!("/orgs/{org}")).await;
    assert_eq!(dashboard.status, 200);
    assert!(dashboard.shows("Viewer"), "{}", dashboard.text());
}

#[tokio::test]
async fn health_endpoints_answer() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    for path in ["/healthz", "/readyz"] {
        let resp = client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert!(!resp.text().await.unwrap().is_empty());
    }
}
