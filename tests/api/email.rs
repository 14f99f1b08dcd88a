//! What Joinery emails (DESIGN.md, "Emails"): the invitation email, the "joined" notification
//! to Owners and its setting, the development mailbox, and silence when an invitation expires.

use chrono::Duration;
use diesel::prelude::*;
use joinery::db::schema::outbox_emails;
use joinery::domain::{Plan, Role};
use joinery::paths;

use crate::helpers::{PASSWORD, TestApp, spawn_app, spawn_app_with};

fn outbox_count(app: &TestApp) -> i64 {
    app.query(|c| Ok(outbox_emails::table.count().get_result::<i64>(c)?))
}

#[tokio::test]
async fn the_invitation_email_says_who_what_and_until_when() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let message = "Looking forward to working with you!";
    let sent = owner
        .invite(org, "Newbie@Example.com", "editor", message)
        .await;
    assert!(sent.shows("1 invitation sent"), "{}", sent.text());

    let email = app.email_to("newbie@example.com").await;
    assert!(email.subject.contains("Acme"), "{}", email.subject);
    assert!(email.subject.contains("Owner Acme"), "{}", email.subject);
    assert!(
        email.raw.contains("multipart/alternative"),
        "text and HTML parts"
    );
    let link = email.invitation_link();
    assert!(
        link.starts_with(&format!("{}/invitations/", app.address)),
        "{link}"
    );

    // Sent 2026-03-02 09:00 UTC; seven days later is Monday 9 March.
    for (part, body) in [("text", &email.text), ("html", &email.html)] {
        for needle in [
            "Owner Acme",
            "owner@acme.test",
            "Acme",
            "Editor",
            "Create, edit and publish content",
            message,
            link.as_str(),
            "9 March 2026",
            "09:00 UTC",
        ] {
            assert!(
                body.contains(needle),
                "the {part} part lacks {needle:?}: {body}"
            );
        }
    }
    assert!(
        email.html.contains(&format!("href=\"{link}\"")),
        "{}",
        email.html
    );

    // The link works: it opens this invitation.
    let page = app.browser().get(&email.invitation_path()).await;
    assert_eq!(page.status, 200);
    assert!(page.shows("Join Acme"), "{}", page.text());
}

#[tokio::test]
async fn the_invitation_email_without_a_message_has_no_message_section() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    owner
        .invite(org, "viewer@example.com", "viewer", "   ")
        .await;
    let email = app.email_to("viewer@example.com").await;
    assert!(!email.text.contains("Their message"), "{}", email.text);
    assert!(!email.html.contains("Their message"), "{}", email.html);
    assert!(
        email.text.contains("Read-only access to dashboards"),
        "{}",
        email.text
    );
    assert!(email.subject.contains("Viewer"), "{}", email.subject);
}

#[tokio::test]
async fn owners_are_told_who_joined_unless_they_turned_it_off() {
    let app = spawn_app().await;
    let (org, olive) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let oscar = app.create_user("oscar@acme.test", "Oscar Owner");
    app.add_member(org, oscar, Role::Owner);
    let admin = app.create_user("adam@acme.test", "Adam Admin");
    app.add_member(org, admin, Role::Admin);

    // Oscar turns "Notify me when team members join" off on Settings → Notifications.
    let oscar_browser = app.browser();
    assert_eq!(
        oscar_browser
            .login("oscar@acme.test", PASSWORD)
            .await
            .status,
        200
    );
    let settings = paths::notifications(org);
    let page = oscar_browser.get(&settings).await;
    assert_eq!(
        page.attrs("input#notify_on_join[checked]", "name").len(),
        1,
        "on by default"
    );
    let saved = oscar_browser
        .submit(
            &page
                .form(&format!("form[action='{settings}']"))
                .unset("notify_on_join"),
        )
        .await;
    assert!(saved.shows("Saved"), "{}", saved.text());
    let page = oscar_browser.get(&settings).await;
    assert_eq!(
        page.attrs("input#notify_on_join[checked]", "name").len(),
        0,
        "the setting stuck"
    );

    // An Admin invites; the invitee accepts.
    let adam = app.browser();
    assert_eq!(adam.login("adam@acme.test", PASSWORD).await.status, 200);
    adam.invite(org, "nina@example.com", "editor", "").await;
    let link = app.email_to("nina@example.com").await.invitation_path();
    let nina = app.browser();
    let page = nina.get(&link).await;
    let done = nina
        .submit(
            &page
                .form("form[action$='/register']")
                .set("name", "Nina New")
                .set("password", "a good long password"),
        )
        .await;
    assert!(done.shows("You joined Acme as Editor"), "{}", done.text());

    let note = app.email_to("owner@acme.test").await;
    assert!(
        note.subject.contains("Nina New") && note.subject.contains("Acme"),
        "{}",
        note.subject
    );
    for (part, body) in [("text", &note.text), ("html", &note.html)] {
        for needle in [
            "Nina New",
            "nina@example.com",
            "Editor",
            "Adam Admin",
            &paths::team(org),
        ] {
            assert!(
                body.contains(needle),
                "the {part} part lacks {needle:?}: {body}"
            );
        }
    }
    // The notification goes to Owners who want it, not to Oscar, nor to the Admin or the
    // new member.
    assert!(app.no_email_to("oscar@acme.test").await);
    assert!(app.no_email_to("adam@acme.test").await);
    assert!(app.no_email_to("nina@example.com").await);

    // Turning it back on works the other way.
    let page = oscar_browser.get(&settings).await;
    let saved = oscar_browser
        .submit(
            &page
                .form(&format!("form[action='{settings}']"))
                .set("notify_on_join", "on"),
        )
        .await;
    assert!(saved.shows("Saved"), "{}", saved.text());
    olive.invite(org, "pete@example.com", "viewer", "").await;
    let link = app.email_to("pete@example.com").await.invitation_path();
    let pete = app.browser();
    let page = pete.get(&link).await;
    pete.submit(
        &page
            .form("form[action$='/register']")
            .set("name", "Pete")
            .set("password", "a good long password"),
    )
    .await;
    let note = app.email_to("oscar@acme.test").await;
    assert!(
        note.text.contains("Pete")
            && note.text.contains("Viewer")
            && note.text.contains("Owner Acme"),
        "{}",
        note.text
    );
    assert!(app.email_to("owner@acme.test").await.text.contains("Pete"));
}

#[tokio::test]
async fn the_development_mailbox_lists_emails_with_their_links() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "newbie@example.com", "viewer", "").await;
    let email = app.email_to("newbie@example.com").await;

    // Anyone may open it in development mode, signed in or not.
    let page = app.browser().get(paths::DEV_MAILBOX.pattern()).await;
    assert_eq!(page.status, 200);
    assert!(page.shows("newbie@example.com"), "{}", page.text());
    assert!(page.shows(&email.subject), "{}", page.text());
    let links = page.attrs("a[href*='/invitations/']", "href");
    assert_eq!(links, vec![email.invitation_link()]);
    assert_eq!(
        page.header("referrer-policy").as_deref(),
        Some("no-referrer")
    );
}

#[tokio::test]
async fn there_is_no_mailbox_outside_development_mode() {
    let app = spawn_app_with(|s| s.dev = false).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "newbie@example.com", "viewer", "").await;
    app.email_to("newbie@example.com").await;

    for browser in [app.browser(), owner] {
        let page = browser.get(paths::DEV_MAILBOX.pattern()).await;
        assert_eq!(page.status, 404);
        assert!(page.shows("Page not found"), "{}", page.text());
        assert!(!page.shows("newbie@example.com"));
    }
}

#[tokio::test]
async fn nothing_is_sent_when_an_invitation_expires() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "late@example.com", "viewer", "").await;
    let link = app.email_to("late@example.com").await.invitation_path();
    let queued = outbox_count(&app);

    app.advance(Duration::days(8));
    let page = app.browser().get(&link).await;
    assert!(page.shows("This invitation has expired"), "{}", page.text());
    let team = owner.get(&paths::team(org)).await;
    assert!(
        team.texts("tbody tr")
            .iter()
            .any(|r| r.contains("late@example.com") && r.contains("Expired")),
        "{}",
        team.text()
    );
    // The background sweep writes Expired, and that sends nothing either.
    let swept = app.query(|c| joinery::db::invitations::expire_all_overdue(c, app.clock_now()));
    assert_eq!(swept, 1);
    let page = app.browser().get(&link).await;
    assert!(page.shows("This invitation has expired"), "{}", page.text());

    assert_eq!(outbox_count(&app), queued, "no email was queued");
    // Longer than the outbox worker's poll interval.
    assert!(app.no_email_to("late@example.com").await);
    assert!(app.no_email_to("owner@acme.test").await);
}
