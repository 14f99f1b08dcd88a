//! "Request a new invitation" from an expired link's page (DESIGN.md, "Request a new invitation"): the inviter gets
//! one email a day at most, the request is audited, the Team page shows it, and the inviter
//! resends with one click.

use chrono::Duration;
use diesel::prelude::*;
use joinery::db::schema::{invitations, outbox_emails};
use joinery::domain::audit::AuditAction;
use joinery::domain::{OrganizationId, Plan, Role};
use joinery::paths;

use crate::audit::events_of;
use crate::helpers::{Browser, TestApp, spawn_app};

/// An Admin of Acme invites `email` as Editor; the invitation then expires. Returns the
/// organization, the admin's browser and the link's path.
async fn expired_invitation(app: &TestApp, email: &str) -> (OrganizationId, Browser, String) {
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    admin.invite(org, email, "editor", "").await;
    let link = app.email_to(email).await.invitation_path();
    app.advance(Duration::days(7) + Duration::seconds(1));
    (org, admin, link)
}

fn renewal_requested_at(app: &TestApp) -> Vec<Option<chrono::NaiveDateTime>> {
    app.query(|c| {
        Ok(invitations::table
            .order(invitations::created_at.asc())
            .select(invitations::renewal_requested_at)
            .load(c)?)
    })
}

fn renewal_emails_queued(app: &TestApp) -> i64 {
    app.query(|c| {
        Ok(outbox_emails::table
            .filter(outbox_emails::kind.eq("renewal_request"))
            .count()
            .get_result(c)?)
    })
}

#[tokio::test]
async fn an_expired_link_asks_the_inviter_once_a_day_who_resends_with_one_click() {
    let app = spawn_app().await;
    let (org, admin, link) = expired_invitation(&app, "late@example.com").await;

    // The expired page offers the button; opening it writes nothing.
    let invitee = app.browser();
    let page = invitee.get(&link).await;
    assert_eq!(page.status, 410);
    assert!(page.shows("This invitation has expired"), "{}", page.text());
    let form = page.form("form[action$='/request-new']");
    assert!(page.shows("Request a new invitation"));
    assert_eq!(renewal_requested_at(&app), vec![None]);
    assert!(events_of(&app, AuditAction::InvitationRenewalRequested).is_empty());

    // Asking: the page says the sender was asked; the inviter gets an email.
    let done = invitee.submit(&form).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert!(
        done.shows("We asked the sender for a new invitation"),
        "{}",
        done.text()
    );
    let email = app.email_to("admin@acme.test").await;
    assert_eq!(
        email.subject,
        "late@example.com asks for a new invitation to Acme"
    );
    assert!(
        email.text.contains(
            "late@example.com (not signed in) asked for a new invitation to join Acme as Editor"
        ),
        "{}",
        email.text
    );
    let team_link = format!("{}/orgs/{org}/team", app.address);
    assert!(email.text.contains(&team_link), "{}", email.text);
    assert!(email.html.contains(&team_link), "{}", email.html);
    assert!(
        email.text.contains("Send a new invitation"),
        "{}",
        email.text
    );
    assert_eq!(
        renewal_requested_at(&app),
        vec![Some(app.clock_now().naive_utc())]
    );
    let audited = events_of(&app, AuditAction::InvitationRenewalRequested);
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0].target.as_deref(), Some("late@example.com"));
    assert_eq!(audited[0].actor_label, "late@example.com (not signed in)");
    assert_eq!(audited[0].ip.as_deref(), Some("127.0.0.1"));
    assert!(
        audited[0]
            .details
            .as_deref()
            .unwrap()
            .contains("admin@acme.test"),
        "{audited:?}"
    );

    // The page now says it was asked, without the button.
    let again = invitee.get(&link).await;
    assert!(
        again.shows("A new invitation was requested"),
        "{}",
        again.text()
    );
    assert!(
        again
            .attrs("form[action$='/request-new']", "action")
            .is_empty()
    );

    // Asking again within the day (a resubmitted form) sends nothing.
    app.advance(Duration::hours(23));
    let repeat = invitee.submit(&form).await;
    assert_eq!(repeat.status, 200);
    assert!(
        repeat.shows("A new invitation was already requested"),
        "{}",
        repeat.text()
    );
    assert!(repeat.shows("no new email was sent"), "{}", repeat.text());
    assert!(app.no_email_to("admin@acme.test").await);
    assert_eq!(renewal_emails_queued(&app), 1);
    assert_eq!(
        events_of(&app, AuditAction::InvitationRenewalRequested).len(),
        1
    );

    // The inviter's Team page shows the request on the history row, and one click resends.
    let team = admin.get(&paths::team(org)).await;
    let history = team.texts("section[aria-labelledby='history-heading'] tbody tr");
    assert_eq!(history.len(), 1, "{history:?}");
    assert!(
        history[0].contains("late@example.com")
            && history[0].contains("Expired")
            && history[0].contains("New invitation requested"),
        "{history:?}"
    );
    let resend = team
        .button_form("section[aria-labelledby='history-heading'] button[formaction$='/resend']");
    let sent = admin.submit(&resend).await;
    assert!(sent.shows("a new one was sent"), "{}", sent.text());
    let fresh = app.email_to("late@example.com").await;
    assert_ne!(fresh.invitation_path(), link);
    let joined = app.browser().get(&fresh.invitation_path()).await;
    assert!(joined.shows("Create account & join"), "{}", joined.text());
    let history = sent.texts("section[aria-labelledby='history-heading'] tbody tr");
    assert!(
        !history[0].contains("New invitation requested"),
        "answered: a new invitation is pending: {history:?}"
    );

    // The old link now points to the newer invitation and offers no further request.
    let old = invitee.get(&link).await;
    assert!(
        old.shows("A newer invitation has been sent"),
        "{}",
        old.text()
    );
    assert!(
        old.attrs("form[action$='/request-new']", "action")
            .is_empty()
    );
    app.advance(Duration::days(2));
    let forced = invitee.submit(&form).await;
    assert_eq!(forced.status, 410, "{}", forced.text());
    assert_eq!(renewal_emails_queued(&app), 1);
}

#[tokio::test]
async fn after_a_day_a_new_invitation_may_be_requested_again() {
    let app = spawn_app().await;
    let (_, _, link) = expired_invitation(&app, "late@example.com").await;
    let invitee = app.browser();
    let form = invitee
        .get(&link)
        .await
        .form("form[action$='/request-new']");
    invitee.submit(&form).await;
    app.email_to("admin@acme.test").await;

    app.advance(Duration::days(1));
    let page = invitee.get(&link).await;
    let form = page.form("form[action$='/request-new']");
    let done = invitee.submit(&form).await;
    assert!(
        done.shows("We asked the sender for a new invitation"),
        "{}",
        done.text()
    );
    app.email_to("admin@acme.test").await;
    assert_eq!(renewal_emails_queued(&app), 2);
    assert_eq!(
        events_of(&app, AuditAction::InvitationRenewalRequested).len(),
        2
    );
}

#[tokio::test]
async fn a_signed_in_invitee_is_named_as_who_asks() {
    let app = spawn_app().await;
    let (org, _, link) = expired_invitation(&app, "known@example.com").await;
    let user = app.create_user("known@example.com", "Known Person");
    let _ = (org, user);
    let invitee = app.browser();
    invitee
        .login("known@example.com", crate::helpers::PASSWORD)
        .await;
    let page = invitee.get(&link).await;
    invitee
        .submit(&page.form("form[action$='/request-new']"))
        .await;
    let email = app.email_to("admin@acme.test").await;
    assert!(
        email
            .text
            .starts_with("Known Person <known@example.com> asked for a new invitation"),
        "{}",
        email.text
    );
    let audited = events_of(&app, AuditAction::InvitationRenewalRequested);
    assert_eq!(audited[0].actor_label, "Known Person <known@example.com>");
    assert!(audited[0].actor_id.is_some());
}

#[tokio::test]
async fn only_expired_links_can_ask_and_a_post_without_csrf_changes_nothing() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    admin.invite(org, "live@example.com", "viewer", "").await;
    let link = app.email_to("live@example.com").await.invitation_path();
    let invitee = app.browser();
    let page = invitee.get(&link).await;
    assert_eq!(page.status, 200);
    assert!(
        page.attrs("form[action$='/request-new']", "action")
            .is_empty()
    );

    // A live link: nothing to renew, back to the page.
    let csrf = page.csrf();
    let live = invitee
        .post(&format!("{link}/request-new"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(live.path(), link);
    assert!(live.shows("Create account & join"), "{}", live.text());

    // Expired, but without the CSRF token: 403 and nothing written or sent.
    app.advance(Duration::days(8));
    let forged = invitee.post(&format!("{link}/request-new"), &[]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(renewal_requested_at(&app), vec![None]);

    // Revoked: not expired, so no request; the page says revoked.
    admin.invite(org, "gone@example.com", "viewer", "").await;
    let gone = app.email_to("gone@example.com").await.invitation_path();
    let id: String = app.query(|c| {
        Ok(invitations::table
            .filter(invitations::email.eq("gone@example.com"))
            .select(invitations::id)
            .first(c)?)
    });
    let revoke = paths::revoke(org, id.parse().unwrap());
    admin.click(&revoke, &revoke).await;
    let page = invitee.get(&gone).await;
    assert!(page.shows("This invitation has been revoked"));
    let csrf = invitee.get(paths::LOGIN.pattern()).await.csrf();
    let refused = invitee
        .post(&format!("{gone}/request-new"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(refused.status, 410);
    assert!(refused.shows("This invitation has been revoked"));

    assert!(app.no_email_to("admin@acme.test").await);
    assert_eq!(renewal_emails_queued(&app), 0);
    assert!(events_of(&app, AuditAction::InvitationRenewalRequested).is_empty());
    // An unknown token is a 404.
    let unknown = invitee
        .post(
            "/invitations/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/request-new",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn two_racing_requests_send_one_email() {
    let app = spawn_app().await;
    let (_, _, link) = expired_invitation(&app, "race@example.com").await;
    let invitee = app.browser();
    let page = invitee.get(&link).await;
    let form = page.form("form[action$='/request-new']");
    let results = futures::future::join_all((0..8).map(|_| invitee.submit(&form))).await;
    assert!(results.iter().all(|p| p.status == 200));
    assert_eq!(
        results
            .iter()
            .filter(|p| p.shows("We asked the sender for a new invitation"))
            .count(),
        1
    );
    assert_eq!(renewal_emails_queued(&app), 1);
    assert_eq!(
        events_of(&app, AuditAction::InvitationRenewalRequested).len(),
        1
    );
}
