//! Invite links (DESIGN.md, "Invite link"): creating one within the role
//! ceiling and on a paid plan, showing it once, revoking it after a confirmation, and joining
//! through it — as a new account, as a signed-in account, or not at all when the link is
//! expired, used or revoked, or the visitor is a member already.

use chrono::Duration;
use diesel::prelude::*;
use joinery::db::schema::{invite_links, outbox_emails, signup_requests, users};
use joinery::domain::{OrganizationId, Plan, Role};
use joinery::paths;

use crate::helpers::{
    Browser, Email, PASSWORD, Page, TestApp, columns_containing, outcomes, spawn_app,
};

/// Opens "Create invite link", chooses `role` and `expiry`, and submits.
async fn create_link(b: &Browser, org: OrganizationId, role: &str, expiry: &str) -> Page {
    let page = b.get(&paths::new_invite_link(org)).await;
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

/// The path (`/signup/…`) of the link in a "confirm your email to join" email.
fn mailed_path(email: &Email) -> String {
    let link = email
        .text
        .split_whitespace()
        .find(|w| w.contains("/signup/"))
        .unwrap_or_else(|| panic!("no mailed link in: {}", email.text));
    link[link.find("/signup/").unwrap()..].to_owned()
}

/// On the invite link's page, asks for a link that proves `email` ("Email me a link").
async fn ask(b: &Browser, path: &str, email: &str) -> Page {
    let page = b.get(path).await;
    assert_eq!(page.status, 200, "{}", page.text());
    b.submit(&page.form("form[action$='/register']").set("email", email))
        .await
}

/// Asks for a link for `email` through the invite link `path`, and returns the path of the
/// link mailed to that address.
async fn mailed_link(app: &TestApp, path: &str, email: &str) -> String {
    let sent = ask(&app.browser(), path, email).await;
    assert!(sent.shows("Check your email"), "{}", sent.text());
    mailed_path(&app.email_to(email).await)
}

/// Opens the mailed link in `b` and submits "Create account & join".
async fn create_account_and_join(b: &Browser, mailed: &str, name: &str, password: &str) -> Page {
    let page = b.get(mailed).await;
    assert_eq!(page.status, 200, "{}", page.text());
    b.submit(
        &page
            .form("form.join-new-form")
            .set("name", name)
            .set("password", password),
    )
    .await
}

fn signup_request_count(app: &TestApp) -> i64 {
    app.query(|c| Ok(signup_requests::table.count().get_result::<i64>(c)?))
}

/// How many mailed links have been used.
fn mailed_links_used(app: &TestApp) -> i64 {
    app.query(|c| {
        Ok(signup_requests::table
            .filter(signup_requests::used_at.is_not_null())
            .count()
            .get_result::<i64>(c)?)
    })
}

/// How many mailed links (sign-up emails) were queued for `email`.
fn join_emails_to(app: &TestApp, email: &str) -> i64 {
    let email = email.to_owned();
    app.query(move |c| {
        Ok(outbox_emails::table
            .filter(outbox_emails::recipient.eq(email))
            .filter(outbox_emails::kind.eq("signup"))
            .count()
            .get_result::<i64>(c)?)
    })
}

/// A CSRF token of `b`'s session, for a POST that no form on the page offers.
async fn csrf_of(b: &Browser) -> String {
    b.get(paths::LOGIN.pattern()).await.csrf()
}

fn assert_token_page_headers(page: &Page) {
    assert_eq!(
        page.header("referrer-policy").as_deref(),
        Some("no-referrer"),
        "{}",
        page.url
    );
    assert_eq!(
        page.header("cache-control").as_deref(),
        Some("no-store"),
        "{}",
        page.url
    );
}

#[tokio::test]
async fn admin_creates_a_link_with_each_expiry_and_it_is_shown_once() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    let form = admin.get(&paths::new_invite_link(org)).await;
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
    let again = admin.get(&paths::new_invite_link(org)).await;
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
        let form = b.get(&paths::new_invite_link(org)).await;
        assert_eq!(form.status, 403, "{role} opened the form");
        let csrf = b.get(&paths::dashboard(org)).await.csrf();
        let post = b
            .post(
                &paths::create_invite_link(org),
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
    let page = owner.get(&paths::new_invite_link(org)).await;
    assert_eq!(page.status, 200);
    assert!(page.shows("Team invitations are available on paid plans"));
    assert!(page.attrs("form.invite-link-form", "action").is_empty());
    let post = owner
        .post(
            &paths::create_invite_link(org),
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
async fn a_new_user_proves_their_email_then_joins_and_the_link_works_once() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "editor", "24h").await;
    let users_before = user_count(&app);

    let visitor = app.browser();
    let page = visitor.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.shows("Join Acme"), "{}", page.text());
    assert!(page.shows("as Editor"));
    assert!(page.shows("Email me a link to join"), "{}", page.text());
    assert!(
        page.attrs("form[action$='/register'] input[name=password]", "name")
            .is_empty(),
        "no password before the address is proved"
    );
    assert!(page.shows("Already have an account?"));
    assert_token_page_headers(&page);
    assert_eq!(
        statuses(&app),
        vec!["active"],
        "opening the link changes nothing"
    );

    // The address is normalized, and the mailed link is built from the base URL whatever
    // the request's Host says.
    let form = page
        .form("form[action$='/register']")
        .set("email", "  New.Person@Example.COM ");
    let sent = visitor
        .submit_with_headers(
            &form,
            &[
                ("Host", "evil.example"),
                ("X-Forwarded-Host", "evil.example"),
            ],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text());
    assert!(sent.shows("Check your email"), "{}", sent.text());
    assert!(sent.shows("new.person@example.com"), "{}", sent.text());
    assert_token_page_headers(&sent);
    assert_eq!(user_count(&app), users_before, "nothing exists yet");
    assert_eq!(statuses(&app), vec!["active"], "the link is not used yet");

    let email = app.email_to("new.person@example.com").await;
    assert_eq!(email.subject, "Confirm your email to join Acme as Editor");
    assert!(
        email
            .text
            .contains("Owner Acme invited you to join Acme on Joinery as Editor"),
        "{}",
        email.text
    );
    assert!(
        email.text.contains("Create, edit and publish content"),
        "{}",
        email.text
    );
    assert!(
        email.text.contains("proves that this address is yours"),
        "{}",
        email.text
    );
    assert!(email.text.contains("expires on"), "{}", email.text);
    let mailed = mailed_path(&email);
    let link = format!("{}{mailed}", app.address);
    assert!(email.text.contains(&link), "{}", email.text);
    assert!(
        email.html.contains(&format!("href=\"{link}\"")),
        "{}",
        email.html
    );
    let token = mailed.rsplit('/').next().unwrap();
    assert!(
        columns_containing(&app, token).is_empty(),
        "the mailed link is not stored"
    );

    // Opening the mailed link changes nothing either; it asks for a name and a password.
    let joiner = app.browser();
    let page = joiner.get(&mailed).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert_token_page_headers(&page);
    assert!(page.shows("Join Acme"), "{}", page.text());
    assert!(
        page.shows("Your email address is confirmed"),
        "{}",
        page.text()
    );
    assert_eq!(
        page.attrs("input#email[readonly]", "value"),
        vec!["new.person@example.com"]
    );
    assert!(
        page.attrs("form.join-new-form input[name=email]", "name")
            .is_empty(),
        "the address is not a form field"
    );
    assert!(page.shows("Create account & join"));
    assert_eq!(user_count(&app), users_before);
    assert_eq!(statuses(&app), vec!["active"]);
    assert_eq!(mailed_links_used(&app), 0);

    let done = joiner
        .submit(
            &page
                .form("form.join-new-form")
                .set("name", "New Person")
                .set("password", "a good long password"),
        )
        .await;
    assert_eq!(done.path(), paths::dashboard(org), "{}", done.text());
    assert!(done.shows("You joined Acme as Editor"), "{}", done.text());
    assert_eq!(
        app.role_of(org, "new.person@example.com"),
        Some(Role::Editor)
    );
    assert_eq!(statuses(&app), vec!["used"]);
    assert_eq!(mailed_links_used(&app), 1);
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

    // A second use: the link has been used, and so has the mailed link.
    let late = app.browser();
    let page = late.get(&path).await;
    assert_eq!(page.status, 410);
    assert!(
        page.shows("This invite link has already been used"),
        "{}",
        page.text()
    );
    assert!(page.shows("Ask Acme's admin for a new one"));
    let page = late.get(&mailed).await;
    assert_eq!(page.status, 410);
    assert!(
        page.shows("This invite link has already been used"),
        "{}",
        page.text()
    );
    let users_before = user_count(&app);
    // The page has no form; any page's token serves the forged POSTs.
    let csrf = csrf_of(&late).await;
    let refused = late
        .post(
            &format!("{path}/register"),
            &[("csrf_token", &csrf), ("email", "late@example.com")],
        )
        .await;
    assert_eq!(refused.status, 410);
    assert!(refused.shows("already been used"));
    assert_eq!(join_emails_to(&app, "late@example.com"), 0);
    let refused = late
        .post(
            &mailed,
            &[
                ("csrf_token", &csrf),
                ("name", "Late"),
                ("password", "a good long password"),
            ],
        )
        .await;
    assert_eq!(refused.status, 410);
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
    let csrf = b.get(paths::LOGIN.pattern()).await.csrf();
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
    let revoke_path = paths::revoke_invite_link(org, id);

    let confirm = admin.get(&revoke_path).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.shows("Revoke invite link?"), "{}", confirm.text());
    assert!(confirm.shows("Writer"));
    assert!(confirm.shows("Admin Acme"));
    assert_eq!(statuses(&app), vec!["active"], "asking changes nothing");

    // Another organization's admin cannot see or revoke it.
    let (other_org, stranger) = app.org_with("Globex", Plan::Starter, Role::Admin).await;
    let foreign = stranger
        .get(&paths::revoke_invite_link(other_org, id))
        .await;
    assert_eq!(foreign.status, 404);

    let form = confirm.form(&format!("form[action='{revoke_path}']"));
    let done = admin.submit(&form).await;
    assert_eq!(done.path(), paths::team(org));
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
    assert_eq!(done.path(), paths::dashboard(org));
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
    let mailed = mailed_link(&app, &path, "next@example.com").await;
    let done =
        create_account_and_join(&app.browser(), &mailed, "Next", "a good long password").await;
    assert!(done.shows("You joined Acme as Admin"), "{}", done.text());
}

#[tokio::test]
async fn an_account_holder_following_the_mailed_link_logs_in_and_joins() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "viewer", "24h").await;
    app.create_user("known@example.com", "Known");
    let mailed = mailed_link(&app, &path, "known@example.com").await;
    let users_before = user_count(&app);
    let audit_before = app.audit_actions(org).len();

    let b = app.browser();
    let page = b.get(&mailed).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert_token_page_headers(&page);
    assert!(
        page.shows("Log in as known@example.com to join"),
        "{}",
        page.text()
    );
    assert!(
        page.attrs("input[name=name]", "name").is_empty(),
        "no name asked"
    );
    assert_eq!(
        page.attrs("form.join-login-form input[name]", "name"),
        vec!["csrf_token", "password"],
        "the address is not a form field"
    );
    assert_eq!(user_count(&app), users_before);
    assert_eq!(statuses(&app), vec!["active"]);
    assert_eq!(app.audit_actions(org).len(), audit_before);

    let wrong = b
        .submit(
            &page
                .form("form.join-login-form")
                .set("password", "not the password"),
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.shows("That email and password do not match an account."),
        "{}",
        wrong.text()
    );
    assert!(wrong.shows("Log in as known@example.com to join"));
    assert_eq!(statuses(&app), vec!["active"]);
    assert_eq!(app.role_of(org, "known@example.com"), None);

    let done = b
        .submit(&page.form("form.join-login-form").set("password", PASSWORD))
        .await;
    assert_eq!(done.path(), paths::dashboard(org), "{}", done.text());
    assert!(done.shows("You joined Acme as Viewer"), "{}", done.text());
    assert!(
        done.shows("Known"),
        "signed in as the account: {}",
        done.text()
    );
    assert_eq!(statuses(&app), vec!["used"]);
    assert_eq!(user_count(&app), users_before, "no second account");
    assert_eq!(app.role_of(org, "known@example.com"), Some(Role::Viewer));
}

/// The link's page keeps its "Log in & join" form: a password proves the account.
#[tokio::test]
async fn an_account_holder_can_still_log_in_and_join_on_the_link_page() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "viewer", "24h").await;
    app.create_user("known@example.com", "Known");
    let b = app.browser();
    let page = b.get(&path).await;
    let form = page
        .form("form[action$='/login']")
        .set("email", "Known@Example.com");
    let wrong = b
        .submit(&form.clone().set("password", "not the password"))
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.shows("That email and password do not match an account."));
    assert_eq!(statuses(&app), vec!["active"]);
    let done = b.submit(&form.set("password", PASSWORD)).await;
    assert_eq!(done.path(), paths::dashboard(org));
    assert!(done.shows("You joined Acme as Viewer"), "{}", done.text());
    assert_eq!(statuses(&app), vec!["used"]);
}

/// "Email me a link" sends email: it shares sign-up's per-client budget
/// (`login_attempts_per_minute`, 10, then 429), and an address gets at most 3 sign-up emails
/// an hour — past that the same page answers and nothing is sent.
#[tokio::test]
async fn asking_for_mailed_links_is_limited_per_client_and_per_address() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "viewer", "24h").await;
    let users_before = user_count(&app);

    let b = app.browser();
    for ask_number in 1..=10 {
        let address = if ask_number <= 4 {
            "same@example.com".to_owned()
        } else {
            format!("other{ask_number}@example.com")
        };
        let page = ask(&b, &path, &address).await;
        assert_eq!(page.status, 200, "ask {ask_number}: {}", page.text());
        assert!(page.shows("Check your email"), "{}", page.text());
    }
    assert_eq!(
        join_emails_to(&app, "same@example.com"),
        3,
        "the fourth ask for one address sends nothing"
    );
    let limited = ask(&b, &path, "new@example.com").await;
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert!(limited.shows("Too many attempts"), "{}", limited.text());
    assert!(limited.header("retry-after").is_some());
    assert_eq!(join_emails_to(&app, "new@example.com"), 0);
    assert_eq!(user_count(&app), users_before, "no account was made");
    assert_eq!(statuses(&app), vec!["active"], "the link is unused");
}

/// The mailed link's POST hashes a new password or verifies an account's: it sits behind the
/// per-client log-in budget (10 a minute, the owner's log-in included), then 429.
#[tokio::test]
async fn password_posts_on_the_mailed_link_are_limited_per_client() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "viewer", "24h").await;
    app.create_user("known@example.com", "Known");
    let mailed = mailed_link(&app, &path, "known@example.com").await;

    let b = app.browser();
    let form = b
        .get(&mailed)
        .await
        .form("form.join-login-form")
        .set("password", "wrong password");
    // The owner's log-in was this client's first attempt.
    for attempt in 2..=10 {
        let page = b.submit(&form).await;
        assert_eq!(page.status, 401, "attempt {attempt}: {}", page.text());
    }
    let limited = b.submit(&form.clone().set("password", PASSWORD)).await;
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert!(limited.shows("Too many attempts"), "{}", limited.text());
    assert!(limited.header("retry-after").is_some());
    assert_eq!(statuses(&app), vec!["active"]);
    assert_eq!(app.role_of(org, "known@example.com"), None);
}

#[tokio::test]
async fn a_bad_address_is_shown_beside_its_field_with_the_input_kept() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "viewer", "24h").await;
    let page = ask(&app.browser(), &path, "not-an-email").await;
    assert_eq!(page.status, 422);
    assert!(
        page.texts("#email-error")[0].contains("not a valid email address"),
        "{}",
        page.text()
    );
    assert_eq!(page.attrs("input#email", "value"), vec!["not-an-email"]);
    assert_eq!(page.attrs("input#email[aria-invalid]", "id").len(), 1);
    assert_token_page_headers(&page);
    assert_eq!(signup_request_count(&app), 0, "nothing written");
    assert_eq!(statuses(&app), vec!["active"]);
}

#[tokio::test]
async fn bad_input_on_the_mailed_link_is_shown_beside_its_field_with_the_input_kept() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "viewer", "24h").await;
    let mailed = mailed_link(&app, &path, "new@example.com").await;
    let users_before = user_count(&app);
    let b = app.browser();
    let long_name = "n".repeat(101);
    let form = b.get(&mailed).await.form("form.join-new-form");
    let page = b
        .submit(
            &form
                .clone()
                .set("name", &long_name)
                .set("password", "short"),
        )
        .await;
    assert_eq!(page.status, 422);
    assert_token_page_headers(&page);
    assert!(page.texts("#name-error")[0].contains("at most 100 characters"));
    assert!(page.texts("#password-error")[0].contains("at least 8 characters"));
    assert_eq!(page.attrs("input#name", "value"), vec![long_name]);
    assert_eq!(
        page.attrs("input#email[readonly]", "value"),
        vec!["new@example.com"]
    );
    assert!(
        page.attrs("input#password", "value").is_empty(),
        "a password is never sent back"
    );
    assert_eq!(user_count(&app), users_before);
    assert_eq!(statuses(&app), vec!["active"]);
    assert_eq!(mailed_links_used(&app), 0);

    let done = b
        .submit(
            &form
                .set("name", "New")
                .set("password", "a good long password"),
        )
        .await;
    assert!(done.shows("You joined Acme as Viewer"), "{}", done.text());
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
    let page = owner.get(&paths::new_invite_link(org)).await;
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
    // Asked for while the creator may still grant the role.
    let mailed = mailed_link(&app, &path, "x@example.com").await;
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
    let page = app.browser().get(&mailed).await;
    assert_eq!(page.status, 410);
    assert!(
        page.shows("This invite link has been revoked"),
        "{}",
        page.text()
    );
    assert_eq!(statuses(&app), vec!["active"], "GETs write nothing");

    let users_before = user_count(&app);
    let b = app.browser();
    let csrf = csrf_of(&b).await;
    let asked = b
        .post(
            &format!("{path}/register"),
            &[("csrf_token", &csrf), ("email", "y@example.com")],
        )
        .await;
    assert_eq!(asked.status, 410, "{}", asked.text());
    assert_eq!(signup_request_count(&app), 1, "no mailed link for y@");
    let post = b
        .post(
            &mailed,
            &[
                ("csrf_token", &csrf),
                ("name", "X"),
                ("password", "a good long password"),
            ],
        )
        .await;
    assert_eq!(post.status, 410, "{}", post.text());
    assert_eq!(user_count(&app), users_before, "no account");

    // Using it is what writes the revocation.
    let (_, member) = app.org_with("Globex", Plan::Starter, Role::Viewer).await;
    let csrf = csrf_of(&member).await;
    let post = member
        .post(&format!("{path}/accept"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(post.status, 410, "{}", post.text());
    assert_eq!(statuses(&app), vec!["revoked"], "the POST writes it");
    assert_eq!(app.role_of(org, "viewer@globex.test"), None);
}

#[tokio::test]
async fn racing_uses_make_exactly_one_membership_and_no_stray_accounts() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "writer", "24h").await;
    let mut forms = Vec::new();
    let mut browsers = Vec::new();
    for i in 0..5 {
        let mailed = mailed_link(&app, &path, &format!("racer{i}@example.com")).await;
        let b = app.browser();
        let page = b.get(&mailed).await;
        forms.push(
            page.form("form.join-new-form")
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
                ("already been used", "already used")
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
    assert_eq!(
        mailed_links_used(&app),
        1,
        "the losers' mailed links are unused"
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
    let remove = paths::remove_member(org, id);
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
    let mailed = mailed_link(&app, &path, "founder@example.com").await;
    let done =
        create_account_and_join(&app.browser(), &mailed, "Founder", "a good long password").await;
    assert!(done.shows("You joined Acme as Owner"), "{}", done.text());
}

/// DESIGN.md, Security rules: "Every way into an organization (invitation, invite link, …)
/// proves the person's email before an account is bound to it." Whoever holds a link and
/// types someone else's address with a name and password of their own is only told to check
/// their email: no account, no membership, the link unused — and the real owner of the
/// address can still sign up, and accept the invitation sent to them, as a new person.
#[tokio::test]
async fn an_invite_link_proves_the_email_before_an_account_is_bound_to_it() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "admin", "24h").await;
    let users_before = user_count(&app);

    let squatter = app.browser();
    let csrf = squatter.get(&path).await.csrf();
    let page = squatter
        .post(
            &format!("{path}/register"),
            &[
                ("csrf_token", &csrf),
                ("email", "victim@example.com"),
                ("name", "Squatter"),
                ("password", "the squatter's password"),
            ],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.shows("Check your email"), "{}", page.text());
    assert_eq!(user_count(&app), users_before, "no account for the address");
    assert_eq!(app.role_of(org, "victim@example.com"), None);
    assert_eq!(statuses(&app), vec!["active"], "the link is unused");
    assert_eq!(
        squatter.get(&paths::dashboard(org)).await.path(),
        paths::LOGIN.pattern(),
        "the squatter is not signed in"
    );
    // The address's owner is asked, and can ignore it.
    let asked = app.email_to("victim@example.com").await;
    assert!(asked.text.contains("Acme"), "{}", asked.text);

    // Sign-up sees no account with the address: it sends a sign-up link.
    let signup = app.browser();
    let form = signup.get(paths::SIGNUP.pattern()).await;
    let sent = signup
        .submit(
            &form
                .form("form[action='/signup']")
                .set("email", "victim@example.com"),
        )
        .await;
    assert!(sent.shows("Check your email"), "{}", sent.text());
    assert_eq!(
        app.email_to("victim@example.com").await.subject,
        "Finish signing up for Joinery"
    );

    // An invitation to the address is accepted as a new person, with their own password.
    let invited = owner.invite(org, "victim@example.com", "editor", "").await;
    assert_eq!(invited.status, 200, "{}", invited.text());
    let invitation = app.email_to("victim@example.com").await;
    let victim = app.browser();
    let accept = victim.get(&invitation.invitation_path()).await;
    assert!(accept.shows("Create account & join"), "{}", accept.text());
    let done = victim
        .submit(
            &accept
                .form("form[action$='/register']")
                .set("name", "Victor Victim")
                .set("password", "the owner's own password"),
        )
        .await;
    assert!(done.shows("You joined Acme as Editor"), "{}", done.text());
    assert_eq!(app.role_of(org, "victim@example.com"), Some(Role::Editor));
    assert_eq!(statuses(&app), vec!["active"], "the link is still unused");
}

/// The answer to "Email me a link" does not tell whether an address has an account (the
/// same page and status), as `/signup` does not (DESIGN.md, Security rules).
#[tokio::test]
async fn asking_to_join_answers_alike_for_registered_and_unregistered_addresses() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "viewer", "24h").await;
    app.create_user("known@example.com", "Known");
    let users_before = user_count(&app);

    let fresh = ask(&app.browser(), &path, "fresh@example.com").await;
    let known = ask(&app.browser(), &path, "Known@Example.com").await;
    assert_eq!(fresh.status, 200, "{}", fresh.text());
    assert_eq!(known.status, 200, "{}", known.text());
    assert_eq!(fresh.path(), known.path());
    assert!(known.shows("Check your email"), "{}", known.text());
    assert_eq!(
        fresh.text().replace("fresh@example.com", "ADDRESS"),
        known.text().replace("known@example.com", "ADDRESS"),
        "the page tells whether an account exists"
    );
    assert_eq!(user_count(&app), users_before);
    assert_eq!(statuses(&app), vec!["active"]);
    // Each address gets the same email, which only its owner reads.
    let to_fresh = app.email_to("fresh@example.com").await;
    let to_known = app.email_to("known@example.com").await;
    assert_eq!(to_fresh.subject, to_known.subject);
    assert_eq!(
        to_fresh
            .text
            .replace(&mailed_path(&to_fresh), "LINK")
            .replace("fresh@example.com", "ADDRESS"),
        to_known
            .text
            .replace(&mailed_path(&to_known), "LINK")
            .replace("known@example.com", "ADDRESS"),
    );
}

/// The invite link is used only when the mailed link's form is completed: if by then it has
/// expired, been used or been revoked, the mailed link's page says so (410) and its POST
/// creates nothing. The mailed link itself works for 24 hours.
#[tokio::test]
async fn the_mailed_link_says_when_the_invite_link_expired_was_used_or_revoked() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let expiring = new_link(&owner, org, "viewer", "1h").await;
    let to_use = new_link(&owner, org, "editor", "24h").await;
    app.advance(Duration::minutes(1));
    let to_revoke = new_link(&owner, org, "writer", "24h").await;
    let mailed_expiring = mailed_link(&app, &expiring, "e@example.com").await;
    let mailed_used = mailed_link(&app, &to_use, "u@example.com").await;
    let mailed_revoked = mailed_link(&app, &to_revoke, "r@example.com").await;
    for mailed in [&mailed_expiring, &mailed_used, &mailed_revoked] {
        assert_eq!(app.browser().get(mailed).await.status, 200);
    }

    // Used by someone signed in, revoked by the owner, and an hour passes.
    let (_, member) = app.org_with("Globex", Plan::Starter, Role::Viewer).await;
    let page = member.get(&to_use).await;
    let joined = member.submit(&page.form("form[action$='/accept']")).await;
    assert!(
        joined.shows("You joined Acme as Editor"),
        "{}",
        joined.text()
    );
    let now = app.clock_now();
    let writer_link = app.query(|c| joinery::db::invite_links::list_active(c, org, now))[0].id;
    let revoke = paths::revoke_invite_link(org, writer_link);
    assert_eq!(owner.click(&revoke, &revoke).await.status, 200);
    app.advance(Duration::hours(1));

    let users_before = user_count(&app);
    for (mailed, heading) in [
        (&mailed_expiring, "This invite link has expired"),
        (&mailed_used, "This invite link has already been used"),
        (&mailed_revoked, "This invite link has been revoked"),
    ] {
        let b = app.browser();
        let page = b.get(mailed).await;
        assert_eq!(page.status, 410, "{heading}: {}", page.text());
        assert!(page.shows(heading), "{}", page.text());
        assert!(page.shows("Ask Acme's admin for a new one"));
        assert_token_page_headers(&page);
        assert!(page.attrs("form.join-new-form", "action").is_empty());
        let csrf = csrf_of(&b).await;
        let post = b
            .post(
                mailed,
                &[
                    ("csrf_token", &csrf),
                    ("name", "Late"),
                    ("password", "a good long password"),
                ],
            )
            .await;
        assert_eq!(post.status, 410, "{heading}: {}", post.text());
        assert!(post.shows(heading), "{}", post.text());
    }
    assert_eq!(user_count(&app), users_before, "no account made");
    assert_eq!(mailed_links_used(&app), 0);

    // A mailed link for a week-long invite link stops working after 24 hours.
    let weekly = new_link(&owner, org, "viewer", "7d").await;
    let mailed = mailed_link(&app, &weekly, "w@example.com").await;
    app.advance(Duration::hours(24));
    let b = app.browser();
    let page = b.get(&mailed).await;
    assert_eq!(page.status, 410, "{}", page.text());
    assert!(
        page.shows("This sign-up link has expired"),
        "{}",
        page.text()
    );
    assert!(page.shows("Open the invite link again"), "{}", page.text());
    let csrf = csrf_of(&b).await;
    let post = b
        .post(
            &mailed,
            &[
                ("csrf_token", &csrf),
                ("name", "Wendy"),
                ("password", "a good long password"),
            ],
        )
        .await;
    assert_eq!(post.status, 410);
    assert_eq!(app.role_of(org, "w@example.com"), None);
    // Asking again sends a new link that works.
    let again = mailed_link(&app, &weekly, "w@example.com").await;
    assert_ne!(again, mailed);
    let done = create_account_and_join(&b, &again, "Wendy", "a good long password").await;
    assert!(done.shows("You joined Acme as Viewer"), "{}", done.text());
}

/// Only the account with the proved address may use a mailed link: signed in as another
/// account, the page says so with a "Log out" that comes back (a POST is refused, 403);
/// signed in as the address, it joins with one click; already a member, it says so.
#[tokio::test]
async fn a_mailed_link_answers_the_signed_in_account_it_was_sent_to_and_no_other() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let path = new_link(&owner, org, "writer", "48h").await;
    app.create_user("ada@example.com", "Ada");
    let mailed = mailed_link(&app, &path, "ada@example.com").await;

    let (_, other) = app.org_with("Globex", Plan::Starter, Role::Viewer).await;
    let page = other.get(&mailed).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.shows("This link is for another account"),
        "{}",
        page.text()
    );
    assert!(page.shows("viewer@globex.test"));
    assert!(page.shows("ada@example.com"));
    assert_eq!(
        page.attrs("form.logout-and-return input[name=next]", "value"),
        vec![mailed.clone()]
    );
    let csrf = page.csrf();
    let post = other
        .post(&mailed, &[("csrf_token", &csrf), ("password", PASSWORD)])
        .await;
    assert_eq!(post.status, 403, "{}", post.text());
    assert_eq!(statuses(&app), vec!["active"]);
    assert_eq!(app.role_of(org, "viewer@globex.test"), None);
    assert_eq!(app.role_of(org, "ada@example.com"), None);
    let back = other.submit(&page.form("form.logout-and-return")).await;
    assert_eq!(back.path(), mailed);
    assert!(
        back.shows("Log in as ada@example.com to join"),
        "{}",
        back.text()
    );

    let ada = app.logged_in("ada@example.com").await;
    let page = ada.get(&mailed).await;
    assert_eq!(page.status, 200);
    assert!(page.shows("Join Acme as Writer"), "{}", page.text());
    let done = ada.submit(&page.form("form.join-form")).await;
    assert_eq!(done.path(), paths::dashboard(org), "{}", done.text());
    assert!(done.shows("You joined Acme as Writer"), "{}", done.text());
    assert_eq!(app.role_of(org, "ada@example.com"), Some(Role::Writer));
    assert_eq!(statuses(&app), vec!["used"]);

    // A member following a mailed link of another, live link is told so; nothing is used.
    app.advance(Duration::minutes(1));
    let second = new_link(&owner, org, "viewer", "24h").await;
    let mailed = mailed_link(&app, &second, "ada@example.com").await;
    let page = ada.get(&mailed).await;
    assert_eq!(page.status, 200);
    assert!(
        page.shows("You are already a member of Acme"),
        "{}",
        page.text()
    );
    let csrf = page.csrf();
    let post = ada.post(&mailed, &[("csrf_token", &csrf)]).await;
    assert_eq!(post.status, 409, "{}", post.text());
    assert_eq!(statuses(&app), vec!["used", "active"]);
    assert_eq!(app.role_of(org, "ada@example.com"), Some(Role::Writer));
}
