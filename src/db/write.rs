//! Writing: one SQLite writer at a time, queued in this process rather than in SQLite's busy
//! handler, and transactions that compose (DESIGN.md, "Reliability and scale"; issue 16).

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, Connection as _, TransactionManager as _};

use super::AnyConnection;

/// The queue of this process's SQLite write transactions (see [`write_transaction`]).
static SQLITE_WRITER: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// How long a SQLite write transaction waits in this process's queue before it goes on to
/// SQLite's own busy handler.
const SQLITE_WRITER_WAIT: Duration = Duration::from_secs(2);

/// Runs `f` in a transaction that holds the write lock from its first statement.
///
/// On SQLite a plain (deferred) transaction that reads and then writes can fail at once with
/// `SQLITE_BUSY` when another connection wrote in between; `BEGIN IMMEDIATE` takes the write
/// lock up front, so writers queue behind `busy_timeout` instead. PostgreSQL uses an ordinary
/// transaction: row locks and conditional updates do the work there.
///
/// Called inside another write transaction, it runs `f` in a savepoint of it (on both
/// backends), so write operations compose: an error rolls back `f`'s part, and the outer
/// transaction decides about the rest.
///
/// # Errors
/// Whatever `f` returns (the transaction is rolled back), or the error of BEGIN/COMMIT.
pub fn write_transaction<T, E>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let nested = match conn {
        AnyConnection::Postgresql(_) => true, // an ordinary transaction, or a savepoint
        AnyConnection::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c)
            .transaction_depth()?
            .is_some(),
    };
    if nested {
        return conn.transaction(f);
    }
    // SQLite takes one writer at a time. Writers of this process queue here, woken the moment
    // the lock is free, rather than in SQLite's busy handler, which sleeps 1, 2, 5, … 100 ms
    // between tries (issue 16: the invite POST's p99 was half a second of such sleeps). Other
    // processes (the CLI, another instance) still meet the busy handler; a writer that waits
    // here longer than SQLITE_WRITER_WAIT goes on to it too, so this queue can never deadlock.
    let _writer = match conn {
        AnyConnection::Sqlite(_) => SQLITE_WRITER.try_lock_for(SQLITE_WRITER_WAIT),
        AnyConnection::Postgresql(_) => None,
    };
    if let AnyConnection::Sqlite(c) = conn {
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
    }
    let result = f(conn);
    if let AnyConnection::Sqlite(c) = conn {
        match &result {
            Ok(_) => {
                if let Err(e) = AnsiTransactionManager::commit_transaction(c) {
                    let _ = AnsiTransactionManager::rollback_transaction(c);
                    return Err(e.into());
                }
            }
            Err(_) => AnsiTransactionManager::rollback_transaction(c)?,
        }
    }
    result
}

/// Runs the single write `f`: on SQLite in a [`write_transaction`], so that it queues behind
/// this process's other writers rather than sleeping in SQLite's busy handler; on PostgreSQL
/// as it is (one statement commits on its own, without BEGIN and COMMIT round trips).
///
/// # Errors
/// Whatever `f` returns, or the error of BEGIN/COMMIT.
pub fn single_write<T, E>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    match conn {
        AnyConnection::Sqlite(_) => write_transaction(conn, f),
        AnyConnection::Postgresql(_) => f(conn),
    }
}
