//! The Team page at scale and bulk invitations (DESIGN.md, "Bulk" and "Team Management"): a 1,000-address
//! submission with its per-address outcome table; every table sorting by its columns, paging
//! by 50 and following the filter, with exact counts; the members CSV export with formula
//! cells neutralised; and invite links listed on the Team page.

use chrono::Duration;
use joinery::db;
use joinery::domain::password::{Password, hash_password};
use joinery::domain::text::PersonName;
use joinery::domain::{EmailAddress, OrganizationId, Plan, Role};
use joinery::paths;

use crate::helpers::{PASSWORD, Page, TestApp, spawn_app, spawn_app_with};

fn team_path(org: OrganizationId) -> String {
    paths::team(org)
}

/// Adds `n` members named "Member 000"… with emails `member000@scale.test`…, joined a minute
/// apart, with one shared password hash (fast to seed; they never log in).
fn seed_members(app: &TestApp, org: OrganizationId, n: usize, role: Role) {
    let hash = hash_password(&Password::new_account(PASSWORD).unwrap()).unwrap();
    let start = app.clock_now() - Duration::days(30);
    app.query(|c| {
        for i in 0..n {
            let email = EmailAddress::parse(&format!("member{i:03}@scale.test")).unwrap();
            let name = PersonName::parse(&format!("Member {i:03}")).unwrap();
            let at = start + Duration::minutes(i as i64);
            let user = db::users::insert(c, &email, &name, &hash, false, at)?;
            db::organizations::add_member(c, org, user, role, None, None, at)?;
        }
        Ok(())
    });
}

/// The count in a section heading, e.g. "(121)" → "121".
fn heading_count(page: &Page, heading_id: &str) -> String {
    page.texts(&format!("#{heading_id} .count")).join(" ")
}

fn member_names(page: &Page) -> Vec<String> {
    page.texts("section[aria-labelledby='members-heading'] tbody tr td:first-child")
}

/// The href of the header link labelled `label` in the section headed `heading_id`.
fn sort_link(page: &Page, heading_id: &str, label: &str) -> String {
    let hrefs = page.attrs(
        &format!("section[aria-labelledby='{heading_id}'] th a.sort"),
        "href",
    );
    let labels = page.texts(&format!(
        "section[aria-labelledby='{heading_id}'] th a.sort"
    ));
    labels
        .iter()
        .zip(hrefs)
        .find(|(l, _)| l.starts_with(label))
        .map(|(_, h)| h)
        .unwrap_or_else(|| panic!("no {label} header in {heading_id}: {labels:?}"))
}

// ---- Bulk: many addresses at once ----------------------------------------------------------

#[tokio::test]
async fn a_thousand_addresses_get_one_outcome_each_with_the_reason() {
    let app = spawn_app_with(|s| s.invitations_per_hour = 10_000).await;
    let (org, admin) = app.org_with("Acme", Plan::Professional, Role::Admin).await;
    // More invitations than the plan's seats: the fixture sets the limit it needs.
    app.set_seats(org, Some(100_000));
    let member = app.create_user("member@acme.test", "Already Here");
    app.add_member(org, member, Role::Writer);
    // Pending with the same role (sent again now → resent; then at once again → skipped) and
    // with another role (replaced by a new invitation).
    admin.invite(org, "same@x.test", "viewer", "").await;
    admin.invite(org, "other@x.test", "editor", "").await;
    app.advance(Duration::minutes(2));

    let mut entries: Vec<String> = vec![
        "Member@ACME.test".into(), // a member, typed in another case
        "same@x.test".into(),
        "other@x.test".into(),
        "not-an-email".into(),
        "New0@X.test".into(),
        "new0@x.test".into(), // the same address again, in another case
    ];
    entries.extend((1..995).map(|i| format!("new{i}@x.test")));
    assert_eq!(entries.len(), 1_000);
    let page = admin.invite(org, &entries.join("\n"), "viewer", "").await;
    assert_eq!(page.path(), team_path(org), "{}", page.text());

    let summary = page.texts(".invite-result > p").join(" ");
    assert!(
        summary.starts_with("996 invitations sent, 1 resent, 2 skipped, 1 invalid"),
        "{summary}"
    );
    let rows = page.texts(".invite-result tbody tr");
    assert_eq!(rows.len(), 1_000, "one row per entry");
    assert_eq!(
        rows[0], "member@acme.test skipped Skipped: already a member",
        "the address normalized"
    );
    assert!(rows[1].starts_with("same@x.test resent"), "{}", rows[1]);
    assert!(rows[2].starts_with("other@x.test sent"), "{}", rows[2]);
    assert!(
        rows[3].starts_with("not-an-email invalid Invalid address"),
        "{}",
        rows[3]
    );
    assert_eq!(rows[4], "new0@x.test sent Sent");
    assert!(
        rows[5].contains("listed more than once"),
        "the repeat is reported: {}",
        rows[5]
    );
    // 2 earlier + 996 new; the replaced one is revoked.
    assert_eq!(app.invitation_count(), 998);
    assert_eq!(heading_count(&page, "pending-heading"), "(997)");

    // Immediately again with the same role: pending and sent less than a minute ago.
    let page = admin
        .invite(org, "same@x.test, new1@x.test", "viewer", "")
        .await;
    let rows = page.texts(".invite-result tbody tr");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows[0].contains("Skipped: pending with the same role"),
        "{}",
        rows[0]
    );
    assert!(rows[1].starts_with("new1@x.test resent"), "{}", rows[1]);

    // The result is shown once: a reload of the Team page no longer has it.
    let again = admin.get(&team_path(org)).await;
    assert!(again.texts(".invite-result").is_empty());
}

#[tokio::test]
async fn a_single_address_gets_the_summary_without_a_table() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    let page = admin.invite(org, "one@x.test", "viewer", "").await;
    assert!(page.shows("1 invitation sent, 0 resent, 0 skipped, 0 invalid."));
    assert!(page.texts(".invite-result").is_empty());
}

// ---- Team page at scale --------------------------------------------------------------------

#[tokio::test]
async fn members_page_by_50_sort_by_every_column_and_count_exactly() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    seed_members(&app, org, 120, Role::Viewer);

    let page = admin.get(&team_path(org)).await;
    assert_eq!(heading_count(&page, "members-heading"), "(121)");
    let names = member_names(&page);
    assert_eq!(names.len(), 50);
    assert_eq!(
        (names[0].as_str(), names[49].as_str()),
        ("Member 000", "Member 049"),
        "in joined order, earliest first, by default"
    );
    assert!(page.shows("1–50 of 121"), "{}", page.text());
    let page3 = admin
        .get(&format!("{}?members_page=3", team_path(org)))
        .await;
    let last = member_names(&page3);
    assert_eq!(last.len(), 21);
    assert!(last[20].starts_with("Owner Acme"), "joined last: {last:?}");

    // Sort by name: A→Z, then Z→A from the same header.
    let by_name = sort_link(&page, "members-heading", "Name");
    let page = admin.get(&by_name).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.attrs("th[aria-sort]", "aria-sort"),
        vec!["ascending".to_owned()],
        "only the sorted column says so"
    );
    assert_eq!(member_names(&page)[0], "Member 000");
    let page = admin
        .get(&sort_link(&page, "members-heading", "Name"))
        .await;
    assert!(member_names(&page)[0].starts_with("Owner Acme"));
    assert_eq!(member_names(&page)[1], "Member 119");

    // Joined: newest first on the first click.
    let page = admin
        .get(&sort_link(&page, "members-heading", "Joined"))
        .await;
    assert!(
        member_names(&page)[0].starts_with("Owner Acme"),
        "joined now"
    );
    assert_eq!(member_names(&page)[1], "Member 119");

    // Every column sorts without error.
    for label in ["Email", "Role", "Invited by"] {
        let href = sort_link(&page, "members-heading", label);
        let sorted = admin.get(&href).await;
        assert_eq!(sorted.status, 200, "{label}: {}", sorted.text());
        assert_eq!(member_names(&sorted).len(), 50, "{label}");
    }

    // The last page holds the rest, and the count stays exact.
    let page = admin
        .get(&format!(
            "{}?members_sort=name&members_dir=asc&members_page=3",
            team_path(org)
        ))
        .await;
    let names = member_names(&page);
    assert_eq!(names.len(), 21, "{names:?}");
    assert_eq!(names[0], "Member 100");
    assert!(page.shows("101–121 of 121"));
    assert!(page.shows("Page 3 of 3"));
    assert_eq!(heading_count(&page, "members-heading"), "(121)");
}

#[tokio::test]
async fn the_filter_matches_email_or_name_in_every_table() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    // More invitations than the plan's seats: the fixture sets the limit it needs.
    app.set_seats(org, Some(100_000));
    seed_members(&app, org, 30, Role::Viewer);
    admin
        .invite(
            org,
            "member_x@elsewhere.test, zed@elsewhere.test",
            "viewer",
            "",
        )
        .await;

    let page = admin.get(&format!("{}?q=MEMBER+01", team_path(org))).await;
    assert_eq!(heading_count(&page, "members-heading"), "(10 matching)");
    assert_eq!(member_names(&page).len(), 10);
    assert_eq!(
        page.attrs("#team-filter", "value"),
        vec!["MEMBER 01".to_owned()],
        "the filter is kept in its field"
    );

    // By email, in the invitations too; `_` is a literal, not a wildcard.
    let page = admin.get(&format!("{}?q=member_", team_path(org))).await;
    assert_eq!(heading_count(&page, "members-heading"), "(0 matching)");
    assert!(page.shows("No member matches “member_”"));
    assert_eq!(heading_count(&page, "pending-heading"), "(1 matching)");
    let page = admin.get(&format!("{}?q=elsewhere", team_path(org))).await;
    assert_eq!(heading_count(&page, "pending-heading"), "(2 matching)");
}

#[tokio::test]
async fn invitation_tables_page_and_sort_with_exact_counts() {
    let app = spawn_app_with(|s| s.invitations_per_hour = 10_000).await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    // More invitations than the plan's seats: the fixture sets the limit it needs.
    app.set_seats(org, Some(100_000));
    let many: Vec<String> = (0..60).map(|i| format!("p{i:02}@x.test")).collect();
    admin.invite(org, &many.join(","), "viewer", "").await;
    let expired: Vec<String> = (0..55).map(|i| format!("e{i:02}@x.test")).collect();
    // Sent earlier, so these expire first.
    app.advance(Duration::days(-8));
    admin.invite(org, &expired.join(","), "writer", "").await;
    app.advance(Duration::days(8));

    let page = admin.get(&team_path(org)).await;
    assert_eq!(heading_count(&page, "pending-heading"), "(60)");
    assert_eq!(heading_count(&page, "history-heading"), "(55)");
    let pending = page.texts("section[aria-labelledby='pending-heading'] tbody tr");
    assert_eq!(pending.len(), 50);
    let history = page.texts("section[aria-labelledby='history-heading'] tbody tr");
    assert_eq!(history.len(), 50);
    assert!(history.iter().all(|r| r.contains("Expired")), "{history:?}");

    let by_email = sort_link(&page, "pending-heading", "Email");
    let page = admin.get(&by_email).await;
    let first = page.texts("section[aria-labelledby='pending-heading'] tbody tr td:first-child");
    assert_eq!(first[0], "p00@x.test");
    // Paging one table keeps the other's sort.
    let next = page.attrs(
        "nav[aria-label='Pending invitations pages'] a[rel=next]",
        "href",
    );
    let page = admin.get(&next[0]).await;
    let first = page.texts("section[aria-labelledby='pending-heading'] tbody tr td:first-child");
    assert_eq!(
        first,
        vec![
            "p50@x.test",
            "p51@x.test",
            "p52@x.test",
            "p53@x.test",
            "p54@x.test",
            "p55@x.test",
            "p56@x.test",
            "p57@x.test",
            "p58@x.test",
            "p59@x.test"
        ]
    );
    for label in ["Role", "Invited by", "Sent", "Expires", "Delivery"] {
        let sorted = admin.get(&sort_link(&page, "pending-heading", label)).await;
        assert_eq!(sorted.status, 200, "{label}");
    }
    for label in ["Email", "Role", "Invited by", "Status", "When"] {
        let sorted = admin.get(&sort_link(&page, "history-heading", label)).await;
        assert_eq!(sorted.status, 200, "{label}");
        assert_eq!(heading_count(&sorted, "history-heading"), "(55)");
    }
}

#[tokio::test]
async fn a_malformed_team_query_gets_a_page_naming_the_problem() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    for (query, says) in [
        ("members_sort=password_hash", "cannot be sorted by"),
        ("pending_dir=sideways", "asc"),
        ("history_page=0", "whole number"),
        ("links_page=-3", "whole number"),
    ] {
        let page = admin.get(&format!("{}?{query}", team_path(org))).await;
        assert_eq!(page.status, 400, "{query}");
        assert!(page.shows(says), "{query}: {}", page.text());
    }
    // A page past the end is an empty page, not an error.
    let page = admin
        .get(&format!("{}?members_page=9", team_path(org)))
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(heading_count(&page, "members-heading"), "(1)");
}

// ---- Export --------------------------------------------------------------------------------

#[tokio::test]
async fn members_export_as_csv_with_formula_cells_neutralised() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    seed_members(&app, org, 60, Role::Viewer);
    let sneaky = app.create_user("sneaky@x.test", "=HYPERLINK(\"http://evil\")");
    app.query(|c| {
        let now = app.clock_now();
        db::organizations::add_member(c, org, sneaky, Role::Editor, None, Some("+SUM(A1)"), now)?;
        Ok(())
    });

    let page = admin.get(&paths::export_members(org)).await;
    assert_eq!(page.status, 200);
    let content_type = page.headers["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert!(
        page.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment"),
    );
    let mut reader = csv::Reader::from_reader(page.body.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "name",
            "email",
            "role",
            "department",
            "joined",
            "invited_by"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 62, "every member, not one page");
    let sneaky = rows
        .iter()
        .find(|r| &r[1] == "sneaky@x.test")
        .expect("the sneaky member");
    assert_eq!(&sneaky[0], "'=HYPERLINK(\"http://evil\")");
    assert_eq!(&sneaky[3], "'+SUM(A1)");
    assert_eq!(&sneaky[2], "Editor");

    // The page's filter applies to the export.
    let page = admin
        .get(&format!("/orgs/{org}/team/members.csv?q=member+05"))
        .await;
    let rows = csv::Reader::from_reader(page.body.as_bytes())
        .records()
        .count();
    assert_eq!(rows, 10);

    // Only those who manage members may export.
    let viewer = app.browser();
    viewer.login("member000@scale.test", PASSWORD).await;
    let page = viewer.get(&paths::export_members(org)).await;
    assert_eq!(page.status, 403);
}

// ---- Invite links on the Team page ---------------------------------------------------------

#[tokio::test]
async fn invite_links_are_listed_with_role_creator_and_expiry_and_can_be_revoked() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;
    let page = admin.get(&team_path(org)).await;
    assert_eq!(heading_count(&page, "links-heading"), "(0)");
    let create = page.attrs("a[href$='/invite-links/new']", "href");
    assert_eq!(create.len(), 1, "a Create invite link button");

    let form = admin.get(&create[0]).await;
    let created = admin
        .submit(
            &form
                .form("form[action$='/invite-links']")
                .set("role", "editor")
                .set("expiry", "48h"),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text());

    let page = admin.get(&team_path(org)).await;
    assert_eq!(heading_count(&page, "links-heading"), "(1)");
    let rows = page.texts("section[aria-labelledby='links-heading'] tbody tr");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].starts_with("Editor Admin Acme"), "{}", rows[0]);
    assert!(rows[0].contains("in 2 days"), "{}", rows[0]);

    let revoke = page.attrs(
        "section[aria-labelledby='links-heading'] a[href$='/revoke']",
        "href",
    );
    let confirm = admin.get(&revoke[0]).await;
    let done = admin
        .submit(&confirm.form(&format!("form[action='{}']", revoke[0])))
        .await;
    assert_eq!(done.path(), team_path(org));
    assert_eq!(heading_count(&done, "links-heading"), "(0)");
}
