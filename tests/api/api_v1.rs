//! The JSON API (issue 15 §1), driven with a real token made on Settings → API tokens: tokens
//! are Owner-only and shown once; `/api/v1` answers with the pages' rules and statuses as RFC
//! 9457 problems; lists page with a cursor; the OpenAPI document lists every route.

use chrono::Duration;
use joinery::domain::{OrganizationId, Plan, Role};
use joinery::paths;
use serde_json::{Value, json};

use crate::helpers::{Browser, TestApp, spawn_app, spawn_app_with};

/// Makes a token named `name` acting as `role` on Settings → API tokens, as the Owner `b`;
/// returns its secret, read from the page that shows it once.
async fn make_token(b: &Browser, org: OrganizationId, name: &str, role: &str) -> String {
    let page = b.get(&paths::api_tokens(org)).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let form = page
        .form("form.api-token-form")
        .set("name", name)
        .set("role", role)
        .set("expiry", "90d");
    let created = b.submit(&form).await;
    assert_eq!(created.status, 200, "{}", created.text());
    assert!(created.shows("it is shown only once"), "{}", created.text());
    assert_eq!(created.header("cache-control").as_deref(), Some("no-store"));
    let secret = created.attrs("input#api-token-secret", "value").remove(0);
    assert!(secret.starts_with("jnr_"), "{secret}");
    secret
}

/// An HTTP client of the API with `token`.
struct Api {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// A response: status, headers and the JSON body (`Null` when empty).
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Api {
    fn new(app: &TestApp, token: Option<&str>) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: app.address.clone(),
            token: token.map(str::to_owned),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let resp = req.send().await.unwrap();
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }
}

fn assert_problem(a: &Answer, status: u16, detail: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.header("content-type"), Some("application/problem+json"));
    assert_eq!(a.body["status"], status);
    assert_eq!(a.body["type"], "about:blank");
    let shown = a.body["detail"].as_str().unwrap_or_default();
    assert!(shown.contains(detail), "{shown:?} lacks {detail:?}");
}

#[tokio::test]
async fn api_tokens_are_owner_only_shown_once_and_revocable() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let admin_id = app.create_user("admin@acme.test", "Ada");
    app.add_member(org, admin_id, Role::Admin);
    let admin = app.logged_in("admin@acme.test").await;
    assert_eq!(admin.get(&paths::api_tokens(org)).await.status, 403);
    let secret = make_token(&owner, org, "CRM sync", "admin").await;
    // Listed, never shown again.
    let page = owner.get(&paths::api_tokens(org)).await;
    assert!(page.attrs("input#api-token-secret", "value").is_empty());
    let row = page.texts("tr[data-api-token='CRM sync'] td").join(" | ");
    assert!(row.contains("Admin"), "{row}");
    assert!(row.contains("never"), "not used yet: {row}");
    // A blank name keeps the input and writes nothing.
    let blank = owner
        .submit(&page.form("form.api-token-form").set("name", " "))
        .await;
    assert_eq!(blank.status, 422, "{}", blank.text());
    let api = Api::new(&app, Some(&secret));
    assert_eq!(api.get(&paths::api_org(org)).await.status, 200);
    let page = owner.get(&paths::api_tokens(org)).await;
    let row = page.texts("tr[data-api-token='CRM sync'] td").join(" | ");
    assert!(!row.contains("never | Revoke"), "last use shown: {row}");
    // Revoke asks first; then the token gets 401.
    let confirm = owner
        .get(&page.attrs("tr[data-api-token='CRM sync'] a.danger", "href")[0])
        .await;
    assert!(
        confirm.shows("Revoke API token “CRM sync”?"),
        "{}",
        confirm.text()
    );
    let revoked = owner.submit(&confirm.form("form.actions")).await;
    assert!(revoked.shows("was revoked"), "{}", revoked.text());
    assert_problem(&api.get(&paths::api_org(org)).await, 401, "API token");
    let actions: Vec<String> = app.audit_actions(org).into_iter().map(|(a, _)| a).collect();
    assert!(
        actions.contains(&"api_token.created".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"api_token.revoked".to_owned()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401_and_another_organization_404() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let (other, _) = app.org_with("Other", Plan::Starter, Role::Owner).await;
    let secret = make_token(&owner, org, "CRM sync", "viewer").await;
    let none = Api::new(&app, None).get(&paths::api_org(org)).await;
    assert_problem(&none, 401, "Authorization: Bearer");
    assert!(none.header("www-authenticate").is_some());
    let wrong = Api::new(&app, Some("jnr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_problem(&wrong.get(&paths::api_org(org)).await, 401, "API token");
    let api = Api::new(&app, Some(&secret));
    assert_problem(
        &api.get(&paths::api_org(other)).await,
        404,
        "No such organization",
    );
    let ok = api.get(&paths::api_org(org)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["name"], "Acme");
    assert_eq!(ok.body["plan"], "starter");
    assert_eq!(ok.body["seats"]["limit"], 10);
    // A Viewer token may not list members (members:manage), as a Viewer may not open Team.
    assert_problem(&api.get(&paths::api_members(org)).await, 403, "");
}

#[tokio::test]
async fn invitations_and_members_follow_the_pages_rules_and_are_audited_as_the_token() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let secret = make_token(&owner, org, "CRM sync", "admin").await;
    let api = Api::new(&app, Some(&secret));
    let invitations = paths::api_invitations(org);
    let sent = api
        .post(
            &invitations,
            json!({ "emails": ["ann@example.com", "bob@example.com", "not an address", "ANN@example.com"], "role": "writer", "message": "Welcome!" }),
        )
        .await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let outcomes: Vec<(String, String)> = sent.body["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["email"].as_str().unwrap().to_owned(),
                o["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("ann@example.com".into(), "sent".into()),
            ("bob@example.com".into(), "sent".into()),
            ("not an address".into(), "invalid".into()),
            ("ANN@example.com".into(), "skipped".into()),
        ]
    );
    let email = app.email_to("ann@example.com").await;
    assert!(email.text.contains("Welcome!"), "{}", email.text);
    // Above the token's role: 403, nothing sent.
    let above = api
        .post(
            &invitations,
            json!({ "emails": ["cy@example.com"], "role": "owner" }),
        )
        .await;
    assert_problem(&above, 403, "Owner");
    let unknown = api
        .post(
            &invitations,
            json!({ "emails": ["cy@example.com"], "role": "emperor" }),
        )
        .await;
    assert_problem(&unknown, 400, "role must be one of");
    let unreadable = api.post(&invitations, json!({ "role": "viewer" })).await;
    assert_problem(&unreadable, 400, "JSON body");
    // The pending list; a resend, and another within the minute is 429 with Retry-After.
    let pending = api.get(&format!("{invitations}?state=pending")).await;
    assert_eq!(pending.status, 200, "{}", pending.body);
    let listed = pending.body["data"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["state"], "pending");
    let id = listed[0]["id"].as_str().unwrap().parse().unwrap();
    let one = api.get(&paths::api_invitation(org, id)).await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.body["id"], listed[0]["id"]);
    assert_eq!(one.body["timeline"][0]["step"], "queued");
    let resent = api.post(&paths::api_resend(org, id), json!({})).await;
    assert_eq!(resent.status, 200, "{}", resent.body);
    assert_eq!(resent.body["how"], "same_link");
    let too_soon = api.post(&paths::api_resend(org, id), json!({})).await;
    assert_problem(&too_soon, 429, "");
    assert!(too_soon.header("retry-after").is_some());
    let revoked = api
        .send(
            reqwest::Method::DELETE,
            &paths::api_invitation(org, id),
            None,
        )
        .await;
    assert_eq!(revoked.status, 204);
    let again = api
        .send(
            reqwest::Method::DELETE,
            &paths::api_invitation(org, id),
            None,
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    let revoked_list = api.get(&format!("{invitations}?state=revoked")).await;
    assert_eq!(revoked_list.body["data"].as_array().unwrap().len(), 1);
    assert_problem(
        &api.get(&format!("{invitations}?state=eaten")).await,
        400,
        "state",
    );
    // Members: change a role, remove; the last Owner is kept.
    let vic = app.create_user("vic@example.com", "Vic");
    app.add_member(org, vic, Role::Viewer);
    let member = paths::api_member(org, vic);
    let changed = api
        .send(
            reqwest::Method::PATCH,
            &member,
            Some(json!({ "role": "editor" })),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body["role"], "editor");
    assert_eq!(app.role_of(org, "vic@example.com"), Some(Role::Editor));
    let members = api.get(&paths::api_members(org)).await;
    let owner_id = members.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "owner@acme.test")
        .and_then(|m| m["user_id"].as_str())
        .unwrap()
        .to_owned();
    let demote = api
        .send(
            reqwest::Method::PATCH,
            &paths::api_member(org, owner_id.parse().unwrap()),
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(
        demote.status, 403,
        "an Admin token cannot touch an Owner: {}",
        demote.body
    );
    let removed = api.send(reqwest::Method::DELETE, &member, None).await;
    assert_eq!(removed.status, 204);
    assert_eq!(app.role_of(org, "vic@example.com"), None);
    // The trail names the token.
    let audit = api.get(&paths::api_audit(org)).await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    let events = audit.body["data"].as_array().unwrap();
    let removal = events
        .iter()
        .find(|e| e["action"] == "member.removed")
        .expect("the removal is in the trail");
    assert_eq!(removal["actor"], "API token CRM sync");
    assert!(events.iter().all(
        |e| e["actor"] != "Owner Acme <owner@acme.test>" || e["action"] == "api_token.created"
    ));
}

#[tokio::test]
async fn the_seat_cap_and_the_hourly_limit_answer_as_the_pages_do() {
    let app = spawn_app_with(|s| s.invitations_per_hour = 2).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let secret = make_token(&owner, org, "CRM sync", "owner").await;
    let api = Api::new(&app, Some(&secret));
    let invitations = paths::api_invitations(org);
    app.set_seats(org, Some(2));
    let full = api
        .post(
            &invitations,
            json!({ "emails": ["a@example.com", "b@example.com"], "role": "viewer" }),
        )
        .await;
    assert_problem(&full, 403, "seats");
    app.set_seats(org, None);
    let two = api
        .post(
            &invitations,
            json!({ "emails": ["a@example.com", "b@example.com"], "role": "viewer" }),
        )
        .await;
    assert_eq!(two.status, 201, "{}", two.body);
    let third = api
        .post(
            &invitations,
            json!({ "emails": ["c@example.com"], "role": "viewer" }),
        )
        .await;
    assert_problem(&third, 429, "");
    assert!(third.header("retry-after").is_some());
}

#[tokio::test]
async fn lists_page_with_a_cursor_and_refuse_a_limit_over_200() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    for i in 0..6 {
        let id = app.create_user(&format!("m{i}@example.com"), &format!("Member {i}"));
        app.add_member(org, id, Role::Viewer);
    }
    let secret = make_token(&owner, org, "CRM sync", "admin").await;
    let api = Api::new(&app, Some(&secret));
    let mut seen = Vec::new();
    let mut next = paths::api_members(org) + "?limit=3";
    loop {
        let page = api.get(&next).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let data = page.body["data"].as_array().unwrap();
        assert!(data.len() <= 3);
        seen.extend(data.iter().map(|m| m["email"].as_str().unwrap().to_owned()));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => next = format!("{}?limit=3&cursor={cursor}", paths::api_members(org)),
            None => break,
        }
    }
    let mut expected: Vec<String> = (0..6).map(|i| format!("m{i}@example.com")).collect();
    expected.push("owner@acme.test".into());
    assert_eq!(seen, expected, "every member once, by address");
    let big = api
        .get(&format!("{}?limit=201", paths::api_members(org)))
        .await;
    assert_problem(&big, 400, "limit must be between 1 and 200");
    let forged = api
        .get(&format!("{}?cursor=%%%", paths::api_audit(org)))
        .await;
    assert_eq!(forged.status, 400, "{}", forged.body);
}

#[tokio::test]
async fn the_openapi_document_lists_every_api_route_and_the_reference_shows_them() {
    let app = spawn_app().await;
    let api = Api::new(&app, None);
    let doc = api.get(&paths::api_openapi()).await;
    assert_eq!(doc.status, 200);
    assert!(
        doc.body["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc.body["openapi"]
    );
    let documented = doc.body["paths"].as_object().unwrap();
    let routes: Vec<&str> = paths::ALL
        .iter()
        .map(|r| r.pattern())
        .filter(|p| p.starts_with("/api/v1/orgs"))
        .collect();
    assert!(routes.len() >= 6, "{routes:?}");
    for route in routes {
        assert!(
            documented.contains_key(route),
            "{route} is not in the OpenAPI document"
        );
    }
    let reference = app.browser().get(&paths::api_docs()).await;
    assert_eq!(reference.status, 200);
    assert!(
        reference.shows("POST /api/v1/orgs/{org}/invitations"),
        "{}",
        reference.text()
    );
}

#[tokio::test]
async fn the_demo_prints_a_token_the_readme_curl_examples_work_with() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let port = crate::helpers::unused_port();
    let mut child = crate::cli::joinery(dir.path())
        .arg("demo")
        .env("JOINERY_BIND", format!("127.0.0.1:{port}"))
        .env("JOINERY_BASE_URL", format!("http://127.0.0.1:{port}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // The banner, read on a thread that keeps draining stdout (a closed pipe would make the
    // demo's next line fail), until its curl line.
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = lines_tx.send(line);
        }
    });
    let banner = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        while let Ok(line) = lines_rx.recv_timeout(std::time::Duration::from_secs(60)) {
            let done = line.contains("Try:");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    })
    .await
    .unwrap();
    let token_line = banner.iter().find(|l| l.contains("API token:")).unwrap();
    let token = token_line
        .split_whitespace()
        .find(|w| w.starts_with("jnr_"))
        .unwrap()
        .to_owned();
    let try_line = banner.iter().find(|l| l.contains("Try:")).unwrap();
    let url = try_line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    let client = reqwest::Client::new();
    let mut answer = None;
    // Up to a minute: on a loaded machine the server takes a while to listen.
    for _ in 0..600 {
        if let Ok(resp) = client
            .get(&url)
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
        {
            answer = Some((resp.status().as_u16(), resp.text().await.unwrap()));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    let (status, body) = answer.unwrap_or_else(|| panic!("the demo did not answer: {stderr}"));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("owner@demo.example.com"), "{body}");
}

#[tokio::test]
async fn with_send_email_false_nothing_is_emailed_and_the_links_come_back_and_work() {
    let app = spawn_app().await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let secret = make_token(&owner, org, "CRM sync", "admin").await;
    let api = Api::new(&app, Some(&secret));
    let sent = api
        .post(
            &paths::api_invitations(org),
            json!({ "emails": ["dee@example.com", "oops"], "role": "editor", "send_email": false }),
        )
        .await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let first = &sent.body["outcomes"][0];
    assert_eq!(first["outcome"], "sent");
    let link = first["link"].as_str().unwrap().to_owned();
    assert!(
        link.starts_with(&format!("{}/invitations/", app.address)),
        "{link}"
    );
    assert!(sent.body["outcomes"][1].get("link").is_none());
    assert!(app.no_email_to("dee@example.com").await, "nothing emailed");
    // The link works as an emailed one does.
    let page = app.browser().get(&link).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.shows("Create account & join"), "{}", page.text());
    // Joinery never emails it, reminders included.
    app.advance(Duration::days(2));
    let now = app.clock_now();
    let reminders = app.query(|c| joinery::db::invitations::queue_due_reminders(c, now));
    assert_eq!(reminders, 0);
    // Emailed by default.
    let emailed = api
        .post(
            &paths::api_invitations(org),
            json!({ "emails": ["eve@example.com"], "role": "viewer" }),
        )
        .await;
    assert_eq!(emailed.status, 201, "{}", emailed.body);
    assert!(emailed.body["outcomes"][0].get("link").is_none());
    app.email_to("eve@example.com").await;
}
