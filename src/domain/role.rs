//! Roles and the permissions they carry (DESIGN.md, "Roles and permissions").

use std::fmt;
use std::str::FromStr;

/// A member's role in an organization, highest first: Owner, Admin, Editor, Writer, Viewer.
///
/// The derived ordering follows rank: `Role::Owner > Role::Viewer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Read-only access to dashboards.
    Viewer,
    /// Creates and edits own content only.
    Writer,
    /// Creates, edits and publishes content.
    Editor,
    /// Everything except billing.
    Admin,
    /// Full access: billing, team management, all features.
    Owner,
}

/// Something a role may do. Names follow DESIGN.md (`users:invite`, `members:manage`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// `users:invite` — send, resend and revoke invitations; invite links.
    UsersInvite,
    /// `members:manage` — change roles, remove members, see Team Management and the audit log.
    MembersManage,
    /// `billing` — see the plan and billing page.
    Billing,
    /// `content:publish`.
    ContentPublish,
    /// `content:write` (own content).
    ContentWrite,
    /// `dashboards:view`.
    DashboardsView,
}

impl Permission {
    /// Every permission, in the order DESIGN.md's table lists them.
    pub const ALL: [Permission; 6] = [
        Permission::UsersInvite,
        Permission::MembersManage,
        Permission::Billing,
        Permission::ContentPublish,
        Permission::ContentWrite,
        Permission::DashboardsView,
    ];

    /// The permission's name as DESIGN.md writes it, e.g. `users:invite`.
    pub fn name(self) -> &'static str {
        match self {
            Permission::UsersInvite => "users:invite",
            Permission::MembersManage => "members:manage",
            Permission::Billing => "billing",
            Permission::ContentPublish => "content:publish",
            Permission::ContentWrite => "content:write",
            Permission::DashboardsView => "dashboards:view",
        }
    }

    /// What the permission lets a person do, in words for pages.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::UsersInvite => "Invite people and manage invitations",
            Permission::MembersManage => "Manage members and their roles",
            Permission::Billing => "See the plan and billing",
            Permission::ContentPublish => "Publish content",
            Permission::ContentWrite => "Create and edit your own content",
            Permission::DashboardsView => "View dashboards",
        }
    }
}

/// The error for a role name that is not one of the five roles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: choose Owner, Admin, Editor, Writer or Viewer")]
pub struct UnknownRole(pub String);

impl Role {
    /// All roles, lowest first (the order of the invite dialog's selector).
    pub const ALL_ASCENDING: [Role; 5] = [
        Role::Viewer,
        Role::Writer,
        Role::Editor,
        Role::Admin,
        Role::Owner,
    ];

    /// The stored and submitted name: `owner`, `admin`, `editor`, `writer`, `viewer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Writer => "writer",
            Role::Viewer => "viewer",
        }
    }

    /// The capitalised name shown to people: `Owner`, `Admin`, …
    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Admin => "Admin",
            Role::Editor => "Editor",
            Role::Writer => "Writer",
            Role::Viewer => "Viewer",
        }
    }

    /// The description shown in the UI and in emails (DESIGN.md, "Roles and permissions").
    pub fn description(self) -> &'static str {
        match self {
            Role::Owner => "Full access (billing, team management, all features)",
            Role::Admin => "Everything except billing",
            Role::Editor => "Create, edit and publish content",
            Role::Writer => "Create and edit own content only",
            Role::Viewer => "Read-only access to dashboards",
        }
    }

    /// Whether this role carries `permission` (DESIGN.md's permission table).
    pub fn has(self, permission: Permission) -> bool {
        match permission {
            Permission::UsersInvite | Permission::MembersManage => self >= Role::Admin,
            Permission::Billing => self == Role::Owner,
            Permission::ContentPublish => self >= Role::Editor,
            Permission::ContentWrite => self >= Role::Writer,
            Permission::DashboardsView => true,
        }
    }

    /// The permissions this role carries, in table order.
    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|p| self.has(*p))
            .collect()
    }

    /// Rule 1, the role ceiling: whether someone with this role may give `target` to another
    /// person, by invitation or role change. Owners may assign any role; everyone else only
    /// roles at or below their own, so an Admin can never make an Owner.
    pub fn may_assign(self, target: Role) -> bool {
        self == Role::Owner || (target <= self && target != Role::Owner)
    }

    /// The roles this role may assign, lowest first (what the invite dialog offers).
    pub fn assignable_roles(self) -> Vec<Role> {
        Role::ALL_ASCENDING
            .into_iter()
            .filter(|r| self.may_assign(*r))
            .collect()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;

    /// Parses a stored or submitted role name, case-insensitively (`admin`, `Admin`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL_ASCENDING
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownRole(s.chars().take(40).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_table_matches_design() {
        // Columns in `Permission::ALL`'s order (DESIGN.md's table).
        let expect = [
            (Role::Owner, [true, true, true, true, true, true]),
            (Role::Admin, [true, true, false, true, true, true]),
            (Role::Editor, [false, false, false, true, true, true]),
            (Role::Writer, [false, false, false, false, true, true]),
            (Role::Viewer, [false, false, false, false, false, true]),
        ];
        for (role, row) in expect {
            for (perm, want) in Permission::ALL.iter().zip(row) {
                assert_eq!(role.has(*perm), want, "{role} / {}", perm.name());
            }
        }
    }

    #[test]
    fn owners_may_assign_every_role() {
        assert_eq!(Role::Owner.assignable_roles(), Role::ALL_ASCENDING.to_vec());
    }

    #[test]
    fn admins_may_not_assign_owner() {
        assert!(!Role::Admin.may_assign(Role::Owner));
        assert_eq!(
            Role::Admin.assignable_roles(),
            vec![Role::Viewer, Role::Writer, Role::Editor, Role::Admin]
        );
    }

    #[test]
    fn lower_roles_assign_at_or_below_their_own() {
        assert!(Role::Editor.may_assign(Role::Editor));
        assert!(Role::Editor.may_assign(Role::Viewer));
        assert!(!Role::Editor.may_assign(Role::Admin));
        assert_eq!(Role::Viewer.assignable_roles(), vec![Role::Viewer]);
    }

    #[test]
    fn parses_names_case_insensitively_and_rejects_others() {
        assert_eq!("Admin".parse::<Role>(), Ok(Role::Admin));
        assert_eq!(" viewer ".parse::<Role>(), Ok(Role::Viewer));
        assert!("superuser".parse::<Role>().is_err());
        assert!("".parse::<Role>().is_err());
    }

    #[test]
    fn ordering_is_rank() {
        assert!(Role::Owner > Role::Admin && Role::Admin > Role::Editor);
        assert!(Role::Editor > Role::Writer && Role::Writer > Role::Viewer);
    }
}
