//! Self-serve sign-up (DESIGN.md, "Pages → Account"), and the same mailed
//! link for joining through an invite link (DESIGN.md, Security rules: "Every way into an
//! organization … proves the person's email before an account is bound to it").
//!
//! Sign-up proves the email first: the form only sends a link, and the account and its Trial
//! organization are created when the link is followed — so nobody can squat an address that
//! will later be invited. The form answers the same page whatever the address, so it never
//! tells whether an account exists; what differs is only the email that address receives.
//! A request to join through an invite link sends the same kind of link to every address
//! (its page then asks a new person for a name and password, an account holder for their
//! password), so there nothing differs at all.

use super::ids::SignupRequestId;
use super::link::LinkUnusable;
use super::token::TokenNonce;
use super::{EmailAddress, InviteLinkId};
use chrono::{DateTime, Duration, Utc};

/// How long a sign-up link stays usable.
pub const LINK_TTL: Duration = Duration::hours(24);
/// At most this many sign-up emails go to one address per [`RATE_WINDOW`].
pub const MAX_EMAILS_PER_WINDOW: i64 = 3;
/// The rolling window of the per-address limit.
pub const RATE_WINDOW: Duration = Duration::hours(1);

/// Which email, if any, a sign-up request for an address sends. The person sees the same
/// "Check your email" page in every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupEmail {
    /// No account has the address: a new sign-up link.
    Link,
    /// An account has the address: "you already have an account — log in".
    AlreadyRegistered,
    /// The address had [`MAX_EMAILS_PER_WINDOW`] sign-up emails in the last [`RATE_WINDOW`]:
    /// nothing is sent or stored.
    Throttled,
}

/// Decides what a sign-up request sends, given whether an account has the address and how
/// many sign-up emails (of either kind) it was sent in the last [`RATE_WINDOW`].
pub fn plan_signup_email(account_exists: bool, sent_in_window: i64) -> SignupEmail {
    if sent_in_window >= MAX_EMAILS_PER_WINDOW {
        SignupEmail::Throttled
    } else if account_exists {
        SignupEmail::AlreadyRegistered
    } else {
        SignupEmail::Link
    }
}

/// Decides what a request to join through an invite link sends, given how many sign-up
/// emails (of any kind) the address was sent in the last [`RATE_WINDOW`]: a link whether or
/// not an account has the address — the link's page tells them apart, once the address is
/// proved — or nothing over the per-address limit.
pub fn plan_join_email(sent_in_window: i64) -> SignupEmail {
    if sent_in_window >= MAX_EMAILS_PER_WINDOW {
        SignupEmail::Throttled
    } else {
        SignupEmail::Link
    }
}

/// The facts about one sign-up request that its rules depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignupLinkFacts {
    /// When the link stops working, UTC.
    pub expires_at: DateTime<Utc>,
    /// When it was used to create an account, if it was.
    pub used_at: Option<DateTime<Utc>>,
}

impl SignupLinkFacts {
    /// The facts of a request made at `now`.
    pub fn new_at(now: DateTime<Utc>) -> Self {
        Self {
            expires_at: now + LINK_TTL,
            used_at: None,
        }
    }

    /// These facts, expiring no later than `deadline`: a link to join through an invite link
    /// need not outlive the invite link.
    pub fn expiring_by(self, deadline: DateTime<Utc>) -> Self {
        Self {
            expires_at: self.expires_at.min(deadline),
            ..self
        }
    }

    /// Whether the link can still be used at `now`. Expiry holds to the second: at
    /// `expires_at` itself the link no longer works. A used link reports "used" even once it
    /// has also expired, since that is what happened to it.
    ///
    /// # Errors
    /// [`LinkUnusable::Used`] or [`LinkUnusable::Expired`].
    pub fn check_usable(&self, now: DateTime<Utc>) -> Result<(), LinkUnusable> {
        if self.used_at.is_some() {
            Err(LinkUnusable::Used)
        } else if now >= self.expires_at {
            Err(LinkUnusable::Expired)
        } else {
            Ok(())
        }
    }
}

/// A sign-up request as read from the database.
#[derive(Debug, Clone)]
pub struct SignupRequest {
    /// Its id.
    pub id: SignupRequestId,
    /// The address it proves, normalized.
    pub email: EmailAddress,
    /// The nonce its token is derived from.
    pub nonce: TokenNonce,
    /// Expiry and use.
    pub facts: SignupLinkFacts,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// The invite link it joins through, if it was asked for on an invite link's page (else
    /// it creates a Trial organization).
    pub invite_link_id: Option<InviteLinkId>,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
    }

    #[test]
    fn new_addresses_get_a_link_and_existing_ones_a_log_in_reminder() {
        assert_eq!(plan_signup_email(false, 0), SignupEmail::Link);
        assert_eq!(plan_signup_email(true, 0), SignupEmail::AlreadyRegistered);
        assert_eq!(plan_signup_email(false, 2), SignupEmail::Link);
        assert_eq!(plan_signup_email(true, 2), SignupEmail::AlreadyRegistered);
    }

    #[test]
    fn the_fourth_email_within_the_window_is_not_sent_either_way() {
        assert_eq!(
            plan_signup_email(false, MAX_EMAILS_PER_WINDOW),
            SignupEmail::Throttled
        );
        assert_eq!(
            plan_signup_email(true, MAX_EMAILS_PER_WINDOW),
            SignupEmail::Throttled
        );
        assert_eq!(plan_signup_email(false, 50), SignupEmail::Throttled);
    }

    #[test]
    fn a_request_to_join_sends_a_link_to_every_address_within_the_limit() {
        assert_eq!(plan_join_email(0), SignupEmail::Link);
        assert_eq!(
            plan_join_email(MAX_EMAILS_PER_WINDOW - 1),
            SignupEmail::Link
        );
        assert_eq!(
            plan_join_email(MAX_EMAILS_PER_WINDOW),
            SignupEmail::Throttled
        );
    }

    #[test]
    fn a_link_to_join_expires_with_its_invite_link_at_the_latest() {
        let soon = t0() + Duration::hours(1);
        assert_eq!(
            SignupLinkFacts::new_at(t0()).expiring_by(soon).expires_at,
            soon
        );
        let later = t0() + Duration::days(7);
        assert_eq!(
            SignupLinkFacts::new_at(t0()).expiring_by(later).expires_at,
            t0() + LINK_TTL
        );
    }

    #[test]
    fn links_last_24_hours_to_the_second() {
        let facts = SignupLinkFacts::new_at(t0());
        assert_eq!(facts.expires_at, t0() + Duration::hours(24));
        assert_eq!(facts.check_usable(t0()), Ok(()));
        assert_eq!(
            facts.check_usable(t0() + LINK_TTL - Duration::seconds(1)),
            Ok(())
        );
        assert_eq!(
            facts.check_usable(t0() + LINK_TTL),
            Err(LinkUnusable::Expired)
        );
    }

    #[test]
    fn a_used_link_says_used_even_after_it_expires() {
        let facts = SignupLinkFacts {
            used_at: Some(t0() + Duration::hours(1)),
            ..SignupLinkFacts::new_at(t0())
        };
        assert_eq!(facts.check_usable(t0()), Err(LinkUnusable::Used));
        assert_eq!(
            facts.check_usable(t0() + Duration::days(3)),
            Err(LinkUnusable::Used)
        );
    }
}
