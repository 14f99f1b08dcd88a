//! Seat limits (DESIGN.md, "Access, integration": Seats): how many seats an organization has,
//! how many it uses, and whether a way in may take more.
//!
//! Seats used = members + live pending invitations + unused live invite links. "Live" is a
//! fact of time (DESIGN.md, "Invitations": Expired is a fact of time): an invitation or link
//! whose `expires_at` has passed frees its seat at once, whether or not a sweep has written it.
//! Revoked, declined, used and accepted ones hold none (an accepted invitation's seat is its
//! member's). The plan sets the default limit; staff may override it per organization.
//!
//! An organization over its limit (after a downgrade, or with data from before limits) keeps
//! every member but adds no one until it is under: every way in asks [`SeatUsage::check`] for
//! the seats it adds, and `used + wanted ≤ limit` refuses even `wanted = 0` while over (a
//! way in that turns a held seat into a member's, such as using an invite link, asks for 0).

use std::fmt;

use super::Plan;
use super::invitation::InvitePlan;

/// What frees a seat, said to the person acting at the cap.
pub const HOW_TO_FREE_A_SEAT: &str =
    "Revoke a pending invitation or an invite link, or remove a member, to free a seat.";

/// An organization's seat limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatLimit {
    /// At most this many seats.
    Limited(u32),
    /// No limit (Enterprise's default).
    Unlimited,
}

impl SeatLimit {
    /// The limit of an organization on `plan` with the staff override `custom` (`None`: the
    /// plan's default, [`Plan::default_seats`]).
    pub fn of(plan: Plan, custom: Option<u32>) -> SeatLimit {
        custom.map_or_else(|| plan.default_seats(), SeatLimit::Limited)
    }

    /// The number, when limited.
    pub fn seats(self) -> Option<u32> {
        match self {
            SeatLimit::Limited(n) => Some(n),
            SeatLimit::Unlimited => None,
        }
    }
}

impl fmt::Display for SeatLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeatLimit::Limited(n) => write!(f, "{n}"),
            SeatLimit::Unlimited => f.write_str("unlimited"),
        }
    }
}

/// What takes an organization's seats, counted at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeatsUsed {
    /// Members.
    pub members: i64,
    /// Pending invitations not yet past their `expires_at`.
    pub pending_invitations: i64,
    /// Active invite links not yet past their `expires_at` (single use: each holds a seat
    /// until it is used, revoked or expired).
    pub open_links: i64,
}

impl SeatsUsed {
    /// Every seat taken.
    pub fn total(&self) -> i64 {
        self.members + self.pending_invitations + self.open_links
    }
}

/// An organization's seats: what is used and its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatUsage {
    /// What takes seats.
    pub used: SeatsUsed,
    /// The limit.
    pub limit: SeatLimit,
}

impl SeatUsage {
    /// Seats taken.
    pub fn taken(&self) -> i64 {
        self.used.total()
    }

    /// Seats free (0 when over the limit), or `None` when unlimited.
    pub fn free(&self) -> Option<i64> {
        self.limit
            .seats()
            .map(|n| (i64::from(n) - self.taken()).max(0))
    }

    /// Whether more seats are taken than the limit allows (after a downgrade or an override
    /// below the count): nobody may be added until it is under.
    pub fn is_over(&self) -> bool {
        self.limit
            .seats()
            .is_some_and(|n| self.taken() > i64::from(n))
    }

    /// How many of `wanted` new seats would fit now.
    pub fn fitting(&self, wanted: i64) -> i64 {
        match self.free() {
            None => wanted,
            Some(_) if self.is_over() => 0,
            Some(free) => wanted.min(free),
        }
    }

    /// Whether `wanted` more seats may be taken: `used + wanted ≤ limit`, all or nothing.
    ///
    /// # Errors
    /// [`NoFreeSeats`] when they do not all fit (also with `wanted = 0` while over the limit).
    pub fn check(&self, wanted: i64) -> Result<(), NoFreeSeats> {
        let Some(limit) = self.limit.seats() else {
            return Ok(());
        };
        if self.taken() + wanted.max(0) <= i64::from(limit) {
            Ok(())
        } else {
            Err(NoFreeSeats {
                limit,
                used: self.taken(),
                wanted,
            })
        }
    }

    /// "{used} of {limit} seats used", or "{used} seats used, unlimited".
    pub fn summary(&self) -> String {
        match self.limit {
            SeatLimit::Limited(n) => format!("{} of {n} seats used", self.taken()),
            SeatLimit::Unlimited => format!("{} seats used, unlimited", self.taken()),
        }
    }

    /// What the invite dialog says before sending: "{free} of {limit} seats left", or
    /// `None` when unlimited.
    pub fn left(&self) -> Option<String> {
        let limit = self.limit.seats()?;
        let free = self.free().unwrap_or(0);
        Some(format!("{free} of {limit} seats left"))
    }

    /// What a preview of `needed` new invitations says about seats: how many would fit.
    pub fn fit_note(&self, needed: i64) -> String {
        match self.limit {
            SeatLimit::Unlimited => format!(
                "All {needed} new invitations would fit: seats are unlimited ({}).",
                self.summary()
            ),
            SeatLimit::Limited(limit) => format!(
                "{} of {needed} new invitations would fit: {} of {limit} seats are free ({}).",
                self.fitting(needed),
                self.free().unwrap_or(0),
                self.summary()
            ),
        }
    }

    /// What the Team page says when the organization is over its limit, if it is.
    pub fn over_notice(&self) -> Option<String> {
        let limit = self.limit.seats().filter(|_| self.is_over())?;
        Some(format!(
            "This organization uses {} seats, more than its limit of {limit}. Everyone keeps their place, but no one can be added until it is under the limit. {HOW_TO_FREE_A_SEAT}",
            self.taken()
        ))
    }
}

/// Refused: the seats wanted do not fit. `Display` is what the person acting is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct NoFreeSeats {
    /// The limit.
    pub limit: u32,
    /// Seats taken now.
    pub used: i64,
    /// Seats the refused request would have added.
    pub wanted: i64,
}

impl NoFreeSeats {
    /// Seats free now (0 at or over the limit).
    pub fn free(&self) -> i64 {
        (i64::from(self.limit) - self.used).max(0)
    }
}

impl fmt::Display for NoFreeSeats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (limit, free) = (self.limit, self.free());
        if free == 0 {
            write!(f, "All {limit} seats are in use")?;
            if self.used > i64::from(limit) {
                write!(
                    f,
                    " ({} taken: this organization is over its limit)",
                    self.used
                )?;
            }
            write!(f, ". {HOW_TO_FREE_A_SEAT}")
        } else {
            let wanted = self.wanted;
            write!(
                f,
                "Nothing was sent: {wanted} new invitations need {wanted} seats, but only {free} of {limit} seats are free. Invite at most {free}, or revoke a pending invitation or an invite link, or remove a member, to free seats."
            )
        }
    }
}

/// The largest seat limit staff may set.
pub const MAX_SEAT_LIMIT: u32 = 1_000_000;

/// A seat limit override that is not a whole number from 0 to [`MAX_SEAT_LIMIT`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Seat limit: enter a whole number from 0 to 1000000, or leave it blank for the plan's default"
)]
pub struct BadSeatLimit;

/// Parses a seat limit override as typed: blank is `None` (the plan's default), else a whole
/// number from 0 to [`MAX_SEAT_LIMIT`].
///
/// # Errors
/// [`BadSeatLimit`].
pub fn parse_custom_limit(input: &str) -> Result<Option<u32>, BadSeatLimit> {
    let input = input.trim();
    if input.is_empty() {
        return Ok(None);
    }
    match input.parse::<u32>() {
        Ok(n) if n <= MAX_SEAT_LIMIT && input.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(n)),
        _ => Err(BadSeatLimit),
    }
}

/// The seats carrying out `plans` adds: one per new invitation. Sending the same link again
/// keeps its seat, and replacing a live invitation with one for another role swaps it (net
/// zero); an address whose invitation has expired gets a new one, which needs a seat.
pub fn seats_added(plans: &[InvitePlan]) -> i64 {
    plans
        .iter()
        .filter(|p| matches!(p, InvitePlan::New))
        .count() as i64
}

/// What someone joining through a link at the cap is told: the organization's name and
/// nothing more about it.
pub fn no_free_seats_for_joiner(organization: &str) -> String {
    format!("{organization} has no free seats: ask its admins")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(members: i64, pending: i64, links: i64, limit: SeatLimit) -> SeatUsage {
        SeatUsage {
            used: SeatsUsed {
                members,
                pending_invitations: pending,
                open_links: links,
            },
            limit,
        }
    }

    #[test]
    fn plans_set_the_default_and_an_override_replaces_it() {
        assert_eq!(SeatLimit::of(Plan::Trial, None), SeatLimit::Limited(1));
        assert_eq!(SeatLimit::of(Plan::Starter, None), SeatLimit::Limited(10));
        assert_eq!(
            SeatLimit::of(Plan::Professional, None),
            SeatLimit::Limited(100)
        );
        assert_eq!(SeatLimit::of(Plan::Enterprise, None), SeatLimit::Unlimited);
        assert_eq!(
            SeatLimit::of(Plan::Enterprise, Some(3)),
            SeatLimit::Limited(3)
        );
        assert_eq!(SeatLimit::of(Plan::Starter, Some(0)), SeatLimit::Limited(0));
    }

    #[test]
    fn members_pending_invitations_and_open_links_all_take_seats() {
        let u = usage(2, 3, 4, SeatLimit::Limited(10));
        assert_eq!(u.taken(), 9);
        assert_eq!(u.free(), Some(1));
        assert_eq!(u.summary(), "9 of 10 seats used");
        assert_eq!(u.check(1), Ok(()));
        assert_eq!(
            u.check(2),
            Err(NoFreeSeats {
                limit: 10,
                used: 9,
                wanted: 2
            })
        );
    }

    #[test]
    fn all_or_nothing_and_the_message_says_what_frees_a_seat() {
        let full = usage(10, 0, 0, SeatLimit::Limited(10));
        let refused = full.check(1).unwrap_err();
        assert_eq!(
            refused.to_string(),
            format!("All 10 seats are in use. {HOW_TO_FREE_A_SEAT}")
        );
        let five_left = usage(5, 0, 0, SeatLimit::Limited(10));
        let bulk = five_left.check(20).unwrap_err();
        assert!(bulk.to_string().starts_with(
            "Nothing was sent: 20 new invitations need 20 seats, but only 5 of 10 seats are free."
        ));
        assert_eq!(five_left.fitting(20), 5);
        assert_eq!(five_left.fitting(3), 3);
    }

    #[test]
    fn over_the_limit_adds_no_one_but_keeps_everyone() {
        let over = usage(12, 0, 0, SeatLimit::Limited(10));
        assert!(over.is_over());
        assert_eq!(over.free(), Some(0));
        assert_eq!(over.fitting(5), 0);
        // Even a way in that adds no seat of its own (an invite link's seat becoming a
        // member's) is refused while over.
        assert!(over.check(0).is_err());
        assert!(
            over.check(1)
                .unwrap_err()
                .to_string()
                .starts_with("All 10 seats are in use (12 taken")
        );
        assert!(over.over_notice().is_some());
        // At the limit exactly, what holds a seat already may still be turned into a member.
        let at = usage(9, 0, 1, SeatLimit::Limited(10));
        assert_eq!(at.check(0), Ok(()));
        assert_eq!(at.over_notice(), None);
    }

    #[test]
    fn the_dialog_and_the_preview_say_what_is_left_and_what_fits() {
        let u = usage(7, 1, 0, SeatLimit::Limited(10));
        assert_eq!(u.left().as_deref(), Some("2 of 10 seats left"));
        assert_eq!(
            u.fit_note(5),
            "2 of 5 new invitations would fit: 2 of 10 seats are free (8 of 10 seats used)."
        );
        assert_eq!(usage(1, 0, 0, SeatLimit::Unlimited).left(), None);
    }

    #[test]
    fn a_custom_limit_is_blank_or_a_whole_number() {
        assert_eq!(parse_custom_limit(" "), Ok(None));
        assert_eq!(parse_custom_limit("25"), Ok(Some(25)));
        assert_eq!(parse_custom_limit("0"), Ok(Some(0)));
        for bad in ["-1", "+3", "2.5", "ten", "1000001"] {
            assert_eq!(parse_custom_limit(bad), Err(BadSeatLimit), "{bad}");
        }
    }

    #[test]
    fn unlimited_never_refuses() {
        let u = usage(5_000, 100, 7, SeatLimit::Unlimited);
        assert_eq!(u.check(10_000), Ok(()));
        assert_eq!(u.free(), None);
        assert_eq!(u.summary(), "5107 seats used, unlimited");
        assert!(!u.is_over());
    }

    #[test]
    fn only_new_invitations_add_seats() {
        use crate::domain::InvitationId;
        use crate::domain::invitation::SkipReason;
        let plans = [
            InvitePlan::New,
            InvitePlan::ResendExisting(InvitationId::new()),
            InvitePlan::ReplaceExisting(InvitationId::new()),
            InvitePlan::Skip(SkipReason::AlreadyMember),
            InvitePlan::New,
        ];
        assert_eq!(seats_added(&plans), 2);
    }

    #[test]
    fn the_joiner_learns_the_name_and_nothing_more() {
        assert_eq!(
            no_free_seats_for_joiner("Acme"),
            "Acme has no free seats: ask its admins"
        );
    }
}
