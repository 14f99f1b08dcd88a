//! Ready to operate (README, "Metrics", "Logs", "Backup and upgrade"): `/metrics` on its own
//! listener, JSON logs with the request id on every line of a request, and `joinery backup`
//! taken while the server writes, then served from.

use std::collections::BTreeMap;
use std::time::{Duration as StdDuration, Instant};

use diesel::prelude::*;
use joinery::db::schema::{invitations, outbox_emails};
use joinery::domain::{Plan, Role};

use crate::helpers::{PASSWORD, spawn_app_with, unused_port};
use crate::instances::{Cluster, csrf_of};

/// One sample of the Prometheus text format: `name{label="value",…} value`.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the Prometheus text exposition format (comments skipped; label values unescaped).
pub(crate) fn parse_metrics(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => line.split_at(i),
            None => panic!("no value in {line:?}"),
        };
        let mut labels = BTreeMap::new();
        let value_text = if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            let end;
            loop {
                // label name
                let start = chars.peek().unwrap().0;
                let mut eq = start;
                for (i, c) in chars.by_ref() {
                    if c == '=' {
                        eq = i;
                        break;
                    }
                }
                let key = body[start..eq].trim_start_matches(',').to_owned();
                assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                let mut value = String::new();
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next().map(|(_, c)| c) {
                            Some('n') => value.push('\n'),
                            Some(other) => value.push(other),
                            None => panic!("{line}"),
                        },
                        '"' => break,
                        other => value.push(other),
                    }
                }
                labels.insert(key, value);
                match chars.next() {
                    Some((_, ',')) if chars.peek().map(|(_, c)| *c) == Some('}') => {
                        end = chars.next().unwrap().0;
                        break;
                    }
                    Some((_, ',')) => {}
                    Some((i, '}')) => {
                        end = i;
                        break;
                    }
                    other => panic!("unexpected {other:?} in {line}"),
                }
            }
            &body[end + 1..]
        } else {
            rest
        };
        let value = value_text.split_whitespace().next().unwrap();
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

/// The value of the sample `name` whose labels include every pair of `labels` (summed over
/// the rest), or 0 when there is none.
pub(crate) fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

pub(crate) async fn scrape(metrics_base: &str) -> (String, Vec<Sample>) {
    let res = reqwest::get(format!("{metrics_base}/metrics"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "the Prometheus text format"
    );
    let text = res.text().await.unwrap();
    let samples = parse_metrics(&text);
    (text, samples)
}

/// Every route label is a route pattern of the app (or `<unmatched>`): no concrete path, no
/// token, no id.
fn assert_labels_hold_no_token_or_id(text: &str, samples: &[Sample], secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "{secret} appears in /metrics:\n{text}"
        );
    }
    for sample in samples {
        for (key, value) in &sample.labels {
            if key == "route" {
                let pattern = value == "<unmatched>"
                    || value.split('/').filter(|seg| !seg.is_empty()).all(|seg| {
                        seg.starts_with('{') || !seg.chars().any(|c| c.is_ascii_digit())
                    });
                assert!(pattern, "route label {value:?} is not a pattern");
            }
            assert!(
                value.len() < 80,
                "a label value this long is not from a fixed set: {value}"
            );
        }
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_failures_refusals_email_and_pool_waits() {
    let app = spawn_app_with(|s| {
        s.metrics_bind = Some("127.0.0.1:0".into());
        s.token_lookup_misses_per_minute = 2;
        s.login_attempts_per_minute = 13;
    })
    .await;
    let metrics = app.metrics_address.clone().expect("a metrics listener");
    // Never on the public port.
    assert_eq!(app.browser().get("/metrics").await.status, 404);

    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await; // POST /login 1
    owner.invite(org, "pat@example.com", "editor", "").await;
    let link = app.email_to("pat@example.com").await.invitation_path();
    let token = link.trim_start_matches("/invitations/").to_owned();
    let visitor = app.browser();
    assert_eq!(visitor.get(&link).await.status, 200);
    let bogus = "Zz9bogusTokenThatNeverExisted0001";
    let bogus_path = format!("/invitations/{bogus}");
    assert_eq!(visitor.get(&bogus_path).await.status, 404);
    assert_eq!(visitor.get(&bogus_path).await.status, 404);
    assert_eq!(
        visitor.get(&bogus_path).await.status,
        429,
        "the third miss in a minute is past the budget of 2"
    );

    // Wrong passwords for one account: ten fail, the eleventh locks the account, and from the
    // twelfth on the lock refuses them (answered 401 alike). Then the per-client budget (13
    // POSTs a minute, the owner's log-in included, one more every 4.6 s) runs out: 429.
    let intruder = app.browser();
    let (mut unauthorized, mut too_many) = (0, 0);
    while too_many < 2 {
        let page = intruder.login("owner@acme.test", "wrong password!").await;
        match page.status {
            401 => unauthorized += 1,
            429 => too_many += 1,
            other => panic!("unexpected {other}"),
        }
        assert!(
            unauthorized + too_many < 40,
            "the per-client limit never refused"
        );
    }
    assert!(unauthorized >= 12, "{unauthorized}");
    let (text, samples) = scrape(&metrics).await;
    let requests = |method: &str, route: &str, status: &str| {
        value(
            &samples,
            "joinery_http_requests_total",
            &[("method", method), ("route", route), ("status", status)],
        )
    };
    assert_eq!(
        requests("GET", "/invitations/{token}", "2xx"),
        1.0,
        "{text}"
    );
    assert_eq!(
        requests("GET", "/invitations/{token}", "4xx"),
        3.0,
        "{text}"
    );
    assert_eq!(
        requests("POST", "/login", "4xx"),
        f64::from(unauthorized + too_many),
        "{text}"
    );
    assert!(
        requests("POST", "/orgs/{org}/invitations", "2xx")
            + requests("POST", "/orgs/{org}/invitations", "3xx")
            >= 1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &samples,
            "joinery_http_request_duration_seconds_count",
            &[("route", "/invitations/{token}"), ("status", "4xx")]
        ),
        3.0
    );
    assert_eq!(
        value(&samples, "joinery_login_failures_total", &[]),
        f64::from(unauthorized)
    );
    let refused = |limiter| {
        value(
            &samples,
            "joinery_rate_limited_total",
            &[("limiter", limiter)],
        )
    };
    assert_eq!(refused("token_lookup"), 1.0, "{text}");
    assert_eq!(refused("login"), 2.0, "{text}");
    assert_eq!(
        refused("account_lock"),
        f64::from(unauthorized - 11),
        "every attempt after the eleventh met the lock:\n{text}"
    );
    assert_eq!(
        value(
            &samples,
            "joinery_emails_sent_total",
            &[("kind", "invitation")]
        ),
        1.0
    );
    assert_eq!(
        value(&samples, "joinery_email_unconfirmed_seconds_count", &[]),
        1.0
    );
    assert!(value(&samples, "joinery_db_pool_wait_seconds_count", &[]) > 10.0);
    assert_eq!(value(&samples, "joinery_database_up", &[]), 1.0);
    assert_eq!(
        value(&samples, "joinery_outbox_emails", &[("status", "queued")]),
        0.0
    );
    assert_labels_hold_no_token_or_id(&text, &samples, &[&token, bogus, &org.to_string()]);
}

#[tokio::test]
async fn metrics_sample_the_outbox_backlog_and_count_retried_and_failed_email() {
    // SMTP is down and the worker only wakes for new email (its poll is an hour), so what the
    // test queues stays due until the test itself sends more.
    let app = spawn_app_with(|s| {
        s.metrics_bind = Some("127.0.0.1:0".into());
        s.smtp_url = Some(format!("smtp://127.0.0.1:{}", unused_port()));
        s.outbox_poll_interval = StdDuration::from_secs(3_600);
    })
    .await;
    let metrics = app.metrics_address.clone().unwrap();
    let (org, owner) = app.org_with("Acme", Plan::Starter, Role::Owner).await;
    owner.invite(org, "first@example.com", "viewer", "").await;
    let attempts_of = |to: &str| -> i32 {
        let to = to.to_owned();
        app.query(move |c| {
            Ok(outbox_emails::table
                .filter(outbox_emails::recipient.eq(to))
                .select(outbox_emails::attempts)
                .first(c)?)
        })
    };
    let deadline = Instant::now() + StdDuration::from_secs(10);
    while attempts_of("first@example.com") < 1 {
        assert!(Instant::now() < deadline, "the first attempt never failed");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    // Due 10 s after the failed attempt; 100 s later it has been due for 90 s.
    app.advance(chrono::Duration::seconds(100));
    let (text, samples) = scrape(&metrics).await;
    assert_eq!(
        value(&samples, "joinery_outbox_emails", &[("status", "queued")]),
        1.0,
        "{text}"
    );
    let age = value(&samples, "joinery_outbox_oldest_due_seconds", &[]);
    assert!((89.0..=91.0).contains(&age), "oldest due {age} s:\n{text}");
    assert_eq!(
        value(
            &samples,
            "joinery_emails_retried_total",
            &[("kind", "invitation")]
        ),
        1.0
    );

    // Its last attempt: with 7 attempts recorded, the next failure gives it up for good.
    app.query(|c| {
        Ok(diesel::update(
            outbox_emails::table.filter(outbox_emails::recipient.eq("first@example.com")),
        )
        .set(outbox_emails::attempts.eq(7))
        .execute(c)?)
    });
    owner.invite(org, "second@example.com", "viewer", "").await; // wakes the worker
    let deadline = Instant::now() + StdDuration::from_secs(10);
    while attempts_of("first@example.com") < 8 || attempts_of("second@example.com") < 1 {
        assert!(
            Instant::now() < deadline,
            "the woken worker did not try both"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    let (text, samples) = scrape(&metrics).await;
    assert_eq!(
        value(
            &samples,
            "joinery_emails_failed_total",
            &[("kind", "invitation")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &samples,
            "joinery_emails_retried_total",
            &[("kind", "invitation")]
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        value(&samples, "joinery_outbox_oldest_due_seconds", &[]),
        0.0,
        "nothing is due now: the second email waits for its retry"
    );
}

/// The value at `path` (keys separated by `.`) of a JSON log line.
fn field<'a>(line: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(line, |v, key| v.get(key))
}

#[tokio::test]
async fn json_logs_carry_the_request_id_on_every_line_of_a_request_and_never_a_token() {
    let cluster = Cluster::new();
    cluster.seed();
    let mut instance = cluster
        .start_with("json", None, &[("JOINERY_LOG_FORMAT", "json")])
        .await;
    let base = instance.base.clone();
    let browser = crate::instances::client();
    let csrf = csrf_of(&browser, &format!("{base}/login")).await;
    let refused = browser
        .post(format!("{base}/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", "owner@acme.test"),
            ("password", "not the password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let login_id = refused.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let bogus = "Qq7NeverIssuedTokenForJsonLogs99";
    let missing = browser
        .get(format!("{base}/invitations/{bogus}"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let miss_id = missing.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(login_id, miss_id, "each request has its own id");

    // Stop it cleanly so every line is written.
    let pid = instance.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + StdDuration::from_secs(30);
    while instance.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "did not stop");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    let log = std::fs::read_to_string(cluster.dir.path().join("json.log")).unwrap();
    assert!(!log.contains(bogus), "the token reached the log:\n{log}");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.iter().any(|l| {
        field(l, "fields.message")
            .and_then(|m| m.as_str())
            .is_some_and(|m| m == "Joinery listening")
    }));
    // Every line logged inside a request names its request id and route pattern.
    for line in &lines {
        if let Some(span) = field(line, "span") {
            assert_eq!(span["name"], "request", "{line}");
            let id = span["request_id"].as_str().unwrap_or_default();
            assert_eq!(id.len(), 36, "a request id on {line}");
            assert!(span["route"].as_str().is_some(), "{line}");
        }
    }
    let of = |id: &str| -> Vec<&serde_json::Value> {
        lines
            .iter()
            .filter(|l| field(l, "span.request_id").and_then(|v| v.as_str()) == Some(id))
            .collect()
    };
    let login_lines = of(&login_id);
    assert!(
        login_lines.iter().any(|l| l["fields"]["message"]
            == "log-in refused: wrong email or password"
            && l["span"]["route"] == "/login"
            && l["span"]["status"] == 401),
        "{login_lines:?}"
    );
    let miss_lines = of(&miss_id);
    assert!(
        miss_lines
            .iter()
            .any(|l| l["fields"]["message"] == "token look-up found nothing"
                && l["span"]["route"] == "/invitations/{token}"),
        "{miss_lines:?}"
    );
}

#[tokio::test]
async fn a_backup_taken_while_the_server_writes_restores_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.db");
    let live_url = live.display().to_string();
    let app = spawn_app_with(|s| s.database_url = live_url.clone()).await;
    let (org, owner) = app.org_with("Acme", Plan::Professional, Role::Owner).await;
    // The writer below invites as fast as the machine allows, past any plan's seats.
    app.set_seats(org, Some(100_000));
    for i in 0..5 {
        owner
            .invite(org, &format!("before-{i}@example.com"), "viewer", "")
            .await;
    }
    let count = || app.query(|c| Ok(invitations::table.count().get_result::<i64>(c)?));
    let before = count();
    assert_eq!(before, 5);

    // Writes go on while the backup runs: one invitation after another until told to stop.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, owner) = (stop.clone(), owner.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let page = owner
                    .invite(org, &format!("during-{i}@example.com"), "viewer", "")
                    .await;
                assert_eq!(page.status, 200);
                i += 1;
            }
            i
        })
    };
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    let to = dir.path().join("backup.db");
    let out = {
        let to = to.clone();
        let live_url = live_url.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_joinery"))
                .args(["backup", "--to"])
                .arg(&to)
                .env("DATABASE_URL", &live_url)
                .env("JOINERY_LOG", "warn")
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written_during = writer.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Backed up"), "{stdout}");
    assert!(written_during >= 2, "writes went on around the backup");
    let after = count();

    // A fresh server on the copy: the owner logs in and sees the data.
    let restored = spawn_app_with(|s| s.database_url = to.display().to_string()).await;
    let in_copy = restored.query(|c| Ok(invitations::table.count().get_result::<i64>(c)?));
    assert!(
        (before..=after).contains(&in_copy),
        "the copy holds one consistent moment: {before} ≤ {in_copy} ≤ {after}"
    );
    let emails_in_copy =
        restored.query(|c| Ok(outbox_emails::table.count().get_result::<i64>(c)?));
    assert_eq!(
        emails_in_copy, in_copy,
        "each invitation with its email: written in one transaction, copied together"
    );
    let browser = restored.browser();
    let landed = browser.login("owner@acme.test", PASSWORD).await;
    assert_eq!(landed.status, 200, "{}", landed.text());
    let team = browser.get(&format!("/orgs/{org}/team")).await;
    assert_eq!(team.status, 200);
    for i in 0..5 {
        assert!(
            team.shows(&format!("before-{i}@example.com")),
            "{}",
            team.text()
        );
    }
}

#[test]
fn backup_refuses_a_postgresql_database_and_points_at_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "Sw0rdfish-not-for-output";
    let to = dir.path().join("pg.backup");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_joinery"))
        .args(["backup", "--to"])
        .arg(&to)
        .env(
            "DATABASE_URL",
            format!(
                "postgres://joinery:{secret}@127.0.0.1:{}/joinery",
                unused_port()
            ),
        )
        .env("JOINERY_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pg_dump"), "{stderr}");
    assert!(stderr.contains("Backup and upgrade"), "{stderr}");
    assert!(!stderr.contains(secret), "{stderr}");
    assert!(stderr.contains("joinery:***@"), "{stderr}");
    assert!(!to.exists());
}
