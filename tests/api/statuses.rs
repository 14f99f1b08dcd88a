//! The status policy (DESIGN.md, "Security rules"; README, "Status policy"): each kind of
//! refusal has one status, on every form and button, with a page that says what happened and
//! links back. Rows that other modules prove in passing (422 on a form error, 401 on a wrong
//! password, 404 on a foreign id, 410 on a used link, 413 on a large body) are named there; this
//! module holds the rows that have no other home.

use diesel::prelude::*;
use joinery::db::schema::{invitations, invite_links, tenant_invitations};
use joinery::domain::{Plan, Role};
use joinery::paths;

use crate::helpers::{Browser, Page, TestApp, spawn_app};

/// The id of the (latest) invitation to `email`.
fn invitation_id(app: &TestApp, email: &str) -> String {
    let email = email.to_owned();
    app.query(move |c| {
        Ok(invitations::table
            .filter(invitations::email.eq(email))
            .order(invitations::created_at.desc())
            .select(invitations::id)
            .first::<String>(c)?)
    })
}

/// POSTs to `action` with the CSRF token of the page at `from`, as a browser whose page still
/// shows a button that no longer applies would.
async fn post_from(browser: &Browser, from: &str, action: &str) -> Page {
    let csrf = browser.get(from).await.csrf();
    browser.post(action, &[("csrf_token", &csrf)]).await
}

fn links_back_to(page: &Page, path: &str) -> bool {
    page.attrs("main a", "href").iter().any(|h| h == path)
}

/// A POST acting on an invitation in a final state (resend or revoke of an accepted, revoked
/// or declined one) answers 409, says why, links back, and changes nothing.
#[tokio::test]
async fn acting_on_an_invitation_in_a_final_state_is_a_409() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let team = paths::team(org);
    owner.invite(org, "gone@example.com", "viewer", "").await;
    app.email_to("gone@example.com").await;
    let id = invitation_id(&app, "gone@example.com");
    let revoke = paths::revoke(org, id.parse().unwrap());
    let resend = paths::resend(org, id.parse().unwrap());
    let first = post_from(&owner, &team, &revoke).await;
    assert!(first.shows("was revoked"), "{}", first.text());

    let again = post_from(&owner, &team, &revoke).await;
    assert_eq!(again.status, 409, "{}", again.text());
    assert!(again.shows("already Revoked"), "{}", again.text());
    assert!(links_back_to(&again, &team), "{}", again.body);
    let resent = post_from(&owner, &team, &resend).await;
    assert_eq!(resent.status, 409, "{}", resent.text());
    assert!(resent.shows("cannot be resent"), "{}", resent.text());
    assert!(app.no_email_to("gone@example.com").await);

    // Accepted: the same.
    owner.invite(org, "joined@example.com", "viewer", "").await;
    let link = app.email_to("joined@example.com").await.invitation_path();
    let invitee = app.browser();
    let form = invitee
        .get(&link)
        .await
        .form("form[action$='/register']")
        .set("name", "Joined")
        .set("password", "a good long password");
    assert!(invitee.submit(&form).await.shows("You joined Acme"));
    let id = invitation_id(&app, "joined@example.com");
    let page = post_from(&owner, &team, &paths::revoke(org, id.parse().unwrap())).await;
    assert_eq!(page.status, 409, "{}", page.text());
    assert!(page.shows("already Accepted"), "{}", page.text());
}

/// Revoking an invite link that was already used answers 409.
#[tokio::test]
async fn revoking_a_used_invite_link_is_a_409() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let team = paths::team(org);
    let form = owner
        .get(&paths::new_invite_link(org))
        .await
        .form("form[action$='/invite-links']")
        .set("role", "viewer")
        .set("expiry", "24h");
    assert_eq!(owner.submit(&form).await.status, 200);
    let id: String = app.query(|c| {
        Ok(invite_links::table
            .select(invite_links::id)
            .first::<String>(c)?)
    });
    let revoke = paths::revoke_invite_link(org, id.parse().unwrap());
    assert!(post_from(&owner, &team, &revoke).await.shows("was revoked"));
    let again = post_from(&owner, &team, &revoke).await;
    assert_eq!(again.status, 409, "{}", again.text());
    assert!(again.shows("nothing to revoke"), "{}", again.text());
    assert!(links_back_to(&again, &team), "{}", again.body);
}

/// Staff: a plan no form offers is a 400; a tenant-owner invitation resent within the minute
/// is a 429 with `Retry-After`; revoking one twice is a 409.
#[tokio::test]
async fn staff_console_refusals_follow_the_status_policy() {
    let app = spawn_app().await;
    app.create_staff("staff@joinery.test", "Sam Staff");
    let staff = app.logged_in("staff@joinery.test").await;
    let org = app.create_org("Acme", Plan::Starter);

    let csrf = staff.get(paths::STAFF.pattern()).await.csrf();
    let page = staff
        .post(
            &paths::staff_plan(org),
            &[("csrf_token", &csrf), ("plan", "platinum")],
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.text());
    assert!(
        page.shows("Choose one of the plans listed"),
        "{}",
        page.text()
    );
    assert!(
        links_back_to(&page, paths::STAFF.pattern()),
        "{}",
        page.body
    );

    let console = staff.get(paths::STAFF.pattern()).await;
    let form = console
        .form("form[action='/staff/tenant-invitations']")
        .set("email", "founder@example.com")
        .set("plan", "starter");
    assert_eq!(staff.submit(&form).await.status, 200);
    app.email_to("founder@example.com").await;
    let id: String = app.query(|c| {
        Ok(tenant_invitations::table
            .select(tenant_invitations::id)
            .first::<String>(c)?)
    });
    let resend = paths::tenant_resend(id.parse().unwrap());
    let first = post_from(&staff, paths::STAFF.pattern(), &resend).await;
    assert!(first.shows("sent again"), "{}", first.text());
    let page = post_from(&staff, paths::STAFF.pattern(), &resend).await;
    assert_eq!(page.status, 429, "{}", page.text());
    assert_eq!(page.header("retry-after").as_deref(), Some("60"));
    assert!(page.shows("less than a minute ago"), "{}", page.text());

    let revoke = paths::tenant_revoke(id.parse().unwrap());
    assert!(
        post_from(&staff, paths::STAFF.pattern(), &revoke)
            .await
            .shows("was revoked")
    );
    let page = post_from(&staff, paths::STAFF.pattern(), &revoke).await;
    assert_eq!(page.status, 409, "{}", page.text());
}

/// A Trial organization's CSV upload is refused by plan: 403 with the plan's message.
#[tokio::test]
async fn a_trial_csv_upload_is_a_403() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Trial, Role::Owner).await;
    let csrf = owner.get(&paths::import_invitations(org)).await.csrf();
    let page = owner
        .try_upload(
            &paths::import_invitations(org),
            &[("csrf_token", &csrf)],
            "file",
            "people.csv",
            b"email,role,department,message\na@example.com,viewer,,\n".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(page.status, 403, "{}", page.text());
    assert!(page.shows("Team invitations are available on paid plans"));
}

/// A role that no form offers, posted to a member's role selector, is a 400 with a link back,
/// and the role is unchanged.
#[tokio::test]
async fn an_unknown_role_on_the_role_selector_is_a_400() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let user = app.create_user("pat@example.com", "Pat");
    app.add_member(org, user, Role::Viewer);
    let id = app.membership_id(org, "pat@example.com");
    let team = paths::team(org);
    let csrf = owner.get(&team).await.csrf();
    let page = owner
        .post(
            &paths::member_role(org, id),
            &[("csrf_token", &csrf), ("role", "emperor")],
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.text());
    assert!(
        page.shows("Choose one of the roles listed"),
        "{}",
        page.text()
    );
    assert!(links_back_to(&page, &team), "{}", page.body);
    assert_eq!(app.role_of(org, "pat@example.com"), Some(Role::Viewer));
}
