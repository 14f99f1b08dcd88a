//! The acceptance page: its four branches, every terminal state, expiry to the second, single
//! use, and what happens after accepting (DESIGN.md, "The acceptance page").

use chrono::Duration;
use joinery::domain::audit::AuditAction;
use joinery::domain::{Plan, Role};
use joinery::paths;

use crate::audit::events_of;
use crate::helpers::{PASSWORD, outcomes, spawn_app, table_names, table_rows};

#[tokio::test]
async fn new_user_creates_account_and_joins_with_the_invited_role() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let sent = owner
        .invite(org, "newbie@example.com", "editor", "Welcome aboard!")
        .await;
    assert!(sent.shows("1 invitation sent"), "{}", sent.text());

    let email = app.email_to("newbie@example.com").await;
    let invitee = app.browser();
    let page = invitee.get(&email.invitation_path()).await;
    assert_eq!(page.status, 200);
    assert!(page.shows("Create account & join"), "{}", page.text());
    assert_eq!(
        page.attrs("input#email", "value"),
        vec!["newbie@example.com"]
    );
    assert_eq!(
        page.attrs("input#email", "readonly").len(),
        1,
        "the email is locked"
    );

    let form = page
        .form("form[action$='/register']")
        .set("name", "New Bie")
        .set("password", "a good long password");
    let done = invitee.submit(&form).await;
    assert_eq!(done.path(), paths::dashboard(org));
    assert!(done.shows("You joined Acme as Editor"), "{}", done.text());
    assert!(done.shows("Editor"));
}

/// Invites `email` as `role` into a fresh Starter org and returns the app pieces and the path
/// of the link from the delivered email.
async fn invited(
    app: &crate::helpers::TestApp,
    email: &str,
    role: &str,
) -> (
    joinery::domain::OrganizationId,
    crate::helpers::Browser,
    String,
) {
    let (org, owner) = app.org_with("Globex", Plan::Starter, Role::Owner).await;
    let sent = owner.invite(org, email, role, "").await;
    assert!(sent.shows("1 invitation sent"), "{}", sent.text());
    let link = app.email_to(email).await.invitation_path();
    (org, owner, link)
}

#[tokio::test]
async fn existing_user_signed_out_logs_in_and_accepts() {
    let app = spawn_app().await;
    app.create_user("ada@example.com", "Ada");
    let (org, _, link) = invited(&app, "ada@example.com", "writer").await;

    let invitee = app.browser();
    let page = invitee.get(&link).await;
    assert!(
        page.shows("Log in as ada@example.com to accept"),
        "{}",
        page.text()
    );
    assert!(page.shows("Log in & accept"));

    let wrong = invitee
        .submit(
            &page
                .form("form[action$='/login']")
                .set("password", "not the password"),
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.shows("do not match"), "{}", wrong.text());

    let page = invitee.get(&link).await;
    let done = invitee
        .submit(
            &page
                .form("form[action$='/login']")
                .set("password", PASSWORD),
        )
        .await;
    assert_eq!(done.path(), paths::dashboard(org));
    assert!(done.shows("You joined Globex as Writer"), "{}", done.text());
}

#[tokio::test]
async fn signed_in_invitee_accepts_and_keeps_other_memberships() {
    let app = spawn_app().await;
    let (first_org, ada) = app.org_with("Initech", Plan::Starter, Role::Editor).await;
    let (org, _, link) = invited(&app, "editor@initech.test", "viewer").await;

    let page = ada.get(&link).await;
    assert!(
        page.shows("Accept invitation") && page.shows("Decline"),
        "{}",
        page.text()
    );
    assert!(page.shows("Globex") && page.shows("Viewer"));
    let done = ada.submit(&page.form("form[action$='/accept']")).await;
    assert_eq!(done.path(), paths::dashboard(org));
    assert!(done.shows("You joined Globex as Viewer"));
    // The first organization is still theirs.
    let first = ada.get(&paths::dashboard(first_org)).await;
    assert_eq!(first.status, 200);
    assert!(first.shows("Initech") && first.shows("Editor"));
}

#[tokio::test]
async fn wrong_account_is_told_plainly_and_uses_nothing_up() {
    let app = spawn_app().await;
    let (_, other) = app.org_with("Hooli", Plan::Starter, Role::Admin).await;
    app.create_user("rightful@example.com", "Rightful");
    let (org, _, link) = invited(&app, "rightful@example.com", "editor").await;

    let page = other.get(&link).await;
    assert!(
        page.shows("Invitation email does not match your account"),
        "{}",
        page.text()
    );
    assert!(page.shows("admin@hooli.test") && page.shows("rightful@example.com"));
    // Forcing the accept POST as the wrong account is refused and writes nothing.
    let csrf = page.csrf();
    let forced = other
        .post(&format!("{link}/accept"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(forced.status, 403);
    assert!(forced.shows("Invitation email does not match your account"));
    let forced = other
        .post(&format!("{link}/decline"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(forced.status, 403);

    // "Log out" comes back to this page, now as a signed-out visitor.
    let back = other.submit(&page.form("form.logout-and-return")).await;
    assert_eq!(back.path(), link);
    assert!(
        back.shows("Log in as rightful@example.com to accept"),
        "{}",
        back.text()
    );
    let done = other
        .submit(
            &back
                .form("form[action$='/login']")
                .set("password", PASSWORD),
        )
        .await;
    assert!(done.shows("You joined Globex as Editor"), "{}", done.text());
    assert_eq!(done.path(), paths::dashboard(org));
}

#[tokio::test]
async fn opening_the_link_changes_nothing() {
    let app = spawn_app().await;
    let (_, owner, link) = invited(&app, "scanner@example.com", "viewer").await;
    app.outbox_idle().await; // The invitation email's row is final.
    // Every table, sessions included: no server-side session exists before sign-in.
    let tables: Vec<String> = table_names(&app);
    let snapshot = || {
        tables
            .iter()
            .map(|t| table_rows(&app, t))
            .collect::<Vec<_>>()
    };
    let before = snapshot();
    for (table, rows) in [
        ("invitations", 1),
        ("audit_events", 1),
        ("outbox_emails", 1),
    ] {
        let at = tables.iter().position(|t| t == table).unwrap();
        assert_eq!(before[at].len(), rows, "{table}: {:?}", before[at]);
    }
    for _ in 0..3 {
        let page = app.browser().get(&link).await;
        assert_eq!(page.status, 200);
        assert!(page.shows("Create account & join"), "{}", page.text());
    }
    let page = owner.get(&link).await;
    assert_eq!(page.status, 200);
    assert!(
        page.shows("Invitation email does not match your account"),
        "{}",
        page.text()
    );
    app.outbox_idle().await; // Anything a GET had queued would be sent by now.
    for ((table, before), after) in tables.iter().zip(&before).zip(snapshot()) {
        assert_eq!(&after, before, "a GET changed {table}");
    }
    // Still usable after scanners opened it.
    let person = app.browser();
    let page = person.get(&link).await;
    let done = person
        .submit(
            &page
                .form("form[action$='/register']")
                .set("name", "Real Person")
                .set("password", "long enough pw"),
        )
        .await;
    assert!(done.shows("You joined Globex as Viewer"), "{}", done.text());
}

#[tokio::test]
async fn a_used_link_says_already_used_and_a_second_accept_fails() {
    let app = spawn_app().await;
    let (_, _, link) = invited(&app, "once@example.com", "viewer").await;
    let first = app.browser();
    let other = app.browser();
    let page = first.get(&link).await;
    let stale = other.get(&link).await;
    let form = page
        .form("form[action$='/register']")
        .set("name", "Once")
        .set("password", "long enough pw");
    let done = first.submit(&form).await;
    assert!(done.shows("You joined"));

    // The same form submitted by someone else who had the page open is refused.
    let again = other
        .submit(
            &stale
                .form("form[action$='/register']")
                .set("name", "Twice")
                .set("password", "long enough pw"),
        )
        .await;
    assert_eq!(again.status, 410, "{}", again.text());
    assert!(again.shows("This invitation has already been used"));
    let page = app.browser().get(&link).await;
    assert_eq!(page.status, 410);
    assert!(page.shows("This invitation has already been used"));
    assert!(page.shows("Globex"));
    assert!(!page.shows("Create account"));
    // Signed in as the invitee, a second accept POST is refused too.
    let csrf = first.get(&link).await.csrf();
    let second = first
        .post(&format!("{link}/accept"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(second.status, 410);
    assert!(second.shows("This invitation has already been used"));
}

#[tokio::test]
async fn expiry_holds_to_the_second_without_a_sweep() {
    let app = spawn_app().await;
    let (_, _, early) = invited(&app, "early@example.com", "viewer").await;

    // One second before seven days: still usable.
    app.advance(Duration::days(7) - Duration::seconds(1));
    let invitee = app.browser();
    let page = invitee.get(&early).await;
    assert_eq!(page.status, 200);
    assert!(page.shows("Create account & join"), "{}", page.text());
    let form = page
        .form("form[action$='/register']")
        .set("name", "Early")
        .set("password", "long enough pw");

    // Two seconds later (7 days + 1 s) the same form is refused and no account is created.
    app.advance(Duration::seconds(2));
    let late = invitee.submit(&form).await;
    assert_eq!(late.status, 410);
    assert!(late.shows("This invitation has expired"), "{}", late.text());
    assert!(late.shows("Ask the person who invited you"));
    let page = app.browser().get(&early).await;
    assert_eq!(page.status, 410);
    assert!(page.shows("This invitation has expired"));
    let exists = app.query(|c| {
        joinery::db::users::email_exists(
            c,
            &joinery::domain::EmailAddress::parse("early@example.com").unwrap(),
        )
    });
    assert!(
        !exists,
        "a refused acceptance must not leave an account behind"
    );
}

#[tokio::test]
async fn revoked_and_declined_links_say_so() {
    let app = spawn_app().await;
    let (org, owner, link) = invited(&app, "revoke-me@example.com", "viewer").await;
    let team = owner.get(&paths::team(org)).await;
    let revoke_path = team
        .attrs("a.button.danger", "href")
        .into_iter()
        .next()
        .unwrap();
    let confirm = owner.get(&revoke_path).await;
    assert!(confirm.shows("Revoke invitation?"), "{}", confirm.text());
    owner.submit(&confirm.form("form[action$='/revoke']")).await;
    let page = app.browser().get(&link).await;
    assert_eq!(page.status, 410);
    assert!(
        page.shows("This invitation has been revoked"),
        "{}",
        page.text()
    );

    let sent = owner
        .invite(org, "decliner@example.com", "viewer", "")
        .await;
    assert!(sent.shows("1 invitation sent"));
    let link = app.email_to("decliner@example.com").await.invitation_path();
    let visitor = app.browser();
    let page = visitor.get(&link).await;
    let declined = visitor.submit(&page.form("form[action$='/decline']")).await;
    assert!(
        declined.shows("You declined the invitation"),
        "{}",
        declined.text()
    );
    let page = app.browser().get(&link).await;
    assert_eq!(page.status, 410);
    assert!(page.shows("This invitation was declined"));
    let history = owner.get(&paths::team(org)).await;
    assert!(
        history
            .texts("section[aria-labelledby='history-heading'] tbody td")
            .iter()
            .any(|t| t.contains("Declined"))
    );
}

#[tokio::test]
async fn unknown_and_malformed_tokens_are_404() {
    let app = spawn_app().await;
    let b = app.browser();
    for path in [
        "/invitations/abc",
        "/invitations/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/invitations/%00%0a",
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(page.shows("Page not found"));
    }
}

#[tokio::test]
async fn already_a_member_keeps_their_role_and_is_told_so() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Umbrella", Plan::Starter, Role::Owner).await;
    // Invite first, then the person joins by other means before accepting.
    owner.invite(org, "late@example.com", "viewer", "").await;
    let link = app.email_to("late@example.com").await.invitation_path();
    let user = app.create_user("late@example.com", "Late");
    app.add_member(org, user, Role::Admin);

    let b = app.browser();
    b.login("late@example.com", PASSWORD).await;
    let page = b.get(&link).await;
    let done = b.submit(&page.form("form[action$='/accept']")).await;
    assert!(
        done.shows("already a member of Umbrella as Admin"),
        "{}",
        done.text()
    );
    assert!(done.shows("Admin"));
    let page = app.browser().get(&link).await;
    assert!(page.shows("This invitation has already been used"));
}

#[tokio::test]
async fn racing_acceptances_have_exactly_one_winner() {
    let app = spawn_app().await;
    app.create_user("racer@example.com", "Racer");
    let (org, _, link) = invited(&app, "racer@example.com", "editor").await;
    let mut forms = Vec::new();
    let mut browsers = Vec::new();
    for _ in 0..6 {
        let b = app.browser();
        b.login("racer@example.com", PASSWORD).await;
        let page = b.get(&link).await;
        forms.push(page.form("form[action$='/accept']"));
        browsers.push(b);
    }
    let results =
        futures::future::join_all(browsers.iter().zip(&forms).map(|(b, f)| b.submit(f))).await;
    assert_eq!(
        outcomes(
            &results,
            &[
                ("You joined Globex as Editor", "joined"),
                ("This invitation has already been used", "already used")
            ]
        ),
        [
            (200, "joined"),
            (410, "already used"),
            (410, "already used"),
            (410, "already used"),
            (410, "already used"),
            (410, "already used")
        ],
        "exactly one acceptance wins"
    );
    let members = app.query(|c| joinery::db::organizations::member_count(c, org));
    assert_eq!(members, 2, "the owner and the one new member");
    // The winner's acceptance is recorded and announced once; the losers' leave no trace.
    for action in [AuditAction::InvitationAccepted, AuditAction::MemberJoined] {
        let recorded = events_of(&app, action);
        assert_eq!(recorded.len(), 1, "{recorded:?}");
    }
    app.outbox_idle().await;
    let note = app.email_to("owner@globex.test").await;
    assert_eq!(note.subject, "Racer joined Globex as Editor");
    assert!(
        app.no_email_to("owner@globex.test").await,
        "one notification"
    );
}

#[tokio::test]
async fn the_sweep_writes_expired_and_pages_agree_before_and_after() {
    use diesel::prelude::*;
    use joinery::db::schema::invitations;
    let app = spawn_app().await;
    let (org, owner, link) = invited(&app, "sweep@example.com", "viewer").await;
    app.advance(Duration::days(8));

    let stored = || {
        app.query(|c| {
            Ok(invitations::table
                .select(invitations::status)
                .first::<String>(c)?)
        })
    };
    assert_eq!(stored(), "pending", "nothing has swept it yet");
    let before = app.browser().get(&link).await;
    assert!(before.shows("This invitation has expired"));
    let team = owner.get(&paths::team(org)).await;
    assert!(team.shows("No pending invitations"), "{}", team.text());

    let now = app.clock_now();
    let swept = app.query(|c| joinery::db::invitations::expire_all_overdue(c, now));
    assert_eq!(swept, 1);
    assert_eq!(stored(), "expired");
    let after = app.browser().get(&link).await;
    assert!(after.shows("This invitation has expired"));
    let team = owner.get(&paths::team(org)).await;
    assert!(
        team.texts("section[aria-labelledby='history-heading'] tbody td")
            .iter()
            .any(|t| t.contains("Expired"))
    );
    // Nothing was sent when it expired: the only email to the invitee is the invitation.
    assert!(app.no_email_to("sweep@example.com").await);
}

#[tokio::test]
async fn racing_registrations_make_one_account_and_no_errors() {
    let app = spawn_app().await;
    let (org, _, link) = invited(&app, "racer-new@example.com", "writer").await;
    let mut forms = Vec::new();
    let mut browsers = Vec::new();
    for i in 0..5 {
        let b = app.browser();
        let page = b.get(&link).await;
        forms.push(
            page.form("form[action$='/register']")
                .set("name", &format!("Racer {i}"))
                .set("password", "long enough pw"),
        );
        browsers.push(b);
    }
    let results =
        futures::future::join_all(browsers.iter().zip(&forms).map(|(b, f)| b.submit(f))).await;
    assert_eq!(
        outcomes(
            &results,
            &[
                ("You joined Globex as Writer", "joined"),
                ("This invitation has already been used", "already used")
            ]
        ),
        [
            (200, "joined"),
            (410, "already used"),
            (410, "already used"),
            (410, "already used"),
            (410, "already used")
        ],
        "exactly one registration wins; the others are told the link is used"
    );
    assert_eq!(
        app.query(|c| joinery::db::organizations::member_count(c, org)),
        2
    );
    let exists = app.query(|c| {
        joinery::db::users::email_exists(
            c,
            &joinery::domain::EmailAddress::parse("racer-new@example.com").unwrap(),
        )
    });
    assert!(exists);
}
