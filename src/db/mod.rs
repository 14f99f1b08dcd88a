//! How Joinery is *stored*: the schema, row structs, queries and transactions. Diesel stays in
//! this module; callers get domain types and [`DbError`].
//!
//! Every state change of an invitation is one conditional `UPDATE … WHERE status = 'pending'
//! AND expires_at > now` whose row count is checked, so of two racing requests exactly one wins.

pub mod invitations;
pub mod models;
pub mod organizations;
pub mod outbox;
pub mod schema;
pub mod sessions;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The connection type every query takes.
pub type Conn = SqliteConnection;

/// Migrations compiled into the binary; run at start-up and by `joinery migrate`.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

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

/// A cloneable handle on the connection pool.
#[derive(Clone)]
pub struct Db {
    pool: Pool<ConnectionManager<Conn>>,
}

#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<Conn, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), diesel::r2d2::Error> {
        // WAL lets readers work while one writer commits; busy_timeout makes a writer wait for
        // the lock instead of failing at once; foreign keys are off by default in SQLite.
        conn.batch_execute(
            "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Turns a `DATABASE_URL` into the path SQLite opens: `sqlite://path`, `sqlite:path` and a bare
/// path are all accepted.
pub fn sqlite_path(database_url: &str) -> &str {
    database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .unwrap_or(database_url)
}

impl Db {
    /// Opens a pool of up to `max_connections` connections to `database_url`.
    ///
    /// # Errors
    /// [`DbError::Pool`] when the database cannot be opened.
    pub fn connect(database_url: &str, max_connections: u32) -> Result<Self, DbError> {
        let manager = ConnectionManager::<Conn>::new(sqlite_path(database_url));
        let pool = Pool::builder()
            .max_size(max_connections)
            .connection_timeout(Duration::from_secs(10))
            .connection_customizer(Box::new(SqlitePragmas))
            .build(manager)?;
        Ok(Self { pool })
    }

    /// Applies every pending embedded migration; returns how many ran.
    ///
    /// # Errors
    /// [`DbError::Migration`] when a migration fails.
    pub fn migrate(&self) -> Result<usize, DbError> {
        let mut conn = self.pool.get()?;
        let ran = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(ran.len())
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

    /// Runs `f` with a pooled connection on the blocking thread pool, so that SQLite's
    /// synchronous I/O never stalls an async worker.
    ///
    /// # Errors
    /// As [`Db::with_conn`], plus [`DbError::Task`] if the task panicked.
    pub async fn run<R, F>(&self, f: F) -> Result<R, DbError>
    where
        F: FnOnce(&mut Conn) -> Result<R, DbError> + Send + 'static,
        R: Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.with_conn(f))
            .await
            .map_err(|e| DbError::Task(e.to_string()))?
    }

    /// Whether the database answers a trivial query (for `/readyz`).
    pub async fn ping(&self) -> bool {
        self.run(|c| c.batch_execute("SELECT 1").map_err(DbError::from))
            .await
            .is_ok()
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
