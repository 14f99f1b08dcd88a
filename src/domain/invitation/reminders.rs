//! Reminders (issue 15 §3): a pending invitation nobody has answered gets a reminder email on
//! days 2 and 5 of a 7-day invitation — the same fractions of its window, whatever lifetime the
//! server is configured with (GitLab's reminder ratios are the model). Each goes through the
//! outbox, which cancels it at delivery once the invitation is no longer pending (accepted,
//! revoked, declined or expired), so reminders stop at once.

use chrono::{DateTime, Utc};

/// The reminders of a window, as fractions of it: day 2 and day 5 of 7.
pub const REMINDER_FRACTIONS: [(i32, i32); 2] = [(2, 7), (5, 7)];

/// When reminder `n` (0-based) of an invitation sent at `sent_at` and expiring at
/// `expires_at` is due.
pub fn reminder_at(
    sent_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    n: usize,
) -> Option<DateTime<Utc>> {
    let (num, den) = *REMINDER_FRACTIONS.get(n)?;
    Some(sent_at + (expires_at - sent_at) * num / den)
}

/// How many reminders should have been queued by `now` for an invitation sent at `sent_at`,
/// expiring at `expires_at`, of which `sent` were: `Some(total)` when more are due (the sweep
/// queues one email and records `total`, so a sweep that ran late never sends two at once),
/// `None` when nothing is due — also once the invitation has expired.
pub fn reminders_due(
    sent_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    sent: i32,
    now: DateTime<Utc>,
) -> Option<i32> {
    if now >= expires_at {
        return None;
    }
    let due = (0..REMINDER_FRACTIONS.len())
        .filter(|&n| reminder_at(sent_at, expires_at, n).is_some_and(|at| at <= now))
        .count();
    let due = i32::try_from(due).unwrap_or(0);
    (due > sent).then_some(due)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    #[test]
    fn reminders_fall_on_days_2_and_5_of_7_and_scale_with_the_window() {
        let sent = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let week = sent + Duration::days(7);
        assert_eq!(reminder_at(sent, week, 0), Some(sent + Duration::days(2)));
        assert_eq!(reminder_at(sent, week, 1), Some(sent + Duration::days(5)));
        assert_eq!(reminder_at(sent, week, 2), None);
        let day2 = sent + Duration::days(2);
        assert_eq!(
            reminders_due(sent, week, 0, day2 - Duration::seconds(1)),
            None
        );
        assert_eq!(reminders_due(sent, week, 0, day2), Some(1));
        assert_eq!(reminders_due(sent, week, 1, day2), None, "sent already");
        assert_eq!(
            reminders_due(sent, week, 1, sent + Duration::days(5)),
            Some(2)
        );
        // A late sweep sends one email for both.
        assert_eq!(
            reminders_due(sent, week, 0, sent + Duration::days(6)),
            Some(2)
        );
        assert_eq!(reminders_due(sent, week, 0, week), None, "expired: none");
        // A 14-day window: days 4 and 10.
        let fortnight = sent + Duration::days(14);
        assert_eq!(
            reminder_at(sent, fortnight, 0),
            Some(sent + Duration::days(4))
        );
        assert_eq!(
            reminder_at(sent, fortnight, 1),
            Some(sent + Duration::days(10))
        );
    }
}
