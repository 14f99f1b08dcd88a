//! Signed webhooks (issue 15 §2), against a real receiver — a small HTTP server in the test, on
//! a loopback port — that checks every signature independently: each event arrives when its
//! change commits and never when it rolls back; a receiver down at first gets the event later,
//! exactly once, with the same webhook-id; an endpoint failing for 3 days is disabled and its
//! Owners emailed; the SSRF guard refuses loopback spellings at registration and again at
//! delivery (no connection is attempted).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use joinery::db::schema::{webhook_deliveries, webhook_endpoints};
use joinery::domain::{OrganizationId, Plan, Role};
use joinery::paths;
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Browser, TestApp, eventually, spawn_app_with};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

impl Received {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A webhook receiver on 127.0.0.1: records each POST and answers 500 to the first
/// `failures` requests, 200 after.
#[derive(Clone)]
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
    failures: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(failures: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let receiver = Receiver {
            port,
            got: Arc::default(),
            connections: Arc::default(),
            failures: Arc::new(AtomicUsize::new(failures)),
        };
        let r = receiver.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                r.connections.fetch_add(1, Ordering::SeqCst);
                let r = r.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let (head, body_start) = loop {
                        let n = stream.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break (String::from_utf8_lossy(&buf[..i]).into_owned(), i + 4);
                        }
                    };
                    let header = |name: &str| {
                        head.lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.trim()
                                    .eq_ignore_ascii_case(name)
                                    .then(|| v.trim().to_owned())
                            })
                            .unwrap_or_default()
                    };
                    let length: usize = header("content-length").parse().unwrap_or(0);
                    while buf.len() < body_start + length {
                        let n = stream.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = String::from_utf8_lossy(&buf[body_start..]).into_owned();
                    r.got.lock().unwrap().push(Received {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                        body,
                    });
                    let fail = r
                        .failures
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    let status = if fail {
                        "500 Internal Server Error"
                    } else {
                        "200 OK"
                    };
                    let reply = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        receiver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) for at least `n` requests.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        eventually(10, || self.received(), |r| r.len() >= n).await
    }
}

/// Checks `r`'s signature with `secret` as a receiver would, independently of Joinery's code:
/// HMAC-SHA256 of `{id}.{timestamp}.{body}` under the base64-decoded secret.
fn verify(secret: &str, r: &Received) {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert_eq!(r.signature, expected, "signature of {}", r.body);
    assert!(r.id.starts_with("msg_"), "{}", r.id);
}

/// Adds an endpoint for `url` with every event, as the Owner `b`; returns the signing secret.
async fn add_endpoint(b: &Browser, org: OrganizationId, url: &str) -> String {
    let page = b.get(&paths::webhooks(org)).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let added = b
        .submit(&page.form("form.webhook-form").set("url", url))
        .await;
    assert_eq!(added.status, 200, "{}", added.text());
    assert_eq!(added.header("cache-control").as_deref(), Some("no-store"));
    let secret = added.attrs("input#webhook-secret", "value").remove(0);
    assert!(secret.starts_with("whsec_"), "{secret}");
    secret
}

async fn app_allowing_loopback() -> TestApp {
    spawn_app_with(|s| s.webhooks_allow_private = true).await
}

/// The event types received, sorted (deliveries run concurrently, so arrival order is not
/// the order of the changes).
fn types(got: &[Received]) -> Vec<String> {
    let mut types: Vec<String> = got
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    types
}

/// The first event of type `kind` received.
fn event<'a>(got: &'a [Received], kind: &str) -> &'a Received {
    got.iter()
        .find(|r| r.json()["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} among {:?}", types(got)))
}

/// `expected`, sorted.
fn sorted(expected: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn each_event_arrives_signed_when_its_change_commits() {
    let app = app_allowing_loopback().await;
    let receiver = Receiver::start(0).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let secret = add_endpoint(&owner, org, &receiver.url()).await;
    // invitation.created, then invitation.revoked.
    owner.invite(org, "ann@example.com", "writer", "").await;
    let got = receiver.wait_for(1).await;
    assert_eq!(types(&got), ["invitation.created"]);
    let data = &got[0].json()["data"];
    assert_eq!(data["email"], "ann@example.com");
    assert_eq!(data["role"], "writer");
    assert_eq!(data["organization_id"], org.to_string());
    let invitation = data["invitation_id"].as_str().unwrap().to_owned();
    let confirm = owner
        .get(&paths::revoke(org, invitation.parse().unwrap()))
        .await;
    owner.submit(&confirm.form("form.actions")).await;
    // member.added (any way in), member.role_changed, member.removed.
    let vic = app.create_user("vic@example.com", "Vic");
    app.add_member(org, vic, Role::Viewer);
    let team = owner.get(&paths::team(org)).await;
    let membership = app.membership_id(org, "vic@example.com");
    let change = owner
        .post(
            &paths::member_role(org, membership),
            &[("csrf_token", &team.csrf()), ("role", "editor")],
        )
        .await;
    assert_eq!(change.status, 200, "{}", change.text());
    let confirm = owner.get(&paths::remove_member(org, membership)).await;
    owner.submit(&confirm.form("form.actions")).await;
    let got = receiver.wait_for(5).await;
    assert_eq!(
        types(&got),
        sorted(&[
            "invitation.created",
            "invitation.revoked",
            "member.added",
            "member.role_changed",
            "member.removed"
        ])
    );
    for r in &got {
        verify(&secret, r);
    }
    let changed = &event(&got, "member.role_changed").json()["data"];
    assert_eq!(changed["user_id"], vic.to_string(), "the user id is there");
    assert_eq!(changed["previous_role"], "viewer");
    assert_eq!(changed["role"], "editor");
    // Each once: nothing more arrives.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 5);
}

#[tokio::test]
async fn a_change_that_rolls_back_sends_no_event() {
    let app = app_allowing_loopback().await;
    let receiver = Receiver::start(0).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    add_endpoint(&owner, org, &receiver.url()).await;
    app.set_seats(org, Some(1));
    let refused = owner
        .invite(org, "ann@example.com\nbob@example.com", "viewer", "")
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    let rows: i64 = app.query(|c| Ok(webhook_deliveries::table.count().get_result(c)?));
    assert_eq!(rows, 0, "no event was written");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn a_receiver_down_at_first_gets_the_event_later_exactly_once_with_the_same_id() {
    let app = app_allowing_loopback().await;
    let receiver = Receiver::start(2).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let secret = add_endpoint(&owner, org, &receiver.url()).await;
    owner.invite(org, "ann@example.com", "viewer", "").await;
    receiver.wait_for(1).await;
    // Retries wait 10 s, then 20 s (by the app's clock).
    app.advance(Duration::seconds(10));
    receiver.wait_for(2).await;
    app.advance(Duration::seconds(20));
    let got = receiver.wait_for(3).await;
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.id == got[0].id), "one webhook-id");
    verify(&secret, &got[2]);
    let status = || {
        app.query(|c| {
            Ok(webhook_deliveries::table
                .select((webhook_deliveries::status, webhook_deliveries::attempts))
                .first::<(String, i32)>(c)?)
        })
    };
    let delivered = ("delivered".to_owned(), 3);
    assert_eq!(eventually(10, status, |s| *s == delivered).await, delivered);
    app.advance(Duration::hours(2));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 3, "not again after a 2xx");
    // The log shows it; Redeliver sends it again with the same id.
    let endpoint: String = app.query(|c| {
        Ok(webhook_endpoints::table
            .select(webhook_endpoints::id)
            .first(c)?)
    });
    let log = owner
        .get(&paths::webhook(org, endpoint.parse().unwrap()))
        .await;
    assert!(log.shows("invitation.created"), "{}", log.text());
    let again = owner.submit(&log.form("tr[data-delivery] form")).await;
    assert!(again.shows("Queued again"), "{}", again.text());
    let got = receiver.wait_for(4).await;
    assert_eq!(got[3].id, got[0].id);
}

#[tokio::test]
async fn an_endpoint_failing_for_3_days_is_disabled_and_its_owners_emailed() {
    let app = app_allowing_loopback().await;
    let receiver = Receiver::start(usize::MAX).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    add_endpoint(&owner, org, &receiver.url()).await;
    owner.invite(org, "ann@example.com", "viewer", "").await;
    app.email_to("ann@example.com").await;
    receiver.wait_for(1).await;
    let disabled = || {
        app.query(|c| {
            Ok(webhook_endpoints::table
                .select(webhook_endpoints::disabled_at)
                .first::<Option<chrono::NaiveDateTime>>(c)?)
        })
    };
    let failing_since = || {
        app.query(|c| {
            Ok(webhook_endpoints::table
                .select(webhook_endpoints::failing_since)
                .first::<Option<chrono::NaiveDateTime>>(c)?)
        })
    };
    let since = eventually(10, failing_since, Option::is_some).await;
    assert_eq!(
        since,
        Some(app.clock_now().naive_utc()),
        "failing from the first failure"
    );
    // Not yet three days: the next failures keep it on.
    app.advance(Duration::days(3) - Duration::seconds(1));
    receiver.wait_for(2).await;
    assert!(eventually(1, disabled, Option::is_some).await.is_none());
    // The next failure, three days after the first: disabled.
    app.advance(Duration::hours(1));
    eventually(10, disabled, Option::is_some).await;
    assert!(disabled().is_some(), "disabled after 3 days");
    let email = app.email_to("owner@acme.test").await;
    assert_eq!(email.subject, "A webhook endpoint of Acme was disabled");
    let page = owner.get(&paths::webhooks(org)).await;
    assert!(
        page.texts(".badge").contains(&"disabled".to_owned()),
        "{}",
        page.text()
    );
    // Fixed and turned back on: the waiting event goes out.
    receiver.failures.store(0, Ordering::SeqCst);
    let before = receiver.received().len();
    let endpoint: String = app.query(|c| {
        Ok(webhook_endpoints::table
            .select(webhook_endpoints::id)
            .first(c)?)
    });
    let log = owner
        .get(&paths::webhook(org, endpoint.parse().unwrap()))
        .await;
    let on = owner.submit(&log.form("form[action$='/enable']")).await;
    assert!(on.shows("is on again"), "{}", on.text());
    app.advance(Duration::hours(1));
    let got = receiver.wait_for(before + 1).await;
    assert_eq!(got.len(), before + 1);
}

#[tokio::test]
async fn the_guard_refuses_internal_addresses_at_registration_and_again_at_delivery() {
    let app = spawn_app_with(|s| {
        s.webhook_hosts = vec![("hooks.example.test".into(), "127.0.0.1".parse().unwrap())];
    })
    .await;
    let receiver = Receiver::start(0).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let page = owner.get(&paths::webhooks(org)).await;
    for url in [
        receiver.url(),
        format!("http://127.1:{}/hook", receiver.port),
        format!("http://[::1]:{}/hook", receiver.port),
        format!("http://localhost:{}/hook", receiver.port),
        format!("http://hooks.example.test:{}/hook", receiver.port),
    ] {
        let refused = owner
            .submit(&page.form("form.webhook-form").set("url", &url))
            .await;
        assert_eq!(refused.status, 422, "{url}: {}", refused.text());
        assert!(
            refused.shows("is an internal address"),
            "{url}: {}",
            refused.text()
        );
    }
    let endpoints: i64 = app.query(|c| Ok(webhook_endpoints::table.count().get_result(c)?));
    assert_eq!(endpoints, 0);
    // An endpoint whose name resolves to an internal address only after it was registered
    // (stored here directly): delivery checks again and never connects.
    app.query(|c| {
        Ok(diesel::insert_into(webhook_endpoints::table)
            .values((
                webhook_endpoints::id.eq(uuid::Uuid::new_v4().to_string()),
                webhook_endpoints::organization_id.eq(org.to_string()),
                webhook_endpoints::url
                    .eq(format!("http://hooks.example.test:{}/hook", receiver.port)),
                webhook_endpoints::events.eq("invitation.created"),
                webhook_endpoints::secret.eq("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                webhook_endpoints::created_by.eq(app.query(|c| {
                    use joinery::db::schema::users;
                    Ok(users::table.select(users::id).first::<String>(c)?)
                })),
                webhook_endpoints::created_at.eq(app.clock_now().naive_utc()),
            ))
            .execute(c)?)
    });
    owner.invite(org, "ann@example.com", "viewer", "").await;
    let error = || {
        app.query(|c| {
            Ok(webhook_deliveries::table
                .select(webhook_deliveries::last_error)
                .first::<Option<String>>(c)?)
        })
    };
    let refused = eventually(10, error, Option::is_some).await.unwrap();
    assert!(refused.contains("internal address"), "{refused}");
    assert_eq!(
        receiver.connections.load(Ordering::SeqCst),
        0,
        "no connection was attempted"
    );
}

#[tokio::test]
async fn how_an_invitation_ends_arrives_with_the_accepting_users_id() {
    let app = app_allowing_loopback().await;
    let receiver = Receiver::start(0).await;
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    let secret = add_endpoint(&owner, org, &receiver.url()).await;
    // Accepted by an account holder: invitation.accepted with the user id, and member.added.
    let ann = app.create_user("ann@example.com", "Ann");
    owner.invite(org, "ann@example.com", "writer", "").await;
    let link = app.email_to("ann@example.com").await.invitation_path();
    let ann_browser = app.logged_in("ann@example.com").await;
    let page = ann_browser.get(&link).await;
    let done = ann_browser
        .submit(&page.form("form[action$='/accept']"))
        .await;
    assert!(done.shows("You joined Acme"), "{}", done.text());
    let got = receiver.wait_for(3).await;
    assert_eq!(
        types(&got),
        sorted(&["invitation.created", "invitation.accepted", "member.added"])
    );
    assert_eq!(
        event(&got, "invitation.accepted").json()["data"]["user_id"],
        ann.to_string()
    );
    assert_eq!(
        event(&got, "member.added").json()["data"]["user_id"],
        ann.to_string()
    );
    // Declined by someone signed out.
    owner.invite(org, "bob@example.com", "viewer", "").await;
    let link = app.email_to("bob@example.com").await.invitation_path();
    let visitor = app.browser();
    let page = visitor.get(&link).await;
    visitor.submit(&page.form("form[action$='/decline']")).await;
    // Expired: written by the expiry sweep.
    owner.invite(org, "cy@example.com", "viewer", "").await;
    receiver.wait_for(6).await;
    app.advance(Duration::days(8));
    let now = app.clock_now();
    let swept = app.query(|c| joinery::db::invitations::expire_all_overdue(c, now));
    assert_eq!(swept, 1);
    let got = receiver.wait_for(7).await;
    assert_eq!(
        types(&got),
        sorted(&[
            "invitation.created",
            "invitation.accepted",
            "member.added",
            "invitation.created",
            "invitation.declined",
            "invitation.created",
            "invitation.expired",
        ])
    );
    assert_eq!(
        event(&got, "invitation.expired").json()["data"]["email"],
        "cy@example.com"
    );
    for r in &got {
        verify(&secret, r);
    }
}
