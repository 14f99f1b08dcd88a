//! Sign-up requests: the emailed links that prove an address, stored with their emails, and
//! the conditional update that uses one. What a request leads to — an account with its Trial
//! organization, or joining through the invite link it carries — is the service's
//! (`service::signup`, `service::invite_links`).
//!
//! The table keeps each link's random nonce and the SHA-256 of its token, never the token:
//! the outbox row names the request, and the worker derives the link at delivery. Using a link
//! is one conditional `UPDATE … WHERE used_at IS NULL AND expires_at > now` ([`mark_used`]),
//! so of two racing submissions exactly one wins.

use crate::domain::signup::SignupRequest;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::outbox::{self, EmailKind};
use super::schema::{outbox_emails, signup_requests};
use super::{Conn, DbError, from_db, parse_stored, to_db};
use crate::domain::ids::SignupRequestId;
use crate::domain::signup::{RATE_WINDOW, SignupLinkFacts};
use crate::domain::token::{LinkToken, TokenKey, TokenNonce};
use crate::domain::{EmailAddress, InviteLinkId};

/// A `signup_requests` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = signup_requests)]
struct SignupRequestRow {
    id: String,
    email: String,
    token_nonce: String,
    #[allow(dead_code)] // Looked up by, never read back.
    token_hash: String,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    used_at: Option<NaiveDateTime>,
    invite_link_id: Option<String>,
}

/// A new `signup_requests` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = signup_requests)]
struct NewSignupRequest<'a> {
    id: String,
    email: &'a str,
    token_nonce: &'a str,
    token_hash: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    invite_link_id: Option<String>,
}

impl TryFrom<SignupRequestRow> for SignupRequest {
    type Error = DbError;

    fn try_from(row: SignupRequestRow) -> Result<Self, DbError> {
        Ok(SignupRequest {
            id: parse_stored(&row.id, "sign-up request id")?,
            email: EmailAddress::from_trusted(row.email),
            nonce: TokenNonce(row.token_nonce),
            facts: SignupLinkFacts {
                expires_at: from_db(row.expires_at),
                used_at: row.used_at.map(from_db),
            },
            created_at: from_db(row.created_at),
            invite_link_id: row
                .invite_link_id
                .as_deref()
                .map(|id| parse_stored(id, "invite link id"))
                .transpose()?,
        })
    }
}

/// What the `signup` outbox row carries: which request to derive the link from.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SignupPayload {
    /// The request's id.
    pub signup_request_id: String,
}

/// How many sign-up emails (either kind: a link — to sign up or to join through an invite
/// link — or "you already have an account") `email` was sent in the [`RATE_WINDOW`] before
/// `now`. One budget for both forms, so neither can be used to flood an address.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn emails_in_window(
    conn: &mut Conn,
    email: &EmailAddress,
    now: DateTime<Utc>,
) -> Result<i64, DbError> {
    Ok(outbox_emails::table
        .filter(outbox_emails::recipient.eq(email.as_str()))
        .filter(outbox_emails::kind.eq_any([
            EmailKind::Signup.as_str(),
            EmailKind::SignupExisting.as_str(),
        ]))
        .filter(outbox_emails::created_at.gt(to_db(now - RATE_WINDOW)))
        .count()
        .get_result(conn)?)
}

/// Serializes sign-up requests for one address on PostgreSQL, so two concurrent requests
/// cannot both count two earlier emails and both send a third and fourth. (SQLite's
/// `BEGIN IMMEDIATE` already serializes every writer.) The lock ends with the transaction.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn lock_address(conn: &mut Conn, email: &EmailAddress) -> Result<(), DbError> {
    if let Conn::Postgresql(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(format!("signup:{email}"))
            .execute(pg)?;
    }
    Ok(())
}

/// Stores a new request and queues its email (a sign-up link, or a link to join through
/// `invite_link`: the outbox renders either from the request). The token is derived from a
/// fresh nonce; only its hash is stored.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn insert(
    conn: &mut Conn,
    email: &EmailAddress,
    invite_link: Option<InviteLinkId>,
    facts: SignupLinkFacts,
    token_key: &TokenKey,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let id = SignupRequestId::new();
    let nonce = TokenNonce::generate();
    let token_hash = LinkToken::derive(token_key, &nonce).lookup_hash();
    diesel::insert_into(signup_requests::table)
        .values(NewSignupRequest {
            id: id.to_string(),
            email: email.as_str(),
            token_nonce: &nonce.0,
            token_hash: &token_hash,
            created_at: to_db(now),
            expires_at: to_db(facts.expires_at),
            invite_link_id: invite_link.map(|l| l.to_string()),
        })
        .execute(conn)?;
    let payload = serde_json::to_string(&SignupPayload {
        signup_request_id: id.to_string(),
    })
    .map_err(|e| DbError::Corrupt(format!("sign-up payload: {e}")))?;
    outbox::enqueue(conn, EmailKind::Signup, None, email, &payload, now)?;
    Ok(())
}

/// The request whose link carries `token`, if any.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find_by_token(conn: &mut Conn, token: &LinkToken) -> Result<Option<SignupRequest>, DbError> {
    signup_requests::table
        .filter(signup_requests::token_hash.eq(token.lookup_hash()))
        .select(SignupRequestRow::as_select())
        .first(conn)
        .optional()?
        .map(SignupRequest::try_from)
        .transpose()
}

/// The request with this id, if any (the outbox worker renders its link from it).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find(conn: &mut Conn, id: &str) -> Result<Option<SignupRequest>, DbError> {
    signup_requests::table
        .find(id)
        .select(SignupRequestRow::as_select())
        .first(conn)
        .optional()?
        .map(SignupRequest::try_from)
        .transpose()
}

/// Marks request `id` used at `now` with one conditional update (unused and unexpired), so of
/// two racing submissions exactly one wins. Returns whether this one did. Call it inside the
/// transaction that creates what the request was for, so a refusal later in it rolls the use
/// back.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn mark_used(
    conn: &mut Conn,
    id: SignupRequestId,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let used = diesel::update(
        signup_requests::table
            .find(id.to_string())
            .filter(signup_requests::used_at.is_null())
            .filter(signup_requests::expires_at.gt(to_db(now))),
    )
    .set(signup_requests::used_at.eq(Some(to_db(now))))
    .execute(conn)?;
    Ok(used == 1)
}
