//! Tenant-owner invitations (DESIGN.md, "Invitations"): sent by staff; accepting one creates
//! an organization with the invitee as its Owner.

use chrono::{DateTime, Utc};

use super::invitation::InvitationFacts;
use super::token::TokenNonce;
use super::{EmailAddress, InvitationId, OrganizationId, Plan, UserId};

/// A tenant-owner invitation with its sender's name.
#[derive(Debug, Clone)]
pub struct TenantInvitation {
    /// Its id.
    pub id: InvitationId,
    /// The invited address.
    pub email: EmailAddress,
    /// The plan of the organization to be created.
    pub plan: Plan,
    /// The staff member's personal message.
    pub message: Option<String>,
    /// The staff member who sent it.
    pub invited_by: UserId,
    /// Their name.
    pub inviter_name: String,
    /// The nonce its token is derived from.
    pub nonce: TokenNonce,
    /// Status, expiry and last resend.
    pub facts: InvitationFacts,
    /// Why it was revoked, if recorded.
    pub status_reason: Option<String>,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// The organization created on acceptance.
    pub organization_id: Option<OrganizationId>,
}

/// Why a tenant-owner invitation is not sent: an address has at most one pending at a time,
/// so staff resend the one that is out (which keeps its link) rather than send another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendRefused {
    /// The address already has a live tenant-owner invitation.
    #[error("This address already has a pending tenant-owner invitation; resend that one instead")]
    AlreadyPending,
}
