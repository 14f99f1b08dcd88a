//! What people may type, through the real sign-up forms (DESIGN.md, "Security rules": bad
//! input gets a clear error and nothing is written): a common or known-breached password is
//! refused (NIST SP 800-63B §5.1.1.2); names and organization names cannot hold
//! bidirectional overrides, isolates or other invisible formatting characters; and an email
//! address whose domain is not ASCII is refused rather than folded.

use diesel::prelude::*;
use joinery::db::schema::{organizations, signup_requests, users};
use joinery::paths;

use crate::helpers::{Browser, Email, Page, TestApp, spawn_app};

const GOOD_PASSWORD: &str = "a good long password";

/// Asks `/signup` for a link for `email` in `browser`.
async fn ask(browser: &Browser, email: &str) -> Page {
    let page = browser.get(paths::SIGNUP.pattern()).await;
    browser
        .submit(&page.form("form[action='/signup']").set("email", email))
        .await
}

/// The sign-up link's page for `email`, opened in a fresh browser.
async fn link_page(app: &TestApp, email: &str) -> (Browser, Page) {
    let browser = app.browser();
    let sent = ask(&browser, email).await;
    assert!(sent.shows("Check your email"), "{}", sent.text());
    let mail: Email = app.email_to(email).await;
    let link = mail
        .text
        .split_whitespace()
        .find(|w| w.contains("/signup/"))
        .unwrap_or_else(|| panic!("no sign-up link in: {}", mail.text))
        .to_owned();
    let page = browser.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.text());
    (browser, page)
}

fn count_users(app: &TestApp) -> i64 {
    app.query(|c| Ok(users::table.count().get_result(c)?))
}

fn count_organizations(app: &TestApp) -> i64 {
    app.query(|c| Ok(organizations::table.count().get_result(c)?))
}

/// The message beside the field `id` (e.g. `password-error`).
fn field_error(page: &Page, id: &str) -> String {
    page.texts(&format!("#{id}")).join(" ")
}

#[tokio::test]
async fn a_common_or_breached_password_is_refused_with_a_clear_message() {
    let app = spawn_app().await;
    let (browser, page) = link_page(&app, "ann@example.com").await;
    for common in ["password123", "Iloveyou1", " qwertyuiop "] {
        let refused = browser
            .submit(
                &page
                    .form("form.signup-complete-form")
                    .set("name", "Ann Example")
                    .set("organization", "Ann's Shop")
                    .set("password", common),
            )
            .await;
        assert_eq!(refused.status, 422, "{common:?}: {}", refused.text());
        assert_eq!(
            field_error(&refused, "password-error"),
            "Password: this password is too common: it appears in lists of breached passwords. Choose another.",
            "{common:?}"
        );
    }
    assert_eq!(count_users(&app), 0);
    let done = browser
        .submit(
            &page
                .form("form.signup-complete-form")
                .set("name", "Ann Example")
                .set("organization", "Ann's Shop")
                .set("password", GOOD_PASSWORD),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert!(done.shows("Welcome to Joinery"), "{}", done.text());
    assert_eq!(count_users(&app), 1);
}

#[tokio::test]
async fn names_with_direction_overrides_or_invisible_characters_are_refused() {
    let app = spawn_app().await;
    let (browser, page) = link_page(&app, "ann@example.com").await;
    let cases = [
        // Shows as "Ann exe.pdf" but is "Ann fdp.exe".
        ("Ann \u{202E}fdp.exe", "Shop"),
        ("Ann", "Acme\u{2066}Bank\u{2069}"),
        ("Ann\u{200B}Example", "Shop"),
        ("Ann", "\u{FEFF}Acme"),
        ("Ann\u{061C}", "Shop"),
    ];
    for (name, organization) in cases {
        let refused = browser
            .submit(
                &page
                    .form("form.signup-complete-form")
                    .set("name", name)
                    .set("organization", organization)
                    .set("password", GOOD_PASSWORD),
            )
            .await;
        assert_eq!(refused.status, 422, "{name:?} {organization:?}");
        let (field, label) = if name == "Ann" {
            ("organization-error", "Company name")
        } else {
            ("name-error", "Name")
        };
        assert_eq!(
            field_error(&refused, field),
            format!(
                "{label}: this cannot contain invisible formatting characters (such as text-direction overrides or zero-width spaces)."
            ),
            "{name:?} {organization:?}: {}",
            refused.text()
        );
    }
    assert_eq!((count_users(&app), count_organizations(&app)), (0, 0));
}

#[tokio::test]
async fn an_email_whose_domain_is_not_ascii_is_refused() {
    let app = spawn_app().await;
    let browser = app.browser();
    // "exämple.com", and a Kelvin sign that IDNA's mapping would fold into "k".
    for email in ["ann@exämple.com", "ann@\u{212A}iwi.example"] {
        let refused = ask(&browser, email).await;
        assert_eq!(refused.status, 422, "{email}: {}", refused.text());
        assert_eq!(
            field_error(&refused, "email-error"),
            "Email: the domain (after the @) can only use ASCII letters, digits, hyphens and dots; write an international domain in its xn-- form.",
            "{email}"
        );
    }
    let requests: i64 = app.query(|c| Ok(signup_requests::table.count().get_result(c)?));
    assert_eq!(requests, 0, "nothing was written");
}
