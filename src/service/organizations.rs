//! Organizations as their members see them: who may enter one (the standing every page of it
//! starts from), the person's organizations, the dashboard and billing facts, notification
//! settings, and the organizations the command line sets up.
//!
//! Rules kept here: members and platform staff enter an organization, staff acting as an
//! Owner would (DESIGN.md, rule 6); billing is for holders of `billing` (Owners, and staff);
//! notification settings belong to members, not to staff acting without a membership, and a
//! change of them is audited; every organization has an Owner (rule 4), so one is only ever
//! created together with its Owner.

use chrono::{DateTime, Utc};

use super::accounts::{self, AccountSetup, NeedsPassword};
use super::{
    Acting, Actor, NoStanding, ServiceError, Services, acting_in, refuse, standing_in, standing_of,
};
use crate::db::{self, audit};
use crate::domain::audit::AuditAction;
use crate::domain::text::OrganizationName;
use crate::domain::{Organization, OrganizationId, Permission, Plan, Role, User, UserId};

/// Why a page or setting of an organization was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OrgRefusal {
    /// The actor has no standing in the organization.
    #[error(transparent)]
    NoStanding(#[from] NoStanding),
    /// The actor's role lacks the permission.
    #[error("Your role does not include {} ({}).", .0.describe().to_lowercase(), .0.name())]
    NotPermitted(Permission),
    /// Staff acting here without a membership have no settings of their own.
    #[error("Notification settings belong to members; you are acting here as platform staff.")]
    StaffWithoutMembership,
}

type Result<T> = std::result::Result<T, ServiceError<OrgRefusal>>;

/// Everything a page of an organization starts from: the person, their standing there, and
/// every organization they belong to (the header's switcher).
#[derive(Debug, Clone)]
pub struct MemberContext {
    /// The person, as stored now.
    pub user: User,
    /// Their standing in the organization.
    pub acting: Acting,
    /// Every organization they belong to, with their role there, by name.
    pub organizations: Vec<(Organization, Role)>,
}

/// The context of `user` in `org` (`None` for a path segment that is not an organization id),
/// read in one go. `Ok(None)` when the account no longer exists (the session counts as signed
/// out).
///
/// # Errors
/// [`NoStanding`] when the organization does not exist or the person is neither a member nor
/// staff; [`ServiceError::Storage`].
pub fn member_context(
    svc: &Services,
    user: UserId,
    org: Option<OrganizationId>,
) -> std::result::Result<Option<MemberContext>, ServiceError<NoStanding>> {
    db::snapshot(&mut *svc.conn()?, |conn| {
        let Some(user) = db::users::find(conn, user)? else {
            return Ok(None);
        };
        let Some(organization) = org
            .map(|org| db::organizations::find(conn, org))
            .transpose()?
            .flatten()
        else {
            return refuse(NoStanding::NoSuchOrganization);
        };
        let acting = standing_of(conn, organization, user.id, user.is_staff)?;
        let organizations = db::organizations::for_user(conn, user.id)?;
        Ok(Some(MemberContext {
            user,
            acting,
            organizations,
        }))
    })
}

/// The organizations `actor` belongs to, with their role there, by name.
///
/// # Errors
/// [`ServiceError::Storage`].
pub fn organizations_of(
    svc: &Services,
    actor: &Actor,
) -> std::result::Result<Vec<(Organization, Role)>, ServiceError<std::convert::Infallible>> {
    Ok(db::organizations::for_user(
        &mut *svc.conn()?,
        actor.user.id,
    )?)
}

/// What the dashboard says.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// The actor's standing: the organization, their role, whether they are a member.
    pub acting: Acting,
    /// How many members the organization has.
    pub member_count: i64,
}

/// The dashboard of `org` for `actor`: any member or staff.
///
/// # Errors
/// [`OrgRefusal::NoStanding`]; [`ServiceError::Storage`].
pub fn dashboard(svc: &Services, actor: &Actor, org: OrganizationId) -> Result<Dashboard> {
    let mut conn = svc.conn()?;
    let acting = standing_in(&mut conn, org, actor)?;
    let member_count = db::organizations::member_count(&mut conn, org)?;
    Ok(Dashboard {
        acting,
        member_count,
    })
}

/// The plan of `org`, for its Billing page: `billing` only (Owners, and staff).
///
/// # Errors
/// [`OrgRefusal::NotPermitted`] without `billing`; no standing; [`ServiceError::Storage`].
pub fn billing(svc: &Services, actor: &Actor, org: OrganizationId) -> Result<Plan> {
    let acting = standing_in(&mut *svc.conn()?, org, actor)?;
    permitted(&acting, Permission::Billing)?;
    Ok(acting.org.plan)
}

/// Refuses unless `acting`'s role holds `permission`.
///
/// # Errors
/// [`OrgRefusal::NotPermitted`].
pub fn permitted(acting: &Acting, permission: Permission) -> Result<()> {
    if acting.role.has(permission) {
        Ok(())
    } else {
        refuse(OrgRefusal::NotPermitted(permission))
    }
}

/// A member's notification settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notifications {
    /// "Notify me when team members join".
    pub notify_on_join: bool,
    /// Whether they are an Owner (only Owners are notified).
    pub is_owner: bool,
    /// Whether the organization sends invitation reminders — for those who may change it
    /// (`billing`: Owners), else `None`.
    pub reminders: Option<bool>,
}

/// `actor`'s notification settings in `org`: members only.
///
/// # Errors
/// [`OrgRefusal::StaffWithoutMembership`]; no standing; [`ServiceError::Storage`].
pub fn notifications(svc: &Services, actor: &Actor, org: OrganizationId) -> Result<Notifications> {
    let mut conn = svc.conn()?;
    let acting = standing_in(&mut conn, org, actor)?;
    let reminders = if acting.role.has(Permission::Billing) {
        Some(db::organizations::invitation_reminders(&mut conn, org)?)
    } else {
        None
    };
    let Some(membership) = acting.membership else {
        return refuse(OrgRefusal::StaffWithoutMembership);
    };
    Ok(Notifications {
        notify_on_join: membership.notify_on_join,
        is_owner: acting.role == Role::Owner,
        reminders,
    })
}

/// Turns `org`'s invitation reminders (days 2 and 5 of 7; issue 15 §3) on or off as `actor`:
/// `billing` only (Owners, and staff), as the organization's other settings; audited.
///
/// # Errors
/// [`OrgRefusal::NotPermitted`]; no standing; storage failures.
pub fn set_reminders(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    on: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let acting = acting_in(c, org, actor)?;
        permitted(&acting, Permission::Billing)?;
        db::organizations::set_invitation_reminders(c, org, on)?;
        let detail = format!("Invitation reminders: {}", if on { "on" } else { "off" });
        audit::record(
            c,
            &acting.audit(actor),
            Some(org),
            AuditAction::SettingsChanged,
            None,
            Some(&detail),
            now,
        )?;
        Ok(())
    })
}

/// Sets "Notify me when team members join" on `actor`'s membership of `org`, and records the
/// change in the audit trail (marked when they act as staff).
///
/// # Errors
/// As [`notifications`].
pub fn set_notifications(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    notify_on_join: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let acting = acting_in(c, org, actor)?;
        let Some(membership) = &acting.membership else {
            return refuse(OrgRefusal::StaffWithoutMembership);
        };
        db::organizations::set_notify_on_join(c, membership.id, notify_on_join)?;
        let detail = format!(
            "Notify me when team members join: {}",
            if notify_on_join { "on" } else { "off" }
        );
        audit::record(
            c,
            &acting.audit(actor),
            Some(org),
            AuditAction::SettingsChanged,
            None,
            Some(&detail),
            now,
        )?;
        Ok(())
    })
}

/// An organization to find or create with its Owner.
#[derive(Debug, Clone)]
pub struct OrganizationSetup {
    /// Its name: an organization of this name is reused.
    pub name: OrganizationName,
    /// Its plan, if it is created.
    pub plan: Plan,
    /// Its Owner's account.
    pub owner: AccountSetup,
}

/// An organization and its Owner, as set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnedOrganization {
    /// The organization.
    pub org: OrganizationId,
    /// Its Owner.
    pub owner: UserId,
}

/// Creates an organization with its Owner, or — idempotent by name — makes the account an
/// Owner of the organization of that name. The account is found or created
/// ([`AccountSetup`]); an existing member is made Owner.
///
/// # Errors
/// [`NeedsPassword`] for a new account without a password; storage and password-thread
/// failures.
pub fn create_with_owner(
    svc: &Services,
    cmd: &OrganizationSetup,
    now: DateTime<Utc>,
) -> std::result::Result<OwnedOrganization, ServiceError<NeedsPassword>> {
    let hash = cmd
        .owner
        .password
        .as_ref()
        .map(|p| accounts::hash(svc, p))
        .transpose()?;
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let (owner, _) = accounts::ensure_account(c, &cmd.owner, hash.as_deref(), now)?;
        let org = match db::organizations::find_by_name(c, cmd.name.as_str())? {
            Some(org) => org.id,
            None => db::organizations::insert(c, &cmd.name, cmd.plan, now)?.id,
        };
        match db::organizations::membership(c, org, owner)? {
            Some(m) if m.role == Role::Owner => {}
            Some(m) => db::organizations::set_role(c, m.id, Role::Owner)?,
            None => {
                db::organizations::add_member(c, org, owner, Role::Owner, None, None, now)?;
            }
        }
        Ok(OwnedOrganization { org, owner })
    })
}

/// Makes `user` a member of `org` with `role`, invited by `invited_by`, unless they already
/// are one (whatever their role): the demo's second organization.
///
/// # Errors
/// [`ServiceError::Storage`].
pub fn add_member_if_absent(
    svc: &Services,
    org: OrganizationId,
    user: UserId,
    role: Role,
    invited_by: Option<UserId>,
    now: DateTime<Utc>,
) -> std::result::Result<(), ServiceError<std::convert::Infallible>> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        if db::organizations::membership(c, org, user)?.is_none() {
            db::organizations::add_member(c, org, user, role, invited_by, None, now)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EmailAddress;
    use crate::domain::password::Password;
    use crate::domain::text::PersonName;
    use crate::service::testing::{Fixture, actor};

    fn refusal<T: std::fmt::Debug, R: std::fmt::Debug>(
        r: std::result::Result<T, ServiceError<R>>,
    ) -> R {
        match r {
            Err(ServiceError::Refused(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn rule_6_members_and_staff_enter_an_organization_and_nobody_else() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Starter);
        let other = f.org("Other", Plan::Starter);
        let pat = f.member(org, "pat@acme.test", Role::Editor);
        f.add(other, &pat.user, Role::Viewer);
        let context = member_context(&f.svc, pat.user.id, Some(org))
            .unwrap()
            .unwrap();
        assert_eq!(
            (context.acting.role, context.acting.as_staff),
            (Role::Editor, false)
        );
        let names: Vec<_> = context.organizations.iter().map(|(o, _)| &o.name).collect();
        assert_eq!(names, ["Acme", "Other"]);
        let staff = f.user("staff@joinery.test", "Sam", true);
        let context = member_context(&f.svc, staff.id, Some(org))
            .unwrap()
            .unwrap();
        assert_eq!(
            (context.acting.role, context.acting.as_staff),
            (Role::Owner, true)
        );
        let stranger = f.user("x@elsewhere.test", "X", false);
        assert_eq!(
            refusal(member_context(&f.svc, stranger.id, Some(org))),
            NoStanding::NotAMember
        );
        for unknown in [Some(OrganizationId::new()), None] {
            assert_eq!(
                refusal(member_context(&f.svc, pat.user.id, unknown)),
                NoStanding::NoSuchOrganization
            );
        }
        assert!(
            member_context(&f.svc, UserId::new(), Some(org))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_dashboard_counts_members_and_billing_is_for_owners_and_staff() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Professional);
        let owner = f.member(org, "owner@acme.test", Role::Owner);
        let admin = f.member(org, "admin@acme.test", Role::Admin);
        let facts = dashboard(&f.svc, &admin, org).unwrap();
        assert_eq!((facts.member_count, facts.acting.role), (2, Role::Admin));
        assert_eq!(billing(&f.svc, &owner, org).unwrap(), Plan::Professional);
        assert_eq!(
            refusal(billing(&f.svc, &admin, org)),
            OrgRefusal::NotPermitted(Permission::Billing)
        );
        let staff = actor(f.user("staff@joinery.test", "Sam", true));
        assert_eq!(billing(&f.svc, &staff, org).unwrap(), Plan::Professional);
    }

    #[test]
    fn notification_settings_are_for_members_and_a_change_is_audited() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Starter);
        let owner = f.member(org, "owner@acme.test", Role::Owner);
        assert_eq!(
            notifications(&f.svc, &owner, org).unwrap(),
            Notifications {
                notify_on_join: true,
                is_owner: true,
                reminders: Some(true),
            }
        );
        set_notifications(&f.svc, &owner, org, false, f.now).unwrap();
        assert!(!notifications(&f.svc, &owner, org).unwrap().notify_on_join);
        assert_eq!(f.audit_actions(org), ["settings.changed"]);
        let staff = actor(f.user("staff@joinery.test", "Sam", true));
        assert_eq!(
            refusal(notifications(&f.svc, &staff, org)),
            OrgRefusal::StaffWithoutMembership
        );
        assert_eq!(
            refusal(set_notifications(&f.svc, &staff, org, true, f.now)),
            OrgRefusal::StaffWithoutMembership
        );
        assert_eq!(f.audit_actions(org).len(), 1, "a refusal records nothing");
    }

    #[test]
    fn staff_who_are_members_change_their_own_settings_marked_as_staff() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Starter);
        let staff = actor(f.user("staff@joinery.test", "Sam", true));
        f.add(org, &staff.user, Role::Admin);
        set_notifications(&f.svc, &staff, org, false, f.now).unwrap();
        let rows =
            f.with(|c| db::audit::list(c, org, Some(AuditAction::SettingsChanged), None, 10, 0));
        assert_eq!(rows.1, 1);
        assert!(rows.0[0].actor_is_staff, "staff acting are marked");
    }

    #[test]
    fn rule_4_create_with_owner_is_idempotent_by_name_and_makes_the_account_owner() {
        let f = Fixture::new();
        let setup = |email: &str, password: Option<&str>| OrganizationSetup {
            name: OrganizationName::parse("Acme").unwrap(),
            plan: Plan::Starter,
            owner: AccountSetup {
                email: EmailAddress::parse(email).unwrap(),
                name: PersonName::parse("Olivia").unwrap(),
                password: password.map(|p| Password::new_account(p).unwrap()),
            },
        };
        assert_eq!(
            refusal(create_with_owner(
                &f.svc,
                &setup("new@acme.test", None),
                f.now
            )),
            NeedsPassword
        );
        let first = create_with_owner(
            &f.svc,
            &setup("olivia@acme.test", Some("correct horse")),
            f.now,
        )
        .unwrap();
        let again = create_with_owner(&f.svc, &setup("olivia@acme.test", None), f.now).unwrap();
        assert_eq!(
            first, again,
            "the same organization and Owner, not a second"
        );
        // An existing member named as Owner becomes one.
        let pat = f.member(first.org, "pat@acme.test", Role::Viewer);
        let third = create_with_owner(&f.svc, &setup("pat@acme.test", None), f.now).unwrap();
        assert_eq!(third.org, first.org);
        assert_eq!(f.role_of(first.org, &pat), Some(Role::Owner));
        let count = f.with(|c| db::organizations::member_count(c, first.org));
        assert_eq!(count, 2);
    }
}
