//! What the audit trail records (DESIGN.md, "Pages → Audit log"): every invitation
//! event, membership change, plan change, settings change and staff action.

use std::fmt;
use std::str::FromStr;

/// An audited action, stored by its dotted name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// An invitation was sent (created).
    InvitationSent,
    /// An invitation was sent again with its original link.
    InvitationResent,
    /// An invitation was revoked (by a person, or because it was replaced or its inviter lost
    /// the right to send it).
    InvitationRevoked,
    /// The invitee declined.
    InvitationDeclined,
    /// The invitee accepted.
    InvitationAccepted,
    /// An invitation passed its expiry (written by the sweep or on re-invite).
    InvitationExpired,
    /// The invitee of an expired invitation asked for a new one.
    InvitationRenewalRequested,
    /// A member's role changed.
    MemberRoleChanged,
    /// A member was removed.
    MemberRemoved,
    /// A member left.
    MemberLeft,
    /// A member joined (by accepting an invitation or creating the organization).
    MemberJoined,
    /// The organization's plan changed.
    PlanChanged,
    /// Staff set or cleared the organization's seat limit override.
    SeatLimitChanged,
    /// The organization was created.
    OrganizationCreated,
    /// A notification setting changed.
    SettingsChanged,
    /// Staff sent a tenant-owner invitation.
    TenantInvitationSent,
    /// Staff resent a tenant-owner invitation.
    TenantInvitationResent,
    /// Staff revoked a tenant-owner invitation.
    TenantInvitationRevoked,
    /// A tenant-owner invitation was accepted (the organization was created).
    TenantInvitationAccepted,
    /// An invite link was created.
    InviteLinkCreated,
    /// An invite link was revoked (by a person, or because its creator lost the right).
    InviteLinkRevoked,
    /// Someone joined through an invite link.
    InviteLinkUsed,
    /// An Owner claimed an email domain (a code was mailed to prove it).
    DomainAdded,
    /// A domain was proved with its mailed code.
    DomainVerified,
    /// A domain's enrollment mode or default role changed.
    DomainEnrollmentChanged,
    /// A domain was removed.
    DomainRemoved,
    /// Someone asked to join (through a "request access" invite link or a *Suggest* domain).
    JoinRequestSubmitted,
    /// An Owner or Admin approved a join request (the requester joined).
    JoinRequestApproved,
    /// An Owner or Admin rejected a join request.
    JoinRequestRejected,
    /// An Owner made an API token.
    ApiTokenCreated,
    /// An API token was revoked (by an Owner, or because its creator lost the right).
    ApiTokenRevoked,
}

impl AuditAction {
    /// Every action, for the filter on the audit page.
    pub const ALL: [AuditAction; 31] = [
        AuditAction::InvitationSent,
        AuditAction::InvitationResent,
        AuditAction::InvitationRevoked,
        AuditAction::InvitationDeclined,
        AuditAction::InvitationAccepted,
        AuditAction::InvitationExpired,
        AuditAction::InvitationRenewalRequested,
        AuditAction::MemberJoined,
        AuditAction::MemberRoleChanged,
        AuditAction::MemberRemoved,
        AuditAction::MemberLeft,
        AuditAction::PlanChanged,
        AuditAction::SeatLimitChanged,
        AuditAction::OrganizationCreated,
        AuditAction::SettingsChanged,
        AuditAction::TenantInvitationSent,
        AuditAction::TenantInvitationResent,
        AuditAction::TenantInvitationRevoked,
        AuditAction::TenantInvitationAccepted,
        AuditAction::InviteLinkCreated,
        AuditAction::InviteLinkRevoked,
        AuditAction::InviteLinkUsed,
        AuditAction::DomainAdded,
        AuditAction::DomainVerified,
        AuditAction::DomainEnrollmentChanged,
        AuditAction::DomainRemoved,
        AuditAction::JoinRequestSubmitted,
        AuditAction::JoinRequestApproved,
        AuditAction::JoinRequestRejected,
        AuditAction::ApiTokenCreated,
        AuditAction::ApiTokenRevoked,
    ];

    /// The stored name, e.g. `invitation.sent`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::InvitationSent => "invitation.sent",
            AuditAction::InvitationResent => "invitation.resent",
            AuditAction::InvitationRevoked => "invitation.revoked",
            AuditAction::InvitationDeclined => "invitation.declined",
            AuditAction::InvitationAccepted => "invitation.accepted",
            AuditAction::InvitationExpired => "invitation.expired",
            AuditAction::InvitationRenewalRequested => "invitation.renewal_requested",
            AuditAction::MemberJoined => "member.joined",
            AuditAction::MemberRoleChanged => "member.role_changed",
            AuditAction::MemberRemoved => "member.removed",
            AuditAction::MemberLeft => "member.left",
            AuditAction::PlanChanged => "organization.plan_changed",
            AuditAction::SeatLimitChanged => "organization.seat_limit_changed",
            AuditAction::OrganizationCreated => "organization.created",
            AuditAction::SettingsChanged => "settings.changed",
            AuditAction::TenantInvitationSent => "tenant_invitation.sent",
            AuditAction::TenantInvitationResent => "tenant_invitation.resent",
            AuditAction::TenantInvitationRevoked => "tenant_invitation.revoked",
            AuditAction::TenantInvitationAccepted => "tenant_invitation.accepted",
            AuditAction::InviteLinkCreated => "invite_link.created",
            AuditAction::InviteLinkRevoked => "invite_link.revoked",
            AuditAction::InviteLinkUsed => "invite_link.used",
            AuditAction::DomainAdded => "domain.added",
            AuditAction::DomainVerified => "domain.verified",
            AuditAction::DomainEnrollmentChanged => "domain.enrollment_changed",
            AuditAction::DomainRemoved => "domain.removed",
            AuditAction::JoinRequestSubmitted => "join_request.submitted",
            AuditAction::JoinRequestApproved => "join_request.approved",
            AuditAction::JoinRequestRejected => "join_request.rejected",
            AuditAction::ApiTokenCreated => "api_token.created",
            AuditAction::ApiTokenRevoked => "api_token.revoked",
        }
    }

    /// The name shown on the audit page, e.g. "Invitation sent".
    pub fn label(self) -> &'static str {
        match self {
            AuditAction::InvitationSent => "Invitation sent",
            AuditAction::InvitationResent => "Invitation resent",
            AuditAction::InvitationRevoked => "Invitation revoked",
            AuditAction::InvitationDeclined => "Invitation declined",
            AuditAction::InvitationAccepted => "Invitation accepted",
            AuditAction::InvitationExpired => "Invitation expired",
            AuditAction::InvitationRenewalRequested => "New invitation requested",
            AuditAction::MemberJoined => "Member joined",
            AuditAction::MemberRoleChanged => "Role changed",
            AuditAction::MemberRemoved => "Member removed",
            AuditAction::MemberLeft => "Member left",
            AuditAction::PlanChanged => "Plan changed",
            AuditAction::SeatLimitChanged => "Seat limit changed",
            AuditAction::OrganizationCreated => "Organization created",
            AuditAction::SettingsChanged => "Settings changed",
            AuditAction::TenantInvitationSent => "Tenant-owner invitation sent",
            AuditAction::TenantInvitationResent => "Tenant-owner invitation resent",
            AuditAction::TenantInvitationRevoked => "Tenant-owner invitation revoked",
            AuditAction::TenantInvitationAccepted => "Tenant-owner invitation accepted",
            AuditAction::InviteLinkCreated => "Invite link created",
            AuditAction::InviteLinkRevoked => "Invite link revoked",
            AuditAction::InviteLinkUsed => "Invite link used",
            AuditAction::DomainAdded => "Domain added",
            AuditAction::DomainVerified => "Domain verified",
            AuditAction::DomainEnrollmentChanged => "Domain enrollment changed",
            AuditAction::DomainRemoved => "Domain removed",
            AuditAction::JoinRequestSubmitted => "Join request sent",
            AuditAction::JoinRequestApproved => "Join request approved",
            AuditAction::JoinRequestRejected => "Join request rejected",
            AuditAction::ApiTokenCreated => "API token created",
            AuditAction::ApiTokenRevoked => "API token revoked",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The error for an action name that is not one of [`AuditAction::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit action {0:?}")]
pub struct UnknownAction(pub String);

impl FromStr for AuditAction {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAction(s.chars().take(60).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>(), Ok(a));
            assert!(seen.insert(a.as_str()));
        }
        assert!("invitation.eaten".parse::<AuditAction>().is_err());
    }
}
