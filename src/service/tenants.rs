//! Tenant-owner invitations (DESIGN.md, "Invitations", "The acceptance page" and "Staff
//! console"): staff send, resend and revoke them; the invitee opens the link, creates the
//! organization — with a new account, by logging in, or signed in — or declines.
//!
//! Acceptance creates exactly one organization, on the plan staff chose, with the invitee as
//! its Owner, however often or concurrently the form is submitted: the invitation moves
//! Pending → Accepted in one conditional update before anything is created, and a submission
//! that loses is refused with nothing written. As for member invitations, whatever can refuse
//! without a password is checked before one is hashed or verified.

use chrono::{DateTime, Utc};

use super::acceptance::{FieldErrors, InvitationRefusal, Refused};
use super::accounts::{authenticate, hash};
use super::staff::{NotStaff, require_staff};
use super::{Actor, ServiceError, Services, Visitor, refuse};
use crate::db::audit::{self, AuditContext};
use crate::db::links::Ending;
use crate::db::tenant_invitations::TenantOffer;
use crate::db::{self, Conn, DbError};
use crate::domain::audit::AuditAction;
use crate::domain::invitation::{
    AcceptError, NotPending, RESEND_INTERVAL, ResendError, ResendPlan, check_accept,
};
use crate::domain::link::{self, LinkKind, LinkPage, LinkUnusable, Visit};
use crate::domain::password::Password;
use crate::domain::tenant::{SendRefused, TenantInvitation};
use crate::domain::text::{OrganizationName, PersonName, PersonalMessage, TextError};
use crate::domain::token::LinkToken;
use crate::domain::{EmailAddress, InvitationId, Organization, Plan, Role, User};

/// A tenant-owner invitation's page: the invitation and which of its pages the visitor sees.
#[derive(Debug, Clone)]
pub struct TenantView {
    /// The invitation.
    pub inv: TenantInvitation,
    /// The page (`domain::link::page`).
    pub page: LinkPage,
}

/// The page of tenant-owner invitation `inv` for `visitor` at `now` (reads only; staff may
/// always offer a tenant, so there is no inviter policy to check).
///
/// # Errors
/// [`DbError`] on a failed query.
pub(super) fn view(
    conn: &mut Conn,
    visitor: &Visitor,
    inv: TenantInvitation,
    now: DateTime<Utc>,
) -> std::result::Result<TenantView, DbError> {
    let page = page_for(conn, visitor, &inv, now)?;
    Ok(TenantView { inv, page })
}

fn page_for(
    conn: &mut Conn,
    visitor: &Visitor,
    inv: &TenantInvitation,
    now: DateTime<Utc>,
) -> std::result::Result<LinkPage, DbError> {
    let address_has_account = visitor.user.is_none() && db::users::email_exists(conn, &inv.email)?;
    let visit = Visit {
        signed_in: visitor.user.as_ref().map(|u| (&u.email, None)),
        address_has_account,
    };
    let kind = LinkKind::TenantInvitation;
    let usable = inv.facts.check_usable(now).map_err(|why| (kind, why));
    Ok(link::page(kind, usable, Some(&inv.email), visit))
}

type Result<T, R = InvitationRefusal<TenantInvitation>> = std::result::Result<T, ServiceError<R>>;
type Inner<T> = Result<T, Refused>;

/// "Create organization": the form as parsed. Which fields count depends on the visitor: a
/// new account gives a name and a new password, an account holder their password, the
/// signed-in invitee only the company name.
#[derive(Debug, Clone)]
pub struct CreateOrganization {
    /// The company name typed.
    pub company: std::result::Result<OrganizationName, TextError>,
    /// The name typed (new accounts).
    pub name: std::result::Result<PersonName, TextError>,
    /// The password typed (new accounts and log-in).
    pub password: String,
}

/// What "Create organization" came to, short of a refusal.
#[derive(Debug, Clone)]
pub enum Founding {
    /// The organization exists, with `user` as its Owner (to be signed in).
    Founded {
        /// The Owner.
        user: User,
        /// The new organization.
        organization: Organization,
    },
    /// A new-account submission found an account with the invited address: its owner logs
    /// in instead (nothing was written).
    AccountExists,
}

/// Creates the organization of the tenant-owner invitation with `token`: for the signed-in
/// invitee, for an account holder who gives their password, or for a new account. The link's
/// state, the visitor, the account's existence and the input are checked before a password
/// is verified or hashed.
///
/// # Errors
/// [`InvitationRefusal`]: no such invitation, or refused on its page (nothing written);
/// [`ServiceError::PasswordsBusy`]; storage failures.
pub fn create_organization(
    svc: &Services,
    visitor: &Visitor,
    token: &LinkToken,
    cmd: CreateOrganization,
    now: DateTime<Utc>,
) -> Result<Founding> {
    let mut conn = svc.conn()?;
    let inv = find(&mut conn, token)?;
    let usable = inv.facts.check_usable(now).map_err(unusable);
    on_page(&inv, usable)?;
    let page = page_for(&mut conn, visitor, &inv, now)?;
    let invalid = |errors: FieldErrors| Refused::Invalid { on: page, errors };
    let founding = match (page, visitor.user.clone()) {
        (LinkPage::Confirm, Some(user)) => cmd
            .company
            .map_err(|e| invalid(company_error(e)))
            .map_err(ServiceError::Refused)
            .and_then(|company| accept_as(&mut conn, &visitor.origin, &inv, user, &company, now)),
        (LinkPage::LogIn, _) => {
            drop(conn);
            let typed = (cmd.company, cmd.password.as_str());
            log_in_and_accept(svc, &visitor.origin, &inv, typed, now)
        }
        (LinkPage::NewAccount, _) => {
            drop(conn);
            register(svc, visitor, &inv, cmd, now)
        }
        _ => refuse(Refused::WrongAccount),
    };
    on_page(&inv, founding)
}

fn company_error(e: TextError) -> FieldErrors {
    FieldErrors {
        company: Some(e),
        ..FieldErrors::default()
    }
}

/// An account holder, signed out, from `origin`: the company name, then their password, then
/// acceptance.
fn log_in_and_accept(
    svc: &Services,
    origin: &audit::RequestMeta,
    inv: &TenantInvitation,
    (company, password): (std::result::Result<OrganizationName, TextError>, &str),
    now: DateTime<Utc>,
) -> Inner<Founding> {
    let company = company.map_err(|e| Refused::Invalid {
        on: LinkPage::LogIn,
        errors: company_error(e),
    });
    let company = company.map_err(ServiceError::Refused)?;
    let Some(user) = authenticate(svc, inv.email.as_str(), Password::attempt(password))? else {
        return refuse(Refused::WrongPassword);
    };
    accept_as(&mut *svc.conn()?, origin, inv, user, &company, now)
}

/// Accepts `inv` as `user` (signed in, or just logged in) in one transaction.
fn accept_as(
    conn: &mut Conn,
    origin: &audit::RequestMeta,
    inv: &TenantInvitation,
    user: User,
    company: &OrganizationName,
    now: DateTime<Utc>,
) -> Inner<Founding> {
    let ctx = actor_audit(origin, &user);
    let organization = db::write_transaction(conn, |c| {
        match check_accept(&inv.facts, &inv.email, &user.email, now) {
            Ok(()) => {}
            Err(AcceptError::WrongAccount) => return refuse(Refused::WrongAccount),
            Err(AcceptError::Unusable(why)) => return refuse(Refused::Unusable(why)),
        }
        claim(c, inv, now)?;
        Ok(found(c, &ctx, inv, &user, company, now)?)
    })?;
    Ok(Founding::Founded { user, organization })
}

/// A new account: name, password and company name, then the password's hash, then the
/// account and the organization in one transaction.
fn register(
    svc: &Services,
    visitor: &Visitor,
    inv: &TenantInvitation,
    cmd: CreateOrganization,
    now: DateTime<Utc>,
) -> Inner<Founding> {
    let password = Password::new_account(&cmd.password);
    let (name, password, company) = match (cmd.name, password, cmd.company) {
        (Ok(name), Ok(password), Ok(company)) => (name, password, company),
        (name, password, company) => {
            let errors = FieldErrors {
                name: name.err(),
                password: password.err(),
                company: company.err(),
            };
            let on = LinkPage::NewAccount;
            return refuse(Refused::Invalid { on, errors });
        }
    };
    let hash = hash(svc, &password)?;
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        // Queue concurrent submissions here: the second reads the invitation as used.
        db::tenant_invitations::lock(c, inv.id)?;
        let current = current(c, inv)?;
        current.facts.check_usable(now).map_err(unusable)?;
        if db::users::email_exists(c, &inv.email)? {
            return Ok(Founding::AccountExists);
        }
        claim(c, inv, now)?;
        let id = db::users::insert(c, &inv.email, &name, &hash, false, now)?;
        let user =
            db::users::find(c, id)?.ok_or_else(|| DbError::Corrupt("new user vanished".into()))?;
        let ctx = actor_audit(&visitor.origin, &user);
        let organization = found(c, &ctx, inv, &user, &company, now)?;
        Ok(Founding::Founded { user, organization })
    })
}

/// Claims the invitation: the conditional `pending → accepted` update, the first write of
/// every acceptance. A submission that loses is refused (and rolls back) before it creates
/// anything.
fn claim(c: &mut Conn, inv: &TenantInvitation, now: DateTime<Utc>) -> Inner<()> {
    if db::tenant_invitations::end(c, inv.id, Ending::Accepted(None), now)? {
        return Ok(());
    }
    let why = current(c, inv)?.facts.check_usable(now).err();
    refuse(Refused::Unusable(why.unwrap_or(LinkUnusable::Used)))
}

/// After a successful [`claim`]: the organization on the invitation's plan with `user` as its
/// Owner, recorded as `ctx`'s (`tenant_invitation.accepted`, `organization.created`,
/// `member.joined`).
fn found(
    c: &mut Conn,
    ctx: &AuditContext,
    inv: &TenantInvitation,
    user: &User,
    company: &OrganizationName,
    now: DateTime<Utc>,
) -> std::result::Result<Organization, DbError> {
    let org = db::organizations::insert(c, company, inv.plan, now)?;
    // The Owner takes the new organization's first seat (DESIGN.md, "Seats"): every plan's
    // default has room for one and no override exists yet, so a refusal here is a broken
    // invariant, not a person's mistake.
    db::organizations::lock(c, org.id)?;
    crate::service::seats::usage(c, &org, now)?
        .check(1)
        .map_err(|no| DbError::Corrupt(format!("a new organization without a seat: {no}")))?;
    let staff = Some(inv.invited_by);
    db::organizations::add_member(c, org.id, user.id, Role::Owner, staff, None, now)?;
    db::tenant_invitations::set_founded(c, inv.id, org.id, user.id)?;
    let owner = format!("{} <{}>", user.name, user.email);
    let plan = Some(inv.plan.label());
    let events = [
        (
            AuditAction::TenantInvitationAccepted,
            inv.email.as_str(),
            plan,
        ),
        (AuditAction::OrganizationCreated, company.as_str(), plan),
        (AuditAction::MemberJoined, &owner, Some(Role::Owner.label())),
    ];
    for (action, target, detail) in events {
        audit::record(c, ctx, Some(org.id), action, Some(target), detail, now)?;
    }
    Ok(org)
}

/// Declines the tenant-owner invitation with `token` (signed out, or signed in as the
/// invitee; never another account). Not recorded: no organization exists to record it in.
///
/// # Errors
/// [`InvitationRefusal`]: no such invitation, the wrong account, an unusable link; storage
/// failures.
pub fn decline(
    svc: &Services,
    visitor: &Visitor,
    token: &LinkToken,
    now: DateTime<Utc>,
) -> Result<TenantInvitation> {
    let mut conn = svc.conn()?;
    let inv = find(&mut conn, token)?;
    let declined = (|| -> Inner<()> {
        if visitor.user.as_ref().is_some_and(|u| u.email != inv.email) {
            return refuse(Refused::WrongAccount);
        }
        inv.facts.check_usable(now).map_err(unusable)?;
        if db::tenant_invitations::end(&mut conn, inv.id, Ending::Declined, now)? {
            Ok(())
        } else {
            refuse(Refused::Unusable(LinkUnusable::Used))
        }
    })();
    on_page(&inv, declined)?;
    Ok(inv)
}

fn find(conn: &mut Conn, token: &LinkToken) -> Result<TenantInvitation> {
    match db::tenant_invitations::find_by_token(conn, token)? {
        Some(inv) => Ok(inv),
        None => refuse(InvitationRefusal::NotFound),
    }
}

fn current(c: &mut Conn, inv: &TenantInvitation) -> std::result::Result<TenantInvitation, DbError> {
    db::tenant_invitations::find(c, &inv.id.to_string())?
        .ok_or_else(|| DbError::Corrupt("tenant invitation vanished".into()))
}

fn unusable(why: LinkUnusable) -> ServiceError<Refused> {
    ServiceError::Refused(Refused::Unusable(why))
}

/// Puts a refusal on the invitation's page.
fn on_page<T>(inv: &TenantInvitation, result: Inner<T>) -> Result<T> {
    result.map_err(|e| {
        e.map_refusal(|why| InvitationRefusal::Shown {
            link: Box::new(inv.clone()),
            why,
        })
    })
}

/// The audit trail's record of `user` acting for themselves from `origin`.
fn actor_audit(origin: &audit::RequestMeta, user: &User) -> AuditContext {
    Actor::new(user.clone(), origin.clone()).audit(false)
}

// ---- Staff ---------------------------------------------------------------------------------

/// Why a staff operation on tenant-owner invitations was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantRefusal {
    /// The actor is not staff.
    #[error(transparent)]
    NotStaff(#[from] NotStaff),
    /// No such tenant-owner invitation.
    #[error("No such invitation")]
    NotFound,
    /// Not sent: the address has one pending.
    #[error(transparent)]
    NotSent(#[from] SendRefused),
    /// Resent less than a minute ago: `wait` seconds until it may be (DESIGN.md, "Resend").
    #[error(
        "The invitation to {email} was sent again less than a minute ago. You can resend it in {wait} seconds."
    )]
    TooSoon {
        /// The invited address.
        email: EmailAddress,
        /// Seconds until a resend is accepted (at least 1).
        wait: u64,
    },
    /// Not resent: in a final state, or superseded by a newer one.
    #[error(transparent)]
    NotResent(ResendError),
    /// Not revoked: already in a final state.
    #[error(transparent)]
    NotRevoked(#[from] NotPending),
}

type StaffResult<T> = Result<T, TenantRefusal>;

/// A tenant-owner invitation as staff send it.
#[derive(Debug, Clone)]
pub struct TenantOfferCmd {
    /// The invitee.
    pub email: EmailAddress,
    /// The plan of the organization to be created.
    pub plan: Plan,
    /// The optional personal message.
    pub message: Option<PersonalMessage>,
}

/// Sends a tenant-owner invitation as `actor` (staff only), recorded as staff's
/// (`tenant_invitation.sent`); its email is queued in the same transaction.
///
/// # Errors
/// [`TenantRefusal`]: not staff, or one is pending for the address; storage failures.
pub fn send(
    svc: &Services,
    actor: &Actor,
    cmd: &TenantOfferCmd,
    now: DateTime<Utc>,
) -> StaffResult<InvitationId> {
    let mut conn = svc.conn()?;
    let offer = TenantOffer {
        email: &cmd.email,
        plan: cmd.plan,
        message: cmd.message.as_ref().map(PersonalMessage::as_str),
        staff: actor.user.id,
        ttl: svc.settings.invitation_ttl,
        now,
    };
    let id = db::write_transaction(&mut conn, |c| {
        require_staff(c, actor)?;
        db::tenant_invitations::expire_overdue(c, &cmd.email, now)?;
        if db::tenant_invitations::has_pending(c, &cmd.email)? {
            return refuse(SendRefused::AlreadyPending);
        }
        let id = insert(c, &offer, svc)?;
        let (action, target) = (AuditAction::TenantInvitationSent, Some(cmd.email.as_str()));
        let ctx = actor.audit(true);
        audit::record(c, &ctx, None, action, target, Some(cmd.plan.label()), now)?;
        Ok(id)
    })?;
    svc.email_queued();
    Ok(id)
}

fn insert(
    c: &mut Conn,
    offer: &TenantOffer<'_>,
    svc: &Services,
) -> std::result::Result<InvitationId, DbError> {
    let id = db::tenant_invitations::insert(c, offer, &svc.settings.token_key)?;
    db::tenant_invitations::queue_email(c, id, offer.email, offer.now)?;
    Ok(id)
}

/// A resend: to whom, and whether the same link went again or a new invitation replaced an
/// expired one.
#[derive(Debug, Clone)]
pub struct Resent {
    /// The invited address.
    pub email: EmailAddress,
    /// What was sent.
    pub plan: ResendPlan,
}

/// Resends tenant-owner invitation `id` as `actor` (staff only; DESIGN.md, "Resend"): the
/// original link while pending, at most once a minute (one conditional update decides); a new
/// invitation with a fresh window once expired.
///
/// # Errors
/// [`TenantRefusal`]: not staff, no such invitation, too soon, final or superseded; storage
/// failures.
pub fn resend(
    svc: &Services,
    actor: &Actor,
    id: InvitationId,
    now: DateTime<Utc>,
) -> StaffResult<Resent> {
    let resent = in_transaction(svc, actor, id, |c, inv| {
        let too_soon = |available_at: DateTime<Utc>| TenantRefusal::TooSoon {
            email: inv.email.clone(),
            wait: u64::try_from((available_at - now).num_seconds())
                .unwrap_or(0)
                .max(1),
        };
        let plan = match inv.facts.check_resend(now) {
            Ok(plan) => plan,
            Err(ResendError::TooSoon { available_at }) => return refuse(too_soon(available_at)),
            Err(other) => return refuse(TenantRefusal::NotResent(other)),
        };
        match plan {
            ResendPlan::SameLink => {
                let not_since = now - RESEND_INTERVAL;
                if !db::tenant_invitations::mark_resent(c, inv.id, not_since, now)? {
                    return refuse(too_soon(now + RESEND_INTERVAL));
                }
                db::tenant_invitations::queue_email(c, inv.id, &inv.email, now)?;
            }
            ResendPlan::NewInvitation => {
                db::tenant_invitations::expire_overdue(c, &inv.email, now)?;
                if db::tenant_invitations::has_pending(c, &inv.email)? {
                    return refuse(TenantRefusal::NotResent(ResendError::Superseded));
                }
                let offer = TenantOffer {
                    email: &inv.email,
                    plan: inv.plan,
                    message: inv.message.as_deref(),
                    staff: actor.user.id,
                    ttl: svc.settings.invitation_ttl,
                    now,
                };
                insert(c, &offer, svc)?;
            }
        }
        let (action, target) = (
            AuditAction::TenantInvitationResent,
            Some(inv.email.as_str()),
        );
        audit::record(c, &actor.audit(true), None, action, target, None, now)?;
        Ok(Resent {
            email: inv.email,
            plan,
        })
    })?;
    svc.email_queued();
    Ok(resent)
}

/// Revokes pending tenant-owner invitation `id` as `actor` (staff only): its link stops
/// working at once. Returns the invited address.
///
/// # Errors
/// [`TenantRefusal`]: not staff, no such invitation, already final; storage failures.
pub fn revoke(
    svc: &Services,
    actor: &Actor,
    id: InvitationId,
    now: DateTime<Utc>,
) -> StaffResult<EmailAddress> {
    in_transaction(svc, actor, id, |c, inv| {
        inv.facts.check_revoke(now).or_else(refuse)?;
        let ctx = actor.audit(true);
        let reason = format!("revoked by {}", ctx.actor.label);
        if !db::tenant_invitations::end(c, inv.id, Ending::Revoked(&reason), now)? {
            return refuse(NotPending(crate::domain::InvitationStatus::Accepted));
        }
        let (action, target) = (
            AuditAction::TenantInvitationRevoked,
            Some(inv.email.as_str()),
        );
        audit::record(c, &ctx, None, action, target, None, now)?;
        Ok(inv.email)
    })
}

/// Runs `op` on tenant-owner invitation `id` in one write transaction, for staff only.
fn in_transaction<T>(
    svc: &Services,
    actor: &Actor,
    id: InvitationId,
    op: impl FnOnce(&mut Conn, TenantInvitation) -> StaffResult<T>,
) -> StaffResult<T> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let inv = staff_find(c, actor, id)?;
        op(c, inv)
    })
}

/// Tenant-owner invitation `id`, for staff (the revoke confirmation).
///
/// # Errors
/// [`TenantRefusal`]: not staff, no such invitation; storage failures.
pub fn find_for_staff(
    svc: &Services,
    actor: &Actor,
    id: InvitationId,
) -> StaffResult<TenantInvitation> {
    staff_find(&mut *svc.conn()?, actor, id)
}

fn staff_find(c: &mut Conn, actor: &Actor, id: InvitationId) -> StaffResult<TenantInvitation> {
    require_staff(c, actor)?;
    match db::tenant_invitations::find(c, &id.to_string())? {
        Some(inv) => Ok(inv),
        None => refuse(TenantRefusal::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OrganizationId, Plan};
    use crate::service::testing::{Fixture, actor, visitor};

    /// Staff send `email` a tenant-owner invitation on `plan`; the token of its link.
    fn invited(f: &Fixture, staff: &Actor, email: &str, plan: Plan) -> LinkToken {
        let cmd = TenantOfferCmd {
            email: EmailAddress::parse(email).unwrap(),
            plan,
            message: None,
        };
        let id = send(&f.svc, staff, &cmd, f.now).unwrap();
        let inv = f.with(|c| db::tenant_invitations::find(c, &id.to_string()));
        LinkToken::derive(&f.svc.settings.token_key, &inv.unwrap().nonce)
    }

    fn new_account(company: &str) -> CreateOrganization {
        CreateOrganization {
            company: OrganizationName::parse(company),
            name: PersonName::parse("Fay Founder"),
            password: "a good long password".into(),
        }
    }

    fn refused<T: std::fmt::Debug>(r: Result<T>) -> Refused {
        match r {
            Err(ServiceError::Refused(InvitationRefusal::Shown { why, .. })) => why,
            other => panic!("expected a refusal on the page, got {other:?}"),
        }
    }

    fn staff_refusal<T: std::fmt::Debug>(r: StaffResult<T>) -> TenantRefusal {
        match r {
            Err(ServiceError::Refused(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn organizations_named(f: &Fixture, name: &str) -> Vec<OrganizationId> {
        let found = f.with(|c| db::organizations::find_by_name(c, name));
        found.into_iter().map(|o| o.id).collect()
    }

    #[test]
    fn tenant_acceptance_creates_exactly_one_organization_on_its_plan() {
        let f = Fixture::new();
        let staff = actor(f.user("staff@joinery.test", "Sam Staff", true));
        let token = invited(&f, &staff, "founder@newco.example", Plan::Professional);
        let create = |company| {
            create_organization(&f.svc, &visitor(None), &token, new_account(company), f.now)
        };
        let Founding::Founded { user, organization } = create("NewCo").unwrap() else {
            panic!("the first submission founds it")
        };
        assert_eq!(organization.plan, Plan::Professional);
        assert_eq!(f.role_of(organization.id, &actor(user)), Some(Role::Owner));
        // Submitted again (the same form, or another company name): refused, nothing made.
        assert_eq!(
            refused(create("NewCo")),
            Refused::Unusable(LinkUnusable::Used)
        );
        assert_eq!(
            refused(create("OtherCo")),
            Refused::Unusable(LinkUnusable::Used)
        );
        assert_eq!(organizations_named(&f, "NewCo"), [organization.id]);
        assert!(organizations_named(&f, "OtherCo").is_empty());
        assert_eq!(
            f.audit_actions(organization.id),
            [
                "tenant_invitation.accepted",
                "organization.created",
                "member.joined"
            ]
        );
    }

    #[test]
    fn another_signed_in_account_is_refused_and_uses_nothing() {
        let f = Fixture::new();
        let staff = actor(f.user("staff@joinery.test", "Sam Staff", true));
        let token = invited(&f, &staff, "known@example.com", Plan::Starter);
        let other = f.user("other@example.com", "Other", false);
        let cmd = new_account("Hijack");
        let hijack = create_organization(&f.svc, &visitor(Some(&other)), &token, cmd, f.now);
        assert_eq!(refused(hijack), Refused::WrongAccount);
        let declined = decline(&f.svc, &visitor(Some(&other)), &token, f.now);
        assert_eq!(refused(declined), Refused::WrongAccount);
        assert!(organizations_named(&f, "Hijack").is_empty());
        let inv = f.with(|c| db::tenant_invitations::find_by_token(c, &token));
        assert_eq!(
            inv.unwrap().facts.status,
            crate::domain::InvitationStatus::Pending
        );
    }

    #[test]
    fn only_staff_send_resend_and_revoke() {
        let f = Fixture::new();
        let staff = actor(f.user("staff@joinery.test", "Sam Staff", true));
        let owner = actor(f.user("owner@acme.test", "Owner", false));
        let cmd = TenantOfferCmd {
            email: EmailAddress::parse("x@example.com").unwrap(),
            plan: Plan::Starter,
            message: None,
        };
        assert_eq!(
            staff_refusal(send(&f.svc, &owner, &cmd, f.now)),
            TenantRefusal::NotStaff(NotStaff)
        );
        let id = send(&f.svc, &staff, &cmd, f.now).unwrap();
        assert_eq!(
            staff_refusal(resend(&f.svc, &owner, id, f.now)),
            TenantRefusal::NotStaff(NotStaff)
        );
        assert_eq!(
            staff_refusal(revoke(&f.svc, &owner, id, f.now)),
            TenantRefusal::NotStaff(NotStaff)
        );
        // One pending per address; a resend of the same link once a minute; revoke once.
        assert_eq!(
            staff_refusal(send(&f.svc, &staff, &cmd, f.now)),
            TenantRefusal::NotSent(SendRefused::AlreadyPending)
        );
        let resent = resend(&f.svc, &staff, id, f.now).unwrap();
        assert_eq!(resent.plan, ResendPlan::SameLink);
        let soon = f.now + chrono::Duration::seconds(30);
        match staff_refusal(resend(&f.svc, &staff, id, soon)) {
            TenantRefusal::TooSoon { wait, .. } => assert_eq!(wait, 30),
            other => panic!("{other:?}"),
        }
        revoke(&f.svc, &staff, id, f.now).unwrap();
        assert!(matches!(
            staff_refusal(revoke(&f.svc, &staff, id, f.now)),
            TenantRefusal::NotRevoked(_)
        ));
    }
}
