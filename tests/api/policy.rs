//! Invitations follow current policy (DESIGN.md, "Invitations follow current policy"): at acceptance the inviter
//! must still be a member whose role holds `users:invite` and may assign the invited role.
//! Otherwise the page says the invitation was revoked (a GET writes nothing), and an accept or
//! decline POST marks it Revoked with the reason, records it, and refuses. Staff may assign
//! any role.

use diesel::prelude::*;
use joinery::db::schema::{invitations, memberships, users};
use joinery::domain::audit::AuditAction;
use joinery::domain::{OrganizationId, Plan, Role, UserId};
use joinery::paths;

use crate::audit::{events_of, staff};
use crate::helpers::{Browser, PASSWORD, TestApp, spawn_app};

/// The id of the account with `email`.
fn user_id(app: &TestApp, email: &str) -> UserId {
    let id: String = app.query(|c| {
        Ok(users::table
            .filter(users::email.eq(email))
            .select(users::id)
            .first(c)?)
    });
    id.parse().unwrap()
}

/// Changes `email`'s role in `org` directly in the database (as a role change by someone
/// else would).
fn set_role(app: &TestApp, org: OrganizationId, email: &str, role: Role) {
    let user = user_id(app, email);
    app.query(|c| {
        let m = joinery::db::organizations::membership(c, org, user)?.unwrap();
        joinery::db::organizations::set_role(c, m.id, role)
    });
}

/// Removes `email` from `org` directly in the database.
fn remove(app: &TestApp, org: OrganizationId, email: &str) {
    let user = user_id(app, email).to_string();
    app.query(|c| {
        Ok(diesel::delete(
            memberships::table
                .filter(memberships::organization_id.eq(org.to_string()))
                .filter(memberships::user_id.eq(user)),
        )
        .execute(c)?)
    });
}

/// The only invitation's (status, reason).
fn stored(app: &TestApp) -> (String, Option<String>) {
    app.query(|c| {
        Ok(invitations::table
            .select((invitations::status, invitations::status_reason))
            .first(c)?)
    })
}

/// This browser's CSRF token (a revoked invitation's page has no form to read it from).
async fn form_token(browser: &Browser) -> String {
    browser.get(paths::LOGIN.pattern()).await.csrf()
}

fn member_count(app: &TestApp, org: OrganizationId) -> i64 {
    app.query(|c| joinery::db::organizations::member_count(c, org))
}

/// An Owner of Acme (owner@acme.test) invites `email` as `role`; returns the organization,
/// the owner's browser and the link.
async fn invited_by_owner(
    app: &TestApp,
    email: &str,
    role: &str,
) -> (OrganizationId, Browser, String) {
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    // A second Owner, so the first can be demoted or removed.
    let other = app.create_user("second@acme.test", "Second Owner");
    app.add_member(org, other, Role::Owner);
    let sent = owner.invite(org, email, role, "").await;
    assert!(sent.shows("1 invitation sent"), "{}", sent.text());
    let link = app.email_to(email).await.invitation_path();
    (org, owner, link)
}

#[tokio::test]
async fn an_owner_invitation_from_an_owner_since_made_admin_is_revoked_at_acceptance() {
    let app = spawn_app().await;
    let (org, _, link) = invited_by_owner(&app, "boss@example.com", "owner").await;
    app.create_user("boss@example.com", "Boss");
    set_role(&app, org, "owner@acme.test", Role::Admin);

    // Opening the link says revoked and writes nothing.
    let invitee = app.browser();
    invitee.login("boss@example.com", PASSWORD).await;
    let page = invitee.get(&link).await;
    assert_eq!(page.status, 410);
    assert!(
        page.shows("This invitation has been revoked"),
        "{}",
        page.text()
    );
    assert!(!page.shows("Accept invitation"), "{}", page.text());
    assert_eq!(
        stored(&app),
        ("pending".into(), None),
        "a GET writes nothing"
    );
    assert!(events_of(&app, AuditAction::InvitationRevoked).is_empty());

    // An accept POST (a page opened earlier) is refused and writes Revoked with the reason.
    let csrf = page.csrf();
    let members_before = member_count(&app, org);
    let refused = invitee
        .post(&format!("{link}/accept"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(refused.status, 410, "{}", refused.text());
    assert!(refused.shows("This invitation has been revoked"));
    assert_eq!(
        stored(&app),
        (
            "revoked".into(),
            Some("inviter may no longer assign Owner".into())
        )
    );
    assert_eq!(member_count(&app, org), members_before, "nobody joined");
    let revoked = events_of(&app, AuditAction::InvitationRevoked);
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(revoked[0].target.as_deref(), Some("boss@example.com"));
    assert_eq!(revoked[0].actor_label, "system");
    assert!(
        revoked[0]
            .details
            .as_deref()
            .unwrap()
            .starts_with("inviter may no longer assign Owner"),
        "{revoked:?}"
    );
    assert!(events_of(&app, AuditAction::InvitationAccepted).is_empty());

    // The history shows why, to anyone who manages the team.
    let second = app.browser();
    second.login("second@acme.test", PASSWORD).await;
    let team = second.get(&paths::team(org)).await;
    let history = team.texts("section[aria-labelledby='history-heading'] tbody tr");
    assert!(
        history[0].contains("Revoked") && history[0].contains("inviter may no longer assign Owner"),
        "{history:?}"
    );
}

#[tokio::test]
async fn an_inviter_who_left_makes_registration_fail_without_creating_the_account() {
    let app = spawn_app().await;
    let (org, _, link) = invited_by_owner(&app, "new@example.com", "editor").await;
    remove(&app, org, "owner@acme.test");

    let invitee = app.browser();
    let page = invitee.get(&link).await;
    assert!(
        page.shows("This invitation has been revoked"),
        "{}",
        page.text()
    );
    assert_eq!(stored(&app).0, "pending");
    let csrf = form_token(&invitee).await;

    // Forcing the "Create account & join" form is refused, and no account is made.
    let done = invitee
        .post(
            &format!("{link}/register"),
            &[
                ("csrf_token", &csrf),
                ("name", "New Person"),
                ("password", "a good long password"),
            ],
        )
        .await;
    assert_eq!(done.status, 410, "{}", done.text());
    assert!(done.shows("This invitation has been revoked"));
    assert_eq!(
        stored(&app),
        (
            "revoked".into(),
            Some("inviter is no longer a member".into())
        )
    );
    let accounts: i64 = app.query(|c| {
        Ok(users::table
            .filter(users::email.eq("new@example.com"))
            .count()
            .get_result(c)?)
    });
    assert_eq!(accounts, 0);
    assert_eq!(events_of(&app, AuditAction::InvitationRevoked).len(), 1);
}

#[tokio::test]
async fn an_inviter_without_users_invite_makes_log_in_and_accept_fail() {
    let app = spawn_app().await;
    let (org, _, link) = invited_by_owner(&app, "ada@example.com", "viewer").await;
    app.create_user("ada@example.com", "Ada");
    set_role(&app, org, "owner@acme.test", Role::Editor);

    let invitee = app.browser();
    let page = invitee.get(&link).await;
    assert!(
        page.shows("This invitation has been revoked"),
        "{}",
        page.text()
    );
    let csrf = form_token(&invitee).await;
    let done = invitee
        .post(
            &format!("{link}/login"),
            &[("csrf_token", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(done.status, 410, "{}", done.text());
    assert_eq!(
        stored(&app),
        (
            "revoked".into(),
            Some("inviter may no longer invite (now Editor)".into())
        )
    );
    // Restoring the inviter's role does not bring a revoked invitation back.
    set_role(&app, org, "owner@acme.test", Role::Owner);
    let page = invitee.get(&link).await;
    assert!(page.shows("This invitation has been revoked"));
}

#[tokio::test]
async fn declining_a_lapsed_invitation_revokes_it_instead() {
    let app = spawn_app().await;
    let (org, _, link) = invited_by_owner(&app, "no@example.com", "viewer").await;
    remove(&app, org, "owner@acme.test");
    let invitee = app.browser();
    let page = invitee.get(&link).await;
    assert!(
        page.shows("This invitation has been revoked"),
        "{}",
        page.text()
    );
    let csrf = form_token(&invitee).await;
    let done = invitee
        .post(&format!("{link}/decline"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(done.status, 410);
    assert!(done.shows("This invitation has been revoked"));
    assert_eq!(stored(&app).0, "revoked");
    assert!(events_of(&app, AuditAction::InvitationDeclined).is_empty());
}

#[tokio::test]
async fn an_inviter_who_still_may_assign_the_role_is_not_affected() {
    let app = spawn_app().await;
    // Demoted from Owner to Admin, with an Editor invitation out: Admins may assign Editor.
    let (org, _, link) = invited_by_owner(&app, "ok@example.com", "editor").await;
    set_role(&app, org, "owner@acme.test", Role::Admin);
    let invitee = app.browser();
    let page = invitee.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let form = page
        .form("form[action$='/register']")
        .set("name", "Okay Person")
        .set("password", "a good long password");
    let done = invitee.submit(&form).await;
    assert!(done.shows("You joined Acme as Editor"), "{}", done.text());
    assert_eq!(stored(&app).0, "accepted");
}

#[tokio::test]
async fn staff_may_assign_any_role_so_their_invitations_stay_good() {
    let app = spawn_app().await;
    let (org, _) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let staff = staff(&app, "ops@joinery.test", "Ops Person").await;
    let sent = staff.invite(org, "chief@example.com", "owner", "").await;
    assert!(sent.shows("1 invitation sent"), "{}", sent.text());
    let link = app.email_to("chief@example.com").await.invitation_path();

    let invitee = app.browser();
    let page = invitee.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let form = page
        .form("form[action$='/register']")
        .set("name", "Chief")
        .set("password", "a good long password");
    let done = invitee.submit(&form).await;
    assert!(done.shows("You joined Acme as Owner"), "{}", done.text());
    assert_eq!(stored(&app).0, "accepted");
}
