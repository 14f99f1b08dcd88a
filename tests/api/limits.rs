//! Rate limits on password work and token look-ups (DESIGN.md, "Security rules": rate limits
//! on log-in attempts per client and per account, on every route that hashes or verifies a
//! password, and on token look-ups).
//!
//! Tests that need many clients run behind a trusted proxy (127.0.0.1) and give each request
//! an `X-Forwarded-For` address of its own, as a proxy in front of many visitors would.

use chrono::Duration;
use diesel::prelude::*;
use joinery::db::schema::{invitations, users};
use joinery::domain::{OrganizationId, Plan, Role};
use joinery::paths;

use crate::helpers::{Browser, Form, PASSWORD, Page, TestApp, spawn_app_with};

/// Settings for a test with many clients: 127.0.0.1 is a trusted proxy, so each request's
/// `X-Forwarded-For` names its client.
fn behind_a_proxy(s: &mut joinery::config::Settings) {
    s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
}

/// The n-th of many distinct client addresses (TEST-NET-2 and TEST-NET-3).
fn client(n: usize) -> String {
    format!("198.51.{}.{}", 100 + n / 250, 1 + n % 250)
}

/// Submits `form` as if from `ip`.
async fn from(browser: &Browser, form: &Form, ip: &str) -> Page {
    browser
        .submit_with_headers(form, &[("X-Forwarded-For", ip)])
        .await
}

/// A 429 as the status policy has it: the styled page and a `Retry-After` of at least 1 s.
fn assert_limited(page: &Page, what: &str) {
    assert_eq!(page.status, 429, "{what}: {}", page.text());
    let wait: u64 = page
        .header("retry-after")
        .unwrap_or_else(|| panic!("{what}: no Retry-After"))
        .parse()
        .unwrap();
    assert!(wait >= 1, "{what}: Retry-After {wait}");
    assert!(page.shows("Too many attempts"), "{what}: {}", page.text());
}

fn user_count(app: &TestApp) -> i64 {
    app.query(|c| Ok(users::table.count().get_result::<i64>(c)?))
}

fn statuses(app: &TestApp) -> Vec<(String, String)> {
    app.query(|c| {
        Ok(invitations::table
            .select((invitations::email, invitations::status))
            .order(invitations::email)
            .load::<(String, String)>(c)?)
    })
}

/// Invites `email` as an Editor of `org`: the link's path, from the delivered email.
async fn invite(app: &TestApp, owner: &Browser, org: OrganizationId, email: &str) -> String {
    invite_as(app, owner, org, email, "editor").await
}

/// Invites `email` as `role` of `org`: the link's path.
async fn invite_as(
    app: &TestApp,
    owner: &Browser,
    org: OrganizationId,
    email: &str,
    role: &str,
) -> String {
    let sent = owner.invite(org, email, role, "").await;
    assert!(sent.shows("1 invitation sent"), "{}", sent.text());
    app.email_to(email).await.invitation_path()
}

/// Opens the invitation `link` in a fresh browser while it is still usable: that browser and
/// its filled-in "Create account & join" form.
async fn register_form(app: &TestApp, link: &str) -> (Browser, Form) {
    let browser = app.browser();
    let page = browser.get(link).await;
    assert!(page.shows("Create account & join"), "{}", page.text());
    let form = page
        .form("form[action$='/register']")
        .set("name", "Late Comer")
        .set("password", "a good long password");
    (browser, form)
}

/// Revokes the pending invitation to `email` through the Team page.
async fn revoke(owner: &Browser, org: OrganizationId, email: &str) {
    let team = owner.get(&paths::team(org)).await;
    let css = "section[aria-labelledby='pending-heading'] a[href$='/revoke']";
    let href = team
        .texts(css)
        .into_iter()
        .zip(team.attrs(css, "href"))
        .find(|(text, _)| text.contains(email))
        .unwrap_or_else(|| panic!("no Revoke link for {email}: {}", team.text()))
        .1;
    let confirm = owner.get(&href).await;
    let done = owner
        .submit(&confirm.form(&format!("form[action='{href}']")))
        .await;
    assert_eq!(done.status, 200, "{}", done.text());
}

/// `n` posts of `form` at once, each from a client of its own (numbered from `first`).
async fn flood(browser: &Browser, form: &Form, first: usize, n: usize) -> Vec<u16> {
    let posts =
        (first..first + n).map(|i| async move { from(browser, form, &client(i)).await.status });
    futures::future::join_all(posts).await
}

/// An invitation that has expired, been revoked or been used, or whose inviter may no longer
/// grant it, gets its 410 before the password is hashed: a flood of such posts from many
/// clients (each within its own per-client budget) never reaches the one password thread, so
/// none is turned away as "busy" and a log-in during the flood still gets in. The lapsed
/// inviter's invitation is written Revoked, as acceptance does; nothing else changes.
#[tokio::test]
async fn registering_on_an_unusable_invitation_is_refused_before_any_hashing() {
    let app = spawn_app_with(|s| {
        behind_a_proxy(s);
        // One thread with room for 32 waiting: more than 33 hashes at once are refused.
        s.password_threads = 1;
    })
    .await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    app.create_user("ada@example.com", "Ada");

    let link = invite(&app, &owner, org, "expired@example.com").await;
    let expired = register_form(&app, &link).await;
    app.advance(Duration::days(8));
    let link = invite(&app, &owner, org, "revoked@example.com").await;
    let revoked = register_form(&app, &link).await;
    revoke(&owner, org, "revoked@example.com").await;
    let link = invite(&app, &owner, org, "used@example.com").await;
    let used = register_form(&app, &link).await;
    let (first, form) = register_form(&app, &link).await;
    let joined = first.submit(&form).await;
    assert_eq!(joined.path(), paths::dashboard(org), "{}", joined.text());
    // An Owner invitation from an Owner since made Admin (a second Owner remains).
    let second = app.create_user("second@acme.test", "Second Owner");
    app.add_member(org, second, Role::Owner);
    let link = invite_as(&app, &owner, org, "lapsed@example.com", "owner").await;
    let lapsed = register_form(&app, &link).await;
    let owner_id = app
        .query(|c| {
            joinery::db::users::find_credentials(
                c,
                &joinery::domain::EmailAddress::parse("owner@acme.test").unwrap(),
            )
        })
        .unwrap()
        .user
        .id;
    app.query(|c| {
        let m = joinery::db::organizations::membership(c, org, owner_id)?.unwrap();
        joinery::db::organizations::set_role(c, m.id, Role::Admin)
    });
    let users_before = user_count(&app);
    let invitations_before = statuses(&app);

    let login_page = app.browser();
    let login_form = login_page
        .get(paths::LOGIN.pattern())
        .await
        .form("form[action='/login']")
        .set("email", "ada@example.com")
        .set("password", PASSWORD);
    let ((expired_answers, revoked_answers, used_answers, lapsed_answers), login) = futures::join!(
        async {
            futures::join!(
                flood(&expired.0, &expired.1, 0, 60),
                flood(&revoked.0, &revoked.1, 100, 60),
                flood(&used.0, &used.1, 200, 60),
                flood(&lapsed.0, &lapsed.1, 300, 60),
            )
        },
        from(&login_page, &login_form, "203.0.113.9"),
    );
    assert_eq!(expired_answers, vec![410; 60], "expired");
    assert_eq!(revoked_answers, vec![410; 60], "revoked");
    assert_eq!(used_answers, vec![410; 60], "used");
    assert_eq!(lapsed_answers, vec![410; 60], "inviter lapsed");
    assert_eq!(
        login.status,
        200,
        "log-in during the flood: {}",
        login.text()
    );
    assert_ne!(
        login.path(),
        paths::LOGIN.pattern(),
        "log-in during the flood: {}",
        login.text()
    );
    assert_eq!(user_count(&app), users_before, "no account was made");
    let expected: Vec<_> = invitations_before
        .into_iter()
        .map(|(email, status)| match email.as_str() {
            "lapsed@example.com" => (email, "revoked".to_owned()),
            _ => (email, status),
        })
        .collect();
    assert_eq!(statuses(&app), expected, "only the lapsed one was revoked");
}

/// POST /invitations/{token}/register sits behind the per-client limit (10 a minute): the
/// 11th from one client gets 429 with `Retry-After`, another client still gets its answer.
#[tokio::test]
async fn invitation_registration_is_limited_per_client_with_retry_after() {
    let app = spawn_app_with(behind_a_proxy).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let link = invite(&app, &owner, org, "revoked@example.com").await;
    let (browser, form) = register_form(&app, &link).await;
    revoke(&owner, org, "revoked@example.com").await;
    for attempt in 1..=10 {
        let page = from(&browser, &form, "198.51.100.7").await;
        assert_eq!(page.status, 410, "attempt {attempt}: {}", page.text());
    }
    assert_limited(&from(&browser, &form, "198.51.100.7").await, "11th");
    let other = from(&browser, &form, "198.51.100.8").await;
    assert_eq!(other.status, 410, "another client: {}", other.text());
}

/// POST /invitations/{token}/organization (tenant-owner acceptance, which verifies or hashes
/// a password) sits behind the per-client limit: the 11th from one client gets 429.
#[tokio::test]
async fn tenant_owner_acceptance_is_limited_per_client() {
    let app = spawn_app_with(behind_a_proxy).await;
    app.create_staff("staff@joinery.test", "Sam Staff");
    app.create_user("founder@newco.example", "Fay Founder");
    let staff = app.logged_in("staff@joinery.test").await;
    let console = staff.get(paths::STAFF.pattern()).await;
    let sent = staff
        .submit(
            &console
                .form("form[action='/staff/tenant-invitations']")
                .set("email", "founder@newco.example")
                .set("plan", "starter"),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text());
    let link = app
        .email_to("founder@newco.example")
        .await
        .invitation_path();
    let browser = app.browser();
    let page = browser.get(&link).await;
    let form = page
        .form("form[action$='/organization']")
        .set("password", "not the password")
        .set("company", "NewCo");
    for attempt in 1..=10 {
        let page = from(&browser, &form, "198.51.100.7").await;
        assert_eq!(page.status, 401, "attempt {attempt}: {}", page.text());
    }
    assert_limited(&from(&browser, &form, "198.51.100.7").await, "11th");
}

/// POST /signup/{token} (which hashes the new password) sits behind the per-client limit.
#[tokio::test]
async fn sign_up_completion_is_limited_per_client() {
    let app = spawn_app_with(behind_a_proxy).await;
    let browser = app.browser();
    let page = browser.get(paths::SIGNUP.pattern()).await;
    let sent = browser
        .submit(
            &page
                .form("form[action='/signup']")
                .set("email", "new@example.com"),
        )
        .await;
    assert!(sent.shows("Check your email"), "{}", sent.text());
    let text = app.email_to("new@example.com").await.text;
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/signup/"))
        .unwrap();
    let page = browser.get(&link[link.find("/signup/").unwrap()..]).await;
    let form = page
        .form("form.signup-complete-form")
        .set("name", "New Person")
        .set("password", "short")
        .set("organization", "NewCo");
    for attempt in 1..=10 {
        let page = from(&browser, &form, "198.51.100.7").await;
        assert_eq!(page.status, 422, "attempt {attempt}: {}", page.text());
    }
    assert_limited(&from(&browser, &form, "198.51.100.7").await, "11th");
}

/// After 10 failed log-ins for one account — from 10 different clients, so no per-client
/// limit applies — the account takes no more tries until the window passes: the 11th failure
/// and then the right password get the same 401 page as a wrong password, revealing nothing.
/// Unknown addresses are counted alike (an account created for one later is locked too).
/// The limiter reads the app's clock, so the test moves that clock past the window.
#[tokio::test]
async fn an_account_past_ten_failed_log_ins_is_answered_as_a_wrong_password_until_the_window_passes()
 {
    let app = spawn_app_with(behind_a_proxy).await;
    app.create_user("ada@example.com", "Ada");
    let browser = app.browser();
    let form = browser
        .get(paths::LOGIN.pattern())
        .await
        .form("form[action='/login']");
    let wrong = form
        .clone()
        .set("email", "Ada@Example.com ")
        .set("password", "not the password");
    let mut last = None;
    for n in 0..10 {
        let page = from(&browser, &wrong, &client(n)).await;
        assert_eq!(page.status, 401, "failure {}: {}", n + 1, page.text());
        last = Some(page.body);
    }
    let failed_body = last.unwrap();
    let eleventh = from(&browser, &wrong, &client(10)).await;
    assert_eq!(eleventh.status, 401, "{}", eleventh.text());
    assert_eq!(
        eleventh.body, failed_body,
        "the 11th failure looks like any other"
    );

    // The same address as typed before, so the page (which repeats it) is the same too.
    let right = form
        .clone()
        .set("email", "Ada@Example.com ")
        .set("password", PASSWORD);
    let refused = from(&browser, &right, &client(11)).await;
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert_eq!(
        refused.body, failed_body,
        "the right password is answered alike"
    );

    // Unknown addresses count the same way.
    let unknown = form
        .clone()
        .set("email", "later@example.com")
        .set("password", "not the password");
    for n in 20..31 {
        let page = from(&browser, &unknown, &client(n)).await;
        assert_eq!(page.status, 401, "{}", page.text());
    }
    app.create_user("later@example.com", "Later");
    let later = form
        .clone()
        .set("email", "later@example.com")
        .set("password", PASSWORD);
    assert_eq!(from(&browser, &later, &client(40)).await.status, 401);

    // Once the window has passed, the right password gets in.
    app.advance(Duration::minutes(15));
    let done = from(&browser, &right, &client(12)).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_ne!(done.path(), paths::LOGIN.pattern(), "{}", done.text());
    let later_browser = app.browser();
    let later = later_browser
        .get(paths::LOGIN.pattern())
        .await
        .form("form[action='/login']")
        .set("email", "later@example.com")
        .set("password", PASSWORD);
    let done = from(&later_browser, &later, &client(41)).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_ne!(done.path(), paths::LOGIN.pattern(), "{}", done.text());
}

/// After 20 token look-ups in a minute that found nothing (404), a client gets 429 with
/// `Retry-After` on every token look-up — a valid token's included, GET and POST — until
/// the window passes; other clients and other pages are unaffected.
#[tokio::test]
async fn token_misses_past_the_budget_refuse_every_token_look_up_until_the_window_passes() {
    let app = spawn_app_with(behind_a_proxy).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let valid = invite(&app, &owner, org, "valid@example.com").await;
    let (browser, form) = register_form(&app, &valid).await;
    let get_from = |path: String, ip: &'static str| {
        let browser = &browser;
        async move {
            let resp = reqwest::Client::new()
                .get(format!("{}{path}", browser.base))
                .header("X-Forwarded-For", ip)
                .send()
                .await
                .unwrap();
            Page {
                status: resp.status().as_u16(),
                url: resp.url().to_string(),
                headers: resp.headers().clone(),
                body: resp.text().await.unwrap(),
            }
        }
    };
    let guesser = "198.51.100.66";
    assert_eq!(get_from(valid.clone(), guesser).await.status, 200);
    for n in 0..20 {
        let guess = format!("{:A>32}", n);
        let path = match n % 3 {
            0 => paths::invitation(&guess),
            1 => paths::join(&guess),
            _ => paths::signup_link(&guess),
        };
        let page = get_from(path.clone(), guesser).await;
        assert_eq!(page.status, 404, "miss {}: {path}", n + 1);
    }
    assert_limited(
        &get_from(format!("/join/{}", "B".repeat(32)), guesser).await,
        "the 21st miss",
    );
    assert_limited(&get_from(valid.clone(), guesser).await, "a valid token");
    assert_limited(
        &from(&browser, &form, guesser).await,
        "a POST with a valid token",
    );
    assert_eq!(
        get_from(paths::LOGIN.pattern().into(), guesser)
            .await
            .status,
        200,
        "other pages are not token look-ups"
    );
    assert_eq!(
        get_from(valid.clone(), "198.51.100.67").await.status,
        200,
        "another client"
    );

    app.advance(Duration::minutes(1));
    assert_eq!(get_from(valid.clone(), guesser).await.status, 200);
    let joined = from(&browser, &form, guesser).await;
    assert_eq!(joined.path(), paths::dashboard(org), "{}", joined.text());
}
