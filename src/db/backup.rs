//! `joinery backup`: a consistent copy of a SQLite database taken while the server runs and
//! writes, through SQLite's online backup API (`sqlite3_backup_init/step/finish`,
//! <https://sqlite.org/backup.html>). PostgreSQL is backed up with `pg_dump` (README, "Backup
//! and upgrade").
//!
//! The copy is made in one backup step: on a database in WAL mode (Joinery's, see
//! `ConnectionSetup`) that step reads one snapshot, so writers go on meanwhile and the copy is
//! the database as it stood at one commit. (Copying in several steps would restart whenever
//! another connection wrote in between, and might never finish under steady writes.)
//!
//! The unsafe calls into `libsqlite3-sys` are confined to [`raw`]; everything else uses its
//! safe wrapper.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the backup retries while the source is locked (SQLITE_BUSY / SQLITE_LOCKED).
const BUSY_DEADLINE: Duration = Duration::from_secs(30);

/// What a finished backup copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Pages copied.
    pub pages: i32,
    /// The size of one page, in bytes.
    pub page_size: u64,
}

/// Why a backup failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The source database does not exist (a backup never creates one).
    #[error("{0} does not exist: nothing to back up")]
    NoSource(PathBuf),
    /// The destination exists already (a backup never overwrites a file).
    #[error("{0} already exists: choose a new file name")]
    Exists(PathBuf),
    /// SQLite refused an operation.
    #[error("SQLite: {0}")]
    Sqlite(String),
    /// The copy was made but does not pass SQLite's `quick_check`.
    #[error("the copy failed its integrity check: {0}")]
    Corrupt(String),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// Copies the SQLite database at `source` into a new file `to`, consistently, while other
/// connections keep reading and writing it. The copy is written beside `to` under a temporary
/// name, checked with `PRAGMA quick_check`, and only then linked into place, so `to` is either
/// a whole, checked database or absent.
///
/// # Errors
/// [`BackupError`]: no source, an existing `to`, SQLite's own errors (the source stayed locked
/// for [`BUSY_DEADLINE`]), a copy that fails its check, or a file operation.
pub fn backup_sqlite(source: &Path, to: &Path) -> Result<Copied, BackupError> {
    if !source.is_file() {
        return Err(BackupError::NoSource(source.to_path_buf()));
    }
    if to.exists() {
        return Err(BackupError::Exists(to.to_path_buf()));
    }
    let mut partial = to.as_os_str().to_owned();
    partial.push(format!(".partial-{}", uuid::Uuid::new_v4().simple()));
    let partial = PathBuf::from(partial);
    let result = copy_and_check(source, &partial).and_then(|copied| {
        // A hard link fails if `to` appeared meanwhile, where a rename would replace it.
        std::fs::hard_link(&partial, to).map_err(|e| BackupError::Io {
            path: to.to_path_buf(),
            source: e,
        })?;
        Ok(copied)
    });
    let _ = std::fs::remove_file(&partial);
    result
}

fn copy_and_check(source: &Path, dest: &Path) -> Result<Copied, BackupError> {
    let copied = {
        let src = raw::Connection::open(source, false)?;
        let dst = raw::Connection::open(dest, true)?;
        let mut backup = raw::Backup::new(&dst, &src)?;
        let started = Instant::now();
        loop {
            match backup.step_all()? {
                raw::Step::Done => break,
                raw::Step::Busy if started.elapsed() < BUSY_DEADLINE => {
                    std::thread::sleep(Duration::from_millis(25));
                }
                raw::Step::Busy => {
                    return Err(BackupError::Sqlite(format!(
                        "the database stayed locked for {} s",
                        BUSY_DEADLINE.as_secs()
                    )));
                }
            }
        }
        let pages = backup.page_count();
        backup.finish()?;
        Copied {
            pages,
            page_size: 0,
        }
        // `dst` closes here: the copy is complete on disk, with no write-ahead log beside it.
    };
    let page_size = check(dest)?;
    Ok(Copied {
        page_size,
        ..copied
    })
}

/// Runs `PRAGMA quick_check` on the copy; returns its page size.
fn check(path: &Path) -> Result<u64, BackupError> {
    use diesel::{Connection as _, RunQueryDsl as _};
    #[derive(diesel::QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        quick_check: String,
    }
    #[derive(diesel::QueryableByName)]
    struct PageSize {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        page_size: i64,
    }
    let text = path.display().to_string();
    let mut conn = diesel::SqliteConnection::establish(&text)
        .map_err(|e| BackupError::Sqlite(e.to_string()))?;
    let checks: Vec<Check> = diesel::sql_query("PRAGMA quick_check")
        .load(&mut conn)
        .map_err(|e| BackupError::Sqlite(e.to_string()))?;
    let verdict: Vec<String> = checks.into_iter().map(|c| c.quick_check).collect();
    if verdict != ["ok"] {
        return Err(BackupError::Corrupt(verdict.join("; ")));
    }
    let size: Vec<PageSize> = diesel::sql_query("PRAGMA page_size")
        .load(&mut conn)
        .map_err(|e| BackupError::Sqlite(e.to_string()))?;
    Ok(size
        .first()
        .map_or(0, |p| u64::try_from(p.page_size).unwrap_or(0)))
}

/// The only unsafe code of the backup: a connection handle and a backup handle over the C
/// API, each released exactly once by its `Drop` (or `finish`).
mod raw {
    use std::ffi::{CStr, CString, c_int};
    use std::path::Path;
    use std::ptr;

    use libsqlite3_sys as ffi;

    use super::BackupError;

    /// An open `sqlite3*`, closed on drop.
    pub struct Connection(*mut ffi::sqlite3);

    impl Connection {
        /// Opens `path` read-write; creates it only when `create`. Waits up to 5 s on a busy
        /// lock, as the server's connections do.
        pub fn open(path: &Path, create: bool) -> Result<Self, BackupError> {
            let name = CString::new(path.display().to_string())
                .map_err(|_| BackupError::Sqlite(format!("{} contains NUL", path.display())))?;
            let flags = ffi::SQLITE_OPEN_READWRITE
                | ffi::SQLITE_OPEN_NOMUTEX
                | if create { ffi::SQLITE_OPEN_CREATE } else { 0 };
            let mut db: *mut ffi::sqlite3 = ptr::null_mut();
            // SAFETY: `name` is a NUL-terminated string that outlives the call; `db` is a valid
            // out-pointer; a null VFS name selects the default VFS.
            let rc = unsafe { ffi::sqlite3_open_v2(name.as_ptr(), &mut db, flags, ptr::null()) };
            // Even on failure SQLite usually returns a handle (holding the message), which must
            // be closed: wrapping it first makes `Drop` do that.
            let conn = Connection(db);
            if rc != ffi::SQLITE_OK {
                return Err(BackupError::Sqlite(format!(
                    "opening {}: {}",
                    path.display(),
                    conn.message(rc)
                )));
            }
            // SAFETY: `conn.0` is an open connection owned by `conn`.
            unsafe { ffi::sqlite3_busy_timeout(conn.0, 5_000) };
            Ok(conn)
        }

        /// The connection's last error message (or the generic one of `rc` without a handle).
        fn message(&self, rc: c_int) -> String {
            // SAFETY: with a non-null handle, `sqlite3_errmsg` returns a NUL-terminated string
            // owned by the connection, valid until its next call, and copied out at once;
            // `sqlite3_errstr` returns a static string.
            unsafe {
                let text = if self.0.is_null() {
                    ffi::sqlite3_errstr(rc)
                } else {
                    ffi::sqlite3_errmsg(self.0)
                };
                if text.is_null() {
                    return format!("error {rc}");
                }
                CStr::from_ptr(text).to_string_lossy().into_owned()
            }
        }
    }

    impl Drop for Connection {
        fn drop(&mut self) {
            // SAFETY: the handle came from `sqlite3_open_v2` and is closed once, here; a
            // `Backup` borrowing it has been finished before (it borrows `self`). Closing a
            // null handle is a no-op.
            unsafe { ffi::sqlite3_close(self.0) };
        }
    }

    /// The outcome of one backup step.
    pub enum Step {
        /// Every page is copied.
        Done,
        /// The source or destination is locked: try again.
        Busy,
    }

    /// An `sqlite3_backup*` copying one connection's `main` database into another's.
    pub struct Backup<'a> {
        handle: *mut ffi::sqlite3_backup,
        dest: &'a Connection,
    }

    impl<'a> Backup<'a> {
        /// Starts a backup of `source` into `dest` (both `main`).
        pub fn new(dest: &'a Connection, source: &'a Connection) -> Result<Self, BackupError> {
            let main = c"main";
            // SAFETY: both handles are open connections that outlive the backup (the borrows
            // of `'a`); the names are static NUL-terminated strings.
            let handle =
                unsafe { ffi::sqlite3_backup_init(dest.0, main.as_ptr(), source.0, main.as_ptr()) };
            if handle.is_null() {
                return Err(BackupError::Sqlite(dest.message(ffi::SQLITE_ERROR)));
            }
            Ok(Self { handle, dest })
        }

        /// Copies every remaining page in one step (one read snapshot of the source).
        pub fn step_all(&mut self) -> Result<Step, BackupError> {
            // SAFETY: `handle` is a live backup (not yet finished: `finish` consumes `self`).
            let rc = unsafe { ffi::sqlite3_backup_step(self.handle, -1) };
            match rc {
                ffi::SQLITE_DONE => Ok(Step::Done),
                ffi::SQLITE_OK | ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED => Ok(Step::Busy),
                other => Err(BackupError::Sqlite(self.dest.message(other))),
            }
        }

        /// The number of pages in the source database, as of the last step.
        pub fn page_count(&self) -> i32 {
            // SAFETY: `handle` is a live backup.
            unsafe { ffi::sqlite3_backup_pagecount(self.handle) }
        }

        /// Ends the backup, reporting an error of any step.
        pub fn finish(mut self) -> Result<(), BackupError> {
            let handle = std::mem::replace(&mut self.handle, ptr::null_mut());
            // SAFETY: `handle` is live and released exactly once, here (`Drop` sees null).
            let rc = unsafe { ffi::sqlite3_backup_finish(handle) };
            if rc == ffi::SQLITE_OK {
                Ok(())
            } else {
                Err(BackupError::Sqlite(self.dest.message(rc)))
            }
        }
    }

    impl Drop for Backup<'_> {
        fn drop(&mut self) {
            if !self.handle.is_null() {
                // SAFETY: a backup abandoned on an error path is released once, here.
                unsafe { ffi::sqlite3_backup_finish(self.handle) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::{Connection as _, RunQueryDsl as _};

    #[test]
    fn a_backup_copies_the_data_refuses_to_overwrite_and_needs_a_source() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("live.db");
        let mut conn = diesel::SqliteConnection::establish(&source.display().to_string()).unwrap();
        diesel::sql_query("PRAGMA journal_mode = WAL")
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query("CREATE TABLE t (v TEXT)")
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query("INSERT INTO t VALUES ('kept')")
            .execute(&mut conn)
            .unwrap();
        let to = dir.path().join("copy.db");
        let copied = backup_sqlite(&source, &to).unwrap();
        assert!(copied.pages >= 2 && copied.page_size >= 512, "{copied:?}");
        let mut copy = diesel::SqliteConnection::establish(&to.display().to_string()).unwrap();
        #[derive(diesel::QueryableByName)]
        struct V {
            #[diesel(sql_type = diesel::sql_types::Text)]
            v: String,
        }
        let rows: Vec<V> = diesel::sql_query("SELECT v FROM t")
            .load(&mut copy)
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].v, "kept");

        assert!(matches!(
            backup_sqlite(&source, &to),
            Err(BackupError::Exists(_))
        ));
        assert!(matches!(
            backup_sqlite(&dir.path().join("none.db"), &dir.path().join("x.db")),
            Err(BackupError::NoSource(_))
        ));
        assert!(!dir.path().join("none.db").exists(), "nothing was created");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".partial-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
