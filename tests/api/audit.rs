//! The audit trail (DESIGN.md, "Pages → Audit log"): every invitation event recorded with actor, time, IP
//! and user agent in the same transaction as the change; the audit page with its filters,
//! paging and permissions; the table is append-only on both databases; and the recorded IP is
//! the peer's unless the peer is a configured trusted proxy.

use chrono::Duration;
use diesel::prelude::*;
use joinery::db::audit::AuditRow;
use joinery::db::schema::audit_events;
use joinery::domain::audit::AuditAction;
use joinery::domain::{OrganizationId, Plan, Role};
use joinery::paths;

use crate::helpers::{Browser, PASSWORD, Page, TestApp, spawn_app, spawn_app_with, table_rows};

/// Every audit event, oldest first (events of one transaction share a time; their order
/// among themselves is not meaningful).
pub fn events(app: &TestApp) -> Vec<AuditRow> {
    app.query(|c| {
        Ok(audit_events::table
            .order(audit_events::created_at.asc())
            .select(AuditRow::as_select())
            .load(c)?)
    })
}

/// The events of one action, oldest first.
pub fn events_of(app: &TestApp, action: AuditAction) -> Vec<AuditRow> {
    events(app)
        .into_iter()
        .filter(|e| e.action == action.as_str())
        .collect()
}

/// Creates a platform staff account and returns a browser logged in as it.
pub async fn staff(app: &TestApp, email: &str, name: &str) -> Browser {
    use joinery::domain::EmailAddress;
    use joinery::domain::password::{Password, hash_password};
    use joinery::domain::text::PersonName;
    let hash = hash_password(&Password::new_account(PASSWORD).unwrap()).unwrap();
    let (email_addr, name) = (
        EmailAddress::parse(email).unwrap(),
        PersonName::parse(name).unwrap(),
    );
    let now = app.clock_now();
    app.query(|c| joinery::db::users::insert(c, &email_addr, &name, &hash, true, now));
    let browser = app.browser();
    assert_eq!(browser.login(email, PASSWORD).await.status, 200);
    browser
}

/// Adds `email` to `org` with `role` and returns a browser logged in as them.
async fn member(app: &TestApp, org: OrganizationId, email: &str, role: Role) -> Browser {
    let user = app.create_user(email, &format!("{} Person", role.label()));
    app.add_member(org, user, role);
    let browser = app.browser();
    assert_eq!(browser.login(email, PASSWORD).await.status, 200);
    browser
}

fn audit_path(org: OrganizationId) -> String {
    paths::audit(org)
}

/// The audit page's table: one vector of cell texts per row, top to bottom.
fn table(page: &Page) -> Vec<Vec<String>> {
    page.texts("table.audit tbody td")
        .chunks(7)
        .map(<[String]>::to_vec)
        .collect()
}

/// The action column of the audit page's table.
fn actions(page: &Page) -> Vec<String> {
    table(page).into_iter().map(|r| r[1].clone()).collect()
}

/// Submits the audit page's GET filter form with `action` and `actor` chosen.
async fn filter(browser: &Browser, page: &Page, action: &str, actor: &str) -> Page {
    let form = page
        .form("form.audit-filters")
        .set("action", action)
        .set("actor", actor);
    let query = serde_urlencoded::to_string(&form.fields).unwrap();
    browser.get(&format!("{}?{query}", form.action)).await
}

// ---- Every invitation event is recorded -----------------------------------------------------

#[tokio::test]
async fn every_invitation_event_is_recorded_with_actor_target_time_ip_and_user_agent() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let owner_label = "Owner Acme <owner@acme.test>";

    // Sent.
    owner.invite(org, "ann@example.com", "editor", "").await;
    let sent = events_of(&app, AuditAction::InvitationSent);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let e = &sent[0];
    assert_eq!(e.organization_id.as_deref(), Some(org.to_string().as_str()));
    assert_eq!(e.actor_label, owner_label);
    assert!(e.actor_id.is_some() && !e.actor_is_staff);
    assert_eq!(e.target.as_deref(), Some("ann@example.com"));
    assert_eq!(e.details.as_deref(), Some("role Editor"));
    assert_eq!(e.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(e.at(), app.clock_now());
    let first_email = app.email_to("ann@example.com").await;

    // Resent with the same link: by inviting again with the same role, and by Resend.
    app.advance(Duration::seconds(61));
    owner.invite(org, "ann@example.com", "editor", "").await;
    app.advance(Duration::seconds(61));
    let team = owner.get(&paths::team(org)).await;
    let resend = team
        .button_form("section[aria-labelledby='pending-heading'] button[formaction$='/resend']");
    owner.submit(&resend).await;
    let resent = events_of(&app, AuditAction::InvitationResent);
    assert_eq!(resent.len(), 2, "{resent:?}");
    assert!(
        resent
            .iter()
            .all(|e| e.details.as_deref().unwrap().contains("the same link")
                && e.target.as_deref() == Some("ann@example.com")
                && e.actor_label == owner_label),
        "{resent:?}"
    );

    // Replaced by an invitation with another role: revoked (replaced) and sent.
    owner.invite(org, "ann@example.com", "viewer", "").await;
    let revoked = events_of(&app, AuditAction::InvitationRevoked);
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(
        revoked[0].details.as_deref(),
        Some("replaced: role Editor → Viewer")
    );
    assert_eq!(events_of(&app, AuditAction::InvitationSent).len(), 2);

    // Revoked by a person.
    let team = owner.get(&paths::team(org)).await;
    let revoke_path = team.attrs(
        "section[aria-labelledby='pending-heading'] a[href$='/revoke']",
        "href",
    )[0]
    .clone();
    owner.click(&revoke_path, &revoke_path).await;
    let revoked = events_of(&app, AuditAction::InvitationRevoked);
    assert_eq!(revoked.len(), 2, "{revoked:?}");
    let by_person = revoked
        .iter()
        .find(|e| {
            e.details
                .as_deref()
                .unwrap()
                .contains("revoked by Owner Acme")
        })
        .unwrap_or_else(|| panic!("{revoked:?}"));
    assert_eq!(by_person.target.as_deref(), Some("ann@example.com"));
    assert_eq!(by_person.actor_label, owner_label);
    // The first link was replaced long ago; opening it records nothing.
    let before = events(&app).len();
    app.browser().get(&first_email.invitation_path()).await;
    assert_eq!(events(&app).len(), before, "a GET writes nothing");

    // Declined, signed out: the actor is the invited address, unproven.
    owner.invite(org, "bob@example.com", "writer", "").await;
    let link = app.email_to("bob@example.com").await.invitation_path();
    let visitor = app.browser();
    let page = visitor.get(&link).await;
    visitor.submit(&page.form("form[action$='/decline']")).await;
    let declined = events_of(&app, AuditAction::InvitationDeclined);
    assert_eq!(declined.len(), 1, "{declined:?}");
    assert_eq!(declined[0].actor_label, "bob@example.com (not signed in)");
    assert_eq!(declined[0].actor_id, None);
    assert_eq!(declined[0].target.as_deref(), Some("bob@example.com"));
    assert_eq!(declined[0].ip.as_deref(), Some("127.0.0.1"));

    // Accepted by a new account: invitation.accepted and member.joined, by that account.
    owner.invite(org, "cy@example.com", "editor", "").await;
    let link = app.email_to("cy@example.com").await.invitation_path();
    let invitee = app.browser();
    let page = invitee.get(&link).await;
    let form = page
        .form("form[action$='/register']")
        .set("name", "Cy Newcomer")
        .set("password", "a good long password");
    assert!(
        invitee
            .submit(&form)
            .await
            .shows("You joined Acme as Editor")
    );
    let accepted = events_of(&app, AuditAction::InvitationAccepted);
    let joined = events_of(&app, AuditAction::MemberJoined);
    assert_eq!((accepted.len(), joined.len()), (1, 1), "{:?}", events(&app));
    assert_eq!(accepted[0].actor_label, "Cy Newcomer <cy@example.com>");
    assert!(accepted[0].actor_id.is_some());
    assert_eq!(accepted[0].target.as_deref(), Some("cy@example.com"));
    assert_eq!(joined[0].actor_id, accepted[0].actor_id);
    assert_eq!(
        joined[0].details.as_deref(),
        Some("role Editor; invited by Owner Acme")
    );
}

#[tokio::test]
async fn expiry_is_recorded_by_the_system_when_the_sweep_or_a_reinvite_writes_it() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "old@example.com", "viewer", "").await;
    owner.invite(org, "again@example.com", "viewer", "").await;
    owner.invite(org, "resent@example.com", "viewer", "").await;
    app.advance(Duration::days(7) + Duration::seconds(1));
    assert!(
        events_of(&app, AuditAction::InvitationExpired).is_empty(),
        "expiry is a fact of time; nothing is written until something writes Expired"
    );

    // Re-inviting an address whose invitation has lapsed writes Expired, then a new one.
    owner.invite(org, "again@example.com", "viewer", "").await;
    // "Send a new invitation" on an expired one does the same.
    let id: String = app.query(|c| {
        use joinery::db::schema::invitations;
        Ok(invitations::table
            .filter(invitations::email.eq("resent@example.com"))
            .select(invitations::id)
            .first(c)?)
    });
    let resend = paths::resend(org, id.parse().unwrap());
    let done = owner.click(&paths::team(org), &resend).await;
    assert!(done.shows("a new one was sent"), "{}", done.text());
    let resent = events_of(&app, AuditAction::InvitationResent);
    assert_eq!(resent.len(), 1, "{resent:?}");
    assert!(
        resent[0]
            .details
            .as_deref()
            .unwrap()
            .contains("a new invitation with a fresh link"),
        "{resent:?}"
    );

    // The sweep writes the rest.
    let now = app.clock_now();
    assert_eq!(
        app.query(|c| joinery::db::invitations::expire_all_overdue(c, now)),
        1
    );
    let expired = events_of(&app, AuditAction::InvitationExpired);
    let mut targets: Vec<&str> = expired.iter().filter_map(|e| e.target.as_deref()).collect();
    targets.sort_unstable();
    assert_eq!(
        targets,
        vec!["again@example.com", "old@example.com", "resent@example.com"]
    );
    for e in &expired {
        assert_eq!(e.actor_label, "system");
        assert_eq!((e.actor_id.as_deref(), e.ip.as_deref()), (None, None));
        assert_eq!(e.details.as_deref(), Some("role Viewer"));
        assert_eq!(e.organization_id.as_deref(), Some(org.to_string().as_str()));
    }
    // A second sweep finds nothing and records nothing.
    assert_eq!(
        app.query(|c| joinery::db::invitations::expire_all_overdue(c, now)),
        0
    );
    assert_eq!(events_of(&app, AuditAction::InvitationExpired).len(), 3);

    // The page shows them as the system's.
    let page = owner
        .get(&format!("{}?action=invitation.expired", audit_path(org)))
        .await;
    let rows = table(&page);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r[1] == "Invitation expired" && r[2] == "system"),
        "{rows:?}"
    );
}

// ---- The audit page ------------------------------------------------------------------------

#[tokio::test]
async fn owners_admins_and_staff_read_the_audit_page_and_others_cannot() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "ann@example.com", "viewer", "").await;

    for browser in [
        &owner,
        &member(&app, org, "admin@acme.test", Role::Admin).await,
    ] {
        let page = browser.get(&audit_path(org)).await;
        assert_eq!(page.status, 200, "{}", page.text());
        assert_eq!(actions(&page), vec!["Invitation sent"]);
        // Linked from the dashboard and the Team page.
        let dashboard = browser.get(&paths::dashboard(org)).await;
        assert_eq!(
            dashboard
                .attrs(&format!("a[href='{}']", audit_path(org)), "href")
                .len(),
            1,
            "{}",
            dashboard.text()
        );
        let team = browser.get(&paths::team(org)).await;
        assert_eq!(
            team.attrs(&format!("a[href='{}']", audit_path(org)), "href")
                .len(),
            1
        );
    }

    for role in [Role::Editor, Role::Writer, Role::Viewer] {
        let email = format!("{}@acme.test", role.as_str());
        let browser = member(&app, org, &email, role).await;
        let page = browser.get(&audit_path(org)).await;
        assert_eq!(page.status, 403, "{role}: {}", page.text());
        assert!(!page.shows("ann@example.com"), "{}", page.text());
        let dashboard = browser.get(&paths::dashboard(org)).await;
        assert!(
            dashboard
                .attrs(&format!("a[href='{}']", audit_path(org)), "href")
                .is_empty(),
            "{role} sees no link to the audit log"
        );
    }

    // Someone else's organization, and a malformed one, are not found.
    let (_, outsider) = app.org_with("Globex", Plan::Starter, Role::Owner).await;
    assert_eq!(outsider.get(&audit_path(org)).await.status, 404);
    assert_eq!(outsider.get("/orgs/not-an-id/audit").await.status, 404);
    // Signed out: to the log-in page.
    let page = app.browser().get(&audit_path(org)).await;
    assert_eq!(page.path(), paths::LOGIN.pattern());

    // Staff read any organization's trail, and what they do there is marked as staff.
    let staff = staff(&app, "ops@joinery.test", "Ops Person").await;
    let page = staff.get(&audit_path(org)).await;
    assert_eq!(page.status, 200, "{}", page.text());
    app.advance(Duration::minutes(1));
    staff
        .invite(org, "fromstaff@example.com", "admin", "")
        .await;
    let page = staff.get(&audit_path(org)).await;
    let rows = table(&page);
    assert_eq!(
        rows[0][2], "Ops Person <ops@joinery.test> staff",
        "{rows:?}"
    );
    assert_eq!(page.texts("table.audit .badge-staff"), vec!["staff"]);
    let sent = events_of(&app, AuditAction::InvitationSent);
    assert!(
        sent.iter()
            .any(|e| e.actor_is_staff && e.target.as_deref() == Some("fromstaff@example.com"))
    );
    assert!(
        sent.iter()
            .any(|e| !e.actor_is_staff && e.target.as_deref() == Some("ann@example.com"))
    );
}

#[tokio::test]
async fn the_audit_page_shows_each_column_newest_first() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "first@example.com", "viewer", "").await;
    app.advance(Duration::minutes(5));
    owner.invite(org, "second@example.com", "editor", "").await;

    let page = owner.get(&audit_path(org)).await;
    let rows = table(&page);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[0][1..6],
        [
            "Invitation sent".to_owned(),
            "Owner Acme <owner@acme.test>".to_owned(),
            "second@example.com".to_owned(),
            "role Editor".to_owned(),
            "127.0.0.1".to_owned(),
        ]
    );
    assert_eq!(rows[1][3], "first@example.com");
    let times = page.attrs("table.audit tbody time", "datetime");
    assert_eq!(
        times,
        vec![
            "2026-03-02T09:05:00Z".to_owned(),
            "2026-03-02T09:00:00Z".to_owned()
        ]
    );
    assert!(page.shows("Showing 1–2 of 2 events"), "{}", page.text());
}

#[tokio::test]
async fn the_audit_page_filters_by_action_and_actor_with_a_plain_get_form() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let admin = member(&app, org, "admin@acme.test", Role::Admin).await;
    owner.invite(org, "a@example.com", "viewer", "").await;
    admin.invite(org, "b@example.com", "viewer", "").await;
    admin.invite(org, "b@example.com", "editor", "").await; // revokes (replaced) and sends

    let page = owner.get(&audit_path(org)).await;
    assert_eq!(table(&page).len(), 4);
    // The action filter offers every action; the actor filter everyone in the trail.
    let offered = page.attrs("select[name=action] option", "value");
    assert_eq!(offered.len(), AuditAction::ALL.len() + 1, "{offered:?}");
    assert_eq!(offered[0], "", "the first choice is all actions");
    for a in AuditAction::ALL {
        assert!(offered.contains(&a.as_str().to_owned()), "{a:?}");
    }
    let actors = page.texts("select[name=actor] option");
    assert_eq!(
        actors,
        vec![
            "Everyone",
            "Admin Person <admin@acme.test>",
            "Owner Acme <owner@acme.test>"
        ]
    );
    assert_eq!(page.attrs("form.audit-filters", "method"), vec!["get"]);

    let revoked = filter(&owner, &page, "invitation.revoked", "").await;
    assert_eq!(revoked.status, 200);
    assert_eq!(actions(&revoked), vec!["Invitation revoked"]);
    assert_eq!(
        revoked.attrs("select[name=action] option[selected]", "value"),
        vec!["invitation.revoked"],
        "the chosen filter stays selected"
    );

    let admin_id = page.attrs("select[name=actor] option", "value")[1].clone();
    let by_admin = filter(&owner, &page, "", &admin_id).await;
    let rows = table(&by_admin);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r[2] == "Admin Person <admin@acme.test>")
    );
    let both = filter(&owner, &page, "invitation.sent", &admin_id).await;
    let rows = table(&both);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(both.shows("of 2 events"), "{}", both.text());
    let none = filter(&owner, &page, "member.removed", &admin_id).await;
    assert!(table(&none).is_empty());
    assert!(
        none.shows("No events match these filters"),
        "{}",
        none.text()
    );
}

#[tokio::test]
async fn the_audit_page_has_50_events_a_page_with_page_links_and_the_total() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Enterprise, Role::Owner).await;
    let addresses: Vec<String> = (0..120).map(|i| format!("p{i:03}@example.com")).collect();
    let sent = owner.invite(org, &addresses.join("\n"), "viewer", "").await;
    assert!(sent.shows("120 invitations sent"), "{}", sent.text());

    let first = owner.get(&audit_path(org)).await;
    assert_eq!(table(&first).len(), 50);
    assert!(
        first.shows("Showing 1–50 of 120 events"),
        "{}",
        first.text()
    );
    assert!(first.shows("Events (120)"));
    let links = first.texts("nav.pagination a");
    assert_eq!(links, vec!["2", "3", "Next"], "{links:?}");
    assert_eq!(first.texts("nav.pagination [aria-current=page]"), vec!["1"]);

    let mut seen = std::collections::HashSet::new();
    let mut page = first;
    for expected in [50, 50, 20] {
        let rows = table(&page);
        assert_eq!(rows.len(), expected);
        for r in rows {
            assert!(seen.insert(r[3].clone()), "{} twice", r[3]);
        }
        let next = page.attrs("nav.pagination a[rel=next]", "href");
        match next.first() {
            Some(href) => page = owner.get(href).await,
            None => break,
        }
    }
    assert_eq!(seen.len(), 120, "every event on exactly one page");
    assert!(
        page.shows("Showing 101–120 of 120 events"),
        "{}",
        page.text()
    );
    assert_eq!(page.texts("nav.pagination a"), vec!["Previous", "1", "2"]);

    // Paging keeps the filters.
    let filtered = owner
        .get(&format!(
            "{}?action=invitation.sent&page=2",
            audit_path(org)
        ))
        .await;
    assert!(filtered.shows("Showing 51–100 of 120 events"));
    assert!(
        filtered
            .attrs("nav.pagination a[rel=next]", "href")
            .iter()
            .all(|h| h.contains("action=invitation.sent") && h.contains("page=3")),
        "{:?}",
        filtered.attrs("nav.pagination a", "href")
    );
    // Past the end: an empty page, not an error.
    let beyond = owner.get(&format!("{}?page=9", audit_path(org))).await;
    assert_eq!(beyond.status, 200);
    assert!(table(&beyond).is_empty());
}

#[tokio::test]
async fn bad_filter_or_page_parameters_get_a_clear_400_never_a_500() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "a@example.com", "viewer", "").await;
    let path = audit_path(org);
    for (query, says) in [
        ("action=invitation.eaten", "action filter"),
        ("action=%3Cscript%3E", "action filter"),
        ("actor=nobody", "actor filter"),
        ("page=0", "page number"),
        ("page=-3", "page number"),
        ("page=two", "page number"),
        ("page=99999999999999999999999", "page number"),
        ("action=%FF%FE", "action filter"),
    ] {
        let page = owner.get(&format!("{path}?{query}")).await;
        assert_eq!(page.status, 400, "{query}: {}", page.text());
        assert!(page.shows(says), "{query}: {}", page.text());
        assert!(!page.body.contains("<script>"), "{query}");
    }
    // Empty values and unknown parameters are ignored; a well-formed unknown actor is simply
    // nobody's events.
    for query in [
        "action=&actor=&page=",
        "utm_source=x",
        "actor=00000000-0000-4000-8000-000000000000",
    ] {
        let page = owner.get(&format!("{path}?{query}")).await;
        assert_eq!(page.status, 200, "{query}: {}", page.text());
    }
    // Permission is checked before the parameters: an editor gets 403, not 400.
    let editor = member(&app, org, "editor@acme.test", Role::Editor).await;
    assert_eq!(editor.get(&format!("{path}?page=0")).await.status, 403);
}

// ---- Append-only ----------------------------------------------------------------------------

#[tokio::test]
async fn the_database_refuses_to_update_or_delete_audit_events() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "a@example.com", "viewer", "").await;
    let before = events(&app);
    assert_eq!(before.len(), 1);

    let attempts = [
        "UPDATE audit_events SET action = 'invitation.declined'",
        "UPDATE audit_events SET ip = NULL WHERE ip IS NOT NULL",
        "DELETE FROM audit_events",
        "DELETE FROM audit_events WHERE action = 'invitation.sent'",
    ];
    for sql in attempts {
        let result = app.db.with_conn(|c| Ok(diesel::sql_query(sql).execute(c)));
        let err = result.unwrap().expect_err(sql);
        assert!(
            err.to_string().contains("append-only"),
            "{sql}: refused for another reason: {err}"
        );
    }
    if app.db.backend() == joinery::db::Backend::Postgres {
        let result = app
            .db
            .with_conn(|c| Ok(diesel::sql_query("TRUNCATE audit_events").execute(c)));
        assert!(result.unwrap().is_err(), "TRUNCATE is refused too");
    }
    let after = events(&app);
    assert_eq!(after.len(), 1);
    assert_eq!(
        (
            after[0].id.as_str(),
            after[0].action.as_str(),
            after[0].ip.as_deref()
        ),
        (before[0].id.as_str(), "invitation.sent", Some("127.0.0.1"))
    );
    // Inserting still works (the trail grows).
    owner.invite(org, "b@example.com", "viewer", "").await;
    assert_eq!(events(&app).len(), 2);
}

/// The audit trail across a scenario: every step may add events, never change or drop one.
struct Trail<'a> {
    app: &'a TestApp,
    /// Every row so far, every column (`helpers::table_rows`).
    rows: Vec<String>,
    ids: Vec<String>,
}

impl<'a> Trail<'a> {
    fn new(app: &'a TestApp) -> Self {
        let mut trail = Self {
            app,
            rows: Vec::new(),
            ids: Vec::new(),
        };
        trail.after("setting up", &[]);
        trail
    }

    /// Checks that every event recorded before `step` is still there, column for column, and
    /// that `step` added exactly the events `added` (in any order).
    fn after(&mut self, step: &str, added: &[AuditAction]) {
        let rows = table_rows(self.app, "audit_events");
        for row in &self.rows {
            assert!(
                rows.contains(row),
                "{step}: an audit event was changed or removed: {row}"
            );
        }
        let all = events(self.app);
        let mut new: Vec<&str> = all
            .iter()
            .filter(|e| !self.ids.contains(&e.id))
            .map(|e| e.action.as_str())
            .collect();
        new.sort_unstable();
        let mut expected: Vec<&str> = added.iter().map(|a| a.as_str()).collect();
        expected.sort_unstable();
        assert_eq!(new, expected, "{step}: the events it added");
        self.rows = rows;
        self.ids = all.into_iter().map(|e| e.id).collect();
    }
}

/// Pending invitation `email`'s id.
fn invitation_id(app: &TestApp, email: &str) -> String {
    use joinery::db::schema::invitations;
    let email = email.to_owned();
    app.query(|c| {
        Ok(invitations::table
            .filter(invitations::email.eq(email))
            .filter(invitations::status.eq("pending"))
            .select(invitations::id)
            .first(c)?)
    })
}

/// Every action that writes the audit trail, one after another, with the trail checked after
/// each: rows are only ever added. (The database refuses UPDATE and DELETE on it, see above,
/// so an action that tried would fail here with an error page.)
#[tokio::test]
async fn every_action_adds_audit_events_and_changes_none() {
    use AuditAction as A;
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let team = paths::team(org);
    let mut trail = Trail::new(&app);

    // Invitations: sent, resent, replaced, revoked, declined, accepted.
    let sent = owner.invite(org, "ann@example.com", "editor", "").await;
    assert!(sent.shows("1 invitation sent"), "{}", sent.text());
    trail.after("invite", &[A::InvitationSent]);
    app.advance(Duration::seconds(61));
    let id = invitation_id(&app, "ann@example.com");
    let resent = owner
        .click(&team, &paths::resend(org, id.parse().unwrap()))
        .await;
    assert_eq!(resent.status, 200, "{}", resent.text());
    trail.after("resend", &[A::InvitationResent]);
    let replaced = owner.invite(org, "ann@example.com", "viewer", "").await;
    assert_eq!(replaced.status, 200, "{}", replaced.text());
    trail.after("replace", &[A::InvitationRevoked, A::InvitationSent]);
    let revoke = format!(
        "/orgs/{org}/invitations/{}/revoke",
        invitation_id(&app, "ann@example.com")
    );
    assert_eq!(owner.click(&revoke, &revoke).await.status, 200);
    trail.after("revoke", &[A::InvitationRevoked]);

    owner.invite(org, "bob@example.com", "writer", "").await;
    trail.after("invite bob", &[A::InvitationSent]);
    let link = app.email_to("bob@example.com").await.invitation_path();
    let bob = app.browser();
    let page = bob.get(&link).await;
    let declined = bob.submit(&page.form("form[action$='/decline']")).await;
    assert_eq!(declined.status, 200, "{}", declined.text());
    trail.after("decline", &[A::InvitationDeclined]);

    owner.invite(org, "cy@example.com", "editor", "").await;
    trail.after("invite cy", &[A::InvitationSent]);
    let link = app.email_to("cy@example.com").await.invitation_path();
    let cy = app.browser();
    let page = cy.get(&link).await;
    let joined = cy
        .submit(
            &page
                .form("form[action$='/register']")
                .set("name", "Cy Newcomer")
                .set("password", "a good long password"),
        )
        .await;
    assert!(
        joined.shows("You joined Acme as Editor"),
        "{}",
        joined.text()
    );
    trail.after("accept", &[A::InvitationAccepted, A::MemberJoined]);

    // Members: a role change, leaving, a removal.
    let id = app.membership_id(org, "cy@example.com");
    let form = owner.get(&team).await.role_change(id, "writer");
    assert_eq!(owner.submit(&form).await.status, 200);
    trail.after("change role", &[A::MemberRoleChanged]);
    let confirm = cy.get(&paths::leave(org)).await;
    let left = cy.submit(&confirm.form("form[action$='/leave']")).await;
    assert!(left.shows("You left Acme"), "{}", left.text());
    trail.after("leave", &[A::MemberLeft]);
    let dan = app.create_user("dan@example.com", "Dan");
    app.add_member(org, dan, Role::Viewer);
    let remove = format!(
        "/orgs/{org}/members/{}/remove",
        app.membership_id(org, "dan@example.com")
    );
    assert_eq!(owner.click(&remove, &remove).await.status, 200);
    trail.after("remove", &[A::MemberRemoved]);

    // Settings.
    let settings = paths::notifications(org);
    let form = owner
        .get(&settings)
        .await
        .form(&format!("form[action='{settings}']"))
        .unset("notify_on_join");
    let saved = owner.submit(&form).await;
    assert!(saved.shows("Saved"), "{}", saved.text());
    trail.after("settings", &[A::SettingsChanged]);

    // Invite links: created, used, revoked.
    let create_link = || async {
        let form = owner
            .get(&paths::new_invite_link(org))
            .await
            .form("form.invite-link-form")
            .set("role", "viewer")
            .set("expiry", "24h");
        let page = owner.submit(&form).await;
        let link = page.attrs("input#invite-link-url", "value").remove(0);
        link[link.find("/join/").unwrap()..].to_owned()
    };
    let path = create_link().await;
    trail.after("create link", &[A::InviteLinkCreated]);
    let (_, guest) = app.org_with("Globex", Plan::Starter, Role::Viewer).await;
    let page = guest.get(&path).await;
    let used = guest.submit(&page.form("form[action$='/accept']")).await;
    assert!(used.shows("You joined Acme as Viewer"), "{}", used.text());
    trail.after("use link", &[A::InviteLinkUsed, A::MemberJoined]);
    create_link().await;
    trail.after("create another link", &[A::InviteLinkCreated]);
    let revoke = owner
        .get(&team)
        .await
        .attrs("a[href*='invite-links/'][href$='/revoke']", "href")
        .remove(0);
    assert_eq!(owner.click(&revoke, &revoke).await.status, 200);
    trail.after("revoke link", &[A::InviteLinkRevoked]);

    // Expiry: a renewal request, then the sweep.
    owner.invite(org, "eve@example.com", "viewer", "").await;
    trail.after("invite eve", &[A::InvitationSent]);
    let link = app.email_to("eve@example.com").await.invitation_path();
    app.advance(Duration::days(8));
    let eve = app.browser();
    let page = eve.get(&link).await;
    let asked = eve.submit(&page.form("form[action$='/request-new']")).await;
    assert_eq!(asked.status, 200, "{}", asked.text());
    trail.after("request a new invitation", &[A::InvitationRenewalRequested]);
    let now = app.clock_now();
    assert_eq!(
        app.query(|c| joinery::db::invitations::expire_all_overdue(c, now)),
        1
    );
    trail.after("sweep", &[A::InvitationExpired]);

    // Platform staff: a plan change and tenant-owner invitations.
    let staff = staff(&app, "staff@joinery.test", "Sam Staff").await;
    trail.after("staff account", &[]);
    let form = staff
        .get("/staff?q=acme")
        .await
        .form(&format!("form[action='/staff/orgs/{org}/plan']"))
        .set("plan", "professional");
    assert_eq!(staff.submit(&form).await.status, 200);
    trail.after("plan change", &[A::PlanChanged]);
    let send_tenant = |email: &'static str| {
        let staff = &staff;
        async move {
            let form = staff
                .get(paths::STAFF.pattern())
                .await
                .form("form[action='/staff/tenant-invitations']")
                .set("email", email)
                .set("plan", "starter");
            assert_eq!(staff.submit(&form).await.status, 200);
        }
    };
    send_tenant("founder@newco.example").await;
    trail.after("tenant invitation", &[A::TenantInvitationSent]);
    app.advance(Duration::seconds(61));
    let console = staff.get(paths::STAFF.pattern()).await;
    assert_eq!(
        staff
            .submit(&console.form("form[action$='/resend']"))
            .await
            .status,
        200
    );
    trail.after("tenant resend", &[A::TenantInvitationResent]);
    let revoke = console
        .attrs("a.button.danger", "href")
        .into_iter()
        .find(|h| h.contains("/tenant-invitations/"))
        .unwrap();
    assert_eq!(staff.click(&revoke, &revoke).await.status, 200);
    trail.after("tenant revoke", &[A::TenantInvitationRevoked]);
    send_tenant("fay@newco.example").await;
    trail.after("another tenant invitation", &[A::TenantInvitationSent]);
    let link = app.email_to("fay@newco.example").await.invitation_path();
    let fay = app.browser();
    let page = fay.get(&link).await;
    let created = fay
        .submit(
            &page
                .form("form.create-organization")
                .set("name", "Fay Founder")
                .set("password", "long enough pw")
                .set("company", "NewCo"),
        )
        .await;
    assert!(created.shows("NewCo is ready"), "{}", created.text());
    trail.after(
        "tenant acceptance",
        &[
            A::TenantInvitationAccepted,
            A::OrganizationCreated,
            A::MemberJoined,
        ],
    );
}

// ---- Trusted proxies ------------------------------------------------------------------------

/// Sends the invite form for `email` with a forged `X-Forwarded-For` and a user agent.
async fn invite_through_proxy(browser: &Browser, org: OrganizationId, email: &str) -> Page {
    let page = browser.get(&paths::invite(org)).await;
    let form = page
        .form("form.invite-form")
        .set("emails", email)
        .set("role", "viewer");
    browser
        .submit_with_headers(
            &form,
            &[
                ("X-Forwarded-For", "198.51.100.23, 203.0.113.7"),
                ("User-Agent", "AuditTest/1.0 (integration suite)"),
            ],
        )
        .await
}

#[tokio::test]
async fn the_recorded_ip_is_the_peer_when_no_proxy_is_trusted() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let done = invite_through_proxy(&owner, org, "a@example.com").await;
    assert!(done.shows("1 invitation sent"), "{}", done.text());
    let sent = events_of(&app, AuditAction::InvitationSent);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].ip.as_deref(),
        Some("127.0.0.1"),
        "a client cannot choose its recorded address"
    );
    assert_eq!(
        sent[0].user_agent.as_deref(),
        Some("AuditTest/1.0 (integration suite)")
    );
    let page = owner.get(&audit_path(org)).await;
    assert_eq!(
        table(&page)[0][5..7],
        [
            "127.0.0.1".to_owned(),
            "AuditTest/1.0 (integration suite)".to_owned()
        ]
    );
}

#[tokio::test]
async fn a_trusted_proxy_forwards_the_client_address() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    invite_through_proxy(&owner, org, "a@example.com").await;
    let sent = events_of(&app, AuditAction::InvitationSent);
    assert_eq!(sent.len(), 1);
    // The nearest hop the trusted proxy saw, not the left-most (client-chosen) entry.
    assert_eq!(sent[0].ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(
        sent[0].user_agent.as_deref(),
        Some("AuditTest/1.0 (integration suite)")
    );
    // Without the header, the proxy itself is the client.
    owner.invite(org, "b@example.com", "viewer", "").await;
    let sent = events_of(&app, AuditAction::InvitationSent);
    let b = sent
        .iter()
        .find(|e| e.target.as_deref() == Some("b@example.com"))
        .unwrap();
    assert_eq!(b.ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn invitee_events_carry_the_request_origin_too() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "dee@example.com", "viewer", "").await;
    let link = app.email_to("dee@example.com").await.invitation_path();
    let invitee = app.browser();
    let page = invitee.get(&link).await;
    invitee
        .submit_with_headers(
            &page.form("form[action$='/decline']"),
            &[("X-Forwarded-For", "192.0.2.44"), ("User-Agent", "Phone/2")],
        )
        .await;
    let declined = events_of(&app, AuditAction::InvitationDeclined);
    assert_eq!(declined.len(), 1);
    assert_eq!(
        (declined[0].ip.as_deref(), declined[0].user_agent.as_deref()),
        (Some("192.0.2.44"), Some("Phone/2"))
    );
    assert!(app.no_email_to("dee@example.com").await);
}
