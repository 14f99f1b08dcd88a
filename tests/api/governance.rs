//! Member governance, plans, the staff console and multi-organization people (DESIGN.md, rules 1-6):
//! DESIGN.md rules 1, 4, 5 and 6 through HTTP, the last-owner race on both backends, and the
//! policy that a removed or demoted inviter leaves no live invitations.

use joinery::domain::{Plan, Role};
use joinery::paths;

use crate::helpers::spawn_app;

fn flash(page: &crate::helpers::Page) -> String {
    page.texts(".flash p").join(" ")
}

/// A role change or removal refused by a rule: a 403 page that says why, with a link back to
/// the Team page.
fn refused(page: &crate::helpers::Page, why: &str) {
    assert_eq!(page.status, 403, "{}", page.text());
    assert!(page.shows(why), "{}", page.text());
    assert_eq!(
        page.texts("a")
            .iter()
            .filter(|a| *a == "Back to Team Management")
            .count(),
        1,
        "{}",
        page.text()
    );
}

/// Owner of a fresh Starter org, plus one member of `role` with email `{role}@member.test`.
async fn org_with_member(
    app: &crate::helpers::TestApp,
    role: Role,
) -> (
    joinery::domain::OrganizationId,
    crate::helpers::Browser,
    String,
) {
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let email = format!("{}@member.test", role.as_str());
    let user = app.create_user(&email, &format!("Member {}", role.label()));
    app.add_member(org, user, role);
    (org, owner, email)
}

#[tokio::test]
async fn an_owner_changes_a_role_and_it_is_audited() {
    let app = spawn_app().await;
    let (org, owner, email) = org_with_member(&app, Role::Viewer).await;
    let team = owner.get(&paths::team(org)).await;
    let id = app.membership_id(org, &email);
    let form = team.role_change(id, "editor");
    let page = owner.submit(&form).await;
    assert!(
        flash(&page).contains("Role changed from Viewer to Editor"),
        "{}",
        page.text()
    );
    assert_eq!(app.role_of(org, &email), Some(Role::Editor));
    assert!(
        app.audit_actions(org)
            .iter()
            .any(|(a, staff)| a == "member.role_changed" && !staff)
    );
}

/// The Team page's members table is one form: "Change role" on a row sends every row's
/// selector, and changes that row's member only, to the role chosen in its own selector; a post
/// with no role for the member is a 400 that changes nothing.
#[tokio::test]
async fn change_role_on_a_row_uses_that_rows_selector_only() {
    let app = spawn_app().await;
    let (org, owner, viewer) = org_with_member(&app, Role::Viewer).await;
    let writer = app.create_user("writer@member.test", "Member Writer");
    app.add_member(org, writer, Role::Writer);
    let id = app.membership_id(org, &viewer);
    let other = format!("role-{}", app.membership_id(org, "writer@member.test"));
    let team = owner.get(&paths::team(org)).await;
    let form = team.role_change(id, "editor").set(&other, "admin");
    assert_eq!(form.action, paths::member_role(org, id));
    assert!(
        form.fields.iter().any(|(name, _)| name == "csrf_token"),
        "{:?}",
        form.fields
    );
    let page = owner.submit(&form).await;
    assert!(
        flash(&page).contains("Role changed from Viewer to Editor"),
        "{}",
        page.text()
    );
    assert_eq!(app.role_of(org, &viewer), Some(Role::Editor));
    assert_eq!(
        app.role_of(org, "writer@member.test"),
        Some(Role::Writer),
        "another row's selector changes nothing"
    );

    let csrf = team.csrf();
    let page = owner
        .post(
            &paths::member_role(org, id),
            &[("csrf_token", &csrf), (&other, "viewer")],
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.text());
    assert!(
        page.shows("Choose one of the roles listed"),
        "{}",
        page.text()
    );
    assert_eq!(app.role_of(org, &viewer), Some(Role::Editor));
}

#[tokio::test]
async fn rule_1_admins_cannot_make_owners() {
    let app = spawn_app().await;
    let (org, _owner, viewer) = org_with_member(&app, Role::Viewer).await;
    let admin = app.create_user("admin@member.test", "Admin");
    app.add_member(org, admin, Role::Admin);
    let b = app.logged_in("admin@member.test").await;
    let team = b.get(&paths::team(org)).await;
    let id = app.membership_id(org, &viewer);
    let options = team.attrs(&format!("select[name='role-{id}'] option"), "value");
    assert_eq!(
        options,
        vec!["viewer", "writer", "editor", "admin"],
        "no Owner offered"
    );
    let forged = b.submit(&team.role_change(id, "owner")).await;
    refused(&forged, "You cannot make someone Owner");
    assert_eq!(app.role_of(org, &viewer), Some(Role::Viewer));
}

#[tokio::test]
async fn rule_5_nobody_changes_their_own_role_and_admins_leave_owners_alone() {
    let app = spawn_app().await;
    let (org, owner, _) = org_with_member(&app, Role::Viewer).await;
    let admin = app.create_user("admin@member.test", "Admin");
    app.add_member(org, admin, Role::Admin);
    let team = owner.get(&paths::team(org)).await;
    let own = app.membership_id(org, "owner@acme.test");
    assert!(
        team.attrs(&format!("select[name='role-{own}']"), "name")
            .is_empty(),
        "no selector on your own row"
    );
    assert!(
        !team.attrs("select[name^='role-']", "name").is_empty(),
        "the other rows have theirs"
    );
    let csrf = team.csrf();
    let forged = owner
        .post(
            &paths::member_role(org, own),
            &[("csrf_token", &csrf), ("role", "viewer")],
        )
        .await;
    refused(&forged, "You cannot change your own role");
    let forged = owner
        .post(&paths::remove_member(org, own), &[("csrf_token", &csrf)])
        .await;
    refused(&forged, "You cannot remove yourself");
    assert_eq!(app.role_of(org, "owner@acme.test"), Some(Role::Owner));

    let b = app.logged_in("admin@member.test").await;
    let team = b.get(&paths::team(org)).await;
    assert!(
        team.attrs(&format!("select[name='role-{own}']"), "name")
            .is_empty()
    );
    assert!(
        !team
            .attrs("a", "href")
            .contains(&paths::remove_member(org, own))
    );
    let csrf = team.csrf();
    let forged = b
        .post(
            &paths::member_role(org, own),
            &[("csrf_token", &csrf), ("role", "viewer")],
        )
        .await;
    refused(&forged, "Admins cannot change the role of an Owner");
    let forged = b
        .post(&paths::remove_member(org, own), &[("csrf_token", &csrf)])
        .await;
    refused(&forged, "Admins cannot");
    assert_eq!(app.role_of(org, "owner@acme.test"), Some(Role::Owner));
}

#[tokio::test]
async fn rule_4_the_last_owner_cannot_be_demoted_removed_or_leave() {
    let app = spawn_app().await;
    let (org, owner, _) = org_with_member(&app, Role::Viewer).await;
    let second = app.create_user("second@member.test", "Second Owner");
    app.add_member(org, second, Role::Owner);
    // With two Owners one may step down…
    let b = app.logged_in("second@member.test").await;
    let team = b.get(&paths::team(org)).await;
    let first = app.membership_id(org, "owner@acme.test");
    let page = b.submit(&team.role_change(first, "admin")).await;
    assert!(
        flash(&page).contains("Role changed from Owner to Admin"),
        "{}",
        page.text()
    );
    // …but now the second is the last: the demoted first (an Admin) cannot touch them, and
    // they cannot leave.
    let leave = b.get(&paths::leave(org)).await;
    assert!(leave.shows("needs at least one Owner"), "{}", leave.text());
    let csrf = leave.csrf();
    let forged = b.post(&paths::leave(org), &[("csrf_token", &csrf)]).await;
    assert_eq!(forged.status, 403, "{}", forged.text());
    assert!(
        forged.shows("needs at least one Owner"),
        "{}",
        forged.text()
    );
    assert_eq!(app.role_of(org, "second@member.test"), Some(Role::Owner));
    drop(owner);
    // Staff acting as Owner cannot demote the last Owner either.
    app.create_staff("staff@joinery.test", "Sam Staff");
    let staff = app.logged_in("staff@joinery.test").await;
    let team = staff.get(&paths::team(org)).await;
    let last = app.membership_id(org, "second@member.test");
    let csrf = team.csrf();
    let forged = staff
        .post(
            &paths::member_role(org, last),
            &[("csrf_token", &csrf), ("role", "viewer")],
        )
        .await;
    refused(&forged, "needs at least one Owner");
    let forged = staff
        .post(&paths::remove_member(org, last), &[("csrf_token", &csrf)])
        .await;
    refused(&forged, "needs at least one Owner");
    assert_eq!(app.role_of(org, "second@member.test"), Some(Role::Owner));
}

#[tokio::test]
async fn rule_4_holds_when_two_owners_demote_or_remove_each_other_at_once() {
    // Sixteen people log in at once from one address: lift the log-in rate limit.
    let app = crate::helpers::spawn_app_with(|s| s.login_attempts_per_minute = 1000).await;
    // Seed first; then sign everyone in and load the forms concurrently, and fire at once, so
    // no connection idles between setup and the burst.
    let mut seeds = Vec::new();
    for i in 0..8 {
        let org = app.create_org(&format!("Race {i}"), Plan::Starter);
        let (a, b) = (format!("a{i}@race.test"), format!("b{i}@race.test"));
        let ua = app.create_user(&a, "A");
        let ub = app.create_user(&b, "B");
        app.add_member(org, ua, Role::Owner);
        app.add_member(org, ub, Role::Owner);
        seeds.push((i, org, a, b));
    }
    let orgs = futures::future::join_all(seeds.into_iter().map(|(i, org, a, b)| {
        let app = &app;
        async move {
            let (ba, bb) = futures::join!(app.logged_in(&a), app.logged_in(&b));
            let (ida, idb) = (app.membership_id(org, &a), app.membership_id(org, &b));
            let team = paths::team(org);
            let (ta, tb) = futures::join!(ba.get(&team), bb.get(&team));
            // Even organizations: the Owners demote each other; odd: they remove each other.
            let (pa, pb) = if i % 2 == 0 {
                (paths::member_role(org, idb), paths::member_role(org, ida))
            } else {
                (
                    paths::remove_member(org, idb),
                    paths::remove_member(org, ida),
                )
            };
            (org, ba, bb, ta.csrf(), tb.csrf(), pa, pb, a, b)
        }
    }))
    .await;
    type Pending<'a> =
        std::pin::Pin<Box<dyn std::future::Future<Output = crate::helpers::Page> + 'a>>;
    let mut requests: Vec<Pending<'_>> = Vec::new();
    for (_, ba, bb, ca, cb, pa, pb, _, _) in &orgs {
        requests.push(Box::pin(async move {
            ba.post(pa, &[("csrf_token", ca.as_str()), ("role", "viewer")])
                .await
        }));
        requests.push(Box::pin(async move {
            bb.post(pb, &[("csrf_token", cb.as_str()), ("role", "viewer")])
                .await
        }));
    }
    futures::future::join_all(requests).await;
    for (org, _, _, _, _, _, _, a, b) in &orgs {
        let owners = [app.role_of(*org, a), app.role_of(*org, b)]
            .iter()
            .filter(|r| **r == Some(Role::Owner))
            .count();
        assert_eq!(owners, 1, "exactly one Owner remains in {org}");
    }
}

#[tokio::test]
async fn removal_asks_first_revokes_invitations_and_ends_sessions_of_the_last_organization() {
    let app = spawn_app().await;
    let (org, owner, _) = org_with_member(&app, Role::Viewer).await;
    let admin = app.create_user("inviter@member.test", "Ivy Inviter");
    app.add_member(org, admin, Role::Admin);
    let ivy = app.logged_in("inviter@member.test").await;
    let sent = ivy.invite(org, "pending@example.com", "viewer", "").await;
    assert!(sent.shows("1 invitation sent"), "{}", sent.text());
    let link = app.email_to("pending@example.com").await.invitation_path();

    let id = app.membership_id(org, "inviter@member.test");
    let confirm = owner.get(&paths::remove_member(org, id)).await;
    assert!(
        confirm.shows("Remove member?") && confirm.shows("Ivy Inviter"),
        "{}",
        confirm.text()
    );
    assert_eq!(
        app.role_of(org, "inviter@member.test"),
        Some(Role::Admin),
        "asking changes nothing"
    );
    let done = owner.submit(&confirm.form("form[action$='/remove']")).await;
    assert!(flash(&done).contains("was removed"), "{}", done.text());
    assert_eq!(app.role_of(org, "inviter@member.test"), None);

    // Their invitation is revoked, with the reason in the history, and its link says so.
    let team = owner.get(&paths::team(org)).await;
    assert!(
        team.text().contains("inviter was removed"),
        "{}",
        team.text()
    );
    assert!(
        app.browser()
            .get(&link)
            .await
            .shows("This invitation has been revoked")
    );
    // It was their only organization: their session ended at once.
    let after = ivy.get(&paths::dashboard(org)).await;
    assert_eq!(
        after.path(),
        paths::LOGIN.pattern(),
        "signed out everywhere"
    );
}

#[tokio::test]
async fn demotion_below_admin_revokes_the_members_pending_invitations() {
    let app = spawn_app().await;
    let (org, owner, _) = org_with_member(&app, Role::Viewer).await;
    let admin = app.create_user("inviter@member.test", "Ivy Inviter");
    app.add_member(org, admin, Role::Admin);
    let ivy = app.logged_in("inviter@member.test").await;
    ivy.invite(org, "pending@example.com", "viewer", "").await;
    let link = app.email_to("pending@example.com").await.invitation_path();
    let team = owner.get(&paths::team(org)).await;
    let id = app.membership_id(org, "inviter@member.test");
    owner.submit(&team.role_change(id, "editor")).await;
    let team = owner.get(&paths::team(org)).await;
    assert!(
        team.text().contains("inviter's role changed to Editor"),
        "{}",
        team.text()
    );
    assert!(
        app.browser()
            .get(&link)
            .await
            .shows("This invitation has been revoked")
    );
    // And the demotion takes effect on the next click.
    assert_eq!(ivy.get(&paths::team(org)).await.status, 403);
}

#[tokio::test]
async fn a_member_leaves_from_the_dashboard_after_confirming() {
    let app = spawn_app().await;
    let (org, _owner, email) = org_with_member(&app, Role::Editor).await;
    let b = app.logged_in(&email).await;
    let dash = b.get(&paths::dashboard(org)).await;
    let leave_path = dash
        .attrs("a.button.danger", "href")
        .into_iter()
        .find(|h| h.ends_with("/leave"))
        .unwrap();
    let confirm = b.get(&leave_path).await;
    assert!(confirm.shows("Leave Acme?"), "{}", confirm.text());
    let done = b.submit(&confirm.form("form[action$='/leave']")).await;
    assert!(done.shows("You left Acme"), "{}", done.text());
    assert_eq!(app.role_of(org, &email), None);
    assert!(
        app.audit_actions(org)
            .iter()
            .any(|(a, _)| a == "member.left")
    );
    assert_eq!(b.get(&paths::dashboard(org)).await.status, 404);
}

#[tokio::test]
async fn another_organizations_member_ids_are_404() {
    let app = spawn_app().await;
    let (org_a, owner_a) = app.org_with("Alpha", Plan::Starter, Role::Owner).await;
    let (org_b, _) = app.org_with("Beta", Plan::Starter, Role::Owner).await;
    let victim = app.membership_id(org_b, "owner@beta.test");
    let team = owner_a.get(&paths::team(org_a)).await;
    let csrf = team.csrf();
    for path in [
        paths::member_role(org_a, victim),
        paths::remove_member(org_a, victim),
        paths::remove_member(org_b, victim),
    ] {
        let page = owner_a
            .post(&path, &[("csrf_token", &csrf), ("role", "viewer")])
            .await;
        assert_eq!(page.status, 404, "{path}");
    }
    assert_eq!(
        owner_a
            .get(&paths::remove_member(org_a, victim))
            .await
            .status,
        404
    );
    assert_eq!(
        owner_a
            .get(&format!("/orgs/{org_a}/members/not-a-uuid/remove"))
            .await
            .status,
        404
    );
    assert_eq!(app.role_of(org_b, "owner@beta.test"), Some(Role::Owner));
}

#[tokio::test]
async fn billing_is_for_owners_and_trial_says_why_invitations_are_off() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Trialco", Plan::Trial, Role::Owner).await;
    let admin = app.create_user("admin@trialco.test", "Admin");
    app.add_member(org, admin, Role::Admin);
    let billing = owner.get(&paths::billing(org)).await;
    assert_eq!(billing.status, 200);
    assert!(billing.shows("Current plan Trial"), "{}", billing.text());
    assert!(billing.shows("Team invitations are available on paid plans"));
    let dash = owner.get(&paths::dashboard(org)).await;
    assert!(
        dash.shows("Team invitations are available on paid plans"),
        "{}",
        dash.text()
    );
    assert!(
        dash.attrs("a", "href")
            .iter()
            .all(|h| !h.ends_with("/team/invite"))
    );
    let b = app.logged_in("admin@trialco.test").await;
    assert_eq!(b.get(&paths::billing(org)).await.status, 403);
    assert!(
        b.get(&paths::dashboard(org))
            .await
            .shows("Team invitations are available on paid plans")
    );
}

#[tokio::test]
async fn notification_settings_belong_to_members_not_to_staff_acting_without_one() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    app.create_staff("staff@joinery.test", "Sam");
    let staff = app.logged_in("staff@joinery.test").await;
    let path = joinery::paths::notifications(org);
    let refused = staff.get(&path).await;
    assert_eq!(refused.status, 403);
    let why = "Notification settings belong to members; you are acting here as platform staff.";
    assert!(refused.shows(why), "{}", refused.text());
    let csrf = staff.get(&joinery::paths::dashboard(org)).await.csrf();
    let post = staff
        .post(&path, &[("csrf_token", &csrf), ("notify_on_join", "on")])
        .await;
    assert_eq!((post.status, post.shows(why)), (403, true));
    assert!(
        app.audit_actions(org).is_empty(),
        "a refusal records nothing"
    );
    // The Owner turns the email off; the change is audited as theirs.
    let form = owner
        .get(&path)
        .await
        .form(&format!("form[action='{path}']"));
    let saved = owner.submit(&form.unset("notify_on_join")).await;
    assert_eq!(saved.status, 200);
    assert!(saved.shows("Saved: you will not get an email when someone joins."));
    assert_eq!(
        app.audit_actions(org),
        [("settings.changed".to_owned(), false)]
    );
}

#[tokio::test]
async fn people_in_several_organizations_choose_and_switch() {
    let app = spawn_app().await;
    let (org_a, _) = app.org_with("Alpha", Plan::Starter, Role::Owner).await;
    let (org_b, _) = app.org_with("Beta", Plan::Starter, Role::Owner).await;
    let user = app.create_user("both@example.com", "Both");
    app.add_member(org_a, user, Role::Editor);
    app.add_member(org_b, user, Role::Viewer);
    let b = app.logged_in("both@example.com").await;
    let home = b.get("/").await;
    assert_eq!(home.path(), "/");
    assert!(
        home.shows("Choose an organization") && home.shows("Alpha") && home.shows("Beta"),
        "{}",
        home.text()
    );
    let dash = b.get(&paths::dashboard(org_a)).await;
    let switch: Vec<String> = dash.attrs(".switcher a", "href");
    assert!(
        switch.contains(&paths::dashboard(org_a)) && switch.contains(&paths::dashboard(org_b)),
        "{switch:?}"
    );
    // Someone in one organization goes straight to it.
    let (org_c, solo) = app.org_with("Gamma", Plan::Starter, Role::Owner).await;
    assert_eq!(solo.get("/").await.path(), paths::dashboard(org_c));
    assert!(
        solo.get(&paths::dashboard(org_c))
            .await
            .attrs(".switcher a", "href")
            .is_empty()
    );
}

#[tokio::test]
async fn the_staff_console_is_404_for_everyone_else() {
    let app = spawn_app().await;
    let (_, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    assert_eq!(owner.get(paths::STAFF.pattern()).await.status, 404);
    assert_eq!(app.browser().get(paths::STAFF.pattern()).await.status, 404);
    let csrf = owner.get(paths::LOGIN.pattern()).await.csrf();
    let forged = owner
        .post(
            paths::TENANT_INVITATIONS.pattern(),
            &[
                ("csrf_token", &csrf),
                ("email", "x@example.com"),
                ("plan", "starter"),
            ],
        )
        .await;
    assert_eq!(forged.status, 404);
    assert!(!owner.get("/").await.shows("Staff console"));
}

#[tokio::test]
async fn staff_search_page_and_set_plans() {
    let app = spawn_app().await;
    for i in 0..30 {
        let org = app.create_org(&format!("Company {i:02}"), Plan::Trial);
        let u = app.create_user(&format!("o{i}@co.test"), "Owner");
        app.add_member(org, u, Role::Owner);
    }
    let target = app.create_org("Zenith Widgets", Plan::Trial);
    app.create_staff("staff@joinery.test", "Sam Staff");
    let staff = app.logged_in("staff@joinery.test").await;
    let console = staff.get(paths::STAFF.pattern()).await;
    assert!(console.shows("Organizations (31)"), "{}", console.text());
    assert!(console.shows("Page 1 of 2"));
    let second = staff.get("/staff?q=&page=2").await;
    assert!(second.shows("Zenith Widgets"), "{}", second.text());
    let found = staff.get("/staff?q=zenith").await;
    assert!(
        found.shows("Organizations (1)") && found.shows("Zenith Widgets"),
        "{}",
        found.text()
    );
    assert!(
        staff
            .get("/staff?q=100%25_")
            .await
            .shows("No organization matches")
    );
    let form = found
        .form(&format!("form[action='/staff/orgs/{target}/plan']"))
        .set("plan", "professional");
    let done = staff.submit(&form).await;
    assert!(
        flash(&done).contains("Plan changed from Trial to Professional"),
        "{}",
        done.text()
    );
    assert!(
        app.audit_actions(target)
            .contains(&("organization.plan_changed".to_owned(), true))
    );
}

#[tokio::test]
async fn staff_act_as_owners_in_any_organization_and_it_shows() {
    let app = spawn_app().await;
    let (org, _) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    app.create_staff("staff@joinery.test", "Sam Staff");
    let staff = app.logged_in("staff@joinery.test").await;
    let team = staff.get(&paths::team(org)).await;
    assert_eq!(team.status, 200);
    assert!(
        team.shows("You are acting as platform staff"),
        "{}",
        team.text()
    );
    let sent = staff
        .invite(org, "fromstaff@example.com", "owner", "")
        .await;
    assert!(sent.shows("1 invitation sent"), "{}", sent.text());
    assert!(
        app.audit_actions(org)
            .contains(&("invitation.sent".to_owned(), true)),
        "{:?}",
        app.audit_actions(org)
    );
    assert_eq!(staff.get(&paths::billing(org)).await.status, 200);
}

#[tokio::test]
async fn staff_send_resend_and_revoke_tenant_owner_invitations() {
    let app = spawn_app().await;
    app.create_staff("staff@joinery.test", "Sam Staff");
    let staff = app.logged_in("staff@joinery.test").await;
    let console = staff.get(paths::STAFF.pattern()).await;
    let bad = staff
        .submit(
            &console
                .form("form[action='/staff/tenant-invitations']")
                .set("email", "not-an-email")
                .set("plan", "gold")
                .set("message", "Hi"),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.shows("Choose one of the plans listed") && bad.texts(".field-error").len() == 2,
        "{}",
        bad.text()
    );
    assert_eq!(bad.attrs("#tenant-message", "name").len(), 1);
    assert!(
        bad.texts("#tenant-message").iter().any(|t| t == "Hi"),
        "input kept"
    );

    let form = console
        .form("form[action='/staff/tenant-invitations']")
        .set("email", "Founder@NewCo.example")
        .set("plan", "enterprise")
        .set("message", "Welcome!");
    let sent = staff.submit(&form).await;
    assert!(
        flash(&sent)
            .contains("Tenant-owner invitation sent to founder@newco.example (Enterprise plan)"),
        "{}",
        sent.text()
    );
    let email = app.email_to("founder@newco.example").await;
    assert_eq!(
        email.subject,
        "Sam Staff invited you to set up your organization on Joinery"
    );
    assert!(email.text.contains("Enterprise") && email.text.contains("Welcome!"));
    let twice = staff
        .submit(
            &console
                .form("form[action='/staff/tenant-invitations']")
                .set("email", "founder@newco.example")
                .set("plan", "starter"),
        )
        .await;
    assert!(
        twice.shows("already has a pending tenant-owner invitation"),
        "{}",
        twice.text()
    );

    let listed = staff.get(paths::STAFF.pattern()).await;
    let resend = listed.form("form[action$='/resend']");
    let again = staff.submit(&resend).await;
    assert!(flash(&again).contains("sent again"), "{}", again.text());
    assert_eq!(
        app.email_to("founder@newco.example")
            .await
            .invitation_link(),
        email.invitation_link()
    );
    let revoke_path = listed
        .attrs("a.button.danger", "href")
        .into_iter()
        .find(|h| h.contains("/tenant-invitations/"))
        .unwrap();
    let confirm = staff.get(&revoke_path).await;
    assert!(confirm.shows("Revoke tenant-owner invitation?"));
    let done = staff.submit(&confirm.form("form[action$='/revoke']")).await;
    assert!(flash(&done).contains("was revoked"), "{}", done.text());
}

async fn tenant_link(app: &crate::helpers::TestApp, email: &str, plan: &str) -> String {
    let staff_email = joinery::domain::EmailAddress::parse("staff@joinery.test").unwrap();
    if !app.query(|c| joinery::db::users::email_exists(c, &staff_email)) {
        app.create_staff("staff@joinery.test", "Sam Staff");
    }
    let staff = app.logged_in("staff@joinery.test").await;
    let console = staff.get(paths::STAFF.pattern()).await;
    let sent = staff
        .submit(
            &console
                .form("form[action='/staff/tenant-invitations']")
                .set("email", email)
                .set("plan", plan),
        )
        .await;
    assert!(
        flash(&sent).contains("Tenant-owner invitation sent"),
        "{}",
        sent.text()
    );
    app.email_to(email).await.invitation_path()
}

fn organizations_named(
    app: &crate::helpers::TestApp,
    name: &str,
) -> Vec<joinery::domain::Organization> {
    use diesel::prelude::*;
    use joinery::db::schema::organizations;
    let ids: Vec<String> = app.query(|c| {
        Ok(organizations::table
            .filter(organizations::name.eq(name))
            .select(organizations::id)
            .load(c)?)
    });
    ids.iter()
        .map(|id| {
            app.query(|c| joinery::db::organizations::find(c, id.parse().unwrap()))
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn a_tenant_owner_invitation_creates_exactly_one_organization_on_its_plan() {
    let app = spawn_app().await;
    let link = tenant_link(&app, "founder@newco.example", "professional").await;
    let founder = app.browser();
    let page = founder.get(&link).await;
    assert_eq!(page.status, 200);
    assert!(
        page.shows("Set up your organization") && page.shows("Professional"),
        "{}",
        page.text()
    );
    assert!(page.shows("Company name") && page.shows("Create organization"));
    let form = page
        .form("form.create-organization")
        .set("name", "Fay Founder")
        .set("password", "long enough pw")
        .set("company", "NewCo");
    // The same form submitted five times at once: one organization, one account.
    let results = futures::future::join_all((0..5).map(|_| founder.submit(&form))).await;
    let winners = results
        .iter()
        .filter(|p| p.shows("NewCo is ready on the Professional plan"))
        .count();
    assert_eq!(
        winners, 1,
        "exactly one submission creates the organization"
    );
    let orgs = organizations_named(&app, "NewCo");
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0].plan, Plan::Professional);
    assert_eq!(
        app.role_of(orgs[0].id, "founder@newco.example"),
        Some(Role::Owner)
    );
    let dash = founder.get(&format!("/orgs/{}", orgs[0].id)).await;
    assert!(
        dash.shows("Owner") && dash.shows("Professional"),
        "{}",
        dash.text()
    );
    assert!(
        app.audit_actions(orgs[0].id)
            .iter()
            .any(|(a, _)| a == "organization.created")
    );
    let again = app.browser().get(&link).await;
    assert_eq!(again.status, 410);
    assert!(again.shows("This invitation has already been used"));
}

#[tokio::test]
async fn an_existing_user_logs_in_to_create_and_a_wrong_account_is_told() {
    let app = spawn_app().await;
    let (_, other) = app.org_with("Elsewhere", Plan::Starter, Role::Owner).await;
    app.create_user("known@example.com", "Known");
    let link = tenant_link(&app, "known@example.com", "starter").await;
    let wrong = other.get(&link).await;
    assert!(
        wrong.shows("Invitation email does not match your account"),
        "{}",
        wrong.text()
    );
    let csrf = wrong.csrf();
    let forced = other
        .post(
            &format!("{link}/organization"),
            &[("csrf_token", &csrf), ("company", "Hijack")],
        )
        .await;
    assert_eq!(forced.status, 403);
    assert!(organizations_named(&app, "Hijack").is_empty());

    let b = app.browser();
    let page = b.get(&link).await;
    assert!(
        page.shows("Log in as known@example.com") && page.shows("Log in & create organization"),
        "{}",
        page.text()
    );
    let missing = b
        .submit(
            &page
                .form("form.create-organization")
                .set("password", crate::helpers::PASSWORD),
        )
        .await;
    assert_eq!(missing.status, 422);
    assert!(
        missing.shows("Company name: this field is required"),
        "{}",
        missing.text()
    );
    let done = b
        .submit(
            &missing
                .form("form.create-organization")
                .set("password", crate::helpers::PASSWORD)
                .set("company", "Known Ltd"),
        )
        .await;
    assert!(
        done.shows("Known Ltd is ready on the Starter plan"),
        "{}",
        done.text()
    );
    assert_eq!(organizations_named(&app, "Known Ltd").len(), 1);
}

// ---- The actor's role is read under the organization lock -----------------------------------

/// Waits until a request of the app is waiting for the organization's write lock, which the
/// test holds. PostgreSQL shows it in `pg_stat_activity`. SQLite shows it nowhere, so the test
/// watches the pool: besides the test's own connection, one more stays checked out (a request
/// reads its session and membership in a few milliseconds, then waits at `BEGIN IMMEDIATE`).
async fn wait_until_a_request_waits_for_the_lock(app: &crate::helpers::TestApp) {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(4);
    let mut steady = 0;
    while std::time::Instant::now() < deadline {
        let waiting = match app.db.backend() {
            joinery::db::Backend::Postgres => {
                let waiting: Count = app.query(|c| {
                    Ok(diesel::sql_query(
                        "SELECT count(*) AS n FROM pg_stat_activity \
                         WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    )
                    .get_result(c)?)
                });
                waiting.n >= 1
            }
            joinery::db::Backend::Sqlite => {
                steady = if app.db.connections_in_use() >= 2 {
                    steady + 1
                } else {
                    0
                };
                steady >= 40 // 200 ms in a row
            }
        };
        if waiting {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("no request came to wait for the organization lock");
}

/// Holds the organization's write lock on a connection of its own (PostgreSQL: the row lock
/// every membership change takes; SQLite: `BEGIN IMMEDIATE`), runs `change` in that
/// transaction, and commits when told to.
fn hold_the_lock(
    app: &crate::helpers::TestApp,
    org: joinery::domain::OrganizationId,
    change: impl FnOnce(&mut joinery::db::Conn) + Send + 'static,
) -> (
    tokio::sync::oneshot::Receiver<()>,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    use diesel::connection::SimpleConnection as _;
    let (locked_tx, locked) = tokio::sync::oneshot::channel();
    let (commit, commit_rx) = std::sync::mpsc::channel::<()>();
    let db = app.db.clone();
    let thread = std::thread::spawn(move || {
        db.with_conn(|c| {
            match c {
                joinery::db::Conn::Sqlite(_) => c.batch_execute("BEGIN IMMEDIATE")?,
                joinery::db::Conn::Postgresql(_) => {
                    c.batch_execute("BEGIN")?;
                    joinery::db::organizations::lock(c, org)?;
                }
            }
            change(c);
            locked_tx.send(()).unwrap();
            commit_rx.recv().unwrap();
            c.batch_execute("COMMIT")?;
            Ok(())
        })
        .unwrap();
    });
    (locked, commit, thread)
}

fn set_role(c: &mut joinery::db::Conn, id: joinery::domain::MembershipId, role: Role) {
    use diesel::prelude::*;
    use joinery::db::schema::memberships;
    diesel::update(memberships::table.find(id.to_string()))
        .set(memberships::role.eq(role.as_str()))
        .execute(c)
        .unwrap();
}

#[tokio::test]
async fn rule_1_an_owner_demoted_while_their_promotion_waits_is_refused() {
    // No outbox polling: on SQLite its claim would queue for the test's lock as well.
    let app =
        crate::helpers::spawn_app_with(|s| s.outbox_poll_interval = std::time::Duration::MAX).await;
    let (org, _first) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let b = app.create_user("b@acme.test", "Bea Owner");
    app.add_member(org, b, Role::Owner);
    let c = app.create_user("c@acme.test", "Cal Viewer");
    app.add_member(org, c, Role::Viewer);
    let bea = app.logged_in("b@acme.test").await;
    let team = bea.get(&paths::team(org)).await;
    let (bid, cid) = (
        app.membership_id(org, "b@acme.test"),
        app.membership_id(org, "c@acme.test"),
    );
    let promote = team.role_change(cid, "owner");
    let audited = app.audit_actions(org).len();

    // Bea is demoted in a transaction that holds the lock while her promotion is sent: the
    // request reads her (committed) role as Owner, then waits for the lock.
    let (locked, commit, holder) = hold_the_lock(&app, org, move |c| set_role(c, bid, Role::Admin));
    locked.await.unwrap();
    let (page, ()) = futures::join!(bea.submit(&promote), async {
        wait_until_a_request_waits_for_the_lock(&app).await;
        commit.send(()).unwrap();
    });
    holder.join().unwrap();

    assert_eq!(page.status, 403, "{}", page.text());
    assert!(
        page.shows("You cannot make someone Owner"),
        "{}",
        page.text()
    );
    assert_eq!(
        page.attrs(&format!("a[href='/orgs/{org}/team']"), "href")
            .len(),
        1,
        "a link back to the Team page: {}",
        page.body
    );
    assert_eq!(app.role_of(org, "c@acme.test"), Some(Role::Viewer));
    assert_eq!(app.role_of(org, "b@acme.test"), Some(Role::Admin));
    assert_eq!(app.audit_actions(org).len(), audited, "nothing recorded");
}

#[tokio::test]
async fn the_actor_removed_while_their_removal_of_another_waits_is_refused() {
    let app =
        crate::helpers::spawn_app_with(|s| s.outbox_poll_interval = std::time::Duration::MAX).await;
    let (org, _first) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let b = app.create_user("b@acme.test", "Bea Admin");
    app.add_member(org, b, Role::Admin);
    let c = app.create_user("c@acme.test", "Cal Viewer");
    app.add_member(org, c, Role::Viewer);
    let bea = app.logged_in("b@acme.test").await;
    let (bid, cid) = (
        app.membership_id(org, "b@acme.test"),
        app.membership_id(org, "c@acme.test"),
    );
    let confirm = bea.get(&paths::remove_member(org, cid)).await;
    let remove = confirm.form(&format!("form[action='/orgs/{org}/members/{cid}/remove']"));

    let (locked, commit, holder) = hold_the_lock(&app, org, move |c| {
        use diesel::prelude::*;
        use joinery::db::schema::memberships;
        diesel::delete(memberships::table.find(bid.to_string()))
            .execute(c)
            .unwrap();
    });
    locked.await.unwrap();
    let (page, ()) = futures::join!(bea.submit(&remove), async {
        wait_until_a_request_waits_for_the_lock(&app).await;
        commit.send(()).unwrap();
    });
    holder.join().unwrap();

    assert_eq!(app.role_of(org, "c@acme.test"), Some(Role::Viewer));
    assert_eq!(page.status, 403, "{}", page.text());
    assert!(
        page.shows("You are no longer a member of this organization"),
        "{}",
        page.text()
    );
    assert_eq!(app.role_of(org, "c@acme.test"), Some(Role::Viewer));
}

/// The role changes of `org`, in the order they were recorded: `(target, details)`.
fn role_changes_in_order(
    app: &crate::helpers::TestApp,
    org: joinery::domain::OrganizationId,
) -> Vec<(String, String)> {
    use diesel::prelude::*;
    use diesel::sql_types::Text;
    #[derive(QueryableByName)]
    struct Change {
        #[diesel(sql_type = Text)]
        target: String,
        #[diesel(sql_type = Text)]
        details: String,
    }
    // SQLite numbers rows as they are inserted (`rowid`); on PostgreSQL the test added a
    // sequence column (see the race test). Both count in commit order: every role change
    // inserts its event while it holds the organization lock.
    let order = match app.db.backend() {
        joinery::db::Backend::Sqlite => "rowid",
        joinery::db::Backend::Postgres => "test_order",
    };
    let sql = format!(
        "SELECT target, details FROM audit_events \
         WHERE organization_id = '{org}' AND action = 'member.role_changed' ORDER BY {order}"
    );
    app.query(|c| Ok(diesel::sql_query(sql).load::<Change>(c)?))
        .into_iter()
        .map(|e| (e.target, e.details))
        .collect()
}

#[tokio::test]
async fn rule_1_a_promotion_racing_the_promoters_demotion_is_serialized() {
    use diesel::connection::SimpleConnection as _;
    let app = crate::helpers::spawn_app_with(|s| s.login_attempts_per_minute = 1000).await;
    if app.db.backend() == joinery::db::Backend::Postgres {
        // The audit trail has no order within one (manual clock) instant: number its rows as
        // they are inserted, for this test only.
        app.query(|c| {
            Ok(c.batch_execute("ALTER TABLE audit_events ADD COLUMN test_order BIGSERIAL")?)
        });
    }
    let org = app.create_org("Race", Plan::Starter);
    for (email, name, role) in [
        ("a@race.test", "Ada Owner", Role::Owner),
        ("b@race.test", "Bea Owner", Role::Owner),
        ("c@race.test", "Cal Viewer", Role::Viewer),
    ] {
        let id = app.create_user(email, name);
        app.add_member(org, id, role);
    }
    let (ada, bea) = futures::join!(app.logged_in("a@race.test"), app.logged_in("b@race.test"));
    let (bid, cid) = (
        app.membership_id(org, "b@race.test"),
        app.membership_id(org, "c@race.test"),
    );
    let team = paths::team(org);
    let (ta, tb) = futures::join!(ada.get(&team), bea.get(&team));
    let (ca, cb) = (ta.csrf(), tb.csrf());
    let (demote, promote) = (paths::member_role(org, bid), paths::member_role(org, cid));
    let (b_label, c_label) = ("Bea Owner <b@race.test>", "Cal Viewer <c@race.test>");
    let mut promoted_first = 0;
    for round in 0..25 {
        app.query(|c| {
            set_role(c, bid, Role::Owner);
            set_role(c, cid, Role::Viewer);
            Ok(())
        });
        let seen = role_changes_in_order(&app, org).len();
        let (to_admin, to_owner) = (
            [("csrf_token", ca.as_str()), ("role", "admin")],
            [("csrf_token", cb.as_str()), ("role", "owner")],
        );
        let (demotion, promotion) =
            futures::join!(ada.post(&demote, &to_admin), bea.post(&promote, &to_owner),);
        assert_eq!(demotion.status, 200, "round {round}: {}", demotion.text());
        assert!(
            flash(&demotion).contains("Role changed from Owner to Admin"),
            "round {round}: {}",
            demotion.text()
        );
        let changes = role_changes_in_order(&app, org).split_off(seen);
        let demoted = (b_label.to_owned(), "Owner → Admin".to_owned());
        let promoted = (c_label.to_owned(), "Viewer → Owner".to_owned());
        if app.role_of(org, "c@race.test") == Some(Role::Owner) {
            // The promotion was made: it must have been made while Bea was still an Owner,
            // that is before her demotion.
            assert_eq!(
                changes,
                vec![promoted, demoted],
                "round {round}: a promotion by a demoted Owner"
            );
            assert_eq!(promotion.status, 200, "round {round}: {}", promotion.text());
            assert!(
                flash(&promotion).contains("Role changed from Viewer to Owner"),
                "round {round}: {}",
                promotion.text()
            );
            promoted_first += 1;
        } else {
            assert_eq!(changes, vec![demoted], "round {round}");
            assert_eq!(promotion.status, 403, "round {round}: {}", promotion.text());
            assert!(
                promotion.shows("You cannot make someone Owner"),
                "round {round}: {}",
                promotion.text()
            );
        }
        assert_eq!(app.role_of(org, "b@race.test"), Some(Role::Admin));
    }
    eprintln!("promotion first in {promoted_first} of 25 rounds");
}
