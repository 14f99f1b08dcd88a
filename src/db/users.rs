//! Accounts.

use crate::domain::{Credentials, User};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::models::{NewUser, UserRow};
use super::schema::users;
use super::{Conn, DbError, from_db, parse_stored, to_db};
use crate::domain::text::PersonName;
use crate::domain::{EmailAddress, UserId};

impl TryFrom<UserRow> for Credentials {
    type Error = DbError;

    fn try_from(row: UserRow) -> Result<Self, DbError> {
        Ok(Credentials {
            user: User {
                id: parse_stored(&row.id, "user id")?,
                email: EmailAddress::from_trusted(row.email),
                name: row.name,
                is_staff: row.is_staff,
                created_at: from_db(row.created_at),
            },
            password_hash: row.password_hash,
        })
    }
}

/// The account with this id, if any.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find(conn: &mut Conn, id: UserId) -> Result<Option<User>, DbError> {
    super::on_backend!(conn, |c| users::table
        .find(id.to_string())
        .select(UserRow::as_select())
        .first(c)
        .optional())?
    .map(|row| Credentials::try_from(row).map(|c| c.user))
    .transpose()
}

/// The account and password hash for a normalized email, if any.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find_credentials(
    conn: &mut Conn,
    email: &EmailAddress,
) -> Result<Option<Credentials>, DbError> {
    users::table
        .filter(users::email.eq(email.as_str()))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .map(Credentials::try_from)
        .transpose()
}

/// Whether an account has this normalized email.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn email_exists(conn: &mut Conn, email: &EmailAddress) -> Result<bool, DbError> {
    Ok(super::on_backend!(conn, |c| diesel::select(
        diesel::dsl::exists(users::table.filter(users::email.eq(email.as_str())),)
    )
    .get_result(c))?)
}

/// Creates an account and returns its id.
///
/// # Errors
/// [`DbError::Query`] with a unique violation if the email is taken.
pub fn insert(
    conn: &mut Conn,
    email: &EmailAddress,
    name: &PersonName,
    password_hash: &str,
    is_staff: bool,
    now: DateTime<Utc>,
) -> Result<UserId, DbError> {
    let id = UserId::new();
    diesel::insert_into(users::table)
        .values(NewUser {
            id: id.to_string(),
            email: email.as_str(),
            name: name.as_str(),
            password_hash,
            is_staff,
            created_at: to_db(now),
        })
        .execute(conn)?;
    Ok(id)
}

/// Replaces an account's password hash.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn set_password_hash(conn: &mut Conn, id: UserId, password_hash: &str) -> Result<(), DbError> {
    diesel::update(users::table.find(id.to_string()))
        .set(users::password_hash.eq(password_hash))
        .execute(conn)?;
    Ok(())
}

/// Marks an account as platform staff.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn set_staff(conn: &mut Conn, id: UserId, is_staff: bool) -> Result<(), DbError> {
    diesel::update(users::table.find(id.to_string()))
        .set(users::is_staff.eq(is_staff))
        .execute(conn)?;
    Ok(())
}
