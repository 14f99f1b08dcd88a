//! CSV import of invitations (DESIGN.md, "Bulk"), driven as a browser would: upload a file
//! (multipart, with the CSRF token), read the preview, confirm, read the result — and the
//! edges: bad header, bad rows, formula cells, duplicates in mixed case, roles above the
//! inviter's ceiling, unknown roles, 5,001 rows, over 1 MiB, non-UTF-8, members and pending
//! invitations, a confirmation that re-checks, foreign ids, the hourly limit, and the
//! department carried onto the membership.

use diesel::prelude::*;
use joinery::db::schema::{invitation_imports, invitations, memberships, users};
use joinery::domain::{OrganizationId, Plan, Role};
use joinery::paths;

use crate::helpers::{Browser, PASSWORD, Page, TestApp, spawn_app, spawn_app_with};

const HEADER: &str = "email,role,department,message\n";

fn import_path(org: OrganizationId) -> String {
    paths::import_invitations(org)
}

/// Opens the upload form and uploads `bytes` as `name` with the form's CSRF token.
async fn upload_bytes(browser: &Browser, org: OrganizationId, name: &str, bytes: Vec<u8>) -> Page {
    let form = browser.get(&import_path(org)).await;
    assert_eq!(form.status, 200, "{}", form.text());
    let csrf = form.csrf();
    for _ in 0..10 {
        // An oversized body may be answered before it is fully written (see post_oversized).
        if let Ok(page) = browser
            .try_upload(
                &import_path(org),
                &[("csrf_token", &csrf)],
                "file",
                name,
                bytes.clone(),
            )
            .await
        {
            return page;
        }
    }
    panic!("no answer to the upload after 10 tries");
}

async fn upload(browser: &Browser, org: OrganizationId, csv: &str) -> Page {
    upload_bytes(browser, org, "team.csv", csv.as_bytes().to_vec()).await
}

/// The preview's (or result's) rows: (data-action, visible text).
fn rows(page: &Page) -> Vec<(String, String)> {
    page.attrs("table.import-rows tbody tr", "data-action")
        .into_iter()
        .zip(page.texts("table.import-rows tbody tr"))
        .collect()
}

fn count(page: &Page, what: &str) -> usize {
    page.texts(&format!(".import-summary [data-count={what}]"))
        .first()
        .unwrap_or_else(|| panic!("no count {what}: {}", page.text()))
        .parse()
        .unwrap()
}

/// Submits the preview's "Send N invitations" form.
async fn confirm(browser: &Browser, preview: &Page) -> Page {
    browser.submit(&preview.form("form.confirm-import")).await
}

fn import_count(app: &TestApp) -> i64 {
    app.query(|c| Ok(invitation_imports::table.count().get_result(c)?))
}

/// (email, role, status, department, message) of an invitation.
type StoredInvitation = (String, String, String, Option<String>, Option<String>);

/// Every invitation, by email.
fn stored(app: &TestApp) -> Vec<StoredInvitation> {
    app.query(|c| {
        Ok(invitations::table
            .order((invitations::email.asc(), invitations::created_at.asc()))
            .select((
                invitations::email,
                invitations::role,
                invitations::status,
                invitations::department,
                invitations::message,
            ))
            .load(c)?)
    })
}

async fn member(app: &TestApp, org: OrganizationId, email: &str, role: Role) -> Browser {
    let user = app.create_user(email, &format!("{} Person", role.label()));
    app.add_member(org, user, role);
    let browser = app.browser();
    let page = browser.login(email, PASSWORD).await;
    assert_eq!(page.status, 200, "login failed: {}", page.text());
    browser
}

#[tokio::test]
async fn upload_previews_without_sending_and_confirm_sends_the_valid_rows() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;

    let form = owner.get(&import_path(org)).await;
    assert!(
        form.shows("email,role,department,message"),
        "{}",
        form.text()
    );
    let example = owner.get(&form.attrs("a[download]", "href")[0]).await;
    assert_eq!(example.status, 200);
    assert!(
        example.body.starts_with(HEADER.trim_end()),
        "{}",
        example.body
    );

    let csv = format!(
        "{HEADER}ada@example.com,Editor,Research,\"Welcome, Ada!\"\n\
         not an address,viewer,,\n\
         grace@example.com,viewer,,\n"
    );
    let preview = upload(&owner, org, &csv).await;
    assert_eq!(preview.status, 200, "{}", preview.text());
    assert!(
        preview
            .path()
            .starts_with(&format!("{}/", import_path(org)))
    );
    assert_eq!(preview.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(
        (count(&preview, "send"), count(&preview, "invalid")),
        (2, 1)
    );
    let got = rows(&preview);
    assert_eq!(got[0].0, "send");
    assert!(
        got[0]
            .1
            .starts_with("2 ada@example.com Editor Research Will send"),
        "{got:?}"
    );
    assert_eq!(got[1].0, "invalid");
    assert!(got[1].1.starts_with("3 not an address"), "{got:?}");
    assert!(got[1].1.contains("not a valid email address"), "{got:?}");
    assert!(preview.shows("Send 2 invitations"), "{}", preview.text());
    // Nothing is sent before confirmation.
    assert_eq!(app.invitation_count(), 0);

    // Confirming redirects to the result's own page (Post/Redirect/Get).
    let result = confirm(&owner, &preview).await;
    assert_eq!(result.status, 200, "{}", result.text());
    assert_eq!(result.path(), format!("{}/result", preview.path()));
    assert!(
        result.shows("2 invitations sent, 0 sent again, 0 skipped, 1 invalid."),
        "{}",
        result.text()
    );
    let outcome: Vec<String> = rows(&result).into_iter().map(|(a, _)| a).collect();
    assert_eq!(outcome, vec!["send", "invalid", "send"]);
    // Reloading it shows the same result and sends nothing.
    let reloaded = owner.get(&result.path()).await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.text());
    assert_eq!(rows(&reloaded), rows(&result));
    assert!(reloaded.shows("2 invitations sent"), "{}", reloaded.text());
    // Back to the preview's address (the browser's Back button): the result, not a new preview.
    assert_eq!(owner.get(&preview.path()).await.path(), result.path());
    assert_eq!(app.invitation_count(), 2);
    assert_eq!(
        stored(&app),
        vec![
            (
                "ada@example.com".into(),
                "editor".into(),
                "pending".into(),
                Some("Research".into()),
                Some("Welcome, Ada!".into())
            ),
            (
                "grace@example.com".into(),
                "viewer".into(),
                "pending".into(),
                None,
                None
            ),
        ]
    );
    // The import is kept with its result for the page; the file's text is dropped.
    let kept: Vec<(String, Option<String>)> = app.query(|c| {
        Ok(invitation_imports::table
            .select((invitation_imports::content, invitation_imports::result))
            .load(c)?)
    });
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].0, "", "the uploaded text is not kept after sending");
    assert!(kept[0].1.is_some());

    // The department ends on the membership once Ada accepts.
    let email = app.email_to("ada@example.com").await;
    assert!(email.text.contains("Welcome, Ada!"), "{}", email.text);
    let ada = app.browser();
    let page = ada.get(&email.invitation_path()).await;
    let done = ada
        .submit(
            &page
                .form("form[action$='/register']")
                .set("name", "Ada Lovelace")
                .set("password", "a good long password"),
        )
        .await;
    assert!(done.shows("You joined Acme as Editor"), "{}", done.text());
    let department: Option<String> = app.query(|c| {
        Ok(memberships::table
            .inner_join(users::table.on(users::id.eq(memberships::user_id)))
            .filter(users::email.eq("ada@example.com"))
            .select(memberships::department)
            .first(c)?)
    });
    assert_eq!(department.as_deref(), Some("Research"));

    // Confirming the same import again (a resubmitted form) sends nothing and shows the result.
    let again = confirm(&owner, &preview).await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.path(), result.path());
    assert_eq!(app.invitation_count(), 2);
    // The result is its creator's alone; cancelling a sent import does nothing; an hour after
    // sending it expires and the sweep removes it.
    let colleague = member(&app, org, "admin2@acme.test", Role::Admin).await;
    assert_eq!(colleague.get(&result.path()).await.status, 404);
    let cancel = preview.form("form.cancel-import");
    owner.submit(&cancel).await;
    assert_eq!(owner.get(&result.path()).await.status, 200);
    app.advance(chrono::Duration::minutes(61));
    assert_eq!(owner.get(&result.path()).await.status, 404);
    let now = app.clock_now();
    assert_eq!(
        app.query(|c| joinery::db::imports::delete_expired(c, now)),
        1
    );
}

#[tokio::test]
async fn a_bad_header_is_refused_naming_line_1_and_keeps_the_form() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;

    for csv in [
        "mail,role,department,message\na@example.com,viewer,,\n",
        "email,role\na@example.com,viewer\n",
        "a@example.com,viewer,,\n",
    ] {
        let page = upload(&owner, org, csv).await;
        assert_eq!(page.status, 422, "{csv}: {}", page.text());
        assert!(
            page.shows("Line 1 must be the header email,role,department,message"),
            "{}",
            page.text()
        );
        assert_eq!(page.path(), import_path(org), "still on the form");
        assert_eq!(
            page.attrs("form.import-form input[type=file]", "name"),
            vec!["file"]
        );
    }
    // Header names are compared case-insensitively and trimmed; a byte-order mark is fine.
    let ok = upload(
        &owner,
        org,
        "\u{FEFF} Email , Role,DEPARTMENT,message\r\na@example.com,viewer,,\r\n",
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(count(&ok, "send"), 1);
    assert_eq!(import_count(&app), 1);
    assert_eq!(app.invitation_count(), 0);
}

#[tokio::test]
async fn bad_rows_duplicates_mixed_case_unknown_roles_and_the_ceiling_are_reported_per_row() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with("Acme", Plan::Starter, Role::Admin).await;

    let csv = format!(
        "{HEADER}boss@example.com,owner,,\n\
         Mixed@Example.COM,viewer,,\n\
         mixed@example.com,editor,,\n\
         who@example.com,superuser,,\n\
         cols@example.com,viewer,a,b,c\n\
         long@example.com,viewer,{},\n\
         ok@example.com,admin,,\n",
        "d".repeat(101)
    );
    let preview = upload(&admin, org, &csv).await;
    assert_eq!(preview.status, 200, "{}", preview.text());
    let got = rows(&preview);
    let actions: Vec<&str> = got.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "invalid", "send", "invalid", "invalid", "invalid", "invalid", "send"
        ]
    );
    assert!(
        got[0].1.contains("you cannot invite someone as Owner"),
        "{got:?}"
    );
    assert!(
        got[2].1.contains("the same address is already on line 3"),
        "{got:?}"
    );
    assert!(got[3].1.contains("unknown role \"superuser\""), "{got:?}");
    assert!(got[4].1.contains("5 columns; expected 4"), "{got:?}");
    assert!(
        got[5].1.contains("department: this can be at most 100"),
        "{got:?}"
    );
    assert_eq!(
        (count(&preview, "send"), count(&preview, "invalid")),
        (2, 5)
    );

    let result = confirm(&admin, &preview).await;
    assert_eq!(result.status, 200, "{}", result.text());
    let emails: Vec<String> = stored(&app).into_iter().map(|r| r.0).collect();
    assert_eq!(emails, vec!["mixed@example.com", "ok@example.com"]);
}

#[tokio::test]
async fn formula_cells_are_shown_as_text_and_never_interpreted() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;

    let csv = format!(
        "{HEADER}\"=HYPERLINK(\"\"http://evil.example\"\",\"\"<b>click</b>\"\")\",viewer,,\n\
         +1@example.com,viewer,,\n\
         calc@example.com,viewer,=1+2,\"=cmd|' /C calc'!A0\"\n"
    );
    let preview = upload(&owner, org, &csv).await;
    assert_eq!(preview.status, 200, "{}", preview.text());
    let got = rows(&preview);
    assert_eq!(got[0].0, "invalid");
    assert!(
        got[0]
            .1
            .contains("=HYPERLINK(\"http://evil.example\",\"<b>click</b>\")"),
        "shown as typed: {got:?}"
    );
    assert!(got[0].1.contains("like a spreadsheet formula"), "{got:?}");
    assert!(
        !preview.body.contains("<b>click</b>"),
        "escaped, not markup"
    );
    assert!(
        preview.body.contains("&lt;b&gt;click") || preview.body.contains("&#60;b&#62;click"),
        "auto-escaped"
    );
    assert_eq!(got[1].0, "invalid");
    assert_eq!(got[2].0, "send");
    assert!(got[2].1.contains("=1+2"), "{got:?}");

    confirm(&owner, &preview).await;
    let rows = stored(&app);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].3.as_deref(), Some("=1+2"), "stored as typed");
    assert_eq!(rows[0].4.as_deref(), Some("=cmd|' /C calc'!A0"));
}

#[tokio::test]
async fn members_and_pending_invitations_show_as_skip_resend_or_replace() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    member(&app, org, "member@example.com", Role::Writer).await;
    owner
        .invite(org, "same@example.com, other@example.com", "editor", "")
        .await;
    owner.invite(org, "recent@example.com", "viewer", "").await;
    app.advance(chrono::Duration::minutes(2));
    // Resent a moment ago: the same-role row is skipped for now.
    owner.invite(org, "recent@example.com", "viewer", "").await;
    assert_eq!(app.invitation_count(), 3);

    let csv = format!(
        "{HEADER}member@example.com,viewer,,\n\
         same@example.com,editor,,\n\
         other@example.com,admin,,\n\
         recent@example.com,viewer,,\n\
         fresh@example.com,viewer,,\n"
    );
    let preview = upload(&owner, org, &csv).await;
    let got = rows(&preview);
    let actions: Vec<&str> = got.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, vec!["skip", "resend", "replace", "skip", "send"]);
    assert!(got[0].1.contains("Already a member"), "{got:?}");
    assert!(
        got[1].1.contains("Will send the same link again"),
        "{got:?}"
    );
    assert!(
        got[2].1.contains("Will replace the pending invitation"),
        "{got:?}"
    );
    assert!(got[3].1.contains("Sent less than a minute ago"), "{got:?}");
    assert!(preview.shows("Send 3 invitations"), "{}", preview.text());

    let result = confirm(&owner, &preview).await;
    assert!(
        result.shows("2 invitations sent, 1 sent again, 2 skipped, 0 invalid."),
        "{}",
        result.text()
    );
    let now: Vec<(String, String, String)> =
        stored(&app).into_iter().map(|r| (r.0, r.1, r.2)).collect();
    assert!(now.contains(&(
        "other@example.com".into(),
        "editor".into(),
        "revoked".into()
    )));
    assert!(now.contains(&("other@example.com".into(), "admin".into(), "pending".into())));
    assert!(now.contains(&(
        "fresh@example.com".into(),
        "viewer".into(),
        "pending".into()
    )));
    assert_eq!(now.len(), 5);
}

#[tokio::test]
async fn confirmation_rechecks_and_sends_nothing_when_the_plan_changed() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let preview = upload(
        &owner,
        org,
        &format!("{HEADER}a@example.com,viewer,,\nb@example.com,viewer,,\n"),
    )
    .await;
    assert_eq!(count(&preview, "send"), 2);
    // Meanwhile b joins as a member: the confirmation must not send what was not previewed.
    member(&app, org, "b@example.com", Role::Viewer).await;

    let changed = confirm(&owner, &preview).await;
    assert_eq!(changed.status, 409, "{}", changed.text());
    assert!(changed.shows("Nothing was sent"), "{}", changed.text());
    assert_eq!(app.invitation_count(), 0);
    assert_eq!((count(&changed, "send"), count(&changed, "skip")), (1, 1));

    let result = confirm(&owner, &changed).await;
    assert_eq!(result.status, 200, "{}", result.text());
    assert!(result.shows("1 invitation sent"), "{}", result.text());
    assert_eq!(app.invitation_count(), 1);
}

/// What is sent is exactly what was previewed: the confirmation plans inside the transaction
/// that sends, after the organization's lock. Here another request's transaction holds that
/// lock and makes b a member while the confirmation is under way; it commits only once the
/// confirmation has read everything it reads before its own transaction and waits for the
/// lock. A plan made before the lock would still say "send b" and match the preview, and the
/// write would then skip b: a result the person never saw.
#[tokio::test]
async fn confirmation_plans_inside_the_transaction_that_sends() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let b = app.create_user("b@example.com", "B Person");
    let rows = "a@example.com,viewer,,\nb@example.com,viewer,,\n";
    let preview = upload(&owner, org, &format!("{HEADER}{rows}")).await;
    assert_eq!(count(&preview, "send"), 2, "{}", preview.text());

    let (locked, is_locked) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (db, now) = (app.db.clone(), app.clock_now());
    let other_request = std::thread::spawn(move || {
        let mut conn = db.get().unwrap();
        joinery::db::write_transaction(&mut conn, |c| {
            joinery::db::organizations::lock(c, org)?;
            joinery::db::organizations::add_member(c, org, b, Role::Viewer, None, None, now)?;
            locked.send(()).unwrap();
            released.recv().unwrap();
            Ok::<_, joinery::db::DbError>(())
        })
        .unwrap();
    });
    is_locked.recv().unwrap();
    let (answer, ()) = tokio::join!(confirm(&owner, &preview), async {
        tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
        release.send(()).unwrap();
    });
    other_request.join().unwrap();

    assert_eq!(answer.status, 409, "{}", answer.text());
    assert!(answer.shows("Nothing was sent"), "{}", answer.text());
    assert_eq!((count(&answer, "send"), count(&answer, "skip")), (1, 1));
    assert_eq!(app.invitation_count(), 0);
}

#[tokio::test]
async fn whole_file_errors_are_clear_and_store_nothing() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;

    let mut many = String::from(HEADER);
    for i in 0..5_001 {
        many.push_str(&format!("user{i}@example.com,viewer,,\n"));
    }
    let page = upload(&owner, org, &many).await;
    assert_eq!(page.status, 422, "{}", page.text());
    assert!(
        page.shows("more than 5,000 rows (line 5002 is row 5,001)"),
        "{}",
        page.text()
    );

    let mut big = String::from(HEADER);
    while big.len() <= 1024 * 1024 {
        big.push_str("someone@example.com,viewer,,\"a long message that fills the file up\"\n");
    }
    let page = upload(&owner, org, &big).await;
    assert_eq!(page.status, 413, "{}", page.text());
    assert!(page.shows("larger than 1 MiB"), "{}", page.text());
    assert_eq!(
        page.attrs("form.import-form input[type=file]", "name"),
        vec!["file"]
    );

    let latin1 = b"email,role,department,message\nj\xe9r\xf4me@example.com,viewer,,\n".to_vec();
    let page = upload_bytes(&owner, org, "latin1.csv", latin1).await;
    assert_eq!(page.status, 422, "{}", page.text());
    assert!(page.shows("Line 2 is not UTF-8 text"), "{}", page.text());

    let page = upload(&owner, org, "").await;
    assert_eq!(page.status, 422, "{}", page.text());
    assert!(page.shows("The file is empty"), "{}", page.text());

    assert_eq!(import_count(&app), 0);
    assert_eq!(app.invitation_count(), 0);
}

#[tokio::test]
async fn an_import_is_only_its_creators_in_its_organization() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let (_, stranger) = app.org_with("Globex", Plan::Starter, Role::Owner).await;
    let colleague = member(&app, org, "admin2@acme.test", Role::Admin).await;
    let preview = upload(&owner, org, &format!("{HEADER}a@example.com,viewer,,\n")).await;
    let path = preview.path();

    assert_eq!(colleague.get(&path).await.status, 404);
    assert_eq!(stranger.get(&path).await.status, 404);
    let csrf = colleague.get(&import_path(org)).await.csrf();
    let plan = preview.form("form.confirm-import").fields;
    let plan = &plan.iter().find(|(n, _)| n == "plan").unwrap().1;
    let post = colleague
        .post(&path, &[("csrf_token", &csrf), ("plan", plan)])
        .await;
    assert_eq!(post.status, 404);
    assert_eq!(
        owner
            .get(&format!("{}/not-a-uuid", import_path(org)))
            .await
            .status,
        404
    );
    assert_eq!(app.invitation_count(), 0);

    // A Viewer may not import at all; a Trial organization is told why.
    let viewer = member(&app, org, "viewer@acme.test", Role::Viewer).await;
    assert_eq!(viewer.get(&import_path(org)).await.status, 403);
    assert_eq!(viewer.get(&path).await.status, 403);
    let (trial, trial_owner) = app.org_with("Initech", Plan::Trial, Role::Owner).await;
    let page = trial_owner.get(&import_path(trial)).await;
    assert!(
        page.shows("Team invitations are available on paid plans"),
        "{}",
        page.text()
    );
}

#[tokio::test]
async fn uploads_and_confirmations_need_the_csrf_token() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.get(&import_path(org)).await;
    let page = owner
        .try_upload(
            &import_path(org),
            &[("csrf_token", "forged")],
            "file",
            "x.csv",
            format!("{HEADER}a@example.com,viewer,,\n").into_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(page.status, 403);
    assert_eq!(import_count(&app), 0);

    let preview = upload(&owner, org, &format!("{HEADER}a@example.com,viewer,,\n")).await;
    let forged = preview
        .form("form.confirm-import")
        .set("csrf_token", "forged");
    assert_eq!(owner.submit(&forged).await.status, 403);
    assert_eq!(app.invitation_count(), 0);
    assert_eq!(import_count(&app), 1);
}

#[tokio::test]
async fn the_hourly_limit_refuses_an_import_that_would_exceed_it() {
    let app = spawn_app_with(|s| s.invitations_per_hour = 2).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let preview = upload(
        &owner,
        org,
        &format!(
            "{HEADER}a@example.com,viewer,,\nb@example.com,viewer,,\nc@example.com,viewer,,\n"
        ),
    )
    .await;
    assert!(
        preview.shows("may send at most 2 invitations an hour"),
        "{}",
        preview.text()
    );
    let refused = confirm(&owner, &preview).await;
    assert_eq!(refused.status, 429, "{}", refused.text());
    assert!(refused.header("retry-after").is_some());
    let refusal = "Sending this would create 3 new invitations, but this organization may send at most 2 invitations an hour";
    assert_eq!(
        refused.text().matches(refusal).count(),
        1,
        "said once: {}",
        refused.text()
    );
    assert_eq!(app.invitation_count(), 0);
    assert_eq!(import_count(&app), 1, "kept, to try again later");
    // Still unsent: its address shows the preview (not a result), ready to confirm again.
    let again = owner.get(&preview.path()).await;
    assert_eq!(again.path(), preview.path());
    assert!(again.shows("Send 3 invitations"), "{}", again.text());
    let sent_at: Option<chrono::NaiveDateTime> = app.query(|c| {
        Ok(invitation_imports::table
            .select(invitation_imports::sent_at)
            .first(c)?)
    });
    assert_eq!(sent_at, None);
}

#[tokio::test]
async fn cancel_and_expiry_remove_the_import() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let preview = upload(&owner, org, &format!("{HEADER}a@example.com,viewer,,\n")).await;
    let cancelled = owner.submit(&preview.form("form.cancel-import")).await;
    assert_eq!(cancelled.path(), import_path(org));
    assert!(cancelled.shows("nothing was sent"), "{}", cancelled.text());
    assert_eq!(import_count(&app), 0);

    let preview = upload(&owner, org, &format!("{HEADER}a@example.com,viewer,,\n")).await;
    app.advance(chrono::Duration::minutes(61));
    assert_eq!(owner.get(&preview.path()).await.status, 404);
    assert_eq!(confirm(&owner, &preview).await.status, 404);
    let now = app.clock_now();
    let swept = app.query(|c| joinery::db::imports::delete_expired(c, now));
    assert_eq!(swept, 1);
    assert_eq!(app.invitation_count(), 0);
}

#[tokio::test]
async fn a_long_preview_pages_its_rows_but_counts_every_row() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let mut csv = String::from(HEADER);
    for i in 0..600 {
        csv.push_str(&format!("user{i}@example.com,viewer,,\n"));
    }
    csv.push_str("broken,viewer,,\n");
    let preview = upload(&owner, org, &csv).await;
    assert_eq!(
        (count(&preview, "send"), count(&preview, "invalid")),
        (600, 1)
    );
    assert_eq!(rows(&preview).len(), 500);
    assert!(preview.shows("Send 600 invitations"), "{}", preview.text());
    let next = owner.get(&preview.attrs("a[rel=next]", "href")[0]).await;
    let rest = rows(&next);
    assert_eq!(rest.len(), 101);
    assert!(rest[100].1.starts_with("602 broken"), "{rest:?}");
}

#[tokio::test]
async fn two_confirmations_at_once_send_once_and_both_land_on_the_result() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let preview = upload(
        &owner,
        org,
        &format!("{HEADER}a@example.com,viewer,,\nb@example.com,editor,,\n"),
    )
    .await;
    // The result's address of an import not sent yet is its preview.
    let early = owner.get(&format!("{}/result", preview.path())).await;
    assert_eq!(early.path(), preview.path());
    assert!(early.shows("Send 2 invitations"), "{}", early.text());
    let form = preview.form("form.confirm-import");
    let (one, two) = tokio::join!(owner.submit(&form), owner.submit(&form));
    for page in [&one, &two] {
        assert_eq!(page.status, 200, "{}", page.text());
        assert_eq!(page.path(), format!("{}/result", preview.path()));
        assert!(page.shows("2 invitations sent"), "{}", page.text());
    }
    assert_eq!(app.invitation_count(), 2);
}
