//! Reading an organization's audit trail (DESIGN.md, "Audit log"): every recorded event,
//! newest first, filtered by action and by actor, a page at a time.
//!
//! Owners and Admins (`members:manage`) and platform staff may read it; the trail itself is
//! append-only, so reading is all there is.

use chrono::{DateTime, Utc};

use super::organizations::{OrgRefusal, permitted};
use super::{Actor, ServiceError, Services, standing_in};
use crate::db;
use crate::db::audit::AuditRow;
use crate::domain::audit::AuditAction;
use crate::domain::{OrganizationId, Permission, UserId};

/// Events per page.
pub const PAGE_SIZE: i64 = 50;

/// Which events to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this action, if chosen.
    pub action: Option<AuditAction>,
    /// Only this actor, if chosen.
    pub actor: Option<UserId>,
    /// 1-based page number.
    pub page: i64,
}

impl AuditFilter {
    /// The events before this page.
    pub fn offset(&self) -> i64 {
        (self.page.max(1) - 1) * PAGE_SIZE
    }
}

/// One recorded event, as the trail shows it.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// The action's label ("Invitation sent"), or its stored name if unknown to this version.
    pub action: String,
    /// Who, as recorded ("Name <email>", or "system").
    pub actor: String,
    /// Whether they acted as platform staff.
    pub actor_is_staff: bool,
    /// Whom or what it was about ("" if nothing).
    pub target: String,
    /// More about it ("" if nothing).
    pub details: String,
    /// The client IP recorded ("" if none).
    pub ip: String,
    /// The user agent recorded ("" if none).
    pub user_agent: String,
}

impl From<AuditRow> for AuditEvent {
    fn from(row: AuditRow) -> Self {
        let action = row
            .action
            .parse::<AuditAction>()
            .map_or_else(|_| row.action.clone(), |a| a.label().to_owned());
        Self {
            at: row.at(),
            action,
            actor: row.actor_label,
            actor_is_staff: row.actor_is_staff,
            target: row.target.unwrap_or_default(),
            details: row.details.unwrap_or_default(),
            ip: row.ip.unwrap_or_default(),
            user_agent: row.user_agent.unwrap_or_default(),
        }
    }
}

/// A page of the trail.
#[derive(Debug, Clone)]
pub struct AuditLog {
    /// The page's events, newest first.
    pub events: Vec<AuditEvent>,
    /// How many events match the filter in all.
    pub total: i64,
    /// Everyone who appears in the trail as (user id, label), by label: the actor filter.
    pub actors: Vec<(String, String)>,
}

impl AuditLog {
    /// How many pages the matching events fill (at least 1).
    pub fn page_count(&self) -> i64 {
        ((self.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1)
    }
}

/// The page of `org`'s trail that `filter` asks for, read by `actor`: `members:manage` only.
///
/// # Errors
/// [`OrgRefusal::NotPermitted`] without `members:manage`; no standing;
/// [`ServiceError::Storage`].
pub fn read(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    filter: AuditFilter,
) -> Result<AuditLog, ServiceError<OrgRefusal>> {
    let mut conn = svc.conn()?;
    let acting = standing_in(&mut conn, org, actor)?;
    permitted(&acting, Permission::MembersManage)?;
    let by = filter.actor.map(|a| a.to_string());
    let (rows, total) = db::audit::list(
        &mut conn,
        org,
        filter.action,
        by.as_deref(),
        PAGE_SIZE,
        filter.offset(),
    )?;
    Ok(AuditLog {
        events: rows.into_iter().map(AuditEvent::from).collect(),
        total,
        actors: db::audit::actors(&mut conn, org)?,
    })
}

/// Up to `limit` events of `org`'s trail after `after` (newest first), read by `actor`, for
/// the JSON API's cursor: `members:manage` only. Each event comes with its id and stored
/// action name.
///
/// # Errors
/// As [`read`].
pub fn events_after(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    after: Option<&db::api_listing::After>,
    limit: i64,
) -> Result<Vec<AuditRow>, ServiceError<OrgRefusal>> {
    let mut conn = svc.conn()?;
    let acting = standing_in(&mut conn, org, actor)?;
    permitted(&acting, Permission::MembersManage)?;
    Ok(db::api_listing::audit(&mut conn, org, after, limit)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Plan, Role};
    use crate::service::members::{self, ChangeRole};
    use crate::service::testing::{Fixture, actor};

    fn all(page: i64) -> AuditFilter {
        AuditFilter {
            action: None,
            actor: None,
            page,
        }
    }

    #[test]
    fn the_log_is_for_members_manage_and_staff_only() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Starter);
        let owner = f.member(org, "owner@acme.test", Role::Owner);
        let admin = f.member(org, "admin@acme.test", Role::Admin);
        let editor = f.member(org, "editor@acme.test", Role::Editor);
        let staff = actor(f.user("staff@joinery.test", "Sam", true));
        for reader in [&owner, &admin, &staff] {
            assert!(read(&f.svc, reader, org, all(1)).is_ok());
        }
        assert!(matches!(
            read(&f.svc, &editor, org, all(1)),
            Err(ServiceError::Refused(OrgRefusal::NotPermitted(
                Permission::MembersManage
            )))
        ));
        let stranger = actor(f.user("x@elsewhere.test", "X", false));
        assert!(matches!(
            read(&f.svc, &stranger, org, all(1)),
            Err(ServiceError::Refused(OrgRefusal::NoStanding(_)))
        ));
    }

    #[test]
    fn events_are_filtered_paged_and_staff_acting_are_marked() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Starter);
        let owner = f.member(org, "owner@acme.test", Role::Owner);
        let pat = f.member(org, "pat@acme.test", Role::Viewer);
        let staff = actor(f.user("staff@joinery.test", "Sam", true));
        let membership = f.membership(org, &pat);
        for (who, to) in [(&owner, Role::Editor), (&staff, Role::Viewer)] {
            let cmd = ChangeRole { membership, to };
            members::change_role(&f.svc, who, org, cmd, f.now).unwrap();
        }
        let log = read(&f.svc, &owner, org, all(1)).unwrap();
        assert_eq!(log.total, 2);
        let staff_marks: Vec<_> = log.events.iter().map(|e| e.actor_is_staff).collect();
        assert_eq!(staff_marks.iter().filter(|s| **s).count(), 1);
        assert!(log.events.iter().all(|e| e.action == "Role changed"));
        assert_eq!(log.actors.len(), 2);
        let mine = AuditFilter {
            actor: Some(staff.user.id),
            ..all(1)
        };
        let log = read(&f.svc, &owner, org, mine).unwrap();
        assert_eq!((log.total, log.events[0].actor_is_staff), (1, true));
        let other = AuditFilter {
            action: Some(AuditAction::MemberRemoved),
            ..all(1)
        };
        assert_eq!(read(&f.svc, &owner, org, other).unwrap().total, 0);
        let beyond = read(&f.svc, &owner, org, all(2)).unwrap();
        assert_eq!(
            (beyond.events.len(), beyond.total, beyond.page_count()),
            (0, 2, 1)
        );
    }
}
