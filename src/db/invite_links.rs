//! Invite links: storing a new one (only its token's SHA-256), the Team page's listing, the
//! look-ups their pages need, who their creator is now, and the conditional update that ends
//! one.
//!
//! The rules are the service's (`service::invite_links`); this module loads and stores. Every
//! transition is one conditional `UPDATE … WHERE status = 'active' AND expires_at > now`
//! ([`finish`]) whose row count says whether this request won, so of two racing uses exactly
//! one joins.

use crate::domain::invite_link::{InviteLink, InviteLinkDetails};
use crate::domain::token::LinkToken;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditContext};
use super::links::{hourly_window, link_lookups, row_lock};
use super::models::row_structs;
use super::organizations;
use super::schema::{invite_links, users};
use super::{Conn, DbError, from_db, parse_stored, to_db};
use crate::domain::audit::AuditAction;
use crate::domain::invitation::Inviter;
use crate::domain::invite_link::{LinkFacts, LinkStatus};
use crate::domain::{InviteLinkId, OrganizationId, Role, UserId};

row_structs! {
    /// A new `invite_links` row (status defaults to `active`).
    InviteLinkRow, NewInviteLink for invite_links {
        organization_id: String => String,
        role: String => &'a str,
        created_by: String => String,
        token_hash: String => String,
        status: String => &'a str,
        created_at: NaiveDateTime => NaiveDateTime,
        expires_at: NaiveDateTime => NaiveDateTime,
        used_by: Option<String>,
        decided_at: Option<NaiveDateTime>,
        approval_required: bool => bool,
    }
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
            approval_required: row.approval_required,
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
    /// "Admins approve who joins": it sends join requests rather than joining.
    pub approval_required: bool,
}

/// Stores `link`, new and active, with the SHA-256 of its `token` (never the token).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn insert(conn: &mut Conn, link: &InviteLink, token: &LinkToken) -> Result<(), DbError> {
    diesel::insert_into(invite_links::table)
        .values(NewInviteLink {
            id: link.id.to_string(),
            organization_id: link.organization_id.to_string(),
            role: link.role.as_str(),
            created_by: link.created_by.to_string(),
            token_hash: token.lookup_hash(),
            status: LinkStatus::Active.as_str(),
            created_at: to_db(link.created_at),
            expires_at: to_db(link.facts.expires_at),
            approval_required: link.approval_required,
        })
        .execute(conn)?;
    Ok(())
}

/// Appends an invite-link event to `org`'s trail; the target names the link by its id.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn record(
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
    type Listed = (String, String, String, NaiveDateTime, NaiveDateTime, bool);
    let rows: Vec<Listed> = invite_links::table
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
            invite_links::approval_required,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(
            |(id, role, name, created_at, expires_at, approval_required)| {
                Ok(InviteLinkListing {
                    id: parse_stored(&id, "invite link id")?,
                    role: parse_stored(&role, "role")?,
                    created_by_name: name,
                    created_at: from_db(created_at),
                    expires_at: from_db(expires_at),
                    approval_required,
                })
            },
        )
        .collect()
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

/// Who `link`'s creator is now, as an inviter: staff, a member with their current role, or
/// `None` when they are no longer a member (DESIGN.md, "Invitations follow current policy").
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn creator(conn: &mut Conn, link: &InviteLink) -> Result<Option<Inviter>, DbError> {
    super::links::inviter_now(conn, link.organization_id, link.created_by)
}

/// Moves an active, unexpired link to `to` (one conditional update). Returns whether this
/// request won.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn finish(
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

row_lock!(invite_links, InviteLinkId);
hourly_window!(invite_links);
link_lookups!(
    invite_links,
    InviteLinkRow => InviteLink,
    InviteLinkDetails,
    InviteLinkId,
    InviteLinkId
);
