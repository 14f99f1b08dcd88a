//! The app under test: [`TestApp`] and the builder that starts it on its own thread and
//! runtime, with its own database (SQLite, or a fresh PostgreSQL database when
//! `JOINERY_TEST_POSTGRES_URL` is set), and the teardown that stops it.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;

use actix_web::dev::ServerHandle;
use chrono::{DateTime, TimeZone, Utc};
use joinery::config::Settings;
use joinery::db::{self, Db};
use joinery::domain::ManualClock;
use joinery::startup::Application;

/// A running app and what a test needs to reach it. Dropping it stops the app and waits until
/// its database connections have closed (see [`Teardown`]).
pub struct TestApp {
    pub address: String,
    pub clock: ManualClock,
    pub db: Db,
    pub mailbox: PathBuf,
    /// The settings the app was started with (its database URL and keys included).
    pub settings: Settings,
    /// `http://ADDR` of the metrics listener, when `settings.metrics_bind` was set.
    pub metrics_address: Option<String>,
    pub(super) seen_mail: Mutex<HashSet<PathBuf>>,
    // Fields drop in order: `db` above goes first, then the teardown stops the app.
    _teardown: Teardown,
    _data_dir: tempfile::TempDir,
}

/// Starts the app with test settings.
pub async fn spawn_app() -> TestApp {
    TestApp::builder().spawn().await
}

/// Starts the app after `adjust` has changed the test settings.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    TestApp::builder().settings(adjust).spawn().await
}

/// A change to the settings an app starts with.
type Adjustment<'a> = Box<dyn FnOnce(&mut Settings) + 'a>;

/// How a test's app starts: settings adjusted, and the time its manual clock starts at.
pub struct AppBuilder<'a> {
    adjust: Vec<Adjustment<'a>>,
    now: DateTime<Utc>,
}

impl TestApp {
    /// A builder with test settings and the clock at 2026-03-02 09:00 UTC.
    pub fn builder<'a>() -> AppBuilder<'a> {
        AppBuilder {
            adjust: Vec::new(),
            now: Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
        }
    }
}

impl<'a> AppBuilder<'a> {
    /// Changes the settings the app starts with.
    pub fn settings(mut self, adjust: impl FnOnce(&mut Settings) + 'a) -> Self {
        self.adjust.push(Box::new(adjust));
        self
    }

    /// Starts the app's manual clock at `now`.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = now;
        self
    }

    /// Starts the app. It runs on a thread of its own with its own runtime, as the real binary
    /// does, so the test can stop it and wait for it when it ends rather than abandoning it
    /// half-running when the test's runtime goes away.
    pub async fn spawn(self) -> TestApp {
        let data_dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::for_tests(data_dir.path());
        // With JOINERY_TEST_POSTGRES_URL set, every test gets its own PostgreSQL database.
        let database = TestDatabase::from_env();
        if let Some(database) = &database {
            settings.database_url = database.url.clone();
        }
        for adjust in self.adjust {
            adjust(&mut settings);
        }
        let clock = ManualClock::new(self.now);
        let (started, app) = tokio::sync::oneshot::channel();
        let app_thread = {
            let settings = settings.clone();
            let clock = std::sync::Arc::new(clock.clone());
            std::thread::Builder::new()
                .name("test-app".to_owned())
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    runtime.block_on(async move {
                        let app = Application::build(settings, clock).await.unwrap();
                        let running = (
                            app.base_url().to_owned(),
                            app.db(),
                            app.server_handle(),
                            app.metrics_addr().map(|a| format!("http://{a}")),
                        );
                        if started.send(running).is_ok() {
                            app.run_until_stopped().await.unwrap();
                        }
                    });
                })
                .unwrap()
        };
        let (address, db, server, metrics_address) = app
            .await
            .expect("the app failed to start; see its panic above");
        TestApp {
            address,
            clock,
            _teardown: Teardown {
                server,
                app_thread: Some(app_thread),
                pool: db.watch(),
                database,
            },
            db,
            mailbox: data_dir.path().join("mailbox"),
            settings,
            metrics_address,
            seen_mail: Mutex::new(HashSet::new()),
            _data_dir: data_dir,
        }
    }
}

/// The last part of a [`TestApp`] to go (after its `db` handle): stops the server at once
/// (nothing of the test is in flight any more), waits for the app's thread, which ends once
/// the outbox has stopped and the pool has closed every connection (`run_until_stopped`
/// waits up to 5 s for that), checks that it did, and only then drops the
/// test's PostgreSQL database. So no connection is cut under the app, and nothing is left
/// talking to the database when the test process exits (libpq's TLS state is torn down by
/// OpenSSL's exit handler, under any thread still using it).
struct Teardown {
    server: ServerHandle,
    app_thread: Option<std::thread::JoinHandle<()>>,
    pool: db::PoolWatch,
    database: Option<TestDatabase>,
}

impl Drop for Teardown {
    fn drop(&mut self) {
        drop(self.server.stop(false));
        if let Some(thread) = self.app_thread.take() {
            let _ = thread.join();
        }
        // The app's thread waited for its pool to end before returning.
        if !self.pool.is_closed() && !std::thread::panicking() {
            panic!("the app stopped with database connections still open");
        }
    }
}

/// The environment variable naming a PostgreSQL server for the tests (a URL to a database the
/// tests may connect to in order to create and drop their own, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`). Unset: the tests run on SQLite.
pub const POSTGRES_ENV: &str = "JOINERY_TEST_POSTGRES_URL";

/// A fresh PostgreSQL database for one test, dropped (with its connections) when the test ends.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl TestDatabase {
    /// A new database on the server named by [`POSTGRES_ENV`], or `None` when it is unset.
    pub fn from_env() -> Option<Self> {
        let admin_url = std::env::var(POSTGRES_ENV).ok().filter(|u| !u.is_empty())?;
        Some(Self::create(&admin_url))
    }

    /// Creates a uniquely named database on the server of `admin_url`.
    pub fn create(admin_url: &str) -> Self {
        use diesel::Connection as _;
        use diesel::RunQueryDsl as _;
        let name = format!("joinery_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = diesel::PgConnection::establish(admin_url)
            .unwrap_or_else(|e| panic!("cannot reach {POSTGRES_ENV}={admin_url}: {e}"));
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap();
        let mut url = reqwest::Url::parse(admin_url).unwrap();
        url.set_path(&name);
        Self {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        use diesel::Connection as _;
        use diesel::RunQueryDsl as _;
        if let Ok(mut admin) = diesel::PgConnection::establish(&self.admin_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

/// A loopback port with nothing listening on it (for an SMTP server that is down).
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
