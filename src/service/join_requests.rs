//! Join requests (issue 14 §3): asking to join, and answering.
//!
//! A signed-in person (whose address was proved when the account was made) asks through a
//! "request access" invite link (`invite_links::join`, which calls [`submit_in`] inside its
//! transaction) or a verified domain in *Suggest* mode ([`request_by_domain`]), with an
//! optional note. A request takes no seat; a person has at most one open request per
//! organization; it expires after 30 days. Owners and Admins (`members:manage`) see the open
//! ones on the Team page and [`approve`] (choosing the role) or [`reject`] them.
//!
//! Approval is a way in like every other (DESIGN.md, "Seats"; GitLab #514204 is the bug of an
//! approval that did not check policy again): under the organization's lock, the approver's
//! standing, rules 1–3 with the role they chose (plan first), the domain restriction, the
//! domain the request came through (still verified, still not *Manual invitations only*),
//! and a free seat, all read again; then one conditional update answers the request, so of
//! two answers at once exactly one wins. Both sides get an email through the outbox, and each
//! step is audited.

use chrono::{DateTime, Utc};

use super::seats::ensure_free;
use super::{Actor, NoStanding, ServiceError, Services, refuse};
use crate::db::audit::{self, AuditContext};
use crate::db::outbox::{self, EmailKind, JoinedMember};
use crate::db::{self, Conn, DbError};
use crate::domain::audit::AuditAction;
use crate::domain::invitation::{InviteDenied, authorize_invitation};
use crate::domain::join_request::{
    JoinRequest, JoinRequestStatus, JoinVia, REQUEST_TTL, RequestClosed,
};
use crate::domain::seats::NoFreeSeats;
use crate::domain::text::JoinRequestNote;
use crate::domain::verified_domain::{DomainName, EnrollmentMode};
use crate::domain::{JoinRequestId, Organization, OrganizationId, Permission, Role, User};

/// Why asking to join was refused. `Display` is what the page says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestRefusal {
    /// The organization does not take requests from the person's domain (no such
    /// organization, no verified domain of theirs, or not *Suggest*): never say which.
    #[error("This organization does not take join requests from your email address.")]
    NotOffered,
    /// A member already (the organization's name).
    #[error("You are already a member of {0}.")]
    AlreadyMember(String),
    /// The organization (named) admits only addresses at its verified domains.
    #[error(
        "{0} accepts only addresses at its verified domains. Ask its admins for an invitation."
    )]
    OutsideVerifiedDomains(String),
    /// The note is not acceptable (beside the Note field).
    #[error("Note: {0}.")]
    InvalidNote(String),
}

/// Why answering a request was refused. `Display` is what the page says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinRequestRefusal {
    /// The actor has no standing in the organization.
    #[error(transparent)]
    NoStanding(#[from] NoStanding),
    /// Only Owners and Admins (`members:manage`) answer requests.
    #[error("Only Owners and Admins answer join requests.")]
    NotPermitted,
    /// No such request in this organization (another organization's is not told apart).
    #[error("No such join request")]
    NotFound,
    /// Answered or expired already (also when another answer won a race).
    #[error("{0}")]
    Closed(RequestClosed),
    /// Rules 1–3 refuse the role chosen: no `users:invite`, a Trial plan, or a role above the
    /// approver's own.
    #[error("{}", denied_text(*.0))]
    Denied(InviteDenied),
    /// No seat is free (DESIGN.md, "Seats").
    #[error("{0}")]
    NoFreeSeats(#[from] NoFreeSeats),
    /// The requester's address is outside the verified domains the organization restricts
    /// invitations to (the address).
    #[error(
        "{0} is outside this organization's verified domains, to which invitations are restricted (Settings → Domains)."
    )]
    OutsideVerifiedDomains(String),
    /// The request came through a domain that is no longer verified, or whose enrollment is
    /// now *Manual invitations only*.
    #[error(
        "This request came through {0}, which no longer takes join requests. Invite the person instead."
    )]
    DomainNoLongerOffered(DomainName),
    /// The requester is a member already (their address).
    #[error("{0} is already a member of this organization.")]
    AlreadyMember(String),
}

fn denied_text(denied: InviteDenied) -> String {
    match denied {
        InviteDenied::AboveCeiling(role) => format!(
            "You cannot approve someone as {role}: you may only assign roles at or below your own."
        ),
        other => format!("{other}."),
    }
}

/// What asking came to.
#[derive(Debug, Clone)]
pub enum Submitted {
    /// The request was sent (the admins are emailed).
    Sent(JoinRequest),
    /// The person has an open request for the organization already: nothing new was sent.
    AlreadyOpen(JoinRequest),
}

impl Submitted {
    /// The request, new or already open.
    pub fn request(&self) -> &JoinRequest {
        match self {
            Submitted::Sent(r) | Submitted::AlreadyOpen(r) => r,
        }
    }
}

/// Sends `user`'s request to join `organization` through `via`, suggesting `role`, with
/// `note`, inside the caller's write transaction, which holds the organization's lock. A
/// member is refused; the domain restriction is checked; an open request is returned as it
/// is (one per person and organization); otherwise the request is stored, audited as
/// `join_request.submitted` (as `ctx`), and its Owners and Admins are emailed.
///
/// # Errors
/// [`RequestRefusal::AlreadyMember`], [`RequestRefusal::OutsideVerifiedDomains`]; storage
/// failures.
#[allow(clippy::too_many_arguments)]
pub(crate) fn submit_in(
    c: &mut Conn,
    ctx: &AuditContext,
    organization: &Organization,
    user: &User,
    via: JoinVia,
    role: Role,
    note: Option<&JoinRequestNote>,
    now: DateTime<Utc>,
) -> std::result::Result<Submitted, ServiceError<RequestRefusal>> {
    let org = organization.id;
    if db::organizations::membership(c, org, user.id)?.is_some() {
        return refuse(RequestRefusal::AlreadyMember(organization.name.clone()));
    }
    if super::domains::policy(c, org)?.check(&user.email).is_err() {
        return refuse(RequestRefusal::OutsideVerifiedDomains(
            organization.name.clone(),
        ));
    }
    db::join_requests::expire_overdue_for(c, org, user.id, now)?;
    if let Some(open) = db::join_requests::open_for(c, org, user.id, now)? {
        return Ok(Submitted::AlreadyOpen(open));
    }
    let request = JoinRequest {
        id: JoinRequestId::new(),
        organization_id: org,
        user_id: user.id,
        name: user.name.clone(),
        email: user.email.clone(),
        via,
        note: note.map(|n| n.as_str().to_owned()).unwrap_or_default(),
        status: JoinRequestStatus::Pending,
        created_at: now,
        expires_at: now + REQUEST_TTL,
        suggested_role: role,
    };
    db::join_requests::insert(c, &request)?;
    let details = format!("through {}; role {role} suggested", request.via.label());
    let (action, target) = (AuditAction::JoinRequestSubmitted, Some(user.email.as_str()));
    audit::record(c, ctx, Some(org), action, target, Some(&details), now)?;
    let payload = serde_json::json!({
        "organization": organization.name,
        "organization_id": org.to_string(),
        "requester_name": user.name,
        "requester_email": user.email.as_str(),
        "via": request.via.label(),
        "note": request.note,
    })
    .to_string();
    for to in db::join_requests::approvers(c, org)? {
        outbox::enqueue(c, EmailKind::JoinRequest, None, &to, &payload, now)?;
    }
    Ok(Submitted::Sent(request))
}

/// "Request to join {org}" from "Organizations you can join": `actor` asks to join `org`
/// through the verified domain of their address, if that domain's mode is *Suggest*, with an
/// optional `note` (at most 500 characters). Under the organization's lock, the claim is read
/// again ([`submit_in`] does the rest).
///
/// # Errors
/// [`RequestRefusal`]: an unacceptable note, not offered, a member already, outside the
/// restriction; storage failures.
pub fn request_by_domain(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    note: &str,
    now: DateTime<Utc>,
) -> std::result::Result<(Organization, Submitted), ServiceError<RequestRefusal>> {
    let note = JoinRequestNote::parse(note)
        .map_err(|e| ServiceError::Refused(RequestRefusal::InvalidNote(e.to_string())))?;
    let mut conn = svc.conn()?;
    let submitted = db::write_transaction(&mut conn, |c| {
        let Some(organization) = db::organizations::find(c, org)? else {
            return refuse(RequestRefusal::NotOffered);
        };
        db::organizations::lock(c, org)?;
        let domain = DomainName::of(&actor.user.email);
        let claim = db::domains::verified_claim(c, org, &domain)?;
        let Some(claim) = claim.filter(|d| d.enrollment == EnrollmentMode::Suggest) else {
            return refuse(RequestRefusal::NotOffered);
        };
        let via = JoinVia::Domain(claim.domain);
        let ctx = actor.audit(false);
        let submitted = submit_in(
            c,
            &ctx,
            &organization,
            &actor.user,
            via,
            claim.default_role,
            note.as_ref(),
            now,
        )?;
        Ok((organization, submitted))
    })?;
    if matches!(submitted.1, Submitted::Sent(_)) {
        svc.email_queued();
    }
    Ok(submitted)
}

/// When `actor` sent each of their open requests, by organization (for "Organizations you
/// can join"). Reads only.
///
/// # Errors
/// Storage failures.
pub fn open_requests_of(
    svc: &Services,
    actor: &Actor,
    now: DateTime<Utc>,
) -> std::result::Result<Vec<(OrganizationId, DateTime<Utc>)>, ServiceError<std::convert::Infallible>>
{
    Ok(db::join_requests::open_by_user(
        &mut *svc.conn()?,
        actor.user.id,
        now,
    )?)
}

type Answered<T> = std::result::Result<T, ServiceError<JoinRequestRefusal>>;

/// Refuses `actor` without `members:manage` in `org`; `lock` takes the organization's lock.
fn answering(
    c: &mut Conn,
    org: OrganizationId,
    actor: &Actor,
    lock: bool,
) -> Answered<super::Acting> {
    let denied = JoinRequestRefusal::NotPermitted;
    super::permitted_in(c, org, actor, lock, Permission::MembersManage, denied)
}

/// The open request `id` of `org` (else why not).
fn open_request(
    c: &mut Conn,
    org: OrganizationId,
    id: JoinRequestId,
    now: DateTime<Utc>,
) -> Answered<JoinRequest> {
    let Some(request) = db::join_requests::find_in_org(c, org, id)? else {
        return refuse(JoinRequestRefusal::NotFound);
    };
    request
        .check_open(now)
        .map_err(JoinRequestRefusal::Closed)
        .or_else(refuse)?;
    Ok(request)
}

/// The open request `id` of `org` for its approval or rejection page, for `actor` (an Owner,
/// Admin or staff) at `now`. Reads only.
///
/// # Errors
/// [`JoinRequestRefusal`]: no standing, not permitted, no such request, or answered or
/// expired already.
pub fn find(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: JoinRequestId,
    now: DateTime<Utc>,
) -> Answered<JoinRequest> {
    let mut conn = svc.conn()?;
    answering(&mut conn, org, actor, false)?;
    open_request(&mut conn, org, id, now)
}

/// A request just approved.
#[derive(Debug, Clone)]
pub struct Approved {
    /// The request, as it was when approved.
    pub request: JoinRequest,
    /// The role granted.
    pub role: Role,
}

/// Approves the open request `id` of `org` as `actor`, granting `role`: the requester becomes
/// a member at once (see the module's documentation for what is checked again under the
/// organization's lock). Records `join_request.approved` and `member.joined`, and queues the
/// requester's email and the Owners' "member joined" emails.
///
/// # Errors
/// [`JoinRequestRefusal`] (nothing written): no standing or not permitted; no such request;
/// answered or expired (also by a racing answer); rules 1–3 for `role` (a Trial plan first);
/// outside the domain restriction; the domain it came through no longer takes requests; a
/// member already; no free seat.
pub fn approve(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: JoinRequestId,
    role: Role,
    now: DateTime<Utc>,
) -> Answered<Approved> {
    let mut conn = svc.conn()?;
    let approved = db::write_transaction(&mut conn, |c| {
        let acting = answering(c, org, actor, true)?;
        let request = open_request(c, org, id, now)?;
        authorize_invitation(acting.inviter(), acting.org.plan, role)
            .map_err(JoinRequestRefusal::Denied)
            .or_else(refuse)?;
        if db::organizations::membership(c, org, request.user_id)?.is_some() {
            return refuse(JoinRequestRefusal::AlreadyMember(request.email.to_string()));
        }
        if let JoinVia::Domain(domain) = &request.via {
            let claim = db::domains::verified_claim(c, org, domain)?;
            if claim.is_none_or(|d| d.enrollment == EnrollmentMode::Manual) {
                return refuse(JoinRequestRefusal::DomainNoLongerOffered(domain.clone()));
            }
        }
        if super::domains::policy(c, org)?
            .check(&request.email)
            .is_err()
        {
            return refuse(JoinRequestRefusal::OutsideVerifiedDomains(
                request.email.to_string(),
            ));
        }
        ensure_free::<JoinRequestRefusal>(c, &acting.org, 1, now)?;
        let by = actor.user.id;
        if !db::join_requests::decide(c, id, JoinRequestStatus::Approved, by, Some(role), now)? {
            return refuse(JoinRequestRefusal::Closed(closed_now(c, org, id, now)?));
        }
        db::organizations::add_member(c, org, request.user_id, role, Some(by), None, now)?;
        let ctx = acting.audit(actor);
        let details = format!("role {role}; asked through {}", request.via.label());
        let target = Some(request.email.as_str());
        let action = AuditAction::JoinRequestApproved;
        audit::record(c, &ctx, Some(org), action, target, Some(&details), now)?;
        let joined = format!("role {role}; join request approved by {}", actor.user.name);
        let action = AuditAction::MemberJoined;
        audit::record(c, &ctx, Some(org), action, target, Some(&joined), now)?;
        let invited_by = format!("{} (join request)", actor.user.name);
        outbox::enqueue_member_joined(
            c,
            &JoinedMember {
                organization: &acting.org,
                name: &request.name,
                email: &request.email,
                role,
                invited_by: &invited_by,
            },
            now,
        )?;
        queue_answer(c, &acting.org, &request, Some(role), now)?;
        Ok(Approved { request, role })
    })?;
    svc.email_queued();
    Ok(approved)
}

/// Rejects the open request `id` of `org` as `actor`: records `join_request.rejected` and
/// queues the requester's email. The person may ask again.
///
/// # Errors
/// [`JoinRequestRefusal`] (nothing written): no standing or not permitted; no such request;
/// answered or expired (also by a racing answer).
pub fn reject(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: JoinRequestId,
    now: DateTime<Utc>,
) -> Answered<JoinRequest> {
    let mut conn = svc.conn()?;
    let rejected = db::write_transaction(&mut conn, |c| {
        let acting = answering(c, org, actor, true)?;
        let request = open_request(c, org, id, now)?;
        let by = actor.user.id;
        if !db::join_requests::decide(c, id, JoinRequestStatus::Rejected, by, None, now)? {
            return refuse(JoinRequestRefusal::Closed(closed_now(c, org, id, now)?));
        }
        let details = format!("asked through {}", request.via.label());
        let target = Some(request.email.as_str());
        let action = AuditAction::JoinRequestRejected;
        audit::record(
            c,
            &acting.audit(actor),
            Some(org),
            action,
            target,
            Some(&details),
            now,
        )?;
        queue_answer(c, &acting.org, &request, None, now)?;
        Ok(request)
    })?;
    svc.email_queued();
    Ok(rejected)
}

/// What request `id` is now, after a conditional update on it lost to another answer.
fn closed_now(
    c: &mut Conn,
    org: OrganizationId,
    id: JoinRequestId,
    now: DateTime<Utc>,
) -> std::result::Result<RequestClosed, DbError> {
    let after = db::join_requests::find_in_org(c, org, id)?
        .ok_or_else(|| DbError::Corrupt("join request vanished".into()))?;
    Ok(after
        .check_open(now)
        .err()
        .unwrap_or(RequestClosed::Approved))
}

/// Queues the requester's email: approved with `role`, or rejected (`None`).
fn queue_answer(
    c: &mut Conn,
    organization: &Organization,
    request: &JoinRequest,
    role: Option<Role>,
    now: DateTime<Utc>,
) -> std::result::Result<(), DbError> {
    let payload = serde_json::json!({
        "organization": organization.name,
        "organization_id": organization.id.to_string(),
        "approved": role.is_some(),
        "role": role.map(Role::as_str),
    })
    .to_string();
    outbox::enqueue(
        c,
        EmailKind::JoinRequestAnswer,
        None,
        &request.email,
        &payload,
        now,
    )
}

#[cfg(test)]
mod tests;
