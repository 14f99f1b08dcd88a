//! Organizations (tenants) and their memberships, and the Members table's rows.

use chrono::{DateTime, Utc};

use super::{MembershipId, OrganizationId, Plan, Role, UserId};

/// An organization (tenant).
#[derive(Debug, Clone)]
pub struct Organization {
    /// Its id.
    pub id: OrganizationId,
    /// Its name.
    pub name: String,
    /// Its plan.
    pub plan: Plan,
    /// Its version: a number the database raises in the same transaction as every change to
    /// what its Team page shows (migration `000120_organization_version`; issue 16).
    pub version: i64,
}

/// One person's membership of one organization.
#[derive(Debug, Clone)]
pub struct Membership {
    /// Its id.
    pub id: MembershipId,
    /// The organization.
    pub organization_id: OrganizationId,
    /// The member.
    pub user_id: UserId,
    /// The member's role, read from the database on every request.
    pub role: Role,
    /// "Notify me when team members join".
    pub notify_on_join: bool,
}

/// A row of the Team page's Members table.
#[derive(Debug, Clone)]
pub struct MemberListing {
    /// The membership.
    pub membership_id: MembershipId,
    /// The member's account.
    pub user_id: UserId,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
    /// Who invited them, by name, if anyone.
    pub invited_by: Option<String>,
    /// Their department, from the CSV import that invited them, if any.
    pub department: Option<String>,
}
