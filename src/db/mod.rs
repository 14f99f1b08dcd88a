//! How Joinery is *stored*: the schema, row structs, queries and transactions. Diesel stays in
//! this module; callers get domain types and [`DbError`].
//!
//! Every state change of an invitation is one conditional `UPDATE … WHERE status = 'pending'
//! AND expires_at > now` whose row count is checked, so of two racing requests exactly one wins.

pub mod api_listing;
pub mod api_tokens;
pub mod audit;
pub mod backup;
pub mod domains;
pub mod imports;
pub mod invitations;
pub mod invite_links;
pub mod join_requests;
pub mod links;
pub mod members;
pub mod models;
pub mod organizations;
pub mod outbox;
pub mod schema;
pub mod seats;
pub mod sessions;
pub mod signups;
pub mod team_listing;
pub mod tenant_invitations;
mod url;
pub mod users;
pub mod webhooks;
mod write;

pub use url::{redacted_url, sqlite_path};
pub use write::{single_write, write_transaction};

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::Connection;
use diesel::connection::{SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{CustomizeConnection, HandleError, HandleEvent, Pool, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// A connection to whichever database `DATABASE_URL` names; every query takes one. Code that
/// must differ per backend matches on the variant, and stays inside `db/`.
/// Runs `$body` with `$c` bound to the concrete connection behind `$conn`, written once for
/// both: for statements the multi-backend connection cannot express (multi-row INSERTs), and
/// for the reads every page makes (session, account, organization, membership, a link's
/// look-up). Through the multi-backend connection a query's SQL is built again on every
/// execution, three times, even when its prepared statement is cached — an eighth of the
/// acceptance page's CPU (issue 16); on the concrete connection a cached statement is only
/// bound.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Postgresql($c) => $body,
            $crate::db::AnyConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_backend;

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// PostgreSQL (`postgres://…` or `postgresql://…`).
    Postgresql(PgConnection),
    /// SQLite (`sqlite://PATH`, `sqlite:PATH` or a bare path).
    Sqlite(SqliteConnection),
}

/// The connection type every query takes.
pub type Conn = AnyConnection;

/// Migrations for SQLite, compiled into the binary.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// Migrations for PostgreSQL, compiled into the binary.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl Backend {
    /// Decides the backend from the URL's scheme: `postgres://` and `postgresql://` are
    /// PostgreSQL; anything else is a SQLite path.
    pub fn of(database_url: &str) -> Self {
        if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// What can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had from the pool in time.
    #[error("database connection unavailable: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// A blocking database task panicked or was cancelled.
    #[error("database task failed: {0}")]
    Task(String),
    /// A stored value could not be read back as its domain type.
    #[error("stored value is not valid: {0}")]
    Corrupt(String),
    /// Running migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
}

impl DbError {
    /// Whether the database could not be reached (no connection in time, or the connection
    /// was lost under the query), rather than a query or the data being wrong: the web layer
    /// answers such a request 503 (`web::error::render_500`).
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind as Kind, Error as E};
        matches!(
            self,
            DbError::Pool(_)
                | DbError::Query(E::DatabaseError(
                    Kind::ClosedConnection | Kind::UnableToSendCommand,
                    _
                ))
        )
    }
}

/// Opens connections of the backend the URL names (the derive's own `establish` would try
/// each backend in turn, and SQLite accepts any string as a path).
#[derive(Debug)]
pub struct Manager {
    url: String,
    backend: Backend,
    /// The pool's [`PoolWatch`] token: the manager holds one share and every open connection
    /// another ([`PooledConn`]), so the watch sees the pool end only when r2d2 has dropped the
    /// manager *and* closed the last connection.
    pool_alive: Arc<()>,
}

/// A connection as the pool holds it: the connection, then a share of its pool's
/// [`PoolWatch`] token. Rust drops fields in declaration order, so the connection is closed
/// (libpq's `PQfinish`, SQLite's `sqlite3_close`) before the share is released.
pub struct PooledConn {
    conn: AnyConnection,
    _pool_alive: Arc<()>,
}

impl std::ops::Deref for PooledConn {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl diesel::r2d2::ManageConnection for Manager {
    type Connection = PooledConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PooledConn, Self::Error> {
        let conn = match self.backend {
            Backend::Postgres => PgConnection::establish(&self.url).map(AnyConnection::Postgresql),
            Backend::Sqlite => {
                SqliteConnection::establish(sqlite_path(&self.url)).map(AnyConnection::Sqlite)
            }
        };
        Ok(PooledConn {
            conn: conn.map_err(diesel::r2d2::Error::ConnectionError)?,
            _pool_alive: Arc::clone(&self.pool_alive),
        })
    }

    fn is_valid(&self, conn: &mut PooledConn) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut PooledConn) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

#[derive(Debug)]
struct ConnectionSetup;

impl CustomizeConnection<PooledConn, diesel::r2d2::Error> for ConnectionSetup {
    fn on_acquire(&self, conn: &mut PooledConn) -> Result<(), diesel::r2d2::Error> {
        let setup = match &mut **conn {
            // busy_timeout first, so that switching to WAL waits for other connections; WAL
            // lets readers work while one writer commits; foreign keys are off by default.
            // Each connection keeps at most 512 KiB of pages (SQLite's default is 2 MiB): the
            // file's pages stay in the system's page cache anyway, and eight pooled
            // connections reading a 10,000-member organization held 16 MiB of copies
            // (issue 16: peak RSS). Statement journals stay in memory: a statement that writes
            // through triggers keeps one, and a 1,000-address invite wrote it to a temporary
            // file (a fifth of that request's time).
            AnyConnection::Sqlite(c) => c.batch_execute(
                "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                 PRAGMA cache_size = -512; PRAGMA temp_store = MEMORY;",
            ),
            // Timestamps are stored as UTC; make the session agree whatever the server's zone.
            AnyConnection::Postgresql(c) => c.batch_execute("SET TIME ZONE 'UTC'"),
        };
        setup.map_err(diesel::r2d2::Error::QueryError)
    }
}

/// A connection checked out of the pool; it goes back when dropped. Dereferences to [`Conn`].
pub type Pooled = diesel::r2d2::PooledConnection<Manager>;

/// A cloneable handle on the connection pool.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    backend: Backend,
    pool_alive: Weak<()>,
    reach: Arc<Reachability>,
}

/// How long a check-out waits for a connection by default (the command line's one-off
/// commands and the tests; the server takes `--db-checkout-timeout-ms`).
pub const DEFAULT_CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);

/// How a pool is set up besides its URL.
#[derive(Clone)]
pub struct PoolOptions {
    /// The most connections open at once.
    pub max_connections: u32,
    /// How long taking a connection may wait (for a free one, or for the database to answer a
    /// new one) before it fails with [`DbError::Pool`]. It bounds how long a request waits
    /// while the database is down.
    pub checkout_timeout: Duration,
    /// Told how long each check-out waited (the `/metrics` pool-wait histogram).
    pub observer: Option<Arc<dyn PoolObserver>>,
}

impl PoolOptions {
    /// `max_connections` connections, [`DEFAULT_CHECKOUT_TIMEOUT`], nobody told.
    pub fn new(max_connections: u32) -> Self {
        Self {
            max_connections,
            checkout_timeout: DEFAULT_CHECKOUT_TIMEOUT,
            observer: None,
        }
    }
}

/// Hears how long connection check-outs wait (called on the thread that checks out).
pub trait PoolObserver: Send + Sync {
    /// A check-out got a connection after waiting `waited`.
    fn checked_out(&self, waited: Duration);
    /// A check-out gave up after `waited` (the pool's check-out timeout).
    fn timed_out(&self, waited: Duration);
}

/// Whether the pool can currently reach the database: lost when opening or checking a
/// connection fails or a check-out times out, found again when a connection is opened or a
/// check-out succeeds. Shared by every handle on one pool.
#[derive(Debug, Default)]
struct Reachability {
    lost: AtomicBool,
}

impl Reachability {
    fn found(&self) {
        // Read first: the flag is written only when it changes, not on every check-out.
        if self.lost.load(Ordering::Relaxed) && self.lost.swap(false, Ordering::Relaxed) {
            tracing::info!("database reachable again");
        }
    }

    /// Marks the database unreachable; returns whether it was reachable until now.
    fn lost(&self) -> bool {
        !self.lost.swap(true, Ordering::Relaxed)
    }
}

/// r2d2's events, relayed to [`Reachability`] and the [`PoolObserver`].
struct PoolEvents {
    reach: Arc<Reachability>,
    observer: Option<Arc<dyn PoolObserver>>,
}

impl std::fmt::Debug for PoolEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolEvents").finish_non_exhaustive()
    }
}

impl HandleEvent for PoolEvents {
    fn handle_acquire(&self, _: diesel::r2d2::event::AcquireEvent) {
        self.reach.found();
    }

    fn handle_checkout(&self, event: diesel::r2d2::event::CheckoutEvent) {
        self.reach.found();
        if let Some(observer) = &self.observer {
            observer.checked_out(event.duration());
        }
    }

    fn handle_timeout(&self, event: diesel::r2d2::event::TimeoutEvent) {
        if self.reach.lost() {
            tracing::warn!("no database connection within the check-out timeout");
        }
        if let Some(observer) = &self.observer {
            observer.timed_out(event.timeout());
        }
    }
}

/// r2d2's connection errors (opening a connection, or the check of an idle one): logged, and
/// the database marked unreachable until a connection works again.
#[derive(Debug)]
struct PoolErrors {
    reach: Arc<Reachability>,
}

impl HandleError<diesel::r2d2::Error> for PoolErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        // libpq's messages name the host and port, never the password. Logged once per
        // outage: r2d2 retries every missing connection with a backoff meanwhile.
        if self.reach.lost() {
            tracing::warn!(error = %error, "database unreachable");
        } else {
            tracing::debug!(error = %error, "database connection failed");
        }
    }
}

/// Tells when a pool has ended: every [`Db`] handle dropped, no background reconnect of
/// r2d2's still holding the pool, and every connection closed (not merely dropped by the
/// pool: see [`PooledConn`]). Taken with [`Db::watch`].
///
/// A process must not exit while a connection is still open on another thread: libpq's TLS
/// state belongs to OpenSSL, whose exit handler tears it down under that thread.
#[derive(Debug, Clone)]
pub struct PoolWatch(Weak<()>);

/// How often [`PoolWatch`] looks again while it waits.
const POOL_WATCH_INTERVAL: Duration = Duration::from_millis(5);

impl PoolWatch {
    /// Whether the pool has ended.
    pub fn is_closed(&self) -> bool {
        self.0.strong_count() == 0
    }

    /// Waits, without blocking the async runtime, until the pool has ended or `timeout` has
    /// passed; returns whether it ended.
    pub async fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.is_closed() {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(POOL_WATCH_INTERVAL).await;
        }
        true
    }
}

impl Db {
    /// Opens a pool of up to `max_connections` connections to `database_url`, choosing the
    /// backend from its scheme ([`Backend::of`]).
    ///
    /// # Errors
    /// [`DbError::Pool`] when the database cannot be reached.
    pub fn connect(database_url: &str, max_connections: u32) -> Result<Self, DbError> {
        Self::connect_with(database_url, PoolOptions::new(max_connections))
    }

    /// Opens a pool as [`Db::connect`] does, set up by `options`.
    ///
    /// # Errors
    /// [`DbError::Pool`] when the database cannot be reached within the check-out timeout.
    pub fn connect_with(database_url: &str, options: PoolOptions) -> Result<Self, DbError> {
        let backend = Backend::of(database_url);
        let reach = Arc::new(Reachability::default());
        let pool_alive = Arc::new(());
        let watch = Arc::downgrade(&pool_alive);
        let manager = Manager {
            url: database_url.to_owned(),
            backend,
            pool_alive,
        };
        let pool = Pool::builder()
            .max_size(options.max_connections)
            .connection_timeout(options.checkout_timeout)
            .event_handler(Box::new(PoolEvents {
                reach: Arc::clone(&reach),
                observer: options.observer,
            }))
            .error_handler(Box::new(PoolErrors {
                reach: Arc::clone(&reach),
            }))
            // r2d2 runs `is_valid` (a `SELECT 1`) on every check-out by default: one extra
            // statement per database hop. A SQLite file cannot drop the connection, so only
            // PostgreSQL keeps the check (a server restart would otherwise fail a request).
            .test_on_check_out(backend == Backend::Postgres)
            .connection_customizer(Box::new(ConnectionSetup))
            .build(manager)?;
        Ok(Self {
            pool,
            backend,
            pool_alive: watch,
            reach,
        })
    }

    /// Whether the database is unreachable at the moment: the pool's last attempt to open or
    /// check a connection failed, or a check-out timed out, and no check-out has succeeded
    /// since. The web layer answers a failed request 503 rather than 500 while this holds.
    pub fn unreachable(&self) -> bool {
        self.reach.lost.load(Ordering::Relaxed)
    }

    /// The pool's connections: (open, idle).
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    /// A watch that tells when this pool has ended (see [`PoolWatch`]).
    pub fn watch(&self) -> PoolWatch {
        PoolWatch(self.pool_alive.clone())
    }

    /// How many of the pool's connections are checked out at this moment (a diagnostic: the
    /// tests use it to see a request waiting for SQLite's write lock, which SQLite does not
    /// show anywhere else).
    pub fn connections_in_use(&self) -> u32 {
        let state = self.pool.state();
        state.connections.saturating_sub(state.idle_connections)
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies every pending embedded migration of the backend in use; returns how many ran.
    ///
    /// # Errors
    /// [`DbError::Migration`] when a migration fails.
    pub fn migrate(&self) -> Result<usize, DbError> {
        let mut conn = self.pool.get()?;
        let ran = match &mut **conn {
            AnyConnection::Sqlite(c) => {
                c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len())
            }
            AnyConnection::Postgresql(c) => c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len()),
        };
        ran.map_err(|e| DbError::Migration(e.to_string()))
    }

    /// A connection from the pool, for code already on a blocking thread (the service layer).
    ///
    /// # Errors
    /// [`DbError::Pool`] when no connection is available in time.
    pub fn get(&self) -> Result<Pooled, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` with a pooled connection on the current thread. For the CLI and for code that
    /// is already on a blocking thread.
    ///
    /// # Errors
    /// [`DbError::Pool`] when no connection is available, or whatever `f` returns.
    pub fn with_conn<R>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<R, DbError>,
    ) -> Result<R, DbError> {
        let mut conn = self.pool.get()?;
        f(&mut conn)
    }

    /// Runs `f` with a pooled connection on the blocking thread pool, so that database I/O
    /// never stalls an async worker.
    ///
    /// # Errors
    /// As [`Db::with_conn`], plus [`DbError::Task`] if the task panicked.
    pub async fn run<R, F>(&self, f: F) -> Result<R, DbError>
    where
        F: FnOnce(&mut Conn) -> Result<R, DbError> + Send + 'static,
        R: Send + 'static,
    {
        let db = self.clone();
        // Whatever the query logs stays in the request's span (its request id).
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| db.with_conn(f)))
            .await
            .map_err(|e| DbError::Task(e.to_string()))?
    }

    /// Runs `f` — a few indexed reads, nothing that writes — with a pooled connection. On
    /// SQLite, when a connection is idle, it runs on the current thread: such reads take
    /// microseconds and never wait for the writer (WAL lets readers go on while one writes),
    /// so handing them to a blocking thread costs more than the reads (issue 16: thread
    /// hand-offs were a quarter of the Team page's CPU). Otherwise — PostgreSQL, whose every
    /// query is a network round trip, or no idle connection — as [`Db::run`].
    ///
    /// # Errors
    /// As [`Db::run`].
    pub async fn read<R, F>(&self, f: F) -> Result<R, DbError>
    where
        F: FnOnce(&mut Conn) -> Result<R, DbError> + Send + 'static,
        R: Send + 'static,
    {
        if self.runs_reads_inline()
            && let Some(mut conn) = self.pool.try_get()
        {
            return f(&mut conn);
        }
        self.run(f).await
    }

    /// Whether [`Db::read`] may run on the current thread now: SQLite with a connection idle.
    pub fn runs_reads_inline(&self) -> bool {
        self.backend == Backend::Sqlite && self.pool.state().idle_connections > 0
    }

    /// Whether the database answers a trivial query (for `/readyz`). Takes a fresh connection
    /// check, so a database that went away is noticed.
    pub async fn ping(&self) -> bool {
        self.run(|c| c.ping().map_err(DbError::from)).await.is_ok()
    }
}

/// Runs the reads in `f` on one snapshot of the database and returns what `f` returns.
///
/// On SQLite the reads share one deferred (read) transaction: outside one, every statement
/// opens and closes its own, and each of those takes and releases the WAL's shared-memory
/// read lock with `fcntl` — a tenth of the acceptance page's CPU with its five look-ups
/// (issue 16). The transaction is always committed (it wrote nothing); `f`'s error is returned
/// as is. On PostgreSQL `f` runs as it would without this (a transaction would add two round
/// trips).
///
/// # Errors
/// `f`'s errors; [`DbError::Query`] (as `E`) when SQLite cannot begin or end the transaction.
pub fn snapshot<R, E: From<DbError>>(
    conn: &mut Conn,
    f: impl FnOnce(&mut Conn) -> Result<R, E>,
) -> Result<R, E> {
    match conn {
        AnyConnection::Sqlite(_) => conn
            .transaction(|c| Ok::<_, diesel::result::Error>(f(c)))
            .map_err(|e| E::from(DbError::from(e)))?,
        AnyConnection::Postgresql(_) => f(conn),
    }
}

/// A UTC instant as stored (naive UTC).
pub fn to_db(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

/// A stored naive UTC timestamp as an instant.
pub fn from_db(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// Parses a stored enum or id; a failure means the row was written by something other than
/// Joinery and is reported as [`DbError::Corrupt`].
pub fn parse_stored<T: FromStr>(value: &str, what: &str) -> Result<T, DbError> {
    value
        .parse()
        .map_err(|_| DbError::Corrupt(format!("{what} {value:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_are_shown_without_their_password() {
        let cases = [
            (
                "postgres://user:secret@host/db",
                "postgres://user:***@host/db",
            ),
            (
                "postgresql://u:p%40ss@h1:5432,h2:5433/db?sslmode=require",
                "postgresql://u:***@h1:5432,h2:5433/db?sslmode=require",
            ),
            // An unencoded `@` in the password: libpq takes the last one.
            ("postgres://u:p@ss@host/db", "postgres://u:***@host/db"),
            (
                "postgres://host/db?user=u&Password=secret&sslmode=disable",
                "postgres://host/db?user=u&Password=***&sslmode=disable",
            ),
            ("postgres://user:@host", "postgres://user:***@host"),
        ];
        for (url, shown) in cases {
            assert_eq!(redacted_url(url), shown);
        }
        for unchanged in [
            "postgres://user@host/db",
            "postgres://host:5432/db?sslmode=require",
            "postgres://postgres@127.0.0.1:5432/postgres",
            "sqlite:///var/lib/joinery/joinery.db",
            "sqlite://user:secret@odd-but-a-path.db",
            "/data/joinery.db",
            "joinery.db",
        ] {
            assert_eq!(redacted_url(unchanged), unchanged);
            assert!(matches!(
                redacted_url(unchanged),
                std::borrow::Cow::Borrowed(_)
            ));
        }
    }

    /// The watch stays open while anything can still use a connection — a handle, or a
    /// connection checked out after the last handle went — and closes once both are gone (an
    /// r2d2 thread may hold the pool a moment longer, hence the wait).
    #[tokio::test]
    async fn a_pool_watch_closes_only_after_every_handle_and_connection() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("watch.db").display());
        let db = Db::connect(&url, 2).unwrap();
        let watch = db.watch();
        let other = db.clone();
        drop(db);
        assert!(!watch.is_closed(), "another handle is left");

        let checked_out = other.pool.get().unwrap();
        drop(other);
        assert!(!watch.is_closed(), "a connection is still out");

        let wal = dir.path().join("watch.db-wal");
        assert!(
            wal.exists(),
            "open connections keep SQLite's write-ahead log"
        );
        drop(checked_out);
        assert!(watch.wait(Duration::from_secs(5)).await);
        assert!(
            !wal.exists(),
            "the last connection to close removed the log"
        );
    }
}
