//! Server-side session rows behind actix-session's store (see `web::session_store`). Keys are
//! stored only as their SHA-256, so a copy of this table cannot be replayed as cookies.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::sessions;
use super::{Conn, DbError, to_db};

/// The state of an unexpired session, or `None`.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn load(
    conn: &mut Conn,
    key_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, DbError> {
    Ok(super::on_backend!(conn, |c| sessions::table
        .find(key_hash)
        .filter(sessions::expires_at.gt(to_db(now)))
        .select(sessions::state)
        .first(c)
        .optional())?)
}

/// Stores a new session.
///
/// # Errors
/// [`DbError`] on a failed query (a key collision is a unique violation).
pub fn insert(
    conn: &mut Conn,
    key_hash: &str,
    user_id: Option<&str>,
    state: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::key_hash.eq(key_hash),
            sessions::user_id.eq(user_id),
            sessions::state.eq(state),
            sessions::expires_at.eq(to_db(expires_at)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Replaces a session's state and expiry; returns whether the session existed.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn update(
    conn: &mut Conn,
    key_hash: &str,
    user_id: Option<&str>,
    state: &str,
    expires_at: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = diesel::update(sessions::table.find(key_hash))
        .set((
            sessions::user_id.eq(user_id),
            sessions::state.eq(state),
            sessions::expires_at.eq(to_db(expires_at)),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Moves a session's expiry.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn touch(conn: &mut Conn, key_hash: &str, expires_at: DateTime<Utc>) -> Result<(), DbError> {
    diesel::update(sessions::table.find(key_hash))
        .set(sessions::expires_at.eq(to_db(expires_at)))
        .execute(conn)?;
    Ok(())
}

/// Deletes one session.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn delete(conn: &mut Conn, key_hash: &str) -> Result<(), DbError> {
    diesel::delete(sessions::table.find(key_hash)).execute(conn)?;
    Ok(())
}

/// Deletes every session past its expiry; returns how many.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn delete_expired(conn: &mut Conn, now: DateTime<Utc>) -> Result<usize, DbError> {
    Ok(
        diesel::delete(sessions::table.filter(sessions::expires_at.le(to_db(now))))
            .execute(conn)?,
    )
}

/// Deletes every session of `user_id` (they are signed out everywhere at once); returns how
/// many.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn delete_for_user(conn: &mut Conn, user_id: &str) -> Result<usize, DbError> {
    Ok(diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?)
}
