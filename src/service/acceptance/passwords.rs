//! Checking and hashing passwords for the link flows, as log-in does (DESIGN.md, "Security
//! rules"), on the password threads and with no database connection held.

use crate::db::{self, DbError};
use crate::domain::password::{DUMMY_HASH, Password, hash_password, verify_password};
use crate::domain::{EmailAddress, User};
use crate::service::{ServiceError, Services};

/// The result of a password step, whatever the operation's refusal `R`.
type Result<T, R> = std::result::Result<T, ServiceError<R>>;

/// Checks `password` for the account with `email` as log-in does: an unknown address is
/// verified against [`DUMMY_HASH`] so the answer takes as long, and failures count against the
/// address's per-account limit (a locked address gets `None`, right password or not; DESIGN.md,
/// "Security rules"). Verification runs on a password thread with no connection held.
///
/// # Errors
/// [`ServiceError::PasswordsBusy`]; storage failures.
pub(crate) fn authenticate<R>(
    svc: &Services,
    email: &EmailAddress,
    password: &str,
) -> Result<Option<User>, R> {
    let password = Password::attempt(password);
    let locked = svc.login_failures.locked(email);
    let credentials = db::users::find_credentials(&mut *svc.conn()?, email)?.filter(|_| !locked);
    let hash = credentials
        .as_ref()
        .map_or(DUMMY_HASH, |c| c.password_hash.as_str())
        .to_owned();
    let ok = svc
        .passwords
        .run_blocking(move || verify_password(&password, &hash))
        .map_err(|_| ServiceError::PasswordsBusy)?;
    let user = credentials.filter(|_| ok).map(|c| c.user);
    if user.is_none() {
        svc.login_failures.failed(email);
    }
    Ok(user)
}

/// Hashes a new account's password on a password thread (call with no connection held).
///
/// # Errors
/// [`ServiceError::PasswordsBusy`]; a failure of argon2 itself (a bug) as a storage failure.
pub(crate) fn hash<R>(svc: &Services, password: Password) -> Result<String, R> {
    svc.passwords
        .run_blocking(move || hash_password(&password))
        .map_err(|_| ServiceError::PasswordsBusy)?
        .map_err(|e| ServiceError::Storage(DbError::Task(format!("hashing failed: {e}"))))
}
