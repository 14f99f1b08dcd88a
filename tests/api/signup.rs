//! Self-serve sign-up (DESIGN.md, "Pages → Account"): the form emails a link
//! that proves the address, the same page answers every address, following the link creates
//! the account and its Trial organization exactly once, and the link is single use, expires
//! after 24 hours and is never stored.

use joinery::paths;
use std::sync::Arc;

use chrono::Duration;
use diesel::prelude::*;
use joinery::db::schema::{
    audit_events, memberships, organizations, outbox_emails, signup_requests, users,
};
use reqwest::cookie::Jar;
use sha2::{Digest, Sha256};

use crate::helpers::{Browser, Email, Page, TestApp, columns_containing, cookie_value, spawn_app};

const NEW_PASSWORD: &str = "a good long password";

/// The sign-up link in an email's text part.
fn signup_link(email: &Email) -> String {
    email
        .text
        .split_whitespace()
        .find(|w| w.contains("/signup/"))
        .unwrap_or_else(|| panic!("no sign-up link in: {}", email.text))
        .to_owned()
}

/// The path part of the sign-up link (`/signup/…`).
fn signup_path(email: &Email) -> String {
    let link = signup_link(email);
    link[link.find("/signup/").unwrap()..].to_owned()
}

/// Opens `/signup` in `browser` and asks for a link for `email`.
async fn ask(browser: &Browser, email: &str) -> Page {
    let page = browser.get(paths::SIGNUP.pattern()).await;
    assert_eq!(page.status, 200, "{}", page.text());
    browser
        .submit(&page.form("form[action='/signup']").set("email", email))
        .await
}

/// Asks for a link for `email` in a fresh browser and returns the browser and the link's path.
async fn link_for(app: &TestApp, email: &str) -> (Browser, String) {
    let browser = app.browser();
    let sent = ask(&browser, email).await;
    assert!(sent.shows("Check your email"), "{}", sent.text());
    let path = signup_path(&app.email_to(email).await);
    (browser, path)
}

/// The completion form on the link's page, filled in.
fn filled(page: &Page, name: &str, organization: &str) -> crate::helpers::Form {
    page.form("form.signup-complete-form")
        .set("name", name)
        .set("password", NEW_PASSWORD)
        .set("organization", organization)
}

fn users_with_email(app: &TestApp, email: &str) -> i64 {
    let email = email.to_owned();
    app.query(move |c| {
        Ok(users::table
            .filter(users::email.eq(email))
            .count()
            .get_result(c)?)
    })
}

fn organization_count(app: &TestApp) -> i64 {
    app.query(|c| Ok(organizations::table.count().get_result(c)?))
}

fn membership_count(app: &TestApp) -> i64 {
    app.query(|c| Ok(memberships::table.count().get_result(c)?))
}

fn signup_request_count(app: &TestApp) -> i64 {
    app.query(|c| Ok(signup_requests::table.count().get_result(c)?))
}

fn outbox_kinds_to(app: &TestApp, email: &str) -> Vec<String> {
    let email = email.to_owned();
    app.query(move |c| {
        Ok(outbox_emails::table
            .filter(outbox_emails::recipient.eq(email))
            .order(outbox_emails::created_at.asc())
            .select(outbox_emails::kind)
            .load(c)?)
    })
}

fn assert_link_page_headers(page: &Page) {
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
async fn signing_up_through_the_emailed_link_creates_an_owned_trial_organization() {
    let app = spawn_app().await;
    let browser = app.browser();

    // The log-in page links the sign-up page, and back.
    let login = browser.get(paths::LOGIN.pattern()).await;
    assert_eq!(login.attrs("a[href='/signup']", "href").len(), 1);
    assert!(login.shows("Sign up"));
    let form_page = browser.get(paths::SIGNUP.pattern()).await;
    assert!(form_page.shows("Sign up"));
    assert!(
        form_page.shows("We will email a sign-up link to this address"),
        "{}",
        form_page.text()
    );
    assert!(!form_page.attrs("main a[href='/login']", "href").is_empty());
    assert!(form_page.shows("Log in"));

    // The address is normalized before anything else.
    let sent = browser
        .submit(
            &form_page
                .form("form[action='/signup']")
                .set("email", "  New.Person@Example.COM "),
        )
        .await;
    assert_eq!(sent.status, 200);
    assert!(sent.shows("Check your email"), "{}", sent.text());
    assert!(sent.shows("new.person@example.com"), "{}", sent.text());
    // Nothing exists until the link is followed.
    assert_eq!(users_with_email(&app, "new.person@example.com"), 0);
    assert_eq!(organization_count(&app), 0);

    let email = app.email_to("new.person@example.com").await;
    assert_eq!(email.subject, "Finish signing up for Joinery");
    let link = signup_link(&email);
    assert!(
        link.starts_with(&format!("{}/signup/", app.address)),
        "{link}"
    );
    assert!(email.html.contains(&link), "{}", email.html);
    assert!(email.text.contains("expires on"), "{}", email.text);

    // Opening the link changes nothing (mail scanners open links) and shows the form.
    let invitee = app.browser();
    let page = invitee.get(&signup_path(&email)).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert_link_page_headers(&page);
    assert!(page.shows("Finish signing up"), "{}", page.text());
    assert_eq!(
        page.attrs("input#email", "value"),
        vec!["new.person@example.com"]
    );
    assert_eq!(page.attrs("input#email[readonly]", "id").len(), 1);
    assert!(
        page.attrs("input#email", "name").is_empty(),
        "the email is not a form field"
    );
    assert!(page.shows("Company name"));
    assert!(!page.attrs("main a[href='/login']", "href").is_empty());
    assert_eq!(users_with_email(&app, "new.person@example.com"), 0);

    let done = invitee
        .submit(&filled(&page, "New Person", "Newco Ltd"))
        .await;
    assert_eq!(done.status, 200, "{}", done.text());
    let org: String = app.query(|c| {
        Ok(organizations::table
            .filter(organizations::name.eq("Newco Ltd"))
            .select(organizations::id)
            .first(c)?)
    });
    assert_eq!(done.path(), paths::dashboard(org.parse().unwrap()));
    assert!(
        done.shows("Welcome to Joinery — Newco Ltd is on the Trial plan"),
        "{}",
        done.text()
    );
    assert!(done.shows("Owner"), "{}", done.text());
    assert!(done.shows("Trial"), "{}", done.text());

    // Stored: one account, one Trial organization, the person its Owner.
    let (user_id, name): (String, String) = app.query(|c| {
        Ok(users::table
            .filter(users::email.eq("new.person@example.com"))
            .select((users::id, users::name))
            .first(c)?)
    });
    assert_eq!(name, "New Person");
    let plan: String = app.query({
        let org = org.clone();
        move |c| {
            Ok(organizations::table
                .find(org)
                .select(organizations::plan)
                .first(c)?)
        }
    });
    assert_eq!(plan, "trial");
    let members: Vec<(String, String)> = app.query({
        let org = org.clone();
        move |c| {
            Ok(memberships::table
                .filter(memberships::organization_id.eq(org))
                .select((memberships::user_id, memberships::role))
                .load(c)?)
        }
    });
    assert_eq!(members, vec![(user_id.clone(), "owner".to_owned())]);

    // The audit trail records both events, by the new account, with the request's origin.
    let events: Vec<(String, Option<String>, String, Option<String>)> = app.query({
        let org = org.clone();
        move |c| {
            Ok(audit_events::table
                .filter(audit_events::organization_id.eq(org))
                .order(audit_events::action.asc())
                .select((
                    audit_events::action,
                    audit_events::actor_id,
                    audit_events::actor_label,
                    audit_events::ip,
                ))
                .load(c)?)
        }
    });
    let actions: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(actions, vec!["member.joined", "organization.created"]);
    for (_, actor, label, ip) in &events {
        assert_eq!(actor.as_deref(), Some(user_id.as_str()));
        assert_eq!(label, "New Person <new.person@example.com>");
        assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    }

    // A Trial organization cannot invite, and its Team page says so.
    let team = invitee.get(&paths::team(org.parse().unwrap())).await;
    assert_eq!(team.status, 200, "{}", team.text());
    assert!(
        team.shows("Team invitations are available on paid plans"),
        "{}",
        team.text()
    );

    // The password chosen works for logging in later.
    let later = app.browser();
    let logged_in = later.login("new.person@example.com", NEW_PASSWORD).await;
    assert_eq!(logged_in.path(), paths::dashboard(org.parse().unwrap()));
}

#[tokio::test]
async fn the_same_page_answers_new_and_registered_addresses() {
    let app = spawn_app().await;
    app.create_user("ada@example.com", "Ada");

    let new = ask(&app.browser(), "fresh@example.com").await;
    let existing = ask(&app.browser(), "ada@example.com").await;
    assert_eq!(new.status, 200);
    assert_eq!(existing.status, 200);
    assert_eq!(new.path(), existing.path());
    assert!(existing.shows("Check your email"), "{}", existing.text());
    assert_eq!(
        new.text().replace("fresh@example.com", "ADDRESS"),
        existing.text().replace("ada@example.com", "ADDRESS"),
        "the page tells whether an account exists"
    );

    // What differs is only the email, which only the address's owner reads.
    let fresh = app.email_to("fresh@example.com").await;
    assert!(signup_link(&fresh).contains("/signup/"));
    let ada = app.email_to("ada@example.com").await;
    assert_eq!(ada.subject, "You already have a Joinery account");
    assert!(
        ada.text.contains("you already have an account"),
        "{}",
        ada.text
    );
    assert!(
        ada.text.contains(&format!("{}/login", app.address)),
        "{}",
        ada.text
    );
    assert!(!ada.text.contains("/signup/"), "{}", ada.text);
    assert!(
        ada.html
            .contains(&format!("href=\"{}/login\"", app.address)),
        "{}",
        ada.html
    );
    // No sign-up link exists for the registered address, and Ada's account is untouched.
    assert_eq!(signup_request_count(&app), 1);
    assert_eq!(users_with_email(&app, "ada@example.com"), 1);
    assert_eq!(organization_count(&app), 0);
}

#[tokio::test]
async fn an_invalid_email_re_renders_the_form_and_writes_nothing() {
    let app = spawn_app().await;
    let browser = app.browser();
    for (input, message) in [
        ("not-an-email", "Email: this is not a valid email address."),
        ("   ", "Email: enter an email address."),
        (
            "user@localhost",
            "Email: this is not a valid email address.",
        ),
    ] {
        let page = ask(&browser, input).await;
        assert_eq!(page.status, 422, "{input:?}: {}", page.text());
        assert_eq!(page.texts("#email-error"), vec![message], "{input:?}");
        assert_eq!(page.attrs("input#email", "value"), vec![input.to_owned()]);
        assert_eq!(page.attrs("input#email[aria-invalid]", "id").len(), 1);
    }
    assert_eq!(signup_request_count(&app), 0);
    assert_eq!(
        app.query(|c| Ok(outbox_emails::table.count().get_result::<i64>(c)?)),
        0
    );

    // And a POST without this session's CSRF token is refused and writes nothing.
    let refused = browser
        .post(
            paths::SIGNUP.pattern(),
            &[("csrf_token", "forged"), ("email", "target@example.com")],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(signup_request_count(&app), 0);
}

#[tokio::test]
async fn an_expired_link_says_so_and_creates_nothing() {
    let app = spawn_app().await;
    let (_, path) = link_for(&app, "late@example.com").await;
    let browser = app.browser();
    let page = browser.get(&path).await;
    assert_eq!(page.status, 200);
    let form = filled(&page, "Late Comer", "Late Ltd");

    app.advance(Duration::hours(25));
    let expired = browser.get(&path).await;
    assert_eq!(expired.status, 410, "{}", expired.text());
    assert_link_page_headers(&expired);
    assert!(
        expired.shows("This sign-up link has expired"),
        "{}",
        expired.text()
    );
    assert_eq!(expired.attrs("main a[href='/signup']", "href").len(), 1);

    let posted = browser.submit(&form).await;
    assert_eq!(posted.status, 410, "{}", posted.text());
    assert!(posted.shows("This sign-up link has expired"));
    assert_eq!(users_with_email(&app, "late@example.com"), 0);
    assert_eq!(organization_count(&app), 0);

    // Asking again sends a fresh link that works.
    let (_, again) = link_for(&app, "late@example.com").await;
    assert_ne!(again, path);
    let page = browser.get(&again).await;
    let done = browser
        .submit(&filled(&page, "Late Comer", "Late Ltd"))
        .await;
    assert!(done.shows("Welcome to Joinery"), "{}", done.text());
}

#[tokio::test]
async fn a_used_link_says_so() {
    let app = spawn_app().await;
    let (_, path) = link_for(&app, "once@example.com").await;
    let first = app.browser();
    let page = first.get(&path).await;
    let done = first.submit(&filled(&page, "Once", "Once Inc")).await;
    assert!(done.shows("Welcome to Joinery"), "{}", done.text());

    let later = app.browser();
    let used = later.get(&path).await;
    assert_eq!(used.status, 410, "{}", used.text());
    assert_link_page_headers(&used);
    assert!(
        used.shows("This sign-up link has already been used"),
        "{}",
        used.text()
    );
    assert_eq!(used.attrs("main a[href='/signup']", "href").len(), 1);
    assert!(used.attrs("form.signup-complete-form", "action").is_empty());
    // Even after it would have expired, a used link says "used".
    app.advance(Duration::hours(30));
    assert!(
        later
            .get(&path)
            .await
            .shows("This sign-up link has already been used")
    );
}

#[tokio::test]
async fn malformed_and_unknown_links_are_not_found() {
    let app = spawn_app().await;
    let browser = app.browser();
    for path in [
        "/signup/short".to_owned(),
        format!("/signup/{}", "A".repeat(32)),
        format!("/signup/{}", "a".repeat(33)),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 404, "{path}");
    }
    let csrf = browser.get(paths::SIGNUP.pattern()).await.csrf();
    let posted = browser
        .post(
            &format!("/signup/{}", "A".repeat(32)),
            &[
                ("csrf_token", csrf.as_str()),
                ("name", "X"),
                ("password", NEW_PASSWORD),
                ("organization", "X"),
            ],
        )
        .await;
    assert_eq!(posted.status, 404);
    assert_eq!(organization_count(&app), 0);
}

#[tokio::test]
async fn form_errors_keep_the_input_and_write_nothing() {
    let app = spawn_app().await;
    let (_, path) = link_for(&app, "careful@example.com").await;
    let browser = app.browser();
    let page = browser.get(&path).await;

    let bad = browser
        .submit(
            &page
                .form("form.signup-complete-form")
                .set("name", "Care <b>ful</b>")
                .set("password", "short")
                .set("organization", "   "),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text());
    assert_link_page_headers(&bad);
    assert_eq!(bad.texts("#name-error"), Vec::<String>::new());
    assert_eq!(
        bad.texts("#password-error"),
        vec!["Password: use at least 8 characters."]
    );
    assert_eq!(
        bad.texts("#organization-error"),
        vec!["Company name: this field is required."]
    );
    // The name is kept (escaped, not rendered as markup) and the email is still locked.
    assert_eq!(bad.attrs("input#name", "value"), vec!["Care <b>ful</b>"]);
    assert!(!bad.body.contains("<b>ful</b>"));
    assert_eq!(
        bad.attrs("input#email", "value"),
        vec!["careful@example.com"]
    );
    assert_eq!(users_with_email(&app, "careful@example.com"), 0);
    assert_eq!(organization_count(&app), 0);

    let long = browser.submit(&filled(&bad, "N", &"x".repeat(101))).await;
    assert_eq!(long.status, 422);
    assert_eq!(
        long.texts("#organization-error"),
        vec!["Company name: this can be at most 100 characters long."]
    );

    // The link is still good: nothing was used up.
    let done = browser
        .submit(&filled(&long, "Careful", "Careful Co"))
        .await;
    assert!(
        done.shows("Welcome to Joinery — Careful Co is on the Trial plan"),
        "{}",
        done.text()
    );
}

#[tokio::test]
async fn submitting_twice_creates_one_account_and_one_organization() {
    let app = spawn_app().await;
    let (_, path) = link_for(&app, "twice@example.com").await;
    let browser = app.browser();
    let page = browser.get(&path).await;
    let form = filled(&page, "Twice", "Twice Co");
    // The same link open in a second window, filled in before the first is sent.
    let other = app.browser();
    let other_form = filled(&other.get(&path).await, "Twice", "Twice Co");

    let first = browser.submit(&form).await;
    assert!(first.shows("Welcome to Joinery"), "{}", first.text());
    let second = other.submit(&other_form).await;
    assert_eq!(second.status, 410, "{}", second.text());
    assert!(
        second.shows("This sign-up link has already been used"),
        "{}",
        second.text()
    );
    // The first window sending its form again: its token was made for the signed-out
    // visitor, and the browser is now signed in, so the form has expired.
    let again = browser.submit(&form).await;
    assert_eq!(again.status, 403, "{}", again.text());
    assert!(again.shows("This form has expired"), "{}", again.text());
    assert_eq!(users_with_email(&app, "twice@example.com"), 1);
    assert_eq!(organization_count(&app), 1);
    assert_eq!(membership_count(&app), 1);
}

#[tokio::test]
async fn concurrent_submissions_create_one_account_and_one_organization() {
    let app = spawn_app().await;
    let (_, path) = link_for(&app, "racer@example.com").await;
    let browser = app.browser();
    let page = browser.get(&path).await;
    let form = filled(&page, "Racer", "Race Co");

    let results = futures_util::future::join_all((0..8).map(|_| browser.submit(&form))).await;
    let won = results
        .iter()
        .filter(|p| p.shows("Welcome to Joinery"))
        .count();
    let refused = results
        .iter()
        .filter(|p| p.status == 410 && p.shows("This sign-up link has already been used"))
        .count();
    assert_eq!((won, refused), (1, 7), "statuses: {:?}", statuses(&results));
    assert_eq!(users_with_email(&app, "racer@example.com"), 1);
    assert_eq!(organization_count(&app), 1);
    assert_eq!(membership_count(&app), 1);
}

fn statuses(pages: &[Page]) -> Vec<u16> {
    pages.iter().map(|p| p.status).collect()
}

#[tokio::test]
async fn several_links_for_one_address_raced_create_one_account() {
    let app = spawn_app().await;
    // Three addresses with three links each (the hourly limit), all nine submitted at once.
    let mut forms = Vec::new();
    for address in ["both@example.com", "all@example.com", "each@example.com"] {
        for n in 0..3 {
            let (_, path) = link_for(&app, address).await;
            let browser = app.browser();
            let form = filled(
                &browser.get(&path).await,
                "Racer",
                &format!("{address} {n}"),
            );
            forms.push((address, browser, form));
        }
    }
    let results =
        futures_util::future::join_all(forms.iter().map(|(_, browser, form)| browser.submit(form)))
            .await;
    for address in ["both@example.com", "all@example.com", "each@example.com"] {
        let pages: Vec<&Page> = forms
            .iter()
            .zip(&results)
            .filter(|((a, _, _), _)| *a == address)
            .map(|(_, page)| page)
            .collect();
        let won = pages
            .iter()
            .filter(|p| p.shows("Welcome to Joinery"))
            .count();
        assert_eq!(
            won,
            1,
            "{address}: {:?}",
            pages.iter().map(|p| p.status).collect::<Vec<_>>()
        );
        for lost in pages.iter().filter(|p| !p.shows("Welcome to Joinery")) {
            assert_eq!(lost.status, 409, "{}", lost.text());
            assert!(lost.shows("You already have an account"), "{}", lost.text());
        }
        assert_eq!(users_with_email(&app, address), 1);
    }
    assert_eq!(organization_count(&app), 3);
    assert_eq!(membership_count(&app), 3);
}

#[tokio::test]
async fn a_link_for_an_address_registered_meanwhile_creates_nothing() {
    let app = spawn_app().await;
    let (_, path) = link_for(&app, "meanwhile@example.com").await;
    let browser = app.browser();
    let page = browser.get(&path).await;
    let form = filled(&page, "Meanwhile", "Meanwhile Co");

    // E.g. the person accepted an invitation in between.
    app.create_user("meanwhile@example.com", "Meanwhile");
    let shown = browser.get(&path).await;
    assert_eq!(shown.status, 200);
    assert!(
        shown.shows("You already have an account"),
        "{}",
        shown.text()
    );
    assert!(
        shown
            .attrs("form.signup-complete-form", "action")
            .is_empty()
    );
    let posted = browser.submit(&form).await;
    assert_eq!(posted.status, 409, "{}", posted.text());
    assert!(posted.shows("You already have an account"));
    assert_eq!(users_with_email(&app, "meanwhile@example.com"), 1);
    assert_eq!(organization_count(&app), 0);
}

#[tokio::test]
async fn signing_up_renews_the_session_key() {
    let app = spawn_app().await;
    let (_, path) = link_for(&app, "fixed@example.com").await;
    // Someone else's signed-in session in this browser (planted, or left behind): signing up
    // must not carry it on under the same key.
    app.create_user("mallory@example.com", "Mallory");
    let mallory = Arc::new(Jar::default());
    let logged_in = app.browser_with_jar(mallory.clone(), true);
    logged_in
        .login("mallory@example.com", crate::helpers::PASSWORD)
        .await;
    let before = cookie_value(&mallory, &app.address, "joinery_session").expect("no session");
    let browser = app.browser_with_jar(mallory.clone(), true);
    let page = browser.get(&path).await;
    let done = browser.submit(&filled(&page, "Fixed", "Fixed Co")).await;
    assert!(done.shows("Welcome to Joinery"), "{}", done.text());
    let after = cookie_value(&mallory, &app.address, "joinery_session").expect("no session");
    assert_ne!(before, after);
    let org = done.path();

    // Whoever holds the pre-sign-up cookie is not signed in as the new account by it.
    let planted = Arc::new(Jar::default());
    planted.add_cookie_str(
        &format!("joinery_session={before}; Path=/"),
        &reqwest::Url::parse(&app.address).unwrap(),
    );
    let attacker = app.browser_with_jar(planted, true);
    assert_eq!(attacker.get(&org).await.path(), paths::LOGIN.pattern());
    assert_eq!(browser.get(&org).await.path(), org);
}

#[tokio::test]
async fn at_most_three_sign_up_emails_per_address_per_hour() {
    let app = spawn_app().await;
    app.create_user("known@example.com", "Known");
    let browser = app.browser();
    for address in ["flood@example.com", "known@example.com"] {
        for _ in 0..3 {
            assert!(ask(&browser, address).await.shows("Check your email"));
            app.email_to(address).await;
            app.advance(Duration::minutes(5));
        }
        // The fourth within the hour: the same page, but nothing is sent or stored.
        let fourth = ask(&browser, address).await;
        assert_eq!(fourth.status, 200);
        assert!(fourth.shows("Check your email"), "{}", fourth.text());
        assert!(app.no_email_to(address).await);
        assert_eq!(outbox_kinds_to(&app, address).len(), 3, "{address}");
    }
    assert_eq!(signup_request_count(&app), 3);
    assert_eq!(
        outbox_kinds_to(&app, "known@example.com"),
        vec!["signup_existing"; 3]
    );

    // An hour after the first, one more may go.
    app.advance(Duration::minutes(50));
    ask(&browser, "flood@example.com").await;
    assert!(signup_link(&app.email_to("flood@example.com").await).contains("/signup/"));
    assert_eq!(signup_request_count(&app), 4);
}

/// Each request sends an email, so one client gets `login_attempts_per_minute` (10) a minute,
/// counted apart from its log-ins; the next is refused and nothing is stored or sent for it.
#[tokio::test]
async fn the_eleventh_rapid_sign_up_request_from_one_client_is_rate_limited() {
    let app = spawn_app().await;
    let browser = app.browser();
    for n in 1..=10 {
        let page = ask(&browser, &format!("person{n}@example.com")).await;
        assert!(
            page.shows("Check your email"),
            "request {n}: {}",
            page.text()
        );
    }
    let limited = ask(&browser, "eleventh@example.com").await;
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert!(limited.shows("Too many attempts"), "{}", limited.text());
    assert_eq!(signup_request_count(&app), 10);
    assert!(outbox_kinds_to(&app, "eleventh@example.com").is_empty());

    // Its log-in budget is its own: a log-in from the same client still gets an answer.
    let login = browser.get(paths::LOGIN.pattern()).await;
    let answer = browser
        .submit(
            &login
                .form("form[action='/login']")
                .set("email", "person1@example.com")
                .set("password", "not an account"),
        )
        .await;
    assert_eq!(answer.status, 401, "{}", answer.text());
}

#[tokio::test]
async fn links_come_from_the_base_url_never_from_the_request_host() {
    let app = spawn_app().await;
    let browser = app.browser();
    let page = browser.get(paths::SIGNUP.pattern()).await;
    let form = page
        .form("form[action='/signup']")
        .set("email", "hosted@example.com");
    let sent = browser
        .submit_with_headers(
            &form,
            &[
                ("Host", "evil.example"),
                ("X-Forwarded-Host", "evil.example"),
            ],
        )
        .await;
    assert!(sent.shows("Check your email"), "{}", sent.text());
    let email = app.email_to("hosted@example.com").await;
    assert!(signup_link(&email).starts_with(&format!("{}/signup/", app.address)));
    assert!(!email.raw.contains("evil.example"));
}

#[tokio::test]
async fn sign_up_tokens_are_never_stored_in_plaintext() {
    let app = spawn_app().await;
    let (_, path) = link_for(&app, "secret@example.com").await;
    let token = path.trim_start_matches("/signup/").to_owned();
    assert_eq!(token.len(), 32, "{path}");

    // The search finds what is stored: the address is in the request and the outbox.
    let address = columns_containing(&app, "secret@example.com");
    assert!(
        address.contains(&("signup_requests".into(), "email".into())),
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
    // Only the token's SHA-256 is, for look-up.
    let (hash, nonce): (String, String) = app.query(|c| {
        Ok(signup_requests::table
            .select((signup_requests::token_hash, signup_requests::token_nonce))
            .first(c)?)
    });
    assert_eq!(hash, hex::encode(Sha256::digest(token.as_bytes())));
    assert_ne!(nonce, token);

    // Opening the link and signing up store nothing more.
    let browser = app.browser();
    let page = browser.get(&path).await;
    let done = browser.submit(&filled(&page, "Secret", "Secret Co")).await;
    assert!(done.shows("Welcome to Joinery"), "{}", done.text());
    assert_eq!(
        columns_containing(&app, &token),
        Vec::<(String, String)>::new()
    );
}
