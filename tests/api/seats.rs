//! Seat limits (DESIGN.md, "Access, integration": Seats), driven as a browser would: what the
//! Team page, Billing and the invite dialog say; the 403 at the cap on every way in (single
//! and bulk invite, CSV confirmation, invite link creation and use), all or nothing; an
//! organization over its limit; the staff override; and 50 concurrent invitations racing for
//! the last seat (on SQLite, and on PostgreSQL in the PostgreSQL pass).

use diesel::prelude::*;
use joinery::db::schema::{invitations, invite_links};
use joinery::domain::{OrganizationId, Plan, Role};
use joinery::paths;

use crate::helpers::{Browser, Page, TestApp, spawn_app};

const FREE_A_SEAT: &str =
    "Revoke a pending invitation or an invite link, or remove a member, to free a seat.";

fn pending(app: &TestApp, org: OrganizationId) -> i64 {
    app.query(|c| {
        Ok(invitations::table
            .filter(invitations::organization_id.eq(org.to_string()))
            .filter(invitations::status.eq("pending"))
            .count()
            .get_result(c)?)
    })
}

fn links(app: &TestApp, org: OrganizationId) -> i64 {
    app.query(|c| {
        Ok(invite_links::table
            .filter(invite_links::organization_id.eq(org.to_string()))
            .count()
            .get_result(c)?)
    })
}

/// Adds `n` Viewers to `org`.
fn add_viewers(app: &TestApp, org: OrganizationId, n: usize) {
    for i in 0..n {
        let user = app.create_user(&format!("viewer{i}@acme.test"), &format!("Viewer {i}"));
        app.add_member(org, user, Role::Viewer);
    }
}

fn addresses(n: usize, prefix: &str) -> String {
    (0..n)
        .map(|i| format!("{prefix}{i}@example.com"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Opens "Create invite link" and creates a Viewer link for a day.
async fn create_link(b: &Browser, org: OrganizationId) -> Page {
    let page = b.get(&paths::new_invite_link(org)).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let form = page
        .form("form.invite-link-form")
        .set("role", "viewer")
        .set("expiry", "24h");
    b.submit(&form).await
}

#[tokio::test]
async fn the_team_page_billing_and_the_invite_dialog_show_the_seats() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    add_viewers(&app, org, 2);
    let sent = owner.invite(org, "ann@example.com", "viewer", "").await;
    assert_eq!(sent.status, 200, "{}", sent.text());
    let team = owner.get(&paths::team(org)).await;
    assert_eq!(
        team.texts("[data-seats=used]"),
        ["4 of 10 seats used"],
        "members and pending invitations: {}",
        team.text()
    );
    assert_eq!(
        team.texts("form.invite-form [data-seats=left]"),
        ["6 of 10 seats left"]
    );
    let dialog = owner.get(&paths::invite(org)).await;
    assert_eq!(dialog.texts("[data-seats=left]"), ["6 of 10 seats left"]);
    let billing = owner.get(&paths::billing(org)).await;
    assert_eq!(billing.texts("dd[data-seats=used]"), ["4 of 10 seats used"]);
    // Enterprise: unlimited.
    let (big, big_owner) = app.org_with("Bigco", Plan::Enterprise, Role::Owner).await;
    let team = big_owner.get(&paths::team(big)).await;
    assert_eq!(team.texts("[data-seats=used]"), ["1 seats used, unlimited"]);
    assert!(team.texts("[data-seats=left]").is_empty());
}

#[tokio::test]
async fn at_the_cap_an_invitation_is_refused_with_403_and_what_frees_a_seat() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    app.set_seats(org, Some(2));
    let first = owner.invite(org, "ann@example.com", "viewer", "").await;
    assert_eq!(first.status, 200, "{}", first.text());
    let refused = owner.invite(org, "bo@example.com", "viewer", "").await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.shows("All 2 seats are in use"),
        "{}",
        refused.text()
    );
    assert!(refused.shows(FREE_A_SEAT), "{}", refused.text());
    // The form keeps what was typed.
    assert_eq!(
        refused.texts("textarea[name=emails]"),
        ["bo@example.com"],
        "{}",
        refused.text()
    );
    assert_eq!(pending(&app, org), 1);
    // Sending the same invitation again keeps its seat: allowed at the cap.
    app.advance(chrono::Duration::minutes(2));
    let again = owner.invite(org, "ann@example.com", "viewer", "").await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert!(again.shows("1 resent"), "{}", again.text());
}

#[tokio::test]
async fn a_bulk_of_20_with_5_seats_left_sends_none_and_says_so() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    add_viewers(&app, org, 4);
    let page = admin
        .invite(org, &addresses(20, "bulk"), "viewer", "")
        .await;
    assert_eq!(page.status, 403, "{}", page.text());
    assert!(
        page.shows(
            "Nothing was sent: 20 new invitations need 20 seats, but only 5 of 10 seats are free."
        ),
        "{}",
        page.text()
    );
    assert_eq!(pending(&app, org), 0, "none sent");
    let five = admin.invite(org, &addresses(5, "bulk"), "viewer", "").await;
    assert_eq!(five.status, 200, "{}", five.text());
    assert_eq!(pending(&app, org), 5);
}

#[tokio::test]
async fn the_csv_preview_says_how_many_fit_and_the_confirmation_sends_none_beyond() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    app.set_seats(org, Some(3));
    let rows: String = (0..4)
        .map(|i| format!("csv{i}@example.com,viewer,,\n"))
        .collect();
    let csv = format!("email,role,department,message\n{rows}");
    let form = owner.get(&paths::import_invitations(org)).await;
    let preview = owner
        .try_upload(
            &paths::import_invitations(org),
            &[("csrf_token", &form.csrf())],
            "file",
            "team.csv",
            csv.into_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(preview.status, 200, "{}", preview.text());
    assert_eq!(
        preview.texts("[data-seats=fit]"),
        ["2 of 4 new invitations would fit: 2 of 3 seats are free (1 of 3 seats used)."]
    );
    let confirmed = owner.submit(&preview.form("form.confirm-import")).await;
    assert_eq!(confirmed.status, 403, "{}", confirmed.text());
    assert!(
        confirmed.shows("Nothing was sent: 4 new invitations"),
        "{}",
        confirmed.text()
    );
    assert_eq!(pending(&app, org), 0);
}

#[tokio::test]
async fn an_invite_link_takes_a_seat_and_a_joiner_at_the_cap_learns_only_the_name() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    app.set_seats(org, Some(3));
    let created = create_link(&owner, org).await;
    assert_eq!(created.status, 200, "{}", created.text());
    let link = created.attrs("input#invite-link-url", "value")[0].clone();
    let path = link[link.find("/join/").unwrap()..].to_owned();
    // Owner + the link, and now a member more: full.
    add_viewers(&app, org, 1);
    let refused = create_link(&owner, org).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.shows("All 3 seats are in use"),
        "{}",
        refused.text()
    );
    assert_eq!(links(&app, org), 1);
    // Staff lower the limit below what is used: the link's joiner is refused, told only the
    // organization's name.
    app.set_seats(org, Some(2));
    app.create_user("jo@example.com", "Jo Joiner");
    let jo = app.logged_in("jo@example.com").await;
    let page = jo.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let joined = jo.submit(&page.form("form.join-form")).await;
    assert_eq!(joined.status, 403, "{}", joined.text());
    assert_eq!(
        joined.texts("h1"),
        ["Acme has no free seats: ask its admins"],
        "{}",
        joined.text()
    );
    assert!(
        !joined.shows("Owner Acme"),
        "nothing about who made the link"
    );
    assert!(app.role_of(org, "jo@example.com").is_none());
}

#[tokio::test]
async fn an_organization_over_its_limit_keeps_everyone_adds_no_one_and_says_so() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Professional, Role::Owner).await;
    add_viewers(&app, org, 3);
    // A downgrade: Starter with a limit of 2.
    app.set_seats(org, Some(2));
    let team = owner.get(&paths::team(org)).await;
    assert_eq!(team.status, 200);
    assert_eq!(team.texts("[data-seats=used]"), ["4 of 2 seats used"]);
    let over = team.texts("[data-seats=over]");
    assert_eq!(over.len(), 1, "{}", team.text());
    assert!(over[0].contains("no one can be added"), "{over:?}");
    let refused = owner.invite(org, "new@example.com", "viewer", "").await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.shows("All 2 seats are in use (4 taken"),
        "{}",
        refused.text()
    );
}

#[tokio::test]
async fn staff_set_and_clear_the_seat_limit_in_the_console_audited() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    app.create_staff("staff@joinery.test", "Sam Staff");
    let staff = app.logged_in("staff@joinery.test").await;
    let console = staff.get(paths::STAFF.pattern()).await;
    let form_css = format!("form[action='{}']", paths::staff_seats(org));
    let set = staff
        .submit(&console.form(&form_css).set("seats", "1"))
        .await;
    assert_eq!(set.status, 200, "{}", set.text());
    assert!(
        set.shows("Seat limit changed from 10 to 1."),
        "{}",
        set.text()
    );
    let refused = owner.invite(org, "ann@example.com", "viewer", "").await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    // Blank: the plan's default again.
    let console = staff.get(paths::STAFF.pattern()).await;
    let cleared = staff
        .submit(&console.form(&form_css).set("seats", ""))
        .await;
    assert!(
        cleared.shows("Seat limit changed from 1 to 10."),
        "{}",
        cleared.text()
    );
    let bad = staff
        .submit(&console.form(&form_css).set("seats", "-3"))
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text());
    let actions: Vec<(String, bool)> = app
        .audit_actions(org)
        .into_iter()
        .filter(|(a, _)| a == "organization.seat_limit_changed")
        .collect();
    assert_eq!(
        actions,
        [
            ("organization.seat_limit_changed".to_owned(), true),
            ("organization.seat_limit_changed".to_owned(), true)
        ],
        "recorded as staff"
    );
    // Not staff: not found.
    let by_owner = owner
        .post(
            &paths::staff_seats(org),
            &[
                ("csrf_token", &owner.get(&paths::team(org)).await.csrf()),
                ("seats", "99"),
            ],
        )
        .await;
    assert_eq!(by_owner.status, 404);
}

#[tokio::test]
async fn fifty_concurrent_invitations_for_the_last_seat_make_exactly_one() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    add_viewers(&app, org, 8);
    assert_eq!(pending(&app, org), 0);
    // Nine of ten seats taken: one left. Load the form once per request, as 50 tabs would,
    // then fire them all at once.
    let dialog = owner.get(&paths::invite(org)).await;
    assert_eq!(dialog.texts("[data-seats=left]"), ["1 of 10 seats left"]);
    let forms: Vec<_> = (0..50)
        .map(|i| {
            dialog
                .form("form.invite-form")
                .set("emails", &format!("racer{i}@example.com"))
                .set("role", "viewer")
        })
        .collect();
    let pages = futures::future::join_all(forms.iter().map(|f| owner.submit(f))).await;
    let mut statuses: Vec<u16> = pages.iter().map(|p| p.status).collect();
    statuses.sort_unstable();
    assert_eq!(pending(&app, org), 1, "exactly one invitation");
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 403).count(),
        49,
        "{statuses:?}"
    );
    let refused = pages.iter().find(|p| p.status == 403).unwrap();
    assert!(
        refused.shows("All 10 seats are in use"),
        "{}",
        refused.text()
    );
}

/// `joinery create-org` with a clean environment in `dir`.
fn create_org(dir: &std::path::Path, seats: &str) -> std::process::Output {
    crate::cli::joinery(dir)
        .env("JOINERY_PASSWORD", "a good long password")
        .args(["create-org", "--name", "Acme", "--plan", "starter"])
        .args(["--owner-email", "o@example.com", "--owner-name", "Olive"])
        .args(["--seats", seats])
        .output()
        .unwrap()
}

#[test]
fn create_org_sets_the_seat_limit_it_is_given() {
    use joinery::db::schema::organizations;
    let dir = tempfile::tempdir().unwrap();
    let bad = create_org(dir.path(), "ten");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--seats"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let out = create_org(dir.path(), "25");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("(25 seats)"));
    let db =
        joinery::db::Db::connect(&dir.path().join("joinery.db").display().to_string(), 1).unwrap();
    let (limit, audited) = db
        .with_conn(|c| {
            let limit = organizations::table
                .select(organizations::seat_limit)
                .first::<Option<i32>>(c)?;
            let audited = joinery::db::schema::audit_events::table
                .filter(
                    joinery::db::schema::audit_events::action.eq("organization.seat_limit_changed"),
                )
                .count()
                .get_result::<i64>(c)?;
            Ok((limit, audited))
        })
        .unwrap();
    assert_eq!((limit, audited), (Some(25), 1));
}
