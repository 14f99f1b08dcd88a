//! Acting on an invitation or invite link obeys the role ceiling of its role (DESIGN.md,
//! "Security rules"; rule 1): someone may resend, revoke or replace only what they could have
//! given themselves. An Admin cannot resend or revoke an Owner's invitation, revoke an Owner
//! invite link, or replace or resend an Owner invitation by inviting its address again (the
//! invite form and the CSV import); the Team page offers them no such button. Each refusal is
//! a 403 page with a link back to the Team page, and nothing changes.

use diesel::prelude::*;
use joinery::db::schema::{invitations, invite_links, outbox_emails};
use joinery::domain::{OrganizationId, Plan, Role};
use joinery::paths;

use crate::helpers::{Browser, PASSWORD, Page, TestApp, spawn_app};

/// A Starter organization with an Owner and an Admin (both signed in). The Owner has invited
/// `boss@example.com` as Owner and `helper@example.com` as Admin, and created an Owner invite
/// link and an Admin one.
async fn org_with_owner_invitations(app: &TestApp) -> (OrganizationId, Browser, Browser) {
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let admin_id = app.create_user("admin@acme.test", "Ada Admin");
    app.add_member(org, admin_id, Role::Admin);
    let admin = app.browser();
    assert_eq!(admin.login("admin@acme.test", PASSWORD).await.status, 200);
    for (email, role) in [
        ("boss@example.com", "owner"),
        ("helper@example.com", "admin"),
    ] {
        let page = owner.invite(org, email, role, "").await;
        assert!(page.shows("1 invitation sent"), "{}", page.text());
    }
    for role in ["owner", "admin"] {
        let form = owner
            .get(&paths::new_invite_link(org))
            .await
            .form("form.invite-link-form")
            .set("role", role)
            .set("expiry", "7d");
        assert_eq!(owner.submit(&form).await.status, 200);
    }
    (org, owner, admin)
}

/// The id, status and role of the invitation to `email` (the latest).
fn invitation(app: &TestApp, email: &str) -> (String, String, String) {
    let email = email.to_owned();
    app.query(move |c| {
        Ok(invitations::table
            .filter(invitations::email.eq(email))
            .order(invitations::created_at.desc())
            .select((invitations::id, invitations::status, invitations::role))
            .first(c)?)
    })
}

/// Every invitation row: (email, role, status), by email and age.
fn all_invitations(app: &TestApp) -> Vec<(String, String, String)> {
    app.query(|c| {
        Ok(invitations::table
            .order((invitations::email.asc(), invitations::created_at.asc()))
            .select((invitations::email, invitations::role, invitations::status))
            .load(c)?)
    })
}

/// The id and status of the invite link for `role`.
fn link(app: &TestApp, role: Role) -> (String, String) {
    app.query(move |c| {
        Ok(invite_links::table
            .filter(invite_links::role.eq(role.as_str()))
            .select((invite_links::id, invite_links::status))
            .first(c)?)
    })
}

fn outbox_count(app: &TestApp) -> i64 {
    app.query(|c| Ok(outbox_emails::table.count().get_result(c)?))
}

/// A 403 page saying `why`, with a link back to the Team page of `org`.
fn refused(page: &Page, org: OrganizationId, why: &str) {
    assert_eq!(page.status, 403, "{}", page.text());
    assert!(page.shows(why), "{}", page.text());
    assert_eq!(
        page.attrs(&format!("a[href='/orgs/{org}/team']"), "href")
            .len(),
        1,
        "a link back to the Team page: {}",
        page.body
    );
}

#[tokio::test]
async fn rule_1_admins_cannot_resend_or_revoke_an_owner_invitation() {
    let app = spawn_app().await;
    let (org, _owner, admin) = org_with_owner_invitations(&app).await;
    let (boss, _, _) = invitation(&app, "boss@example.com");
    let csrf = admin.get(&paths::team(org)).await.csrf();
    let (rows, mail, audit) = (
        all_invitations(&app),
        outbox_count(&app),
        app.audit_actions(org).len(),
    );
    app.advance(chrono::Duration::minutes(2));

    let confirm = admin.get(&paths::revoke(org, boss.parse().unwrap())).await;
    refused(&confirm, org, "above your own role");
    let revoke = admin
        .post(
            &paths::revoke(org, boss.parse().unwrap()),
            &[("csrf_token", &csrf)],
        )
        .await;
    refused(&revoke, org, "You cannot revoke an invitation as Owner");
    let resend = admin
        .post(
            &paths::resend(org, boss.parse().unwrap()),
            &[("csrf_token", &csrf)],
        )
        .await;
    refused(&resend, org, "You cannot resend an invitation as Owner");
    assert_eq!(all_invitations(&app), rows, "nothing changed");
    assert_eq!(outbox_count(&app), mail, "nothing sent");
    assert_eq!(app.audit_actions(org).len(), audit, "nothing recorded");

    // Expired, "Send a new invitation" would issue a new Owner invitation: refused alike.
    app.advance(chrono::Duration::days(8));
    let renew = admin
        .post(
            &paths::resend(org, boss.parse().unwrap()),
            &[("csrf_token", &csrf)],
        )
        .await;
    refused(&renew, org, "You cannot resend an invitation as Owner");
    assert_eq!(app.invitation_count(), 2);
    assert_eq!(outbox_count(&app), mail);
}

#[tokio::test]
async fn rule_1_admins_still_resend_and_revoke_invitations_at_or_below_their_role() {
    let app = spawn_app().await;
    let (org, _owner, admin) = org_with_owner_invitations(&app).await;
    let (helper, _, _) = invitation(&app, "helper@example.com");
    app.advance(chrono::Duration::minutes(2));
    let resent = admin
        .click(
            &paths::team(org),
            &paths::resend(org, helper.parse().unwrap()),
        )
        .await;
    assert_eq!(resent.status, 200, "{}", resent.text());
    assert!(resent.shows("Invitation sent again"), "{}", resent.text());
    let revoke = paths::revoke(org, helper.parse().unwrap());
    let revoked = admin.click(&revoke, &revoke).await;
    assert!(revoked.shows("was revoked"), "{}", revoked.text());
    assert_eq!(invitation(&app, "helper@example.com").1, "revoked");
}

#[tokio::test]
async fn rule_1_admins_cannot_revoke_an_owner_invite_link() {
    let app = spawn_app().await;
    let (org, _owner, admin) = org_with_owner_invitations(&app).await;
    let (owner_link, _) = link(&app, Role::Owner);
    let csrf = admin.get(&paths::team(org)).await.csrf();
    let audit = app.audit_actions(org).len();
    let confirm = admin
        .get(&paths::revoke_invite_link(org, owner_link.parse().unwrap()))
        .await;
    refused(&confirm, org, "above your own role");
    let revoke = admin
        .post(
            &paths::revoke_invite_link(org, owner_link.parse().unwrap()),
            &[("csrf_token", &csrf)],
        )
        .await;
    refused(&revoke, org, "You cannot revoke an invite link for Owner");
    assert_eq!(link(&app, Role::Owner).1, "active");
    assert_eq!(app.audit_actions(org).len(), audit);

    // Their own role's link they may revoke.
    let (admin_link, _) = link(&app, Role::Admin);
    let path = paths::revoke_invite_link(org, admin_link.parse().unwrap());
    let done = admin.click(&path, &path).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(link(&app, Role::Admin).1, "revoked");
}

#[tokio::test]
async fn rule_1_re_inviting_cannot_replace_or_resend_an_invitation_above_your_role() {
    let app = spawn_app().await;
    let (org, owner, admin) = org_with_owner_invitations(&app).await;
    app.advance(chrono::Duration::minutes(2));
    let (before, mail) = (all_invitations(&app), outbox_count(&app));

    // Only such addresses: refused as a whole.
    let page = admin.invite(org, "Boss@Example.com", "viewer", "").await;
    refused(&page, org, "pending invitation as Owner, above your role");
    assert_eq!(all_invitations(&app), before);
    assert_eq!(outbox_count(&app), mail);

    // Among others: skipped, with the reason in its row; the others go out.
    let page = admin
        .invite(org, "boss@example.com\nnew@example.com", "viewer", "")
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(page.path(), paths::team(org));
    let rows = page.texts(".invite-result tbody tr");
    assert!(
        rows.iter().any(|r| r.contains("boss@example.com")
            && r.contains("Skipped: pending invitation as Owner, above your role")),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("new@example.com") && r.contains("Sent")),
        "{rows:?}"
    );
    assert_eq!(invitation(&app, "boss@example.com").1, "pending");
    assert_eq!(invitation(&app, "boss@example.com").2, "owner");
    assert_eq!(app.invitation_count(), 3);

    // An Owner may replace it.
    let page = owner.invite(org, "boss@example.com", "viewer", "").await;
    assert!(page.shows("1 invitation sent"), "{}", page.text());
    assert_eq!(invitation(&app, "boss@example.com").2, "viewer");
}

#[tokio::test]
async fn rule_1_a_csv_import_cannot_replace_an_invitation_above_your_role() {
    let app = spawn_app().await;
    let (org, _owner, admin) = org_with_owner_invitations(&app).await;
    let before = all_invitations(&app);
    let form = admin.get(&paths::import_invitations(org)).await;
    let csrf = form.csrf();
    let csv =
        "email,role,department,message\nboss@example.com,viewer,,\nfresh@example.com,viewer,,\n";
    let preview = admin
        .try_upload(
            &paths::import_invitations(org),
            &[("csrf_token", &csrf)],
            "file",
            "team.csv",
            csv.as_bytes().to_vec(),
        )
        .await
        .unwrap();
    let rows: Vec<(String, String)> = preview
        .attrs("table.import-rows tbody tr", "data-action")
        .into_iter()
        .zip(preview.texts("table.import-rows tbody tr"))
        .collect();
    assert_eq!(rows.len(), 2, "{}", preview.text());
    assert_eq!(rows[0].0, "skip", "{rows:?}");
    assert!(
        rows[0]
            .1
            .contains("Pending invitation as Owner, above your role"),
        "{rows:?}"
    );
    assert_eq!(rows[1].0, "send", "{rows:?}");
    let result = admin.submit(&preview.form("form.confirm-import")).await;
    assert!(
        result.shows("1 invitation sent, 0 sent again, 1 skipped, 0 invalid."),
        "{}",
        result.text()
    );
    let after = all_invitations(&app);
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(invitation(&app, "boss@example.com").2, "owner");
    assert_eq!(invitation(&app, "boss@example.com").1, "pending");
}

#[tokio::test]
async fn the_team_page_offers_no_resend_or_revoke_above_the_viewers_role() {
    let app = spawn_app().await;
    let (org, owner, admin) = org_with_owner_invitations(&app).await;
    let (boss, helper) = (
        invitation(&app, "boss@example.com").0,
        invitation(&app, "helper@example.com").0,
    );
    let (owner_link, admin_link) = (link(&app, Role::Owner).0, link(&app, Role::Admin).0);
    let controls = |page: &Page| {
        let mut found = page.attrs("button[formaction*='/resend']", "formaction");
        found.extend(page.attrs("a[href*='/revoke']", "href"));
        found.sort();
        found
    };
    let mut everything = vec![
        paths::resend(org, boss.parse().unwrap()),
        paths::revoke(org, boss.parse().unwrap()),
        paths::resend(org, helper.parse().unwrap()),
        paths::revoke(org, helper.parse().unwrap()),
        paths::revoke_invite_link(org, owner_link.parse().unwrap()),
        paths::revoke_invite_link(org, admin_link.parse().unwrap()),
    ];
    everything.sort();
    let team = paths::team(org);
    assert_eq!(controls(&owner.get(&team).await), everything);
    let mut admins = vec![
        paths::resend(org, helper.parse().unwrap()),
        paths::revoke(org, helper.parse().unwrap()),
        paths::revoke_invite_link(org, admin_link.parse().unwrap()),
    ];
    admins.sort();
    assert_eq!(controls(&admin.get(&team).await), admins);

    // Expired: "Send a new invitation" in the history, for the Owner only.
    app.advance(chrono::Duration::days(8));
    let resends = |page: &Page| page.attrs("button[formaction*='/resend']", "formaction");
    assert_eq!(resends(&owner.get(&team).await).len(), 2);
    assert_eq!(
        resends(&admin.get(&team).await),
        vec![paths::resend(org, helper.parse().unwrap())]
    );
}
