//! Seats (DESIGN.md, "Access, integration": Seats): the one seat check every way into an
//! organization calls, what the pages show, and the staff override.
//!
//! [`ensure_free`] runs inside the write transaction of the way in, after it has taken the
//! organization's lock (`super::acting_in`, or `db::organizations::lock`): every operation that
//! adds a seat takes that lock first, so of 50 concurrent invitations for one free seat exactly
//! one counts it free. The rule itself is `domain::seats`'s.

use chrono::{DateTime, Utc};

use super::organizations::{OrgRefusal, permitted};
use super::staff::{StaffRefusal, require_staff};
use super::{Actor, NoStanding, ServiceError, Services, refuse, standing_in};
use crate::db::audit::{self, AuditContext, RequestMeta};
use crate::db::{self, Conn, DbError};
use crate::domain::audit::AuditAction;
use crate::domain::seats::{NoFreeSeats, SeatLimit, SeatUsage};
use crate::domain::{Organization, OrganizationId, Permission, Plan};

/// `org`'s seats at `now`: what takes them and its limit (the plan's, or staff's override).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn usage(
    conn: &mut Conn,
    org: &Organization,
    now: DateTime<Utc>,
) -> Result<SeatUsage, DbError> {
    let custom = db::seats::custom_limit(conn, org.id)?;
    Ok(SeatUsage {
        used: db::seats::used(conn, org.id, now)?,
        limit: SeatLimit::of(org.plan, custom),
    })
}

/// Refuses unless `wanted` more seats fit in `org` at `now` (all or nothing; while the
/// organization is over its limit, nothing fits, not even `wanted = 0`). Call it inside the
/// write transaction that adds them, after the organization's lock. Without a limit
/// (Enterprise's default) nothing is counted: every invite of such an organization would
/// otherwise count its pending invitations, which grow with every invite (issue 16).
///
/// # Errors
/// [`NoFreeSeats`] (as the caller's refusal `R`); [`DbError`] on a failed query.
pub fn ensure_free<R: From<NoFreeSeats>>(
    conn: &mut Conn,
    org: &Organization,
    wanted: i64,
    now: DateTime<Utc>,
) -> Result<(), ServiceError<R>> {
    let limit = SeatLimit::of(org.plan, db::seats::custom_limit(conn, org.id)?);
    if limit.seats().is_none() {
        return Ok(());
    }
    let usage = SeatUsage {
        used: db::seats::used(conn, org.id, now)?,
        limit,
    };
    match usage.check(wanted) {
        Ok(()) => Ok(()),
        Err(no) => refuse(no),
    }
}

/// `org`'s seats at `now` as a member (or staff) sees them, e.g. in the invite dialog
/// ("seats left"). Reads only.
///
/// # Errors
/// [`NoStanding`]; storage failures.
pub fn seats(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    now: DateTime<Utc>,
) -> Result<SeatUsage, ServiceError<NoStanding>> {
    let mut conn = svc.conn()?;
    let standing = standing_in(&mut conn, org, actor)?;
    Ok(usage(&mut conn, &standing.org, now)?)
}

/// `org`'s plan and seats at `now`, for its Billing page: `billing` only (Owners, and staff).
/// Reads only.
///
/// # Errors
/// [`OrgRefusal::NotPermitted`] without `billing`; no standing; storage failures.
pub fn billing(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    now: DateTime<Utc>,
) -> Result<(Plan, SeatUsage), ServiceError<OrgRefusal>> {
    let mut conn = svc.conn()?;
    let acting = standing_in(&mut conn, org, actor)?;
    permitted(&acting, Permission::Billing)?;
    Ok((acting.org.plan, usage(&mut conn, &acting.org, now)?))
}

/// A change of an organization's seat limit override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitChange {
    /// The limit before.
    pub from: SeatLimit,
    /// The limit now.
    pub to: SeatLimit,
}

/// Sets (`Some`) or clears (`None`: the plan's default) `org`'s seat limit as staff `actor`,
/// recorded in its audit trail as done by staff (`organization.seat_limit_changed`). A limit
/// below the seats in use is allowed: the organization keeps everyone and adds no one until it
/// is under. Setting what it has records nothing.
///
/// # Errors
/// [`StaffRefusal`]: not staff, no such organization; storage failures.
pub fn set_limit(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    limit: Option<u32>,
    now: DateTime<Utc>,
) -> Result<LimitChange, ServiceError<StaffRefusal>> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        require_staff::<StaffRefusal>(c, actor)?;
        change_limit(c, &actor.audit(true), org, limit, now)
    })
}

/// Sets or clears `org`'s seat limit from the command line (`joinery create-org --seats N`),
/// recorded in its audit trail as done by the system.
///
/// # Errors
/// [`StaffRefusal::NoSuchOrganization`]; storage failures.
pub fn set_limit_by_operator(
    svc: &Services,
    org: OrganizationId,
    limit: Option<u32>,
    now: DateTime<Utc>,
) -> Result<LimitChange, ServiceError<StaffRefusal>> {
    let ctx = AuditContext {
        actor: audit::Actor::system(),
        meta: RequestMeta::default(),
    };
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| change_limit(c, &ctx, org, limit, now))
}

fn change_limit(
    c: &mut Conn,
    ctx: &AuditContext,
    org: OrganizationId,
    limit: Option<u32>,
    now: DateTime<Utc>,
) -> Result<LimitChange, ServiceError<StaffRefusal>> {
    let Some(current) = db::organizations::find(c, org)? else {
        return refuse(StaffRefusal::NoSuchOrganization);
    };
    db::organizations::lock(c, org)?;
    let before = db::seats::custom_limit(c, org)?;
    let change = LimitChange {
        from: SeatLimit::of(current.plan, before),
        to: SeatLimit::of(current.plan, limit),
    };
    if before != limit {
        db::seats::set_custom_limit(c, org, limit)?;
        let detail = format!(
            "{} → {}{}",
            change.from,
            change.to,
            if limit.is_none() {
                " (the plan's default)"
            } else {
                ""
            }
        );
        let action = AuditAction::SeatLimitChanged;
        let target = Some(current.name.as_str());
        audit::record(c, ctx, Some(org), action, target, Some(&detail), now)?;
    }
    Ok(change)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::db::schema::{invitations as inv_table, invite_links as link_table};
    use crate::domain::Role;
    use crate::domain::invitation::{AddressOutcome, InviteDenied, InviteEntry};
    use crate::domain::invite_link::LinkExpiry;
    use crate::domain::seats::SeatsUsed;
    use crate::service::csv_import::{self, ImportRefusal, PreviewPage, Upload, UploadedFile};
    use crate::service::invitations::{self, InvitationRefusal};
    use crate::service::invite_links::join::{JoinOutcome, JoinProblem, JoinRefusal};
    use crate::service::invite_links::{self, CreateLink, InviteLinkRefusal};
    use crate::service::testing::{Fixture, actor, visitor};
    use diesel::prelude::*;

    use crate::service::testing::{refusal, viewer_entries as entries};

    fn addresses(n: usize, prefix: &str) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}@example.com")).collect()
    }

    fn invite(
        f: &Fixture,
        who: &Actor,
        org: OrganizationId,
        emails: &[String],
        at: DateTime<Utc>,
    ) -> Result<Vec<AddressOutcome>, ServiceError<InvitationRefusal>> {
        let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
        invitations::invite(&f.svc, who, org, &entries(&emails), at)
    }

    fn used(f: &Fixture, org: OrganizationId, at: DateTime<Utc>) -> SeatsUsed {
        f.with(|c| db::seats::used(c, org, at))
    }

    fn pending(f: &Fixture, org: OrganizationId) -> i64 {
        f.with(|c| {
            Ok(inv_table::table
                .filter(inv_table::organization_id.eq(org.to_string()))
                .filter(inv_table::status.eq("pending"))
                .count()
                .get_result(c)?)
        })
    }

    fn set_limit_of(f: &Fixture, org: OrganizationId, n: u32) {
        f.with(|c| db::seats::set_custom_limit(c, org, Some(n)));
    }

    fn new_link(
        f: &Fixture,
        who: &Actor,
        org: OrganizationId,
        at: DateTime<Utc>,
    ) -> CreateLinkResult {
        let cmd = CreateLink {
            role: Role::Viewer,
            expiry: LinkExpiry::OneDay,
            approval_required: false,
        };
        invite_links::create(&f.svc, who, org, cmd, at)
    }

    type CreateLinkResult = Result<invite_links::CreatedLink, ServiceError<InviteLinkRefusal>>;

    #[test]
    fn members_live_pending_invitations_and_unused_live_links_take_seats() {
        let f = Fixture::new();
        let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
        f.member(org, "pat@acme.test", Role::Viewer);
        invite(&f, &owner, org, &addresses(2, "inv"), f.now).unwrap();
        new_link(&f, &owner, org, f.now).unwrap();
        let seen = used(&f, org, f.now);
        assert_eq!(
            seen,
            SeatsUsed {
                members: 2,
                pending_invitations: 2,
                open_links: 1
            }
        );
        // Expiry is a fact of time: no sweep has run, and the seats are free.
        let link_gone = f.now + Duration::days(1);
        assert_eq!(used(&f, org, link_gone).open_links, 0);
        let invitations_gone = f.now + f.svc.settings.invitation_ttl;
        assert_eq!(used(&f, org, invitations_gone).pending_invitations, 0);
        // Revoked frees at once.
        let id: String = f.with(|c| {
            Ok(inv_table::table
                .filter(inv_table::email.eq("inv0@example.com"))
                .select(inv_table::id)
                .first(c)?)
        });
        invitations::revoke(&f.svc, &owner, org, id.parse().unwrap(), f.now).unwrap();
        assert_eq!(used(&f, org, f.now).pending_invitations, 1);
        let org_row = f.with(|c| db::organizations::find(c, org)).unwrap();
        let seats = f.with(|c| usage(c, &org_row, f.now));
        assert_eq!(seats.summary(), "4 of 10 seats used");
    }

    #[test]
    fn a_bulk_that_does_not_fit_sends_none_and_says_so() {
        let f = Fixture::new();
        let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
        for i in 0..4 {
            f.member(org, &format!("m{i}@acme.test"), Role::Viewer);
        }
        let twenty = addresses(20, "bulk");
        let refused = refusal(invite(&f, &owner, org, &twenty, f.now));
        let InvitationRefusal::NoFreeSeats(no) = refused else {
            panic!("expected no free seats, got {refused:?}");
        };
        assert_eq!((no.limit, no.used, no.wanted, no.free()), (10, 5, 20, 5));
        assert!(
            no.to_string()
                .starts_with("Nothing was sent: 20 new invitations")
        );
        assert_eq!(pending(&f, org), 0, "nothing half-written");
        invite(&f, &owner, org, &twenty[..5], f.now).unwrap();
        let one_more = refusal(invite(&f, &owner, org, &twenty[5..6], f.now));
        assert_eq!(
            one_more.to_string(),
            "All 10 seats are in use. Revoke a pending invitation or an invite link, or remove a member, to free a seat."
        );
    }

    #[test]
    fn resending_keeps_the_seat_replacing_swaps_it_and_an_expired_one_needs_one() {
        let f = Fixture::new();
        let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
        set_limit_of(&f, org, 2);
        let ann = vec!["ann@example.com".to_owned()];
        invite(&f, &owner, org, &ann, f.now).unwrap();
        // At the cap: the same address again (same link) and another role (replaced) pass.
        let later = f.now + Duration::minutes(2);
        assert_eq!(
            invite(&f, &owner, org, &ann, later).unwrap(),
            [AddressOutcome::Resent]
        );
        let as_editor = vec![InviteEntry {
            role: Role::Editor,
            ..entries(&["ann@example.com"]).remove(0)
        }];
        let replaced = invitations::invite(&f.svc, &owner, org, &as_editor, later);
        assert_eq!(replaced.unwrap(), [AddressOutcome::Sent]);
        assert_eq!(pending(&f, org), 1, "replacing is net zero");
        let id: String = f.with(|c| {
            Ok(inv_table::table
                .filter(inv_table::status.eq("pending"))
                .select(inv_table::id)
                .first(c)?)
        });
        let id = id.parse().unwrap();
        let resent = invitations::resend(&f.svc, &owner, org, id, later + Duration::minutes(2));
        assert!(resent.is_ok(), "a resend keeps its seat: {resent:?}");
        // Expired: its seat is free, and someone else takes it; the resend, a new invitation,
        // then needs a seat there is none of.
        let expired = later + f.svc.settings.invitation_ttl;
        f.member(org, "bo@acme.test", Role::Viewer);
        let anew = refusal(invitations::resend(&f.svc, &owner, org, id, expired));
        assert!(
            matches!(anew, InvitationRefusal::NoFreeSeats(_)),
            "{anew:?}"
        );
    }

    #[test]
    fn on_trial_the_plan_message_comes_first() {
        let f = Fixture::new();
        let (org, owner) = f.org_with_owner("Acme", Plan::Trial);
        // Trial's one seat is the Owner's: both rules refuse; the plan is the one said.
        let refused = refusal(invite(&f, &owner, org, &addresses(1, "t"), f.now));
        assert_eq!(refused, InvitationRefusal::Denied(InviteDenied::TrialPlan));
        let link = refusal(new_link(&f, &owner, org, f.now));
        assert_eq!(link, InviteLinkRefusal::Denied(InviteDenied::TrialPlan));
    }

    #[test]
    fn an_invite_link_holds_a_seat_and_at_the_cap_its_joiner_is_told_only_the_name() {
        let f = Fixture::new();
        let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
        set_limit_of(&f, org, 2);
        let created = new_link(&f, &owner, org, f.now).unwrap();
        // The link's seat and the Owner's: full.
        let second = refusal(new_link(&f, &owner, org, f.now));
        assert!(
            matches!(second, InviteLinkRefusal::NoFreeSeats(_)),
            "{second:?}"
        );
        assert!(
            refusal(invite(&f, &owner, org, &addresses(1, "x"), f.now))
                .to_string()
                .starts_with("All 2 seats are in use")
        );
        // At the cap exactly, the link's seat becomes its joiner's.
        let joiner = f.user("jo@example.com", "Jo", false);
        let joined =
            invite_links::join::accept(&f.svc, &visitor(Some(&joiner)), &created.token, f.now);
        assert!(matches!(joined, Ok(JoinOutcome::Joined(_))), "{joined:?}");
        assert_eq!(used(&f, org, f.now).total(), 2);
        // Over the limit (lowered by staff after a link was made): the joiner is refused.
        set_limit_of(&f, org, 3);
        let another = new_link(&f, &owner, org, f.now).unwrap();
        set_limit_of(&f, org, 2);
        let late = f.user("late@example.com", "Late", false);
        let refused = refusal(invite_links::join::accept(
            &f.svc,
            &visitor(Some(&late)),
            &another.token,
            f.now,
        ));
        let JoinRefusal::Refused { problem, .. } = refused else {
            panic!("expected a refusal on the page, got {refused:?}");
        };
        assert_eq!(problem, JoinProblem::NoFreeSeats("Acme".into()));
        assert_eq!(
            problem.to_string(),
            "Acme has no free seats: ask its admins"
        );
        let unused: i64 = f.with(|c| {
            Ok(link_table::table
                .filter(link_table::status.eq("active"))
                .count()
                .get_result(c)?)
        });
        assert_eq!(unused, 1, "the refused use wrote nothing");
        assert!(f.role_of(org, &actor(late)).is_none());
    }

    #[test]
    fn over_the_limit_everyone_stays_and_no_one_is_added() {
        let f = Fixture::new();
        let (org, owner) = f.org_with_owner("Acme", Plan::Professional);
        let admin = f.member(org, "admin@acme.test", Role::Admin);
        f.member(org, "ed@acme.test", Role::Editor);
        // Downgraded below its members.
        set_limit_of(&f, org, 2);
        let org_row = f.with(|c| db::organizations::find(c, org)).unwrap();
        let seats = f.with(|c| usage(c, &org_row, f.now));
        assert!(seats.is_over());
        assert!(seats.over_notice().unwrap().contains("no one can be added"));
        assert!(matches!(
            refusal(invite(&f, &admin, org, &addresses(1, "n"), f.now)),
            InvitationRefusal::NoFreeSeats(_)
        ));
        assert!(matches!(
            refusal(new_link(&f, &owner, org, f.now)),
            InviteLinkRefusal::NoFreeSeats(_)
        ));
        assert_eq!(
            used(&f, org, f.now).members,
            3,
            "everyone keeps their place"
        );
    }

    #[test]
    fn a_csv_confirmation_is_all_or_nothing_and_the_preview_says_how_many_fit() {
        let f = Fixture::new();
        let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
        set_limit_of(&f, org, 3);
        let rows: String = addresses(4, "csv")
            .iter()
            .map(|e| format!("{e},viewer,,\n"))
            .collect();
        let upload = Upload {
            file_name: "team.csv".into(),
            file: UploadedFile::Bytes(
                format!("email,role,department,message\n{rows}").into_bytes(),
            ),
        };
        let id = csv_import::upload(&f.svc, &owner, org, upload, f.now).unwrap();
        let PreviewPage::Unsent(preview) =
            csv_import::preview(&f.svc, &owner, org, id, f.now).unwrap()
        else {
            panic!("unsent");
        };
        assert_eq!(
            preview.seats.0.fit_note(preview.seats.1),
            "2 of 4 new invitations would fit: 2 of 3 seats are free (1 of 3 seats used)."
        );
        assert!(preview.seats_warning.is_some());
        let fingerprint = preview.plan.fingerprint.clone();
        let refused = refusal(csv_import::confirm(
            &f.svc,
            &owner,
            org,
            id,
            &fingerprint,
            f.now,
        ));
        assert!(
            matches!(refused, ImportRefusal::NoFreeSeats { .. }),
            "{refused:?}"
        );
        assert_eq!(pending(&f, org), 0);
    }

    #[test]
    fn staff_set_the_limit_audited_and_others_may_not() {
        let f = Fixture::new();
        let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
        let staff = actor(f.user("staff@joinery.test", "Sam Staff", true));
        let by_owner = set_limit(&f.svc, &owner, org, Some(50), f.now);
        assert!(matches!(refusal(by_owner), StaffRefusal::NotStaff(_)));
        let change = set_limit(&f.svc, &staff, org, Some(50), f.now).unwrap();
        assert_eq!(
            (change.from, change.to),
            (SeatLimit::Limited(10), SeatLimit::Limited(50))
        );
        let cleared = set_limit(&f.svc, &staff, org, None, f.now).unwrap();
        assert_eq!(
            cleared.to,
            SeatLimit::Limited(10),
            "the plan's default again"
        );
        assert_eq!(
            f.audit_actions(org),
            [
                "organization.seat_limit_changed",
                "organization.seat_limit_changed"
            ]
        );
        let missing = set_limit(&f.svc, &staff, OrganizationId::new(), Some(1), f.now);
        assert_eq!(refusal(missing), StaffRefusal::NoSuchOrganization);
    }
}
