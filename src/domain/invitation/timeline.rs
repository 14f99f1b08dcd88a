//! An invitation's delivery timeline (issue 15 §3): queued → sent / failed / bounced →
//! reminded → accepted / declined / revoked / expired, made from the invitation and the emails
//! the outbox holds for its invitee. Opening a link is not a step: a GET changes nothing (mail
//! scanners open links), so nothing records it.

use chrono::{DateTime, Utc};

use super::{Invitation, InvitationStatus};

/// A step of the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The invitation's email was queued (the invitation was sent).
    Queued,
    /// The same link was sent again.
    Resent,
    /// The SMTP server accepted an email.
    Delivered,
    /// An attempt failed; it will be tried again, or was given up.
    Failed,
    /// The SMTP server refused it for good.
    Bounced,
    /// A reminder was queued.
    Reminded,
    /// The invitee joined.
    Accepted,
    /// The invitee declined.
    Declined,
    /// It was revoked.
    Revoked,
    /// It expired.
    Expired,
}

impl Step {
    /// The name the API uses: `queued`, `resent`, `sent`, `failed`, `bounced`, `reminded`,
    /// `accepted`, `declined`, `revoked`, `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Queued => "queued",
            Step::Resent => "resent",
            Step::Delivered => "sent",
            Step::Failed => "failed",
            Step::Bounced => "bounced",
            Step::Reminded => "reminded",
            Step::Accepted => "accepted",
            Step::Declined => "declined",
            Step::Revoked => "revoked",
            Step::Expired => "expired",
        }
    }

    /// How the page says it.
    pub fn label(self) -> &'static str {
        match self {
            Step::Queued => "Invitation queued",
            Step::Resent => "Sent again",
            Step::Delivered => "Delivered to the mail server",
            Step::Failed => "Delivery failed",
            Step::Bounced => "Bounced",
            Step::Reminded => "Reminder queued",
            Step::Accepted => "Accepted",
            Step::Declined => "Declined",
            Step::Revoked => "Revoked",
            Step::Expired => "Expired",
        }
    }
}

/// One email of the invitee, as the outbox holds it.
#[derive(Debug, Clone)]
pub struct EmailFact {
    /// A reminder (else the invitation, or a resend of it).
    pub reminder: bool,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
    /// `queued`, `sending`, `sent`, `failed` or `cancelled`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// When the SMTP server accepted it.
    pub sent_at: Option<DateTime<Utc>>,
    /// When it is (or was last) due: after a failure, the next try.
    pub next_attempt_at: DateTime<Utc>,
    /// The last error.
    pub last_error: Option<String>,
}

/// One entry of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub step: Step,
    /// More: the error of a failure.
    pub detail: Option<String>,
}

/// The timeline of `invitation` at `now` from its invitee's `emails` (oldest first), in order
/// of time.
pub fn timeline(invitation: &Invitation, emails: &[EmailFact], now: DateTime<Utc>) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut first = true;
    for e in emails {
        let step = match (e.reminder, first) {
            (true, _) => Step::Reminded,
            (false, true) => Step::Queued,
            (false, false) => Step::Resent,
        };
        if !e.reminder {
            first = false;
        }
        out.push(Entry {
            at: e.queued_at,
            step,
            detail: None,
        });
        if let Some(at) = e.sent_at {
            out.push(Entry {
                at,
                step: Step::Delivered,
                detail: None,
            });
        } else if e.attempts > 0 {
            let bounced = e
                .last_error
                .as_deref()
                .is_some_and(|err| err.starts_with("bounced:"));
            let retrying = e.status == "queued";
            out.push(Entry {
                at: if retrying {
                    e.queued_at
                } else {
                    e.next_attempt_at
                },
                step: if bounced { Step::Bounced } else { Step::Failed },
                detail: e.last_error.as_ref().map(|err| {
                    let err = err.trim_start_matches("bounced: ");
                    if retrying {
                        format!("{err} (attempt {}; trying again)", e.attempts)
                    } else {
                        err.to_owned()
                    }
                }),
            });
        }
    }
    let status = invitation.facts.effective_status(now);
    let end = match status {
        InvitationStatus::Pending => None,
        InvitationStatus::Accepted => Some(Step::Accepted),
        InvitationStatus::Declined => Some(Step::Declined),
        InvitationStatus::Revoked => Some(Step::Revoked),
        InvitationStatus::Expired => Some(Step::Expired),
    };
    if let Some(step) = end {
        let at = match (step, invitation.decided_at) {
            (Step::Expired, None) => invitation.facts.expires_at,
            (_, Some(at)) => at,
            (_, None) => invitation.facts.expires_at,
        };
        out.push(Entry {
            at,
            step,
            detail: invitation.status_reason.clone(),
        });
    }
    out.sort_by_key(|e| e.at);
    out
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::domain::invitation::{DEFAULT_TTL, InvitationFacts};
    use crate::domain::token::TokenNonce;
    use crate::domain::{EmailAddress, InvitationId, OrganizationId, Role, UserId};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()
    }

    fn invitation(status: InvitationStatus, decided_at: Option<DateTime<Utc>>) -> Invitation {
        Invitation {
            id: InvitationId::new(),
            organization_id: OrganizationId::new(),
            email: EmailAddress::parse("ann@example.com").unwrap(),
            role: Role::Viewer,
            message: None,
            invited_by: UserId::new(),
            nonce: TokenNonce::generate(),
            facts: InvitationFacts {
                status,
                expires_at: t0() + DEFAULT_TTL,
                last_resent_at: None,
            },
            status_reason: None,
            created_at: t0(),
            decided_at,
            renewal_requested_at: None,
            department: None,
            bounced_at: None,
        }
    }

    fn email(reminder: bool, at: DateTime<Utc>, sent: bool, error: Option<&str>) -> EmailFact {
        EmailFact {
            reminder,
            queued_at: at,
            status: if sent { "sent" } else { "failed" }.into(),
            attempts: 1,
            sent_at: sent.then_some(at + Duration::seconds(2)),
            next_attempt_at: at,
            last_error: error.map(str::to_owned),
        }
    }

    fn steps(entries: &[Entry]) -> Vec<&'static str> {
        entries.iter().map(|e| e.step.as_str()).collect()
    }

    #[test]
    fn the_timeline_runs_from_queued_through_reminders_to_how_it_ended() {
        let accepted_at = t0() + Duration::days(3);
        let inv = invitation(InvitationStatus::Accepted, Some(accepted_at));
        let emails = [
            email(false, t0(), true, None),
            email(true, t0() + Duration::days(2), true, None),
        ];
        let line = timeline(&inv, &emails, t0() + Duration::days(4));
        assert_eq!(
            steps(&line),
            ["queued", "sent", "reminded", "sent", "accepted"]
        );
        assert_eq!(line.last().unwrap().at, accepted_at);
        // A bounce, a resend, and expiry by the clock alone (no sweep has written it).
        let inv = invitation(InvitationStatus::Pending, None);
        let emails = [
            email(false, t0(), false, Some("bounced: 550 Mailbox unavailable")),
            email(false, t0() + Duration::hours(1), true, None),
        ];
        let line = timeline(&inv, &emails, t0() + Duration::days(8));
        assert_eq!(
            steps(&line),
            ["queued", "bounced", "resent", "sent", "expired"]
        );
        assert_eq!(line[1].detail.as_deref(), Some("550 Mailbox unavailable"));
        assert_eq!(line[4].at, t0() + DEFAULT_TTL);
        // Nothing yet: no steps but the queue.
        assert!(timeline(&inv, &[], t0()).is_empty());
    }
}
