//! Invitation reminders and bounces (issue 15 §3), with a moved clock and the real SMTP test
//! server: a pending invitation is reminded on days 2 and 5 of 7 with its own link, once each;
//! reminders stop when it is no longer pending, and an Owner can turn them off for the
//! organization; a 550 from the server marks the invitation bounced, tells its inviter, and
//! "Fix address" revokes it and reopens the invite form with what was sent.

use chrono::Duration;
use diesel::prelude::*;
use joinery::db::schema::invitations;
use joinery::domain::{Plan, Role};
use joinery::paths;

use crate::helpers::{TestApp, spawn_app};

/// What the sweep queues now: the reminders due at the app's clock.
fn queue_reminders(app: &TestApp) -> usize {
    let now = app.clock_now();
    app.query(|c| joinery::db::invitations::queue_due_reminders(c, now))
}

#[tokio::test]
async fn an_unanswered_invitation_is_reminded_on_days_2_and_5_with_its_own_link() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let sent = owner.invite(org, "ann@example.com", "writer", "").await;
    assert_eq!(sent.status, 200, "{}", sent.text());
    let invitation = app.email_to("ann@example.com").await;
    let link = invitation.invitation_link();
    app.advance(Duration::days(2) - Duration::seconds(1));
    assert_eq!(queue_reminders(&app), 0, "not yet day 2");
    app.advance(Duration::seconds(1));
    assert_eq!(queue_reminders(&app), 1);
    assert_eq!(queue_reminders(&app), 0, "queued once");
    let first = app.email_to("ann@example.com").await;
    assert!(first.subject.starts_with("Reminder: "), "{}", first.subject);
    assert!(first.text.contains("A reminder"), "{}", first.text);
    assert_eq!(first.invitation_link(), link, "the same link");
    app.advance(Duration::days(3));
    assert_eq!(queue_reminders(&app), 1, "day 5");
    let second = app.email_to("ann@example.com").await;
    assert!(
        second.subject.starts_with("Reminder: "),
        "{}",
        second.subject
    );
    app.advance(Duration::days(1));
    assert_eq!(queue_reminders(&app), 0, "two reminders at most");
    assert!(app.no_email_to("ann@example.com").await);
    // The invitation's timeline, from its row on the Team page.
    let team = owner.get(&paths::team(org)).await;
    let history = team.attrs("a[title='Timeline of this invitation']", "href");
    let page = owner.get(&history[0]).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let steps = page.texts("ol.timeline li strong");
    assert_eq!(
        steps,
        [
            "Invitation queued",
            "Delivered to the mail server",
            "Reminder queued",
            "Delivered to the mail server",
            "Reminder queued",
            "Delivered to the mail server",
        ]
    );
}

#[tokio::test]
async fn reminders_stop_when_an_invitation_is_revoked_and_owners_can_turn_them_off() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner
        .invite(org, "bob@example.com\ncy@example.com", "viewer", "")
        .await;
    app.email_to("bob@example.com").await;
    app.email_to("cy@example.com").await;
    // Revoked: nothing more for Bob.
    let bob: String = app.query(|c| {
        Ok(invitations::table
            .filter(invitations::email.eq("bob@example.com"))
            .select(invitations::id)
            .first(c)?)
    });
    let revoke = paths::revoke(org, bob.parse().unwrap());
    let confirm = owner.get(&revoke).await;
    let revoked = owner.submit(&confirm.form("form.actions")).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    // An Admin may not turn reminders off; the Owner does, on Notifications.
    let admin_id = app.create_user("admin@acme.test", "Ada");
    app.add_member(org, admin_id, Role::Admin);
    let admin = app.logged_in("admin@acme.test").await;
    let admin_page = admin.get(&paths::notifications(org)).await;
    assert!(admin_page.texts("form.reminders-form").is_empty());
    let forged = admin
        .post(
            &paths::reminders(org),
            &[("csrf_token", &admin_page.csrf())],
        )
        .await;
    assert_eq!(forged.status, 403);
    let page = owner.get(&paths::notifications(org)).await;
    let off = owner
        .submit(&page.form("form.reminders-form").unset("reminders"))
        .await;
    assert!(off.shows("invitees get no reminders"), "{}", off.text());
    app.advance(Duration::days(2));
    assert_eq!(queue_reminders(&app), 0, "off");
    let page = owner.get(&paths::notifications(org)).await;
    let on = owner
        .submit(&page.form("form.reminders-form").set("reminders", "on"))
        .await;
    assert!(on.shows("get reminders on days 2 and 5"), "{}", on.text());
    assert_eq!(queue_reminders(&app), 1, "Cy only");
    let cy = app.email_to("cy@example.com").await;
    assert!(cy.subject.starts_with("Reminder: "), "{}", cy.subject);
    assert!(app.no_email_to("bob@example.com").await);
    let trail: Vec<String> = app.audit_actions(org).into_iter().map(|(a, _)| a).collect();
    assert!(trail.contains(&"settings.changed".to_owned()), "{trail:?}");
}

#[tokio::test]
async fn a_permanent_smtp_failure_marks_the_invitation_bounced_and_fix_address_reopens_the_form() {
    use crate::helpers::{SmtpServer, eventually, spawn_app_with};
    use joinery::db::schema::outbox_emails;
    let smtp = SmtpServer::start();
    let app = spawn_app_with(|s| s.smtp_url = Some(smtp.url())).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner
        .invite(org, "bounce@example.com", "editor", "See you soon")
        .await;
    // The server answers 550: one attempt, no retry, and the inviter is told.
    let got = smtp.wait_for(1, 10).await;
    assert_eq!(got.len(), 1, "the inviter's notice only");
    assert_eq!(got[0].recipients, ["owner@acme.test"]);
    let (subject, text, _) = got[0].parts();
    assert_eq!(
        subject,
        "Your invitation to bounce@example.com could not be delivered"
    );
    assert!(text.contains("Fix address"), "{text}");
    let rows = || {
        app.query(|c| {
            Ok(outbox_emails::table
                .filter(outbox_emails::kind.eq("invitation"))
                .select((outbox_emails::status, outbox_emails::attempts))
                .load::<(String, i32)>(c)?)
        })
    };
    let failed = vec![("failed".to_owned(), 1)];
    assert_eq!(eventually(10, rows, |r| *r == failed).await, failed);
    let bounced: Option<chrono::NaiveDateTime> = app.query(|c| {
        Ok(invitations::table
            .select(invitations::bounced_at)
            .first(c)?)
    });
    assert!(bounced.is_some());
    // The Team page says so and offers "Fix address"; the timeline shows the bounce.
    let team = owner.get(&paths::team(org)).await;
    let history = team.attrs("a[title='Timeline of this invitation']", "href");
    let page = owner.get(&history[0]).await;
    assert!(
        page.texts("ol.timeline li strong")
            .contains(&"Bounced".to_owned()),
        "{}",
        page.text()
    );
    assert!(
        team.texts(".badge").iter().any(|b| b == "bounced"),
        "{}",
        team.text()
    );
    let fixed = owner
        .submit(&team.button_form("button[formaction$='/fix']"))
        .await;
    assert_eq!(fixed.status, 200, "{}", fixed.text());
    assert!(fixed.path().ends_with("/team/invite"), "{}", fixed.path());
    assert!(fixed.shows("bounced and was revoked"), "{}", fixed.text());
    let form = fixed.form("form.invite-form");
    let field = |name: &str| {
        form.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(field("emails"), "bounce@example.com");
    assert_eq!(field("role"), "editor");
    assert_eq!(field("message"), "See you soon");
    let status: String =
        app.query(|c| Ok(invitations::table.select(invitations::status).first(c)?));
    assert_eq!(status, "revoked");
    // Corrected, it goes out.
    let sent = owner
        .submit(&form.set("emails", "bonnie@example.com"))
        .await;
    assert!(sent.shows("1 invitation sent"), "{}", sent.text());
    let got = smtp.wait_for(2, 10).await;
    assert_eq!(got[1].recipients, ["bonnie@example.com"]);
}
