//! Faults (README, "Faults"): an instance killed with SIGKILL while it holds claimed emails
//! (none is lost: another instance sends them once the lease has run out), and PostgreSQL
//! restarted under load (requests answer 503 quickly while it is down, `/readyz` says so, and
//! the instance recovers by itself, outbox included).
//!
//! Both start the real `joinery` binary. The PostgreSQL restart uses a private PostgreSQL
//! cluster made for the test in a temporary directory (never the machine's shared server,
//! which other tests use meanwhile), so it runs in the PostgreSQL pass only.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration as StdDuration, Instant};

use diesel::prelude::*;
use joinery::db::schema::outbox_emails;

use crate::helpers::unused_port;
use crate::instances::{Cluster, client, csrf_of, log_in};
use crate::ops::{scrape, value};

/// An SMTP server that takes each message's DATA and then never answers it: the client waits
/// for an acceptance that never comes, holding the message's outbox row leased. Nothing it
/// holds counts as delivered.
struct HoldingSmtp {
    port: u16,
    held: Arc<AtomicUsize>,
}

impl HoldingSmtp {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = Arc::new(AtomicUsize::new(0));
        let counter = held.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counter = counter.clone();
                std::thread::spawn(move || Self::converse(stream, &counter));
            }
        });
        Self { port, held }
    }

    fn converse(mut stream: TcpStream, held: &AtomicUsize) {
        let Ok(reader) = stream.try_clone() else {
            return;
        };
        let mut lines = BufReader::new(reader).lines();
        if stream.write_all(b"220 hold.test ESMTP\r\n").is_err() {
            return;
        }
        let mut in_data = false;
        while let Some(Ok(line)) = lines.next() {
            if in_data {
                if line == "." {
                    // The whole message is here; the acceptance never goes out. The
                    // connection stays open until the client goes away.
                    held.fetch_add(1, Ordering::SeqCst);
                    for _ in lines.by_ref() {}
                    return;
                }
                continue;
            }
            let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" | "HELO" => b"250 hold.test\r\n",
                "DATA" => {
                    in_data = true;
                    b"354 go ahead\r\n"
                }
                "QUIT" => {
                    let _ = stream.write_all(b"221 bye\r\n");
                    return;
                }
                _ => b"250 OK\r\n",
            };
            if stream.write_all(reply).is_err() {
                return;
            }
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }
}

/// `http://ADDR` of an instance's metrics listener, from its log.
fn metrics_base(cluster: &Cluster, name: &str) -> String {
    let log = std::fs::read_to_string(cluster.dir.path().join(format!("{name}.log"))).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("metrics listening"))
        .unwrap_or_else(|| panic!("no metrics listener in {log}"));
    let addr = line[line.find("127.0.0.1:").unwrap()..]
        .split(|c: char| c.is_whitespace() || c == '"')
        .next()
        .unwrap();
    format!("http://{addr}")
}

fn outbox(database_url: &str) -> Vec<(String, String, Option<chrono::NaiveDateTime>)> {
    let db = joinery::db::Db::connect(database_url, 1).unwrap();
    db.with_conn(|c| {
        Ok(outbox_emails::table
            .select((
                outbox_emails::recipient,
                outbox_emails::status,
                outbox_emails::locked_until,
            ))
            .load(c)?)
    })
    .unwrap()
}

/// Sends one invitation form with `emails` (one per line) through `base`.
async fn invite(owner: &reqwest::Client, base: &str, org: &str, emails: &str) {
    let csrf = csrf_of(owner, &format!("{base}/orgs/{org}/team")).await;
    let sent = owner
        .post(format!("{base}/orgs/{org}/invitations"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("emails", emails),
            ("role", "viewer"),
            ("message", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
}

/// The lease the test gives the killed instance's claims, in seconds.
const TEST_LEASE_SECS: i64 = 4;

#[tokio::test]
async fn an_instance_killed_while_holding_claimed_emails_loses_none_the_other_sends_them_after_the_lease()
 {
    let cluster = Cluster::new();
    cluster.seed();
    let holding = HoldingSmtp::start();
    let lease = TEST_LEASE_SECS.to_string();
    let mut a = cluster
        .start_with(
            "a",
            None,
            &[
                ("JOINERY_SMTP_URL", &holding.url()),
                ("JOINERY_OUTBOX_LEASE_SECS", &lease),
            ],
        )
        .await;
    let owner = client();
    let org = log_in(&owner, &a.base).await;
    let recipients: Vec<String> = (0..5).map(|i| format!("held-{i}@example.com")).collect();
    invite(&owner, &a.base, &org, &recipients.join("\n")).await;

    // A's delivery task has claimed all five and sent each one's DATA; the server holds them.
    let deadline = Instant::now() + StdDuration::from_secs(20);
    while holding.held() < 5 {
        assert!(
            Instant::now() < deadline,
            "A never got to DATA: {}",
            holding.held()
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    let rows = outbox(&cluster.database_url);
    assert_eq!(rows.len(), 5);
    assert!(
        rows.iter().all(|(_, s, l)| s == "sending" && l.is_some()),
        "{rows:?}"
    );
    let leased_until = rows
        .iter()
        .filter_map(|(_, _, l)| *l)
        .max()
        .unwrap()
        .and_utc();
    let lease_left = leased_until - chrono::Utc::now();
    assert!(
        lease_left <= chrono::Duration::seconds(TEST_LEASE_SECS),
        "A leased them for {lease_left} more, not the {TEST_LEASE_SECS} s it was given"
    );

    // B joins with a working SMTP server while A still holds the rows; then A dies.
    let b = cluster
        .start_with(
            "b",
            None,
            &[
                ("JOINERY_OUTBOX_LEASE_SECS", &lease),
                ("JOINERY_METRICS_BIND", "127.0.0.1:0"),
            ],
        )
        .await;
    a.child.kill().unwrap(); // SIGKILL: no batch finished, no lease given back
    a.child.wait().unwrap();

    // Nothing is sent while A's lease lasts...
    while chrono::Utc::now() < leased_until - chrono::Duration::milliseconds(300) {
        assert!(
            cluster.smtp.received().is_empty(),
            "sent before the lease ran out"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    // ...and every email is sent, exactly once, soon after.
    let got = cluster.smtp.wait_for(5, 20).await;
    let delivered_after = chrono::Utc::now() - leased_until;
    tokio::time::sleep(StdDuration::from_millis(1000)).await; // room for a duplicate
    let got_all = cluster.smtp.received();
    assert_eq!(got.len(), 5, "none lost");
    let mut per_recipient: HashMap<String, usize> = HashMap::new();
    for mail in &got_all {
        for r in &mail.recipients {
            *per_recipient.entry(r.clone()).or_default() += 1;
        }
    }
    for r in &recipients {
        assert_eq!(per_recipient.get(r), Some(&1), "{r}: {per_recipient:?}");
    }
    assert_eq!(got_all.len(), 5, "none duplicated");
    let all_sent = |rows: &Vec<(String, String, Option<chrono::NaiveDateTime>)>| {
        rows.iter().all(|(_, s, _)| s == "sent")
    };
    let rows = crate::helpers::eventually(10, || outbox(&cluster.database_url), all_sent).await;
    assert!(all_sent(&rows), "{rows:?}");
    assert!(
        delivered_after < chrono::Duration::seconds(5),
        "B took over {delivered_after} after the lease ran out"
    );

    // The window in which a crash would send an email twice: from the SMTP server's
    // acceptance to the row marked sent, as B measured it for these and 45 more.
    let more: Vec<String> = (0..45).map(|i| format!("more-{i}@example.com")).collect();
    let owner_b = client();
    let org_b = log_in(&owner_b, &b.base).await;
    invite(&owner_b, &b.base, &org_b, &more.join("\n")).await;
    assert_eq!(cluster.smtp.wait_for(50, 30).await.len(), 50);
    let deadline = Instant::now() + StdDuration::from_secs(10);
    let samples = loop {
        let (_, samples) = scrape(&metrics_base(&cluster, "b")).await;
        if value(&samples, "joinery_email_unconfirmed_seconds_count", &[]) >= 50.0 {
            break samples;
        }
        assert!(Instant::now() < deadline, "B did not count 50 sends");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    };
    let count = value(&samples, "joinery_email_unconfirmed_seconds_count", &[]);
    let sum = value(&samples, "joinery_email_unconfirmed_seconds_sum", &[]);
    let within = |le: &str| {
        value(
            &samples,
            "joinery_email_unconfirmed_seconds_bucket",
            &[("le", le)],
        )
    };
    eprintln!(
        "duplicate window ({}): {count} sends, mean {:.2} ms, ≤1 ms: {}, ≤5 ms: {}, ≤25 ms: {}, ≤100 ms: {}, ≤1 s: {}",
        if cluster.database_url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        sum / count * 1000.0,
        within("0.001"),
        within("0.005"),
        within("0.025"),
        within("0.1"),
        within("1")
    );
    assert_eq!(within("1"), count, "every window closed within a second");
}

/// A PostgreSQL cluster of the test's own: `initdb` in a temporary directory, served on a free
/// loopback port, started and stopped with `pg_ctl`. As root (CI), the commands run as the
/// `postgres` user, since `initdb` refuses to run as root.
struct PrivatePostgres {
    bin: PathBuf,
    data: PathBuf,
    sockets: PathBuf,
    log: PathBuf,
    port: u16,
    as_postgres: bool,
    dir: tempfile::TempDir,
}

impl PrivatePostgres {
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
            .max_by_key(|b| {
                b.parent()
                    .and_then(|v| v.file_name())
                    .and_then(|v| v.to_str())
                    .and_then(|v| v.parse::<u32>().ok())
                    .unwrap_or(0)
            })
            .expect(
                "no /usr/lib/postgresql/*/bin/initdb: install Debian's postgresql (.ci/run does)",
            );
        let uid = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap();
        let as_postgres = uid.trim() == "0";
        let dir = tempfile::tempdir().unwrap();
        let (data, sockets, log) = (
            dir.path().join("data"),
            dir.path().join("sockets"),
            dir.path().join("postgres.log"),
        );
        std::fs::create_dir(&sockets).unwrap();
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown to postgres");
        }
        let cluster = Self {
            bin,
            data,
            sockets,
            log,
            port: unused_port(),
            as_postgres,
            dir,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data.display().to_string(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "--no-instructions",
                "-E",
                "UTF8",
            ],
        );
        cluster.pg_ctl_start();
        cluster
    }

    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(&path);
            cmd
        } else {
            Command::new(&path)
        };
        // In the cluster's own directory: the postgres user may not be able to read the
        // working directory of the tests.
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.sockets.display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data.display().to_string(),
                "-l",
                &self.log.display().to_string(),
                "-o",
                &options,
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
    }

    fn stop(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data.display().to_string(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let path = self.bin.join("pg_ctl");
        let data = self.data.display().to_string();
        let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
        let _ = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&path)
                .args(args)
                .output()
        } else {
            Command::new(&path).args(args).output()
        };
    }
}

/// What one request of the load saw.
#[derive(Debug, Clone)]
struct Seen {
    started: Instant,
    elapsed: StdDuration,
    status: u16,
}

/// The check-out timeout the test gives the instance, in milliseconds.
const TEST_CHECKOUT_MS: u64 = 1000;

#[tokio::test]
#[ignore = "needs PostgreSQL; runs in the PostgreSQL pass"]
async fn postgres_restarted_under_load_gets_quick_503s_then_recovers_without_a_restart() {
    let postgres = PrivatePostgres::start();
    let cluster = Cluster::with_database_url(postgres.url());
    cluster.seed();
    let timeout = TEST_CHECKOUT_MS.to_string();
    let instance = cluster
        .start_with(
            "solo",
            None,
            &[
                ("JOINERY_DB_CHECKOUT_TIMEOUT_MS", &timeout),
                ("JOINERY_METRICS_BIND", "127.0.0.1:0"),
            ],
        )
        .await;
    let base = instance.base.clone();
    let owner = client();
    let org = log_in(&owner, &base).await;
    invite(&owner, &base, &org, "before@example.com").await;
    assert_eq!(cluster.smtp.wait_for(1, 15).await.len(), 1);

    // Load: signed-in Team page GETs (session, membership and page queries) from 4 clients,
    // each request bounded by a client timeout so that a hang fails rather than stalls.
    let stop = Arc::new(AtomicBool::new(false));
    let team = format!("{base}/orgs/{org}/team");
    let loaders: Vec<_> = (0..4)
        .map(|_| {
            let (stop, team, owner) = (stop.clone(), team.clone(), owner.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let status =
                        tokio::time::timeout(StdDuration::from_secs(15), owner.get(&team).send())
                            .await
                            .map_or(0, |r| r.map_or(1, |r| r.status().as_u16()));
                    seen.push(Seen {
                        started,
                        elapsed: started.elapsed(),
                        status,
                    });
                    tokio::time::sleep(StdDuration::from_millis(20)).await;
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(StdDuration::from_millis(800)).await;

    let stopping = Instant::now();
    postgres.stop();
    let down = Instant::now();
    eprintln!("PostgreSQL stopped in {:?}", down - stopping);
    tokio::time::sleep(StdDuration::from_millis(1500)).await;

    // While it is down: /readyz and pages answer 503, within the check-out timeout.
    let bound = StdDuration::from_millis(TEST_CHECKOUT_MS + 1500);
    let asked = Instant::now();
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(
        asked.elapsed() < bound,
        "/readyz took {:?}",
        asked.elapsed()
    );
    let asked = Instant::now();
    let page = owner.get(&team).send().await.unwrap();
    if page.status() != 503 {
        eprintln!(
            "{}",
            std::fs::read_to_string(cluster.dir.path().join("solo.log")).unwrap()
        );
    }
    assert_eq!(page.status(), 503);
    assert!(
        asked.elapsed() < bound,
        "the Team page took {:?}",
        asked.elapsed()
    );
    assert_eq!(page.headers()["retry-after"], "5");
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("cannot reach its database"),
        "a page that says what is wrong"
    );
    // A signed-out page whose handler needs the database (no session to load first).
    let asked = Instant::now();
    let link = reqwest::get(format!(
        "{base}/invitations/NoSuchTokenWhileTheDbIsDown01234"
    ))
    .await
    .unwrap();
    assert_eq!(link.status(), 503);
    assert!(
        asked.elapsed() < bound,
        "the link took {:?}",
        asked.elapsed()
    );
    assert_eq!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .unwrap()
            .status(),
        200,
        "the process itself is fine"
    );
    tokio::time::sleep(StdDuration::from_millis(1000)).await;

    let starting = Instant::now();
    postgres.pg_ctl_start();
    let up = Instant::now();
    eprintln!("PostgreSQL started again in {:?}", up - starting);
    // The same process recovers by itself.
    let deadline = Instant::now() + StdDuration::from_secs(20);
    let ready_at = loop {
        let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
        if ready.status() == 200 {
            break Instant::now();
        }
        assert!(Instant::now() < deadline, "/readyz never recovered");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    };
    eprintln!("ready again {:?} after PostgreSQL was up", ready_at - up);
    tokio::time::sleep(StdDuration::from_millis(800)).await;
    stop.store(true, Ordering::Relaxed);
    let seen: Vec<Seen> = futures::future::join_all(loaders)
        .await
        .into_iter()
        .flat_map(Result::unwrap)
        .collect();

    let statuses = seen.iter().fold(HashMap::<u16, usize>::new(), |mut m, s| {
        *m.entry(s.status).or_default() += 1;
        m
    });
    eprintln!("load: {} requests, statuses {statuses:?}", seen.len());
    assert!(
        seen.iter().all(|s| s.status == 200 || s.status == 503),
        "only 200 and 503, never a 500 or a hang: {statuses:?}"
    );
    assert!(
        seen.iter().all(|s| s.elapsed < bound),
        "a request took longer than {bound:?}"
    );
    let during: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.started > down && s.started + s.elapsed < up)
        .collect();
    assert!(
        during.len() >= 4,
        "load ran during the outage: {}",
        during.len()
    );
    assert!(during.iter().all(|s| s.status == 503), "{during:?}");
    let after: Vec<&Seen> = seen.iter().filter(|s| s.started > ready_at).collect();
    assert!(
        !after.is_empty() && after.iter().all(|s| s.status == 200),
        "{after:?}"
    );
    let before: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.started + s.elapsed < stopping)
        .collect();
    assert!(!before.is_empty() && before.iter().all(|s| s.status == 200));

    // The outbox resumed: an invitation sent now arrives.
    invite(&owner, &base, &org, "after@example.com").await;
    let got = cluster.smtp.wait_for(2, 20).await;
    assert!(
        got.iter().any(|m| m.recipients == ["after@example.com"]),
        "the outbox resumed"
    );
    let (_, samples) = scrape(&metrics_base(&cluster, "solo")).await;
    assert_eq!(value(&samples, "joinery_database_up", &[]), 1.0);
    assert!(value(&samples, "joinery_db_pool_timeouts_total", &[]) >= 1.0);
    assert!(
        value(
            &samples,
            "joinery_http_requests_total",
            &[("route", "/orgs/{org}/team"), ("status", "5xx")]
        ) >= during.len() as f64
    );
    drop(instance);
}
