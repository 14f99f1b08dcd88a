//! The transactional outbox and real SMTP delivery (DESIGN.md, "Reliability and scale"): what arrives at a real SMTP
//! server, an outage that delays but never loses or duplicates email, and concurrent claims.

use joinery::paths;
use std::collections::HashSet;
use std::time::Duration as StdDuration;

use chrono::Duration;
use diesel::prelude::*;
use joinery::db::schema::{outbox_emails, users};
use joinery::domain::{Plan, Role};

use crate::helpers::{SmtpServer, spawn_app, spawn_app_with, unused_port};

fn outbox_rows(app: &crate::helpers::TestApp) -> Vec<(String, i32, Option<String>)> {
    app.query(|c| {
        Ok(outbox_emails::table
            .select((
                outbox_emails::status,
                outbox_emails::attempts,
                outbox_emails::last_error,
            ))
            .load(c)?)
    })
}

#[tokio::test]
async fn invitations_arrive_at_a_real_smtp_server_with_both_parts_and_a_working_link() {
    let smtp = SmtpServer::start();
    let app = spawn_app_with(|s| s.smtp_url = Some(smtp.url())).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let page = owner
        .invite(org, "Invitee@Example.com", "editor", "Hello there")
        .await;
    assert!(page.shows("1 invitation sent"), "{}", page.text());

    let got = smtp.wait_for(1, 10).await;
    assert_eq!(got.len(), 1);
    let mail = &got[0];
    assert_eq!(mail.recipients, vec!["invitee@example.com"]);
    assert_eq!(mail.from, "no-reply@joinery.test");
    let (subject, text, html) = mail.parts();
    assert_eq!(subject, "Owner Acme invited you to join Acme as Editor");
    assert!(
        text.contains("Hello there") && text.contains("Create, edit and publish content"),
        "{text}"
    );
    assert!(
        html.contains("Hello there") && html.contains("<a href=\""),
        "{html}"
    );
    assert!(mail.data.contains("multipart/alternative"));

    let link = mail.invitation_link();
    assert!(
        link.starts_with(&app.address),
        "{link} is built from the base URL"
    );
    assert!(html.contains(&link), "the HTML part carries the same link");
    let invitee = app.browser();
    let accept = invitee.get(&link).await;
    assert!(accept.shows("Create account & join"), "{}", accept.text());
    let sent = vec![("sent".to_owned(), 1, None)];
    let rows = crate::helpers::eventually(10, || outbox_rows(&app), |rows| *rows == sent).await;
    assert_eq!(rows, sent);
    let team = owner.get(&paths::team(org)).await;
    assert!(
        team.texts(".badge").iter().any(|b| b == "sent"),
        "{}",
        team.text()
    );
}

#[tokio::test]
async fn user_supplied_names_cannot_inject_headers() {
    let smtp = SmtpServer::start();
    let app = spawn_app_with(|s| s.smtp_url = Some(smtp.url())).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    // Bypass the form's validation: a name with CR/LF written straight into the database.
    app.query(|c| {
        Ok(
            diesel::update(users::table.filter(users::email.eq("owner@acme.test")))
                .set(users::name.eq("Mallory\r\nBcc: victim@evil.example\r\nX-Injected: yes"))
                .execute(c)?,
        )
    });
    owner.invite(org, "target@example.com", "viewer", "").await;
    let got = smtp.wait_for(1, 10).await;
    assert_eq!(got.len(), 1);
    let mail = &got[0];
    assert_eq!(
        mail.recipients,
        vec!["target@example.com"],
        "no Bcc recipient was added"
    );
    let headers = &mail.data[..mail.data.find("\r\n\r\n").unwrap()];
    let header_names: Vec<&str> = headers
        .lines()
        .filter(|l| !l.starts_with([' ', '\t']))
        .filter_map(|l| l.split(':').next())
        .collect();
    assert!(
        !header_names.iter().any(|h| h.eq_ignore_ascii_case("bcc")),
        "{headers}"
    );
    assert!(
        !header_names
            .iter()
            .any(|h| h.eq_ignore_ascii_case("x-injected")),
        "{headers}"
    );
    let (subject, _, _) = mail.parts();
    assert!(
        subject.starts_with("Mallory  Bcc: victim@evil.example"),
        "{subject}"
    );
}

#[tokio::test]
async fn an_smtp_outage_delays_email_and_recovery_delivers_it_exactly_once() {
    let port = unused_port();
    let app = spawn_app_with(|s| s.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;

    // The server is down: inviting still succeeds and the email is queued for a retry.
    let page = owner.invite(org, "patient@example.com", "viewer", "").await;
    assert!(page.shows("1 invitation sent"), "{}", page.text());
    let mut waited = 0;
    while outbox_rows(&app)[0].1 == 0 && waited < 100 {
        tokio::time::sleep(StdDuration::from_millis(50)).await;
        waited += 1;
    }
    let (status, attempts, error) = outbox_rows(&app).remove(0);
    assert_eq!((status.as_str(), attempts), ("queued", 1));
    assert!(error.is_some_and(|e| !e.is_empty()));
    let team = owner.get(&paths::team(org)).await;
    assert!(
        team.texts(".badge").iter().any(|b| b == "retrying"),
        "{}",
        team.text()
    );

    // The server comes back where it was; once the backoff has passed, the email goes out.
    let smtp = SmtpServer::start_on_port(port);
    app.advance(Duration::seconds(11));
    let got = smtp.wait_for(1, 10).await;
    assert_eq!(got.len(), 1, "delivered after recovery");
    // Give any duplicate the chance to show up, across several more worker cycles.
    app.advance(Duration::hours(2));
    tokio::time::sleep(StdDuration::from_millis(600)).await;
    assert_eq!(smtp.received().len(), 1, "delivered exactly once");
    assert_eq!(smtp.received()[0].recipients, vec!["patient@example.com"]);
    assert_eq!(outbox_rows(&app), vec![("sent".to_owned(), 2, None)]);
}

#[tokio::test]
async fn delivery_gives_up_after_the_last_attempt_and_the_team_page_says_failed() {
    let port = unused_port();
    let app = spawn_app_with(|s| s.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "nobody@example.com", "viewer", "").await;
    for _ in 0..200 {
        if outbox_rows(&app)[0].0 == "failed" {
            break;
        }
        app.advance(Duration::hours(1));
        tokio::time::sleep(StdDuration::from_millis(60)).await;
    }
    let (status, attempts, error) = outbox_rows(&app).remove(0);
    assert_eq!(
        (status.as_str(), attempts),
        ("failed", joinery::mail::outbox::MAX_ATTEMPTS)
    );
    let error = error.unwrap();
    let team = owner.get(&paths::team(org)).await;
    assert!(
        team.texts(".badge").iter().any(|b| b == "failed"),
        "{}",
        team.text()
    );
    assert!(
        team.shows(&error[..error.len().min(30)]),
        "the reason is shown: {error}"
    );
}

#[tokio::test]
async fn concurrent_claims_never_overlap() {
    let app =
        spawn_app_with(|s| s.smtp_url = Some(format!("smtp://127.0.0.1:{}", unused_port()))).await;
    // Rows written straight into the outbox, due an hour from now so the app's own worker
    // (which sees "now") leaves them alone.
    let due = app.clock_now() + Duration::hours(1);
    let total = 120;
    app.query(|c| {
        for i in 0..total {
            let to = joinery::domain::EmailAddress::parse(&format!("r{i}@example.com")).unwrap();
            joinery::db::outbox::enqueue(
                c,
                joinery::db::outbox::EmailKind::MemberJoined,
                None,
                &to,
                "{}",
                due,
            )?;
        }
        Ok(())
    });
    let db = app.db.clone();
    let claimers: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                loop {
                    let batch = db
                        .with_conn(|c| joinery::db::outbox::claim(c, due, 7))
                        .unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|r| r.id));
                }
            })
        })
        .collect();
    let claimed: Vec<String> = claimers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let unique: HashSet<&String> = claimed.iter().collect();
    assert_eq!(claimed.len(), total, "every row claimed");
    assert_eq!(unique.len(), total, "no row claimed twice");
    // A lease that ran out is claimed again (a worker died mid-batch).
    let later = due + joinery::db::outbox::LEASE + Duration::seconds(1);
    let again = app.query(|c| joinery::db::outbox::claim(c, later, 500));
    assert_eq!(again.len(), total);
}

#[tokio::test]
async fn the_owner_notification_goes_through_smtp_too() {
    let smtp = SmtpServer::start();
    let app = spawn_app_with(|s| s.smtp_url = Some(smtp.url())).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "joiner@example.com", "writer", "").await;
    let link = smtp.wait_for(1, 10).await[0].invitation_link();
    let invitee = app.browser();
    let page = invitee.get(&link).await;
    invitee
        .submit(
            &page
                .form("form[action$='/register']")
                .set("name", "Jo Iner")
                .set("password", "long enough pw"),
        )
        .await;
    let got = smtp.wait_for(2, 10).await;
    let note = got
        .iter()
        .find(|m| m.recipients == ["owner@acme.test"])
        .expect("owner notified");
    let (subject, text, _) = note.parts();
    assert_eq!(subject, "Jo Iner joined Acme as Writer");
    assert!(text.contains("invited by Owner Acme"), "{text}");
}

#[tokio::test]
async fn the_mailbox_transport_still_serves_development() {
    // Without an SMTP URL the same outbox writes .eml files for /dev/mailbox.
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "dev@example.com", "viewer", "").await;
    let email = app.email_to("dev@example.com").await;
    assert!(email.invitation_link().starts_with(&app.address));
    let mailbox = owner.get(paths::DEV_MAILBOX.pattern()).await;
    assert!(
        mailbox.shows(&email.invitation_link()),
        "{}",
        mailbox.text()
    );
}

/// What the tests' "no email to …" checks rest on: waiting for an idle outbox waits for every
/// email due at the app's clock to be delivered, and an email queued for later still counts.
#[tokio::test]
async fn waiting_for_an_idle_outbox_waits_for_every_due_email() {
    let app = spawn_app().await;
    let to = joinery::domain::EmailAddress::parse("later@example.com").unwrap();
    let due = app.clock_now() + Duration::minutes(1);
    app.query(|c| {
        joinery::db::outbox::enqueue(
            c,
            joinery::db::outbox::EmailKind::SignupExisting,
            None,
            &to,
            "{}",
            due,
        )
    });
    let status = || {
        app.query(|c| {
            Ok(outbox_emails::table
                .select(outbox_emails::status)
                .first::<String>(c)?)
        })
    };
    app.outbox_idle().await;
    assert_eq!(status(), "queued", "not due yet, so nothing to wait for");
    assert!(
        !app.no_email_to("later@example.com").await,
        "an email queued for later is an email to come"
    );
    // Due now. The worker is not woken; it finds the row on its next poll.
    app.advance(Duration::minutes(1));
    app.outbox_idle().await;
    assert_eq!(status(), "sent", "idle only once the due email went out");
    assert!(
        !app.no_email_to("later@example.com").await,
        "and it is in the mailbox"
    );
    assert!(app.no_email_to("later@example.com").await, "only once");
}
