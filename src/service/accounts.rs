//! Accounts: signing in, whom a session belongs to, and the accounts the command line sets up.
//!
//! Signing in keeps two rules of DESIGN.md, "Security rules": an unknown email and a wrong
//! password get the same answer in the same time (an unknown or malformed address is checked
//! against [`DUMMY_HASH`]), and log-in attempts are limited per account
//! ([`Services::login_failures`]). Passwords are hashed and verified on the password threads
//! (`crate::password_pool`), never while a database connection is held.

use std::convert::Infallible;

use chrono::{DateTime, Utc};

use super::{ServiceError, Services};
use crate::db::{self, Conn, DbError};
use crate::domain::password::{DUMMY_HASH, Password, hash_password, verify_password};
use crate::domain::text::PersonName;
use crate::domain::{EmailAddress, User, UserId};

/// A new account was asked for without a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a new account needs a password")]
pub struct NeedsPassword;

/// The account a session names, if it still exists (a session whose account is gone counts
/// as signed out).
///
/// # Errors
/// [`ServiceError::Storage`] on a failed query.
pub fn signed_in(svc: &Services, user: UserId) -> Result<Option<User>, ServiceError<Infallible>> {
    Ok(db::users::find(&mut *svc.conn()?, user)?)
}

/// Whether an account has `email`.
///
/// # Errors
/// [`ServiceError::Storage`] on a failed query.
pub fn exists(svc: &Services, email: &EmailAddress) -> Result<bool, ServiceError<Infallible>> {
    Ok(db::users::email_exists(&mut *svc.conn()?, email)?)
}

/// The account whose email is `email` (as typed) and whose password is `password`, or `None`
/// for an unknown or malformed email, a wrong password, and a locked account alike.
///
/// Every answer costs one verification on the password threads: against the account's hash,
/// or against [`DUMMY_HASH`] when there is no account or it is locked, so neither the answer
/// nor its timing tells a lock from a wrong password, or an account from none. A failure is
/// counted for the normalized address typed, whether or not an account has it; past the
/// budget the address is locked (`web::limits`: 10 failures, then one more each 90 s), even
/// for the right password — telling its owner apart from an attacker would need a per-device
/// token, which Joinery does not have. Successes are not counted and reset nothing.
///
/// Generic over the refusal type, so any operation that signs someone in can call it.
///
/// # Errors
/// [`ServiceError::PasswordsBusy`] when the password threads are saturated;
/// [`ServiceError::Storage`] on a failed query.
pub fn authenticate<R>(
    svc: &Services,
    email: &str,
    password: Password,
) -> Result<Option<User>, ServiceError<R>> {
    let email = EmailAddress::parse(email).ok();
    let locked = email.as_ref().is_some_and(|e| svc.login_failures.locked(e));
    // The connection goes back to the pool before the slow verification.
    let credentials = match &email {
        Some(email) => db::users::find_credentials(&mut *svc.conn()?, email)?,
        None => None,
    }
    .filter(|_| !locked);
    let hash = credentials
        .as_ref()
        .map_or(DUMMY_HASH, |c| c.password_hash.as_str())
        .to_owned();
    let matches = svc
        .passwords
        .run_blocking(move || verify_password(&password, &hash))
        .map_err(|_| ServiceError::PasswordsBusy)?;
    let user = credentials.filter(|_| matches).map(|c| c.user);
    if user.is_none()
        && let Some(email) = &email
    {
        svc.login_failures.failed(email);
    }
    Ok(user)
}

/// Hashes a new password on the password threads (argon2id, DESIGN.md, "Security rules").
///
/// # Errors
/// [`ServiceError::PasswordsBusy`] when the password threads are saturated. argon2 itself
/// fails only on a bug (its parameters are fixed): that is reported as a failed task.
pub fn hash<R>(svc: &Services, password: &Password) -> Result<String, ServiceError<R>> {
    let password = password.clone();
    svc.passwords
        .run_blocking(move || hash_password(&password))
        .map_err(|_| ServiceError::PasswordsBusy)?
        .map_err(|e| ServiceError::Storage(DbError::Task(format!("password hashing failed: {e}"))))
}

/// An account to find or create (the command line's `create-org`, `create-staff` and `demo`).
#[derive(Debug, Clone)]
pub struct AccountSetup {
    /// Its email.
    pub email: EmailAddress,
    /// Its name, if it is created.
    pub name: PersonName,
    /// Its password: required for a new account; given for an existing one, it replaces the
    /// old password.
    pub password: Option<Password>,
}

/// What happened to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountSet {
    /// It was created.
    Created,
    /// It existed.
    Existed,
}

/// Makes `cmd.email` a platform staff account: creates it, or marks the existing account
/// (replacing its password if one is given).
///
/// # Errors
/// [`NeedsPassword`] for a new account without a password; storage and password-thread
/// failures.
pub fn create_staff(
    svc: &Services,
    cmd: &AccountSetup,
    now: DateTime<Utc>,
) -> Result<AccountSet, ServiceError<NeedsPassword>> {
    let hash = cmd.password.as_ref().map(|p| hash(svc, p)).transpose()?;
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let (id, set) = ensure_account(c, cmd, hash.as_deref(), now)?;
        db::users::set_staff(c, id, true)?;
        Ok(set)
    })
}

/// Finds or creates the account of `cmd` (an ordinary account; `hash` is the hash of
/// `cmd.password`, made before the transaction).
///
/// # Errors
/// [`NeedsPassword`] for a new account without a password; [`DbError`].
pub(super) fn ensure_account(
    c: &mut Conn,
    cmd: &AccountSetup,
    hash: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(UserId, AccountSet), ServiceError<NeedsPassword>> {
    if let Some(existing) = db::users::find_credentials(c, &cmd.email)? {
        if let Some(hash) = hash {
            db::users::set_password_hash(c, existing.user.id, hash)?;
        }
        return Ok((existing.user.id, AccountSet::Existed));
    }
    let Some(hash) = hash else {
        return super::refuse(NeedsPassword);
    };
    let id = db::users::insert(c, &cmd.email, &cmd.name, hash, false, now)?;
    Ok((id, AccountSet::Created))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::testing::Fixture;

    fn setup(email: &str, password: Option<&str>) -> AccountSetup {
        AccountSetup {
            email: EmailAddress::parse(email).unwrap(),
            name: PersonName::parse("Ada").unwrap(),
            password: password.map(|p| Password::new_account(p).unwrap()),
        }
    }

    fn log_in(f: &Fixture, email: &str, password: &str) -> Option<User> {
        authenticate::<Infallible>(&f.svc, email, Password::attempt(password)).unwrap()
    }

    #[test]
    fn log_in_answers_an_unknown_email_a_malformed_one_and_a_wrong_password_alike() {
        let f = Fixture::new();
        let ada = setup("ada@example.com", Some("correct horse battery"));
        create_staff(&f.svc, &ada, f.now).unwrap();
        for (email, password) in [
            ("ada@example.com", "not the password"),
            ("nobody@example.com", "correct horse battery"),
            ("nobody", "correct horse battery"),
        ] {
            assert!(log_in(&f, email, password).is_none(), "{email}");
        }
        let user = log_in(&f, " ADA@example.com", "correct horse battery").unwrap();
        assert_eq!(user.email.as_str(), "ada@example.com");
    }

    #[test]
    fn a_locked_account_is_refused_even_with_the_right_password_and_unknown_addresses_count() {
        let f = Fixture::new();
        create_staff(
            &f.svc,
            &setup("ada@example.com", Some("correct horse battery")),
            f.now,
        )
        .unwrap();
        let ada = EmailAddress::parse("ada@example.com").unwrap();
        let nobody = EmailAddress::parse("nobody@example.com").unwrap();
        for _ in 0..10 {
            f.svc.login_failures.failed(&ada);
        }
        assert!(
            !f.svc.login_failures.locked(&ada),
            "ten failures are the budget"
        );
        assert!(log_in(&f, "ada@example.com", "wrong").is_none());
        assert!(f.svc.login_failures.locked(&ada), "the eleventh locks");
        assert!(log_in(&f, "ada@example.com", "correct horse battery").is_none());
        // An address without an account is counted and locked the same way.
        for _ in 0..11 {
            assert!(log_in(&f, "nobody@example.com", "x").is_none());
        }
        assert!(f.svc.login_failures.locked(&nobody));
    }

    #[test]
    fn a_session_of_a_deleted_account_names_nobody() {
        let f = Fixture::new();
        let ada = f.user("ada@example.com", "Ada", false);
        assert_eq!(
            signed_in(&f.svc, ada.id).unwrap().map(|u| u.id),
            Some(ada.id)
        );
        assert!(signed_in(&f.svc, UserId::new()).unwrap().is_none());
    }

    #[test]
    fn create_staff_creates_or_marks_and_a_new_account_needs_a_password() {
        let f = Fixture::new();
        assert!(matches!(
            create_staff(&f.svc, &setup("sam@example.com", None), f.now),
            Err(ServiceError::Refused(NeedsPassword))
        ));
        let existing = f.user("sam@example.com", "Sam", false);
        let set = create_staff(&f.svc, &setup("sam@example.com", None), f.now).unwrap();
        assert_eq!(set, AccountSet::Existed);
        assert!(signed_in(&f.svc, existing.id).unwrap().unwrap().is_staff);
        let new = setup("new@example.com", Some("correct horse battery"));
        assert_eq!(
            create_staff(&f.svc, &new, f.now).unwrap(),
            AccountSet::Created
        );
        assert!(
            log_in(&f, "new@example.com", "correct horse battery")
                .unwrap()
                .is_staff
        );
    }
}
