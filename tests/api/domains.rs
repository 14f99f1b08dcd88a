//! Verified domains (DESIGN.md, "Access, integration": Verified domains), driven as a browser
//! would: Settings → Domains is Owner-only; a domain is proved by a mailed 6-digit code (30
//! minutes, 5 attempts; the code is never stored); public mail domains and a domain another
//! organization verified are refused; the enrollment modes (Automatic joins at once with a
//! role of at most Editor, at a free seat); and restricting invitations and invite links to
//! verified domains.

use diesel::prelude::*;
use joinery::db::schema::{invitations, organization_domains};
use joinery::domain::{OrganizationId, Plan, Role};
use joinery::paths;

use crate::helpers::{Browser, Page, TestApp, spawn_app, table_rows};

/// The 6-digit code in the newest email to `to`.
pub(crate) async fn mailed_code(app: &TestApp, to: &str) -> String {
    let email = app.email_to(to).await;
    let code: String = email
        .subject
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 6, "subject: {}", email.subject);
    assert!(email.text.contains(&code), "{}", email.text);
    code
}

/// Adds `domain` on Settings → Domains as `owner`, naming `email` for the code.
pub(crate) async fn add(owner: &Browser, org: OrganizationId, domain: &str, email: &str) -> Page {
    let page = owner.get(&paths::domains(org)).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let form = page
        .form("form.domain-add")
        .set("domain", domain)
        .set("email", email);
    owner.submit(&form).await
}

/// Enters `code` for `domain`.
pub(crate) async fn enter_code(
    owner: &Browser,
    org: OrganizationId,
    domain: &str,
    code: &str,
) -> Page {
    let page = owner.get(&paths::domains(org)).await;
    let form = page
        .form(&format!("li[data-domain='{domain}'] form.domain-verify"))
        .set("code", code);
    owner.submit(&form).await
}

/// Adds and verifies `domain` with the code mailed to `email`.
pub(crate) async fn verify(
    app: &TestApp,
    owner: &Browser,
    org: OrganizationId,
    domain: &str,
    email: &str,
) {
    let added = add(owner, org, domain, email).await;
    assert_eq!(added.status, 200, "{}", added.text());
    let code = mailed_code(app, email).await;
    let verified = enter_code(owner, org, domain, &code).await;
    assert_eq!(verified.status, 200, "{}", verified.text());
    assert!(
        verified.shows(&format!("{domain} is verified")),
        "{}",
        verified.text()
    );
}

/// Sets `domain`'s enrollment mode and default role.
pub(crate) async fn enroll(
    owner: &Browser,
    org: OrganizationId,
    domain: &str,
    mode: &str,
    role: &str,
) -> Page {
    let page = owner.get(&paths::domains(org)).await;
    let form = page
        .form(&format!(
            "li[data-domain='{domain}'] form.domain-enrollment"
        ))
        .set("enrollment", mode)
        .set("role", role);
    owner.submit(&form).await
}

fn domain_rows(app: &TestApp) -> i64 {
    app.query(|c| Ok(organization_domains::table.count().get_result(c)?))
}

fn pending_to(app: &TestApp, email: &str) -> i64 {
    app.query(|c| {
        Ok(invitations::table
            .filter(invitations::email.eq(email))
            .filter(invitations::status.eq("pending"))
            .count()
            .get_result(c)?)
    })
}

#[tokio::test]
async fn an_owner_verifies_a_domain_with_the_mailed_code_which_is_never_stored() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let added = add(&owner, org, "Acme.test", "it@acme.test").await;
    assert_eq!(added.status, 200, "{}", added.text());
    assert!(
        added.shows("We sent a 6-digit code to it@acme.test"),
        "{}",
        added.text()
    );
    assert_eq!(
        added.texts("li[data-domain='acme.test'] .badge"),
        ["Pending"]
    );
    let code = mailed_code(&app, "it@acme.test").await;
    for row in table_rows(&app, "organization_domains") {
        assert!(!row.contains(&code), "the code is stored: {row}");
    }
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = enter_code(&owner, org, "acme.test", wrong).await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(
        refused.shows("That code is not right. 4 attempts left."),
        "{}",
        refused.text()
    );
    let malformed = enter_code(&owner, org, "acme.test", "12ab").await;
    assert_eq!(malformed.status, 422);
    assert!(malformed.shows("Enter the 6-digit code from the email."));
    let verified = enter_code(&owner, org, "acme.test", &code).await;
    assert_eq!(verified.status, 200, "{}", verified.text());
    assert_eq!(
        verified.texts("li[data-domain='acme.test'] .badge"),
        ["Verified"]
    );
    let actions: Vec<String> = app.audit_actions(org).into_iter().map(|(a, _)| a).collect();
    assert!(actions.contains(&"domain.added".to_owned()), "{actions:?}");
    assert!(
        actions.contains(&"domain.verified".to_owned()),
        "{actions:?}"
    );
    // Adding it again: already verified.
    let again = add(&owner, org, "acme.test", "it@acme.test").await;
    assert_eq!(again.status, 422, "{}", again.text());
    assert!(again.shows("acme.test is already verified for this organization."));
}

#[tokio::test]
async fn only_owners_see_and_change_domains() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    let page = admin.get(&paths::domains(org)).await;
    assert_eq!(page.status, 403, "{}", page.text());
    let dashboard = admin.get(&paths::dashboard(org)).await;
    assert!(
        dashboard
            .attrs(&format!("a[href='{}']", paths::domains(org)), "href")
            .is_empty()
    );
    let csrf = admin.get(&paths::dashboard(org)).await.csrf();
    let forged = admin
        .post(
            &paths::domains(org),
            &[
                ("csrf_token", &csrf),
                ("domain", "acme.test"),
                ("email", "admin@acme.test"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.text());
    assert_eq!(domain_rows(&app), 0);
    // Another organization's domain id is a 404.
    let (other, other_owner) = app.org_with("Bigco", Plan::Starter, Role::Owner).await;
    assert_eq!(
        add(&other_owner, other, "bigco.test", "owner@bigco.test")
            .await
            .status,
        200
    );
    let id: String = app.query(|c| {
        Ok(organization_domains::table
            .select(organization_domains::id)
            .first(c)?)
    });
    let (owner_org, owner) = app.org_with("Cedar", Plan::Starter, Role::Owner).await;
    let csrf = owner.get(&paths::domains(owner_org)).await.csrf();
    let foreign = owner
        .post(
            &paths::domain_verify(owner_org, id.parse().unwrap()),
            &[("csrf_token", &csrf), ("code", "123456")],
        )
        .await;
    assert_eq!(foreign.status, 404);
}

#[tokio::test]
async fn public_and_malformed_domains_and_addresses_elsewhere_are_refused_with_the_input_kept() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let public = add(&owner, org, "gmail.com", "someone@gmail.com").await;
    assert_eq!(public.status, 422, "{}", public.text());
    assert!(
        public.shows("gmail.com is a public email provider"),
        "{}",
        public.text()
    );
    assert_eq!(public.attrs("input#domain", "value"), ["gmail.com"]);
    let malformed = add(&owner, org, "not a domain", "x@acme.test").await;
    assert_eq!(malformed.status, 422);
    assert!(
        malformed.shows("is not a domain name"),
        "{}",
        malformed.text()
    );
    let elsewhere = add(&owner, org, "acme.test", "me@other.test").await;
    assert_eq!(elsewhere.status, 422);
    assert!(
        elsewhere.shows("Enter an address at acme.test"),
        "{}",
        elsewhere.text()
    );
    assert_eq!(
        elsewhere.attrs("input#proof-email", "value"),
        ["me@other.test"]
    );
    assert_eq!(domain_rows(&app), 0, "nothing written");
}

#[tokio::test]
async fn a_code_expires_after_30_minutes_and_the_fifth_wrong_one_ends_it() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    add(&owner, org, "acme.test", "it@acme.test").await;
    let code = mailed_code(&app, "it@acme.test").await;
    app.advance(chrono::Duration::minutes(30));
    let expired = enter_code(&owner, org, "acme.test", &code).await;
    assert_eq!(expired.status, 422);
    assert!(
        expired.shows("This code has expired."),
        "{}",
        expired.text()
    );
    // A new code; the old one no longer works.
    let page = owner.get(&paths::domains(org)).await;
    let sent = owner
        .submit(&page.form("li[data-domain='acme.test'] form[action$='/code']"))
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text());
    let fresh = mailed_code(&app, "it@acme.test").await;
    // Within the minute, no other code.
    let page = owner.get(&paths::domains(org)).await;
    let too_soon = owner
        .submit(&page.form("li[data-domain='acme.test'] form[action$='/code']"))
        .await;
    assert_eq!(too_soon.status, 429);
    assert!(too_soon.header("retry-after").is_some());
    let wrong = if fresh == "000000" {
        "111111"
    } else {
        "000000"
    };
    for left in (0..5).rev() {
        let page = enter_code(&owner, org, "acme.test", wrong).await;
        assert_eq!(page.status, 422);
        assert!(page.shows(&format!("{left} attempt")), "{}", page.text());
    }
    let spent = enter_code(&owner, org, "acme.test", &fresh).await;
    assert_eq!(spent.status, 422);
    assert!(spent.shows("Too many wrong codes."), "{}", spent.text());
    assert_eq!(
        spent.texts("li[data-domain='acme.test'] .badge"),
        ["Pending"]
    );
}

#[tokio::test]
async fn a_domain_is_verified_for_one_organization_at_a_time() {
    let app = spawn_app().await;
    let (acme, acme_owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let (rival, rival_owner) = app.org_with("Rival", Plan::Starter, Role::Owner).await;
    // Both claim it; the first to enter its code wins.
    add(&rival_owner, rival, "acme.test", "ops@acme.test").await;
    let rival_code = mailed_code(&app, "ops@acme.test").await;
    verify(&app, &acme_owner, acme, "acme.test", "it@acme.test").await;
    let late = enter_code(&rival_owner, rival, "acme.test", &rival_code).await;
    assert_eq!(late.status, 403, "{}", late.text());
    assert!(
        late.shows("acme.test is verified by another organization."),
        "{}",
        late.text()
    );
    let claim = add(&rival_owner, rival, "acme.test", "ops@acme.test").await;
    assert_eq!(claim.status, 403);
}

#[tokio::test]
async fn automatic_enrollment_lets_a_colleague_join_at_once_with_the_default_role() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    verify(&app, &owner, org, "acme.test", "owner@acme.test").await;
    app.create_user("dee@acme.test", "Dee");
    app.create_user("eve@elsewhere.test", "Eve");
    let dee = app.logged_in("dee@acme.test").await;
    // Manual (the default): nothing offered, and a forged join is a 404.
    let home = dee.get(&paths::home()).await;
    assert!(
        home.texts("#joinable-heading").is_empty(),
        "{}",
        home.text()
    );
    let forged = dee
        .post(&paths::domain_join(org), &[("csrf_token", &home.csrf())])
        .await;
    assert_eq!(forged.status, 404);
    let saved = enroll(&owner, org, "acme.test", "automatic", "editor").await;
    assert_eq!(saved.status, 200, "{}", saved.text());
    let home = dee.get(&paths::home()).await;
    assert_eq!(
        home.texts("#joinable-heading"),
        ["Organizations you can join"]
    );
    let joined = dee
        .submit(&home.form("li[data-joinable='Acme'] form"))
        .await;
    assert_eq!(joined.status, 200, "{}", joined.text());
    assert!(
        joined.shows("You joined Acme as Editor."),
        "{}",
        joined.text()
    );
    assert_eq!(app.role_of(org, "dee@acme.test"), Some(Role::Editor));
    let actions: Vec<String> = app.audit_actions(org).into_iter().map(|(a, _)| a).collect();
    assert!(actions.contains(&"member.joined".to_owned()), "{actions:?}");
    // A member now: no longer offered, and a second join is a 409.
    let home = dee.get(&paths::home()).await;
    assert!(home.texts("#joinable-heading").is_empty());
    let again = dee
        .post(&paths::domain_join(org), &[("csrf_token", &home.csrf())])
        .await;
    assert_eq!(again.status, 409);
    // Someone at another domain is offered nothing and cannot join.
    let eve = app.logged_in("eve@elsewhere.test").await;
    let home = eve.get(&paths::home()).await;
    assert!(home.texts("#joinable-heading").is_empty());
    let refused = eve
        .post(&paths::domain_join(org), &[("csrf_token", &home.csrf())])
        .await;
    assert_eq!(refused.status, 404);
    assert_eq!(app.role_of(org, "eve@elsewhere.test"), None);
}

#[tokio::test]
async fn the_default_role_is_at_most_editor() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    verify(&app, &owner, org, "acme.test", "owner@acme.test").await;
    let page = owner.get(&paths::domains(org)).await;
    let offered = page.attrs(
        "li[data-domain='acme.test'] select[name=role] option",
        "value",
    );
    assert_eq!(offered, ["viewer", "writer", "editor"]);
    for role in ["admin", "owner"] {
        let forged = enroll(&owner, org, "acme.test", "automatic", role).await;
        assert_eq!(forged.status, 400, "{role}: {}", forged.text());
    }
    let stored: (String, String) = app.query(|c| {
        Ok(organization_domains::table
            .select((
                organization_domains::enrollment,
                organization_domains::default_role,
            ))
            .first(c)?)
    });
    assert_eq!(stored, ("manual".to_owned(), "viewer".to_owned()));
}

#[tokio::test]
async fn a_domain_join_at_the_seat_cap_is_refused_naming_only_the_organization() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    verify(&app, &owner, org, "acme.test", "owner@acme.test").await;
    enroll(&owner, org, "acme.test", "automatic", "viewer").await;
    app.set_seats(org, Some(1));
    app.create_user("dee@acme.test", "Dee");
    let dee = app.logged_in("dee@acme.test").await;
    let home = dee.get(&paths::home()).await;
    let refused = dee
        .submit(&home.form("li[data-joinable='Acme'] form"))
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.shows("Acme has no free seats: ask its admins"),
        "{}",
        refused.text()
    );
    assert_eq!(app.role_of(org, "dee@acme.test"), None);
}

#[tokio::test]
async fn restricting_invitations_skips_addresses_elsewhere_and_refuses_a_submission_of_only_them() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    // Not without a verified domain.
    let page = owner.get(&paths::domains(org)).await;
    let refused = owner
        .submit(
            &page
                .form("form[action$='/restriction']")
                .set("restricted", "on"),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(refused.shows("Verify a domain first"), "{}", refused.text());
    verify(&app, &owner, org, "acme.test", "owner@acme.test").await;
    let page = owner.get(&paths::domains(org)).await;
    let saved = owner
        .submit(
            &page
                .form("form[action$='/restriction']")
                .set("restricted", "on"),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text());
    let mixed = owner
        .invite(org, "ann@acme.test\nbob@other.test", "viewer", "")
        .await;
    assert_eq!(mixed.status, 200, "{}", mixed.text());
    assert!(
        mixed.shows("Skipped: outside this organization's verified domains"),
        "{}",
        mixed.text()
    );
    assert_eq!(
        (
            pending_to(&app, "ann@acme.test"),
            pending_to(&app, "bob@other.test")
        ),
        (1, 0)
    );
    let outside = owner.invite(org, "bob@other.test", "viewer", "").await;
    assert_eq!(outside.status, 403, "{}", outside.text());
    assert!(
        outside.shows("this organization invites only addresses at its verified domains"),
        "{}",
        outside.text()
    );
    assert_eq!(pending_to(&app, "bob@other.test"), 0);
    // Removing the last verified domain lifts the restriction.
    let page = owner.get(&paths::domains(org)).await;
    let confirm_path = page.attrs("li[data-domain='acme.test'] a[href$='/remove']", "href");
    let confirm = owner.get(&confirm_path[0]).await;
    assert_eq!(confirm.status, 200);
    let removed = owner.submit(&confirm.form("form.actions")).await;
    assert!(removed.shows("acme.test was removed"), "{}", removed.text());
    let anyone = owner.invite(org, "bob@other.test", "viewer", "").await;
    assert_eq!(anyone.status, 200, "{}", anyone.text());
    assert_eq!(pending_to(&app, "bob@other.test"), 1);
}

#[tokio::test]
async fn an_invite_link_refuses_a_joiner_outside_the_verified_domains() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    verify(&app, &owner, org, "acme.test", "owner@acme.test").await;
    let page = owner.get(&paths::domains(org)).await;
    owner
        .submit(
            &page
                .form("form[action$='/restriction']")
                .set("restricted", "on"),
        )
        .await;
    let created = owner
        .submit(
            &owner
                .get(&paths::new_invite_link(org))
                .await
                .form("form.invite-link-form")
                .set("role", "viewer")
                .set("expiry", "24h"),
        )
        .await;
    let link = created.attrs("input#invite-link-url", "value")[0].clone();
    let path = link[link.find("/join/").unwrap()..].to_owned();
    app.create_user("bob@other.test", "Bob");
    let bob = app.logged_in("bob@other.test").await;
    let page = bob.get(&path).await;
    let refused = bob.submit(&page.form("form[action$='/accept']")).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.shows("Acme accepts only addresses at its verified domains"),
        "{}",
        refused.text()
    );
    assert_eq!(app.role_of(org, "bob@other.test"), None);
    app.create_user("ann@acme.test", "Ann");
    let ann = app.logged_in("ann@acme.test").await;
    let page = ann.get(&path).await;
    let joined = ann.submit(&page.form("form[action$='/accept']")).await;
    assert_eq!(joined.status, 200, "{}", joined.text());
    assert_eq!(app.role_of(org, "ann@acme.test"), Some(Role::Viewer));
}
