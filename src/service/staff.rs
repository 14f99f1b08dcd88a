//! The staff console (DESIGN.md, "Staff console" and rule 6): organizations with their plan
//! and member count, searched and paged, the tenant-owner invitations, and setting a plan —
//! recorded in the organization's audit trail as done by staff. Staff only: whether the actor
//! is staff is read again on every operation, so a staff flag taken away counts at once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Actor, ServiceError, Services, refuse};
use crate::db::audit;
use crate::db::{self, Conn};
use crate::domain::audit::AuditAction;
use crate::domain::tenant::TenantInvitation;
use crate::domain::{Organization, OrganizationId, Plan};

/// Organizations per page of the console.
pub const PAGE_SIZE: i64 = 25;
/// How many tenant-owner invitations the console lists, newest first.
pub const INVITATIONS_LISTED: i64 = 100;

/// The actor is not platform staff (any more): the console is not advertised (a 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Page not found")]
pub struct NotStaff;

/// Why a console operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StaffRefusal {
    /// The actor is not staff.
    #[error(transparent)]
    NotStaff(#[from] NotStaff),
    /// No such organization.
    #[error("No such organization")]
    NoSuchOrganization,
}

/// Refuses unless `actor` is staff, as stored now.
///
/// # Errors
/// [`NotStaff`]; storage failures.
pub(super) fn require_staff<R: From<NotStaff>>(
    conn: &mut Conn,
    actor: &Actor,
) -> Result<(), ServiceError<R>> {
    if db::users::find(conn, actor.user.id)?.is_some_and(|u| u.is_staff) {
        Ok(())
    } else {
        refuse(NotStaff)
    }
}

/// Which organizations the console shows.
#[derive(Debug, Clone, Default)]
pub struct ConsoleQuery {
    /// Part of their name, any case (empty: all).
    pub search: String,
    /// The page, from 1.
    pub page: i64,
}

/// The console's contents.
#[derive(Debug, Clone)]
pub struct Console {
    /// The page's organizations, by name, each with its member count.
    pub organizations: Vec<(Organization, i64)>,
    /// How many organizations match in all.
    pub total: i64,
    /// The page shown, from 1.
    pub page: i64,
    /// How many pages there are (at least 1).
    pub pages: i64,
    /// The latest tenant-owner invitations, newest first.
    pub invitations: Vec<TenantInvitation>,
    /// The seat limit overrides of this page's organizations that have one.
    pub custom_seats: HashMap<OrganizationId, u32>,
}

/// The console for `query`: a page of organizations and the tenant-owner invitations.
///
/// # Errors
/// [`StaffRefusal::NotStaff`]; storage failures.
pub fn console(
    svc: &Services,
    actor: &Actor,
    query: &ConsoleQuery,
) -> Result<Console, ServiceError<StaffRefusal>> {
    let mut conn = svc.conn()?;
    require_staff(&mut conn, actor)?;
    let page = query.page.max(1);
    let offset = (page - 1) * PAGE_SIZE;
    let (organizations, total) =
        db::organizations::search(&mut conn, &query.search, PAGE_SIZE, offset)?;
    let ids: Vec<OrganizationId> = organizations.iter().map(|(o, _)| o.id).collect();
    let custom_seats = db::seats::custom_limits(&mut conn, &ids)?;
    Ok(Console {
        custom_seats,
        organizations,
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        invitations: db::tenant_invitations::recent(&mut conn, INVITATIONS_LISTED)?,
    })
}

/// A plan change (or the plan found already `to`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanChange {
    /// The plan before.
    pub from: Plan,
    /// The plan now.
    pub to: Plan,
}

/// Sets `org`'s plan, recorded in its audit trail as done by staff (`organization.plan_changed`,
/// "Trial → Professional"). Setting the plan it has changes and records nothing.
///
/// # Errors
/// [`StaffRefusal`]; storage failures.
pub fn set_plan(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    plan: Plan,
    now: DateTime<Utc>,
) -> Result<PlanChange, ServiceError<StaffRefusal>> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        require_staff(c, actor)?;
        let Some(current) = db::organizations::find(c, org)? else {
            return refuse(StaffRefusal::NoSuchOrganization);
        };
        let change = PlanChange {
            from: current.plan,
            to: plan,
        };
        if change.from != change.to {
            db::organizations::set_plan(c, org, plan)?;
            let detail = format!("{} → {}", change.from.label(), change.to.label());
            let action = AuditAction::PlanChanged;
            let ctx = actor.audit(true);
            audit::record(
                c,
                &ctx,
                Some(org),
                action,
                Some(&current.name),
                Some(&detail),
                now,
            )?;
        }
        Ok(change)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;
    use crate::service::testing::{Fixture, actor};

    fn refusal<T: std::fmt::Debug>(r: Result<T, ServiceError<StaffRefusal>>) -> StaffRefusal {
        match r {
            Err(ServiceError::Refused(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_console_and_plans_are_for_staff_only_read_on_every_call() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Trial);
        let owner = f.member(org, "owner@acme.test", Role::Owner);
        let staff = actor(f.user("staff@joinery.test", "Sam Staff", true));
        let query = ConsoleQuery::default();
        let not_staff = StaffRefusal::NotStaff(NotStaff);
        assert_eq!(refusal(console(&f.svc, &owner, &query)), not_staff);
        let by_owner = set_plan(&f.svc, &owner, org, Plan::Enterprise, f.now);
        assert_eq!(refusal(by_owner), not_staff);
        assert_eq!(console(&f.svc, &staff, &query).unwrap().total, 1);
        // The staff flag taken away counts at once.
        f.with(|c| {
            use crate::db::schema::users;
            use diesel::prelude::*;
            let id = staff.user.id.to_string();
            diesel::update(users::table.find(id))
                .set(users::is_staff.eq(false))
                .execute(c)?;
            Ok(())
        });
        assert_eq!(refusal(console(&f.svc, &staff, &query)), not_staff);
    }

    #[test]
    fn setting_a_plan_is_recorded_as_staff_and_the_same_plan_changes_nothing() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Trial);
        let staff = actor(f.user("staff@joinery.test", "Sam Staff", true));
        let change = set_plan(&f.svc, &staff, org, Plan::Professional, f.now).unwrap();
        assert_eq!(
            change,
            PlanChange {
                from: Plan::Trial,
                to: Plan::Professional
            }
        );
        let again = set_plan(&f.svc, &staff, org, Plan::Professional, f.now).unwrap();
        assert_eq!(again.from, again.to);
        assert_eq!(f.audit_actions(org), ["organization.plan_changed"]);
        let missing = set_plan(&f.svc, &staff, OrganizationId::new(), Plan::Starter, f.now);
        assert_eq!(refusal(missing), StaffRefusal::NoSuchOrganization);
    }

    #[test]
    fn the_console_pages_by_name() {
        let f = Fixture::new();
        for i in 0..(PAGE_SIZE + 1) {
            f.org(&format!("Company {i:02}"), Plan::Trial);
        }
        let staff = actor(f.user("staff@joinery.test", "Sam Staff", true));
        let page = |search: &str, page| ConsoleQuery {
            search: search.into(),
            page,
        };
        let first = console(&f.svc, &staff, &page("", 1)).unwrap();
        assert_eq!((first.total, first.pages), (PAGE_SIZE + 1, 2));
        assert_eq!(first.organizations.len(), PAGE_SIZE as usize);
        let second = console(&f.svc, &staff, &page("", 2)).unwrap();
        assert_eq!(second.organizations.len(), 1);
        let found = console(&f.svc, &staff, &page("company 07", 0)).unwrap();
        assert_eq!((found.total, found.page), (1, 1));
    }
}
