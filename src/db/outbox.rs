//! The transactional outbox: email rows written in the same transaction as the action that
//! sends them, and delivered later by `mail::outbox`'s worker.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::models::{NewOutboxEmail, OutboxRow};
use super::schema::outbox_emails;
use super::{Conn, DbError, to_db};
use crate::domain::{EmailAddress, InvitationId};

/// What an outbox row holds, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailKind {
    /// An invitation email, rendered at delivery from the invitation row (so the link, a
    /// secret, is never stored).
    Invitation,
    /// "Someone joined your organization", for Owners who want it.
    MemberJoined,
    /// A self-serve sign-up link, rendered at delivery from the `signup_requests` row named in
    /// the payload (so the link is never stored) — or, when that request carries an invite
    /// link, the link that proves an address for joining through it.
    Signup,
    /// "You already have an account — log in", for a sign-up with a registered address.
    SignupExisting,
    /// "Please send me a new invitation", to the inviter of an expired invitation.
    RenewalRequest,
    /// A tenant-owner invitation, rendered at delivery from its row (payload names it).
    TenantInvitation,
    /// A domain's 6-digit verification code, rendered at delivery from the domain's row
    /// (payload names it), so the code is never stored.
    DomainCode,
    /// A reminder of a pending invitation (days 2 and 5 of 7), rendered at delivery from the
    /// invitation row like the invitation email, and cancelled once it is no longer pending.
    InvitationReminder,
    /// "Your invitation to {address} bounced", to its inviter, rendered at delivery from the
    /// invitation row (issue 15 §3).
    InvitationBounced,
    /// "{organization}'s webhook endpoint was disabled", to its Owners (payload-rendered).
    WebhookDisabled,
    /// "{person} asks to join {organization}", to its Owners and Admins (payload-rendered).
    JoinRequest,
    /// "Your request to join {organization} was approved / rejected", to the requester
    /// (payload-rendered).
    JoinRequestAnswer,
}

impl EmailKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::Invitation => "invitation",
            EmailKind::MemberJoined => "member_joined",
            EmailKind::TenantInvitation => "tenant_invitation",
            EmailKind::Signup => "signup",
            EmailKind::SignupExisting => "signup_existing",
            EmailKind::RenewalRequest => "renewal_request",
            EmailKind::DomainCode => "domain_code",
            EmailKind::InvitationReminder => "invitation_reminder",
            EmailKind::InvitationBounced => "invitation_bounced",
            EmailKind::WebhookDisabled => "webhook_disabled",
            EmailKind::JoinRequest => "join_request",
            EmailKind::JoinRequestAnswer => "join_request_answer",
        }
    }
}

/// Queues an email for delivery at `now`.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn enqueue(
    conn: &mut Conn,
    kind: EmailKind,
    invitation: Option<InvitationId>,
    recipient: &EmailAddress,
    payload: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let invitation = invitation.map(|i| i.to_string());
    diesel::insert_into(outbox_emails::table)
        .values(NewOutboxEmail {
            id: uuid::Uuid::new_v4().to_string(),
            kind: kind.as_str(),
            invitation_id: invitation.as_deref(),
            recipient: recipient.as_str(),
            payload,
            status: "queued",
            attempts: 0,
            next_attempt_at: to_db(now),
            created_at: to_db(now),
        })
        .execute(conn)?;
    Ok(())
}

/// Queues the invitation email of each (invitation, address) with multi-row INSERTs (the bulk
/// invite's path; [`enqueue`] does one).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn enqueue_invitations(
    conn: &mut Conn,
    invitations: &[(InvitationId, &EmailAddress)],
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let ids: Vec<String> = invitations.iter().map(|(id, _)| id.to_string()).collect();
    let rows: Vec<NewOutboxEmail<'_>> = invitations
        .iter()
        .zip(&ids)
        .map(|((_, recipient), id)| NewOutboxEmail {
            id: uuid::Uuid::new_v4().to_string(),
            kind: EmailKind::Invitation.as_str(),
            invitation_id: Some(id),
            recipient: recipient.as_str(),
            payload: "{}",
            status: "queued",
            attempts: 0,
            next_attempt_at: to_db(now),
            created_at: to_db(now),
        })
        .collect();
    for chunk in rows.chunks(400) {
        super::on_backend!(&mut *conn, |c| diesel::insert_into(outbox_emails::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// Who joined an organization, for the "member joined" email to its Owners.
#[derive(Debug, Clone, Copy)]
pub struct JoinedMember<'a> {
    /// The organization.
    pub organization: &'a crate::domain::Organization,
    /// The new member's name.
    pub name: &'a str,
    /// The new member's email.
    pub email: &'a EmailAddress,
    /// The role they joined with.
    pub role: crate::domain::Role,
    /// Who invited them, as the email says it ("Ada", "Ada (invite link)").
    pub invited_by: &'a str,
}

/// Queues the "member joined" email to every Owner of the organization whose "Notify me when
/// team members join" is on, except the new member (DESIGN.md, "Invitations": on acceptance).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn enqueue_member_joined(
    conn: &mut Conn,
    joined: &JoinedMember<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let payload = serde_json::json!({
        "organization": joined.organization.name,
        "organization_id": joined.organization.id.to_string(),
        "member_name": joined.name,
        "member_email": joined.email.as_str(),
        "role": joined.role.as_str(),
        "invited_by": joined.invited_by,
    })
    .to_string();
    for (_, owner_email) in super::organizations::owners_to_notify(conn, joined.organization.id)? {
        if owner_email != *joined.email {
            enqueue(
                conn,
                EmailKind::MemberJoined,
                None,
                &owner_email,
                &payload,
                now,
            )?;
        }
    }
    Ok(())
}

/// How long a claimed row stays leased to the worker that claimed it, by default
/// (`--outbox-lease-secs`). A worker that dies mid-batch loses its lease after this, and
/// another worker takes the rows over.
pub const LEASE: chrono::Duration = chrono::Duration::minutes(10);

const CLAIM_COLUMNS: &str = "id, kind, invitation_id, recipient, payload, status, attempts, \
     next_attempt_at, locked_until, last_error, created_at, sent_at";

/// Claims up to `limit` rows due at `now` with the default [`LEASE`] (see [`claim_leased`]).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn claim(conn: &mut Conn, now: DateTime<Utc>, limit: i64) -> Result<Vec<OutboxRow>, DbError> {
    claim_leased(conn, now, limit, LEASE)
}

/// Claims up to `limit` rows due at `now` (queued and due, or leased by a worker whose lease
/// ran out), oldest first, marking them `sending` with a lease until `now + lease`.
///
/// On PostgreSQL the candidate rows are locked with `FOR UPDATE SKIP LOCKED`, so workers in
/// several instances each claim different rows and no email is sent twice. On SQLite the
/// single `UPDATE … RETURNING` statement is atomic under the database's one writer lock.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn claim_leased(
    conn: &mut Conn,
    now: DateTime<Utc>,
    limit: i64,
    lease: chrono::Duration,
) -> Result<Vec<OutboxRow>, DbError> {
    let (now, until) = (to_db(now), to_db(now + lease));
    // On SQLite, queued behind this process's other writers (`db::single_write`).
    super::single_write(conn, |conn| claim_rows(conn, now, until, limit))
}

fn claim_rows(
    conn: &mut Conn,
    now: chrono::NaiveDateTime,
    until: chrono::NaiveDateTime,
    limit: i64,
) -> Result<Vec<OutboxRow>, DbError> {
    use diesel::sql_types::{BigInt, Timestamp};
    let rows = match conn {
        Conn::Postgresql(pg) => diesel::sql_query(format!(
            "UPDATE outbox_emails SET status = 'sending', locked_until = $1 WHERE id IN ( \
               SELECT id FROM outbox_emails \
               WHERE (status = 'queued' AND next_attempt_at <= $2) \
                  OR (status = 'sending' AND locked_until <= $2) \
               ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING {CLAIM_COLUMNS}"
        ))
        .bind::<Timestamp, _>(until)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load::<OutboxRow>(pg)?,
        Conn::Sqlite(lite) => diesel::sql_query(format!(
            "UPDATE outbox_emails SET status = 'sending', locked_until = ?1 WHERE id IN ( \
               SELECT id FROM outbox_emails \
               WHERE (status = 'queued' AND next_attempt_at <= ?2) \
                  OR (status = 'sending' AND locked_until <= ?2) \
               ORDER BY next_attempt_at LIMIT ?3) \
             RETURNING {CLAIM_COLUMNS}"
        ))
        .bind::<Timestamp, _>(until)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load::<OutboxRow>(lite)?,
    };
    Ok(rows)
}

/// Records a successful delivery.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn mark_sent(conn: &mut Conn, id: &str, now: DateTime<Utc>) -> Result<(), DbError> {
    // On SQLite, queued behind this process's other writers (`db::single_write`).
    super::single_write(conn, |conn| mark_sent_now(conn, id, now))
}

fn mark_sent_now(conn: &mut Conn, id: &str, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::update(outbox_emails::table.find(id))
        .set((
            outbox_emails::status.eq("sent"),
            outbox_emails::locked_until.eq(None::<chrono::NaiveDateTime>),
            outbox_emails::sent_at.eq(Some(to_db(now))),
            outbox_emails::attempts.eq(outbox_emails::attempts + 1),
            outbox_emails::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a failed attempt: queued again for `retry_at` (the lease is released), or
/// `failed` for good when `retry_at` is `None`.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn mark_attempt_failed(
    conn: &mut Conn,
    id: &str,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), DbError> {
    super::single_write(conn, |conn| attempt_failed(conn, id, error, retry_at))
}

fn attempt_failed(
    conn: &mut Conn,
    id: &str,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), DbError> {
    let error: String = error.chars().take(500).collect();
    let query = diesel::update(outbox_emails::table.find(id));
    match retry_at {
        Some(at) => query
            .set((
                outbox_emails::status.eq("queued"),
                outbox_emails::locked_until.eq(None::<chrono::NaiveDateTime>),
                outbox_emails::attempts.eq(outbox_emails::attempts + 1),
                outbox_emails::last_error.eq(Some(error)),
                outbox_emails::next_attempt_at.eq(to_db(at)),
            ))
            .execute(conn)?,
        None => query
            .set((
                outbox_emails::status.eq("failed"),
                outbox_emails::attempts.eq(outbox_emails::attempts + 1),
                outbox_emails::last_error.eq(Some(error)),
            ))
            .execute(conn)?,
    };
    Ok(())
}

/// Records that row `id` — the email of invitation `invitation`, to `invitee` — bounced at
/// `now` with `error` (a permanent SMTP failure): the row fails without retries, the
/// invitation is marked bounced, and on its first bounce its inviter is emailed. One
/// transaction.
///
/// # Errors
/// [`DbError`] on a failed query (nothing is written).
pub fn record_bounce(
    conn: &mut Conn,
    id: &str,
    invitation: InvitationId,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    super::write_transaction(conn, |c| {
        mark_attempt_failed(c, id, &format!("bounced: {error}"), None)?;
        if super::invitations::mark_bounced(c, invitation, now)? {
            let inviter = super::invitations::inviter_email(c, invitation)?;
            if let Some(to) = inviter {
                enqueue(
                    c,
                    EmailKind::InvitationBounced,
                    Some(invitation),
                    &to,
                    "{}",
                    now,
                )?;
            }
        }
        Ok(())
    })
}

/// Marks a row as not to be sent (its invitation is no longer pending).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn mark_cancelled(conn: &mut Conn, id: &str, reason: &str) -> Result<(), DbError> {
    diesel::update(outbox_emails::table.find(id))
        .set((
            outbox_emails::status.eq("cancelled"),
            outbox_emails::last_error.eq(Some(reason)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Where the newest email of an invitation stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryState {
    /// `queued`, `sending`, `sent`, `failed` or `cancelled`.
    pub status: String,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// The last error, if an attempt failed.
    pub last_error: Option<String>,
}

/// The delivery state of the newest email of each invitation, keyed by invitation id.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn latest_for_invitations(
    conn: &mut Conn,
    ids: &[String],
) -> Result<HashMap<String, DeliveryState>, DbError> {
    // Only what went to the invitee: the invitation and its reminders (a bounce notice to the
    // inviter names the invitation too).
    let to_invitee = [
        EmailKind::Invitation.as_str(),
        EmailKind::InvitationReminder.as_str(),
    ];
    let rows: Vec<(Option<String>, String, i32, Option<String>)> = outbox_emails::table
        .filter(outbox_emails::invitation_id.eq_any(ids))
        .filter(outbox_emails::kind.eq_any(to_invitee))
        .order(outbox_emails::created_at.asc())
        .select((
            outbox_emails::invitation_id,
            outbox_emails::status,
            outbox_emails::attempts,
            outbox_emails::last_error,
        ))
        .load(conn)?;
    // Ordered oldest first, so the newest row per invitation wins the insert.
    Ok(rows
        .into_iter()
        .filter_map(|(id, status, attempts, last_error)| {
            id.map(|id| {
                (
                    id,
                    DeliveryState {
                        status,
                        attempts,
                        last_error,
                    },
                )
            })
        })
        .collect())
}

/// The emails sent to the invitee of invitation `id` (the invitation, its resends and its
/// reminders), oldest first: what its timeline is made of.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn for_invitation(conn: &mut Conn, id: InvitationId) -> Result<Vec<OutboxRow>, DbError> {
    let to_invitee = [
        EmailKind::Invitation.as_str(),
        EmailKind::InvitationReminder.as_str(),
    ];
    Ok(outbox_emails::table
        .filter(outbox_emails::invitation_id.eq(id.to_string()))
        .filter(outbox_emails::kind.eq_any(to_invitee))
        .order((outbox_emails::created_at.asc(), outbox_emails::id.asc()))
        .select(OutboxRow::as_select())
        .load(conn)?)
}

/// What waits in the outbox at one moment (`/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    /// Rows waiting for their first or next attempt.
    pub queued: i64,
    /// Rows leased by a delivery task (being sent, or held by a task that died, until the
    /// lease runs out).
    pub sending: i64,
    /// When the longest-waiting row that is due became due: the earliest `next_attempt_at` of
    /// a queued row due by `now`, or `locked_until` of a row whose lease ran out. `None` when
    /// nothing is due.
    pub oldest_due: Option<DateTime<Utc>>,
}

/// The outbox's backlog at `now` (three indexed look-ups on `(status, next_attempt_at)` and
/// the status counts).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn backlog(conn: &mut Conn, now: DateTime<Utc>) -> Result<Backlog, DbError> {
    use diesel::dsl::{count_star, min};
    let now = to_db(now);
    let counts: Vec<(String, i64)> = outbox_emails::table
        .filter(outbox_emails::status.eq_any(["queued", "sending"]))
        .group_by(outbox_emails::status)
        .select((outbox_emails::status, count_star()))
        .load(conn)?;
    let count = |which: &str| {
        counts
            .iter()
            .find(|(s, _)| s == which)
            .map_or(0, |(_, n)| *n)
    };
    let queued_due: Option<chrono::NaiveDateTime> = outbox_emails::table
        .filter(outbox_emails::status.eq("queued"))
        .filter(outbox_emails::next_attempt_at.le(now))
        .select(min(outbox_emails::next_attempt_at))
        .first(conn)?;
    let lease_expired: Option<chrono::NaiveDateTime> = outbox_emails::table
        .filter(outbox_emails::status.eq("sending"))
        .filter(outbox_emails::locked_until.le(now))
        .select(min(outbox_emails::locked_until))
        .first::<Option<chrono::NaiveDateTime>>(conn)?;
    let oldest_due = match (queued_due, lease_expired) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(Backlog {
        queued: count("queued"),
        sending: count("sending"),
        oldest_due: oldest_due.map(super::from_db),
    })
}
