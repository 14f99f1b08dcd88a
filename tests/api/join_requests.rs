//! Join requests (issue 14 §3), driven as a browser would: a "request access" invite link
//! ("Admins approve who joins") and a *Suggest* domain send a request with an optional note;
//! Owners and Admins see it on the Team page and approve it (choosing the role, with the
//! ceiling, plan, seats and domain policy checked again) or reject it after a confirmation;
//! both sides are emailed; one open request per person and organization.

use diesel::prelude::*;
use joinery::db::schema::{invite_links, join_requests};
use joinery::domain::{OrganizationId, Plan, Role};
use joinery::paths;

use crate::domains::{enroll, verify};
use crate::helpers::{Browser, Page, TestApp, spawn_app};

/// Creates a "request access" link suggesting `role` as `b` and returns its path.
async fn request_link(b: &Browser, org: OrganizationId, role: &str) -> String {
    let page = b.get(&paths::new_invite_link(org)).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let form = page
        .form("form.invite-link-form")
        .set("role", role)
        .set("expiry", "7d")
        .set("approval", "on");
    let created = b.submit(&form).await;
    assert_eq!(created.status, 200, "{}", created.text());
    assert!(
        created.shows("Owners and Admins approve or reject each request"),
        "{}",
        created.text()
    );
    let link = created.attrs("input#invite-link-url", "value").remove(0);
    link[link.find("/join/").expect("a /join/ link")..].to_owned()
}

/// On the link's page, signed in as `b`, sends "Request to join" with `note`.
async fn ask(b: &Browser, link: &str, note: &str) -> Page {
    let page = b.get(link).await;
    assert_eq!(page.status, 200, "{}", page.text());
    b.submit(&page.form("form.join-request-form").set("note", note))
        .await
}

fn statuses(app: &TestApp) -> Vec<String> {
    app.query(|c| {
        Ok(join_requests::table
            .order(join_requests::created_at.asc())
            .select(join_requests::status)
            .load::<String>(c)?)
    })
}

fn link_statuses(app: &TestApp) -> Vec<String> {
    app.query(|c| Ok(invite_links::table.select(invite_links::status).load(c)?))
}

fn actions(app: &TestApp, org: OrganizationId) -> Vec<String> {
    app.audit_actions(org).into_iter().map(|(a, _)| a).collect()
}

/// The Team page's Approve form for `email`'s request, with `role` chosen.
async fn approve(b: &Browser, org: OrganizationId, email: &str, role: &str) -> Page {
    let team = b.get(&paths::team(org)).await;
    assert_eq!(team.status, 200, "{}", team.text());
    let form = team
        .form(&format!(
            "tr[data-join-request='{email}'] form.approve-form"
        ))
        .set("role", role);
    b.submit(&form).await
}

#[tokio::test]
async fn a_request_access_link_sends_a_request_that_an_admin_approves_with_the_role_chosen() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    let owner_id = app.create_user("owner@acme.test", "Olga");
    app.add_member(org, owner_id, Role::Owner);
    let link = request_link(&admin, org, "editor").await;
    app.create_user("rita@example.com", "Rita");
    let rita = app.logged_in("rita@example.com").await;
    let page = rita.get(&link).await;
    assert!(page.shows("Ask to join Acme"), "{}", page.text());
    let sent = ask(&rita, &link, "I run the Berlin office.").await;
    assert_eq!(sent.status, 200, "{}", sent.text());
    assert!(
        sent.shows("Your request to join Acme was sent."),
        "{}",
        sent.text()
    );
    assert_eq!(app.role_of(org, "rita@example.com"), None);
    // The link's page now says when they asked; the link stays usable.
    let again = rita.get(&link).await;
    assert!(again.shows("You asked to join Acme"), "{}", again.text());
    assert!(again.texts("form.join-request-form").is_empty());
    assert_eq!(link_statuses(&app), ["active"]);
    // Owners and Admins are emailed, with the note.
    for to in ["owner@acme.test", "admin@acme.test"] {
        let email = app.email_to(to).await;
        assert_eq!(email.subject, "Rita asks to join Acme");
        assert!(
            email.text.contains("I run the Berlin office."),
            "{}",
            email.text
        );
        assert!(email.text.contains(&paths::team(org)), "{}", email.text);
    }
    // The Team page lists it: who, through what, the note; Approve preselects the link's role.
    let team = admin.get(&paths::team(org)).await;
    assert_eq!(team.texts("#join-requests-heading"), ["Join requests (1)"]);
    let row = team
        .texts("tr[data-join-request='rita@example.com'] td")
        .join(" | ");
    assert!(row.contains("invite link"), "{row}");
    assert!(row.contains("I run the Berlin office."), "{row}");
    let selected = team.attrs(
        "tr[data-join-request='rita@example.com'] option[selected]",
        "value",
    );
    assert_eq!(selected, ["editor"]);
    // The Admin may grant up to Admin, not Owner.
    let offered = team.attrs(
        "tr[data-join-request='rita@example.com'] select option",
        "value",
    );
    assert!(!offered.contains(&"owner".to_owned()), "{offered:?}");
    let approved = approve(&admin, org, "rita@example.com", "writer").await;
    assert_eq!(approved.status, 200, "{}", approved.text());
    assert!(
        approved.shows("Rita joined as Writer."),
        "{}",
        approved.text()
    );
    assert!(approved.texts("#join-requests-heading").is_empty());
    assert_eq!(app.role_of(org, "rita@example.com"), Some(Role::Writer));
    let told = app.email_to("rita@example.com").await;
    assert_eq!(told.subject, "You joined Acme");
    assert!(told.text.contains("Writer"), "{}", told.text);
    let trail = actions(&app, org);
    for action in [
        "join_request.submitted",
        "join_request.approved",
        "member.joined",
    ] {
        assert!(trail.contains(&action.to_owned()), "{trail:?}");
    }
    assert_eq!(statuses(&app), ["approved"]);
}

#[tokio::test]
async fn approval_checks_the_ceiling_and_the_seats_again_and_writes_nothing_when_refused() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    // The Admin fills the only seat: a request link holds none, so it can still be made.
    app.set_seats(org, Some(1));
    let link = request_link(&admin, org, "viewer").await;
    app.create_user("rita@example.com", "Rita");
    let rita = app.logged_in("rita@example.com").await;
    ask(&rita, &link, "").await;
    let above = approve(&admin, org, "rita@example.com", "owner").await;
    assert_eq!(above.status, 403, "{}", above.text());
    assert!(
        above.shows("You cannot approve someone as Owner"),
        "{}",
        above.text()
    );
    let full = approve(&admin, org, "rita@example.com", "viewer").await;
    assert_eq!(full.status, 403, "{}", full.text());
    assert!(full.shows("All 1 seats are in use"), "{}", full.text());
    let forged = approve(&admin, org, "rita@example.com", "emperor").await;
    assert_eq!(forged.status, 400, "{}", forged.text());
    assert_eq!(app.role_of(org, "rita@example.com"), None);
    assert_eq!(statuses(&app), ["pending"], "nothing written");
    // A seat frees up: the same request goes through.
    app.set_seats(org, Some(2));
    let approved = approve(&admin, org, "rita@example.com", "viewer").await;
    assert_eq!(approved.status, 200, "{}", approved.text());
    assert_eq!(app.role_of(org, "rita@example.com"), Some(Role::Viewer));
}

#[tokio::test]
async fn rejecting_asks_for_confirmation_tells_the_person_and_only_owners_and_admins_answer() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    let editor_id = app.create_user("editor@acme.test", "Ed");
    app.add_member(org, editor_id, Role::Editor);
    let editor = app.logged_in("editor@acme.test").await;
    let link = request_link(&admin, org, "viewer").await;
    app.create_user("rita@example.com", "Rita");
    let rita = app.logged_in("rita@example.com").await;
    ask(&rita, &link, "").await;
    let id = app.query(|c| {
        Ok(join_requests::table
            .select(join_requests::id)
            .first::<String>(c)?)
    });
    let id = id.parse().unwrap();
    let reject_path = paths::reject_join_request(org, id);
    // An Editor can neither see nor answer it.
    assert_eq!(editor.get(&reject_path).await.status, 403);
    let csrf = editor.get(&paths::dashboard(org)).await.csrf();
    let forged = editor
        .post(
            &paths::approve_join_request(org, id),
            &[("csrf_token", &csrf), ("role", "viewer")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let confirm = admin.get(&reject_path).await;
    assert_eq!(confirm.status, 200, "{}", confirm.text());
    assert!(
        confirm.shows("Reject Rita's request?"),
        "{}",
        confirm.text()
    );
    let rejected = admin.submit(&confirm.form("form.actions")).await;
    assert_eq!(rejected.status, 200, "{}", rejected.text());
    assert!(
        rejected.shows("Rita's request to join was rejected."),
        "{}",
        rejected.text()
    );
    let told = app.email_to("rita@example.com").await;
    assert_eq!(told.subject, "Your request to join Acme was not approved");
    assert_eq!(statuses(&app), ["rejected"]);
    assert!(actions(&app, org).contains(&"join_request.rejected".to_owned()));
    // Answered already: a second answer is a 409, and the confirmation says so.
    let twice = admin.submit(&confirm.form("form.actions")).await;
    assert_eq!(twice.status, 409, "{}", twice.text());
    assert_eq!(admin.get(&reject_path).await.status, 409);
    // The person may ask again.
    app.advance(chrono::Duration::minutes(1));
    let again = ask(&rita, &link, "Please reconsider").await;
    assert!(
        again.shows("Your request to join Acme was sent."),
        "{}",
        again.text()
    );
    assert_eq!(statuses(&app), ["rejected", "pending"]);
}

#[tokio::test]
async fn a_suggest_domain_offers_request_to_join_and_says_when_one_is_open() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    verify(&app, &owner, org, "acme.test", "owner@acme.test").await;
    app.create_user("dee@acme.test", "Dee");
    let dee = app.logged_in("dee@acme.test").await;
    // Manual: a forged request is a 404, saying nothing about why.
    let home = dee.get(&paths::home()).await;
    let forged = dee
        .post(
            &paths::domain_request(org),
            &[("csrf_token", &home.csrf()), ("note", "")],
        )
        .await;
    assert_eq!(forged.status, 404);
    let saved = enroll(&owner, org, "acme.test", "suggest", "writer").await;
    assert_eq!(saved.status, 200, "{}", saved.text());
    let home = dee.get(&paths::home()).await;
    let form = home.form("li[data-joinable='Acme'] form");
    assert_eq!(form.action, paths::domain_request(org));
    let too_long = dee
        .submit(&form.clone().set("note", &"x".repeat(501)))
        .await;
    assert_eq!(too_long.status, 422, "{}", too_long.text());
    assert!(statuses(&app).is_empty(), "nothing written");
    let sent = dee.submit(&form.clone().set("note", "Hi from sales")).await;
    assert_eq!(sent.status, 200, "{}", sent.text());
    assert!(
        sent.shows("Your request to join Acme was sent."),
        "{}",
        sent.text()
    );
    assert!(sent.shows("Request sent"), "{}", sent.text());
    let again = dee.submit(&form).await;
    assert!(
        again.shows("You have already asked to join Acme"),
        "{}",
        again.text()
    );
    assert_eq!(statuses(&app), ["pending"], "one open request per person");
    let email = app.email_to("owner@acme.test").await;
    assert!(email.text.contains("domain acme.test"), "{}", email.text);
    // Approving preselects the domain's default role.
    let team = owner.get(&paths::team(org)).await;
    let selected = team.attrs(
        "tr[data-join-request='dee@acme.test'] option[selected]",
        "value",
    );
    assert_eq!(selected, ["writer"]);
    // The domain goes back to Manual invitations only: approval is refused, nothing written.
    enroll(&owner, org, "acme.test", "manual", "viewer").await;
    let refused = approve(&owner, org, "dee@acme.test", "writer").await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.shows("no longer takes join requests"),
        "{}",
        refused.text()
    );
    assert_eq!(app.role_of(org, "dee@acme.test"), None);
}

#[tokio::test]
async fn a_signed_out_visitor_proves_their_email_creates_an_account_and_asks() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let link = request_link(&owner, org, "viewer").await;
    let nina = app.browser();
    let page = nina.get(&link).await;
    let sent = nina
        .submit(
            &page
                .form("form[action$='/register']")
                .set("email", "nina@example.com"),
        )
        .await;
    assert!(sent.shows("Check your email"), "{}", sent.text());
    let email = app.email_to("nina@example.com").await;
    assert_eq!(email.subject, "Confirm your email to ask to join Acme");
    let mailed = email
        .text
        .split_whitespace()
        .find(|w| w.contains("/signup/"))
        .map(|l| l[l.find("/signup/").unwrap()..].to_owned())
        .expect("a mailed link");
    let page = nina.get(&mailed).await;
    let form = page
        .form("form.join-new-form")
        .set("name", "Nina")
        .set("password", "correct horse battery staple");
    let asked = nina.submit(&form).await;
    assert_eq!(asked.status, 200, "{}", asked.text());
    assert!(
        asked.shows("Your request to join Acme was sent."),
        "{}",
        asked.text()
    );
    assert_eq!(app.role_of(org, "nina@example.com"), None);
    assert_eq!(statuses(&app), ["pending"]);
    assert_eq!(link_statuses(&app), ["active"]);
}

#[tokio::test]
async fn approval_on_a_trial_plan_says_so_and_a_request_expires_after_30_days() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let link = request_link(&owner, org, "viewer").await;
    app.create_user("rita@example.com", "Rita");
    let rita = app.logged_in("rita@example.com").await;
    ask(&rita, &link, "").await;
    // Downgraded after the request: the plan's message, nothing written.
    app.query(|c| joinery::db::organizations::set_plan(c, org, Plan::Trial));
    let trial = approve(&owner, org, "rita@example.com", "viewer").await;
    assert_eq!(trial.status, 403, "{}", trial.text());
    assert!(
        trial.shows("Team invitations are available on paid plans"),
        "{}",
        trial.text()
    );
    app.query(|c| joinery::db::organizations::set_plan(c, org, Plan::Starter));
    let team = owner.get(&paths::team(org)).await;
    let form = team.form("tr[data-join-request='rita@example.com'] form.approve-form");
    // Nobody answers for 30 days: the request is gone from the Team page and cannot be approved.
    app.advance(chrono::Duration::days(30));
    let later = owner.get(&paths::team(org)).await;
    assert!(
        later.texts("#join-requests-heading").is_empty(),
        "{}",
        later.text()
    );
    let late = owner.submit(&form).await;
    assert_eq!(late.status, 409, "{}", late.text());
    assert!(late.shows("This request expired"), "{}", late.text());
    assert_eq!(app.role_of(org, "rita@example.com"), None);
}
