//! Invitations as the invitee sees them (DESIGN.md, "The acceptance page", "Accept", "Decline",
//! "Invitations follow current policy" and "Request a new invitation"): opening a link
//! (`/invitations/{token}`, whichever kind of invitation it is), "Create account & join",
//! "Log in & accept", "Accept invitation", "Decline", and "Request a new invitation".
//!
//! - Opening a link reads and never writes (mail scanners open links); which page it shows is
//!   `domain::link::page`'s decision. A lapsed inviter shows "revoked" there, and only a POST
//!   writes the revocation — which then commits while the POST is refused.
//! - Accepting is single use: the invitation moves Pending → Accepted in one conditional update
//!   inside the transaction that creates the membership, so of racing acceptances exactly one
//!   wins. A signed-in account whose email is not the invited one never uses the invitation up.
//! - Whatever can refuse without a password (the link's state, a lapsed inviter, an account
//!   that exists, invalid input) is checked before a password is hashed or verified; hashing
//!   and verification run on the password threads with no database connection held.

mod joining;
mod renewal;

pub use joining::{accept, accept_in_transaction, decline, log_in, register};
use renewal::renewal_standing;
pub use renewal::{RenewalAnswer, request_renewal};

use chrono::{DateTime, Utc};

use super::{ServiceError, Services, Visitor, refuse, tenants};
use crate::db::audit::{self, AuditContext, RequestMeta};
use crate::db::links::Ending;
use crate::db::{self, Conn, DbError};
use crate::domain::audit::AuditAction;
use crate::domain::invitation::{
    Invitation, InvitationDetails, InviterLapsed, RenewalRefused, check_inviter_may_still_assign,
    usable,
};
use crate::domain::link::{self, Link, LinkKind, LinkPage, LinkUnusable, Visit};
use crate::domain::password::{Password, PasswordError};
use crate::domain::text::{PersonName, TextError};
use crate::domain::token::LinkToken;
use crate::domain::{EmailAddress, Organization, Role, User};

/// An invitation as its page shows it: the invitation with its organization and inviter and,
/// for an expired one, where "Request a new invitation" stands.
#[derive(Debug, Clone)]
pub struct MemberLink {
    /// The invitation, its organization and its inviter.
    pub details: InvitationDetails,
    /// For an expired link: whether a new invitation may be requested, or was.
    pub renewal: Option<Renewal>,
}

/// "Request a new invitation" on an expired link's page (DESIGN.md: once a day per invitation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// May be asked: the page offers the button.
    Offered,
    /// Asked already within the day, at this time.
    Requested(DateTime<Utc>),
    /// A newer invitation was sent since, or the address belongs to a member already.
    Superseded,
}

/// A member invitation's page: the link and which of its pages the visitor sees.
#[derive(Debug, Clone)]
pub struct MemberView {
    /// The invitation.
    pub link: MemberLink,
    /// The page (`domain::link::page`).
    pub page: LinkPage,
}

/// What `/invitations/{token}` found.
#[derive(Debug, Clone)]
pub enum Opened {
    /// A member invitation.
    Member(MemberView),
    /// A tenant-owner invitation.
    Tenant(tenants::TenantView),
}

/// No invitation has the token: a 404, whatever else it may be a token of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("No such invitation")]
pub struct NoSuchInvitation;

/// Why a POST on an invitation's page was refused. Except for [`InvitationRefusal::NotFound`],
/// the page shows it: the link `L` as its page shows it, and why.
#[derive(Debug, thiserror::Error)]
pub enum InvitationRefusal<L> {
    /// No invitation of this kind has the token.
    #[error("No such invitation")]
    NotFound,
    /// Refused; nothing was used up.
    #[error("{why}")]
    Shown {
        /// The link, as its page shows it.
        link: Box<L>,
        /// Why.
        why: Refused,
    },
}

/// Why the rules refused the use of an invitation link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The link can no longer be used (expired, used, revoked — also just now because its
    /// inviter may no longer grant it — or declined).
    #[error("{}", .0.title(LinkKind::MemberInvitation))]
    Unusable(LinkUnusable),
    /// Signed in as another account than the invited one.
    #[error("Invitation email does not match your account")]
    WrongAccount,
    /// The form's input, shown again on page `on` with the reasons beside the fields.
    #[error("Please check what you entered")]
    Invalid {
        /// The page whose form it was.
        on: LinkPage,
        /// What was wrong, field by field.
        errors: FieldErrors,
    },
    /// The password is not the invited account's (or that account may not try now): the
    /// answer of a wrong log-in.
    #[error("That email and password do not match an account.")]
    WrongPassword,
}

impl Refused {
    /// The page that shows this refusal, on a link of `kind`.
    pub fn page(&self, kind: LinkKind) -> LinkPage {
        match self {
            Refused::Unusable(why) => LinkPage::Unusable { kind, why: *why },
            Refused::WrongAccount => LinkPage::WrongAccount,
            Refused::Invalid { on, .. } => *on,
            Refused::WrongPassword => LinkPage::LogIn,
        }
    }
}

/// What was wrong with a form's fields (each `None` when that field was fine or absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors {
    /// The name.
    pub name: Option<TextError>,
    /// The new password.
    pub password: Option<PasswordError>,
    /// The company name (tenant-owner invitations).
    pub company: Option<TextError>,
}

/// "Create account & join": the form as parsed (the service decides when a parse error
/// counts: after the link's own checks).
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The name typed.
    pub name: std::result::Result<PersonName, TextError>,
    /// The password typed.
    pub password: std::result::Result<Password, PasswordError>,
}

/// What an acceptance came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// A membership was created with this role.
    Joined(Role),
    /// The person was already a member and keeps this role; the invitation is used up.
    AlreadyMember(Role),
}

/// An acceptance: who (to sign in), where (their new dashboard), and what came of it.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The invitee's account.
    pub user: User,
    /// The organization joined.
    pub organization: Organization,
    /// Joined, or already a member.
    pub accepted: Accepted,
}

/// What "Create account & join" came to, short of a refusal.
#[derive(Debug, Clone)]
pub enum Registration {
    /// The account was created and the invitation accepted.
    Joined(Joined),
    /// Someone is signed in: their page is another branch (nothing done).
    SignedInAlready,
    /// An account has the invited address: its owner logs in to accept (nothing done).
    AccountExists,
}

type Result<T, R = InvitationRefusal<MemberLink>> = std::result::Result<T, ServiceError<R>>;
/// An operation's steps before the refusal is put on the page ([`on_page`]).
pub type Inner<T> = Result<T, Refused>;

/// Opens the link with `token` for `visitor` (DESIGN.md, "The acceptance page"): one look-up
/// whatever the token's kind; a member or tenant-owner invitation gives its page, anything
/// else is no invitation. Reads only.
///
/// # Errors
/// [`NoSuchInvitation`]; storage failures.
pub fn open(
    svc: &Services,
    visitor: &Visitor,
    token: &LinkToken,
    now: DateTime<Utc>,
) -> Result<Opened, NoSuchInvitation> {
    db::snapshot(&mut *svc.conn()?, |conn| {
        match db::links::find(conn, token)? {
            Some(Link::MemberInvitation(details)) => {
                Ok(Opened::Member(member_view(conn, visitor, details, now)?))
            }
            Some(Link::TenantInvitation(inv)) => {
                Ok(Opened::Tenant(tenants::view(conn, visitor, inv, now)?))
            }
            Some(Link::InviteLink(_) | Link::Signup(_)) | None => refuse(NoSuchInvitation),
        }
    })
}

fn member_view(
    conn: &mut Conn,
    visitor: &Visitor,
    details: InvitationDetails,
    now: DateTime<Utc>,
) -> std::result::Result<MemberView, DbError> {
    let inv = &details.invitation;
    // Reads only: a lapsed inviter shows "revoked" here; a POST writes it.
    let usable = usable(&inv.facts, inviter_policy(conn, inv)?, now);
    let address_has_account = visitor.user.is_none() && db::users::email_exists(conn, &inv.email)?;
    let visit = Visit {
        signed_in: visitor.user.as_ref().map(|u| (&u.email, None)),
        address_has_account,
    };
    let kind = LinkKind::MemberInvitation;
    let page = link::page(
        kind,
        usable.map_err(|why| (kind, why)),
        Some(&inv.email),
        visit,
    );
    let link = member_link(conn, details, usable.err(), now)?;
    Ok(MemberView { link, page })
}

/// The member invitation with `token`.
fn find(conn: &mut Conn, token: &LinkToken) -> Result<InvitationDetails> {
    match db::invitations::find_by_token(conn, token)? {
        Some(details) => Ok(details),
        None => refuse(InvitationRefusal::NotFound),
    }
}

/// The audit trail's record of whoever uses the link: the signed-in account ("Name
/// <email>"), else the invited address marked as not signed in — whoever holds the link,
/// unproven.
fn invitee_audit(
    origin: &RequestMeta,
    user: Option<&User>,
    invited: &EmailAddress,
) -> AuditContext {
    let actor = match user {
        Some(u) => audit::Actor {
            user_id: Some(u.id),
            label: format!("{} <{}>", u.name, u.email),
            is_staff: false,
        },
        None => audit::Actor {
            user_id: None,
            label: format!("{invited} (not signed in)"),
            is_staff: false,
        },
    };
    AuditContext {
        actor,
        meta: origin.clone(),
    }
}

/// A transaction's answer when refusing must keep what it wrote: the revocation of an
/// invitation whose inviter may no longer grant it commits while its use is refused.
enum Settled<T> {
    /// Done.
    Done(T),
    /// Refused: the link is unusable (committed, with any revocation written).
    Unusable(LinkUnusable),
}

fn settled<T>(s: Settled<T>) -> Inner<T> {
    match s {
        Settled::Done(v) => Ok(v),
        Settled::Unusable(why) => refuse(Refused::Unusable(why)),
    }
}

fn unusable(why: LinkUnusable) -> ServiceError<Refused> {
    ServiceError::Refused(Refused::Unusable(why))
}

/// Puts a refusal on the invitation's page: `why`, with the link as its page shows it.
fn on_page<T>(
    conn: &mut Conn,
    details: &InvitationDetails,
    result: Inner<T>,
    now: DateTime<Utc>,
) -> Result<T> {
    match result {
        Ok(v) => Ok(v),
        Err(ServiceError::Refused(why)) => {
            let unusable = match why {
                Refused::Unusable(u) => Some(u),
                _ => None,
            };
            let link = member_link(conn, details.clone(), unusable, now)?;
            refuse(InvitationRefusal::Shown {
                link: Box::new(link),
                why,
            })
        }
        Err(ServiceError::Storage(e)) => Err(ServiceError::Storage(e)),
        Err(ServiceError::PasswordsBusy) => Err(ServiceError::PasswordsBusy),
    }
}

/// The link as its page shows it; an expired one (`unusable`) says where "Request a new
/// invitation" stands.
fn member_link(
    conn: &mut Conn,
    details: InvitationDetails,
    unusable: Option<LinkUnusable>,
    now: DateTime<Utc>,
) -> std::result::Result<MemberLink, DbError> {
    let renewal = if unusable == Some(LinkUnusable::Expired) {
        match renewal_standing(conn, &details.invitation, now)? {
            Ok(()) => Some(Renewal::Offered),
            Err(RenewalRefused::AlreadyRequested { at }) => Some(Renewal::Requested(at)),
            Err(RenewalRefused::Superseded) => Some(Renewal::Superseded),
            Err(_) => None,
        }
    } else {
        None
    };
    Ok(MemberLink { details, renewal })
}

/// Whether `inv`'s inviter may still grant it, as they stand now (DESIGN.md, "Invitations
/// follow current policy"). Reads only.
fn inviter_policy(
    conn: &mut Conn,
    inv: &Invitation,
) -> std::result::Result<std::result::Result<(), InviterLapsed>, DbError> {
    let inviter = db::invitations::current_inviter(conn, inv)?;
    Ok(check_inviter_may_still_assign(inviter, inv.role))
}

/// If `current`'s inviter may no longer grant it, marks it Revoked with the reason (e.g.
/// "inviter may no longer assign Admin") and records that by the system on behalf of the
/// request in `ctx`. Returns why the link is unusable when it refused.
fn revoke_if_lapsed(
    c: &mut Conn,
    ctx: &AuditContext,
    current: &Invitation,
    now: DateTime<Utc>,
) -> std::result::Result<Option<LinkUnusable>, DbError> {
    let Err(lapsed) = inviter_policy(c, current)? else {
        return Ok(None);
    };
    let reason = lapsed.to_string();
    if !db::invitations::end(c, current.id, Ending::Revoked(&reason), now)? {
        return Ok(Some(unusable_after_race(c, current, now)?));
    }
    let system = AuditContext {
        actor: audit::Actor::system(),
        meta: ctx.meta.clone(),
    };
    let detail = format!("{reason} (checked when the invitee tried to use the link)");
    let (org, target) = (Some(current.organization_id), Some(current.email.as_str()));
    let action = AuditAction::InvitationRevoked;
    audit::record(c, &system, org, action, target, Some(&detail), now)?;
    Ok(Some(LinkUnusable::Revoked))
}

/// The state a conditional update lost to, as the reason the link is unusable.
fn unusable_after_race(
    c: &mut Conn,
    inv: &Invitation,
    now: DateTime<Utc>,
) -> std::result::Result<LinkUnusable, DbError> {
    let after = db::invitations::current(c, inv)?;
    Ok(LinkUnusable::after_lost_race(after.facts.check_usable(now)))
}

#[cfg(test)]
mod tests;
