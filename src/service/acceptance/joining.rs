//! Using a member invitation: "Create account & join", "Log in & accept", "Accept invitation"
//! and "Decline" (DESIGN.md, "The acceptance page", "Accept" and "Decline").

use chrono::{DateTime, Utc};

use super::{
    Accepted, FieldErrors, Inner, Joined, MemberLink, NewAccount, Refused, Registration, Result,
    Settled, find, invitee_audit, inviter_policy, on_page, revoke_if_lapsed, settled, unusable,
    unusable_after_race,
};
use crate::db::audit::{self, AuditContext, RequestMeta};
use crate::db::links::Ending;
use crate::db::{self, Conn, DbError};
use crate::domain::audit::AuditAction;
use crate::domain::invitation::{AcceptError, Invitation, InvitationDetails, check_accept};
use crate::domain::link::LinkPage;
use crate::domain::password::Password;
use crate::domain::text::PersonName;
use crate::domain::token::LinkToken;
use crate::domain::{EmailAddress, User};
use crate::service::accounts::{authenticate, hash};
use crate::service::{Services, Visitor, refuse};

/// "Create account & join" (DESIGN.md, branch 1): the invitation proves the email, so the
/// account is created and the invitation accepted in one transaction. Checked before the
/// password is hashed: the link's state, the inviter's standing (a lapsed inviter's
/// invitation is revoked now), an existing account, the input.
///
/// # Errors
/// [`InvitationRefusal`]: no such invitation, or refused on its page (a refusal after the
/// account was made rolls it back); [`ServiceError::PasswordsBusy`]; storage failures.
pub fn register(
    svc: &Services,
    visitor: &Visitor,
    token: &LinkToken,
    cmd: NewAccount,
    now: DateTime<Utc>,
) -> Result<Registration> {
    let mut conn = svc.conn()?;
    let details = find(&mut conn, token)?;
    if visitor.user.is_some() {
        return Ok(Registration::SignedInAlready);
    }
    let inv = &details.invitation;
    let signed_out = invitee_audit(&visitor.origin, None, &inv.email);
    let checked = (|| -> Inner<Option<(PersonName, Password)>> {
        inv.facts.check_usable(now).map_err(unusable)?;
        if inviter_policy(&mut conn, inv)?.is_err() {
            let revoked =
                db::write_transaction(&mut conn, |c| revoke_if_lapsed(c, &signed_out, inv, now))?;
            if let Some(why) = revoked {
                return refuse(Refused::Unusable(why));
            }
        }
        if db::users::email_exists(&mut conn, &inv.email)? {
            return Ok(None);
        }
        match (cmd.name, cmd.password) {
            (Ok(name), Ok(password)) => Ok(Some((name, password))),
            (name, password) => refuse(Refused::Invalid {
                on: LinkPage::NewAccount,
                errors: FieldErrors {
                    name: name.err(),
                    password: password.err(),
                    company: None,
                },
            }),
        }
    })();
    let Some((name, password)) = on_page(&mut conn, &details, checked, now)? else {
        return Ok(Registration::AccountExists);
    };
    drop(conn);
    let hash = hash(svc, &password)?;
    let mut conn = svc.conn()?;
    let result = db::write_transaction(&mut conn, |c| {
        register_in(c, &visitor.origin, &details, &name, &hash, now)
    });
    svc.email_queued();
    let registered = on_page(&mut conn, &details, result.and_then(settled), now)?;
    Ok(registered.map_or(Registration::AccountExists, Registration::Joined))
}

/// The transaction of [`register`]: `None` when an account with the address appeared
/// meanwhile.
fn register_in(
    c: &mut Conn,
    origin: &RequestMeta,
    details: &InvitationDetails,
    name: &PersonName,
    hash: &str,
    now: DateTime<Utc>,
) -> Inner<Settled<Option<Joined>>> {
    let inv = &details.invitation;
    // Serializes registrations through this invitation: on PostgreSQL two concurrent
    // submissions would otherwise both find no account and race on the unique email index.
    // The second waits here, then reads the invitation as used.
    db::invitations::lock(c, inv.id)?;
    let current = db::invitations::current(c, inv)?;
    if let Err(why) = current.facts.check_usable(now) {
        return Ok(Settled::Unusable(why));
    }
    let signed_out = invitee_audit(origin, None, &inv.email);
    // Before the account exists, so that the revocation commits and no account is made.
    if let Some(why) = revoke_if_lapsed(c, &signed_out, &current, now)? {
        return Ok(Settled::Unusable(why));
    }
    if db::users::email_exists(c, &inv.email)? {
        return Ok(Settled::Done(None));
    }
    let id = db::users::insert(c, &inv.email, name, hash, false, now)?;
    let user =
        db::users::find(c, id)?.ok_or_else(|| DbError::Corrupt("new user vanished".into()))?;
    let ctx = invitee_audit(origin, Some(&user), &inv.email);
    // A refusal now must not keep the account: an error rolls the transaction back.
    let accepted = settled(accept_in(c, &ctx, details, &user, now)?)?;
    Ok(Settled::Done(Some(Joined {
        user,
        organization: details.organization.clone(),
        accepted,
    })))
}

/// "Log in & accept" (DESIGN.md, branch 2): the invited address's password, then acceptance.
/// An unusable link is refused before the password is verified; someone signed in as another
/// account is signed in as the invitee by this.
///
/// # Errors
/// [`Refused::WrongPassword`] (also while the account is locked after failed log-ins), the
/// refusals of [`accept`]; [`ServiceError::PasswordsBusy`]; storage failures.
pub fn log_in(
    svc: &Services,
    visitor: &Visitor,
    token: &LinkToken,
    password: &str,
    now: DateTime<Utc>,
) -> Result<Joined> {
    let mut conn = svc.conn()?;
    let details = find(&mut conn, token)?;
    let inv = &details.invitation;
    let usable = inv.facts.check_usable(now).map_err(unusable);
    on_page(&mut conn, &details, usable, now)?;
    drop(conn);
    let user = authenticate(svc, inv.email.as_str(), Password::attempt(password))?;
    let mut conn = svc.conn()?;
    let accepted = (|| -> Inner<Joined> {
        let Some(user) = user else {
            return refuse(Refused::WrongPassword);
        };
        accept_as(svc, &mut conn, &visitor.origin, &details, user, now)
    })();
    on_page(&mut conn, &details, accepted, now)
}

/// "Accept invitation" (DESIGN.md, branch 3) by the signed-in invitee. `None` when nobody is
/// signed in (their page is another branch).
///
/// # Errors
/// [`Refused::WrongAccount`] (nothing is used up), [`Refused::Unusable`] (also for the loser
/// of a race, and when the inviter may no longer grant it: then it is revoked); storage
/// failures.
pub fn accept(
    svc: &Services,
    visitor: &Visitor,
    token: &LinkToken,
    now: DateTime<Utc>,
) -> Result<Option<Joined>> {
    let mut conn = svc.conn()?;
    let details = find(&mut conn, token)?;
    let Some(user) = visitor.user.clone() else {
        return Ok(None);
    };
    let accepted = accept_as(svc, &mut conn, &visitor.origin, &details, user, now);
    on_page(&mut conn, &details, accepted, now).map(Some)
}

/// Accepts `details` as `user` in one transaction, then wakes the outbox (the "joined" email).
fn accept_as(
    svc: &Services,
    conn: &mut Conn,
    origin: &RequestMeta,
    details: &InvitationDetails,
    user: User,
    now: DateTime<Utc>,
) -> Inner<Joined> {
    let ctx = invitee_audit(origin, Some(&user), &details.invitation.email);
    let accepted =
        db::write_transaction(conn, |c| accept_in(c, &ctx, details, &user, now)).and_then(settled);
    svc.email_queued();
    Ok(Joined {
        user,
        organization: details.organization.clone(),
        accepted: accepted?,
    })
}

/// The body of every acceptance, for a caller already inside a write transaction (a test that
/// holds an acceptance open): `user` accepts `details`, recorded as `ctx`'s. When the inviter
/// may no longer grant it, the invitation has been revoked (commit that) and the acceptance is
/// refused.
///
/// # Errors
/// [`Refused`]; storage failures.
pub fn accept_in_transaction(
    c: &mut Conn,
    ctx: &AuditContext,
    details: &InvitationDetails,
    user: &User,
    now: DateTime<Utc>,
) -> Inner<Accepted> {
    accept_in(c, ctx, details, user, now).and_then(settled)
}

/// The body of every acceptance, inside its transaction: the invitation as stored now must be
/// usable, its inviter may still grant it (else it is revoked, and that is kept), and the
/// account must be the invited one; then it is marked Accepted with a conditional update, the
/// membership is created (an existing member keeps their role), the Owners who want it get a
/// "joined" email, and `invitation.accepted` and `member.joined` are recorded as `ctx`'s.
fn accept_in(
    c: &mut Conn,
    ctx: &AuditContext,
    details: &InvitationDetails,
    user: &User,
    now: DateTime<Utc>,
) -> Inner<Settled<Accepted>> {
    let current = db::invitations::current(c, &details.invitation)?;
    if let Err(why) = current.facts.check_usable(now) {
        return Ok(Settled::Unusable(why));
    }
    if let Some(why) = revoke_if_lapsed(c, ctx, &current, now)? {
        return Ok(Settled::Unusable(why));
    }
    match check_accept(&current.facts, &current.email, &user.email, now) {
        Ok(()) => {}
        Err(AcceptError::WrongAccount) => return refuse(Refused::WrongAccount),
        Err(AcceptError::Unusable(why)) => return Ok(Settled::Unusable(why)),
    }
    if !db::invitations::end(c, current.id, Ending::Accepted(Some(user.id)), now)? {
        // Lost a race: the state the winner left.
        return Ok(Settled::Unusable(unusable_after_race(c, &current, now)?));
    }
    let org = current.organization_id;
    let record = |c: &mut Conn, action, target: &EmailAddress, detail: &str| {
        audit::record(
            c,
            ctx,
            Some(org),
            action,
            Some(target.as_str()),
            Some(detail),
            now,
        )
    };
    if let Some(existing) = db::organizations::membership(c, org, user.id)? {
        let detail = format!(
            "role {}; already a member as {}, role unchanged",
            current.role, existing.role
        );
        record(c, AuditAction::InvitationAccepted, &current.email, &detail)?;
        return Ok(Settled::Done(Accepted::AlreadyMember(existing.role)));
    }
    let (role, inviter) = (current.role, current.invited_by);
    let department = current.department.as_deref();
    db::organizations::add_member(c, org, user.id, role, Some(inviter), department, now)?;
    record(
        c,
        AuditAction::InvitationAccepted,
        &current.email,
        &format!("role {role}"),
    )?;
    let joined = format!("role {role}; invited by {}", details.inviter_name);
    record(c, AuditAction::MemberJoined, &user.email, &joined)?;
    db::outbox::enqueue_member_joined(
        c,
        &db::outbox::JoinedMember {
            organization: &details.organization,
            name: &user.name,
            email: &user.email,
            role,
            invited_by: &details.inviter_name,
        },
        now,
    )?;
    Ok(Settled::Done(Accepted::Joined(role)))
}

/// "Decline" (DESIGN.md, "Decline"): anyone holding the link may decline while signed out; a
/// different signed-in account may not (it never uses the invitation up). An inviter who may
/// no longer grant the invitation makes it Revoked instead. Returns the link for the
/// "declined" page.
///
/// # Errors
/// [`Refused::WrongAccount`], [`Refused::Unusable`]; storage failures.
pub fn decline(
    svc: &Services,
    visitor: &Visitor,
    token: &LinkToken,
    now: DateTime<Utc>,
) -> Result<MemberLink> {
    let mut conn = svc.conn()?;
    let details = find(&mut conn, token)?;
    let inv = &details.invitation;
    let declined = (|| -> Inner<()> {
        if visitor.user.as_ref().is_some_and(|u| u.email != inv.email) {
            return refuse(Refused::WrongAccount);
        }
        inv.facts.check_usable(now).map_err(unusable)?;
        let ctx = invitee_audit(&visitor.origin, visitor.user.as_ref(), &inv.email);
        db::write_transaction(&mut conn, |c| decline_in(c, &ctx, inv, now)).and_then(settled)
    })();
    on_page(&mut conn, &details, declined, now)?;
    Ok(MemberLink {
        details,
        renewal: None,
    })
}

fn decline_in(
    c: &mut Conn,
    ctx: &AuditContext,
    inv: &Invitation,
    now: DateTime<Utc>,
) -> Inner<Settled<()>> {
    let current = db::invitations::current(c, inv)?;
    if let Err(why) = current.facts.check_usable(now) {
        return Ok(Settled::Unusable(why));
    }
    if let Some(why) = revoke_if_lapsed(c, ctx, &current, now)? {
        return Ok(Settled::Unusable(why));
    }
    if !db::invitations::end(c, current.id, Ending::Declined, now)? {
        return Ok(Settled::Unusable(unusable_after_race(c, &current, now)?));
    }
    let detail = format!("role {}", current.role);
    let (org, target) = (Some(current.organization_id), Some(current.email.as_str()));
    let action = AuditAction::InvitationDeclined;
    audit::record(c, ctx, org, action, target, Some(&detail), now)?;
    Ok(Settled::Done(()))
}
