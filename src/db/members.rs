//! Membership changes: role changes, removal and leaving (DESIGN.md, rules 1, 4, 5, 6).
//!
//! Each change runs in one write transaction that first locks the organization (PostgreSQL:
//! `SELECT … FOR UPDATE` on its row; SQLite: `BEGIN IMMEDIATE` already admits one writer), then
//! reads the actor's role again (the one their request saw may have changed while it waited
//! for the lock), counts its Owners, asks the domain, writes, revokes the member's invitations when policy
//! says so, and records the audit event. Two Owners demoting each other at the same moment are
//! therefore serialized, and the second sees one Owner left and is refused.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditContext};
use super::models::MembershipRow;
use super::schema::{memberships, users};
use super::{Conn, DbError, TxError, parse_stored, write_transaction};
use crate::domain::audit::AuditAction;
use crate::domain::membership::{
    Manager, MemberDenied, acting_role, check_leave, check_removal, check_role_change,
    loses_invite_right,
};
use crate::domain::{MembershipId, OrganizationId, Role, UserId};

/// Why a membership change did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MemberError {
    /// No such membership in this organization (a 404).
    #[error("No such member")]
    NotFound,
    /// A rule refused it.
    #[error(transparent)]
    Denied(#[from] MemberDenied),
}

type Tx = TxError<MemberError>;

fn finish<T>(result: Result<T, Tx>) -> Result<Result<T, MemberError>, DbError> {
    TxError::settle(result)
}

fn owner_count(conn: &mut Conn, org: OrganizationId) -> Result<usize, DbError> {
    let n: i64 = memberships::table
        .filter(memberships::organization_id.eq(org.to_string()))
        .filter(memberships::role.eq(Role::Owner.as_str()))
        .count()
        .get_result(conn)?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// The role `user` acts with in `org` now, read under the organization lock: their
/// membership's, or Owner for staff ([`acting_role`]); refused when they are neither.
fn actor_role(conn: &mut Conn, org: OrganizationId, user: UserId) -> Result<Role, Tx> {
    let is_staff = super::users::find(conn, user)?.is_some_and(|u| u.is_staff);
    let membership = super::organizations::membership(conn, org, user)?.map(|m| m.role);
    acting_role(membership, is_staff).ok_or(TxError::Refused(MemberDenied::NotAMember.into()))
}

/// A membership of `org` with its person's label ("Name <email>").
fn target(
    conn: &mut Conn,
    org: OrganizationId,
    id: MembershipId,
) -> Result<Option<(MembershipRow, String)>, DbError> {
    Ok(memberships::table
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .filter(memberships::id.eq(id.to_string()))
        .filter(memberships::organization_id.eq(org.to_string()))
        .select((MembershipRow::as_select(), users::name, users::email))
        .first::<(MembershipRow, String, String)>(conn)
        .optional()?
        .map(|(m, name, email)| (m, format!("{name} <{email}>"))))
}

/// Ends the sessions of a person who no longer belongs to any organization (DESIGN.md:
/// removal from the last organization ends sessions at once).
fn end_sessions_if_orphaned(conn: &mut Conn, user_id: &str) -> Result<(), DbError> {
    let left: i64 = memberships::table
        .filter(memberships::user_id.eq(user_id))
        .count()
        .get_result(conn)?;
    if left == 0 {
        super::sessions::delete_for_user(conn, user_id)?;
    }
    Ok(())
}

/// Changes the role of membership `id` of `org` to `to`, as the person `by` (with the role
/// they have when the organization is locked). Returns the previous role. Changing to the
/// same role is a no-op.
///
/// # Errors
/// Outer [`DbError`] on a failed query; inner [`MemberError`] when there is no such member or a
/// rule refuses, [`MemberDenied::NotAMember`] included (nothing is written).
pub fn change_role(
    conn: &mut Conn,
    ctx: &AuditContext,
    org: OrganizationId,
    by: UserId,
    id: MembershipId,
    to: Role,
    now: DateTime<Utc>,
) -> Result<Result<Role, MemberError>, DbError> {
    finish(write_transaction(conn, |c| -> Result<Role, Tx> {
        super::organizations::lock(c, org)?;
        let role_now = actor_role(c, org, by)?;
        let (row, label) = target(c, org, id)?.ok_or(TxError::Refused(MemberError::NotFound))?;
        let from: Role = parse_stored(&row.role, "role")?;
        let manager = Manager {
            role: role_now,
            is_target: row.user_id == by.to_string(),
        };
        check_role_change(manager, from, to, owner_count(c, org)?)
            .map_err(|e| TxError::Refused(e.into()))?;
        if from == to {
            return Ok(from);
        }
        diesel::update(memberships::table.find(&row.id))
            .set(memberships::role.eq(to.as_str()))
            .execute(c)?;
        let detail = format!("{} → {}", from.label(), to.label());
        audit::record(
            c,
            ctx,
            Some(org),
            AuditAction::MemberRoleChanged,
            Some(&label),
            Some(&detail),
            now,
        )?;
        if loses_invite_right(from, to) {
            let inviter: UserId = parse_stored(&row.user_id, "user id")?;
            let reason = format!("inviter's role changed to {}", to.label());
            super::invitations::revoke_all_by_inviter(c, ctx, org, inviter, &reason, now)?;
            super::invite_links::revoke_all_by_creator(c, ctx, org, inviter, &reason, now)?;
        }
        Ok(from)
    }))
}

/// Removes membership `id` from `org`, as the person `by` (with the role they have when the
/// organization is locked). Their pending
/// invitations are revoked; if it was their last organization, their sessions end.
///
/// # Errors
/// As [`change_role`].
pub fn remove(
    conn: &mut Conn,
    ctx: &AuditContext,
    org: OrganizationId,
    by: UserId,
    id: MembershipId,
    now: DateTime<Utc>,
) -> Result<Result<String, MemberError>, DbError> {
    finish(write_transaction(conn, |c| -> Result<String, Tx> {
        super::organizations::lock(c, org)?;
        let role_now = actor_role(c, org, by)?;
        let (row, label) = target(c, org, id)?.ok_or(TxError::Refused(MemberError::NotFound))?;
        let role: Role = parse_stored(&row.role, "role")?;
        let manager = Manager {
            role: role_now,
            is_target: row.user_id == by.to_string(),
        };
        check_removal(manager, role, owner_count(c, org)?)
            .map_err(|e| TxError::Refused(e.into()))?;
        diesel::delete(memberships::table.find(&row.id)).execute(c)?;
        audit::record(
            c,
            ctx,
            Some(org),
            AuditAction::MemberRemoved,
            Some(&label),
            Some(role.label()),
            now,
        )?;
        let member: UserId = parse_stored(&row.user_id, "user id")?;
        super::invitations::revoke_all_by_inviter(c, ctx, org, member, "inviter was removed", now)?;
        super::invite_links::revoke_all_by_creator(
            c,
            ctx,
            org,
            member,
            "creator was removed",
            now,
        )?;
        end_sessions_if_orphaned(c, &row.user_id)?;
        Ok(label)
    }))
}

/// `user` leaves `org` (not the last Owner). Their pending invitations are revoked.
///
/// # Errors
/// As [`change_role`]; [`MemberError::NotFound`] if they are not a member.
pub fn leave(
    conn: &mut Conn,
    ctx: &AuditContext,
    org: OrganizationId,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<Result<(), MemberError>, DbError> {
    finish(write_transaction(conn, |c| -> Result<(), Tx> {
        super::organizations::lock(c, org)?;
        let row: MembershipRow = memberships::table
            .filter(memberships::organization_id.eq(org.to_string()))
            .filter(memberships::user_id.eq(user.to_string()))
            .select(MembershipRow::as_select())
            .first(c)
            .optional()?
            .ok_or(TxError::Refused(MemberError::NotFound))?;
        let role: Role = parse_stored(&row.role, "role")?;
        check_leave(role, owner_count(c, org)?).map_err(|e| TxError::Refused(e.into()))?;
        diesel::delete(memberships::table.find(&row.id)).execute(c)?;
        audit::record(
            c,
            ctx,
            Some(org),
            AuditAction::MemberLeft,
            Some(&ctx.actor.label),
            Some(role.label()),
            now,
        )?;
        super::invitations::revoke_all_by_inviter(
            c,
            ctx,
            org,
            user,
            "inviter left the organization",
            now,
        )?;
        super::invite_links::revoke_all_by_creator(
            c,
            ctx,
            org,
            user,
            "creator left the organization",
            now,
        )?;
        Ok(())
    }))
}

/// How many Owners `org` has.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn owners(conn: &mut Conn, org: OrganizationId) -> Result<usize, DbError> {
    owner_count(conn, org)
}
