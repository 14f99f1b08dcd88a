//! Invite links (DESIGN.md, "Invite link"; issue 5, item 3): creating one within the role
//! ceiling and on a paid plan, showing it once, revoking it after a confirmation, and joining
//! through it — as a new account, as a signed-in account, or not at all when the link is
//! expired, used or revoked, or the visitor is a member already.

use chrono::Duration;
use diesel::prelude::*;
use joinery::db::schema::{invite_links, users};
use joinery::domain::{OrganizationId, Plan, Role};

use crate::helpers::{Browser, PASSWORD, Page, TestApp, columns_containing, outcomes, spawn_app};

/// Opens "Create invite link", chooses `role` and `expiry`, and submits.
async fn create_link(b: &Browser, org: OrganizationId, role: &str, expiry: &str) -> Page {
    let page = b.get(&format!("/orgs/{org}/invite-links/new")).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let form = page
        .form("form.invite-link-form")
        .set("role", role)
        .set("expiry", expiry);
    b.submit(&form).await
}

/// The link shown on the "Invite link created" page.
fn shown_link(page: &Page) -> String {
    let links = page.attrs("input#invite-link-url", "value");
    assert_eq!(links.len(), 1, "one link shown: {}", page.text());
    links[0].clone()
}

/// The path (`/join/…`) of the link shown on the page.
fn shown_path(page: &Page) -> String {
    let link = shown_link(page);
    link[link.find("/join/").expect("a /join/ link")..].to_owned()
}

/// Creates a link as `b` and returns its path.
async fn new_link(b: &Browser, org: OrganizationId, role: &str, expiry: &str) -> String {
    let page = create_link(b, org, role, expiry).await;
    assert_eq!(page.status, 200, "{}", page.text());
    shown_path(&page)
}

/// The stored status of every link, oldest first.
fn statuses(app: &TestApp) -> Vec<String> {
    app.query(|c| {
        Ok(invite_links::table
            .order(invite_links::created_at.asc())
            .select(invite_links::status)
            .load::<String>(c)?)
    })
}

fn link_count(app: &TestApp) -> i64 {
    app.query(|c| Ok(invite_links::table.count().get_result::<i64>(c)?))
}

fn user_count(app: &TestApp) -> i64 {
    app.query(|c| Ok(users::table.count().get_result::<i64>(c)?))
}

fn actions(app: &TestApp, org: OrganizationId) -> Vec<String> {
    app.audit_actions(org).into_iter().map(|(a, _)| a).collect()
}

/// Fills and submits "Create account & join" on the link's page.
async fn register(b: &Browser, path: &str, email: &str, name: &str, password: &str) -> Page {
    let page = b.get(path).await;
    let form = page
        .form("form[action$='/register']")
        .set("email", email)
        .set("name", name)
        .set("password", password);
    b.submit(&form).await
}

#[tokio::test]
async fn admin_creates_a_link_with_each_expiry_and_it_is_shown_once() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    let form = admin.get(&format!("/orgs/{org}/invite-links/new")).await;
    assert!(form.shows("Create invite link"), "{}", form.text());
    assert_eq!(
        form.attrs("input[name=expiry]", "value"),
        vec!["1h", "24h", "48h", "7d"]
    );
    assert_eq!(
        form.attrs("select[name=role] option", "value"),
        vec!["viewer", "writer", "editor", "admin"],
        "an Admin is offered roles up to Admin"
    );

    let start = app.clock_now();
    let mut tokens = Vec::new();
    for (expiry, hours) in [("1h", 1), ("24h", 24), ("48h", 48), ("7d", 168)] {
        let page = create_link(&admin, org, "editor", expiry).await;
        assert_eq!(page.status, 200, "{}", page.text());
        assert!(page.shows("Invite link created"), "{}", page.text());
        assert!(page.shows("shown only once"), "{}", page.text());
        assert!(page.shows("Back to Team"));
        let link = shown_link(&page);
        assert!(
            link.starts_with(&format!("{}/join/", app.address)),
            "built from the base URL: {link}"
        );
        assert_eq!(page.attrs("input#invite-link-url", "readonly").len(), 1);
        assert_eq!(
            page.attrs("button[data-copy]", "hidden").len(),
            1,
            "the Copy button appears only with JavaScript"
        );
        assert_eq!(
            page.header("referrer-policy").as_deref(),
            Some("no-referrer")
        );
        assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
        let token = link.rsplit('/').next().unwrap().to_owned();
        assert_eq!(token.len(), 32);
        // Only the SHA-256 of the token is stored, nowhere the token itself.
        assert!(columns_containing(&app, &token).is_empty());
        let listed = app.query(|c| joinery::db::invite_links::list_active(c, org, start));
        let newest = &listed[0];
        assert_eq!(newest.role, Role::Editor);
        assert_eq!(newest.created_by_name, "Admin Acme");
        assert_eq!(
            newest.expires_at - newest.created_at,
            Duration::hours(hours),
            "{expiry}"
        );
        tokens.push(token);
        // Newest first: the next link is a minute younger.
        app.advance(Duration::minutes(1));
    }
    let now = app.clock_now();
    assert_eq!(
        app.query(|c| joinery::db::invite_links::list_active(c, org, now))
            .len(),
        4
    );
    // The token is nowhere else to be found: not on the form page shown again.
    let again = admin.get(&format!("/orgs/{org}/invite-links/new")).await;
    assert!(tokens.iter().all(|t| !again.body.contains(t.as_str())));
    let created = actions(&app, org)
        .iter()
        .filter(|a| *a == "invite_link.created")
        .count();
    assert_eq!(created, 4);
}

#[tokio::test]
async fn a_role_above_the_ceiling_or_a_bad_expiry_is_refused_with_the_input_kept() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    let page = create_link(&admin, org, "owner", "48h").await;
    assert_eq!(page.status, 403, "above the ceiling");
    assert!(
        page.texts(".field-error")
            .iter()
            .any(|e| e.contains("You cannot create a link for Owner")),
        "{}",
        page.text()
    );
    assert_eq!(
        page.attrs("input[name=expiry][checked]", "value"),
        vec!["48h"],
        "the input is kept"
    );
    let page = create_link(&admin, org, "viewer", "30d").await;
    assert_eq!(page.status, 400, "an expiry no form offers");
    assert!(page.shows("choose one of the expiry periods listed"));
    assert_eq!(link_count(&app), 0, "nothing written");

    // An Owner may create an Owner link.
    let (org2, owner) = app.org_with("Initech", Plan::Starter, Role::Owner).await;
    let page = create_link(&owner, org2, "owner", "1h").await;
    assert_eq!(page.status, 200, "{}", page.text());
}

#[tokio::test]
async fn members_without_users_invite_get_403() {
    let app = spawn_app().await;
    for role in [Role::Editor, Role::Writer, Role::Viewer] {
        let (org, b) = app
            .org_with(&format!("Org {}", role.label()), Plan::Starter, role)
            .await;
        let form = b.get(&format!("/orgs/{org}/invite-links/new")).await;
        assert_eq!(form.status, 403, "{role} opened the form");
        let csrf = b.get(&format!("/orgs/{org}")).await.csrf();
        let post = b
            .post(
                &format!("/orgs/{org}/invite-links"),
                &[("csrf_token", &csrf), ("role", "viewer"), ("expiry", "1h")],
            )
            .await;
        assert_eq!(post.status, 403, "{role} created a link");
    }
    assert_eq!(link_count(&app), 0);
}

#[tokio::test]
async fn a_trial_plan_cannot_create_links() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Tryout", Plan::Trial, Role::Owner).await;
    let page = owner.get(&format!("/orgs/{org}/invite-links/new")).await;
    assert_eq!(page.status, 200);
    assert!(page.shows("Team invitations are available on paid plans"));
    assert!(page.attrs("form.invite-link-form", "action").is_empty());
    let post = owner
        .post(
            &format!("/orgs/{org}/invite-links"),
            &[
                ("csrf_token", &page.csrf()),
                ("role", "viewer"),
                ("expiry", "24h"),
            ],
        )
        .await;
    assert_eq!(post.status, 403);
    assert!(post.shows("Team invitations are available on paid plans"));
    assert_eq!(link_count(&app), 0);
}

#[tokio::test]
async fn a_new_user_joins_with_email_name_and_password_and_the_link_works_once() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "editor", "24h").await;

    let visitor = app.browser();
    let page = visitor.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.shows("Join Acme"), "{}", page.text());
    assert!(page.shows("as Editor"));
    assert!(page.shows("Create account & join"));
    assert!(page.shows("Already have an account?"));
    assert_eq!(
        page.header("referrer-policy").as_deref(),
        Some("no-referrer")
    );
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(
        statuses(&app),
        vec!["active"],
        "opening the link changes nothing"
    );

    let done = register(
        &visitor,
        &path,
        "  New.Person@Example.COM ",
        "New Person",
        "a good long password",
    )
    .await;
    assert_eq!(done.path(), format!("/orgs/{org}"), "{}", done.text());
    assert!(done.shows("You joined Acme as Editor"), "{}", done.text());
    assert_eq!(
        app.role_of(org, "new.person@example.com"),
        Some(Role::Editor)
    );
    assert_eq!(statuses(&app), vec!["used"]);
    // The Owner is told who joined.
    let note = app.email_to("owner@acme.test").await;
    assert!(
        note.subject.contains("New Person joined Acme"),
        "{}",
        note.subject
    );
    // The new account can log in with its password.
    let again = app.browser();
    assert_eq!(
        again
            .login("new.person@example.com", "a good long password")
            .await
            .status,
        200
    );

    // A second use: the link has been used.
    let late = app.browser();
    let page = late.get(&path).await;
    assert_eq!(page.status, 410);
    assert!(
        page.shows("This invite link has already been used"),
        "{}",
        page.text()
    );
    assert!(page.shows("Ask Acme's admin for a new one"));
    let users_before = user_count(&app);
    // The page has no form; any page's token serves the forged POST.
    let csrf = late.get("/login").await.csrf();
    let refused = late
        .post(
            &format!("{path}/register"),
            &[
                ("csrf_token", &csrf),
                ("email", "late@example.com"),
                ("name", "Late"),
                ("password", "a good long password"),
            ],
        )
        .await;
    assert_eq!(refused.status, 410);
    assert!(refused.shows("already been used"));
    assert_eq!(
        user_count(&app),
        users_before,
        "no account for the late comer"
    );

    let actions = actions(&app, org);
    for expected in ["invite_link.created", "invite_link.used", "member.joined"] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected}: {actions:?}"
        );
    }
}

#[tokio::test]
async fn an_expired_link_says_so_to_the_second() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "viewer", "1h").await;
    app.advance(Duration::hours(1) - Duration::seconds(1));
    assert_eq!(app.browser().get(&path).await.status, 200);
    app.advance(Duration::seconds(1));
    let page = app.browser().get(&path).await;
    assert_eq!(page.status, 410);
    assert!(
        page.shows("This invite link has expired"),
        "{}",
        page.text()
    );
    assert!(page.shows("Ask Acme's admin for a new one"));
    // Listed no more, and a POST cannot use it either.
    let now = app.clock_now();
    assert!(
        app.query(|c| joinery::db::invite_links::list_active(c, org, now))
            .is_empty()
    );
    let b = app.browser();
    let csrf = b.get("/login").await.csrf();
    let users_before = user_count(&app);
    let post = b
        .post(
            &format!("{path}/register"),
            &[
                ("csrf_token", &csrf),
                ("email", "late@example.com"),
                ("name", "Late"),
                ("password", "a good long password"),
            ],
        )
        .await;
    assert_eq!(post.status, 410);
    assert_eq!(user_count(&app), users_before);
    assert_eq!(statuses(&app), vec!["active"]);
}

#[tokio::test]
async fn revoking_asks_for_confirmation_then_the_link_says_revoked() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    let path = new_link(&admin, org, "writer", "7d").await;
    let now = app.clock_now();
    let id = app.query(|c| joinery::db::invite_links::list_active(c, org, now))[0].id;
    let revoke_path = format!("/orgs/{org}/invite-links/{id}/revoke");

    let confirm = admin.get(&revoke_path).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.shows("Revoke invite link?"), "{}", confirm.text());
    assert!(confirm.shows("Writer"));
    assert!(confirm.shows("Admin Acme"));
    assert_eq!(statuses(&app), vec!["active"], "asking changes nothing");

    // Another organization's admin cannot see or revoke it.
    let (other_org, stranger) = app.org_with("Globex", Plan::Starter, Role::Admin).await;
    let foreign = stranger
        .get(&format!("/orgs/{other_org}/invite-links/{id}/revoke"))
        .await;
    assert_eq!(foreign.status, 404);

    let form = confirm.form(&format!("form[action='{revoke_path}']"));
    let done = admin.submit(&form).await;
    assert_eq!(done.path(), format!("/orgs/{org}/team"));
    assert!(
        done.shows("The invite link for Writer was revoked"),
        "{}",
        done.text()
    );
    assert_eq!(statuses(&app), vec!["revoked"]);
    assert!(
        app.query(|c| joinery::db::invite_links::list_active(c, org, now))
            .is_empty()
    );
    let page = app.browser().get(&path).await;
    assert_eq!(page.status, 410);
    assert!(
        page.shows("This invite link has been revoked"),
        "{}",
        page.text()
    );
    assert!(page.shows("Ask Acme's admin for a new one"));
    // The confirmation page of a revoked link offers nothing to click.
    let again = admin.get(&revoke_path).await;
    assert!(again.shows("This invite link has been revoked"));
    assert!(
        again
            .attrs(&format!("form[action='{revoke_path}']"), "action")
            .is_empty()
    );
    assert!(
        actions(&app, org)
            .iter()
            .any(|a| a == "invite_link.revoked")
    );
}

#[tokio::test]
async fn a_signed_in_user_joins_with_one_click() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "writer", "48h").await;
    // Someone with an account in another organization.
    let (_, member) = app.org_with("Globex", Plan::Starter, Role::Viewer).await;
    let page = member.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.shows("Join Acme as Writer"), "{}", page.text());
    let done = member.submit(&page.form("form[action$='/accept']")).await;
    assert_eq!(done.path(), format!("/orgs/{org}"));
    assert!(done.shows("You joined Acme as Writer"), "{}", done.text());
    assert_eq!(app.role_of(org, "viewer@globex.test"), Some(Role::Writer));
    assert_eq!(statuses(&app), vec!["used"]);
}

#[tokio::test]
async fn an_existing_member_is_told_and_the_link_is_not_used() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "admin", "24h").await;
    let viewer = app.create_user("vera@example.com", "Vera");
    app.add_member(org, viewer, Role::Viewer);
    let vera = app.logged_in("vera@example.com").await;

    let page = vera.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(
        page.shows("You are already a member of Acme"),
        "{}",
        page.text()
    );
    assert!(page.shows("Viewer"));
    assert!(page.attrs("form[action$='/accept']", "action").is_empty());
    // A POST all the same (e.g. from an older tab) changes nothing either.
    let csrf = page.csrf();
    let post = vera
        .post(&format!("{path}/accept"), &[("csrf_token", &csrf)])
        .await;
    assert!(
        post.shows("already a member of Acme as Viewer"),
        "{}",
        post.text()
    );
    assert_eq!(app.role_of(org, "vera@example.com"), Some(Role::Viewer));
    assert_eq!(statuses(&app), vec!["active"], "the link is not consumed");

    // Someone else can still use it.
    let done = register(
        &app.browser(),
        &path,
        "next@example.com",
        "Next",
        "a good long password",
    )
    .await;
    assert!(done.shows("You joined Acme as Admin"), "{}", done.text());
}

#[tokio::test]
async fn an_email_with_an_account_is_told_to_log_in_and_nothing_is_written() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "viewer", "24h").await;
    app.create_user("known@example.com", "Known");
    let users_before = user_count(&app);
    let audit_before = app.audit_actions(org).len();

    let b = app.browser();
    let page = register(
        &b,
        &path,
        "Known@Example.com",
        "Someone",
        "a good long password",
    )
    .await;
    assert_eq!(page.status, 422);
    assert!(
        page.texts("#email-error")
            .iter()
            .any(|e| e.contains("An account with this email already exists. Log in to join.")),
        "{}",
        page.text()
    );
    assert_eq!(
        page.attrs("input#name", "value"),
        vec!["Someone"],
        "input kept"
    );
    assert_eq!(user_count(&app), users_before);
    assert_eq!(statuses(&app), vec!["active"]);
    assert_eq!(app.audit_actions(org).len(), audit_before);
    assert_eq!(app.role_of(org, "known@example.com"), None);

    // The log-in form on the same page is filled in with the address: log in & join.
    let wrong = b
        .submit(
            &page
                .form("form[action$='/login']")
                .set("password", "not the password"),
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.shows("That email and password do not match an account."));
    assert_eq!(statuses(&app), vec!["active"]);
    let done = b
        .submit(
            &page
                .form("form[action$='/login']")
                .set("password", PASSWORD),
        )
        .await;
    assert_eq!(done.path(), format!("/orgs/{org}"));
    assert!(done.shows("You joined Acme as Viewer"), "{}", done.text());
    assert_eq!(statuses(&app), vec!["used"]);
}

/// The "already has an account" answer tells whoever holds a link whether an address is
/// registered. The form shares sign-up's per-client budget (`login_attempts_per_minute`, 10),
/// so a link cannot be used to probe addresses at speed.
#[tokio::test]
async fn probing_for_accounts_through_a_link_is_rate_limited_per_client() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "viewer", "24h").await;
    app.create_user("known@example.com", "Known");
    let users_before = user_count(&app);

    let b = app.browser();
    for probe in 1..=10 {
        let page = register(
            &b,
            &path,
            "known@example.com",
            "Someone",
            "a good long password",
        )
        .await;
        assert_eq!(page.status, 422, "probe {probe}: {}", page.text());
    }
    let limited = register(&b, &path, "new@example.com", "New", "a good long password").await;
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert!(limited.shows("Too many attempts"), "{}", limited.text());
    assert_eq!(user_count(&app), users_before, "no account was made");
    assert_eq!(statuses(&app), vec!["active"], "the link is unused");
    assert_eq!(app.role_of(org, "new@example.com"), None);
}

#[tokio::test]
async fn bad_input_is_shown_beside_its_field_with_the_input_kept() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "viewer", "24h").await;
    let users_before = user_count(&app);
    let long_name = "n".repeat(101);
    let page = register(&app.browser(), &path, "not-an-email", &long_name, "short").await;
    assert_eq!(page.status, 422);
    assert!(page.texts("#email-error")[0].contains("not a valid email address"));
    assert!(page.texts("#name-error")[0].contains("at most 100 characters"));
    assert!(page.texts("#password-error")[0].contains("at least 8 characters"));
    assert_eq!(page.attrs("input#email", "value"), vec!["not-an-email"]);
    assert_eq!(page.attrs("input#name", "value"), vec![long_name]);
    assert!(
        page.attrs("input#password", "value").is_empty(),
        "a password is never sent back"
    );
    assert_eq!(user_count(&app), users_before);
    assert_eq!(statuses(&app), vec!["active"]);
}

#[tokio::test]
async fn unknown_and_malformed_tokens_are_404() {
    let app = spawn_app().await;
    let b = app.browser();
    assert_eq!(
        b.get(&format!("/join/{}", "a".repeat(32))).await.status,
        404
    );
    assert_eq!(b.get("/join/short").await.status, 404);
    assert_eq!(
        b.get(&format!("/join/{}", "a/".repeat(16))).await.status,
        404
    );
}

#[tokio::test]
async fn the_link_comes_from_the_base_url_not_the_host_header() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let page = owner.get(&format!("/orgs/{org}/invite-links/new")).await;
    let form = page
        .form("form.invite-link-form")
        .set("role", "viewer")
        .set("expiry", "1h");
    let created = owner
        .submit_with_headers(
            &form,
            &[
                ("Host", "evil.example"),
                ("X-Forwarded-Host", "evil.example"),
            ],
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let link = shown_link(&created);
    assert!(link.starts_with(&app.address), "{link}");
    assert!(!link.contains("evil"));
}

#[tokio::test]
async fn a_link_whose_creator_lost_the_right_is_revoked() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    let path = new_link(&admin, org, "admin", "24h").await;
    // The creator is demoted to Editor (they may no longer invite at all).
    let owner = app.create_user("boss@acme.test", "Boss");
    app.add_member(org, owner, Role::Owner);
    let membership = app.membership_id(org, "admin@acme.test");
    app.query(|c| joinery::db::organizations::set_role(c, membership, Role::Editor));
    let page = app.browser().get(&path).await;
    assert_eq!(page.status, 410);
    assert!(
        page.shows("This invite link has been revoked"),
        "{}",
        page.text()
    );
    assert_eq!(statuses(&app), vec!["active"], "GET writes nothing");
    let users_before = user_count(&app);
    let b = app.browser();
    let csrf = b.get("/login").await.csrf();
    let post = b
        .post(
            &format!("{path}/register"),
            &[
                ("csrf_token", &csrf),
                ("email", "x@example.com"),
                ("name", "X"),
                ("password", "a good long password"),
            ],
        )
        .await;
    assert_eq!(post.status, 410, "{}", post.text());
    assert_eq!(statuses(&app), vec!["revoked"], "the POST writes it");
    assert_eq!(user_count(&app), users_before, "and makes no account");
}

#[tokio::test]
async fn racing_uses_make_exactly_one_membership_and_no_stray_accounts() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "writer", "24h").await;
    let mut forms = Vec::new();
    let mut browsers = Vec::new();
    for i in 0..5 {
        let b = app.browser();
        let page = b.get(&path).await;
        forms.push(
            page.form("form[action$='/register']")
                .set("email", &format!("racer{i}@example.com"))
                .set("name", &format!("Racer {i}"))
                .set("password", "long enough pw"),
        );
        browsers.push(b);
    }
    let users_before = user_count(&app);
    let results =
        futures::future::join_all(browsers.iter().zip(&forms).map(|(b, f)| b.submit(f))).await;
    assert_eq!(
        outcomes(
            &results,
            &[
                ("You joined Acme as Writer", "joined"),
                ("This invite link has already been used", "already used")
            ]
        ),
        [
            (200, "joined"),
            (410, "already used"),
            (410, "already used"),
            (410, "already used"),
            (410, "already used")
        ],
        "exactly one use wins; the others are told the link is used"
    );
    assert_eq!(
        app.query(|c| joinery::db::organizations::member_count(c, org)),
        2
    );
    assert_eq!(
        user_count(&app),
        users_before + 1,
        "the losers left no account"
    );
}

#[tokio::test]
async fn removing_the_creator_revokes_their_links() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    let path = new_link(&admin, org, "viewer", "7d").await;
    let boss = app.create_user("boss@acme.test", "Boss");
    app.add_member(org, boss, Role::Owner);
    let owner = app.logged_in("boss@acme.test").await;
    let id = app.membership_id(org, "admin@acme.test");
    let remove = format!("/orgs/{org}/members/{id}/remove");
    let done = owner.click(&remove, &remove).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(app.role_of(org, "admin@acme.test"), None);
    assert_eq!(statuses(&app), vec!["revoked"]);
    let page = app.browser().get(&path).await;
    assert!(
        page.shows("This invite link has been revoked"),
        "{}",
        page.text()
    );
    assert!(
        actions(&app, org)
            .iter()
            .any(|a| a == "invite_link.revoked")
    );
}

#[tokio::test]
async fn staff_acting_in_an_organization_create_links_recorded_as_staff() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", Plan::Professional);
    app.create_staff("staff@joinery.test", "Sam Staff");
    let staff = app.logged_in("staff@joinery.test").await;
    let path = new_link(&staff, org, "owner", "1h").await;
    assert!(
        app.audit_actions(org)
            .contains(&("invite_link.created".to_owned(), true)),
        "recorded as a staff action"
    );
    let done = register(
        &app.browser(),
        &path,
        "founder@example.com",
        "Founder",
        "a good long password",
    )
    .await;
    assert!(done.shows("You joined Acme as Owner"), "{}", done.text());
}
