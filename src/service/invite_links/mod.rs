//! Invite links (DESIGN.md, "Invitations" → "Invite link"): creating one, revoking one, and
//! the pages that ask for either. Following a link is [`join`]'s, and using it `using`'s.
//!
//! Creating needs `users:invite`, a paid plan and a role within the creator's ceiling (rules
//! 1–3), and counts against the organization's hourly limit; revoking obeys the ceiling of the
//! link's role (DESIGN.md, "Security rules": "Acting on an invitation or link … obeys the role
//! ceiling of its role"). Both read the actor's standing under the organization's lock, so the
//! role that counts is the one they have when the change is made, and the hourly count is
//! taken in the same transaction that stores the link, so two requests at once cannot both
//! pass the limit.

pub mod join;
mod using;

use chrono::{DateTime, Duration, Utc};

use super::{Actor, NoStanding, ServiceError, Services, acting_in, refuse, standing_in};
use crate::db::{self, Conn, DbError};
use crate::domain::audit::AuditAction;
use crate::domain::invitation::{ActOnDenied, InviteDenied, authorize_invitation, check_acting_on};
use crate::domain::invite_link::{
    InviteLink, InviteLinkDetails, LinkExpiry, LinkFacts, LinkStatus, OverLinkLimit,
    check_link_limit,
};
use crate::domain::link::{LinkKind, LinkUnusable};
use crate::domain::seats::NoFreeSeats;
use crate::domain::token::LinkToken;
use crate::domain::{InviteLinkId, OrganizationId, Permission, Plan, Role};

/// Why creating or revoking a link, or a page about one, was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InviteLinkRefusal {
    /// The actor has no standing in the organization.
    #[error(transparent)]
    NoStanding(#[from] NoStanding),
    /// No such link in this organization (another organization's is not told apart).
    #[error("No such invite link")]
    NotFound,
    /// Rules 1–3 refuse the new link: no `users:invite`, a Trial plan, or a role above the
    /// creator's own.
    #[error(transparent)]
    Denied(#[from] InviteDenied),
    /// The link's role is above the actor's own (or they may not manage invitations).
    #[error("{}", act_on_text(*.0))]
    ActOn(ActOnDenied),
    /// The organization created as many links in the last hour as it may.
    #[error("{limit}")]
    OverLimit {
        /// The limit.
        limit: OverLinkLimit,
        /// Seconds until the hourly window has room again.
        retry_after: u64,
    },
    /// The link was used, revoked or expired already: nothing to revoke.
    #[error("{}: nothing to revoke.", .0.title(LinkKind::InviteLink))]
    NothingToRevoke(LinkUnusable),
    /// No seat is free for the link to hold (DESIGN.md, "Access, integration": Seats).
    #[error("{0}")]
    NoFreeSeats(#[from] NoFreeSeats),
}

/// What a refusal by the ceiling of a link's role says.
fn act_on_text(denied: ActOnDenied) -> String {
    match denied {
        ActOnDenied::AboveCeiling(role) => format!(
            "You cannot revoke an invite link for {role}: it is above your own role. You may act only on invitations and links at or below your role."
        ),
        ActOnDenied::NotPermitted => format!("{denied}."),
    }
}

type Result<T> = std::result::Result<T, ServiceError<InviteLinkRefusal>>;

/// What the "Create invite link" form offers `actor`: the roles within their ceiling, and
/// whether the plan allows links at all.
#[derive(Debug, Clone)]
pub struct LinkForm {
    /// The roles they may grant, lowest first.
    pub roles: Vec<Role>,
    /// The organization's plan (a Trial plan shows why the form is missing).
    pub plan: Plan,
}

/// The "Create invite link" form for `actor` in `org`. Reads only.
///
/// # Errors
/// [`InviteLinkRefusal`]: no standing, or no `users:invite` (rule 2).
pub fn link_form(svc: &Services, actor: &Actor, org: OrganizationId) -> Result<LinkForm> {
    let standing = standing_in(&mut *svc.conn()?, org, actor)?;
    if !standing.role.has(Permission::UsersInvite) {
        return refuse(InviteDenied::NotPermitted);
    }
    Ok(LinkForm {
        roles: standing.role.assignable_roles(),
        plan: standing.org.plan,
    })
}

/// Create a link.
#[derive(Debug, Clone, Copy)]
pub struct CreateLink {
    /// The role it grants.
    pub role: Role,
    /// How long it works.
    pub expiry: LinkExpiry,
    /// "Admins approve who joins": following it sends a join request (issue 14 §3).
    pub approval_required: bool,
}

/// A link just created, with its token: the only time the token exists (show it once).
#[derive(Debug, Clone)]
pub struct CreatedLink {
    /// The link.
    pub link: InviteLink,
    /// Its token, for the URL shown to its creator.
    pub token: LinkToken,
}

/// Creates a link of `org` for `cmd.role`, working for `cmd.expiry` from `now`, as `actor`,
/// and records `invite_link.created`. Rules 1–3 are checked with the actor's role under the
/// organization's lock, and so is the hourly limit (`invitations_per_hour`, which links share
/// with invitations).
///
/// # Errors
/// [`InviteLinkRefusal`] (nothing written): no standing, a rule, or the hourly limit (with
/// when it has room again).
pub fn create(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    cmd: CreateLink,
    now: DateTime<Utc>,
) -> Result<CreatedLink> {
    let token = LinkToken::generate();
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let acting = acting_in(c, org, actor)?;
        authorize_invitation(acting.inviter(), acting.org.plan, cmd.role).or_else(refuse)?;
        // An unused link holds a seat until it is used, revoked or expired; a "request access"
        // link holds none (its requests take one when approved).
        if !cmd.approval_required {
            super::seats::ensure_free(c, &acting.org, 1, now)?;
        }
        let created = db::invite_links::created_since(c, org, now - Duration::hours(1))?;
        if let Err(limit) = check_link_limit(created, svc.settings.invitations_per_hour) {
            let reopens = db::invite_links::hourly_window_reopens(c, org, now)?;
            let retry_after = reopens.map_or(60, |at| seconds_until(at, now));
            return refuse(InviteLinkRefusal::OverLimit { limit, retry_after });
        }
        let link = InviteLink {
            id: InviteLinkId::new(),
            organization_id: org,
            role: cmd.role,
            created_by: actor.user.id,
            facts: LinkFacts {
                status: LinkStatus::Active,
                expires_at: now + cmd.expiry.duration(),
            },
            created_at: now,
            used_by: None,
            decided_at: None,
            approval_required: cmd.approval_required,
        };
        db::invite_links::insert(c, &link, &token)?;
        let approval = if cmd.approval_required {
            "; admins approve who joins"
        } else {
            ""
        };
        let details = format!(
            "role {}; expires in {}{approval}",
            cmd.role,
            cmd.expiry.label()
        );
        let ctx = acting.audit(actor);
        let action = AuditAction::InviteLinkCreated;
        db::invite_links::record(c, &ctx, org, action, &link, &details, now)?;
        Ok(CreatedLink { link, token })
    })
}

/// Whole seconds from `now` until `at`, at least 1 (for `Retry-After`).
fn seconds_until(at: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    u64::try_from((at - now).num_seconds()).unwrap_or(0).max(1)
}

/// What the revocation confirmation shows: the link, and why it can no longer be revoked, if
/// so (used, revoked or expired).
#[derive(Debug, Clone)]
pub struct RevokeView {
    /// The link, its organization and its creator's name.
    pub link: InviteLinkDetails,
    /// Why there is nothing to revoke, if so.
    pub unusable: Option<LinkUnusable>,
}

/// The link `id` of `org` as its revocation confirmation shows it, for `actor` at `now`.
/// Reads only.
///
/// # Errors
/// [`InviteLinkRefusal`]: no standing, no such link, or its role above the actor's.
pub fn revoke_view(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: InviteLinkId,
    now: DateTime<Utc>,
) -> Result<RevokeView> {
    let mut conn = svc.conn()?;
    let standing = standing_in(&mut conn, org, actor)?;
    let Some(link) = db::invite_links::find_details_in_org(&mut conn, org, id)? else {
        return refuse(InviteLinkRefusal::NotFound);
    };
    check_acting_on(standing.inviter(), link.link.role)
        .map_err(InviteLinkRefusal::ActOn)
        .or_else(refuse)?;
    let unusable = link.link.facts.check_revoke(now).err();
    Ok(RevokeView { link, unusable })
}

/// Revokes the link `id` of `org` as `actor` (one conditional update) and records
/// `invite_link.revoked`: its token stops working at once. Returns the role it granted.
///
/// # Errors
/// [`InviteLinkRefusal`] (nothing written): no standing, no such link, its role above the
/// actor's, or nothing to revoke (also when another request used or revoked it first).
pub fn revoke(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: InviteLinkId,
    now: DateTime<Utc>,
) -> Result<Role> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let acting = acting_in(c, org, actor)?;
        let Some(link) = db::invite_links::find_in_org(c, org, id)? else {
            return refuse(InviteLinkRefusal::NotFound);
        };
        check_acting_on(acting.inviter(), link.role)
            .map_err(InviteLinkRefusal::ActOn)
            .or_else(refuse)?;
        link.facts
            .check_revoke(now)
            .map_err(InviteLinkRefusal::NothingToRevoke)
            .or_else(refuse)?;
        if !db::invite_links::finish(c, id, LinkStatus::Revoked, None, now)? {
            let why = unusable_now(c, &link, now)?;
            return refuse(InviteLinkRefusal::NothingToRevoke(why));
        }
        let details = format!("role {}", link.role);
        let action = AuditAction::InviteLinkRevoked;
        db::invite_links::record(c, &acting.audit(actor), org, action, &link, &details, now)?;
        Ok(link.role)
    })
}

/// Why `link` is unusable now, after a conditional update on it lost to another request.
fn unusable_now(
    c: &mut Conn,
    link: &InviteLink,
    now: DateTime<Utc>,
) -> std::result::Result<LinkUnusable, DbError> {
    let after = db::invite_links::find_in_org(c, link.organization_id, link.id)?
        .ok_or_else(|| DbError::Corrupt("invite link vanished".into()))?;
    Ok(LinkUnusable::after_lost_race(after.facts.check_usable(now)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::service::testing::{Fixture, actor};

    fn refusal<T: std::fmt::Debug>(r: Result<T>) -> InviteLinkRefusal {
        match r {
            Err(ServiceError::Refused(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn create_for(
        f: &Fixture,
        who: &Actor,
        org: OrganizationId,
        role: Role,
    ) -> Result<CreatedLink> {
        let cmd = CreateLink {
            role,
            expiry: LinkExpiry::OneDay,
            approval_required: false,
        };
        create(&f.svc, who, org, cmd, f.now)
    }

    /// The stored status of every link, oldest first.
    pub(crate) fn statuses(f: &Fixture) -> Vec<String> {
        use crate::db::schema::invite_links;
        use diesel::prelude::*;
        f.with(|c| {
            Ok(invite_links::table
                .order(invite_links::created_at.asc())
                .select(invite_links::status)
                .load::<String>(c)?)
        })
    }

    #[test]
    fn rule_1_a_link_is_created_within_the_ceiling_and_audited() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Starter);
        let admin = f.member(org, "admin@acme.test", Role::Admin);
        let created = create_for(&f, &admin, org, Role::Admin).unwrap();
        assert_eq!(created.link.role, Role::Admin);
        assert_eq!(
            created.link.facts.expires_at,
            f.now + LinkExpiry::OneDay.duration()
        );
        assert_eq!(f.audit_actions(org), ["invite_link.created"]);
        // Only the token's hash is stored: the token finds the link.
        let found = f.with(|c| db::invite_links::find_by_token(c, &created.token));
        assert_eq!(found.map(|d| d.link.id), Some(created.link.id));
        assert_eq!(
            refusal(create_for(&f, &admin, org, Role::Owner)),
            InviteLinkRefusal::Denied(InviteDenied::AboveCeiling(Role::Owner))
        );
        assert_eq!(statuses(&f), ["active"], "nothing written");
        // Staff act as Owners (rule 6).
        let staff = actor(f.user("staff@joinery.test", "Sam", true));
        create_for(&f, &staff, org, Role::Owner).unwrap();
    }

    #[test]
    fn rule_2_and_3_need_users_invite_and_a_paid_plan_read_under_the_lock() {
        let f = Fixture::new();
        let trial = f.org("Tryout", Plan::Trial);
        let owner = f.member(trial, "owner@tryout.test", Role::Owner);
        assert_eq!(
            refusal(create_for(&f, &owner, trial, Role::Viewer)),
            InviteLinkRefusal::Denied(InviteDenied::TrialPlan)
        );
        let form = link_form(&f.svc, &owner, trial).unwrap();
        assert_eq!(form.plan, Plan::Trial);
        let org = f.org("Acme", Plan::Starter);
        let admin = f.member(org, "admin@acme.test", Role::Admin);
        // Demoted by another request after the form was shown.
        f.set_role(org, &admin, Role::Editor);
        assert_eq!(
            refusal(create_for(&f, &admin, org, Role::Viewer)),
            InviteLinkRefusal::Denied(InviteDenied::NotPermitted)
        );
        assert_eq!(
            refusal(link_form(&f.svc, &admin, org)),
            InviteLinkRefusal::Denied(InviteDenied::NotPermitted)
        );
        assert!(statuses(&f).is_empty());
    }

    #[test]
    fn the_hourly_limit_is_counted_in_the_transaction_that_creates() {
        let mut f = Fixture::new();
        Arc::make_mut(&mut f.svc.settings).invitations_per_hour = 2;
        let org = f.org("Acme", Plan::Starter);
        let owner = f.member(org, "owner@acme.test", Role::Owner);
        for _ in 0..2 {
            create_for(&f, &owner, org, Role::Viewer).unwrap();
        }
        assert_eq!(
            refusal(create_for(&f, &owner, org, Role::Viewer)),
            InviteLinkRefusal::OverLimit {
                limit: OverLinkLimit { per_hour: 2 },
                retry_after: 3_600
            }
        );
        assert_eq!(statuses(&f).len(), 2, "nothing written");
        // An hour on, the window has room again.
        f.now += Duration::hours(1);
        create_for(&f, &owner, org, Role::Viewer).unwrap();
    }

    #[test]
    fn revoking_obeys_the_ceiling_of_the_links_role_and_happens_once() {
        let f = Fixture::new();
        let org = f.org("Acme", Plan::Starter);
        let owner = f.member(org, "owner@acme.test", Role::Owner);
        let admin = f.member(org, "admin@acme.test", Role::Admin);
        let id = create_for(&f, &owner, org, Role::Owner).unwrap().link.id;
        let above = InviteLinkRefusal::ActOn(ActOnDenied::AboveCeiling(Role::Owner));
        assert_eq!(refusal(revoke_view(&f.svc, &admin, org, id, f.now)), above);
        assert_eq!(refusal(revoke(&f.svc, &admin, org, id, f.now)), above);
        assert_eq!(statuses(&f), ["active"]);
        let view = revoke_view(&f.svc, &owner, org, id, f.now).unwrap();
        assert_eq!(view.unusable, None);
        assert_eq!(revoke(&f.svc, &owner, org, id, f.now).unwrap(), Role::Owner);
        assert_eq!(statuses(&f), ["revoked"]);
        // The second revocation (another tab, a race shown serially) finds nothing to do.
        assert_eq!(
            refusal(revoke(&f.svc, &owner, org, id, f.now)),
            InviteLinkRefusal::NothingToRevoke(LinkUnusable::Revoked)
        );
        let view = revoke_view(&f.svc, &owner, org, id, f.now).unwrap();
        assert_eq!(view.unusable, Some(LinkUnusable::Revoked));
        assert_eq!(
            f.audit_actions(org),
            ["invite_link.created", "invite_link.revoked"]
        );
    }

    #[test]
    fn another_organizations_link_is_not_found() {
        let f = Fixture::new();
        let acme = f.org("Acme", Plan::Starter);
        let owner = f.member(acme, "owner@acme.test", Role::Owner);
        let id = create_for(&f, &owner, acme, Role::Viewer).unwrap().link.id;
        let globex = f.org("Globex", Plan::Starter);
        let stranger = f.member(globex, "owner@globex.test", Role::Owner);
        assert_eq!(
            refusal(revoke(&f.svc, &stranger, globex, id, f.now)),
            InviteLinkRefusal::NotFound
        );
        assert_eq!(
            refusal(revoke(&f.svc, &stranger, acme, id, f.now)),
            InviteLinkRefusal::NoStanding(NoStanding::NotAMember)
        );
        assert_eq!(statuses(&f), ["active"]);
    }
}
