//! What sending invitations reads and writes: what exists for a submission's addresses
//! ([`existing`]), new invitations with their email ([`create_all`]), the same link again
//! ([`mark_resent`]) and overdue invitations written Expired ([`expire_overdue`]); a
//! replacement or revocation is `end` with `Ending::Revoked`. `service::invitations` decides and composes them in one
//! transaction.

#![allow(clippy::wildcard_imports)]
use super::*;
use crate::db::links::{pending_unexpired, resend_stamp};

use crate::domain::invitation::Existing;
pub use crate::domain::invitation::{AddressOutcome, InviteEntry};
use crate::domain::text::{Department, PersonalMessage};

/// What every entry of one invite submission shares.
#[derive(Debug, Clone, Copy)]
pub struct InviteBatch {
    /// The organization.
    pub organization: OrganizationId,
    /// Who sends it.
    pub inviter: UserId,
    /// How long new invitations stay usable.
    pub ttl: Duration,
    /// The time of the request.
    pub now: DateTime<Utc>,
    /// Whether Joinery emails the invitations (else the caller delivers their links itself:
    /// the JSON API's `"send_email": false`, issue 15 §1).
    pub send_email: bool,
}

/// How many addresses one look-up query names (well under SQLite's and PostgreSQL's limits on
/// bound parameters).
const LOOKUP_CHUNK: usize = 500;

/// What `org`'s database holds about `emails` (distinct addresses): which belong to members,
/// and the pending invitation of each (live or past its time), with two queries per 500
/// addresses.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn existing(
    conn: &mut Conn,
    org: OrganizationId,
    emails: &[&EmailAddress],
) -> Result<Existing, DbError> {
    let org_id = org.to_string();
    let mut existing = Existing::default();
    for chunk in emails.chunks(LOOKUP_CHUNK) {
        let chunk: Vec<&str> = chunk.iter().map(|e| e.as_str()).collect();
        let found: Vec<String> = crate::db::schema::memberships::table
            .inner_join(users::table.on(users::id.eq(crate::db::schema::memberships::user_id)))
            .filter(crate::db::schema::memberships::organization_id.eq(&org_id))
            .filter(users::email.eq_any(&chunk))
            .select(users::email)
            .load(conn)?;
        existing
            .members
            .extend(found.into_iter().map(EmailAddress::from_trusted));
        let rows: Vec<InvitationRow> = invitations::table
            .filter(invitations::organization_id.eq(&org_id))
            .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
            .filter(invitations::email.eq_any(&chunk))
            .select(InvitationRow::as_select())
            .load(conn)?;
        for row in rows {
            let inv = Invitation::try_from(row)?;
            let live = LivePending {
                id: inv.id,
                role: inv.role,
                facts: inv.facts,
            };
            existing.pending.insert(inv.email, live);
        }
    }
    Ok(existing)
}

/// `org`'s pending invitation to `email`, live or past its time, if any.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn live_pending(
    conn: &mut Conn,
    org: OrganizationId,
    email: &EmailAddress,
) -> Result<Option<Invitation>, DbError> {
    invitations::table
        .filter(invitations::organization_id.eq(org.to_string()))
        .filter(invitations::email.eq(email.as_str()))
        .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()?
        .map(Invitation::try_from)
        .transpose()
}

/// An invitation about to be created: the address and what it is offered.
#[derive(Debug, Clone, Copy)]
pub struct Creation<'a> {
    /// The address.
    pub email: &'a EmailAddress,
    /// The role offered.
    pub role: Role,
    /// The personal message.
    pub message: Option<&'a str>,
    /// The department, carried onto the membership.
    pub department: Option<&'a str>,
}

impl<'a> From<&'a InviteEntry> for Creation<'a> {
    fn from(entry: &'a InviteEntry) -> Self {
        Creation {
            email: &entry.email,
            role: entry.role,
            message: entry.message.as_ref().map(PersonalMessage::as_str),
            department: entry.department.as_ref().map(Department::as_str),
        }
    }
}

impl<'a> From<&'a Invitation> for Creation<'a> {
    /// The same address, role, message and department again.
    fn from(inv: &'a Invitation) -> Self {
        Creation {
            email: &inv.email,
            role: inv.role,
            message: inv.message.as_deref(),
            department: inv.department.as_deref(),
        }
    }
}

/// How many rows one multi-row INSERT holds (an invitation row binds 13 parameters).
const INSERT_CHUNK: usize = 250;

/// Inserts a Pending invitation for each of `new` and queues its email, a few multi-row
/// INSERTs in all; returns their ids, in order.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn create_all(
    conn: &mut Conn,
    batch: &InviteBatch,
    new: &[Creation<'_>],
    token_key: &TokenKey,
) -> Result<Vec<InvitationId>, DbError> {
    let org = batch.organization.to_string();
    let inviter = batch.inviter.to_string();
    let prepared: Vec<(InvitationId, TokenNonce, String)> = new
        .iter()
        .map(|_| {
            let nonce = TokenNonce::generate();
            let hash = LinkToken::derive(token_key, &nonce).lookup_hash();
            (InvitationId::new(), nonce, hash)
        })
        .collect();
    let rows: Vec<NewInvitation<'_>> = new
        .iter()
        .zip(&prepared)
        .map(|(c, (id, nonce, hash))| NewInvitation {
            id: id.to_string(),
            organization_id: &org,
            email: c.email.as_str(),
            role: c.role.as_str(),
            message: c.message,
            invited_by: &inviter,
            token_nonce: &nonce.0,
            token_hash: hash,
            status: InvitationStatus::Pending.as_str(),
            created_at: to_db(batch.now),
            expires_at: to_db(batch.now + batch.ttl),
            department: c.department,
        })
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        crate::db::on_backend!(&mut *conn, |c| diesel::insert_into(invitations::table)
            .values(chunk)
            .execute(c))?;
    }
    let ids: Vec<InvitationId> = prepared.into_iter().map(|(id, _, _)| id).collect();
    let emails: Vec<(InvitationId, &EmailAddress)> = ids
        .iter()
        .copied()
        .zip(new.iter().map(|c| c.email))
        .collect();
    if batch.send_email {
        outbox::enqueue_invitations(conn, &emails, batch.now)?;
    }
    let events: Vec<_> = ids
        .iter()
        .zip(new)
        .map(|(id, c)| {
            let data = serde_json::json!({
                "organization_id": org,
                "invitation_id": id.to_string(),
                "email": c.email.as_str(),
                "role": c.role.as_str(),
                "invited_by": inviter,
                "user_id": null,
            });
            (crate::domain::webhook::EventType::InvitationCreated, data)
        })
        .collect();
    crate::db::webhooks::emit(conn, batch.organization, &events, batch.now)?;
    Ok(ids)
}

/// Records a resend if the invitation is still pending, unexpired and outside the 60-second
/// window, and (with `send_email`) queues the original link again. Returns whether this
/// request won.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn mark_resent(
    conn: &mut Conn,
    id: InvitationId,
    email: &EmailAddress,
    send_email: bool,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let not_since = now - crate::domain::invitation::RESEND_INTERVAL;
    let stamped = stamp_resent(conn, id, not_since, now)?;
    if stamped && send_email {
        outbox::enqueue(conn, EmailKind::Invitation, Some(id), email, "{}", now)?;
    }
    Ok(stamped)
}

resend_stamp! {
    /// Stamps a resend of `id` at `now` unless it was resent after `not_since`.
    fn stamp_resent for invitations
}

/// Writes Expired onto each of `overdue` (pending invitations of `org` past their time, with
/// their addresses) that is still pending, each with its `invitation.expired` event by the
/// system; frees the one-pending-per-address index for new invitations.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn expire_overdue(
    conn: &mut Conn,
    org: OrganizationId,
    overdue: &[(&EmailAddress, &LivePending)],
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let rows: Vec<OverdueRow> = overdue
        .iter()
        .map(|(email, inv)| {
            let role = inv.role.as_str().to_owned();
            (inv.id.to_string(), org.to_string(), email.to_string(), role)
        })
        .collect();
    expire_rows(conn, rows, now)?;
    Ok(())
}

/// The token nonce of the live pending invitation of each of `emails` in `org` at `now`, by
/// address: what the links of invitations the caller delivers itself are derived from.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn pending_nonces(
    conn: &mut Conn,
    org: OrganizationId,
    emails: &[&EmailAddress],
    now: DateTime<Utc>,
) -> Result<std::collections::HashMap<EmailAddress, TokenNonce>, DbError> {
    let mut out = std::collections::HashMap::new();
    for chunk in emails.chunks(LOOKUP_CHUNK) {
        let list: Vec<&str> = chunk.iter().map(|e| e.as_str()).collect();
        let rows: Vec<(String, String)> = invitations::table
            .filter(invitations::organization_id.eq(org.to_string()))
            .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
            .filter(invitations::expires_at.gt(to_db(now)))
            .filter(invitations::email.eq_any(list))
            .select((invitations::email, invitations::token_nonce))
            .load(conn)?;
        out.extend(
            rows.into_iter()
                .map(|(email, nonce)| (EmailAddress::from_trusted(email), TokenNonce(nonce))),
        );
    }
    Ok(out)
}
