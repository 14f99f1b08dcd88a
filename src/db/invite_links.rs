//! Invite links: creation (the token is returned once and only its SHA-256 stored), the Team
//! page's listing, revocation, and joining through a link.
//!
//! The domain decides (`domain::invite_link`); this module stores the decision. Every
//! transition is one conditional `UPDATE … WHERE status = 'active' AND expires_at > now` whose
//! row count says whether this request won, so of two racing uses exactly one joins. Joining
//! runs in one write transaction — a new account, the link marked Used, the membership, the
//! Owners' "member joined" emails and the audit events — so a lost race or a refusal leaves
//! nothing behind.

use crate::domain::invite_link::{InviteLink, InviteLinkDetails};
use crate::domain::token::LinkToken;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::audit::{self, Actor, AuditContext, RequestMeta};
use super::organizations;
use super::outbox;
use super::schema::{invite_links, users};
use super::signups;
use super::{Conn, DbError, TxError, from_db, parse_stored, to_db};
use crate::domain::User;
use crate::domain::audit::AuditAction;
use crate::domain::invitation::{Inviter, InviterLapsed, check_inviter_may_still_assign};
use crate::domain::invite_link::{
    JoinError, LinkExpiry, LinkFacts, LinkStatus, LinkUnusable, OverLinkLimit, check_link_limit,
};
use crate::domain::signup::SignupRequest;
use crate::domain::text::PersonName;
use crate::domain::{InviteLinkId, OrganizationId, Role, UserId};

/// An `invite_links` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invite_links)]
struct InviteLinkRow {
    id: String,
    organization_id: String,
    role: String,
    created_by: String,
    status: String,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    used_by: Option<String>,
    decided_at: Option<NaiveDateTime>,
}

/// A new `invite_links` row (status defaults to `active`).
#[derive(Debug, Insertable)]
#[diesel(table_name = invite_links)]
struct NewInviteLink<'a> {
    id: String,
    organization_id: String,
    role: &'a str,
    created_by: String,
    token_hash: String,
    status: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

impl TryFrom<InviteLinkRow> for InviteLink {
    type Error = DbError;

    fn try_from(row: InviteLinkRow) -> Result<Self, DbError> {
        Ok(InviteLink {
            id: parse_stored(&row.id, "invite link id")?,
            organization_id: parse_stored(&row.organization_id, "organization id")?,
            role: parse_stored(&row.role, "role")?,
            created_by: parse_stored(&row.created_by, "user id")?,
            facts: LinkFacts {
                status: parse_stored(&row.status, "invite link status")?,
                expires_at: from_db(row.expires_at),
            },
            created_at: from_db(row.created_at),
            used_by: row
                .used_by
                .as_deref()
                .map(|u| parse_stored(u, "user id"))
                .transpose()?,
            decided_at: row.decided_at.map(from_db),
        })
    }
}

/// A row of the Team page's "Invite links": an active, unexpired link.
#[derive(Debug, Clone)]
pub struct InviteLinkListing {
    /// Its id (the Team page links `paths::revoke_invite_link(org, id)`).
    pub id: InviteLinkId,
    /// The role it grants.
    pub role: Role,
    /// Its creator's name.
    pub created_by_name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Creates an active link of `org` granting `role` for `expiry` from `now`, created by `ctx`'s
/// actor `creator`, and records `invite_link.created`, in one transaction. The caller has
/// authorized it (`domain::invitation::authorize_invitation`: `users:invite`, a paid plan,
/// the role within the creator's ceiling).
///
/// The organization's hourly limit of `per_hour` links ([`check_link_limit`]) is checked in
/// the same transaction, after locking the organization, so two requests at once cannot
/// together pass it.
///
/// Returns the link and its token. The token exists only in this return value: show it once.
///
/// # Errors
/// `Ok(Err(OverLinkLimit))` at the limit; [`DbError`] on a failed query. Either way nothing
/// is written.
#[allow(clippy::too_many_arguments)]
pub fn create(
    conn: &mut Conn,
    ctx: &AuditContext,
    org: OrganizationId,
    creator: UserId,
    role: Role,
    expiry: LinkExpiry,
    per_hour: i64,
    now: DateTime<Utc>,
) -> Result<Result<(InviteLink, LinkToken), OverLinkLimit>, DbError> {
    let token = LinkToken::generate();
    let link = InviteLink {
        id: InviteLinkId::new(),
        organization_id: org,
        role,
        created_by: creator,
        facts: LinkFacts {
            status: LinkStatus::Active,
            expires_at: now + expiry.duration(),
        },
        created_at: now,
        used_by: None,
        decided_at: None,
    };
    let result = super::write_transaction(conn, |conn| -> Result<_, TxError<OverLinkLimit>> {
        organizations::lock(conn, org)?;
        let created_last_hour = created_since(conn, org, now - chrono::Duration::hours(1))?;
        check_link_limit(created_last_hour, per_hour).map_err(TxError::Refused)?;
        diesel::insert_into(invite_links::table)
            .values(NewInviteLink {
                id: link.id.to_string(),
                organization_id: org.to_string(),
                role: role.as_str(),
                created_by: creator.to_string(),
                token_hash: token.lookup_hash(),
                status: LinkStatus::Active.as_str(),
                created_at: to_db(now),
                expires_at: to_db(link.facts.expires_at),
            })
            .execute(conn)?;
        let details = format!("role {role}; expires in {}", expiry.label());
        record(
            conn,
            ctx,
            org,
            AuditAction::InviteLinkCreated,
            &link,
            &details,
            now,
        )?;
        Ok(())
    });
    Ok(TxError::settle(result)?.map(|()| (link, token)))
}

/// Appends an invite-link event to `org`'s trail; the target names the link by its id.
fn record(
    conn: &mut Conn,
    ctx: &AuditContext,
    org: OrganizationId,
    action: AuditAction,
    link: &InviteLink,
    details: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let target = format!("invite link {}", link.id);
    audit::record(
        conn,
        ctx,
        Some(org),
        action,
        Some(&target),
        Some(details),
        now,
    )
}

/// `org`'s active, unexpired links, newest first, with their creators' names: the Team page's
/// "Invite links" (role, creator, expiry, Revoke). Used and revoked links are not listed, and
/// neither are links past their expiry, agreeing with what `/join/{token}` enforces.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn list_active(
    conn: &mut Conn,
    org: OrganizationId,
    now: DateTime<Utc>,
) -> Result<Vec<InviteLinkListing>, DbError> {
    let rows: Vec<(String, String, String, NaiveDateTime, NaiveDateTime)> = invite_links::table
        .inner_join(users::table.on(users::id.eq(invite_links::created_by)))
        .filter(invite_links::organization_id.eq(org.to_string()))
        .filter(invite_links::status.eq(LinkStatus::Active.as_str()))
        .filter(invite_links::expires_at.gt(to_db(now)))
        .order((invite_links::created_at.desc(), invite_links::id.asc()))
        .select((
            invite_links::id,
            invite_links::role,
            users::name,
            invite_links::created_at,
            invite_links::expires_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, role, name, created_at, expires_at)| {
            Ok(InviteLinkListing {
                id: parse_stored(&id, "invite link id")?,
                role: parse_stored(&role, "role")?,
                created_by_name: name,
                created_at: from_db(created_at),
                expires_at: from_db(expires_at),
            })
        })
        .collect()
}

/// The link `id` of organization `org`, or `None` — also when it belongs to another
/// organization, so a foreign id is indistinguishable from a missing one (a 404).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find_in_org(
    conn: &mut Conn,
    org: OrganizationId,
    id: InviteLinkId,
) -> Result<Option<InviteLink>, DbError> {
    invite_links::table
        .find(id.to_string())
        .filter(invite_links::organization_id.eq(org.to_string()))
        .select(InviteLinkRow::as_select())
        .first(conn)
        .optional()?
        .map(InviteLink::try_from)
        .transpose()
}

/// The link `id` of organization `org` with its organization and creator's name.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find_details_in_org(
    conn: &mut Conn,
    org: OrganizationId,
    id: InviteLinkId,
) -> Result<Option<InviteLinkDetails>, DbError> {
    find_in_org(conn, org, id)?
        .map(|link| details(conn, link))
        .transpose()
}

/// The link `id` with its organization and creator's name (a mailed link names its invite
/// link by id).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find_details(
    conn: &mut Conn,
    id: InviteLinkId,
) -> Result<Option<InviteLinkDetails>, DbError> {
    let row: Option<InviteLinkRow> = invite_links::table
        .find(id.to_string())
        .select(InviteLinkRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|row| details(conn, InviteLink::try_from(row)?))
        .transpose()
}

/// The link whose token is `token`, with its organization and creator's name.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find_by_token(
    conn: &mut Conn,
    token: &LinkToken,
) -> Result<Option<InviteLinkDetails>, DbError> {
    let row: Option<InviteLinkRow> = invite_links::table
        .filter(invite_links::token_hash.eq(token.lookup_hash()))
        .select(InviteLinkRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|row| details(conn, InviteLink::try_from(row)?))
        .transpose()
}

fn details(conn: &mut Conn, link: InviteLink) -> Result<InviteLinkDetails, DbError> {
    let organization = organizations::find(conn, link.organization_id)?
        .ok_or_else(|| DbError::Corrupt("invite link without organization".into()))?;
    let creator_name: String = users::table
        .find(link.created_by.to_string())
        .select(users::name)
        .first(conn)?;
    Ok(InviteLinkDetails {
        link,
        organization,
        creator_name,
    })
}

/// Whether `link`'s creator may still grant it (DESIGN.md, "Invitations follow current
/// policy"): staff always may; a member only while their current role holds `users:invite`
/// and reaches the link's role; someone no longer a member may not. Reads only.
///
/// # Errors
/// Outer [`DbError`] on a failed query; inner [`InviterLapsed`] saying what the creator lost.
pub fn creator_policy(
    conn: &mut Conn,
    link: &InviteLink,
) -> Result<Result<(), InviterLapsed>, DbError> {
    let is_staff: Option<bool> = users::table
        .find(link.created_by.to_string())
        .select(users::is_staff)
        .first(conn)
        .optional()?;
    let creator = match is_staff {
        None => None,
        Some(true) => Some(Inviter::Staff),
        Some(false) => organizations::membership(conn, link.organization_id, link.created_by)?
            .map(|m| Inviter::Member(m.role)),
    };
    Ok(check_inviter_may_still_assign(creator, link.role))
}

/// Moves an active, unexpired link to `to`. Returns whether this request won.
fn finish(
    conn: &mut Conn,
    id: InviteLinkId,
    to: LinkStatus,
    used_by: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = diesel::update(
        invite_links::table
            .find(id.to_string())
            .filter(invite_links::status.eq(LinkStatus::Active.as_str()))
            .filter(invite_links::expires_at.gt(to_db(now))),
    )
    .set((
        invite_links::status.eq(to.as_str()),
        invite_links::used_by.eq(used_by.map(|u| u.to_string())),
        invite_links::decided_at.eq(Some(to_db(now))),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Why the link `id` is unusable now, after a conditional update lost to another request.
fn unusable_now(
    conn: &mut Conn,
    link: &InviteLink,
    now: DateTime<Utc>,
) -> Result<LinkUnusable, DbError> {
    let after = find_in_org(conn, link.organization_id, link.id)?
        .ok_or_else(|| DbError::Corrupt("invite link vanished".into()))?;
    Ok(after
        .facts
        .check_usable(now)
        .err()
        .unwrap_or(LinkUnusable::Used))
}

/// Revokes `link` (one conditional update) and records `invite_link.revoked` as `ctx`'s, in
/// one transaction. Its token stops working at once.
///
/// # Errors
/// Outer [`DbError`] on a failed query; inner [`LinkUnusable`] when it was already used,
/// revoked or expired (nothing is written).
pub fn revoke(
    conn: &mut Conn,
    ctx: &AuditContext,
    link: &InviteLink,
    now: DateTime<Utc>,
) -> Result<Result<(), LinkUnusable>, DbError> {
    if let Err(why) = link.facts.check_revoke(now) {
        return Ok(Err(why));
    }
    super::write_transaction(conn, |conn| {
        if !finish(conn, link.id, LinkStatus::Revoked, None, now)? {
            return Ok(Err(unusable_now(conn, link, now)?));
        }
        let details = format!("role {}", link.role);
        record(
            conn,
            ctx,
            link.organization_id,
            AuditAction::InviteLinkRevoked,
            link,
            &details,
            now,
        )?;
        Ok(Ok(()))
    })
}

/// Revokes every active link `creator` made for `org`, recording `reason` in the audit trail
/// (a member who is removed, leaves or loses `users:invite` leaves no live links behind;
/// using one checks the creator's standing again anyway). Returns how many were revoked.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn revoke_all_by_creator(
    conn: &mut Conn,
    ctx: &AuditContext,
    org: OrganizationId,
    creator: UserId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<usize, DbError> {
    let active: Vec<InviteLinkRow> = invite_links::table
        .filter(invite_links::organization_id.eq(org.to_string()))
        .filter(invite_links::created_by.eq(creator.to_string()))
        .filter(invite_links::status.eq(LinkStatus::Active.as_str()))
        .filter(invite_links::expires_at.gt(to_db(now)))
        .select(InviteLinkRow::as_select())
        .load(conn)?;
    let mut revoked = 0;
    for row in active {
        let link = InviteLink::try_from(row)?;
        if finish(conn, link.id, LinkStatus::Revoked, None, now)? {
            revoked += 1;
            let details = format!("role {}; {reason}", link.role);
            record(
                conn,
                ctx,
                org,
                AuditAction::InviteLinkRevoked,
                &link,
                &details,
                now,
            )?;
        }
    }
    Ok(revoked)
}

/// Who joins through a link.
#[derive(Debug, Clone)]
pub enum Joiner {
    /// An existing account, proved by its session or its password.
    Existing(User),
    /// A new account, created in the same transaction, for the address that `proof` — a
    /// followed mailed link carrying this invite link — proved (DESIGN.md, Security rules:
    /// every way in proves the person's email before an account is bound to it). The proof
    /// is used up in the same transaction too.
    New {
        /// The mailed link that proved the address; its email becomes the account's.
        proof: SignupRequest,
        /// Its name.
        name: PersonName,
        /// Its argon2id hash, computed off the async workers.
        password_hash: String,
    },
}

/// What joining through a link came to.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The account that joined (new or existing).
    pub user: User,
    /// The role it joined with.
    pub role: Role,
}

/// Locks a link's row until the transaction ends (PostgreSQL; on SQLite the immediate write
/// transaction already admits one writer). Two new accounts racing for one link would
/// otherwise both insert before either marks it used.
fn lock_link(conn: &mut Conn, id: InviteLinkId) -> Result<(), DbError> {
    if let Conn::Postgresql(pg) = conn {
        invite_links::table
            .find(id.to_string())
            .select(invite_links::id)
            .for_update()
            .first::<String>(pg)
            .optional()?;
    }
    Ok(())
}

/// The audit trail's name for an account: "Name <email>".
fn actor(user: &User) -> Actor {
    Actor {
        user_id: Some(user.id),
        label: format!("{} <{}>", user.name, user.email),
        is_staff: false,
    }
}

/// Joins `details`' organization through its link at `now`, in one write transaction:
/// re-reads the link (it must be active and unexpired, and its creator must still be able to
/// grant its role), for [`Joiner::New`] uses up its mailed link (one conditional update) and
/// creates the account with the address it proved, marks the link Used with a
/// conditional update (of two racing uses exactly one wins), creates the membership with the
/// link's role and its creator as inviter, queues "member joined" emails to the Owners who
/// want them, and records `invite_link.used` and `member.joined` as the joiner's, with the
/// request's origin from `meta`.
///
/// A creator who may no longer grant the role makes the link Revoked, and that is kept
/// (committed) while the use is refused — before any account is made.
///
/// # Errors
/// Outer [`DbError`] on a failed query (everything rolled back). Inner [`JoinError`] when the
/// rules refuse: the link is unusable (a lost race included), the existing account is already
/// a member (the link is not used up), the new account's mailed link is used or expired, or
/// its email is taken (nothing is written).
pub fn use_link(
    conn: &mut Conn,
    meta: &RequestMeta,
    details: &InviteLinkDetails,
    joiner: Joiner,
    now: DateTime<Utc>,
) -> Result<Result<Joined, JoinError>, DbError> {
    let link = &details.link;
    let result = super::write_transaction(conn, |conn| -> Result<_, TxError<JoinError>> {
        lock_link(conn, link.id)?;
        let current = find_in_org(conn, link.organization_id, link.id)?
            .ok_or_else(|| DbError::Corrupt("invite link vanished".into()))?;
        if let Err(why) = current.facts.check_usable(now) {
            return Ok(Err(JoinError::Unusable(why)));
        }
        if let Err(lapsed) = creator_policy(conn, &current)? {
            // Committed: the link is revoked for good, whoever tried it.
            if finish(conn, current.id, LinkStatus::Revoked, None, now)? {
                let system = AuditContext {
                    actor: Actor::system(),
                    meta: meta.clone(),
                };
                let details = format!(
                    "role {}; {lapsed} (checked when the link was used)",
                    current.role
                );
                record(
                    conn,
                    &system,
                    current.organization_id,
                    AuditAction::InviteLinkRevoked,
                    &current,
                    &details,
                    now,
                )?;
            }
            return Ok(Err(JoinError::Unusable(LinkUnusable::Revoked)));
        }
        let org = current.organization_id;
        let user = match joiner {
            Joiner::Existing(user) => {
                if let Some(m) = organizations::membership(conn, org, user.id)? {
                    return Ok(Err(JoinError::AlreadyMember(m.role)));
                }
                user
            }
            Joiner::New {
                proof,
                name,
                password_hash,
            } => {
                if proof.invite_link_id != Some(current.id) {
                    return Err(
                        DbError::Corrupt("mailed link for another invite link".into()).into(),
                    );
                }
                if let Err(why) = signups::use_request(conn, &proof, now)? {
                    return Ok(Err(JoinError::MailedLinkUnusable(why)));
                }
                let email = &proof.email;
                if super::users::email_exists(conn, email)? {
                    // Rolls the mailed link's use back: it may still log in and join.
                    return Err(TxError::Refused(JoinError::EmailTaken));
                }
                let id = match super::users::insert(conn, email, &name, &password_hash, false, now)
                {
                    Ok(id) => id,
                    // Another request took the address a moment ago (PostgreSQL, another link).
                    Err(DbError::Query(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    ))) => return Err(TxError::Refused(JoinError::EmailTaken)),
                    Err(e) => return Err(e.into()),
                };
                super::users::find(conn, id)?
                    .ok_or_else(|| DbError::Corrupt("new user vanished".into()))?
            }
        };
        if !finish(conn, current.id, LinkStatus::Used, Some(user.id), now)? {
            // Lost a race: roll back (a new account with it) and report the winner's state.
            let why = unusable_now(conn, &current, now)?;
            return Err(TxError::Refused(JoinError::Unusable(why)));
        }
        organizations::add_member(
            conn,
            org,
            user.id,
            current.role,
            Some(current.created_by),
            None,
            now,
        )?;
        let ctx = AuditContext {
            actor: actor(&user),
            meta: meta.clone(),
        };
        let used = format!(
            "role {}; joined as {} <{}>",
            current.role, user.name, user.email
        );
        record(
            conn,
            &ctx,
            org,
            AuditAction::InviteLinkUsed,
            &current,
            &used,
            now,
        )?;
        let joined = format!(
            "role {}; through an invite link created by {}",
            current.role, details.creator_name
        );
        audit::record(
            conn,
            &ctx,
            Some(org),
            AuditAction::MemberJoined,
            Some(user.email.as_str()),
            Some(&joined),
            now,
        )?;
        let invited_by = format!("{} (invite link)", details.creator_name);
        outbox::enqueue_member_joined(
            conn,
            &outbox::JoinedMember {
                organization: &details.organization,
                name: &user.name,
                email: &user.email,
                role: current.role,
                invited_by: &invited_by,
            },
            now,
        )?;
        Ok(Ok(Joined {
            user,
            role: current.role,
        }))
    });
    Ok(TxError::settle(result)?.and_then(|inner| inner))
}

/// How many links `org` created since `since` (for the per-organization rate limit, which
/// links share in spirit with invitations: `invitations_per_hour`).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn created_since(
    conn: &mut Conn,
    org: OrganizationId,
    since: DateTime<Utc>,
) -> Result<i64, DbError> {
    Ok(invite_links::table
        .filter(invite_links::organization_id.eq(org.to_string()))
        .filter(invite_links::created_at.gt(to_db(since)))
        .count()
        .get_result(conn)?)
}

/// When the hourly limit's window next has room: an hour after the oldest link `org`
/// created since `now` minus an hour (`None` when it created none). For `Retry-After`.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn hourly_window_reopens(
    conn: &mut Conn,
    org: OrganizationId,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DbError> {
    let oldest: Option<chrono::NaiveDateTime> = invite_links::table
        .filter(invite_links::organization_id.eq(org.to_string()))
        .filter(invite_links::created_at.gt(to_db(now - chrono::Duration::hours(1))))
        .select(diesel::dsl::min(invite_links::created_at))
        .first(conn)?;
    Ok(oldest.map(|t| super::from_db(t) + chrono::Duration::hours(1)))
}
