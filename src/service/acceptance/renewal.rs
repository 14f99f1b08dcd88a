//! "Request a new invitation" from an expired link's page (DESIGN.md): the inviter is emailed
//! at most once a day per invitation.

use chrono::{DateTime, Utc};

use super::{Inner, MemberLink, Refused, Result, find, invitee_audit, inviter_policy, on_page};
use crate::db::audit::{self, AuditContext};
use crate::db::{self, Conn, DbError};
use crate::domain::audit::AuditAction;
use crate::domain::invitation::{
    Invitation, InvitationDetails, RenewalRefused, check_renewal_request,
};
use crate::domain::link::LinkUnusable;
use crate::domain::token::LinkToken;
use crate::service::{Services, Visitor, refuse};

/// What "Request a new invitation" came to, short of a refusal.
#[derive(Debug, Clone)]
pub enum RenewalAnswer {
    /// The inviter was emailed now.
    Sent(MemberLink),
    /// Asked already within the day, at this time: nothing was sent.
    AlreadyAsked(MemberLink, DateTime<Utc>),
    /// The link can still be used: nothing to renew (back to its page).
    StillUsable,
}

/// "Request a new invitation" from an expired link's page (DESIGN.md): emails the inviter, at
/// most once a day per invitation — one conditional update decides, so of two racing requests
/// one sends — and records `invitation.renewal_requested` as the visitor's.
///
/// # Errors
/// [`Refused::Unusable`] when the link is not expired but unusable for another reason, or its
/// inviter may no longer send it, or a newer invitation answered it; storage failures.
pub fn request_renewal(
    svc: &Services,
    visitor: &Visitor,
    token: &LinkToken,
    now: DateTime<Utc>,
) -> Result<RenewalAnswer> {
    let mut conn = svc.conn()?;
    let details = find(&mut conn, token)?;
    let inv = &details.invitation;
    let ctx = invitee_audit(&visitor.origin, visitor.user.as_ref(), &inv.email);
    let asked = db::write_transaction(&mut conn, |c| renew_in(c, &ctx, &details, now));
    let asked = on_page(&mut conn, &details, asked, now)?;
    let link = MemberLink {
        details,
        renewal: None,
    };
    Ok(match asked {
        Asked::StillUsable => RenewalAnswer::StillUsable,
        Asked::Now => {
            svc.email_queued();
            RenewalAnswer::Sent(link)
        }
        Asked::Already(at) => RenewalAnswer::AlreadyAsked(link, at),
    })
}

/// What the transaction of [`request_renewal`] found.
enum Asked {
    /// The link can still be used.
    StillUsable,
    /// Asked now: the email is queued.
    Now,
    /// Asked already within the day, at this time.
    Already(DateTime<Utc>),
}

fn renew_in(
    c: &mut Conn,
    ctx: &AuditContext,
    details: &InvitationDetails,
    now: DateTime<Utc>,
) -> Inner<Asked> {
    let current = db::invitations::current(c, &details.invitation)?;
    match renewal_standing(c, &current, now)? {
        Ok(()) => {}
        Err(RenewalRefused::StillUsable) => return Ok(Asked::StillUsable),
        Err(RenewalRefused::AlreadyRequested { at }) => return Ok(Asked::Already(at)),
        Err(RenewalRefused::NotExpired(why)) => return refuse(Refused::Unusable(why)),
        Err(RenewalRefused::InviterLapsed(_) | RenewalRefused::Superseded) => {
            return refuse(Refused::Unusable(LinkUnusable::Expired));
        }
    }
    if !db::invitations::stamp_renewal_request(c, current.id, now)? {
        let at = db::invitations::current(c, &current)?.renewal_requested_at;
        return Ok(Asked::Already(at.unwrap_or(now)));
    }
    let asked = InvitationDetails {
        invitation: current.clone(),
        ..details.clone()
    };
    db::invitations::queue_renewal_request(c, &asked, &ctx.actor.label, now)?;
    let detail = format!(
        "role {}; asked {} <{}> for a new invitation",
        current.role, details.inviter_name, details.inviter_email
    );
    let (org, target) = (Some(current.organization_id), Some(current.email.as_str()));
    let action = AuditAction::InvitationRenewalRequested;
    audit::record(c, ctx, org, action, target, Some(&detail), now)?;
    Ok(Asked::Now)
}

/// Whether the holder of `inv`'s link may ask for a new invitation at `now`: expired, its
/// inviter may still send it, no newer invitation is pending for the address (nor is it a
/// member's), and nobody asked within the day. Reads only.
pub(super) fn renewal_standing(
    conn: &mut Conn,
    inv: &Invitation,
    now: DateTime<Utc>,
) -> std::result::Result<std::result::Result<(), RenewalRefused>, DbError> {
    let policy = inviter_policy(conn, inv)?;
    let org = inv.organization_id;
    let newer = db::invitations::pending_for(conn, org, &inv.email)?
        .is_some_and(|p| p.id != inv.id && p.facts.check_usable(now).is_ok());
    let superseded = newer || db::organizations::is_member_by_email(conn, org, &inv.email)?;
    let requested = inv.renewal_requested_at;
    Ok(check_renewal_request(
        &inv.facts, policy, superseded, requested, now,
    ))
}
