//! Member governance: change a member's role, remove a member, leave an organization
//! (DESIGN.md, rules 1, 4, 5 and 6).
//!
//! Each change locks the organization, reads the actor's role again ([`super::acting_in`]),
//! counts its Owners and asks `domain::membership` inside one transaction, so two Owners
//! demoting each other at the same moment are serialized and the second is refused. Taking
//! `users:invite` from someone, removing them or their leaving revokes the invitations and
//! invite links they sent (DESIGN.md, "Invitations follow current policy"); removal from a
//! person's last organization ends their sessions at once.

use chrono::{DateTime, Utc};

use super::{Actor, NoStanding, ServiceError, Services, acting_in, refuse};
use crate::db::audit::{self, AuditContext};
use crate::db::{self, Conn};
use crate::domain::audit::AuditAction;
use crate::domain::membership::{
    Manager, MemberDenied, check_leave, check_removal, check_role_change, loses_invite_right,
};
use crate::domain::webhook::EventType;
use crate::domain::{MemberListing, MembershipId, OrganizationId, Permission, Role, UserId};

/// Why a membership change, or a page about one, was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MemberRefusal {
    /// The actor has no standing in the organization.
    #[error(transparent)]
    NoStanding(#[from] NoStanding),
    /// No such membership in this organization.
    #[error("No such member")]
    NotFound,
    /// Leaving is for members; staff acting here without a membership have nothing to leave.
    #[error("You are not a member of this organization.")]
    NotAMember,
    /// A rule refused it.
    #[error("{0}.")]
    Denied(#[from] MemberDenied),
}

type Result<T> = std::result::Result<T, ServiceError<MemberRefusal>>;

/// Change the role of one membership.
#[derive(Debug, Clone, Copy)]
pub struct ChangeRole {
    /// The membership.
    pub membership: MembershipId,
    /// The new role.
    pub to: Role,
}

/// A role change that happened (or found the role already `to`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleChanged {
    /// The role before.
    pub from: Role,
    /// The role now.
    pub to: Role,
}

/// Changes a member's role as `actor` (rules 1, 4 and 5 with the role the actor has once the
/// organization is locked). Changing to the same role changes nothing. A role without
/// `users:invite` revokes the member's pending invitations and links.
///
/// # Errors
/// [`MemberRefusal`] (nothing written): no standing, no such member, or the rule that refuses.
pub fn change_role(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    cmd: ChangeRole,
    now: DateTime<Utc>,
) -> Result<RoleChanged> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let acting = acting_in(c, org, actor)?;
        let Some((target, label)) = db::members::find_with_label(c, org, cmd.membership)? else {
            return refuse(MemberRefusal::NotFound);
        };
        let manager = Manager {
            role: acting.role,
            is_target: target.user_id == actor.user.id,
        };
        let owners = db::members::owner_count(c, org)?;
        check_role_change(manager, target.role, cmd.to, owners).or_else(refuse)?;
        let changed = RoleChanged {
            from: target.role,
            to: cmd.to,
        };
        if changed.from == changed.to {
            return Ok(changed);
        }
        db::members::set_role(c, target.id, cmd.to)?;
        let (event, previous) = (EventType::MemberRoleChanged, Some(changed.from));
        db::webhooks::emit_member(c, org, target.user_id, event, cmd.to, previous, now)?;
        let ctx = acting.audit(actor);
        let detail = format!("{} → {}", changed.from.label(), changed.to.label());
        audit::record(
            c,
            &ctx,
            Some(org),
            AuditAction::MemberRoleChanged,
            Some(&label),
            Some(&detail),
            now,
        )?;
        if loses_invite_right(changed.from, changed.to) {
            let reason = format!("inviter's role changed to {}", changed.to.label());
            revoke_what_they_sent(c, &ctx, org, target.user_id, &reason, &reason, now)?;
        }
        // Their API tokens above the new role stop working (issue 15 §1).
        let reason = format!("creator's role changed to {}", changed.to.label());
        let keep = Some(changed.to);
        db::api_tokens::revoke_by_creator(c, &ctx, org, target.user_id, keep, &reason, now)?;
        Ok(changed)
    })
}

/// Removes a member as `actor`: returns their label ("Name <email>"). Their pending
/// invitations and links are revoked; if it was their last organization, their sessions end.
///
/// # Errors
/// As [`change_role`].
pub fn remove(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    membership: MembershipId,
    now: DateTime<Utc>,
) -> Result<String> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let acting = acting_in(c, org, actor)?;
        let Some((target, label)) = db::members::find_with_label(c, org, membership)? else {
            return refuse(MemberRefusal::NotFound);
        };
        let manager = Manager {
            role: acting.role,
            is_target: target.user_id == actor.user.id,
        };
        let owners = db::members::owner_count(c, org)?;
        check_removal(manager, target.role, owners).or_else(refuse)?;
        db::members::delete(c, target.id)?;
        let removed = EventType::MemberRemoved;
        db::webhooks::emit_member(c, org, target.user_id, removed, target.role, None, now)?;
        let ctx = acting.audit(actor);
        audit::record(
            c,
            &ctx,
            Some(org),
            AuditAction::MemberRemoved,
            Some(&label),
            Some(target.role.label()),
            now,
        )?;
        revoke_what_they_sent(
            c,
            &ctx,
            org,
            target.user_id,
            "inviter was removed",
            "creator was removed",
            now,
        )?;
        let reason = "creator was removed";
        db::api_tokens::revoke_by_creator(c, &ctx, org, target.user_id, None, reason, now)?;
        if db::members::count_of_user(c, target.user_id)? == 0 {
            db::sessions::delete_for_user(c, &target.user_id.to_string())?;
        }
        Ok(label)
    })
}

/// `actor` leaves `org` (never the last Owner, rule 4). Their pending invitations and links
/// are revoked.
///
/// # Errors
/// As [`change_role`]; [`MemberRefusal::NotAMember`] for staff acting without a membership.
pub fn leave(svc: &Services, actor: &Actor, org: OrganizationId, now: DateTime<Utc>) -> Result<()> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let acting = acting_in(c, org, actor)?;
        let Some(membership) = acting.membership else {
            return refuse(MemberRefusal::NotAMember);
        };
        check_leave(membership.role, db::members::owner_count(c, org)?).or_else(refuse)?;
        db::members::delete(c, membership.id)?;
        let (removed, user) = (EventType::MemberRemoved, actor.user.id);
        db::webhooks::emit_member(c, org, user, removed, membership.role, None, now)?;
        // Leaving is the person's own act, never staff's.
        let ctx = actor.audit(false);
        audit::record(
            c,
            &ctx,
            Some(org),
            AuditAction::MemberLeft,
            Some(&ctx.actor.label),
            Some(membership.role.label()),
            now,
        )?;
        revoke_what_they_sent(
            c,
            &ctx,
            org,
            actor.user.id,
            "inviter left the organization",
            "creator left the organization",
            now,
        )?;
        let reason = "creator left the organization";
        db::api_tokens::revoke_by_creator(c, &ctx, org, actor.user.id, None, reason, now)?;
        Ok(())
    })
}

/// Revokes the pending invitations (with `invitations_reason`) and live invite links (with
/// `links_reason`) that `user` created in `org`.
fn revoke_what_they_sent(
    c: &mut Conn,
    ctx: &AuditContext,
    org: OrganizationId,
    user: UserId,
    invitations_reason: &str,
    links_reason: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    db::invitations::revoke_all_by_inviter(c, ctx, org, user, invitations_reason, now)?;
    db::invite_links::revoke_all_by_creator(c, ctx, org, user, links_reason, now)?;
    Ok(())
}

/// One member as the removal confirmation shows them; `members:manage` only.
///
/// # Errors
/// [`MemberRefusal`]: no standing, the permission missing, or no such member.
pub fn find(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    membership: MembershipId,
) -> Result<MemberListing> {
    let mut conn = svc.conn()?;
    let standing = super::standing_in(&mut conn, org, actor)?;
    if !standing.role.has(Permission::MembersManage) {
        return refuse(MemberDenied::NotPermitted);
    }
    db::organizations::member_listing(&mut conn, org, membership)?
        .map_or_else(|| refuse(MemberRefusal::NotFound), Ok)
}

/// The membership of `user` in `org` (the JSON API names members by their account), for
/// `actor` with `members:manage`. Reads only.
///
/// # Errors
/// [`MemberRefusal`]: no standing, the permission missing, or not a member.
pub fn membership_of(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    user: UserId,
) -> Result<MembershipId> {
    let mut conn = svc.conn()?;
    let standing = super::standing_in(&mut conn, org, actor)?;
    if !standing.role.has(Permission::MembersManage) {
        return refuse(MemberDenied::NotPermitted);
    }
    db::organizations::membership(&mut conn, org, user)?
        .map_or_else(|| refuse(MemberRefusal::NotFound), |m| Ok(m.id))
}

/// What "Leave organization" would do for `actor`: their role, and the refusal if they may
/// not (the last Owner, rule 4). Reads only.
///
/// # Errors
/// [`MemberRefusal::NotAMember`] for staff without a membership; no standing.
pub fn leave_standing(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
) -> Result<(Role, std::result::Result<(), MemberDenied>)> {
    let mut conn = svc.conn()?;
    let standing = super::standing_in(&mut conn, org, actor)?;
    let Some(membership) = standing.membership else {
        return refuse(MemberRefusal::NotAMember);
    };
    let owners = db::members::owner_count(&mut conn, org)?;
    Ok((membership.role, check_leave(membership.role, owners)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Plan;
    use crate::service::testing::{Fixture, actor};

    fn refusal<T: std::fmt::Debug>(r: Result<T>) -> MemberRefusal {
        match r {
            Err(ServiceError::Refused(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn change(
        f: &Fixture,
        who: &Actor,
        org: OrganizationId,
        whom: &Actor,
        to: Role,
    ) -> Result<RoleChanged> {
        let membership = f.membership(org, whom);
        change_role(&f.svc, who, org, ChangeRole { membership, to }, f.now)
    }

    #[test]
    fn an_owner_changes_a_role_and_it_is_audited() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Starter);
        let owner = f.member(org, "owner@acme.test", Role::Owner);
        let pat = f.member(org, "pat@acme.test", Role::Viewer);
        let changed = change(&f, &owner, org, &pat, Role::Editor).unwrap();
        assert_eq!(
            changed,
            RoleChanged {
                from: Role::Viewer,
                to: Role::Editor
            }
        );
        assert_eq!(f.role_of(org, &pat), Some(Role::Editor));
        assert_eq!(f.audit_actions(org), ["member.role_changed"]);
        // The same role again changes and records nothing.
        change(&f, &owner, org, &pat, Role::Editor).unwrap();
        assert_eq!(f.audit_actions(org).len(), 1);
    }

    #[test]
    fn rule_1_an_admin_cannot_make_an_owner() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Starter);
        f.member(org, "owner@acme.test", Role::Owner);
        let admin = f.member(org, "admin@acme.test", Role::Admin);
        let pat = f.member(org, "pat@acme.test", Role::Viewer);
        assert_eq!(
            refusal(change(&f, &admin, org, &pat, Role::Owner)),
            MemberRefusal::Denied(MemberDenied::AboveCeiling(Role::Owner))
        );
        assert_eq!(f.role_of(org, &pat), Some(Role::Viewer));
    }

    #[test]
    fn rule_1_the_role_that_counts_is_the_one_read_under_the_lock() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Starter);
        let owner = f.member(org, "owner@acme.test", Role::Owner);
        f.member(org, "other@acme.test", Role::Owner);
        let pat = f.member(org, "pat@acme.test", Role::Viewer);
        // Demoted by another request after this one's page was shown.
        f.set_role(org, &owner, Role::Viewer);
        assert_eq!(
            refusal(change(&f, &owner, org, &pat, Role::Owner)),
            MemberRefusal::Denied(MemberDenied::NotPermitted)
        );
        // Removed altogether: no standing at all.
        let id = f.membership(org, &owner);
        f.with(|c| db::members::delete(c, id));
        assert_eq!(
            refusal(change(&f, &owner, org, &pat, Role::Editor)),
            MemberRefusal::NoStanding(NoStanding::NotAMember)
        );
    }

    #[test]
    fn rule_4_the_last_owner_cannot_be_demoted_removed_or_leave() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Starter);
        let owner = f.member(org, "owner@acme.test", Role::Owner);
        let staff = actor(f.user("staff@joinery.test", "Sam", true));
        assert!(matches!(
            refusal(change(&f, &staff, org, &owner, Role::Admin)),
            MemberRefusal::Denied(MemberDenied::LastOwner(_))
        ));
        let id = f.membership(org, &owner);
        assert!(matches!(
            refusal(remove(&f.svc, &staff, org, id, f.now)),
            MemberRefusal::Denied(_)
        ));
        assert!(matches!(
            refusal(leave(&f.svc, &owner, org, f.now)),
            MemberRefusal::Denied(MemberDenied::LastOwner(_))
        ));
        assert_eq!(f.role_of(org, &owner), Some(Role::Owner));
    }

    #[test]
    fn rule_5_nobody_changes_their_own_role_and_admins_leave_owners_alone() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Starter);
        let owner = f.member(org, "owner@acme.test", Role::Owner);
        let admin = f.member(org, "admin@acme.test", Role::Admin);
        assert_eq!(
            refusal(change(&f, &admin, org, &admin, Role::Viewer)),
            MemberRefusal::Denied(MemberDenied::OwnRole)
        );
        assert_eq!(
            refusal(change(&f, &admin, org, &owner, Role::Viewer)),
            MemberRefusal::Denied(MemberDenied::AdminCannotTouchOwner)
        );
        let id = f.membership(org, &admin);
        assert_eq!(
            refusal(remove(&f.svc, &admin, org, id, f.now)),
            MemberRefusal::Denied(MemberDenied::RemoveSelf)
        );
    }

    #[test]
    fn removal_ends_the_sessions_of_the_last_organization_and_is_audited() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Starter);
        let owner = f.member(org, "owner@acme.test", Role::Owner);
        let admin = f.member(org, "admin@acme.test", Role::Admin);
        f.with(|c| db::sessions::insert(c, "key", Some(&admin.user.id.to_string()), "{}", f.now));
        let id = f.membership(org, &admin);
        let label = remove(&f.svc, &owner, org, id, f.now).unwrap();
        assert_eq!(label, "admin@acme.test <admin@acme.test>");
        assert_eq!(f.role_of(org, &admin), None);
        let sessions = f.with(|c| db::sessions::delete_for_user(c, &admin.user.id.to_string()));
        assert_eq!(
            sessions, 0,
            "the removed person's sessions ended with the removal"
        );
        assert_eq!(f.audit_actions(org), ["member.removed"]);
    }

    #[test]
    fn staff_act_as_owners_and_the_trail_says_staff() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Starter);
        f.member(org, "owner@acme.test", Role::Owner);
        let pat = f.member(org, "pat@acme.test", Role::Viewer);
        let staff = actor(f.user("staff@joinery.test", "Sam", true));
        change(&f, &staff, org, &pat, Role::Admin).unwrap();
        let staff_marked: Vec<bool> = f.with(|c| {
            use crate::db::schema::audit_events;
            use diesel::prelude::*;
            Ok(audit_events::table
                .select(audit_events::actor_is_staff)
                .load::<bool>(c)?)
        });
        assert_eq!(staff_marked, [true]);
        assert_eq!(
            refusal(leave(&f.svc, &staff, org, f.now)),
            MemberRefusal::NotAMember,
            "staff without a membership have nothing to leave"
        );
    }
}
