//! Subscription plans (DESIGN.md, rule 3).

use std::fmt;
use std::str::FromStr;

use super::seats::SeatLimit;

/// An organization's plan. Trial organizations cannot invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plan {
    /// The free trial: no team invitations.
    Trial,
    /// Paid: Starter.
    Starter,
    /// Paid: Professional.
    Professional,
    /// Paid: Enterprise.
    Enterprise,
}

/// The error for a plan name that is not one of the four plans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown plan {0:?}: choose trial, starter, professional or enterprise")]
pub struct UnknownPlan(pub String);

impl Plan {
    /// The message shown wherever an invite control would be on a Trial plan (rule 3).
    pub const TRIAL_MESSAGE: &'static str = "Team invitations are available on paid plans";

    /// Every plan, cheapest first.
    pub const ALL: [Plan; 4] = [
        Plan::Trial,
        Plan::Starter,
        Plan::Professional,
        Plan::Enterprise,
    ];

    /// The stored name: `trial`, `starter`, `professional`, `enterprise`.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Trial => "trial",
            Plan::Starter => "starter",
            Plan::Professional => "professional",
            Plan::Enterprise => "enterprise",
        }
    }

    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Plan::Trial => "Trial",
            Plan::Starter => "Starter",
            Plan::Professional => "Professional",
            Plan::Enterprise => "Enterprise",
        }
    }

    /// Rule 3: whether organizations on this plan may send team invitations.
    pub fn allows_invitations(self) -> bool {
        self != Plan::Trial
    }

    /// The seat limit of organizations on this plan unless staff override it (DESIGN.md,
    /// "Access, integration": Seats): Trial 1, Starter 10, Professional 100, Enterprise
    /// unlimited.
    pub fn default_seats(self) -> SeatLimit {
        match self {
            Plan::Trial => SeatLimit::Limited(1),
            Plan::Starter => SeatLimit::Limited(10),
            Plan::Professional => SeatLimit::Limited(100),
            Plan::Enterprise => SeatLimit::Unlimited,
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for Plan {
    type Err = UnknownPlan;

    /// Parses a plan name case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Plan::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownPlan(s.chars().take(40).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trial_is_gated() {
        assert!(!Plan::Trial.allows_invitations());
        assert!(Plan::Starter.allows_invitations());
        assert!(Plan::Professional.allows_invitations());
        assert!(Plan::Enterprise.allows_invitations());
    }

    #[test]
    fn parses_names() {
        assert_eq!("Professional".parse::<Plan>(), Ok(Plan::Professional));
        assert!("gold".parse::<Plan>().is_err());
    }
}
