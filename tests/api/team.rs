//! Team Management and the invite dialog, driven as a browser would: the role ceiling (rule 1),
//! who may invite (rule 2), Trial gating (rule 3), re-invites, normalization, resend, revoke,
//! cross-organization ids, bounded input, expiry without a sweep and delivery status
//! (DESIGN.md, "Roles and permissions", "Invitations" and "Pages").

use joinery::paths;
use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use joinery::db::models::InvitationRow;
use joinery::db::schema::invitations;
use joinery::domain::{InvitationId, OrganizationId, Plan, Role};

use crate::helpers::{Browser, PASSWORD, Page, TestApp, spawn_app};

/// An invitation as stored, for checking what a request wrote.
#[derive(Debug, Clone)]
struct Stored {
    id: String,
    organization_id: String,
    email: String,
    role: String,
    status: String,
    reason: Option<String>,
    message: Option<String>,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    resend_count: i32,
}

/// Every invitation row, oldest first.
fn stored(app: &TestApp) -> Vec<Stored> {
    let rows: Vec<InvitationRow> = app.query(|c| {
        Ok(invitations::table
            .order(invitations::created_at.asc())
            .select(InvitationRow::as_select())
            .load(c)?)
    });
    rows.into_iter()
        .map(|r| Stored {
            id: r.id,
            organization_id: r.organization_id,
            email: r.email,
            role: r.role,
            status: r.status,
            reason: r.status_reason,
            message: r.message,
            created_at: r.created_at,
            expires_at: r.expires_at,
            resend_count: r.resend_count,
        })
        .collect()
}

/// The only invitation row; fails if there is not exactly one.
fn only_invitation(app: &TestApp) -> Stored {
    let mut rows = stored(app);
    assert_eq!(rows.len(), 1, "expected exactly one invitation: {rows:?}");
    rows.remove(0)
}

/// Adds `email` to `org` with `role` and returns a browser logged in as them.
async fn member(app: &TestApp, org: OrganizationId, email: &str, role: Role) -> Browser {
    let user = app.create_user(email, &format!("{} Person", role.label()));
    app.add_member(org, user, role);
    let browser = app.browser();
    let page = browser.login(email, PASSWORD).await;
    assert_eq!(page.status, 200, "login failed: {}", page.text());
    browser
}

fn team_path(org: OrganizationId) -> String {
    paths::team(org)
}

/// The rows of "Pending invitations", as text.
fn pending_rows(page: &Page) -> Vec<String> {
    page.texts("section[aria-labelledby='pending-heading'] tbody tr")
}

/// The rows of "Invitation history", as text.
fn history_rows(page: &Page) -> Vec<String> {
    page.texts("section[aria-labelledby='history-heading'] tbody tr")
}

/// The one-shot message at the top of the page.
fn flash(page: &Page) -> String {
    page.texts(".flash p").join(" ")
}

/// The role values the invite form's selector offers, in order.
fn offered_roles(page: &Page) -> Vec<String> {
    page.attrs("form.invite-form select[name=role] option", "value")
}

// ---- Rule 1: the role ceiling ------------------------------------------------------------

#[tokio::test]
async fn admin_is_offered_roles_up_to_admin_lowest_first_with_viewer_selected() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;

    let invite = admin.get(&paths::invite(org)).await;
    assert_eq!(invite.status, 200);
    assert_eq!(
        offered_roles(&invite),
        vec!["viewer", "writer", "editor", "admin"]
    );
    assert_eq!(
        invite.attrs(
            "form.invite-form select[name=role] option[selected]",
            "value"
        ),
        vec!["viewer"]
    );
    assert!(!invite.shows("Owner — "), "{}", invite.text());

    // The dialog on the Team page offers the same.
    let team = admin.get(&team_path(org)).await;
    assert_eq!(team.status, 200);
    assert_eq!(
        offered_roles(&team),
        vec!["viewer", "writer", "editor", "admin"]
    );
}

#[tokio::test]
async fn admin_posting_owner_gets_the_form_back_with_an_error_and_nothing_written() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;

    let emails = "boss@example.com, other@example.com";
    let page = admin
        .invite(org, emails, "owner", "Please run the place")
        .await;
    assert_eq!(
        page.status,
        403,
        "refused by the role ceiling: {}",
        page.text()
    );
    let role_error = page.texts("#invite-role-error").join(" ");
    assert!(
        role_error.contains("Owner"),
        "error beside Role: {role_error:?}"
    );
    assert_eq!(
        page.attrs("select[name=role]", "aria-invalid"),
        vec!["true"],
        "the Role field is marked invalid"
    );
    assert_eq!(
        page.texts("textarea[name=emails]"),
        vec![emails],
        "typed emails are kept"
    );
    assert_eq!(
        page.texts("textarea[name=message]"),
        vec!["Please run the place"]
    );
    assert_eq!(
        offered_roles(&page),
        vec!["viewer", "writer", "editor", "admin"]
    );

    assert_eq!(app.invitation_count(), 0);
    assert!(app.no_email_to("boss@example.com").await);
}

#[tokio::test]
async fn owner_may_invite_an_owner() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;

    let invite = owner.get(&paths::invite(org)).await;
    assert_eq!(
        offered_roles(&invite),
        vec!["viewer", "writer", "editor", "admin", "owner"]
    );

    let page = owner
        .invite(org, "cofounder@example.com", "owner", "")
        .await;
    assert_eq!(page.path(), team_path(org));
    assert!(
        flash(&page).contains("1 invitation sent"),
        "{}",
        page.text()
    );
    let inv = only_invitation(&app);
    assert_eq!(
        (inv.email.as_str(), inv.role.as_str(), inv.status.as_str()),
        ("cofounder@example.com", "owner", "pending")
    );
    let email = app.email_to("cofounder@example.com").await;
    assert!(email.text.contains("as Owner"), "{}", email.text);
}

// ---- Rule 2: only users:invite holders -------------------------------------------------------

#[tokio::test]
async fn editors_writers_and_viewers_cannot_see_or_use_team_management() {
    let app = spawn_app().await;
    let (org, _owner) = app.org_with("Acme", Plan::Professional, Role::Owner).await;

    for role in [Role::Editor, Role::Writer, Role::Viewer] {
        let email = format!("{}-member@acme.test", role.as_str());
        let browser = member(&app, org, &email, role).await;

        let dashboard = browser.get(&paths::dashboard(org)).await;
        assert_eq!(dashboard.status, 200, "{role}: {}", dashboard.text());
        assert!(
            dashboard
                .attrs(&format!("a[href='{}']", team_path(org)), "href")
                .is_empty(),
            "{role} sees a Team Management link"
        );
        assert!(
            !dashboard.shows("Team Management"),
            "{role}: {}",
            dashboard.text()
        );

        let team = browser.get(&team_path(org)).await;
        assert_eq!(team.status, 403, "{role} opened the Team page");
        assert!(team.attrs("form.invite-form", "action").is_empty());
        let invite = browser.get(&paths::invite(org)).await;
        assert_eq!(invite.status, 403, "{role} opened the invite form");
        assert!(invite.attrs("form.invite-form", "action").is_empty());

        // A forged submission with this session's valid CSRF token (from the dashboard).
        let csrf = dashboard.csrf();
        let post = browser
            .post(
                &paths::send_invitations(org),
                &[
                    ("csrf_token", &csrf),
                    ("emails", "friend@example.com"),
                    ("role", "viewer"),
                    ("message", ""),
                ],
            )
            .await;
        assert_eq!(post.status, 403, "{role} could post invitations");
        assert!(
            !post.shows("Form expired"),
            "refused for the role, not the token: {}",
            post.text()
        );
        assert!(post.shows("You cannot do that"), "{}", post.text());
    }
    assert_eq!(app.invitation_count(), 0);
    assert!(app.no_email_to("friend@example.com").await);
}

// ---- Rule 3: Trial organizations cannot invite -----------------------------------------------

#[tokio::test]
async fn trial_organizations_see_the_paid_plans_message_and_cannot_invite() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Tryout", Plan::Trial, Role::Owner).await;

    let team = owner.get(&team_path(org)).await;
    assert_eq!(team.status, 200);
    assert!(
        team.shows("Team invitations are available on paid plans"),
        "{}",
        team.text()
    );
    assert!(!team.shows("Invite Team Member"), "{}", team.text());
    assert!(
        team.attrs(&format!("a[href='/orgs/{org}/team/invite']"), "href")
            .is_empty()
    );
    assert!(
        team.attrs("form.invite-form", "action").is_empty(),
        "no invite form on the Team page"
    );

    let invite = owner.get(&paths::invite(org)).await;
    assert!(
        invite.shows("Team invitations are available on paid plans"),
        "{}",
        invite.text()
    );
    assert!(
        invite.attrs("form.invite-form", "action").is_empty(),
        "no invite form on its own page"
    );

    let csrf = team.csrf();
    let post = owner
        .post(
            &paths::send_invitations(org),
            &[
                ("csrf_token", &csrf),
                ("emails", "friend@example.com"),
                ("role", "viewer"),
                ("message", ""),
            ],
        )
        .await;
    assert_eq!(
        post.status,
        403,
        "forged POST was not refused: {}",
        post.text()
    );
    assert!(
        post.shows("Team invitations are available on paid plans"),
        "{}",
        post.text()
    );
    assert_eq!(app.invitation_count(), 0);
    assert!(app.no_email_to("friend@example.com").await);
}

#[tokio::test]
async fn an_organization_moved_to_trial_cannot_resend() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Downgraded", Plan::Starter, Role::Owner).await;
    owner.invite(org, "friend@example.com", "viewer", "").await;
    app.email_to("friend@example.com").await;
    // The Resend form as it was while the plan was paid.
    let resend = owner
        .get(&team_path(org))
        .await
        .button_form("button[formaction$='/resend']");
    let orgs = joinery::db::schema::organizations::table;
    app.query(|c| {
        Ok(diesel::update(orgs.find(org.to_string()))
            .set(joinery::db::schema::organizations::plan.eq(Plan::Trial.as_str()))
            .execute(c)?)
    });

    let team = owner.get(&team_path(org)).await;
    assert!(
        team.shows("Team invitations are available on paid plans"),
        "{}",
        team.text()
    );
    assert!(
        team.attrs("button[formaction$='/resend']", "formaction")
            .is_empty(),
        "no Resend button on a Trial plan"
    );
    assert!(
        !team.attrs("a[href$='/revoke']", "href").is_empty(),
        "Revoke stays"
    );
    let page = owner.submit(&resend).await;
    assert_eq!(page.status, 403, "{}", page.text());
    assert!(
        page.shows("Team invitations are available on paid plans"),
        "{}",
        page.text()
    );
    assert!(
        page.attrs("a", "href").contains(&team_path(org)),
        "a link back to the Team page: {}",
        page.body
    );
    assert!(app.no_email_to("friend@example.com").await);
    assert_eq!(only_invitation(&app).resend_count, 0);
}

// ---- Resend ------------------------------------------------------------------------------

#[tokio::test]
async fn resend_sends_the_same_link_at_most_once_a_minute() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    admin.invite(org, "pat@example.com", "writer", "").await;
    let first = app.email_to("pat@example.com").await;

    let team = admin.get(&team_path(org)).await;
    let resend = team.button_form("button[formaction$='/resend']");
    assert!(
        team.attrs("button[formaction$='/resend'][disabled]", "type")
            .is_empty(),
        "Resend usable at first"
    );

    let page = admin.submit(&resend).await;
    assert_eq!(page.path(), team_path(org));
    assert!(
        flash(&page).contains("sent again to pat@example.com"),
        "{}",
        page.text()
    );
    let second = app.email_to("pat@example.com").await;
    assert_eq!(
        second.invitation_link(),
        first.invitation_link(),
        "a resend carries the original link"
    );
    assert_eq!(
        page.attrs("button[formaction$='/resend'][disabled]", "type")
            .len(),
        1,
        "Resend is disabled while waiting: {}",
        page.text()
    );
    let available = (app.clock_now() + Duration::seconds(60))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(
        page.attrs("button[formaction$='/resend'][disabled] time", "datetime"),
        vec![available],
        "the button shows when it can be used again"
    );

    // Again within the minute (the disabled button submitted anyway): refused, no email.
    app.advance(Duration::seconds(30));
    let page = admin.submit(&resend).await;
    assert_eq!(page.status, 429, "{}", page.text());
    assert_eq!(page.header("retry-after").as_deref(), Some("30"));
    let message = page.text();
    assert!(
        message.contains("less than a minute ago"),
        "{}",
        page.text()
    );
    assert!(
        message.contains("30 seconds"),
        "says when it can be used again: {message}"
    );
    assert!(
        app.no_email_to("pat@example.com").await,
        "a refused resend sent email"
    );
    assert_eq!(only_invitation(&app).resend_count, 1);

    app.advance(Duration::seconds(31));
    let team = admin.get(&team_path(org)).await;
    assert!(
        team.attrs("button[formaction$='/resend'][disabled]", "type")
            .is_empty(),
        "usable again after 60 s"
    );
    let page = admin
        .submit(&team.button_form("button[formaction$='/resend']"))
        .await;
    assert!(flash(&page).contains("sent again"), "{}", page.text());
    let third = app.email_to("pat@example.com").await;
    assert_eq!(third.invitation_link(), first.invitation_link());
    let inv = only_invitation(&app);
    assert_eq!((inv.status.as_str(), inv.resend_count), ("pending", 2));
}

// ---- Re-inviting an address with a live invitation ---------------------------------------

#[tokio::test]
async fn reinviting_with_the_same_role_resends_and_with_another_role_replaces() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    admin.invite(org, "sam@example.com", "editor", "").await;
    let first = app.email_to("sam@example.com").await;

    // Same role: the original link again, no new invitation.
    let page = admin.invite(org, "sam@example.com", "editor", "").await;
    assert!(
        flash(&page).contains("0 invitations sent, 1 resent"),
        "{}",
        page.text()
    );
    let again = app.email_to("sam@example.com").await;
    assert_eq!(again.invitation_link(), first.invitation_link());
    let inv = only_invitation(&app);
    assert_eq!(
        (inv.status.as_str(), inv.role.as_str()),
        ("pending", "editor")
    );
    assert_eq!(pending_rows(&page).len(), 1, "{:?}", pending_rows(&page));

    // Another role: the old one is revoked (replaced) and a new one issued.
    app.advance(Duration::seconds(1));
    let page = admin.invite(org, "sam@example.com", "viewer", "").await;
    assert!(
        flash(&page).contains("1 invitation sent"),
        "{}",
        page.text()
    );
    let replacement = app.email_to("sam@example.com").await;
    assert_ne!(
        replacement.invitation_link(),
        first.invitation_link(),
        "a new invitation has a new link"
    );
    assert!(
        replacement.text.contains("as Viewer"),
        "{}",
        replacement.text
    );

    let rows = stored(&app);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let old = rows.iter().find(|r| r.role == "editor").unwrap();
    let new = rows.iter().find(|r| r.role == "viewer").unwrap();
    assert_eq!(
        (old.status.as_str(), old.reason.as_deref()),
        ("revoked", Some("replaced"))
    );
    assert_eq!(new.status, "pending");

    let pending = pending_rows(&page);
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert!(
        pending[0].contains("sam@example.com") && pending[0].contains("Viewer"),
        "{pending:?}"
    );
    let history = history_rows(&page);
    assert_eq!(history.len(), 1, "{history:?}");
    assert!(history[0].contains("sam@example.com"), "{history:?}");
    assert!(history[0].contains("Editor"), "{history:?}");
    assert!(
        history[0].contains("Revoked") && history[0].contains("replaced"),
        "{history:?}"
    );

    let old_link = app.browser().get(&first.invitation_path()).await;
    assert!(
        old_link.shows("This invitation has been revoked"),
        "{}",
        old_link.text()
    );
    let new_link = app.browser().get(&replacement.invitation_path()).await;
    assert_eq!(new_link.status, 200);
    assert!(new_link.shows("Viewer"), "{}", new_link.text());
    assert!(
        new_link.shows("Create account & join"),
        "{}",
        new_link.text()
    );
}

// ---- Email normalization ---------------------------------------------------------------------

#[tokio::test]
async fn differently_typed_addresses_are_the_same_invitee() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;

    let page = admin.invite(org, "User@Example.COM ", "viewer", "").await;
    assert!(
        flash(&page).contains("1 invitation sent"),
        "{}",
        page.text()
    );
    assert_eq!(only_invitation(&app).email, "user@example.com");
    let first = app.email_to("user@example.com").await;
    assert!(
        pending_rows(&page)[0].contains("user@example.com"),
        "{:?}",
        pending_rows(&page)
    );

    let page = admin.invite(org, "user@example.com", "viewer", "").await;
    assert!(
        flash(&page).contains("0 invitations sent"),
        "{}",
        page.text()
    );
    let inv = only_invitation(&app);
    assert_eq!(
        (inv.email.as_str(), inv.status.as_str()),
        ("user@example.com", "pending")
    );
    assert_eq!(pending_rows(&page).len(), 1, "{:?}", pending_rows(&page));
    let again = app.email_to("user@example.com").await;
    assert_eq!(again.invitation_link(), first.invitation_link());
}

#[tokio::test]
async fn a_mixed_list_sends_once_per_invitee_and_reports_invalid_entries() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;

    let page = admin
        .invite(org, "a@x.test, A@X.test\nnot-an-email", "writer", "")
        .await;
    assert_eq!(page.path(), team_path(org), "{}", page.text());
    let summary = flash(&page);
    assert!(summary.contains("1 invitation sent"), "{summary}");
    assert!(summary.contains("1 skipped"), "{summary}");
    assert!(
        summary.contains("not-an-email (invalid address: this is not a valid email address)"),
        "{summary}"
    );

    let inv = only_invitation(&app);
    assert_eq!(
        (inv.email.as_str(), inv.role.as_str()),
        ("a@x.test", "writer")
    );
    app.email_to("a@x.test").await;
    assert!(
        app.no_email_to("a@x.test").await,
        "the duplicate got a second email"
    );
}

// ---- Members are skipped -----------------------------------------------------------------

#[tokio::test]
async fn inviting_an_existing_member_is_skipped_as_already_a_member() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    let user = app.create_user("mem@example.com", "Mem Ber");
    app.add_member(org, user, Role::Writer);

    let page = admin.invite(org, "Mem@Example.com", "editor", "").await;
    let summary = flash(&page);
    assert!(summary.contains("0 invitations sent"), "{summary}");
    assert!(
        summary.contains("mem@example.com (already a member)"),
        "{summary}"
    );
    assert!(pending_rows(&page).is_empty(), "{:?}", pending_rows(&page));
    assert_eq!(app.invitation_count(), 0);
    assert!(app.no_email_to("mem@example.com").await);
}

// ---- Revoke --------------------------------------------------------------------------------

#[tokio::test]
async fn revoke_asks_for_confirmation_then_the_link_stops_working() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    admin.invite(org, "gone@example.com", "editor", "").await;
    let email = app.email_to("gone@example.com").await;

    let team = admin.get(&team_path(org)).await;
    let revoke_links = team.attrs(
        "section[aria-labelledby='pending-heading'] a[href$='/revoke']",
        "href",
    );
    assert_eq!(revoke_links.len(), 1, "{}", team.text());

    let confirm = admin.get(&revoke_links[0]).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.shows("Revoke invitation?"), "{}", confirm.text());
    assert!(confirm.shows("gone@example.com"), "{}", confirm.text());
    assert_eq!(
        only_invitation(&app).status,
        "pending",
        "opening the confirmation changes nothing"
    );
    assert_eq!(
        app.browser().get(&email.invitation_path()).await.status,
        200
    );

    let done = admin
        .submit(&confirm.form(&format!("form[action='{}']", revoke_links[0])))
        .await;
    assert_eq!(done.path(), team_path(org));
    assert!(flash(&done).contains("was revoked"), "{}", done.text());
    assert!(pending_rows(&done).is_empty(), "{:?}", pending_rows(&done));
    let history = history_rows(&done);
    assert_eq!(history.len(), 1, "{history:?}");
    assert!(
        history[0].contains("gone@example.com") && history[0].contains("Revoked"),
        "{history:?}"
    );
    assert_eq!(only_invitation(&app).status, "revoked");

    let link = app.browser().get(&email.invitation_path()).await;
    assert!(
        link.shows("This invitation has been revoked"),
        "{}",
        link.text()
    );
    assert!(!link.shows("Create account & join"), "{}", link.text());
}

// ---- Ids from another organization ------------------------------------------------------------

#[tokio::test]
async fn another_organizations_invitations_and_pages_are_not_found() {
    let app = spawn_app().await;
    let (org_a, admin_a) = app.org_with("Alpha", Plan::Starter, Role::Admin).await;
    let (org_b, admin_b) = app.org_with("Beta", Plan::Starter, Role::Admin).await;
    admin_b
        .invite(org_b, "victim@example.com", "viewer", "")
        .await;
    let email = app.email_to("victim@example.com").await;
    let b_inv = only_invitation(&app);
    assert_eq!(b_inv.organization_id, org_b.to_string());
    let id = &b_inv.id;

    let dashboard = admin_a.get(&paths::dashboard(org_a)).await;
    let csrf = dashboard.csrf();
    let token = [("csrf_token", csrf.as_str())];

    // Through A's own organization path.
    let resend = admin_a
        .post(&paths::resend(org_a, id.parse().unwrap()), &token)
        .await;
    assert_eq!(resend.status, 404, "resend of B's invitation via A");
    let confirm = admin_a
        .get(&paths::revoke(org_a, id.parse().unwrap()))
        .await;
    assert_eq!(
        confirm.status, 404,
        "revoke confirmation of B's invitation via A"
    );
    assert!(!confirm.shows("victim@example.com"), "{}", confirm.text());
    let revoke = admin_a
        .post(&paths::revoke(org_a, id.parse().unwrap()), &token)
        .await;
    assert_eq!(revoke.status, 404, "revoke of B's invitation via A");

    // Through B's path, where A is no member.
    assert_eq!(admin_a.get(&team_path(org_b)).await.status, 404);
    assert_eq!(admin_a.get(&paths::invite(org_b)).await.status, 404);
    assert_eq!(
        admin_a
            .post(&paths::resend(org_b, id.parse().unwrap()), &token)
            .await
            .status,
        404
    );
    assert_eq!(
        admin_a
            .get(&paths::revoke(org_b, id.parse().unwrap()))
            .await
            .status,
        404
    );
    assert_eq!(
        admin_a
            .post(&paths::revoke(org_b, id.parse().unwrap()), &token)
            .await
            .status,
        404
    );

    let after = only_invitation(&app);
    assert_eq!((after.status.as_str(), after.resend_count), ("pending", 0));
    assert!(app.no_email_to("victim@example.com").await);
    let link = app.browser().get(&email.invitation_path()).await;
    assert_eq!(link.status, 200, "B's link still works: {}", link.text());

    // Malformed and unknown ids.
    assert_eq!(admin_a.get("/orgs/not-an-org/team").await.status, 404);
    assert_eq!(
        admin_a.get(&format!("/orgs/{org_a}x/team")).await.status,
        404
    );
    assert_eq!(
        admin_a
            .get(&format!("/orgs/{org_a}/invitations/not-an-id/revoke"))
            .await
            .status,
        404
    );
    assert_eq!(
        admin_a
            .post(
                &format!("/orgs/{org_a}/invitations/not-an-id/resend"),
                &token
            )
            .await
            .status,
        404
    );
    assert_eq!(
        admin_a
            .post(
                &format!("/orgs/{org_a}/invitations/not-an-id/revoke"),
                &token
            )
            .await
            .status,
        404
    );
    let unknown = uuid::Uuid::new_v4();
    assert_eq!(
        admin_a
            .get(&paths::revoke(org_a, InvitationId(unknown)))
            .await
            .status,
        404
    );
    assert_eq!(
        admin_a
            .get(&paths::team(OrganizationId(unknown)))
            .await
            .status,
        404
    );
}

// ---- Bounded input ---------------------------------------------------------------------------

/// Checks the invite form came back refused, with `emails` and `message` kept.
fn assert_refused_with_input_kept(page: &Page, status: u16, emails: &str, message: &str) {
    assert_eq!(page.status, status, "{}", page.text());
    assert_eq!(
        page.attrs("form.invite-form", "action").len(),
        1,
        "the form is shown again"
    );
    assert_eq!(
        page.html_text("textarea[name=emails]").as_deref(),
        Some(emails),
        "the addresses are kept"
    );
    assert_eq!(
        page.html_text("textarea[name=message]").as_deref(),
        Some(message),
        "the message is kept"
    );
}

trait RawText {
    fn html_text(&self, css: &str) -> Option<String>;
}

impl RawText for Page {
    /// The exact text of the first element matching `css` (whitespace kept).
    fn html_text(&self, css: &str) -> Option<String> {
        let html = scraper::Html::parse_document(&self.body);
        let sel = scraper::Selector::parse(css).unwrap();
        html.select(&sel).next().map(|e| e.text().collect())
    }
}

#[tokio::test]
async fn a_message_over_1000_characters_is_refused_beside_the_field() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;

    let long = "m".repeat(1_001);
    let page = admin.invite(org, "ok@example.com", "editor", &long).await;
    assert_refused_with_input_kept(&page, 422, "ok@example.com", &long);
    let error = page.texts("#invite-message-error").join(" ");
    assert!(
        error.contains("1000") || error.contains("1,000"),
        "error beside the message: {error:?}"
    );
    assert_eq!(
        page.attrs(
            "form.invite-form select[name=role] option[selected]",
            "value"
        ),
        vec!["editor"],
        "the chosen role is kept"
    );
    assert_eq!(app.invitation_count(), 0);
    assert!(app.no_email_to("ok@example.com").await);

    let exact = "n".repeat(1_000);
    let page = admin.invite(org, "ok@example.com", "editor", &exact).await;
    assert_eq!(page.path(), team_path(org), "{}", page.text());
    assert!(
        flash(&page).contains("1 invitation sent"),
        "{}",
        page.text()
    );
    assert_eq!(
        only_invitation(&app).message.as_deref(),
        Some(exact.as_str())
    );
    let email = app.email_to("ok@example.com").await;
    assert!(email.text.contains(&exact), "the message is in the email");
}

#[tokio::test]
async fn an_unknown_role_is_refused_beside_the_role_field() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;

    let page = admin.invite(org, "ok@example.com", "superuser", "Hi").await;
    assert_refused_with_input_kept(&page, 400, "ok@example.com", "Hi");
    assert!(
        !page.texts("#invite-role-error").is_empty(),
        "error beside Role: {}",
        page.text()
    );
    assert_eq!(app.invitation_count(), 0);
    assert!(app.no_email_to("ok@example.com").await);
}

#[tokio::test]
async fn an_empty_address_field_is_refused() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;

    let page = admin.invite(org, "  \n ", "viewer", "Hello there").await;
    assert_refused_with_input_kept(&page, 422, "  \n ", "Hello there");
    let error = page.texts("#invite-emails-error").join(" ");
    assert!(
        error.contains("Enter at least one email address"),
        "{error:?}"
    );
    assert_eq!(app.invitation_count(), 0);
}

#[tokio::test]
async fn more_than_1000_addresses_are_refused_with_a_clear_message() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;

    let many: Vec<String> = (0..1_001)
        .map(|i| format!("person{i}@example.com"))
        .collect();
    let emails = many.join("\n");
    let page = admin.invite(org, &emails, "viewer", "").await;
    assert_eq!(page.status, 422, "{}", flash(&page));
    let kept = page.html_text("textarea[name=emails]").unwrap_or_default();
    assert_eq!(kept.trim(), emails, "the addresses are kept");
    let error = page.texts("#invite-emails-error").join(" ");
    assert!(
        error.contains("1,001") || error.contains("1001"),
        "says how many: {error:?}"
    );
    assert!(error.contains("at most 1,000"), "says the limit: {error:?}");
    assert_eq!(app.invitation_count(), 0);
    assert!(app.no_email_to("person0@example.com").await);
}

// ---- Expiry ------------------------------------------------------------------------------------

#[tokio::test]
async fn an_expired_invitation_moves_to_history_and_can_be_sent_anew() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    admin
        .invite(org, "late@example.com", "editor", "See you")
        .await;
    let first = app.email_to("late@example.com").await;
    let team = admin.get(&team_path(org)).await;
    assert_eq!(pending_rows(&team).len(), 1);
    assert!(history_rows(&team).is_empty());

    app.advance(Duration::days(7) + Duration::seconds(1));
    let team = admin.get(&team_path(org)).await;
    assert!(pending_rows(&team).is_empty(), "{:?}", pending_rows(&team));
    let history = history_rows(&team);
    assert_eq!(history.len(), 1, "{history:?}");
    assert!(
        history[0].contains("late@example.com") && history[0].contains("Expired"),
        "{history:?}"
    );
    assert_eq!(
        only_invitation(&app).status,
        "pending",
        "no sweep has run: the page decides by time"
    );
    let old_link = app.browser().get(&first.invitation_path()).await;
    assert!(
        old_link.shows("This invitation has expired"),
        "{}",
        old_link.text()
    );

    let form = team
        .button_form("section[aria-labelledby='history-heading'] button[formaction$='/resend']");
    let page = admin.submit(&form).await;
    assert_eq!(page.path(), team_path(org));
    assert!(
        flash(&page).contains("a new one was sent"),
        "{}",
        page.text()
    );

    let second = app.email_to("late@example.com").await;
    assert_ne!(
        second.invitation_link(),
        first.invitation_link(),
        "a new invitation has a new link"
    );
    let rows = stored(&app);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (old, new) = (&rows[0], &rows[1]);
    assert_eq!(old.status, "expired");
    assert_eq!(
        (new.status.as_str(), new.role.as_str(), new.email.as_str()),
        ("pending", "editor", "late@example.com")
    );
    assert_eq!(new.message.as_deref(), Some("See you"));
    let now = app.clock_now().naive_utc();
    assert_eq!(new.created_at, now);
    assert_eq!(
        new.expires_at,
        now + Duration::days(7),
        "a fresh 7-day window"
    );

    let pending = pending_rows(&page);
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert!(
        pending[0].contains("late@example.com") && pending[0].contains("in 7 days"),
        "{pending:?}"
    );
    let history = history_rows(&page);
    assert_eq!(history.len(), 1, "{history:?}");
    assert!(history[0].contains("Expired"), "{history:?}");
    assert!(
        !history[0].contains("Send a new invitation"),
        "a newer invitation is pending, so the expired row offers no resend: {history:?}"
    );

    let new_link = app.browser().get(&second.invitation_path()).await;
    assert_eq!(new_link.status, 200, "{}", new_link.text());
    assert!(
        new_link.shows("Create account & join"),
        "{}",
        new_link.text()
    );
    let old_link = app.browser().get(&first.invitation_path()).await;
    assert!(
        old_link.shows("This invitation has expired"),
        "{}",
        old_link.text()
    );
}

// ---- Delivery status ------------------------------------------------------------------------

#[tokio::test]
async fn pending_rows_show_delivery_status_which_becomes_sent() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    let page = admin.invite(org, "mail@example.com", "viewer", "").await;
    let badge =
        |page: &Page| page.texts("section[aria-labelledby='pending-heading'] tbody tr .badge");

    let first = badge(&page);
    assert_eq!(first.len(), 1, "{}", page.text());
    assert!(
        ["queued", "sending", "sent"].contains(&first[0].as_str()),
        "delivery state: {first:?}"
    );

    app.email_to("mail@example.com").await;
    let mut last = Vec::new();
    for _ in 0..100 {
        last = badge(&admin.get(&team_path(org)).await);
        if last == ["sent"] {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    assert_eq!(last, vec!["sent"], "delivered email shows as sent");
}

/// An invitation accepted while an admin re-invites its address with another role: the
/// re-invite skips the new member rather than sending them a fresh invitation. On PostgreSQL
/// the re-invite reads the address as merely invited, then waits on the invitation row until
/// the acceptance commits; on SQLite the two write transactions queue.
#[tokio::test]
async fn a_reinvite_racing_an_acceptance_skips_the_new_member() {
    use joinery::db::{self, DbError, audit::AuditContext};

    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    admin.invite(org, "sam@example.com", "editor", "").await;
    app.email_to("sam@example.com").await;
    let sam = app.create_user("sam@example.com", "Sam");
    let invitation = only_invitation(&app).id;

    // Sam's acceptance, held open for a second after its writes.
    let (written_tx, written_rx) = std::sync::mpsc::channel();
    let acceptance = {
        let db = app.db.clone();
        let now = app.clock_now();
        std::thread::spawn(move || {
            db.with_conn(|c| {
                db::write_transaction(c, |c| -> Result<(), DbError> {
                    let details = db::invitations::find_details(c, &invitation)?.unwrap();
                    let user = db::users::find(c, sam)?.unwrap();
                    let ctx = AuditContext::system();
                    let accepted = joinery::service::acceptance::accept_in_transaction(
                        c, &ctx, &details, &user, now,
                    );
                    assert!(accepted.is_ok(), "{accepted:?}");
                    written_tx.send(()).unwrap();
                    std::thread::sleep(StdDuration::from_secs(1));
                    Ok(())
                })
            })
            .unwrap();
        })
    };
    written_rx.recv().unwrap();
    let page = admin.invite(org, "sam@example.com", "viewer", "").await;
    acceptance.join().unwrap();

    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.shows("already a member"), "{}", page.text());
    let rows = stored(&app);
    assert_eq!(rows.len(), 1, "no new invitation: {rows:?}");
    assert_eq!(rows[0].status, "accepted");
    assert_eq!(app.role_of(org, "sam@example.com"), Some(Role::Editor));
    assert!(app.no_email_to("sam@example.com").await);
}

// ---- Reuse of the rendered page (issue 16) -----------------------------------------------

/// The Team page's `ETag`.
fn etag(page: &Page) -> String {
    page.headers
        .get("etag")
        .expect("the Team page carries an ETag")
        .to_str()
        .unwrap()
        .to_owned()
}

/// A rendered Team page is reused only while nothing it shows has changed: a browser's
/// revalidation gets a 304 until then, and any change — even one made in the database behind
/// every handler's back (an email's delivery state, a person's name, a role), or the clock
/// moving on (relative times) — gives the new page at once.
#[tokio::test]
async fn the_team_page_is_answered_304_until_anything_it_shows_changes() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "mail@example.com", "viewer", "").await;
    app.email_to("mail@example.com").await;
    // Until the outbox's worker has marked the email sent, the page may still change.
    let mut page = owner.get(&team_path(org)).await;
    for _ in 0..100 {
        if page.texts("section[aria-labelledby='pending-heading'] tbody tr .badge") == ["sent"] {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
        page = owner.get(&team_path(org)).await;
    }
    assert_eq!(page.status, 200);
    assert_eq!(
        page.headers.get("cache-control").unwrap(),
        "private, no-cache",
        "kept for this person only, and revalidated before reuse"
    );
    let tag = etag(&page);
    let again = owner
        .get_with(&team_path(org), &[("If-None-Match", &tag)])
        .await;
    assert_eq!(again.status, 304, "nothing changed: {}", again.text());
    assert!(again.body.is_empty());
    assert_eq!(etag(&again), tag);
    // Another view of the page (another sort) is another page.
    let sorted = owner
        .get_with(
            &format!("{}?members_sort=email", team_path(org)),
            &[("If-None-Match", &tag)],
        )
        .await;
    assert_eq!(sorted.status, 200, "{}", sorted.text());

    // The email's delivery state, changed in the database directly.
    app.execute("UPDATE outbox_emails SET status = 'failed', last_error = 'mailbox full'");
    let failed = owner
        .get_with(&team_path(org), &[("If-None-Match", &tag)])
        .await;
    assert_eq!(failed.status, 200, "a new delivery state is a new page");
    assert_eq!(
        failed.texts("section[aria-labelledby='pending-heading'] tbody tr .badge"),
        ["failed"]
    );
    assert!(failed.text().contains("mailbox full"));
    let tag = etag(&failed);

    // A member's name.
    let other = app.create_user("dana@example.com", "Dana Original");
    app.add_member(org, other, Role::Viewer);
    let page = owner
        .get_with(&team_path(org), &[("If-None-Match", &tag)])
        .await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Dana Original"));
    app.execute("UPDATE users SET name = 'Dana Renamed' WHERE email = 'dana@example.com'");
    let page = owner
        .get_with(&team_path(org), &[("If-None-Match", &etag(&page))])
        .await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Dana Renamed"), "{}", page.text());
    let tag = etag(&page);

    // The clock: relative times are never more than a second old.
    app.advance(Duration::minutes(2));
    let later = owner
        .get_with(&team_path(org), &[("If-None-Match", &tag)])
        .await;
    assert_eq!(
        later.status, 200,
        "two minutes later the relative times differ"
    );
    assert!(later.text().contains("2 minutes ago"), "{}", later.text());
    let tag = etag(&later);

    // The viewer's own role, read on every request: an Owner demoted to Admin no longer
    // sees Owner among the roles they may give.
    let second_owner = app.create_user("olga@example.com", "Olga Owner");
    app.add_member(org, second_owner, Role::Owner);
    let page = owner.get(&team_path(org)).await;
    let member_roles = "section[aria-labelledby='members-heading'] select[name^='role-'] option";
    assert!(
        page.attrs(member_roles, "value")
            .contains(&"owner".to_owned())
    );
    app.execute(&format!(
        "UPDATE memberships SET role = 'admin' WHERE organization_id = '{org}' \
         AND user_id <> '{second_owner}' AND role = 'owner'"
    ));
    let demoted = owner
        .get_with(&team_path(org), &[("If-None-Match", &tag)])
        .await;
    assert_eq!(demoted.status, 200);
    assert!(
        !demoted
            .attrs(member_roles, "value")
            .contains(&"owner".to_owned()),
        "an Admin is offered no Owner role"
    );
}

// ---- Weight -------------------------------------------------------------------------------

/// The Team page does not grow by a form per row: each table with buttons is one form with one
/// CSRF token, whatever its number of rows, and a row's links and actions are relative to the
/// page (a browser resolves them to the organization's paths).
#[tokio::test]
async fn rows_share_their_tables_form_and_link_relative_to_the_page() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let tokens = |page: &Page| page.attrs("input[name=csrf_token]", "value").len();
    owner.invite(org, "one@example.com", "viewer", "").await;
    for email in ["a@example.com", "b@example.com"] {
        let user = app.create_user(email, "Someone");
        app.add_member(org, user, Role::Viewer);
    }
    let few = owner.get(&team_path(org)).await;
    owner
        .invite(org, "two@example.com\nthree@example.com", "writer", "")
        .await;
    for email in ["c@example.com", "d@example.com"] {
        let user = app.create_user(email, "Someone Else");
        app.add_member(org, user, Role::Editor);
    }
    let more = owner.get(&team_path(org)).await;
    assert_eq!(pending_rows(&more).len(), 3);
    assert_eq!(tokens(&more), tokens(&few), "no CSRF token per row");

    let member = app.membership_id(org, "c@example.com");
    let invitation: InvitationId = stored(&app)[0].id.parse().unwrap();
    let links = more.attrs("tbody a", "href");
    let actions = more.attrs("tbody button", "formaction");
    for (path, resolved) in [
        (paths::remove_member(org, member), &links),
        (paths::member_role(org, member), &actions),
        (paths::invitation_history(org, invitation), &links),
        (paths::resend(org, invitation), &actions),
        (paths::revoke(org, invitation), &links),
    ] {
        assert!(resolved.contains(&path), "{path} in {resolved:?}");
        assert!(
            !more.body.contains(&format!("\"{path}\"")),
            "{path} is spelled out"
        );
    }
}
