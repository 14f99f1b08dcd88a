//! Join requests (issue 14 §3): storing one, the Team page's list of open ones, the look-ups
//! their pages need, and the conditional update that answers one.
//!
//! The rules are `service::join_requests`'; this module loads and stores. An answer is one
//! `UPDATE … WHERE status = 'pending' AND expires_at > now` ([`decide`]) whose row count says
//! whether this request won, so of two Owners answering at once exactly one does. The partial
//! unique index `join_requests_one_open` keeps one pending request per person and
//! organization even under races.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::models::row_structs;
use super::schema::{join_requests, memberships, users};
use super::{Conn, DbError, from_db, parse_stored, to_db};
use crate::domain::join_request::{JoinRequest, JoinRequestStatus, JoinVia};
use crate::domain::verified_domain::DomainName;
use crate::domain::{EmailAddress, JoinRequestId, OrganizationId, Role, UserId};

row_structs! {
    /// A new `join_requests` row.
    JoinRequestRow, NewJoinRequest for join_requests {
        organization_id: String => String,
        user_id: String => String,
        invite_link_id: Option<String> => Option<String>,
        domain: Option<String> => Option<String>,
        note: String => &'a str,
        status: String => &'a str,
        created_at: NaiveDateTime => NaiveDateTime,
        expires_at: NaiveDateTime => NaiveDateTime,
        decided_by: Option<String>,
        decided_at: Option<NaiveDateTime>,
        role: Option<String> => Option<&'a str>,
    }
}

fn request_of(row: JoinRequestRow, name: String, email: String) -> Result<JoinRequest, DbError> {
    let via = match (row.invite_link_id, row.domain) {
        (_, Some(domain)) => JoinVia::Domain(
            DomainName::parse(&domain)
                .map_err(|_| DbError::Corrupt(format!("stored domain {domain:?}")))?,
        ),
        (link, None) => JoinVia::InviteLink(
            link.as_deref()
                .map(|l| parse_stored(l, "invite link id"))
                .transpose()?,
        ),
    };
    Ok(JoinRequest {
        id: parse_stored(&row.id, "join request id")?,
        organization_id: parse_stored(&row.organization_id, "organization id")?,
        user_id: parse_stored(&row.user_id, "user id")?,
        name,
        email: EmailAddress::from_trusted(email),
        via,
        note: row.note,
        status: parse_stored(&row.status, "join request status")?,
        created_at: from_db(row.created_at),
        expires_at: from_db(row.expires_at),
        suggested_role: row
            .role
            .as_deref()
            .map_or(Ok(Role::Viewer), |r| parse_stored(r, "role"))?,
    })
}

/// Stores `request`, new and pending; its `suggested_role` is stored as the request's role
/// until an approval writes the role granted.
///
/// # Errors
/// [`DbError`] on a failed query — a unique violation when the person has an open request
/// for the organization already.
pub fn insert(conn: &mut Conn, request: &JoinRequest) -> Result<(), DbError> {
    let (invite_link_id, domain) = match &request.via {
        JoinVia::InviteLink(link) => (link.map(|l| l.to_string()), None),
        JoinVia::Domain(domain) => (None, Some(domain.to_string())),
    };
    diesel::insert_into(join_requests::table)
        .values(NewJoinRequest {
            id: request.id.to_string(),
            organization_id: request.organization_id.to_string(),
            user_id: request.user_id.to_string(),
            invite_link_id,
            domain,
            note: &request.note,
            status: JoinRequestStatus::Pending.as_str(),
            created_at: to_db(request.created_at),
            expires_at: to_db(request.expires_at),
            role: Some(request.suggested_role.as_str()),
        })
        .execute(conn)?;
    Ok(())
}

type Loaded = (JoinRequestRow, String, String);

/// The request `id` of `org`, whatever its state, with the requester's name and address.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find_in_org(
    conn: &mut Conn,
    org: OrganizationId,
    id: JoinRequestId,
) -> Result<Option<JoinRequest>, DbError> {
    let row: Option<Loaded> = join_requests::table
        .inner_join(users::table)
        .filter(join_requests::id.eq(id.to_string()))
        .filter(join_requests::organization_id.eq(org.to_string()))
        .select((JoinRequestRow::as_select(), users::name, users::email))
        .first(conn)
        .optional()?;
    row.map(|(r, name, email)| request_of(r, name, email))
        .transpose()
}

/// `user`'s open request for `org` at `now`, if any.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn open_for(
    conn: &mut Conn,
    org: OrganizationId,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<Option<JoinRequest>, DbError> {
    let row: Option<Loaded> = join_requests::table
        .inner_join(users::table)
        .filter(join_requests::organization_id.eq(org.to_string()))
        .filter(join_requests::user_id.eq(user.to_string()))
        .filter(join_requests::status.eq(JoinRequestStatus::Pending.as_str()))
        .filter(join_requests::expires_at.gt(to_db(now)))
        .select((JoinRequestRow::as_select(), users::name, users::email))
        .first(conn)
        .optional()?;
    row.map(|(r, name, email)| request_of(r, name, email))
        .transpose()
}

/// When `user` sent each of their open requests at `now`, by organization (for
/// "Organizations you can join").
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn open_by_user(
    conn: &mut Conn,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<Vec<(OrganizationId, DateTime<Utc>)>, DbError> {
    let rows: Vec<(String, NaiveDateTime)> = join_requests::table
        .filter(join_requests::user_id.eq(user.to_string()))
        .filter(join_requests::status.eq(JoinRequestStatus::Pending.as_str()))
        .filter(join_requests::expires_at.gt(to_db(now)))
        .select((join_requests::organization_id, join_requests::created_at))
        .load(conn)?;
    rows.into_iter()
        .map(|(org, at)| Ok((parse_stored(&org, "organization id")?, from_db(at))))
        .collect()
}

/// `org`'s open requests at `now` from people who are not members, oldest first, at most
/// `limit` of them, and how many there are in all: the Team page's "Join requests".
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn list_open(
    conn: &mut Conn,
    org: OrganizationId,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<(Vec<JoinRequest>, i64), DbError> {
    let open = || {
        let members = memberships::table
            .filter(memberships::organization_id.eq(org.to_string()))
            .select(memberships::user_id);
        join_requests::table
            .inner_join(users::table)
            .filter(join_requests::organization_id.eq(org.to_string()))
            .filter(join_requests::status.eq(JoinRequestStatus::Pending.as_str()))
            .filter(join_requests::expires_at.gt(to_db(now)))
            .filter(join_requests::user_id.ne_all(members))
    };
    let total: i64 = open().count().get_result(conn)?;
    if total == 0 {
        // The usual case: one indexed count, no join.
        return Ok((Vec::new(), 0));
    }
    let rows: Vec<Loaded> = open()
        .order((join_requests::created_at.asc(), join_requests::id.asc()))
        .limit(limit)
        .select((JoinRequestRow::as_select(), users::name, users::email))
        .load(conn)?;
    let requests = rows
        .into_iter()
        .map(|(r, name, email)| request_of(r, name, email))
        .collect::<Result<_, _>>()?;
    Ok((requests, total))
}

/// Writes Expired onto `user`'s pending requests for `org` that are past their time at `now`
/// (before a new request, which the one-open-request index would otherwise refuse). Returns
/// how many.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn expire_overdue_for(
    conn: &mut Conn,
    org: OrganizationId,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        join_requests::table
            .filter(join_requests::organization_id.eq(org.to_string()))
            .filter(join_requests::user_id.eq(user.to_string()))
            .filter(join_requests::status.eq(JoinRequestStatus::Pending.as_str()))
            .filter(join_requests::expires_at.le(to_db(now))),
    )
    .set((
        join_requests::status.eq(JoinRequestStatus::Expired.as_str()),
        join_requests::decided_at.eq(Some(to_db(now))),
    ))
    .execute(conn)?)
}

/// Writes Expired onto every pending request past its time at `now` (the maintenance sweep;
/// expiry already holds without it). Returns how many.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn expire_all_overdue(conn: &mut Conn, now: DateTime<Utc>) -> Result<usize, DbError> {
    Ok(diesel::update(
        join_requests::table
            .filter(join_requests::status.eq(JoinRequestStatus::Pending.as_str()))
            .filter(join_requests::expires_at.le(to_db(now))),
    )
    .set((
        join_requests::status.eq(JoinRequestStatus::Expired.as_str()),
        join_requests::decided_at.eq(Some(to_db(now))),
    ))
    .execute(conn)?)
}

/// Answers the open request `id`: moves it from pending (and unexpired at `now`) to `to`, by
/// `by`, with the `role` granted on approval (one conditional update). Returns whether this
/// request won.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn decide(
    conn: &mut Conn,
    id: JoinRequestId,
    to: JoinRequestStatus,
    by: UserId,
    role: Option<Role>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let target = join_requests::table
        .find(id.to_string())
        .filter(join_requests::status.eq(JoinRequestStatus::Pending.as_str()))
        .filter(join_requests::expires_at.gt(to_db(now)));
    let decided = (
        join_requests::status.eq(to.as_str()),
        join_requests::decided_by.eq(Some(by.to_string())),
        join_requests::decided_at.eq(Some(to_db(now))),
    );
    let n = match role {
        Some(role) => diesel::update(target)
            .set((decided, join_requests::role.eq(Some(role.as_str()))))
            .execute(conn)?,
        None => diesel::update(target).set(decided).execute(conn)?,
    };
    Ok(n == 1)
}

/// The addresses of `org`'s Owners and Admins: who is emailed about a new request.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn approvers(conn: &mut Conn, org: OrganizationId) -> Result<Vec<EmailAddress>, DbError> {
    let roles = [Role::Owner.as_str(), Role::Admin.as_str()];
    Ok(memberships::table
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .filter(memberships::organization_id.eq(org.to_string()))
        .filter(memberships::role.eq_any(roles))
        .order(users::email.asc())
        .select(users::email)
        .load::<String>(conn)?
        .into_iter()
        .map(EmailAddress::from_trusted)
        .collect())
}
