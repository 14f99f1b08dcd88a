//! The invitation state machine (DESIGN.md, "Invitations" and "The acceptance page").
//!
//! States: **Pending → Accepted | Revoked | Declined | Expired**; the last four are final.
//! Expired is a fact of time: a Pending invitation whose `expires_at` has passed behaves as
//! Expired whether or not a sweep has written that yet ([`InvitationFacts::effective_status`]).
//!
//! These functions decide; the `db` layer then persists each transition as one conditional
//! update (`… WHERE status = 'pending' AND expires_at > now`) and checks the row count, which is
//! what makes single use hold when two requests race.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

use super::email::EmailAddress;
use super::ids::InvitationId;
use super::plan::Plan;
use super::role::{Permission, Role};

/// How long a member invitation stays usable by default: 7 days (DESIGN.md).
pub const DEFAULT_TTL: Duration = Duration::days(7);

/// The least time between two resends of one invitation (DESIGN.md, "Resend").
pub const RESEND_INTERVAL: Duration = Duration::seconds(60);

/// Where an invitation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvitationStatus {
    /// Sent and waiting for the invitee.
    Pending,
    /// Used: the invitee joined. Final.
    Accepted,
    /// Withdrawn by an admin, or replaced by a newer invitation. Final.
    Revoked,
    /// Turned down by the invitee. Final.
    Declined,
    /// Past its expiry. Final.
    Expired,
}

impl InvitationStatus {
    /// The stored name: `pending`, `accepted`, `revoked`, `declined`, `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Revoked => "revoked",
            InvitationStatus::Declined => "declined",
            InvitationStatus::Expired => "expired",
        }
    }

    /// The capitalised name shown in the invitation history.
    pub fn label(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "Pending",
            InvitationStatus::Accepted => "Accepted",
            InvitationStatus::Revoked => "Revoked",
            InvitationStatus::Declined => "Declined",
            InvitationStatus::Expired => "Expired",
        }
    }

    /// Whether no further transition is possible.
    pub fn is_final(self) -> bool {
        self != InvitationStatus::Pending
    }
}

impl fmt::Display for InvitationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The error for a stored status name that is not one of the five.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown invitation status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for InvitationStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending" => InvitationStatus::Pending,
            "accepted" => InvitationStatus::Accepted,
            "revoked" => InvitationStatus::Revoked,
            "declined" => InvitationStatus::Declined,
            "expired" => InvitationStatus::Expired,
            other => return Err(UnknownStatus(other.to_owned())),
        })
    }
}

/// Why an invitation link cannot be used. `Display` is the exact wording of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    /// Past `expires_at` (swept or not).
    #[error("This invitation has expired")]
    Expired,
    /// Revoked by an admin or replaced by a newer invitation.
    #[error("This invitation has been revoked")]
    Revoked,
    /// Already accepted.
    #[error("This invitation has already been used")]
    AlreadyUsed,
    /// Declined by the invitee.
    #[error("This invitation was declined")]
    Declined,
}

impl Unusable {
    /// What the person can do about it, shown under the heading.
    pub fn advice(self) -> &'static str {
        match self {
            Unusable::Expired => "Ask the person who invited you to send a new invitation.",
            Unusable::Revoked => {
                "The person who invited you withdrew it. Ask them if you think this is a mistake."
            }
            Unusable::AlreadyUsed => {
                "Each invitation link works once. Log in to reach the organization."
            }
            Unusable::Declined => "If you changed your mind, ask for a new invitation.",
        }
    }
}

/// The facts about one invitation that its rules depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvitationFacts {
    /// The stored status (may still say Pending after expiry).
    pub status: InvitationStatus,
    /// When it stops being usable, UTC.
    pub expires_at: DateTime<Utc>,
    /// When it was last sent again, if ever (the 60-second resend window counts from here).
    pub last_resent_at: Option<DateTime<Utc>>,
}

/// What a resend will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResendPlan {
    /// Pending and unexpired: send the original link again.
    SameLink,
    /// Expired: issue a new invitation with a fresh window; the old one stays Expired.
    NewInvitation,
}

/// Why a resend is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResendError {
    /// Sent again less than 60 seconds ago; may be resent from `available_at`.
    #[error("This invitation was sent again less than a minute ago; try again shortly")]
    TooSoon {
        /// When a resend will be accepted, UTC.
        available_at: DateTime<Utc>,
    },
    /// Accepted, revoked or declined: nothing to resend.
    #[error("This invitation is {0} and cannot be resent")]
    Final(InvitationStatus),
    /// Expired, but the address already has a newer pending invitation or is now a member.
    #[error("This address already has a newer invitation or has joined; nothing was sent")]
    Superseded,
    /// Expired, and a new invitation would take the organization past its hourly limit.
    #[error(transparent)]
    OverHourlyLimit(OverHourlyLimit),
}

/// Why a revoke is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("This invitation is already {0} and cannot be revoked")]
pub struct NotPending(pub InvitationStatus);

impl InvitationFacts {
    /// The status as the rules see it at `now`: Pending past `expires_at` is Expired.
    /// An invitation expires at the instant `now >= expires_at`.
    pub fn effective_status(&self, now: DateTime<Utc>) -> InvitationStatus {
        if self.status == InvitationStatus::Pending && now >= self.expires_at {
            InvitationStatus::Expired
        } else {
            self.status
        }
    }

    /// Whether the link may be accepted or declined at `now`.
    ///
    /// # Errors
    /// [`Unusable`] naming the final state.
    pub fn check_usable(&self, now: DateTime<Utc>) -> Result<(), Unusable> {
        match self.effective_status(now) {
            InvitationStatus::Pending => Ok(()),
            InvitationStatus::Accepted => Err(Unusable::AlreadyUsed),
            InvitationStatus::Revoked => Err(Unusable::Revoked),
            InvitationStatus::Declined => Err(Unusable::Declined),
            InvitationStatus::Expired => Err(Unusable::Expired),
        }
    }

    /// When the next resend will be allowed, or `None` if now would do.
    pub fn resend_available_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.last_resent_at
            .map(|at| at + RESEND_INTERVAL)
            .filter(|available| *available > now)
    }

    /// What a resend at `now` does (DESIGN.md, "Resend"): the original link again while
    /// pending, at most once per 60 seconds; a new invitation once expired.
    ///
    /// # Errors
    /// [`ResendError::TooSoon`] within 60 s of the last resend; [`ResendError::Final`] when
    /// accepted, revoked or declined.
    pub fn check_resend(&self, now: DateTime<Utc>) -> Result<ResendPlan, ResendError> {
        match self.effective_status(now) {
            InvitationStatus::Pending => match self.resend_available_at(now) {
                Some(available_at) => Err(ResendError::TooSoon { available_at }),
                None => Ok(ResendPlan::SameLink),
            },
            InvitationStatus::Expired => Ok(ResendPlan::NewInvitation),
            other => Err(ResendError::Final(other)),
        }
    }

    /// Whether the invitation may be revoked at `now`: only while Pending and unexpired.
    ///
    /// # Errors
    /// [`NotPending`] with the effective state otherwise.
    pub fn check_revoke(&self, now: DateTime<Utc>) -> Result<(), NotPending> {
        match self.effective_status(now) {
            InvitationStatus::Pending => Ok(()),
            other => Err(NotPending(other)),
        }
    }
}

/// Who is looking at an acceptance page.
#[derive(Debug, Clone, Copy)]
pub enum Visitor<'a> {
    /// Nobody is signed in; `account_exists` says whether an account has the invited email.
    SignedOut {
        /// Whether an account with the invited email exists.
        account_exists: bool,
    },
    /// Someone is signed in with this email.
    SignedIn {
        /// The signed-in account's (normalized) email.
        email: &'a EmailAddress,
    },
}

/// Which one of the acceptance page's branches to show (DESIGN.md, "The acceptance page").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptancePage {
    /// 1. No account has the invited email: Name, Password → "Create account & join".
    NewUser,
    /// 2. An account exists, nobody signed in: Password → "Log in & accept".
    LogInToAccept,
    /// 3. Signed in as the invited email: "Accept invitation" / "Decline".
    Confirm,
    /// 4. Signed in as someone else: "Invitation email does not match your account".
    WrongAccount,
    /// The link cannot be used any more.
    Unusable(Unusable),
}

/// Decides the acceptance page for `visitor` at `now`, given whether the inviter may still
/// grant the invitation (`policy`, from [`check_inviter_may_still_assign`]). Pure: showing the
/// page changes nothing — a lapsed inviter shows "revoked" here, and only an accept or decline
/// POST writes that state.
pub fn acceptance_page(
    facts: &InvitationFacts,
    invited: &EmailAddress,
    policy: Result<(), InviterLapsed>,
    visitor: Visitor<'_>,
    now: DateTime<Utc>,
) -> AcceptancePage {
    if let Err(unusable) = facts.check_usable(now) {
        return AcceptancePage::Unusable(unusable);
    }
    if policy.is_err() {
        return AcceptancePage::Unusable(Unusable::Revoked);
    }
    match visitor {
        Visitor::SignedOut {
            account_exists: false,
        } => AcceptancePage::NewUser,
        Visitor::SignedOut {
            account_exists: true,
        } => AcceptancePage::LogInToAccept,
        Visitor::SignedIn { email } if email == invited => AcceptancePage::Confirm,
        Visitor::SignedIn { .. } => AcceptancePage::WrongAccount,
    }
}

/// Why an acceptance is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AcceptError {
    /// The link cannot be used.
    #[error(transparent)]
    Unusable(#[from] Unusable),
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
    facts.check_usable(now)?;
    if invited != acceptor {
        return Err(AcceptError::WrongAccount);
    }
    Ok(())
}

/// Who is sending an invitation, as the policy sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inviter {
    /// A member of the organization with this role.
    Member(Role),
    /// Platform staff, who act as an Owner would (rule 6).
    Staff,
}

impl Inviter {
    fn role(self) -> Role {
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
    #[error(transparent)]
    NotExpired(Unusable),
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
        Err(Unusable::Expired) => {}
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
    }

    fn pending() -> InvitationFacts {
        InvitationFacts {
            status: InvitationStatus::Pending,
            expires_at: t0() + DEFAULT_TTL,
            last_resent_at: None,
        }
    }

    fn email(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    #[test]
    fn expiry_holds_before_any_sweep_to_the_second() {
        let f = pending();
        let expiry = t0() + DEFAULT_TTL;
        assert_eq!(
            f.effective_status(expiry - Duration::seconds(1)),
            InvitationStatus::Pending
        );
        assert_eq!(f.effective_status(expiry), InvitationStatus::Expired);
        assert_eq!(
            f.effective_status(expiry + Duration::seconds(1)),
            InvitationStatus::Expired
        );
        assert_eq!(
            f.check_usable(expiry + Duration::seconds(1)),
            Err(Unusable::Expired)
        );
    }

    #[test]
    fn final_states_are_unusable_with_design_wording() {
        for (status, msg) in [
            (
                InvitationStatus::Accepted,
                "This invitation has already been used",
            ),
            (
                InvitationStatus::Revoked,
                "This invitation has been revoked",
            ),
            (InvitationStatus::Declined, "This invitation was declined"),
            (InvitationStatus::Expired, "This invitation has expired"),
        ] {
            let f = InvitationFacts {
                status,
                ..pending()
            };
            assert!(status.is_final());
            assert_eq!(f.check_usable(t0()).unwrap_err().to_string(), msg);
        }
        assert!(!InvitationStatus::Pending.is_final());
    }

    #[test]
    fn final_states_stay_final_after_time_passes() {
        let f = InvitationFacts {
            status: InvitationStatus::Revoked,
            ..pending()
        };
        assert_eq!(
            f.effective_status(t0() + Duration::days(30)),
            InvitationStatus::Revoked
        );
    }

    #[test]
    fn status_names_round_trip() {
        for s in ["pending", "accepted", "revoked", "declined", "expired"] {
            assert_eq!(s.parse::<InvitationStatus>().unwrap().as_str(), s);
        }
        assert!("lost".parse::<InvitationStatus>().is_err());
    }

    #[test]
    fn acceptance_page_branches() {
        let f = pending();
        let invited = email("ann@example.com");
        let other = email("bob@example.com");
        let same_other_case = email("ANN@Example.com");
        let now = t0();
        assert_eq!(
            acceptance_page(
                &f,
                &invited,
                Ok(()),
                Visitor::SignedOut {
                    account_exists: false
                },
                now
            ),
            AcceptancePage::NewUser
        );
        assert_eq!(
            acceptance_page(
                &f,
                &invited,
                Ok(()),
                Visitor::SignedOut {
                    account_exists: true
                },
                now
            ),
            AcceptancePage::LogInToAccept
        );
        assert_eq!(
            acceptance_page(
                &f,
                &invited,
                Ok(()),
                Visitor::SignedIn {
                    email: &same_other_case
                },
                now
            ),
            AcceptancePage::Confirm
        );
        assert_eq!(
            acceptance_page(
                &f,
                &invited,
                Ok(()),
                Visitor::SignedIn { email: &other },
                now
            ),
            AcceptancePage::WrongAccount
        );
        let revoked = InvitationFacts {
            status: InvitationStatus::Revoked,
            ..f
        };
        assert_eq!(
            acceptance_page(
                &revoked,
                &invited,
                Ok(()),
                Visitor::SignedIn { email: &invited },
                now
            ),
            AcceptancePage::Unusable(Unusable::Revoked)
        );
    }

    #[test]
    fn accept_requires_matching_email_and_a_usable_link() {
        let f = pending();
        let invited = email("ann@example.com");
        assert_eq!(
            check_accept(&f, &invited, &email("Ann@Example.com"), t0()),
            Ok(())
        );
        assert_eq!(
            check_accept(&f, &invited, &email("bob@example.com"), t0()),
            Err(AcceptError::WrongAccount)
        );
        let used = InvitationFacts {
            status: InvitationStatus::Accepted,
            ..f
        };
        assert_eq!(
            check_accept(&used, &invited, &invited, t0()),
            Err(AcceptError::Unusable(Unusable::AlreadyUsed))
        );
        assert_eq!(
            check_accept(&f, &invited, &invited, t0() + DEFAULT_TTL),
            Err(AcceptError::Unusable(Unusable::Expired))
        );
    }

    #[test]
    fn resend_same_link_at_most_once_a_minute() {
        let mut f = pending();
        assert_eq!(f.check_resend(t0()), Ok(ResendPlan::SameLink));
        f.last_resent_at = Some(t0());
        assert_eq!(
            f.check_resend(t0() + Duration::seconds(59)),
            Err(ResendError::TooSoon {
                available_at: t0() + RESEND_INTERVAL
            })
        );
        assert_eq!(
            f.check_resend(t0() + Duration::seconds(60)),
            Ok(ResendPlan::SameLink)
        );
    }

    #[test]
    fn resend_of_expired_issues_a_new_invitation_and_finals_refuse() {
        let f = pending();
        assert_eq!(
            f.check_resend(t0() + DEFAULT_TTL),
            Ok(ResendPlan::NewInvitation)
        );
        let declined = InvitationFacts {
            status: InvitationStatus::Declined,
            ..f
        };
        assert_eq!(
            declined.check_resend(t0()),
            Err(ResendError::Final(InvitationStatus::Declined))
        );
    }

    #[test]
    fn revoke_only_while_pending() {
        let f = pending();
        assert!(f.check_revoke(t0()).is_ok());
        assert_eq!(
            f.check_revoke(t0() + DEFAULT_TTL),
            Err(NotPending(InvitationStatus::Expired))
        );
        let accepted = InvitationFacts {
            status: InvitationStatus::Accepted,
            ..f
        };
        assert!(accepted.check_revoke(t0()).is_err());
    }

    #[test]
    fn invite_policy_rules_1_to_3() {
        use Role::*;
        assert_eq!(
            authorize_invitation(Inviter::Member(Owner), Plan::Starter, Owner),
            Ok(())
        );
        assert_eq!(
            authorize_invitation(Inviter::Member(Admin), Plan::Starter, Admin),
            Ok(())
        );
        assert_eq!(
            authorize_invitation(Inviter::Member(Admin), Plan::Starter, Owner),
            Err(InviteDenied::AboveCeiling(Owner))
        );
        assert_eq!(
            authorize_invitation(Inviter::Member(Editor), Plan::Starter, Viewer),
            Err(InviteDenied::NotPermitted)
        );
        assert_eq!(
            authorize_invitation(Inviter::Member(Owner), Plan::Trial, Viewer),
            Err(InviteDenied::TrialPlan)
        );
        assert_eq!(
            InviteDenied::TrialPlan.to_string(),
            "Team invitations are available on paid plans"
        );
        assert_eq!(
            authorize_invitation(Inviter::Staff, Plan::Enterprise, Owner),
            Ok(())
        );
    }

    #[test]
    fn reinvite_semantics() {
        let id = InvitationId::new();
        let live = LivePending {
            id,
            role: Role::Editor,
            facts: pending(),
        };
        let now = t0();
        const OWNER: Inviter = Inviter::Member(Role::Owner);
        assert_eq!(
            plan_invitation(true, Some(live), Role::Editor, OWNER, now),
            InvitePlan::Skip(SkipReason::AlreadyMember)
        );
        assert_eq!(
            plan_invitation(false, None, Role::Editor, OWNER, now),
            InvitePlan::New
        );
        assert_eq!(
            plan_invitation(false, Some(live), Role::Editor, OWNER, now),
            InvitePlan::ResendExisting(id)
        );
        assert_eq!(
            plan_invitation(false, Some(live), Role::Viewer, OWNER, now),
            InvitePlan::ReplaceExisting(id)
        );
        let recently = LivePending {
            facts: InvitationFacts {
                last_resent_at: Some(now),
                ..pending()
            },
            ..live
        };
        assert_eq!(
            plan_invitation(
                false,
                Some(recently),
                Role::Editor,
                OWNER,
                now + Duration::seconds(10)
            ),
            InvitePlan::Skip(SkipReason::ResentRecently)
        );
        // An expired one does not block a fresh invitation.
        assert_eq!(
            plan_invitation(false, Some(live), Role::Editor, OWNER, now + DEFAULT_TTL),
            InvitePlan::New
        );
    }

    #[test]
    fn acting_on_an_invitation_or_link_obeys_the_ceiling_of_its_role() {
        use Role::*;
        assert_eq!(check_acting_on(Inviter::Member(Owner), Owner), Ok(()));
        assert_eq!(check_acting_on(Inviter::Staff, Owner), Ok(()));
        assert_eq!(check_acting_on(Inviter::Member(Admin), Admin), Ok(()));
        assert_eq!(check_acting_on(Inviter::Member(Admin), Viewer), Ok(()));
        assert_eq!(
            check_acting_on(Inviter::Member(Admin), Owner),
            Err(ActOnDenied::AboveCeiling(Owner))
        );
        assert_eq!(
            check_acting_on(Inviter::Member(Editor), Viewer),
            Err(ActOnDenied::NotPermitted)
        );
    }

    #[test]
    fn reinviting_skips_a_live_invitation_above_the_inviters_role() {
        let id = InvitationId::new();
        let live = LivePending {
            id,
            role: Role::Owner,
            facts: pending(),
        };
        let admin = Inviter::Member(Role::Admin);
        let now = t0();
        for role in [Role::Viewer, Role::Admin] {
            assert_eq!(
                plan_invitation(false, Some(live), role, admin, now),
                InvitePlan::Skip(SkipReason::AboveYourRole(Role::Owner))
            );
        }
        assert_eq!(
            SkipReason::AboveYourRole(Role::Owner).to_string(),
            "pending invitation as Owner, above your role"
        );
        assert_eq!(
            plan_invitation(false, Some(live), Role::Viewer, Inviter::Staff, now),
            InvitePlan::ReplaceExisting(id)
        );
        // Expired, it is not live: a fresh invitation is no action on it.
        assert_eq!(
            plan_invitation(false, Some(live), Role::Viewer, admin, now + DEFAULT_TTL),
            InvitePlan::New
        );
    }

    #[test]
    fn acceptance_rechecks_that_the_inviter_may_still_assign_the_role() {
        use Role::*;
        let check = check_inviter_may_still_assign;
        assert_eq!(check(Some(Inviter::Member(Owner)), Owner), Ok(()));
        assert_eq!(check(Some(Inviter::Member(Admin)), Admin), Ok(()));
        assert_eq!(
            check(Some(Inviter::Member(Admin)), Owner),
            Err(InviterLapsed::MayNotAssign(Owner))
        );
        assert_eq!(
            check(Some(Inviter::Member(Editor)), Viewer),
            Err(InviterLapsed::MayNotInvite(Editor))
        );
        assert_eq!(check(None, Viewer), Err(InviterLapsed::NotAMember));
        // Staff may assign any role, member or not.
        assert_eq!(check(Some(Inviter::Staff), Owner), Ok(()));
        assert_eq!(
            InviterLapsed::MayNotAssign(Admin).to_string(),
            "inviter may no longer assign Admin"
        );
    }

    #[test]
    fn a_lapsed_inviter_shows_revoked_but_expiry_and_final_states_come_first() {
        let invited = email("ann@example.com");
        let f = pending();
        let lapsed = Err(InviterLapsed::NotAMember);
        let visitor = Visitor::SignedIn { email: &invited };
        assert_eq!(
            acceptance_page(&f, &invited, lapsed, visitor, t0()),
            AcceptancePage::Unusable(Unusable::Revoked)
        );
        assert_eq!(
            acceptance_page(&f, &invited, lapsed, visitor, t0() + DEFAULT_TTL),
            AcceptancePage::Unusable(Unusable::Expired)
        );
        let used = InvitationFacts {
            status: InvitationStatus::Accepted,
            ..f
        };
        assert_eq!(
            acceptance_page(&used, &invited, lapsed, visitor, t0()),
            AcceptancePage::Unusable(Unusable::AlreadyUsed)
        );
    }

    #[test]
    fn a_new_invitation_may_be_requested_once_a_day_for_expired_links_only() {
        let f = pending();
        let expired_at = t0() + DEFAULT_TTL;
        assert_eq!(
            check_renewal_request(&f, Ok(()), false, None, t0()),
            Err(RenewalRefused::StillUsable)
        );
        assert_eq!(
            check_renewal_request(&f, Ok(()), false, None, expired_at),
            Ok(())
        );
        let asked = expired_at + Duration::hours(1);
        assert_eq!(
            check_renewal_request(&f, Ok(()), false, Some(asked), asked + Duration::hours(23)),
            Err(RenewalRefused::AlreadyRequested { at: asked })
        );
        assert_eq!(
            check_renewal_request(
                &f,
                Ok(()),
                false,
                Some(asked),
                asked + RENEWAL_REQUEST_INTERVAL
            ),
            Ok(())
        );
        let revoked = InvitationFacts {
            status: InvitationStatus::Revoked,
            ..f
        };
        assert_eq!(
            check_renewal_request(&revoked, Ok(()), false, None, expired_at),
            Err(RenewalRefused::NotExpired(Unusable::Revoked))
        );
        assert_eq!(
            check_renewal_request(&f, Err(InviterLapsed::NotAMember), false, None, expired_at),
            Err(RenewalRefused::InviterLapsed(InviterLapsed::NotAMember))
        );
        // Answered by a newer invitation: that says more than "already requested".
        assert_eq!(
            check_renewal_request(&f, Ok(()), true, Some(asked), asked + Duration::hours(1)),
            Err(RenewalRefused::Superseded)
        );
    }

    #[test]
    fn the_hourly_limit_counts_only_new_invitations() {
        assert_eq!(check_hourly_limit(0, 10, 10), Ok(()));
        assert_eq!(check_hourly_limit(9, 1, 10), Ok(()));
        assert_eq!(
            check_hourly_limit(9, 2, 10),
            Err(OverHourlyLimit {
                per_hour: 10,
                sent_last_hour: 9,
                creating: 2
            })
        );
        // A submission that creates nothing (every address skipped or resent) always passes,
        // even at the limit.
        assert_eq!(check_hourly_limit(10, 0, 10), Ok(()));
        assert!(InvitePlan::New.creates());
        assert!(InvitePlan::ReplaceExisting(InvitationId::new()).creates());
        assert!(!InvitePlan::ResendExisting(InvitationId::new()).creates());
        assert!(!InvitePlan::Skip(SkipReason::AlreadyMember).creates());
        let message = check_hourly_limit(3, 8, 10).unwrap_err().to_string();
        assert!(
            message.contains("create 8 new invitations,")
                && message.contains("at most 10 invitations an hour")
                && message.contains("sent 3 in the last hour"),
            "{message}"
        );
        let message = check_hourly_limit(1, 1, 1).unwrap_err().to_string();
        assert!(
            message.contains("create 1 new invitation,")
                && message.contains("at most 1 invitation an hour"),
            "{message}"
        );
    }
}
