//! Self-serve sign-up requests: the emailed link that proves an address, and the one
//! transaction that turns a followed link into an account with its Trial organization. A
//! request may instead carry an invite link: then following it joins that link's organization
//! (`db::invite_links::use_link`, which uses the request in its transaction).
//!
//! The table keeps each link's random nonce and the SHA-256 of its token, never the token:
//! the outbox row names the request, and the worker derives the link at delivery. Using a link
//! is one conditional `UPDATE … WHERE used_at IS NULL AND expires_at > now`, so of two racing
//! submissions exactly one creates the account.

use crate::domain::signup::SignupRequest;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::audit::{self, Actor, AuditContext, RequestMeta};
use super::organizations;
use super::outbox::{self, EmailKind};
use super::schema::{outbox_emails, signup_requests};
use super::{Conn, DbError, from_db, parse_stored, to_db, users};
use crate::domain::Organization;
use crate::domain::audit::AuditAction;
use crate::domain::ids::SignupRequestId;
use crate::domain::invite_link::InviteLink;
use crate::domain::signup::{
    CompleteError, LinkUnusable, RATE_WINDOW, SignupEmail, SignupLinkFacts, plan_join_email,
    plan_signup_email,
};
use crate::domain::text::{OrganizationName, PersonName};
use crate::domain::token::{LinkToken, TokenKey, TokenNonce};
use crate::domain::{EmailAddress, InviteLinkId, Plan, Role, UserId};

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
fn emails_in_window(
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
fn lock_address(conn: &mut Conn, email: &EmailAddress) -> Result<(), DbError> {
    if let Conn::Postgresql(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(format!("signup:{email}"))
            .execute(pg)?;
    }
    Ok(())
}

/// Handles a sign-up form for `email` at `now` in one transaction: decides (by the domain's
/// [`plan_signup_email`]) whether to send a new link, a "you already have an account" email,
/// or — over the per-address limit — nothing, and stores that decision with its outbox row.
///
/// # Errors
/// [`DbError`] on a failed query (nothing is written).
pub fn request(
    conn: &mut Conn,
    email: &EmailAddress,
    token_key: &TokenKey,
    now: DateTime<Utc>,
) -> Result<SignupEmail, DbError> {
    super::write_transaction(conn, |conn| {
        lock_address(conn, email)?;
        let sent = emails_in_window(conn, email, now)?;
        let exists = users::email_exists(conn, email)?;
        let decision = plan_signup_email(exists, sent);
        match decision {
            SignupEmail::Link => {
                let facts = SignupLinkFacts::new_at(now);
                insert_request(conn, email, None, facts, token_key, now)?;
            }
            SignupEmail::AlreadyRegistered => {
                outbox::enqueue(conn, EmailKind::SignupExisting, None, email, "{}", now)?;
            }
            SignupEmail::Throttled => {}
        }
        Ok(decision)
    })
}

/// Handles "Email me a link" on invite link `link`'s page for `email` at `now`, in one
/// transaction: within the per-address limit ([`plan_join_email`]) stores a request carrying
/// the link, expiring with it at the latest, and queues the email with its link — whether or
/// not an account has the address (nothing here even looks). The invite link is not touched.
///
/// # Errors
/// [`DbError`] on a failed query (nothing is written).
pub fn request_to_join(
    conn: &mut Conn,
    email: &EmailAddress,
    link: &InviteLink,
    token_key: &TokenKey,
    now: DateTime<Utc>,
) -> Result<SignupEmail, DbError> {
    super::write_transaction(conn, |conn| {
        lock_address(conn, email)?;
        let decision = plan_join_email(emails_in_window(conn, email, now)?);
        if decision == SignupEmail::Link {
            let facts = SignupLinkFacts::new_at(now).expiring_by(link.facts.expires_at);
            insert_request(conn, email, Some(link.id), facts, token_key, now)?;
        }
        Ok(decision)
    })
}

/// Stores a new request and queues its email (a sign-up link, or a link to join through
/// `invite_link`: the outbox renders either from the request). The token is derived from a
/// fresh nonce; only its hash is stored.
fn insert_request(
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

/// Marks `request` used at `now` with one conditional update (unused and unexpired), so of
/// two racing submissions exactly one wins. Call it inside the transaction that creates what
/// the request was for, so a refusal later in it rolls the use back.
///
/// # Errors
/// Outer [`DbError`] on a failed query; inner [`LinkUnusable`] when the request is used (by
/// a request that won a race, say) or expired, and nothing was written.
pub fn use_request(
    conn: &mut Conn,
    request: &SignupRequest,
    now: DateTime<Utc>,
) -> Result<Result<(), LinkUnusable>, DbError> {
    let used = diesel::update(
        signup_requests::table
            .find(request.id.to_string())
            .filter(signup_requests::used_at.is_null())
            .filter(signup_requests::expires_at.gt(to_db(now))),
    )
    .set(signup_requests::used_at.eq(Some(to_db(now))))
    .execute(conn)?;
    if used == 1 {
        return Ok(Ok(()));
    }
    // Report what the winner (or the clock) left.
    let why = find(conn, &request.id.to_string())?
        .and_then(|r| r.facts.check_usable(now).err())
        .unwrap_or(LinkUnusable::AlreadyUsed);
    Ok(Err(why))
}

/// What a completed sign-up created.
#[derive(Debug, Clone)]
pub struct Completed {
    /// The new account.
    pub user_id: UserId,
    /// Its new Trial organization, which it owns.
    pub organization: Organization,
}

/// What the person typed on the sign-up link's form, already parsed.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Their name.
    pub name: PersonName,
    /// The new organization's name.
    pub organization: OrganizationName,
    /// The argon2id hash of their password (computed before the transaction).
    pub password_hash: String,
}

/// Any `Err` makes the transaction roll back, so a refusal after the first write (the link
/// marked used, say) leaves nothing behind.
enum TxError {
    Db(DbError),
    Refused(CompleteError),
}

impl From<DieselError> for TxError {
    fn from(e: DieselError) -> Self {
        TxError::Db(DbError::Query(e))
    }
}

impl From<DbError> for TxError {
    fn from(e: DbError) -> Self {
        TxError::Db(e)
    }
}

/// Follows sign-up link `request` at `now`, in one transaction: marks it used with a
/// conditional update, refuses if an account has the address by now, creates the account and
/// a Trial organization with it as Owner, and records `organization.created` and
/// `member.joined` with the new account as actor.
///
/// # Errors
/// Outer [`DbError`] on a failed query; inner [`CompleteError`] when the link is expired or
/// used (also by a racing submission) or the address is taken. Either way nothing is written.
pub fn complete(
    conn: &mut Conn,
    request: &SignupRequest,
    account: &NewAccount,
    meta: &RequestMeta,
    now: DateTime<Utc>,
) -> Result<Result<Completed, CompleteError>, DbError> {
    if request.invite_link_id.is_some() {
        // Such a link joins its invite link's organization (`invite_links::use_link`).
        return Err(DbError::Corrupt(
            "a link to join through an invite link cannot create an organization".into(),
        ));
    }
    let result = super::write_transaction(conn, |conn| -> Result<Completed, TxError> {
        if let Err(why) = use_request(conn, request, now)? {
            return Err(TxError::Refused(CompleteError::Unusable(why)));
        }
        if users::email_exists(conn, &request.email)? {
            return Err(TxError::Refused(CompleteError::AccountExists));
        }
        let user_id = match users::insert(
            conn,
            &request.email,
            &account.name,
            &account.password_hash,
            false,
            now,
        ) {
            // Another sign-up link for the same address won a race on PostgreSQL (SQLite
            // serializes writers, so the check above already saw the account).
            Err(DbError::Query(DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                _,
            ))) => return Err(TxError::Refused(CompleteError::AccountExists)),
            inserted => inserted?,
        };
        let organization = organizations::insert(conn, &account.organization, Plan::Trial, now)?;
        organizations::add_member(conn, organization.id, user_id, Role::Owner, None, None, now)?;
        let label = format!("{} <{}>", account.name, request.email);
        let ctx = AuditContext {
            actor: Actor {
                user_id: Some(user_id),
                label: label.clone(),
                is_staff: false,
            },
            meta: meta.clone(),
        };
        audit::record(
            conn,
            &ctx,
            Some(organization.id),
            AuditAction::OrganizationCreated,
            Some(&organization.name),
            Some("Self-serve sign-up, Trial plan"),
            now,
        )?;
        audit::record(
            conn,
            &ctx,
            Some(organization.id),
            AuditAction::MemberJoined,
            Some(&label),
            Some("Owner, by creating the organization"),
            now,
        )?;
        Ok(Completed {
            user_id,
            organization,
        })
    });
    match result {
        Ok(done) => Ok(Ok(done)),
        Err(TxError::Refused(e)) => Ok(Err(e)),
        Err(TxError::Db(e)) => Err(e),
    }
}
