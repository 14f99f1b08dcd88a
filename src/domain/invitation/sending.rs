//! Who may send which invitation, and what inviting an address does given what it already
//! has (DESIGN.md, rules 1-3 and "Invitations → Behaviour").

use chrono::{DateTime, Utc};

use super::*;
use crate::domain::plan::Plan;
use crate::domain::role::{Permission, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inviter {
    /// A member of the organization with this role.
    Member(Role),
    /// Platform staff, who act as an Owner would (rule 6).
    Staff,
}

impl Inviter {
    /// The role they act with: their own, or Owner for staff.
    pub fn role(self) -> Role {
        match self {
            Inviter::Member(role) => role,
            Inviter::Staff => Role::Owner,
        }
    }
}

/// Why someone may not send an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InviteDenied {
    /// Rule 2: the inviter lacks `users:invite`.
    #[error("You do not have permission to invite people to this organization")]
    NotPermitted,
    /// Rule 3: the organization is on the Trial plan.
    #[error("Team invitations are available on paid plans")]
    TrialPlan,
    /// Rule 1: the role is above the inviter's ceiling.
    #[error("You cannot invite someone as {0}: you may only assign roles at or below your own")]
    AboveCeiling(Role),
}

/// Rules 1–3 for one invitation: `inviter` may invite into an organization on `plan` with
/// `role`. The same check runs for resends and the invite dialog's role list.
///
/// # Errors
/// [`InviteDenied`] naming the rule that refused it, checked in the order 2, 3, 1.
pub fn authorize_invitation(inviter: Inviter, plan: Plan, role: Role) -> Result<(), InviteDenied> {
    let inviter_role = inviter.role();
    if !inviter_role.has(Permission::UsersInvite) {
        return Err(InviteDenied::NotPermitted);
    }
    if !plan.allows_invitations() {
        return Err(InviteDenied::TrialPlan);
    }
    if !inviter_role.may_assign(role) {
        return Err(InviteDenied::AboveCeiling(role));
    }
    Ok(())
}

/// Why someone may not act on an existing invitation or invite link (resend, revoke, replace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ActOnDenied {
    /// Rule 2: the actor lacks `users:invite`.
    #[error("You do not have permission to manage invitations in this organization")]
    NotPermitted,
    /// Rule 1: its role is above the actor's own.
    #[error(
        "It is for the {0} role, above your own role: you may act only on invitations and links at or below your role"
    )]
    AboveCeiling(Role),
}

/// Rule 1 for what exists already: `actor` may resend, revoke or replace (by inviting the
/// address again) an invitation, or revoke an invite link, whose role is `role` only if they
/// hold `users:invite` and could have given that role themselves (DESIGN.md, "Security
/// rules": "Acting on an invitation or link (resend, revoke, re-invite) obeys the role ceiling
/// of its role"). An Admin may not touch an Owner's invitation; staff and Owners may act on
/// any.
///
/// # Errors
/// [`ActOnDenied`] naming the rule.
pub fn check_acting_on(actor: Inviter, role: Role) -> Result<(), ActOnDenied> {
    let own = actor.role();
    if !own.has(Permission::UsersInvite) {
        return Err(ActOnDenied::NotPermitted);
    }
    if !own.may_assign(role) {
        return Err(ActOnDenied::AboveCeiling(role));
    }
    Ok(())
}

/// A live (pending, unexpired) invitation already addressed to someone being invited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivePending {
    /// Its id.
    pub id: InvitationId,
    /// Its role.
    pub role: Role,
    /// Its status, expiry and last resend.
    pub facts: InvitationFacts,
}

/// Why an address in an invite submission was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// The address belongs to a member already.
    #[error("already a member")]
    AlreadyMember,
    /// Pending with the same role and resent less than a minute ago.
    #[error("invitation sent again less than a minute ago")]
    ResentRecently,
    /// Its live invitation has a role above the inviter's own, so they may neither replace
    /// nor resend it ([`check_acting_on`]).
    #[error("pending invitation as {0}, above your role")]
    AboveYourRole(Role),
}

/// What inviting one address will do (DESIGN.md, "Inviting an address that already has a live
/// pending invitation").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitePlan {
    /// No live invitation: create one.
    New,
    /// A live invitation with the same role: send its original link again.
    ResendExisting(InvitationId),
    /// A live invitation with another role: revoke it (reason: replaced) and create a new one.
    ReplaceExisting(InvitationId),
    /// Nothing to send.
    Skip(SkipReason),
}

/// Plans the invitation of one address with `role` at `now` by `inviter`, given whether it
/// belongs to a member and its live pending invitation, if any. A live invitation whose role
/// is above the inviter's own is neither replaced nor resent ([`check_acting_on`]).
pub fn plan_invitation(
    is_member: bool,
    live: Option<LivePending>,
    role: Role,
    inviter: Inviter,
    now: DateTime<Utc>,
) -> InvitePlan {
    if is_member {
        return InvitePlan::Skip(SkipReason::AlreadyMember);
    }
    match live {
        Some(p) if p.facts.effective_status(now) == InvitationStatus::Pending => {
            if check_acting_on(inviter, p.role).is_err() {
                InvitePlan::Skip(SkipReason::AboveYourRole(p.role))
            } else if p.role != role {
                InvitePlan::ReplaceExisting(p.id)
            } else if p.facts.resend_available_at(now).is_some() {
                InvitePlan::Skip(SkipReason::ResentRecently)
            } else {
                InvitePlan::ResendExisting(p.id)
            }
        }
        _ => InvitePlan::New,
    }
}

/// A submission would take an organization past its hourly limit on new invitations. `Display`
/// is the message the form shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct OverHourlyLimit {
    /// The limit: new invitations per organization per hour.
    pub per_hour: i64,
    /// New invitations the organization created in the last hour.
    pub sent_last_hour: i64,
    /// New invitations the submission would create.
    pub creating: i64,
}

impl std::fmt::Display for OverHourlyLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let invitations = |n: i64| if n == 1 { "invitation" } else { "invitations" };
        write!(
            f,
            "Sending this would create {} new {}, but this organization may send at most {} {} an hour and has sent {} in the last hour. Try again later, or send fewer.",
            self.creating,
            invitations(self.creating),
            self.per_hour,
            invitations(self.per_hour),
            self.sent_last_hour
        )
    }
}

/// Checks the per-organization limit on new invitations (DESIGN.md, security rules: "rate
/// limits on … invitations sent per organization"): an organization that created
/// `sent_last_hour` invitations in the last hour may create `creating` more if the sum stays
/// within `per_hour`. Only new invitations count — an address that is skipped or gets its
/// original link again creates nothing — so a submission that creates none always passes.
///
/// # Errors
/// [`OverHourlyLimit`] when the sum would exceed `per_hour`.
pub fn check_hourly_limit(
    sent_last_hour: i64,
    creating: i64,
    per_hour: i64,
) -> Result<(), OverHourlyLimit> {
    if creating > 0 && sent_last_hour.saturating_add(creating) > per_hour {
        return Err(OverHourlyLimit {
            per_hour,
            sent_last_hour,
            creating,
        });
    }
    Ok(())
}

impl InvitePlan {
    /// Whether carrying out this plan creates a new invitation (what the hourly limit counts).
    pub fn creates(self) -> bool {
        matches!(self, InvitePlan::New | InvitePlan::ReplaceExisting(_))
    }
}
