//! Join requests (issue 14 §3): a signed-in person asks to join an organization — through a
//! "request access" invite link ("Admins approve who joins") or a verified domain in
//! *Suggest* mode — and its Owners or Admins approve (choosing the role) or reject.
//!
//! States: **Pending → Approved | Rejected | Expired**; all three are final. A request takes
//! no seat until it is approved. A person has at most one open request per organization, and
//! a request expires 30 days after it was sent: expiry is a fact of time (a pending request
//! past `expires_at` is treated as expired everywhere), and the maintenance sweep only writes
//! it down.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

use super::verified_domain::DomainName;
use super::{EmailAddress, InviteLinkId, JoinRequestId, OrganizationId, Role, UserId};

/// How long a request stays open: 30 days (issue 14 §3).
pub const REQUEST_TTL: Duration = Duration::days(30);

/// A request's stored state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinRequestStatus {
    /// Waiting for an Owner or Admin (it may still have expired: see [`JoinRequest::is_open`]).
    Pending,
    /// Approved: the requester became a member.
    Approved,
    /// Rejected by an Owner or Admin.
    Rejected,
    /// Not answered within 30 days.
    Expired,
}

/// The error for a stored status that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown join request status {0:?}")]
pub struct UnknownRequestStatus(pub String);

impl JoinRequestStatus {
    /// The stored name: `pending`, `approved`, `rejected`, `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            JoinRequestStatus::Pending => "pending",
            JoinRequestStatus::Approved => "approved",
            JoinRequestStatus::Rejected => "rejected",
            JoinRequestStatus::Expired => "expired",
        }
    }
}

impl fmt::Display for JoinRequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JoinRequestStatus {
    type Err = UnknownRequestStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(JoinRequestStatus::Pending),
            "approved" => Ok(JoinRequestStatus::Approved),
            "rejected" => Ok(JoinRequestStatus::Rejected),
            "expired" => Ok(JoinRequestStatus::Expired),
            other => Err(UnknownRequestStatus(other.chars().take(40).collect())),
        }
    }
}

/// Through which way in a request came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinVia {
    /// A "request access" invite link (`None` once the link is gone).
    InviteLink(Option<InviteLinkId>),
    /// A verified domain in *Suggest* mode.
    Domain(DomainName),
}

impl JoinVia {
    /// How the Team page and the emails say it: "invite link", "domain example.com".
    pub fn label(&self) -> String {
        match self {
            JoinVia::InviteLink(_) => "invite link".to_owned(),
            JoinVia::Domain(domain) => format!("domain {domain}"),
        }
    }
}

/// One request to join.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    /// Its id.
    pub id: JoinRequestId,
    /// The organization asked.
    pub organization_id: OrganizationId,
    /// Who asks.
    pub user_id: UserId,
    /// Their name, as their account has it now.
    pub name: String,
    /// Their address (proved when the account was made).
    pub email: EmailAddress,
    /// Through which way in.
    pub via: JoinVia,
    /// Their note to the admins (empty for none).
    pub note: String,
    /// The stored state.
    pub status: JoinRequestStatus,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// When it expires if nobody answers.
    pub expires_at: DateTime<Utc>,
    /// The role of the link it came through, or the domain's default role: what the Approve
    /// form preselects.
    pub suggested_role: Role,
}

/// Why a request cannot be answered now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestClosed {
    /// Someone approved it already.
    #[error("This request was approved already.")]
    Approved,
    /// Someone rejected it already.
    #[error("This request was rejected already.")]
    Rejected,
    /// Nobody answered it within 30 days.
    #[error(
        "This request expired: nobody answered it within 30 days. The person can send a new one."
    )]
    Expired,
}

impl JoinRequest {
    /// Whether the request is open at `now`: pending and before `expires_at` (the instant
    /// itself is too late, as the database's `expires_at > now` agrees).
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.check_open(now).is_ok()
    }

    /// Whether the request can be answered at `now`.
    ///
    /// # Errors
    /// [`RequestClosed`] saying what it is now.
    pub fn check_open(&self, now: DateTime<Utc>) -> Result<(), RequestClosed> {
        match self.status {
            JoinRequestStatus::Approved => Err(RequestClosed::Approved),
            JoinRequestStatus::Rejected => Err(RequestClosed::Rejected),
            JoinRequestStatus::Expired => Err(RequestClosed::Expired),
            JoinRequestStatus::Pending if now >= self.expires_at => Err(RequestClosed::Expired),
            JoinRequestStatus::Pending => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(status: JoinRequestStatus, created_at: DateTime<Utc>) -> JoinRequest {
        JoinRequest {
            id: JoinRequestId::new(),
            organization_id: OrganizationId::new(),
            user_id: UserId::new(),
            name: "Rita".into(),
            email: EmailAddress::parse("rita@example.com").unwrap(),
            via: JoinVia::InviteLink(None),
            note: String::new(),
            status,
            created_at,
            expires_at: created_at + REQUEST_TTL,
            suggested_role: Role::Viewer,
        }
    }

    #[test]
    fn a_request_is_open_for_30_days_and_answered_once() {
        let sent = DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let pending = request(JoinRequestStatus::Pending, sent);
        assert!(pending.is_open(sent + Duration::days(30) - Duration::seconds(1)));
        assert_eq!(
            pending.check_open(sent + Duration::days(30)),
            Err(RequestClosed::Expired)
        );
        for (status, closed) in [
            (JoinRequestStatus::Approved, RequestClosed::Approved),
            (JoinRequestStatus::Rejected, RequestClosed::Rejected),
            (JoinRequestStatus::Expired, RequestClosed::Expired),
        ] {
            assert_eq!(request(status, sent).check_open(sent), Err(closed));
            assert_eq!(status.as_str().parse(), Ok(status));
        }
        assert!("eaten".parse::<JoinRequestStatus>().is_err());
    }
}
