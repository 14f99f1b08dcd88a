//! Tenant-owner invitations (DESIGN.md, "Invitations"): staff invite someone to create a new
//! organization on a plan they choose. Tokens work as for member invitations (a stored random
//! nonce, the link derived by HMAC, only its SHA-256 stored for look-up).
//!
//! Acceptance creates exactly one organization even if the form is submitted twice or
//! concurrently: the conditional `pending → accepted` update is the transaction's first write,
//! so a second submission updates nothing and rolls back before creating anything.

use crate::domain::tenant::TenantInvitation;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditContext};
use super::organizations;
use super::outbox::{self, EmailKind};
use super::schema::{tenant_invitations, users};
use super::{Conn, DbError, TxError, from_db, parse_stored, to_db, write_transaction};
use crate::domain::Organization;
use crate::domain::User;
use crate::domain::audit::AuditAction;
use crate::domain::invitation::{
    AcceptError, InvitationFacts, NotPending, RESEND_INTERVAL, ResendError, ResendPlan,
    check_accept,
};
use crate::domain::text::{OrganizationName, PersonName};
use crate::domain::token::{LinkToken, TokenKey, TokenNonce};
use crate::domain::{EmailAddress, InvitationId, InvitationStatus, Plan, Role, UserId};

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

/// Why a tenant invitation was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendRefused {
    /// The address already has a live tenant-owner invitation.
    #[error("This address already has a pending tenant-owner invitation; resend that one instead")]
    AlreadyPending,
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

fn insert(
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
    outbox::enqueue(
        conn,
        EmailKind::TenantInvitation,
        None,
        email,
        &payload(id),
        now,
    )?;
    Ok(id)
}

fn expire_overdue(
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

/// Sends a tenant-owner invitation (staff only — the caller checks).
///
/// # Errors
/// Outer [`DbError`] on a failed query; inner [`SendRefused`] when one is already pending.
pub fn send(
    conn: &mut Conn,
    ctx: &AuditContext,
    offer: &TenantOffer<'_>,
    key: &TokenKey,
) -> Result<Result<InvitationId, SendRefused>, DbError> {
    let (email, plan, now) = (offer.email, offer.plan, offer.now);
    write_transaction(conn, |c| {
        expire_overdue(c, email, now)?;
        let pending: i64 = tenant_invitations::table
            .filter(tenant_invitations::email.eq(email.as_str()))
            .filter(tenant_invitations::status.eq(InvitationStatus::Pending.as_str()))
            .count()
            .get_result(c)?;
        if pending > 0 {
            return Ok(Err(SendRefused::AlreadyPending));
        }
        let id = insert(c, offer, key)?;
        audit::record(
            c,
            ctx,
            None,
            AuditAction::TenantInvitationSent,
            Some(email.as_str()),
            Some(plan.label()),
            now,
        )?;
        Ok(Ok(id))
    })
}

/// Resends: the original link while pending (at most once a minute), a new invitation once
/// expired.
///
/// # Errors
/// Outer [`DbError`]; inner [`ResendError`] when refused.
pub fn resend(
    conn: &mut Conn,
    ctx: &AuditContext,
    inv: &TenantInvitation,
    staff: UserId,
    ttl: Duration,
    now: DateTime<Utc>,
    key: &TokenKey,
) -> Result<Result<ResendPlan, ResendError>, DbError> {
    write_transaction(conn, |c| {
        let plan = match inv.facts.check_resend(now) {
            Ok(plan) => plan,
            Err(e) => return Ok(Err(e)),
        };
        match plan {
            ResendPlan::SameLink => {
                let n = diesel::update(
                    tenant_invitations::table
                        .find(inv.id.to_string())
                        .filter(tenant_invitations::status.eq(InvitationStatus::Pending.as_str()))
                        .filter(tenant_invitations::expires_at.gt(to_db(now)))
                        .filter(tenant_invitations::last_resent_at.is_null().or(
                            tenant_invitations::last_resent_at.le(to_db(now - RESEND_INTERVAL)),
                        )),
                )
                .set((
                    tenant_invitations::last_resent_at.eq(Some(to_db(now))),
                    tenant_invitations::resend_count.eq(tenant_invitations::resend_count + 1),
                ))
                .execute(c)?;
                if n == 0 {
                    return Ok(Err(ResendError::TooSoon {
                        available_at: now + RESEND_INTERVAL,
                    }));
                }
                outbox::enqueue(
                    c,
                    EmailKind::TenantInvitation,
                    None,
                    &inv.email,
                    &payload(inv.id),
                    now,
                )?;
            }
            ResendPlan::NewInvitation => {
                expire_overdue(c, &inv.email, now)?;
                let pending: i64 = tenant_invitations::table
                    .filter(tenant_invitations::email.eq(inv.email.as_str()))
                    .filter(tenant_invitations::status.eq(InvitationStatus::Pending.as_str()))
                    .count()
                    .get_result(c)?;
                if pending > 0 {
                    return Ok(Err(ResendError::Superseded));
                }
                insert(
                    c,
                    &TenantOffer {
                        email: &inv.email,
                        plan: inv.plan,
                        message: inv.message.as_deref(),
                        staff,
                        ttl,
                        now,
                    },
                    key,
                )?;
            }
        }
        audit::record(
            c,
            ctx,
            None,
            AuditAction::TenantInvitationResent,
            Some(inv.email.as_str()),
            None,
            now,
        )?;
        Ok(Ok(plan))
    })
}

/// Moves a pending, unexpired tenant invitation to `to`; whether this request won.
fn finish(
    conn: &mut Conn,
    id: InvitationId,
    to: InvitationStatus,
    reason: Option<&str>,
    accepted_by: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = diesel::update(
        tenant_invitations::table
            .find(id.to_string())
            .filter(tenant_invitations::status.eq(InvitationStatus::Pending.as_str()))
            .filter(tenant_invitations::expires_at.gt(to_db(now))),
    )
    .set((
        tenant_invitations::status.eq(to.as_str()),
        tenant_invitations::status_reason.eq(reason),
        tenant_invitations::decided_at.eq(Some(to_db(now))),
        tenant_invitations::accepted_by.eq(accepted_by.map(|u| u.to_string())),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Revokes a pending tenant invitation.
///
/// # Errors
/// Outer [`DbError`]; inner [`NotPending`] when it already reached a final state.
pub fn revoke(
    conn: &mut Conn,
    ctx: &AuditContext,
    inv: &TenantInvitation,
    now: DateTime<Utc>,
) -> Result<Result<(), NotPending>, DbError> {
    write_transaction(conn, |c| {
        if let Err(e) = inv.facts.check_revoke(now) {
            return Ok(Err(e));
        }
        let reason = format!("revoked by {}", ctx.actor.label);
        if !finish(
            c,
            inv.id,
            InvitationStatus::Revoked,
            Some(&reason),
            None,
            now,
        )? {
            return Ok(Err(NotPending(InvitationStatus::Accepted)));
        }
        audit::record(
            c,
            ctx,
            None,
            AuditAction::TenantInvitationRevoked,
            Some(inv.email.as_str()),
            None,
            now,
        )?;
        Ok(Ok(()))
    })
}

/// Declines a pending tenant invitation; whether this request changed it.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn decline(
    conn: &mut Conn,
    inv: &TenantInvitation,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    finish(conn, inv.id, InvitationStatus::Declined, None, None, now)
}

/// Claims the invitation: the conditional `pending → accepted` update, the first write of every
/// acceptance. Whoever flips it goes on to create the organization; a concurrent submission
/// blocks on the row, then updates nothing and is refused — before it writes anything.
fn claim(c: &mut Conn, inv: &TenantInvitation, now: DateTime<Utc>) -> Result<(), Tx> {
    if finish(c, inv.id, InvitationStatus::Accepted, None, None, now)? {
        return Ok(());
    }
    let why = find(c, &inv.id.to_string())?
        .and_then(|current| current.facts.check_usable(now).err())
        .unwrap_or(crate::domain::invitation::Unusable::AlreadyUsed);
    Err(TxError::Refused(AcceptError::Unusable(why).into()))
}

/// After a successful [`claim`]: records who accepted, creates the organization on the
/// invitation's plan with `user` as Owner, and audits it.
fn found(
    c: &mut Conn,
    ctx: &AuditContext,
    inv: &TenantInvitation,
    user: &User,
    company: &OrganizationName,
    now: DateTime<Utc>,
) -> Result<Organization, Tx> {
    let org = organizations::insert(c, company, inv.plan, now)?;
    organizations::add_member(
        c,
        org.id,
        user.id,
        Role::Owner,
        Some(inv.invited_by),
        None,
        now,
    )?;
    diesel::update(tenant_invitations::table.find(inv.id.to_string()))
        .set((
            tenant_invitations::organization_id.eq(Some(org.id.to_string())),
            tenant_invitations::accepted_by.eq(Some(user.id.to_string())),
        ))
        .execute(c)?;
    let target = format!("{} <{}>", user.name, user.email);
    audit::record(
        c,
        ctx,
        Some(org.id),
        AuditAction::TenantInvitationAccepted,
        Some(inv.email.as_str()),
        Some(inv.plan.label()),
        now,
    )?;
    audit::record(
        c,
        ctx,
        Some(org.id),
        AuditAction::OrganizationCreated,
        Some(company.as_str()),
        Some(inv.plan.label()),
        now,
    )?;
    audit::record(
        c,
        ctx,
        Some(org.id),
        AuditAction::MemberJoined,
        Some(&target),
        Some(Role::Owner.label()),
        now,
    )?;
    Ok(org)
}

/// Why an acceptance did not create an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TenantRefused {
    /// A rule refused it (wrong account, expired, used, …).
    #[error(transparent)]
    Refused(#[from] AcceptError),
    /// A new-account acceptance found an account with the invited email: log in instead.
    #[error("An account with this email already exists")]
    AccountExists,
}

type Tx = TxError<TenantRefused>;

/// `user` accepts, creating the organization `company` on the invitation's plan with them as
/// Owner. Exactly one organization results, however often or concurrently this runs.
///
/// # Errors
/// Outer [`DbError`]; inner [`TenantRefused`] when refused (nothing is written).
pub fn accept(
    conn: &mut Conn,
    ctx: &AuditContext,
    inv: &TenantInvitation,
    user: &User,
    company: &OrganizationName,
    now: DateTime<Utc>,
) -> Result<Result<Organization, TenantRefused>, DbError> {
    TxError::settle(write_transaction(conn, |c| {
        check_accept(&inv.facts, &inv.email, &user.email, now)
            .map_err(|e| TxError::Refused(e.into()))?;
        claim(c, inv, now)?;
        found(c, ctx, inv, user, company, now)
    }))
}

/// Creates the invitee's account and accepts, in one transaction that first claims the
/// invitation (so concurrent submissions cannot race on creating the account).
///
/// # Errors
/// Outer [`DbError`]; inner [`TenantRefused`] — [`TenantRefused::AccountExists`] when an
/// account with the email exists (log in instead); every refusal rolls everything back.
pub fn register_and_accept(
    conn: &mut Conn,
    meta: &super::audit::RequestMeta,
    inv: &TenantInvitation,
    name: &PersonName,
    password_hash: &str,
    company: &OrganizationName,
    now: DateTime<Utc>,
) -> Result<Result<(User, Organization), TenantRefused>, DbError> {
    TxError::settle(write_transaction(conn, |c| -> Result<_, Tx> {
        claim(c, inv, now)?;
        if super::users::email_exists(c, &inv.email)? {
            return Err(TxError::Refused(TenantRefused::AccountExists));
        }
        let id = super::users::insert(c, &inv.email, name, password_hash, false, now)?;
        let user = super::users::find(c, id)?
            .ok_or_else(|| DbError::Corrupt("new user vanished".into()))?;
        let ctx = AuditContext {
            actor: super::audit::Actor {
                user_id: Some(user.id),
                label: format!("{} <{}>", user.name, user.email),
                is_staff: false,
            },
            meta: meta.clone(),
        };
        let org = found(c, &ctx, inv, &user, company, now)?;
        Ok((user, org))
    }))
}
