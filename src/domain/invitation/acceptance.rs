//! Whether an invitation can be used, acceptance itself, "Invitations follow current policy",
//! and "Request a new invitation" (DESIGN.md, "The acceptance page" and "Invitations"). Which
//! page a visitor sees is `domain::link::page`'s decision, fed by [`usable`].

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::domain::email::EmailAddress;
use crate::domain::link::{LinkKind, LinkUnusable};
use crate::domain::role::{Permission, Role};

/// Whether a member invitation can be used at `now`: its own state first (expired, accepted,
/// revoked, declined), then whether its inviter may still grant it (`policy`, from
/// [`check_inviter_may_still_assign`]; DESIGN.md, "Invitations follow current policy"). A lapsed
/// inviter reads as revoked. Pure: the page decides with it (`domain::link::page`) and only an
/// accept or decline POST writes the revocation.
///
/// # Errors
/// [`LinkUnusable`] saying why not.
pub fn usable(
    facts: &InvitationFacts,
    policy: Result<(), InviterLapsed>,
    now: DateTime<Utc>,
) -> Result<(), LinkUnusable> {
    facts.check_usable(now)?;
    policy.map_err(|_| LinkUnusable::Revoked)
}

/// Why an acceptance is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AcceptError {
    /// The link cannot be used.
    #[error("{}", .0.title(LinkKind::MemberInvitation))]
    Unusable(LinkUnusable),
    /// The signed-in account's email differs from the invited one. Nothing is used up.
    #[error("Invitation email does not match your account")]
    WrongAccount,
}

/// Checks that `acceptor` may accept at `now`: the link is usable and the emails match after
/// normalization (DESIGN.md, "Accept").
///
/// # Errors
/// [`AcceptError`] saying which check failed.
pub fn check_accept(
    facts: &InvitationFacts,
    invited: &EmailAddress,
    acceptor: &EmailAddress,
    now: DateTime<Utc>,
) -> Result<(), AcceptError> {
    facts.check_usable(now).map_err(AcceptError::Unusable)?;
    if invited != acceptor {
        return Err(AcceptError::WrongAccount);
    }
    Ok(())
}

/// Why an invitation stopped following current policy: its inviter may no longer grant it
/// (DESIGN.md, "Invitations follow current policy"). `Display` is the reason recorded on the
/// invitation when acceptance revokes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InviterLapsed {
    /// The inviter left the organization or was removed.
    #[error("inviter is no longer a member")]
    NotAMember,
    /// The inviter's current role lacks `users:invite`.
    #[error("inviter may no longer invite (now {0})")]
    MayNotInvite(Role),
    /// The inviter's current role may not assign the invited role (rule 1).
    #[error("inviter may no longer assign {0}")]
    MayNotAssign(Role),
}

/// Whether an invitation for `role` still follows policy, given who its inviter is *now*:
/// `None` when they are no longer a member, [`Inviter::Staff`] for platform staff (who may
/// assign any role), else their current role. Checked again at acceptance, so a demotion or a
/// removal after sending takes effect on invitations already out.
///
/// # Errors
/// [`InviterLapsed`] naming what the inviter lost.
pub fn check_inviter_may_still_assign(
    inviter: Option<Inviter>,
    role: Role,
) -> Result<(), InviterLapsed> {
    let inviter_role = match inviter {
        None => return Err(InviterLapsed::NotAMember),
        Some(inviter) => inviter.role(),
    };
    if !inviter_role.has(Permission::UsersInvite) {
        return Err(InviterLapsed::MayNotInvite(inviter_role));
    }
    if !inviter_role.may_assign(role) {
        return Err(InviterLapsed::MayNotAssign(role));
    }
    Ok(())
}

/// The least time between two "Request a new invitation" emails for one invitation.
pub const RENEWAL_REQUEST_INTERVAL: Duration = Duration::days(1);

/// Why "Request a new invitation" does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RenewalRefused {
    /// Only an expired invitation can be renewed; this one is in another state.
    #[error("{}", .0.title(LinkKind::MemberInvitation))]
    NotExpired(LinkUnusable),
    /// Still pending and usable: there is nothing to renew.
    #[error("This invitation can still be used")]
    StillUsable,
    /// The inviter may no longer send it, so asking them would be pointless.
    #[error("The person who invited you can no longer send this invitation")]
    InviterLapsed(InviterLapsed),
    /// A newer invitation is pending for the address, or it belongs to a member already.
    #[error("A newer invitation has been sent, or you are already a member")]
    Superseded,
    /// Asked already within the last day; `at` is when.
    #[error("A new invitation was already requested")]
    AlreadyRequested {
        /// When the earlier request was made.
        at: DateTime<Utc>,
    },
}

/// Whether the holder of an expired link may ask its inviter for a new one at `now`
/// (DESIGN.md, "Request a new invitation": at most once a day per invitation). `superseded`
/// says whether a newer invitation is pending for the address, or it is a member's already.
///
/// # Errors
/// [`RenewalRefused`] saying why not, checked in the order: expired, inviter, superseded,
/// once a day.
pub fn check_renewal_request(
    facts: &InvitationFacts,
    policy: Result<(), InviterLapsed>,
    superseded: bool,
    last_requested_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), RenewalRefused> {
    match facts.check_usable(now) {
        Ok(()) => return Err(RenewalRefused::StillUsable),
        Err(LinkUnusable::Expired) => {}
        Err(other) => return Err(RenewalRefused::NotExpired(other)),
    }
    policy.map_err(RenewalRefused::InviterLapsed)?;
    if superseded {
        return Err(RenewalRefused::Superseded);
    }
    match last_requested_at {
        Some(at) if now < at + RENEWAL_REQUEST_INTERVAL => {
            Err(RenewalRefused::AlreadyRequested { at })
        }
        _ => Ok(()),
    }
}
