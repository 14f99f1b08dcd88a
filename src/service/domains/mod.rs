//! Verified domains (DESIGN.md, "Access, integration": Verified domains): Settings → Domains
//! (Owner-only, like billing: add a domain with an address at it, prove it with the mailed
//! 6-digit code, choose its enrollment mode, remove it, restrict invitations to verified
//! domains), and what a verified domain offers the people with an address there: "Organizations
//! you can join", and joining at once where the mode is *Automatic*.
//!
//! Every change reads the Owner's standing under the organization's lock (`acting_in`); a
//! domain join takes the same lock and checks seats (`seats::ensure_free`) before adding the
//! member, as every way in does. The rules are `domain::verified_domain`'s.

use chrono::{DateTime, Duration, Utc};

use super::seats::ensure_free;
use super::{Actor, NoStanding, ServiceError, Services, refuse};
use crate::db::audit::{self, AuditContext};
use crate::db::domains::{NewCode, OrgDomain};
use crate::db::outbox::{self, EmailKind, JoinedMember};
use crate::db::{self, Conn, DbError};
use crate::domain::audit::AuditAction;
use crate::domain::seats::{NoFreeSeats, no_free_seats_for_joiner};
use crate::domain::token::TokenNonce;
use crate::domain::verified_domain::{
    CODE_RESEND_SECONDS, CODE_TTL, CodeRejected, DomainName, DomainNameError, DomainPolicy,
    DomainRoleTooHigh, EnrollmentMode, MalformedCode, VerificationCode, check_default_role,
};
use crate::domain::{DomainId, EmailAddress, Organization, OrganizationId, Permission, Role};

/// Why a change on Settings → Domains was refused. `Display` is what the page says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainRefusal {
    /// The actor has no standing in the organization.
    #[error(transparent)]
    NoStanding(#[from] NoStanding),
    /// Only Owners (and staff) manage domains.
    #[error("Only Owners manage the organization's domains.")]
    NotPermitted,
    /// No such domain in this organization (another organization's is not told apart).
    #[error("No such domain")]
    NotFound,
    /// The domain typed is not acceptable (beside the Domain field).
    #[error("{0}")]
    InvalidDomain(DomainNameError),
    /// The address for the code is not an address at the domain (beside the Email field).
    #[error("{0}")]
    InvalidProofEmail(String),
    /// This organization has verified the domain already.
    #[error("{0} is already verified for this organization.")]
    AlreadyVerified(DomainName),
    /// Another organization has verified the domain: one organization at a time.
    #[error(
        "{0} is verified by another organization. A domain can be verified for one organization at a time."
    )]
    VerifiedElsewhere(DomainName),
    /// A code was mailed less than a minute ago.
    #[error(
        "A code was sent less than a minute ago. You can send another in {retry_after} seconds."
    )]
    CodeSentRecently {
        /// Seconds until another may be sent.
        retry_after: u64,
    },
    /// What was typed is not six digits (beside the Code field).
    #[error("{0}")]
    MalformedCode(#[from] MalformedCode),
    /// The code is wrong, expired or out of attempts.
    #[error("{0}")]
    Code(#[from] CodeRejected),
    /// The domain is verified already: no code to enter or send.
    #[error("This domain is already verified.")]
    NotPending,
    /// Enrollment can be set only on a verified domain.
    #[error("Verify the domain before choosing how people with an address there join.")]
    NotVerified,
    /// A default role above Editor.
    #[error("{0}")]
    RoleTooHigh(#[from] DomainRoleTooHigh),
    /// Restricting invitations with no verified domain would refuse every address.
    #[error("Verify a domain first: with none, no address could be invited.")]
    NoVerifiedDomain,
}

type Result<T, R = DomainRefusal> = std::result::Result<T, ServiceError<R>>;

/// Settings → Domains: the organization's domains and its restriction.
#[derive(Debug, Clone)]
pub struct DomainSettings {
    /// Its domains, verified first.
    pub domains: Vec<OrgDomain>,
    /// Whether invitations and invite links are restricted to verified domains.
    pub restricted: bool,
}

/// `actor`'s standing as an Owner (`billing`; staff act as Owners), under the lock when `lock`.
fn owner_in(c: &mut Conn, org: OrganizationId, actor: &Actor, lock: bool) -> Result<super::Acting> {
    let denied = DomainRefusal::NotPermitted;
    super::permitted_in(c, org, actor, lock, Permission::Billing, denied)
}

/// `org`'s domains and restriction, for its Owners (and staff). Reads only.
///
/// # Errors
/// [`DomainRefusal::NotPermitted`] below Owner; no standing; storage failures.
pub fn settings(svc: &Services, actor: &Actor, org: OrganizationId) -> Result<DomainSettings> {
    let mut conn = svc.conn()?;
    owner_in(&mut conn, org, actor, false)?;
    Ok(DomainSettings {
        domains: db::domains::list(&mut conn, org)?,
        restricted: db::domains::restricted(&mut conn, org)?,
    })
}

/// "Add domain": claims `domain` for `org` and mails a 6-digit code to `proof_email`, an
/// address at it that the Owner names (valid 30 minutes, 5 attempts). Adding a domain the
/// organization claims but has not verified sends a new code (at most one a minute). Audited
/// as `domain.added`. Returns the claim's id.
///
/// # Errors
/// [`DomainRefusal`]: not an Owner; an invalid or public domain; an address not at the domain;
/// already verified here or by another organization; a code sent less than a minute ago.
pub fn add(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    domain: &str,
    proof_email: &str,
    now: DateTime<Utc>,
) -> Result<DomainId> {
    let domain = DomainName::parse(domain).map_err(DomainRefusal::InvalidDomain);
    let mut conn = svc.conn()?;
    let id = db::write_transaction(&mut conn, |c| {
        let acting = owner_in(c, org, actor, true)?;
        let domain = domain.clone().or_else(refuse)?;
        let email = proof_address(&domain, proof_email).or_else(refuse)?;
        if db::domains::verified_elsewhere(c, &domain, org)? {
            return refuse(DomainRefusal::VerifiedElsewhere(domain));
        }
        let nonce = TokenNonce::generate();
        let code = NewCode {
            proof_email: &email,
            nonce: &nonce,
            sent_at: now,
            expires_at: now + CODE_TTL,
        };
        let id = match db::domains::find_by_name(c, org, &domain)? {
            Some(existing) if existing.verified => {
                return refuse(DomainRefusal::AlreadyVerified(domain));
            }
            Some(existing) => {
                check_resend(&existing, now)?;
                db::domains::replace_code(c, existing.id, &code)?;
                existing.id
            }
            None => db::domains::insert_pending(c, org, &domain, actor.user.id, &code)?,
        };
        queue_code(c, org, id, &email, now)?;
        let details = format!("code sent to {email}");
        let ctx = acting.audit(actor);
        let action = AuditAction::DomainAdded;
        audit::record(
            c,
            &ctx,
            Some(org),
            action,
            Some(domain.as_str()),
            Some(&details),
            now,
        )?;
        Ok(id)
    })?;
    svc.email_queued();
    Ok(id)
}

/// "Send a new code" for a pending domain, to the address the last one went to.
///
/// # Errors
/// [`DomainRefusal`]: not an Owner; [`DomainRefusal::NotFound`];
/// [`DomainRefusal::NotPending`]; [`DomainRefusal::CodeSentRecently`].
pub fn new_code(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: DomainId,
    now: DateTime<Utc>,
) -> Result<OrgDomain> {
    let mut conn = svc.conn()?;
    let domain = db::write_transaction(&mut conn, |c| {
        owner_in(c, org, actor, true)?;
        let domain = pending(c, org, id)?;
        check_resend(&domain, now)?;
        let nonce = TokenNonce::generate();
        let code = NewCode {
            proof_email: &domain.proof_email,
            nonce: &nonce,
            sent_at: now,
            expires_at: now + CODE_TTL,
        };
        db::domains::replace_code(c, id, &code)?;
        queue_code(c, org, id, &domain.proof_email, now)?;
        Ok::<_, ServiceError<DomainRefusal>>(domain)
    })?;
    svc.email_queued();
    Ok(domain)
}

/// "Verify": checks `code` against the pending domain's current one. A wrong code counts as
/// an attempt (kept even though refused); the fifth wrong one, or 30 minutes, ends the code.
/// A right one verifies the domain (audited as `domain.verified`) unless another organization
/// verified it first.
///
/// # Errors
/// [`DomainRefusal`]: not an Owner; not found; not pending; a malformed, wrong or expired
/// code, or none left; verified elsewhere.
pub fn verify(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: DomainId,
    code: &str,
    now: DateTime<Utc>,
) -> Result<DomainName> {
    let given = VerificationCode::parse(code).map_err(DomainRefusal::MalformedCode);
    let mut conn = svc.conn()?;
    // A wrong code is committed as an attempt, then refused: the transaction says which.
    let checked = db::write_transaction(&mut conn, |c| {
        let acting = owner_in(c, org, actor, true)?;
        let domain = pending(c, org, id)?;
        let given = given.clone().or_else(refuse)?;
        let expected = VerificationCode::derive(&svc.settings.token_key, &domain.nonce);
        if let Err(rejected) = domain.code.check(&given, &expected, now) {
            if matches!(rejected, CodeRejected::Wrong { .. }) {
                db::domains::count_attempt(c, id)?;
            }
            return Ok(Err(rejected));
        }
        if db::domains::verified_elsewhere(c, &domain.domain, org)? {
            return refuse(DomainRefusal::VerifiedElsewhere(domain.domain));
        }
        match db::domains::mark_verified(c, id, now) {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return refuse(DomainRefusal::VerifiedElsewhere(domain.domain));
            }
            Err(e) => return Err(e.into()),
        }
        let ctx = acting.audit(actor);
        let details = format!("proved by a code sent to {}", domain.proof_email);
        let (action, target) = (AuditAction::DomainVerified, Some(domain.domain.as_str()));
        audit::record(c, &ctx, Some(org), action, target, Some(&details), now)?;
        Ok(Ok(domain.domain))
    })?;
    checked.or_else(refuse)
}

/// Sets a verified domain's enrollment mode and default role (at most Editor). Audited as
/// `domain.enrollment_changed`; setting what it has records nothing.
///
/// # Errors
/// [`DomainRefusal`]: not an Owner; not found; not verified; a role above Editor.
pub fn set_enrollment(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: DomainId,
    mode: EnrollmentMode,
    role: Role,
    now: DateTime<Utc>,
) -> Result<OrgDomain> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let acting = owner_in(c, org, actor, true)?;
        check_default_role(role).or_else(refuse)?;
        let Some(domain) = db::domains::find(c, org, id)? else {
            return refuse(DomainRefusal::NotFound);
        };
        if !domain.verified {
            return refuse(DomainRefusal::NotVerified);
        }
        if (domain.enrollment, domain.default_role) != (mode, role) {
            db::domains::set_enrollment(c, id, mode, role)?;
            let ctx = acting.audit(actor);
            let details = format!(
                "{} → {} (default role {} → {role})",
                domain.enrollment, mode, domain.default_role
            );
            let (action, target) = (
                AuditAction::DomainEnrollmentChanged,
                Some(domain.domain.as_str()),
            );
            audit::record(c, &ctx, Some(org), action, target, Some(&details), now)?;
        }
        Ok(OrgDomain {
            enrollment: mode,
            default_role: role,
            ..domain
        })
    })
}

/// The domain with this id, for the "Remove domain" confirmation.
///
/// # Errors
/// [`DomainRefusal`]: not an Owner; not found.
pub fn to_remove(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: DomainId,
) -> Result<OrgDomain> {
    let mut conn = svc.conn()?;
    owner_in(&mut conn, org, actor, false)?;
    db::domains::find(&mut conn, org, id)?.map_or_else(|| refuse(DomainRefusal::NotFound), Ok)
}

/// Removes a domain (pending or verified), audited as `domain.removed`. Members who joined
/// through it stay. When it was the last verified domain of an organization that restricts
/// invitations to verified domains, the restriction is lifted too (it would refuse every
/// address), and the audit trail says so.
///
/// # Errors
/// [`DomainRefusal`]: not an Owner; not found.
pub fn remove(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: DomainId,
    now: DateTime<Utc>,
) -> Result<DomainName> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let acting = owner_in(c, org, actor, true)?;
        let Some(domain) = db::domains::find(c, org, id)? else {
            return refuse(DomainRefusal::NotFound);
        };
        db::domains::delete(c, id)?;
        let mut details = String::from(if domain.verified {
            "verified"
        } else {
            "pending"
        });
        if db::domains::restricted(c, org)? && db::domains::verified(c, org)?.is_empty() {
            db::domains::set_restricted(c, org, false)?;
            details.push_str("; invitations are no longer restricted to verified domains");
        }
        let ctx = acting.audit(actor);
        let (action, target) = (AuditAction::DomainRemoved, Some(domain.domain.as_str()));
        audit::record(c, &ctx, Some(org), action, target, Some(&details), now)?;
        Ok(domain.domain)
    })
}

/// Turns "Invitations and invite links only to verified domains" on or off (audited as
/// `settings.changed`). Turning it on needs a verified domain.
///
/// # Errors
/// [`DomainRefusal`]: not an Owner; [`DomainRefusal::NoVerifiedDomain`].
pub fn set_restricted(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    on: bool,
    now: DateTime<Utc>,
) -> Result<bool> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let acting = owner_in(c, org, actor, true)?;
        if on && db::domains::verified(c, org)?.is_empty() {
            return refuse(DomainRefusal::NoVerifiedDomain);
        }
        if db::domains::restricted(c, org)? != on {
            db::domains::set_restricted(c, org, on)?;
            let ctx = acting.audit(actor);
            let details = if on {
                "invitations and invite links only to verified domains"
            } else {
                "invitations and invite links to any address"
            };
            let action = AuditAction::SettingsChanged;
            audit::record(c, &ctx, Some(org), action, None, Some(details), now)?;
        }
        Ok(on)
    })
}

/// `org`'s rule on whom it may invite, read inside the caller's transaction (after the
/// organization's lock): every way in that names an address (invitations, CSV imports, invite
/// links, join request approval) checks it.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn policy(c: &mut Conn, org: OrganizationId) -> std::result::Result<DomainPolicy, DbError> {
    Ok(DomainPolicy {
        restricted_to: if db::domains::restricted(c, org)? {
            Some(db::domains::verified(c, org)?)
        } else {
            None
        },
    })
}

fn proof_address(
    domain: &DomainName,
    input: &str,
) -> std::result::Result<EmailAddress, DomainRefusal> {
    let at = |e: &EmailAddress| domain.holds(e);
    match EmailAddress::parse(input) {
        Ok(email) if at(&email) => Ok(email),
        Ok(_) => Err(DomainRefusal::InvalidProofEmail(format!(
            "Enter an address at {domain}: the code goes there to prove the organization receives its mail."
        ))),
        Err(e) => Err(DomainRefusal::InvalidProofEmail(format!("Email: {e}."))),
    }
}

fn pending(c: &mut Conn, org: OrganizationId, id: DomainId) -> Result<OrgDomain> {
    match db::domains::find(c, org, id)? {
        None => refuse(DomainRefusal::NotFound),
        Some(d) if d.verified => refuse(DomainRefusal::NotPending),
        Some(d) => Ok(d),
    }
}

fn check_resend(domain: &OrgDomain, now: DateTime<Utc>) -> Result<()> {
    let next = domain.code_sent_at + Duration::seconds(CODE_RESEND_SECONDS);
    if now < next {
        return refuse(DomainRefusal::CodeSentRecently {
            retry_after: super::invitations::seconds_until(next, now),
        });
    }
    Ok(())
}

fn queue_code(
    c: &mut Conn,
    org: OrganizationId,
    id: DomainId,
    to: &EmailAddress,
    now: DateTime<Utc>,
) -> std::result::Result<(), DbError> {
    let payload = serde_json::json!({ "organization_id": org, "domain_id": id }).to_string();
    outbox::enqueue(c, EmailKind::DomainCode, None, to, &payload, now)
}

fn is_unique_violation(e: &DbError) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(
        e,
        DbError::Query(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _))
    )
}

/// An organization a person can join through their address's domain.
#[derive(Debug, Clone)]
pub struct Joinable {
    /// The organization.
    pub organization: Organization,
    /// Its verified domain matching the person's address.
    pub domain: DomainName,
    /// *Suggest* (request) or *Automatic* (join at once).
    pub mode: EnrollmentMode,
    /// The role automatic enrollment gives (and a request suggests).
    pub role: Role,
    /// When the person sent their open request to join it, if they have one.
    pub requested: Option<DateTime<Utc>>,
}

/// "Organizations you can join": those that verified the domain of `actor`'s address (proved
/// when the account was made) with *Suggest* or *Automatic*, that they do not belong to, each
/// with the person's open join request at `now`, if any.
///
/// # Errors
/// Storage failures.
pub fn joinable(
    svc: &Services,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Vec<Joinable>, std::convert::Infallible> {
    let mut conn = svc.conn()?;
    let domain = DomainName::of(&actor.user.email);
    let found = db::domains::joinable(&mut conn, &domain, actor.user.id)?;
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let open = db::join_requests::open_by_user(&mut conn, actor.user.id, now)?;
    Ok(found
        .into_iter()
        .map(|(organization, d)| Joinable {
            requested: open
                .iter()
                .find(|(org, _)| *org == organization.id)
                .map(|(_, at)| *at),
            organization,
            domain: d.domain,
            mode: d.enrollment,
            role: d.default_role,
        })
        .collect())
}

/// Why joining through a domain was refused. `Display` is what the page says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainJoinRefusal {
    /// The organization does not let people at the person's domain join at once (no such
    /// organization, no verified domain of theirs, or not *Automatic*): never say which.
    #[error("This organization does not offer joining with your email address.")]
    NotOffered,
    /// A member already.
    #[error("You are already a member of {0}.")]
    AlreadyMember(String),
    /// No free seat (the joiner learns nothing more about the organization).
    #[error("{}", no_free_seats_for_joiner(.0))]
    NoFreeSeats(String),
}

/// "Join {org}" from "Organizations you can join": `actor` becomes a member of `org` at once,
/// with the default role of its verified domain matching their address, if that domain's mode
/// is *Automatic*. Under the organization's lock, the claim is read again and a seat must be
/// free; the membership, `member.joined` (audited as theirs) and the Owners' "member joined"
/// emails are written together.
///
/// # Errors
/// [`DomainJoinRefusal`]; storage failures.
pub fn join(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    now: DateTime<Utc>,
) -> Result<(Organization, Role), DomainJoinRefusal> {
    let mut conn = svc.conn()?;
    let joined = db::write_transaction(&mut conn, |c| {
        let Some(organization) = db::organizations::find(c, org)? else {
            return refuse(DomainJoinRefusal::NotOffered);
        };
        db::organizations::lock(c, org)?;
        let email = &actor.user.email;
        let claim = db::domains::verified_claim(c, org, &DomainName::of(email))?;
        let Some(claim) = claim.filter(|d| d.enrollment == EnrollmentMode::Automatic) else {
            return refuse(DomainJoinRefusal::NotOffered);
        };
        if db::organizations::membership(c, org, actor.user.id)?.is_some() {
            return refuse(DomainJoinRefusal::AlreadyMember(organization.name));
        }
        let name = organization.name.clone();
        ensure_free::<NoFreeSeats>(c, &organization, 1, now)
            .map_err(|e| e.map_refusal(|_| DomainJoinRefusal::NoFreeSeats(name)))?;
        // Stored roles are at most Editor; checked again so a bad row cannot make an Admin.
        let role = claim
            .default_role
            .min(crate::domain::verified_domain::HIGHEST_DOMAIN_ROLE);
        db::organizations::add_member(c, org, actor.user.id, role, None, None, now)?;
        record_joined(
            c,
            &actor.audit(false),
            &organization,
            &claim,
            actor,
            role,
            now,
        )?;
        Ok((organization, role))
    })?;
    svc.email_queued();
    Ok(joined)
}

fn record_joined(
    c: &mut Conn,
    ctx: &AuditContext,
    organization: &Organization,
    claim: &OrgDomain,
    actor: &Actor,
    role: Role,
    now: DateTime<Utc>,
) -> std::result::Result<(), DbError> {
    let user = &actor.user;
    let details = format!("role {role}; through the verified domain {}", claim.domain);
    let (action, target) = (AuditAction::MemberJoined, Some(user.email.as_str()));
    audit::record(
        c,
        ctx,
        Some(organization.id),
        action,
        target,
        Some(&details),
        now,
    )?;
    let invited_by = format!("verified domain {}", claim.domain);
    outbox::enqueue_member_joined(
        c,
        &JoinedMember {
            organization,
            name: &user.name,
            email: &user.email,
            role,
            invited_by: &invited_by,
        },
        now,
    )
}

#[cfg(test)]
mod tests;
