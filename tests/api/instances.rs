//! Several Joinery processes on one database (DESIGN.md, "Reliability and scale"): shared sessions, an
//! invitation sent through one instance and accepted through another, a burst of invitations
//! delivered with nothing missing and nothing duplicated, graceful shutdown, readiness.
//!
//! These start the real `joinery` binary. On PostgreSQL (JOINERY_TEST_POSTGRES_URL set) the
//! instances share a fresh PostgreSQL database; otherwise they share one SQLite file.

use joinery::paths;
use std::collections::HashMap;
use std::process::{Child, Command};
use std::time::{Duration as StdDuration, Instant};

use futures::StreamExt as _;

use crate::helpers::{PASSWORD, POSTGRES_ENV, SmtpServer, TestDatabase};

/// A running `joinery serve` process, killed when dropped.
pub(crate) struct Instance {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the instances share: a database, keys and an SMTP server.
pub(crate) struct Cluster {
    pub(crate) database_url: String,
    session_key: String,
    token_key: String,
    pub(crate) smtp: SmtpServer,
    pub(crate) dir: tempfile::TempDir,
    _database: Option<TestDatabase>,
}

impl Cluster {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database = TestDatabase::from_env();
        let database_url = match &database {
            Some(db) => db.url.clone(),
            None => format!("sqlite://{}", dir.path().join("shared.db").display()),
        };
        Self::on(database_url, dir, database)
    }

    /// A cluster on the database at `database_url` (which the caller keeps alive).
    pub(crate) fn with_database_url(database_url: String) -> Self {
        Self::on(database_url, tempfile::tempdir().unwrap(), None)
    }

    fn on(database_url: String, dir: tempfile::TempDir, database: Option<TestDatabase>) -> Self {
        Self {
            database_url,
            session_key: "ab".repeat(64),
            token_key: "cd".repeat(32),
            smtp: SmtpServer::start(),
            dir,
            _database: database,
        }
    }

    pub(crate) fn command(&self, name: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_joinery"));
        for (key, _) in std::env::vars() {
            if key.starts_with("JOINERY_") || key == "DATABASE_URL" {
                cmd.env_remove(key);
            }
        }
        cmd.env("DATABASE_URL", &self.database_url)
            .env("JOINERY_DATA_DIR", self.dir.path().join(name))
            .env("JOINERY_SESSION_KEY", &self.session_key)
            .env("JOINERY_TOKEN_KEY", &self.token_key)
            .env("JOINERY_SMTP_URL", self.smtp.url())
            .env("JOINERY_MAIL_FROM", "Joinery <no-reply@joinery.test>")
            .env("JOINERY_OUTBOX_POLL_MS", "100")
            .env("JOINERY_LOGIN_ATTEMPTS_PER_MINUTE", "1000")
            .env("JOINERY_LOG", "warn");
        cmd
    }

    /// Creates the organization and its Owner through the CLI.
    pub(crate) fn seed(&self) {
        let out = self
            .command("seed")
            .args(["create-org", "--name", "Acme", "--plan", "starter"])
            // Bursts of hundreds of invitations: more seats than Starter's default.
            .args(["--seats", "100000"])
            .args([
                "--owner-email",
                "owner@acme.test",
                "--owner-name",
                "Olive Owner",
            ])
            .env("JOINERY_PASSWORD", PASSWORD)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts an instance on a port it picks itself (binding port 0), and returns once its own
    /// log says where it listens and it answers `/readyz` there. Its emails link to `base_url`
    /// (the load balancer's address), or to its own address when `None`.
    ///
    /// Letting the process pick its port, rather than handing it a "free" port found earlier,
    /// means a parallel test can never take that port in between.
    pub(crate) async fn start(&self, name: &str, base_url: Option<&str>) -> Instance {
        self.start_with(name, base_url, &[]).await
    }

    /// [`Cluster::start`] with more environment variables (set last, so they override).
    pub(crate) async fn start_with(
        &self,
        name: &str,
        base_url: Option<&str>,
        env: &[(&str, &str)],
    ) -> Instance {
        let log_path = self.dir.path().join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut cmd = self.command(name);
        cmd.arg("serve")
            .env("JOINERY_BIND", "127.0.0.1:0")
            .env("JOINERY_LOG", "joinery=info,warn")
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some(base) = base_url {
            cmd.env("JOINERY_BASE_URL", base);
        }
        for (key, value) in env {
            cmd.env(key, value);
        }
        let child = cmd.spawn().unwrap();
        let deadline = Instant::now() + StdDuration::from_secs(30);
        let port = loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let port = text
                .lines()
                .find(|l| l.contains("Joinery listening"))
                .and_then(|line| {
                    let at = line.find("127.0.0.1:")? + "127.0.0.1:".len();
                    line[at..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                        .parse::<u16>()
                        .ok()
                });
            if let Some(port) = port {
                break port;
            }
            assert!(
                Instant::now() < deadline,
                "instance {name} did not start: {text}"
            );
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        };
        let instance = Instance {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        loop {
            let ready = reqwest::get(format!("{}/readyz", instance.base)).await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return instance;
            }
            assert!(
                Instant::now() < deadline,
                "instance {name} did not become ready"
            );
            tokio::time::sleep(StdDuration::from_millis(100)).await;
        }
    }
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

pub(crate) async fn csrf_of(client: &reqwest::Client, url: &str) -> String {
    let body = client.get(url).send().await.unwrap().text().await.unwrap();
    let html = scraper::Html::parse_document(&body);
    let sel = scraper::Selector::parse("input[name=csrf_token]").unwrap();
    html.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .unwrap()
        .to_owned()
}

pub(crate) async fn log_in(client: &reqwest::Client, base: &str) -> String {
    let csrf = csrf_of(client, &format!("{base}/login")).await;
    let resp = client
        .post(format!("{base}/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", "owner@acme.test"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Lands on /orgs/{org}.
    resp.url().path().trim_start_matches("/orgs/").to_owned()
}

#[tokio::test]
async fn two_instances_share_sessions_invitations_and_the_outbox() {
    let cluster = Cluster::new();
    cluster.seed();
    // A links to itself; B's emails link to A too, as behind one load balancer address.
    let a = cluster.start("a", None).await;
    let b = cluster.start("b", Some(&a.base)).await;

    // A session made on A is valid on B (cookies are per host, not per port).
    let owner = client();
    let org = log_in(&owner, &a.base).await;
    let team_on_b = owner
        .get(format!("{}/orgs/{org}/team", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(team_on_b.status(), 200);
    assert!(team_on_b.text().await.unwrap().contains("Team Management"));

    // An invitation sent from A is accepted through B.
    let csrf = csrf_of(&owner, &format!("{}/orgs/{org}/team", a.base)).await;
    let sent = owner
        .post(format!("{}/orgs/{org}/invitations", a.base))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("emails", "crossing@example.com"),
            ("role", "editor"),
            ("message", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let mail = cluster.smtp.wait_for(1, 15).await;
    let link = mail[0].invitation_link().replace(&a.base, &b.base);
    assert!(link.starts_with(&b.base));
    let invitee = client();
    let csrf = csrf_of(&invitee, &link).await;
    let joined = invitee
        .post(format!("{link}/register"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("name", "Cross Ing"),
            ("password", "long enough pw"),
        ])
        .send()
        .await
        .unwrap();
    assert!(joined.url().as_str().starts_with(&b.base));
    assert!(
        joined
            .text()
            .await
            .unwrap()
            .contains("You joined Acme as Editor")
    );

    // The owner's "joined" notification, then a burst of 200 invitations spread over both
    // instances: each arrives exactly once.
    assert_eq!(cluster.smtp.wait_for(2, 15).await.len(), 2);
    let before = cluster.smtp.received().len();
    let csrf = csrf_of(&owner, &format!("{}/orgs/{org}/team", a.base)).await;
    let bases = [a.base.clone(), b.base.clone()];
    let statuses: Vec<u16> = futures::stream::iter(0..200)
        .map(|i| {
            let (owner, csrf, org) = (owner.clone(), csrf.clone(), org.clone());
            let base = bases[i % 2].clone();
            async move {
                let email = format!("burst-{i}@example.com");
                owner
                    .post(format!("{base}/orgs/{org}/invitations"))
                    .form(&[
                        ("csrf_token", csrf.as_str()),
                        ("emails", email.as_str()),
                        ("role", "viewer"),
                        ("message", ""),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    cluster.smtp.wait_for(before + 200, 60).await;
    tokio::time::sleep(StdDuration::from_millis(1500)).await; // room for any duplicate
    let got = cluster
        .smtp
        .received()
        .into_iter()
        .skip(before)
        .collect::<Vec<_>>();
    let mut per_recipient: HashMap<String, usize> = HashMap::new();
    for mail in &got {
        for r in &mail.recipients {
            *per_recipient.entry(r.clone()).or_default() += 1;
        }
    }
    let burst: Vec<_> = per_recipient
        .iter()
        .filter(|(r, _)| r.starts_with("burst-"))
        .collect();
    assert_eq!(burst.len(), 200, "no email missing");
    assert!(burst.iter().all(|(_, n)| **n == 1), "no email duplicated");
    assert_eq!(got.len(), 200);
}

#[tokio::test]
async fn sigterm_stops_accepting_finishes_the_request_in_flight_and_exits_zero() {
    let cluster = Cluster::new();
    cluster.seed();
    let mut instance = cluster.start("solo", None).await;
    let base = instance.base.clone();
    // One client that keeps cookies but shows redirects as they are.
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let owner = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let csrf = csrf_of(&owner, &format!("{base}/login")).await;
    let login = owner
        .post(format!("{base}/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", "owner@acme.test"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let home = owner.get(format!("{base}/")).send().await.unwrap();
    let org_path = home.headers()["location"].to_str().unwrap().to_owned();
    let csrf = csrf_of(&owner, &format!("{base}{org_path}/team")).await;
    let emails: Vec<String> = (0..1000)
        .map(|i| format!("drain-{i}@example.com"))
        .collect();
    let emails = emails.join("\n");

    // The body goes out in two halves with SIGTERM sent in between, so the request is
    // unambiguously in flight (half received) when the signal arrives.
    let body = serde_urlencoded::to_string([
        ("csrf_token", csrf.as_str()),
        ("emails", emails.as_str()),
        ("role", "viewer"),
        ("message", ""),
    ])
    .unwrap()
    .into_bytes();
    let second = body[body.len() / 2..].to_vec();
    let first = body[..body.len() / 2].to_vec();
    let (sent_tx, sent_rx) = tokio::sync::oneshot::channel::<()>();
    let (first_out_tx, first_out_rx) = tokio::sync::oneshot::channel::<()>();
    let chunks = futures::stream::once(async move {
        // Yielded: the request line, headers and first half are going out now.
        let _ = first_out_tx.send(());
        Ok::<_, std::io::Error>(first)
    })
    .chain(futures::stream::once(async move {
        let _ = sent_rx.await;
        Ok(second)
    }));
    // A fresh connection (same cookies): a pooled keep-alive connection could be closed by
    // the server's keep-alive timer just as the request starts, whatever SIGTERM does.
    let poster = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let request = poster
        .post(format!("{base}{org_path}/invitations"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(reqwest::Body::wrap_stream(chunks))
        .send();
    let pid = instance.child.id();
    let terminate = async {
        let _ = first_out_rx.await;
        // Ample time for the server to read the headers even on a loaded machine; the request
        // cannot complete meanwhile, because half its body is still held back.
        tokio::time::sleep(StdDuration::from_millis(1000)).await;
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        tokio::time::sleep(StdDuration::from_millis(300)).await;
        let _ = sent_tx.send(());
    };
    let (response, ()) = tokio::join!(request, terminate);
    let deadline = Instant::now() + StdDuration::from_secs(40);
    let status = loop {
        if let Some(status) = instance.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status:?}");
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "no longer accepting"
    );
    // It closed its database connections itself before exiting (none was left open on another
    // thread while the process went away).
    let log = std::fs::read_to_string(cluster.dir.path().join("solo.log")).unwrap();
    assert!(log.contains("Joinery stopped"), "{log}");
    assert!(!log.contains("still open at exit"), "{log}");
    // The request that was half uploaded when SIGTERM arrived is answered, and its work is all
    // there. (actix-server before 2.9.1 sometimes cut it off: a worker whose connection channel
    // closed before its stop message arrived exited and dropped the request; under load, 10 of 30
    // runs. The README's "Graceful shutdown" says more.)
    let answer = response.expect("the in-flight request is answered, not cut off");
    assert_eq!(
        answer.status(),
        303,
        "the invitations were sent and the usual redirect came back"
    );
    let db = joinery::db::Db::connect(&cluster.database_url, 1).unwrap();
    let count = db
        .with_conn(|c| {
            use diesel::prelude::*;
            Ok(joinery::db::schema::invitations::table
                .count()
                .get_result::<i64>(c)?)
        })
        .unwrap();
    assert_eq!(count, 1000, "the answered request's work is all there");
    // The outbox batch in hand was finished: no row is left leased ("sending") for another
    // instance to pick up ten minutes later, and every row marked sent arrived exactly once.
    let statuses: Vec<(String, String)> = db
        .with_conn(|c| {
            use diesel::prelude::*;
            use joinery::db::schema::outbox_emails::dsl::*;
            Ok(outbox_emails
                .select((recipient, status))
                .load::<(String, String)>(c)?)
        })
        .unwrap();
    assert_eq!(statuses.len(), 1000, "one email per invitation");
    let leased = statuses.iter().filter(|(_, s)| s == "sending").count();
    assert_eq!(leased, 0, "the batch in hand was finished before exit");
    let sent: Vec<&String> = statuses
        .iter()
        .filter(|(_, s)| s == "sent")
        .map(|(r, _)| r)
        .collect();
    assert!(
        statuses.iter().all(|(_, s)| s == "sent" || s == "queued"),
        "{statuses:?}"
    );
    let mut arrived: HashMap<String, usize> = HashMap::new();
    for mail in cluster.smtp.received() {
        for r in mail.recipients {
            *arrived.entry(r).or_default() += 1;
        }
    }
    assert_eq!(
        arrived.len(),
        sent.len(),
        "what arrived is what is marked sent"
    );
    assert!(
        sent.iter().all(|r| arrived.get(*r) == Some(&1)),
        "each sent email arrived exactly once"
    );
}

/// Dropping the database under a running app needs a server to drop it on, so this runs only
/// in the PostgreSQL pass (`cargo test --test api -- --include-ignored` with
/// `JOINERY_TEST_POSTGRES_URL` set, as `.ci/run` does); the SQLite pass lists it as ignored.
/// Run without that variable it fails rather than passing without having checked anything.
#[tokio::test]
#[ignore = "needs PostgreSQL; runs in the PostgreSQL pass"]
async fn readyz_answers_503_when_the_database_is_gone() {
    let database = TestDatabase::from_env().unwrap_or_else(|| {
        panic!("set {POSTGRES_ENV}: this test drops the app's PostgreSQL database under it")
    });
    let app = crate::helpers::spawn_app_with(|s| s.database_url = database.url.clone()).await;
    let b = app.browser();
    assert_eq!(b.get(paths::READYZ.pattern()).await.status, 200);
    assert_eq!(b.get(paths::HEALTHZ.pattern()).await.status, 200);
    drop(database); // DROP DATABASE … WITH (FORCE): every connection is cut.
    let page = b.get(paths::READYZ.pattern()).await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert_eq!(
        b.get(paths::HEALTHZ.pattern()).await.status,
        200,
        "the process is still alive"
    );
}
