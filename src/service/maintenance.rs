//! What the system does on its own schedule: writing Expired onto invitations and join
//! requests past their time (expiry already holds to the second without it — DESIGN.md,
//! "Invitations"; the sweep makes the stored state agree), and deleting CSV imports and
//! sessions past theirs.

use std::convert::Infallible;

use chrono::{DateTime, Utc};

use super::{ServiceError, Services};
use crate::db;

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Pending invitations marked Expired (each with its audit event, by the system).
    pub invitations: usize,
    /// Expired CSV imports deleted.
    pub imports: usize,
    /// Expired sessions deleted.
    pub sessions: usize,
    /// Join requests nobody answered within 30 days, marked Expired.
    pub join_requests: usize,
    /// Invitation reminders queued (days 2 and 5 of 7; issue 15 §3).
    pub reminders: usize,
    /// Per-minute invitation counts over an hour old, deleted (the hourly limit's).
    pub invitation_counts: usize,
}

/// Marks overdue pending invitations and join requests Expired, queues the invitation
/// reminders due, and deletes expired CSV imports, as of `now` (the
/// app's clock), and sessions expired by `wall_clock` (sessions' lifetimes are the cookie's,
/// in real time).
///
/// # Errors
/// [`ServiceError::Storage`].
pub fn sweep(
    svc: &Services,
    now: DateTime<Utc>,
    wall_clock: DateTime<Utc>,
) -> Result<Swept, ServiceError<Infallible>> {
    let mut conn = svc.conn()?;
    let swept = Swept {
        invitations: db::invitations::expire_all_overdue(&mut conn, now)?,
        imports: db::imports::delete_expired(&mut conn, now)?,
        sessions: db::sessions::delete_expired(&mut conn, wall_clock)?,
        join_requests: db::join_requests::expire_all_overdue(&mut conn, now)?,
        reminders: db::invitations::queue_due_reminders(&mut conn, now)?,
        invitation_counts: db::invitations::prune_counts(&mut conn, now)?,
    };
    if swept.reminders > 0 {
        svc.email_queued();
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::imports::IMPORT_TTL;
    use crate::domain::{Plan, Role};
    use crate::service::testing::Fixture;

    #[test]
    fn a_sweep_deletes_what_has_expired_and_a_second_finds_nothing() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Starter);
        let owner = f.member(org, "owner@acme.test", Role::Owner);
        f.with(|c| db::imports::insert(c, org, owner.user.id, "a.csv", "email,role", f.now));
        let before = sweep(
            &f.svc,
            f.now + IMPORT_TTL - chrono::Duration::seconds(1),
            f.now,
        )
        .unwrap();
        assert_eq!(before.imports, 0, "not yet expired");
        let later = f.now + IMPORT_TTL;
        let swept = sweep(&f.svc, later, f.now).unwrap();
        assert_eq!((swept.invitations, swept.imports), (0, 1));
        assert_eq!(sweep(&f.svc, later, f.now).unwrap().imports, 0);
    }

    #[test]
    fn the_sweep_queues_reminders_once_and_not_for_answered_invitations_or_when_off() {
        use crate::service::invitations;
        use crate::service::organizations::{OrgRefusal, set_reminders};
        use crate::service::testing::refusal;
        use chrono::Duration;
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Starter);
        let owner = f.member(org, "owner@acme.test", Role::Owner);
        let entries =
            crate::service::testing::viewer_entries(&["ann@example.com", "bob@example.com"]);
        invitations::invite(&f.svc, &owner, org, &entries, f.now).unwrap();
        // An invitation Joinery did not email (a product delivers it) gets no reminder.
        f.invitation(org, &owner.user, "dee@example.com", Role::Viewer);
        let day2 = f.now + Duration::days(2);
        assert_eq!(
            sweep(&f.svc, day2 - Duration::seconds(1), f.now)
                .unwrap()
                .reminders,
            0
        );
        assert_eq!(sweep(&f.svc, day2, f.now).unwrap().reminders, 2);
        assert_eq!(sweep(&f.svc, day2, f.now).unwrap().reminders, 0, "once");
        assert_eq!(
            f.emails_to("ann@example.com"),
            ["invitation", "invitation_reminder"]
        );
        assert!(f.emails_to("dee@example.com").is_empty());
        // Bob's is revoked: no day-5 reminder for him.
        let bob = f.with(|c| {
            use crate::db::schema::invitations as i;
            use diesel::prelude::*;
            Ok(i::table
                .filter(i::email.eq("bob@example.com"))
                .select(i::id)
                .first::<String>(c)?)
        });
        invitations::revoke(&f.svc, &owner, org, bob.parse().unwrap(), day2).unwrap();
        let day5 = f.now + Duration::days(5);
        assert_eq!(sweep(&f.svc, day5, f.now).unwrap().reminders, 1);
        assert_eq!(
            f.emails_to("bob@example.com"),
            ["invitation", "invitation_reminder"]
        );
        // Off for the organization (Owners only): nothing more.
        let admin = f.member(org, "admin@acme.test", Role::Admin);
        assert!(matches!(
            refusal(set_reminders(&f.svc, &admin, org, false, f.now)),
            OrgRefusal::NotPermitted(_)
        ));
        set_reminders(&f.svc, &owner, org, false, f.now).unwrap();
        let entries = crate::service::testing::viewer_entries(&["cy@example.com"]);
        invitations::invite(&f.svc, &owner, org, &entries, f.now).unwrap();
        assert_eq!(sweep(&f.svc, day2, f.now).unwrap().reminders, 0);
    }
}
