//! Log-in, log-out and sessions (DESIGN.md, "Security rules"): one answer for every failed
//! log-in, a new session key on log-in and acceptance, local redirects only, log-out that ends
//! the session at once, roles read on every request, and the health endpoints.

use joinery::paths;
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
        assert_eq!(
            page.path(),
            paths::LOGIN.pattern(),
            "{email}: not signed in"
        );
        let error = page.texts(".form-error");
        // The visible text (what was typed goes back only into the email field's value).
        let shown = page.text();
        answers.push((page.status, error, shown));
        // And the browser is still signed out.
        assert_eq!(browser.get("/").await.path(), paths::LOGIN.pattern());
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
    assert_ne!(page.path(), paths::LOGIN.pattern());
}

#[tokio::test]
async fn an_unknown_email_takes_as_long_as_a_wrong_password() {
    // Many attempts from one address: lift the rate limit, which is not under test here.
    let app = spawn_app_with(|s| s.login_attempts_per_minute = 1_000).await;
    app.create_user("ada@example.com", "Ada");
    let browser = app.browser();
    let form = browser
        .get(paths::LOGIN.pattern())
        .await
        .form("form[action='/login']");
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

fn all_session_rows(app: &TestApp) -> i64 {
    app.query(|c| Ok(sessions::table.count().get_result::<i64>(c)?))
}

/// DESIGN.md, "Security rules": no server-side session exists before sign-in, and the key is
/// renewed on log-in: every log-in starts a session under a key never used before, and the
/// key of a session that ended signs nobody in.
#[tokio::test]
async fn log_in_renews_the_session_key() {
    let app = spawn_app().await;
    let (org, _) = app.org_with("Acme", Plan::Starter, Role::Owner).await;

    let jar = Arc::new(Jar::default());
    let browser = app.browser_with_jar(jar.clone(), true);
    let rows = all_session_rows(&app);
    let login = browser.get(paths::LOGIN.pattern()).await;
    assert_eq!(cookie_value(&jar, &app.address, SESSION_COOKIE), None);
    assert_eq!(
        all_session_rows(&app),
        rows,
        "showing the log-in form wrote a session"
    );
    let form = login
        .form("form[action='/login']")
        .set("email", "owner@acme.test")
        .set("password", PASSWORD);
    let done = browser.submit(&form).await;
    assert_eq!(done.path(), paths::dashboard(org));
    let first = session_cookie(&app, &jar);

    // Log out and in again: a new key, and the first one signs nobody in.
    browser
        .click(&paths::dashboard(org), paths::LOGOUT.pattern())
        .await;
    let login = browser.get(paths::LOGIN.pattern()).await;
    let done = browser
        .submit(
            &login
                .form("form[action='/login']")
                .set("email", "owner@acme.test")
                .set("password", PASSWORD),
        )
        .await;
    assert_eq!(done.path(), paths::dashboard(org));
    let second = session_cookie(&app, &jar);
    assert_ne!(first, second);
    let old = browser_with_cookie(&app, &first, true);
    let page = old.get(&paths::team(org)).await;
    assert_eq!(
        page.path(),
        paths::LOGIN.pattern(),
        "the ended session's key still works"
    );
    // The new one does (the replay technique itself works).
    let owner_again = browser_with_cookie(&app, &second, true);
    let page = owner_again.get(&paths::team(org)).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.path(), paths::team(org));
}

/// Acceptance signs the invitee in under a new key; before it, opening the link created no
/// session at all (so there is none to fix in advance).
#[tokio::test]
async fn accepting_an_invitation_renews_the_session_key() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "newbie@example.com", "viewer", "").await;
    let link = app.email_to("newbie@example.com").await.invitation_path();

    let jar = Arc::new(Jar::default());
    let invitee = app.browser_with_jar(jar.clone(), true);
    let rows = all_session_rows(&app);
    let page = invitee.get(&link).await;
    assert_eq!(cookie_value(&jar, &app.address, SESSION_COOKIE), None);
    assert_eq!(all_session_rows(&app), rows);
    let form = page
        .form("form[action$='/register']")
        .set("name", "New Bie")
        .set("password", "a good long password");
    let done = invitee.submit(&form).await;
    assert!(done.shows("You joined Acme as Viewer"), "{}", done.text());
    let after = session_cookie(&app, &jar);
    let invitee_again = browser_with_cookie(&app, &after, true);
    assert_eq!(
        invitee_again.get(&paths::dashboard(org)).await.path(),
        paths::dashboard(org)
    );

    // The same for "Log in & accept".
    app.create_user("ada@example.com", "Ada");
    owner.invite(org, "ada@example.com", "viewer", "").await;
    let link = app.email_to("ada@example.com").await.invitation_path();
    let jar = Arc::new(Jar::default());
    let ada = app.browser_with_jar(jar.clone(), true);
    let page = ada.get(&link).await;
    assert_eq!(cookie_value(&jar, &app.address, SESSION_COOKIE), None);
    let done = ada
        .submit(
            &page
                .form("form[action$='/login']")
                .set("password", PASSWORD),
        )
        .await;
    assert!(done.shows("You joined Acme as Viewer"), "{}", done.text());
    let after = session_cookie(&app, &jar);
    assert_eq!(
        browser_with_cookie(&app, &after, true)
            .get(&paths::dashboard(org))
            .await
            .path(),
        paths::dashboard(org)
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
    let team = paths::team(org);

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
    let team = paths::team(org);

    let raw = app.browser_without_redirects().get(&team).await;
    assert_eq!(raw.status, 303);
    let location = raw.header("location").unwrap();
    assert!(location.starts_with("/login?next="), "{location}");

    let browser = app.browser();
    let page = browser.get(&team).await;
    assert_eq!(page.path(), paths::LOGIN.pattern());
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
    assert_eq!(done.path(), paths::team(org));
    assert!(done.shows("Team Management"), "{}", done.text());
}

fn assert_signed_out(page: &Page) {
    assert_eq!(page.path(), paths::LOGIN.pattern(), "{}", page.url);
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
    let team = paths::team(org);
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

    let out = owner.click(&team, paths::LOGOUT.pattern()).await;
    assert_eq!(out.path(), paths::LOGIN.pattern());
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
            .starts_with(paths::LOGIN.pattern())
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
    let team = paths::team(org);
    assert_eq!(admin.get(&team).await.status, 200);
    let page = admin.get(&paths::invite(org)).await;
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
    let dashboard = admin.get(&paths::dashboard(org)).await;
    assert_eq!(dashboard.status, 200);
    assert!(dashboard.shows("Viewer"), "{}", dashboard.text());
}

#[tokio::test]
async fn health_endpoints_answer() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    for path in [paths::HEALTHZ.pattern(), paths::READYZ.pattern()] {
        let resp = client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert!(!resp.text().await.unwrap().is_empty());
    }
}

/// DESIGN.md, "Security rules": log-out ends the session at once, and "a request in flight
/// cannot bring an ended session back". The invite POST below has its session loaded when
/// the log-out happens, and only then finishes (writing its result into the session).
#[tokio::test]
async fn a_request_in_flight_cannot_bring_a_logged_out_session_back() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Professional, Role::Owner).await;
    let owner_id = user_id(&app, "owner@acme.test");
    let form = owner
        .get(&paths::invite(org))
        .await
        .form("form.invite-form");
    let csrf = form
        .fields
        .iter()
        .find(|(n, _)| n == "csrf_token")
        .map(|(_, v)| v.clone())
        .unwrap();
    let held = owner
        .post_held(
            &form.action,
            &format!("csrf_token={csrf}&role=viewer&message=&emails=one%40example.com%2C"),
        )
        .await;

    let logged_out = owner
        .click(&paths::dashboard(org), paths::LOGOUT.pattern())
        .await;
    assert_eq!(logged_out.path(), paths::LOGIN.pattern());
    assert_eq!(
        session_rows_of(&app, &owner_id),
        0,
        "log-out ended the session"
    );

    let answer = held.finish("two%40example.com").await;
    assert_eq!(
        answer.path(),
        paths::LOGIN.pattern(),
        "the held request ends signed out"
    );
    assert_eq!(
        session_rows_of(&app, &owner_id),
        0,
        "no session of the owner was written again"
    );
    let after = owner.get(&paths::team(org)).await;
    assert_eq!(
        after.path(),
        paths::LOGIN.pattern(),
        "the browser is signed out"
    );
}

/// DESIGN.md, "Security rules": no server-side session exists before sign-in, so reading a
/// page never writes to the database — mail scanners and a loop of `GET /login` add no rows.
#[tokio::test]
async fn signed_out_page_views_write_no_session_row() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "newbie@example.com", "viewer", "").await;
    let link = app.email_to("newbie@example.com").await.invitation_path();
    let rows = all_session_rows(&app);

    for _ in 0..20 {
        let scanner = app.browser();
        assert_eq!(scanner.get(paths::LOGIN.pattern()).await.status, 200);
        assert_eq!(scanner.get(paths::SIGNUP.pattern()).await.status, 200);
        assert_eq!(scanner.get(&link).await.status, 200);
    }
    // One browser clicking around while signed out, with its cookies kept.
    let visitor = app.browser();
    for path in [
        paths::LOGIN.pattern(),
        paths::SIGNUP.pattern(),
        &link,
        "/login?next=/",
    ] {
        assert_eq!(visitor.get(path).await.status, 200, "{path}");
    }
    // A failed log-in and its message write nothing either.
    assert_eq!(visitor.login("owner@acme.test", "wrong").await.status, 401);
    assert_eq!(
        all_session_rows(&app),
        rows,
        "a signed-out visit wrote a session row"
    );

    // The log-out message travels without a session.
    owner
        .click(&paths::dashboard(org), paths::LOGOUT.pattern())
        .await;
    let after = app.query(|c| Ok(sessions::table.count().get_result::<i64>(c)?));
    assert_eq!(
        after,
        rows - 1,
        "log-out deleted the owner's row and wrote none"
    );
}

/// A signed-out visitor's CSRF token is bound to the cookie its page set: without that cookie,
/// or with another browser's, a POST is refused (403) and changes nothing.
#[tokio::test]
async fn a_signed_out_forms_csrf_token_is_bound_to_its_cookie() {
    let app = spawn_app().await;
    let (org, _) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let alice = app.browser();
    let form = alice
        .get(paths::LOGIN.pattern())
        .await
        .form("form[action='/login']")
        .set("email", "owner@acme.test")
        .set("password", PASSWORD);

    let no_cookie = app.browser().submit(&form).await;
    assert_eq!(no_cookie.status, 403, "{}", no_cookie.text());
    assert!(no_cookie.shows("This form has expired"));

    let bob = app.browser();
    bob.get(paths::LOGIN.pattern()).await;
    let other_cookie = bob.submit(&form).await;
    assert_eq!(other_cookie.status, 403, "{}", other_cookie.text());
    assert_eq!(
        bob.get(&paths::dashboard(org)).await.path(),
        paths::LOGIN.pattern()
    );

    let own = alice.submit(&form).await;
    assert_eq!(own.path(), paths::dashboard(org), "{}", own.text());
}
