//! Tenant-owner invitations (DESIGN.md, "Invitations"): staff invite someone to create a new
//! organization on a plan they choose. Tokens work as for member invitations (a stored random
//! nonce, the link derived by HMAC, only its SHA-256 stored for look-up).
//!
//! This module loads and stores; `service::tenants` decides. Each transition is one
//! conditional `UPDATE … WHERE status = 'pending' AND expires_at > now` whose row count says
//! whether this request won ([`end`]; the first write of every acceptance, so of racing
//! submissions exactly one wins and the others are refused before they create anything).

use crate::domain::tenant::TenantInvitation;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use super::links::{invitation_ending, pending_unexpired, resend_stamp, row_lock};
use super::outbox::{self, EmailKind};
use super::schema::{tenant_invitations, users};
use super::{Conn, DbError, from_db, parse_stored, to_db};
use crate::domain::invitation::InvitationFacts;
use crate::domain::token::{LinkToken, TokenKey, TokenNonce};
use crate::domain::{EmailAddress, InvitationId, InvitationStatus, OrganizationId, Plan, UserId};

type Row = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
    Option<String>,
    String,
);

/// The columns of [`Row`], in order (a macro: the tuple's type is too long to spell).
macro_rules! select_row {
    () => {
        (
            tenant_invitations::id,
            tenant_invitations::email,
            tenant_invitations::plan,
            tenant_invitations::message,
            tenant_invitations::invited_by,
            tenant_invitations::token_nonce,
            tenant_invitations::status,
            tenant_invitations::status_reason,
            tenant_invitations::created_at,
            tenant_invitations::expires_at,
            tenant_invitations::last_resent_at,
            tenant_invitations::organization_id,
            users::name,
        )
    };
}

fn from_row(r: Row) -> Result<TenantInvitation, DbError> {
    Ok(TenantInvitation {
        id: parse_stored(&r.0, "invitation id")?,
        email: EmailAddress::from_trusted(r.1),
        plan: parse_stored(&r.2, "plan")?,
        message: r.3,
        invited_by: parse_stored(&r.4, "user id")?,
        nonce: TokenNonce(r.5),
        facts: InvitationFacts {
            status: parse_stored(&r.6, "invitation status")?,
            expires_at: from_db(r.9),
            last_resent_at: r.10.map(from_db),
        },
        status_reason: r.7,
        created_at: from_db(r.8),
        organization_id: r
            .11
            .as_deref()
            .map(|o| parse_stored(o, "organization id"))
            .transpose()?,
        inviter_name: r.12,
    })
}

fn payload(id: InvitationId) -> String {
    serde_json::json!({ "tenant_invitation_id": id.to_string() }).to_string()
}

/// The tenant invitation `id`, if any.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find(conn: &mut Conn, id: &str) -> Result<Option<TenantInvitation>, DbError> {
    tenant_invitations::table
        .inner_join(users::table.on(users::id.eq(tenant_invitations::invited_by)))
        .filter(tenant_invitations::id.eq(id))
        .select(select_row!())
        .first::<Row>(conn)
        .optional()?
        .map(from_row)
        .transpose()
}

/// The tenant invitation whose token this is, if any.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find_by_token(
    conn: &mut Conn,
    token: &LinkToken,
) -> Result<Option<TenantInvitation>, DbError> {
    tenant_invitations::table
        .inner_join(users::table.on(users::id.eq(tenant_invitations::invited_by)))
        .filter(tenant_invitations::token_hash.eq(token.lookup_hash()))
        .select(select_row!())
        .first::<Row>(conn)
        .optional()?
        .map(from_row)
        .transpose()
}

/// The most recent tenant invitations, newest first.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn recent(conn: &mut Conn, limit: i64) -> Result<Vec<TenantInvitation>, DbError> {
    tenant_invitations::table
        .inner_join(users::table.on(users::id.eq(tenant_invitations::invited_by)))
        .order(tenant_invitations::created_at.desc())
        .limit(limit)
        .select(select_row!())
        .load::<Row>(conn)?
        .into_iter()
        .map(from_row)
        .collect()
}

/// What staff offer in a tenant-owner invitation.
#[derive(Debug, Clone, Copy)]
pub struct TenantOffer<'a> {
    /// The invitee.
    pub email: &'a EmailAddress,
    /// The plan of the organization to be created.
    pub plan: Plan,
    /// The optional personal message.
    pub message: Option<&'a str>,
    /// The staff member sending it.
    pub staff: UserId,
    /// How long the link stays usable.
    pub ttl: Duration,
    /// When it is sent.
    pub now: DateTime<Utc>,
}

/// Stores a new pending tenant-owner invitation with a fresh nonce (its link is derived from
/// it under `key`) and returns its id. Its email is queued separately ([`queue_email`]).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn insert(
    conn: &mut Conn,
    offer: &TenantOffer<'_>,
    key: &TokenKey,
) -> Result<InvitationId, DbError> {
    let TenantOffer {
        email,
        plan,
        message,
        staff,
        ttl,
        now,
    } = *offer;
    let id = InvitationId::new();
    let nonce = TokenNonce::generate();
    diesel::insert_into(tenant_invitations::table)
        .values((
            tenant_invitations::id.eq(id.to_string()),
            tenant_invitations::email.eq(email.as_str()),
            tenant_invitations::plan.eq(plan.as_str()),
            tenant_invitations::message.eq(message),
            tenant_invitations::invited_by.eq(staff.to_string()),
            tenant_invitations::token_hash.eq(LinkToken::derive(key, &nonce).lookup_hash()),
            tenant_invitations::token_nonce.eq(&nonce.0),
            tenant_invitations::status.eq(InvitationStatus::Pending.as_str()),
            tenant_invitations::created_at.eq(to_db(now)),
            tenant_invitations::expires_at.eq(to_db(now + ttl)),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Queues the invitation email of tenant-owner invitation `id` (its link, recomputed from
/// the nonce, goes to `email`).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn queue_email(
    conn: &mut Conn,
    id: InvitationId,
    email: &EmailAddress,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    outbox::enqueue(
        conn,
        EmailKind::TenantInvitation,
        None,
        email,
        &payload(id),
        now,
    )
}

/// Writes Expired onto `email`'s pending tenant-owner invitations past their time, which
/// frees the address for a new one.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn expire_overdue(
    conn: &mut Conn,
    email: &EmailAddress,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(
        tenant_invitations::table
            .filter(tenant_invitations::email.eq(email.as_str()))
            .filter(tenant_invitations::status.eq(InvitationStatus::Pending.as_str()))
            .filter(tenant_invitations::expires_at.le(to_db(now))),
    )
    .set((
        tenant_invitations::status.eq(InvitationStatus::Expired.as_str()),
        tenant_invitations::decided_at.eq(tenant_invitations::expires_at.nullable()),
    ))
    .execute(conn)?;
    Ok(())
}

/// Whether `email` has a pending tenant-owner invitation (stored as pending: call
/// [`expire_overdue`] first to count only live ones).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn has_pending(conn: &mut Conn, email: &EmailAddress) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        tenant_invitations::table
            .filter(tenant_invitations::email.eq(email.as_str()))
            .filter(tenant_invitations::status.eq(InvitationStatus::Pending.as_str())),
    ))
    .get_result(conn)?)
}

resend_stamp! {
    /// Stamps a resend of pending, unexpired invitation `id` at `now` unless it was resent
    /// after `not_since`: one conditional update, so two racing resends send once. Whether it
    /// stamped.
    ///
    /// # Errors
    /// [`DbError`] on a failed query.
    pub fn mark_resent for tenant_invitations
}

/// Records on accepted invitation `id` the organization it created and who accepted it.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn set_founded(
    conn: &mut Conn,
    id: InvitationId,
    org: OrganizationId,
    user: UserId,
) -> Result<(), DbError> {
    diesel::update(tenant_invitations::table.find(id.to_string()))
        .set((
            tenant_invitations::organization_id.eq(Some(org.to_string())),
            tenant_invitations::accepted_by.eq(Some(user.to_string())),
        ))
        .execute(conn)?;
    Ok(())
}

invitation_ending!(tenant_invitations);
row_lock!(tenant_invitations, InvitationId);
