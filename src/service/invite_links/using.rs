//! Using an invite link (DESIGN.md, "Invite link": single use; "Invitations follow current
//! policy"): one write transaction. The link is read again under its row lock and must still
//! be usable, and its creator must still be able to grant its role (a lapsed creator revokes
//! it, and that is kept while the use is refused); a new account is created for the address
//! its join link proved, which is used up too; the link is marked Used with a conditional
//! update, so of two racing uses exactly one wins and the loser leaves nothing behind — no
//! account, no used join link; then the membership, the audit events and the Owners' "member
//! joined" emails.
//!
//! A "request access" link ("Admins approve who joins", issue 14 §3) is never used up: the same
//! transaction checks the link, its creator and the domain restriction, creates the new
//! account if there is one, and sends a join request (`service::join_requests::submit_in`)
//! instead of adding a member; no seat is taken until the request is approved.

use chrono::{DateTime, Utc};

use super::join::{JoinOutcome, JoinProblem, JoinRefusal, JoinScreen, Member, Requested, unusable};
use super::unusable_now;
use crate::db::audit::{self, AuditContext, RequestMeta};
use crate::db::outbox::{self, JoinedMember};
use crate::db::{self, Conn, DbError};
use crate::domain::audit::AuditAction;
use crate::domain::invitation::{InviterLapsed, check_inviter_may_still_assign};
use crate::domain::invite_link::{InviteLink, InviteLinkDetails, LinkStatus};
use crate::domain::join_request::JoinVia;
use crate::domain::link::{LinkKind, LinkPage, LinkUnusable};
use crate::domain::seats::NoFreeSeats;
use crate::domain::signup::SignupRequest;
use crate::domain::text::{JoinRequestNote, PersonName};
use crate::domain::{EmailAddress, Role, User};
use crate::service::join_requests::{self, RequestRefusal, Submitted};
use crate::service::signup;
use crate::service::{Actor, ServiceError, Services, refuse};

/// Who joins through a link.
#[derive(Debug, Clone)]
pub(super) enum Joiner {
    /// An existing account, proved by its session or its password.
    Existing(User),
    /// A new account for the address that `proof` — a followed join link carrying this invite
    /// link — proved; the proof is used up in the same transaction.
    New {
        /// The join link; its address becomes the account's.
        proof: SignupRequest,
        /// The name.
        name: PersonName,
        /// The password's argon2id hash, computed before the transaction.
        password_hash: String,
    },
}

/// What a use of a link came to, committed.
enum Used {
    /// The account joined.
    Joined(User),
    /// The account is a member already, with this role; nothing was written.
    Member(User, Role),
    /// The creator may no longer grant the link's role: it is revoked for good.
    Lapsed,
    /// The link asks for approval: the account sent a join request (or has one open).
    Requested(User, Submitted),
}

/// Why a use was refused inside its transaction (rolled back).
enum UseRefused {
    /// The invite link (a lost race included).
    Unusable(LinkUnusable),
    /// The join link that proved the new account's address.
    MailedUnusable(LinkUnusable),
    /// The new account's address has an account by now.
    EmailTaken,
    /// The organization is over its seat limit (its name, the only thing the joiner learns).
    NoFreeSeats(String),
    /// The joiner's address is outside the verified domains the organization restricts to.
    OutsideVerifiedDomains(String),
}

/// Uses `link` for `joiner` at `now` ([`use_link`]) — on a "request access" link, sends their
/// join request with `note` — and says what came of it, showing `link`'s page (with
/// `address`, on a join link's page) when refused.
///
/// # Errors
/// [`JoinRefusal`]: the link unusable (a lost race, or its creator lapsed), the join link
/// that proved a new account's address used or expired, or that address taken meanwhile.
pub(super) fn join(
    svc: &Services,
    origin: &RequestMeta,
    link: InviteLinkDetails,
    address: Option<EmailAddress>,
    joiner: Joiner,
    note: Option<&JoinRequestNote>,
    now: DateTime<Utc>,
) -> Result<JoinOutcome, ServiceError<JoinRefusal>> {
    let mut conn = svc.conn()?;
    let used = db::write_transaction(&mut conn, |c| use_link(c, origin, &link, joiner, note, now));
    let used = match used {
        Ok(used) => used,
        Err(e) => {
            return Err(e.map_refusal(|why| match why {
                UseRefused::Unusable(why) => unusable(link, address, LinkKind::InviteLink, why),
                UseRefused::MailedUnusable(why) => unusable(link, address, LinkKind::JoinLink, why),
                UseRefused::EmailTaken => {
                    let page = LinkPage::LogIn;
                    let screen = JoinScreen {
                        link,
                        page,
                        address,
                        requested: None,
                    };
                    JoinRefusal::on(screen, JoinProblem::EmailTaken)
                }
                UseRefused::NoFreeSeats(organization) => {
                    let screen = JoinScreen {
                        link,
                        page: LinkPage::AskEmail,
                        address,
                        requested: None,
                    };
                    JoinRefusal::on(screen, JoinProblem::NoFreeSeats(organization))
                }
                UseRefused::OutsideVerifiedDomains(organization) => {
                    let screen = JoinScreen {
                        link,
                        page: LinkPage::AskEmail,
                        address,
                        requested: None,
                    };
                    let problem = JoinProblem::OutsideVerifiedDomains(organization);
                    JoinRefusal::on(screen, problem)
                }
            }));
        }
    };
    let organization = link.organization.clone();
    match used {
        Used::Joined(user) => {
            svc.email_queued();
            let role = link.link.role;
            Ok(JoinOutcome::Joined(Member {
                user,
                role,
                organization,
            }))
        }
        Used::Member(user, role) => Ok(JoinOutcome::AlreadyMember(Member {
            user,
            role,
            organization,
        })),
        Used::Requested(user, submitted) => {
            if matches!(submitted, Submitted::Sent(_)) {
                svc.email_queued();
            }
            Ok(JoinOutcome::Requested(Requested {
                user,
                organization,
                sent_at: submitted.request().created_at,
                new: matches!(submitted, Submitted::Sent(_)),
            }))
        }
        Used::Lapsed => refuse(unusable(
            link,
            address,
            LinkKind::InviteLink,
            LinkUnusable::Revoked,
        )),
    }
}

/// The transaction of a use (see the module's documentation).
fn use_link(
    c: &mut Conn,
    origin: &RequestMeta,
    link: &InviteLinkDetails,
    joiner: Joiner,
    note: Option<&JoinRequestNote>,
    now: DateTime<Utc>,
) -> std::result::Result<Used, ServiceError<UseRefused>> {
    let id = link.link.id;
    // The organization's lock first (as every way in takes it, DESIGN.md "Seats"), then the
    // link's row: the seat count below holds until the commit.
    let org_id = link.link.organization_id;
    let Some(organization) = db::organizations::find(c, org_id)? else {
        return Err(DbError::Corrupt("invite link of no organization".into()).into());
    };
    db::organizations::lock(c, org_id)?;
    db::invite_links::lock(c, id)?;
    let current = db::invite_links::find_in_org(c, link.link.organization_id, id)?
        .ok_or_else(|| DbError::Corrupt("invite link vanished".into()))?;
    current
        .facts
        .check_usable(now)
        .map_err(UseRefused::Unusable)
        .or_else(refuse)?;
    let creator = db::invite_links::creator(c, &current)?;
    if let Err(lapsed) = check_inviter_may_still_assign(creator, current.role) {
        revoke_lapsed(c, origin, &current, lapsed, now)?;
        return Ok(Used::Lapsed);
    }
    let org = current.organization_id;
    if let Joiner::Existing(user) = &joiner
        && let Some(m) = db::organizations::membership(c, org, user.id)?
    {
        return Ok(Used::Member(user.clone(), m.role));
    }
    // The link holds a seat that becomes the member's: it adds none, but an organization over
    // its limit adds no one (DESIGN.md, "Seats"). A request takes no seat until approved.
    if !current.approval_required {
        crate::service::seats::ensure_free::<NoFreeSeats>(c, &organization, 0, now)
            .map_err(|e| e.map_refusal(|_| UseRefused::NoFreeSeats(organization.name.clone())))?;
    }
    let joining_as = match &joiner {
        Joiner::Existing(user) => &user.email,
        Joiner::New { proof, .. } => &proof.email,
    };
    if crate::service::domains::policy(c, org)?
        .check(joining_as)
        .is_err()
    {
        return refuse(UseRefused::OutsideVerifiedDomains(
            organization.name.clone(),
        ));
    }
    let user = match joiner {
        Joiner::Existing(user) => user,
        Joiner::New {
            proof,
            name,
            password_hash,
        } => {
            if proof.invite_link_id != Some(current.id) {
                let e = DbError::Corrupt("join link for another invite link".into());
                return Err(e.into());
            }
            signup::use_request(c, &proof, now)
                .map_err(|e| e.map_refusal(UseRefused::MailedUnusable))?;
            signup::create_account(c, &proof.email, &name, &password_hash, now)
                .map_err(|e| e.map_refusal(|_| UseRefused::EmailTaken))?
        }
    };
    if current.approval_required {
        let ctx = Actor::new(user.clone(), origin.clone()).audit(false);
        let via = JoinVia::InviteLink(Some(current.id));
        let submitted =
            join_requests::submit_in(c, &ctx, &organization, &user, via, current.role, note, now)
                .map_err(|e| {
                e.map_refusal(|why| match why {
                    RequestRefusal::OutsideVerifiedDomains(org) => {
                        UseRefused::OutsideVerifiedDomains(org)
                    }
                    // Checked above; a note is parsed before the transaction.
                    RequestRefusal::AlreadyMember(_)
                    | RequestRefusal::NotOffered
                    | RequestRefusal::InvalidNote(_) => UseRefused::Unusable(LinkUnusable::Revoked),
                })
            })?;
        return Ok(Used::Requested(user, submitted));
    }
    if !db::invite_links::finish(c, id, LinkStatus::Used, Some(user.id), now)? {
        // Lost a race: roll back (a new account with it) and report the winner's state.
        return refuse(UseRefused::Unusable(unusable_now(c, &current, now)?));
    }
    record_joined(c, origin, link, &current, &user, now)?;
    Ok(Used::Joined(user))
}

/// Revokes `link`, whose creator may no longer grant its role, as the system (committed even
/// though the use is refused: the link is revoked for good, whoever tried it).
fn revoke_lapsed(
    c: &mut Conn,
    origin: &RequestMeta,
    link: &InviteLink,
    lapsed: InviterLapsed,
    now: DateTime<Utc>,
) -> std::result::Result<(), DbError> {
    if db::invite_links::finish(c, link.id, LinkStatus::Revoked, None, now)? {
        let system = AuditContext {
            actor: audit::Actor::system(),
            meta: origin.clone(),
        };
        let details = format!(
            "role {}; {lapsed} (checked when the link was used)",
            link.role
        );
        let action = AuditAction::InviteLinkRevoked;
        let org = link.organization_id;
        db::invite_links::record(c, &system, org, action, link, &details, now)?;
    }
    Ok(())
}

/// The membership `user` gains through `current` (with its creator as inviter), the audit
/// events `invite_link.used` and `member.joined` as theirs, and the Owners' emails.
fn record_joined(
    c: &mut Conn,
    origin: &RequestMeta,
    link: &InviteLinkDetails,
    current: &InviteLink,
    user: &User,
    now: DateTime<Utc>,
) -> std::result::Result<(), DbError> {
    let (org, role) = (current.organization_id, current.role);
    db::organizations::add_member(c, org, user.id, role, Some(current.created_by), None, now)?;
    let ctx = Actor::new(user.clone(), origin.clone()).audit(false);
    let used = format!("role {role}; joined as {} <{}>", user.name, user.email);
    let action = AuditAction::InviteLinkUsed;
    db::invite_links::record(c, &ctx, org, action, current, &used, now)?;
    let creator = &link.creator_name;
    let joined = format!("role {role}; through an invite link created by {creator}");
    let (action, target) = (AuditAction::MemberJoined, Some(user.email.as_str()));
    audit::record(c, &ctx, Some(org), action, target, Some(&joined), now)?;
    let invited_by = format!("{creator} (invite link)");
    outbox::enqueue_member_joined(
        c,
        &JoinedMember {
            organization: &link.organization,
            name: &user.name,
            email: &user.email,
            role,
            invited_by: &invited_by,
        },
        now,
    )
}
