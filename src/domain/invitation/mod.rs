//! The invitation state machine (DESIGN.md, "Invitations" and "The acceptance page").
//!
//! States: **Pending → Accepted | Revoked | Declined | Expired**; the last four are final.
//! Expired is a fact of time: a Pending invitation whose `expires_at` has passed behaves as
//! Expired whether or not a sweep has written that yet ([`InvitationFacts::effective_status`]).
//!
//! These functions decide; the `db` layer then persists each transition as one conditional
//! update (`… WHERE status = 'pending' AND expires_at > now`) and checks the row count, which is
//! what makes single use hold when two requests race.

mod acceptance;
pub mod reminders;
mod sending;
pub mod timeline;

pub use acceptance::*;
pub use sending::*;

use super::link::LinkUnusable;
use super::token::TokenNonce;
use super::{EmailAddress, Organization, OrganizationId, Role, UserId};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

use super::ids::InvitationId;

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

    /// Whether the link may be accepted or declined at `now` (its page's wording is the
    /// link kind's: `LinkUnusable::title`).
    ///
    /// # Errors
    /// [`LinkUnusable`] naming the final state.
    pub fn check_usable(&self, now: DateTime<Utc>) -> Result<(), LinkUnusable> {
        match self.effective_status(now) {
            InvitationStatus::Pending => Ok(()),
            InvitationStatus::Accepted => Err(LinkUnusable::Used),
            InvitationStatus::Revoked => Err(LinkUnusable::Revoked),
            InvitationStatus::Declined => Err(LinkUnusable::Declined),
            InvitationStatus::Expired => Err(LinkUnusable::Expired),
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

/// An invitation as read from the database.
#[derive(Debug, Clone)]
pub struct Invitation {
    /// Its id.
    pub id: InvitationId,
    /// The organization it invites into.
    pub organization_id: OrganizationId,
    /// The invited address, normalized.
    pub email: EmailAddress,
    /// The role it grants.
    pub role: Role,
    /// The inviter's personal message.
    pub message: Option<String>,
    /// Who sent it.
    pub invited_by: UserId,
    /// The nonce its token is derived from.
    pub nonce: TokenNonce,
    /// Status, expiry and last resend.
    pub facts: InvitationFacts,
    /// Why it reached its final state (e.g. "replaced"), if recorded.
    pub status_reason: Option<String>,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// When it reached its final state, if it has.
    pub decided_at: Option<DateTime<Utc>>,
    /// When the invitee of the expired link last asked for a new invitation, if ever.
    pub renewal_requested_at: Option<DateTime<Utc>>,
    /// The department from a CSV import, carried onto the membership.
    pub department: Option<String>,
    /// When its email bounced (a permanent SMTP failure), if it did (issue 15 §3).
    pub bounced_at: Option<DateTime<Utc>>,
}

/// An invitation with the names its pages and emails show.
#[derive(Debug, Clone)]
pub struct InvitationDetails {
    /// The invitation.
    pub invitation: Invitation,
    /// The organization it invites into.
    pub organization: Organization,
    /// The inviter's name.
    pub inviter_name: String,
    /// The inviter's email.
    pub inviter_email: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::email::EmailAddress;
    use crate::domain::link::LinkKind;
    use crate::domain::plan::Plan;
    use crate::domain::role::Role;
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
            Err(LinkUnusable::Expired)
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
            let why = f.check_usable(t0()).unwrap_err();
            assert_eq!(why.title(LinkKind::MemberInvitation), msg);
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
            Err(AcceptError::Unusable(LinkUnusable::Used))
        );
        assert_eq!(
            check_accept(&f, &invited, &invited, t0() + DEFAULT_TTL),
            Err(AcceptError::Unusable(LinkUnusable::Expired))
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
    fn a_lapsed_inviter_makes_it_revoked_but_expiry_and_final_states_come_first() {
        let f = pending();
        let lapsed = Err(InviterLapsed::NotAMember);
        assert_eq!(usable(&f, Ok(()), t0()), Ok(()));
        assert_eq!(usable(&f, lapsed, t0()), Err(LinkUnusable::Revoked));
        assert_eq!(
            usable(&f, lapsed, t0() + DEFAULT_TTL),
            Err(LinkUnusable::Expired)
        );
        let used = InvitationFacts {
            status: InvitationStatus::Accepted,
            ..f
        };
        assert_eq!(usable(&used, lapsed, t0()), Err(LinkUnusable::Used));
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
            Err(RenewalRefused::NotExpired(LinkUnusable::Revoked))
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
