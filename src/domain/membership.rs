//! Who may change whose role, remove whom, and leave (DESIGN.md, rules 1, 4, 5 and 6).
//!
//! The database layer calls these inside a transaction that has locked the organization, with
//! the Owner count it just read, so two Owners demoting each other at once can never leave the
//! organization without an Owner (rule 4, "also when two requests race"). The actor's own role
//! is read again in that transaction ([`acting_role`]): an Owner demoted while their request
//! waited for the lock acts with the role they have now.

use super::role::{Permission, Role};

/// Why a membership change is refused. `Display` is shown to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MemberDenied {
    /// The actor lacks `members:manage`.
    #[error("You do not have permission to manage the members of this organization")]
    NotPermitted,
    /// The actor was removed from the organization (or left it) before their change was made.
    #[error("You are no longer a member of this organization")]
    NotAMember,
    /// Rule 5: nobody changes their own role.
    #[error("You cannot change your own role")]
    OwnRole,
    /// Rule 5: nobody removes themselves from the members table (leaving is separate).
    #[error("You cannot remove yourself; use \"Leave organization\" on the dashboard instead")]
    RemoveSelf,
    /// Rule 5: an Admin cannot change the role of, or remove, an Owner.
    #[error("Admins cannot change the role of an Owner or remove an Owner")]
    AdminCannotTouchOwner,
    /// Rule 1: the new role is above the actor's ceiling.
    #[error("You cannot make someone {0}: you may only assign roles at or below your own")]
    AboveCeiling(Role),
    /// Rule 4: the last Owner cannot be demoted, removed or leave.
    #[error("{0} needs at least one Owner. Make someone else an Owner first")]
    LastOwner(&'static str),
}

/// The actor of a membership change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Manager {
    /// The role they act with (staff act as Owner).
    pub role: Role,
    /// Whether the target is the actor themselves.
    pub is_target: bool,
}

/// The role a person acts with in an organization: platform staff act as an Owner whatever
/// their membership (DESIGN.md, rule 6); anyone else with their membership's role. `None` for
/// someone who is neither staff nor a member.
pub fn acting_role(membership: Option<Role>, is_staff: bool) -> Option<Role> {
    if is_staff {
        Some(Role::Owner)
    } else {
        membership
    }
}

const THE_ORGANIZATION: &str = "The organization";

fn common(manager: Manager, target: Role) -> Result<(), MemberDenied> {
    if !manager.role.has(Permission::MembersManage) {
        return Err(MemberDenied::NotPermitted);
    }
    if manager.role == Role::Admin && target == Role::Owner {
        return Err(MemberDenied::AdminCannotTouchOwner);
    }
    Ok(())
}

/// Whether `manager` may change a member's role from `from` to `to` while the organization has
/// `owners` Owners.
///
/// # Errors
/// [`MemberDenied`] naming the rule, checked in the order: permission, rule 5 (own role,
/// Admin vs Owner), rule 1 (ceiling), rule 4 (last Owner).
pub fn check_role_change(
    manager: Manager,
    from: Role,
    to: Role,
    owners: usize,
) -> Result<(), MemberDenied> {
    if manager.is_target && manager.role.has(Permission::MembersManage) {
        return Err(MemberDenied::OwnRole);
    }
    common(manager, from)?;
    if !manager.role.may_assign(to) {
        return Err(MemberDenied::AboveCeiling(to));
    }
    if from == Role::Owner && to != Role::Owner && owners <= 1 {
        return Err(MemberDenied::LastOwner(THE_ORGANIZATION));
    }
    Ok(())
}

/// Whether `manager` may remove a member whose role is `target` while the organization has
/// `owners` Owners.
///
/// # Errors
/// [`MemberDenied`] naming the rule.
pub fn check_removal(manager: Manager, target: Role, owners: usize) -> Result<(), MemberDenied> {
    if manager.is_target && manager.role.has(Permission::MembersManage) {
        return Err(MemberDenied::RemoveSelf);
    }
    common(manager, target)?;
    if target == Role::Owner && owners <= 1 {
        return Err(MemberDenied::LastOwner(THE_ORGANIZATION));
    }
    Ok(())
}

/// Whether a member with `role` may leave while the organization has `owners` Owners.
///
/// # Errors
/// [`MemberDenied::LastOwner`] for the last Owner.
pub fn check_leave(role: Role, owners: usize) -> Result<(), MemberDenied> {
    if role == Role::Owner && owners <= 1 {
        return Err(MemberDenied::LastOwner(THE_ORGANIZATION));
    }
    Ok(())
}

/// Whether moving from `from` to `to` takes `users:invite` away — then the member's pending
/// invitations are revoked (DESIGN.md, "Invitations follow current policy").
pub fn loses_invite_right(from: Role, to: Role) -> bool {
    from.has(Permission::UsersInvite) && !to.has(Permission::UsersInvite)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    fn by(role: Role) -> Manager {
        Manager {
            role,
            is_target: false,
        }
    }

    #[test]
    fn only_members_managers_change_roles() {
        for role in [Editor, Writer, Viewer] {
            assert_eq!(
                check_role_change(by(role), Viewer, Writer, 1),
                Err(MemberDenied::NotPermitted)
            );
            assert_eq!(
                check_removal(by(role), Viewer, 1),
                Err(MemberDenied::NotPermitted)
            );
        }
        assert_eq!(check_role_change(by(Admin), Viewer, Editor, 1), Ok(()));
    }

    #[test]
    fn rule_1_ceiling_on_role_changes() {
        assert_eq!(
            check_role_change(by(Admin), Viewer, Owner, 1),
            Err(MemberDenied::AboveCeiling(Owner))
        );
        assert_eq!(check_role_change(by(Admin), Viewer, Admin, 1), Ok(()));
        assert_eq!(check_role_change(by(Owner), Viewer, Owner, 1), Ok(()));
    }

    #[test]
    fn rule_5_no_self_change_or_removal_and_admins_leave_owners_alone() {
        let me = |role| Manager {
            role,
            is_target: true,
        };
        assert_eq!(
            check_role_change(me(Owner), Owner, Admin, 3),
            Err(MemberDenied::OwnRole)
        );
        assert_eq!(
            check_removal(me(Admin), Admin, 1),
            Err(MemberDenied::RemoveSelf)
        );
        assert_eq!(
            check_role_change(by(Admin), Owner, Viewer, 3),
            Err(MemberDenied::AdminCannotTouchOwner)
        );
        assert_eq!(
            check_removal(by(Admin), Owner, 3),
            Err(MemberDenied::AdminCannotTouchOwner)
        );
    }

    #[test]
    fn rule_4_last_owner_is_kept() {
        assert!(matches!(
            check_role_change(by(Owner), Owner, Admin, 1),
            Err(MemberDenied::LastOwner(_))
        ));
        assert_eq!(check_role_change(by(Owner), Owner, Admin, 2), Ok(()));
        assert!(matches!(
            check_removal(by(Owner), Owner, 1),
            Err(MemberDenied::LastOwner(_))
        ));
        assert_eq!(check_removal(by(Owner), Owner, 2), Ok(()));
        assert!(matches!(
            check_leave(Owner, 1),
            Err(MemberDenied::LastOwner(_))
        ));
        assert_eq!(check_leave(Owner, 2), Ok(()));
        assert_eq!(check_leave(Viewer, 1), Ok(()));
    }

    #[test]
    fn staff_act_as_owners_and_non_members_not_at_all() {
        assert_eq!(acting_role(Some(Admin), false), Some(Admin));
        assert_eq!(acting_role(Some(Viewer), true), Some(Owner));
        assert_eq!(acting_role(None, true), Some(Owner));
        assert_eq!(acting_role(None, false), None);
    }

    #[test]
    fn losing_users_invite_is_detected() {
        assert!(loses_invite_right(Admin, Editor));
        assert!(loses_invite_right(Owner, Viewer));
        assert!(!loses_invite_right(Owner, Admin));
        assert!(!loses_invite_right(Editor, Viewer));
    }
}
