//! What Joinery *does*: one public function per operation (Fowler's *Service Layer*; kanidm's
//! `idm` modules are the model). Pages — and any other way in — call these, so each rule of
//! DESIGN.md is written once.
//!
//! Every operation
//! 1. takes the [`Actor`] (who asks, from which address and user agent), a command made of
//!    domain types, and `now`;
//! 2. opens the write transaction and reads the actor's standing in the organization under its
//!    lock ([`acting_in`]), so a role that changed while the request waited is the one that
//!    counts;
//! 3. asks the domain for a decision, stores it through `db`, and writes the audit and outbox
//!    rows in the same transaction;
//! 4. returns a typed outcome, or a typed refusal wrapped in [`ServiceError`].
//!
//! Operations are synchronous: the web layer runs each in one blocking hand-off
//! (`web::AppState::call`). Nothing here knows about HTTP; the web layer maps refusals to
//! statuses and pages in one place (`web::refusals`).

pub mod acceptance;
pub mod accounts;
pub mod api_tokens;
pub mod audit;
pub mod csv_import;
pub mod domains;
pub mod invitations;
pub mod invite_links;
pub mod join_requests;
pub mod maintenance;
pub mod members;
pub mod organizations;
pub mod seats;
pub mod signup;
pub mod staff;
pub mod team;
pub mod tenants;
pub mod webhooks;

#[cfg(test)]
pub(crate) mod testing;

use std::sync::Arc;

use crate::config::Settings;
use crate::db::audit::{AuditContext, RequestMeta};
use crate::db::{self, Conn, Db, DbError};
use crate::domain::invitation::Inviter;
use crate::domain::membership::acting_role;
use crate::domain::{EmailAddress, Membership, Organization, OrganizationId, Role, User, UserId};
use crate::password_pool::PasswordPool;

/// What every operation may use besides its arguments.
#[derive(Clone)]
pub struct Services {
    /// The database.
    pub db: Db,
    /// The threads that hash and verify passwords.
    pub passwords: PasswordPool,
    /// The configuration (token key, invitation lifetime, limits).
    pub settings: Arc<Settings>,
    /// Tells the outbox workers that new email is due (after a commit that queued some).
    pub outbox: Arc<tokio::sync::Notify>,
    /// Failed log-ins per account (DESIGN.md, "Security rules"), counted by the web layer's
    /// rate limiter and decided on by `accounts::authenticate`.
    pub login_failures: Arc<dyn LoginFailures>,
}

/// The per-account count of failed log-ins (DESIGN.md, "Security rules": log-in attempts are
/// limited per account). The service decides when to ask and what to count; the counting
/// itself (windows, clocks, pruning) is the rate limiter's.
pub trait LoginFailures: Send + Sync {
    /// Whether `email` has failed too often to be checked now; counts nothing.
    fn locked(&self, email: &EmailAddress) -> bool;
    /// Counts one failed log-in for `email`.
    fn failed(&self, email: &EmailAddress);
}

impl Services {
    /// A connection from the pool (held only as long as the caller keeps it: release it before
    /// slow work such as hashing a password).
    ///
    /// # Errors
    /// [`DbError::Pool`] when no connection is available in time.
    pub fn conn(&self) -> Result<db::Pooled, DbError> {
        self.db.get()
    }

    /// Wakes the outbox workers: call after a commit that queued email.
    pub fn email_queued(&self) {
        self.outbox.notify_one();
    }
}

/// Who asks for an operation: a signed-in person — or an API token, which acts for the person
/// who made it — and where the request came from.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The person (for an API token, its creator).
    pub user: User,
    /// Their request's client address and user agent (for the audit trail).
    pub origin: RequestMeta,
    /// The API token the request came with, if it came over `/api/v1` (issue 15 §1).
    pub token: Option<TokenGrant>,
}

/// What an API token lets a request do: act in its organization with its role, never above
/// its creator's current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The token.
    pub id: crate::domain::ApiTokenId,
    /// Its name ("API token {name}" in the audit trail).
    pub name: String,
    /// The role it acts as.
    pub role: Role,
}

impl Actor {
    /// A signed-in person acting from `origin`.
    pub fn new(user: User, origin: RequestMeta) -> Self {
        Self {
            user,
            origin,
            token: None,
        }
    }

    /// The audit trail's record of this actor: "Name <email>", marked when acting as staff;
    /// "API token {name}" for a token (with its creator's account).
    pub fn audit(&self, as_staff: bool) -> AuditContext {
        let (label, is_staff) = match &self.token {
            Some(token) => (format!("API token {}", token.name), false),
            None => (
                format!("{} <{}>", self.user.name, self.user.email),
                as_staff,
            ),
        };
        AuditContext {
            actor: crate::db::audit::Actor {
                user_id: Some(self.user.id),
                label,
                is_staff,
            },
            meta: self.origin.clone(),
        }
    }
}

/// Who opens or uses a link: whoever is signed in (if anyone), and where the request came
/// from. Link flows (invitations, invite links, sign-up links) are open to signed-out visitors.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// The signed-in person, if any.
    pub user: Option<User>,
    /// Their request's client address and user agent (for the audit trail).
    pub origin: RequestMeta,
}

impl Visitor {
    /// The signed-in visitor as an actor, if someone is signed in.
    pub fn actor(&self) -> Option<Actor> {
        self.user
            .clone()
            .map(|user| Actor::new(user, self.origin.clone()))
    }
}

/// An actor's standing in an organization, read under the organization's lock.
#[derive(Debug, Clone)]
pub struct Acting {
    /// The organization.
    pub org: Organization,
    /// Their membership, if they are a member (staff may not be).
    pub membership: Option<Membership>,
    /// The role they act with: their membership's, or Owner for staff (DESIGN.md, rule 6).
    pub role: Role,
    /// Whether they act as platform staff rather than through an Owner membership of their
    /// own (the audit trail says so).
    pub as_staff: bool,
}

impl Acting {
    /// The audit context for `actor` acting with this standing.
    pub fn audit(&self, actor: &Actor) -> AuditContext {
        actor.audit(self.as_staff)
    }

    /// Who they are as an inviter (DESIGN.md, rules 1, 2 and 6): staff, or a member with the
    /// role they act with.
    pub fn inviter(&self) -> Inviter {
        if self.as_staff {
            Inviter::Staff
        } else {
            Inviter::Member(self.role)
        }
    }
}

/// Why someone has no standing in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoStanding {
    /// No such organization (or the id was never one): never say which.
    #[error("No such organization")]
    NoSuchOrganization,
    /// Neither a member nor staff (any more).
    #[error("You are no longer a member of this organization.")]
    NotAMember,
}

/// Locks `org` for the rest of the transaction (`db::organizations::lock`) and reads `actor`'s
/// standing there: their membership and the role they act with. Call it first in every write
/// transaction of an organization, so the role that counts is the one they have now.
///
/// # Errors
/// [`NoStanding`] when the organization does not exist or the actor is neither a member nor
/// staff; [`DbError`] on a failed query.
pub fn acting_in<R: From<NoStanding>>(
    conn: &mut Conn,
    org: OrganizationId,
    actor: &Actor,
) -> Result<Acting, ServiceError<R>> {
    standing(conn, org, actor, true)
}

/// `actor`'s standing in `org` — under the organization's lock when `lock` (a write), else
/// without it (a read) — refused with `denied` unless the role they act with holds
/// `permission`: the check every Owner-only or manager-only settings page starts with.
///
/// # Errors
/// [`NoStanding`] (as `R`); `denied` without the permission; [`DbError`].
pub fn permitted_in<R: From<NoStanding>>(
    conn: &mut Conn,
    org: OrganizationId,
    actor: &Actor,
    lock: bool,
    permission: crate::domain::Permission,
    denied: R,
) -> Result<Acting, ServiceError<R>> {
    let acting = standing(conn, org, actor, lock)?;
    if acting.role.has(permission) {
        Ok(acting)
    } else {
        Err(ServiceError::Refused(denied))
    }
}

/// `actor`'s standing in `org` without taking its lock, for operations that only read.
///
/// # Errors
/// As [`acting_in`].
pub fn standing_in<R: From<NoStanding>>(
    conn: &mut Conn,
    org: OrganizationId,
    actor: &Actor,
) -> Result<Acting, ServiceError<R>> {
    standing(conn, org, actor, false)
}

fn standing<R: From<NoStanding>>(
    conn: &mut Conn,
    org: OrganizationId,
    actor: &Actor,
    lock: bool,
) -> Result<Acting, ServiceError<R>> {
    let Some(organization) = db::organizations::find(conn, org)? else {
        return refuse(NoStanding::NoSuchOrganization);
    };
    if lock {
        db::organizations::lock(conn, org)?;
    }
    let is_staff = db::users::find(conn, actor.user.id)?.is_some_and(|u| u.is_staff);
    let mut acting = standing_of(conn, organization, actor.user.id, is_staff)?;
    if let Some(token) = &actor.token {
        // A token acts with its own role, never above its creator's current one, and never
        // as staff.
        acting.role = acting.role.min(token.role);
        acting.as_staff = false;
    }
    Ok(acting)
}

/// The standing in `organization` (already read) of `user`, whose staff flag was read on this
/// request: their membership and the role they act with (DESIGN.md, rule 6).
///
/// # Errors
/// [`NoStanding::NotAMember`] when they are neither a member nor staff; [`DbError`].
pub fn standing_of<R: From<NoStanding>>(
    conn: &mut Conn,
    organization: Organization,
    user: UserId,
    is_staff: bool,
) -> Result<Acting, ServiceError<R>> {
    let membership = db::organizations::membership(conn, organization.id, user)?;
    let own_role = membership.as_ref().map(|m| m.role);
    let Some(role) = acting_role(own_role, is_staff) else {
        return refuse(NoStanding::NotAMember);
    };
    Ok(Acting {
        org: organization,
        as_staff: is_staff && own_role != Some(Role::Owner),
        membership,
        role,
    })
}

/// Why an operation did not happen: a refusal by the rules (`R`, which the caller shows), or a
/// failure of the machinery.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError<R> {
    /// A rule refused it; nothing was written.
    #[error(transparent)]
    Refused(R),
    /// The database failed; the transaction was rolled back.
    #[error(transparent)]
    Storage(#[from] DbError),
    /// Every password thread is busy and the queue is full: try again in a moment.
    #[error("too many password checks are waiting; try again in a moment")]
    PasswordsBusy,
}

impl<R> From<diesel::result::Error> for ServiceError<R> {
    fn from(e: diesel::result::Error) -> Self {
        ServiceError::Storage(DbError::Query(e))
    }
}

impl<R> ServiceError<R> {
    /// The same failure with the refusal turned into another type.
    pub fn map_refusal<S>(self, f: impl FnOnce(R) -> S) -> ServiceError<S> {
        match self {
            ServiceError::Refused(r) => ServiceError::Refused(f(r)),
            ServiceError::Storage(e) => ServiceError::Storage(e),
            ServiceError::PasswordsBusy => ServiceError::PasswordsBusy,
        }
    }
}

/// `Err(ServiceError::Refused(refusal))`, for the refusals of an operation.
pub fn refuse<T, R>(refusal: impl Into<R>) -> Result<T, ServiceError<R>> {
    Err(ServiceError::Refused(refusal.into()))
}
