//! Organizations and their memberships.

use crate::domain::{MemberListing, Membership, Organization};
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::models::{MembershipRow, NewMembership, NewOrganization, OrganizationRow};
use super::schema::{memberships, organizations, users};
use super::{Conn, DbError, from_db, parse_stored, to_db};
use crate::domain::text::OrganizationName;
use crate::domain::{EmailAddress, MembershipId, OrganizationId, Plan, Role, UserId};

impl TryFrom<OrganizationRow> for Organization {
    type Error = DbError;

    fn try_from(row: OrganizationRow) -> Result<Self, DbError> {
        Ok(Organization {
            id: parse_stored(&row.id, "organization id")?,
            name: row.name,
            plan: parse_stored(&row.plan, "plan")?,
            version: row.version,
        })
    }
}

impl TryFrom<MembershipRow> for Membership {
    type Error = DbError;

    fn try_from(row: MembershipRow) -> Result<Self, DbError> {
        Ok(Membership {
            id: parse_stored(&row.id, "membership id")?,
            organization_id: parse_stored(&row.organization_id, "organization id")?,
            user_id: parse_stored(&row.user_id, "user id")?,
            role: parse_stored(&row.role, "role")?,
            notify_on_join: row.notify_on_join,
        })
    }
}

/// Serializes writes that must see one organization's latest state (its Owner count, its
/// invitations of the last hour) until the transaction ends: on PostgreSQL `SELECT … FOR NO
/// KEY UPDATE` on its row — which holders of this lock wait for, but inserts of rows that
/// reference the organization (a membership on acceptance, say) do not, so acceptance never
/// deadlocks against a bulk invitation; on SQLite, where `BEGIN IMMEDIATE` already admits one
/// writer, nothing. Call it first inside a write transaction, before any other row is written.
///
/// # Errors
/// [`DbError`] on a failed query, or when the organization does not exist (PostgreSQL).
pub fn lock(conn: &mut Conn, org: OrganizationId) -> Result<(), DbError> {
    if let Conn::Postgresql(pg) = conn {
        organizations::table
            .find(org.to_string())
            .select(organizations::id)
            .for_no_key_update()
            .first::<String>(pg)?;
    }
    Ok(())
}

/// The organization with this id, if any.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find(conn: &mut Conn, id: OrganizationId) -> Result<Option<Organization>, DbError> {
    super::on_backend!(conn, |c| organizations::table
        .find(id.to_string())
        .select(OrganizationRow::as_select())
        .first(c)
        .optional())?
    .map(Organization::try_from)
    .transpose()
}

/// Creates an organization and returns it.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn insert(
    conn: &mut Conn,
    name: &OrganizationName,
    plan: Plan,
    now: DateTime<Utc>,
) -> Result<Organization, DbError> {
    let id = OrganizationId::new();
    diesel::insert_into(organizations::table)
        .values(NewOrganization {
            id: id.to_string(),
            name: name.as_str(),
            plan: plan.as_str(),
            created_at: to_db(now),
        })
        .execute(conn)?;
    Ok(Organization {
        id,
        name: name.as_str().to_owned(),
        plan,
        version: 0,
    })
}

/// The organization with exactly this name, if any (oldest first when several share it).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find_by_name(conn: &mut Conn, name: &str) -> Result<Option<Organization>, DbError> {
    organizations::table
        .filter(organizations::name.eq(name))
        .order(organizations::created_at.asc())
        .select(OrganizationRow::as_select())
        .first(conn)
        .optional()?
        .map(Organization::try_from)
        .transpose()
}

/// `user`'s membership of `org`, if any.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn membership(
    conn: &mut Conn,
    org: OrganizationId,
    user: UserId,
) -> Result<Option<Membership>, DbError> {
    super::on_backend!(conn, |c| memberships::table
        .filter(memberships::organization_id.eq(org.to_string()))
        .filter(memberships::user_id.eq(user.to_string()))
        .select(MembershipRow::as_select())
        .first(c)
        .optional())?
    .map(Membership::try_from)
    .transpose()
}

/// Whether the account with `email` is a member of `org`.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn is_member_by_email(
    conn: &mut Conn,
    org: OrganizationId,
    email: &EmailAddress,
) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        memberships::table
            .inner_join(users::table.on(users::id.eq(memberships::user_id)))
            .filter(memberships::organization_id.eq(org.to_string()))
            .filter(users::email.eq(email.as_str())),
    ))
    .get_result(conn)?)
}

/// Adds `user` to `org` with `role` and, from a CSV import, a `department`, and writes the
/// `member.added` webhook event in the same transaction — every way in comes through here.
///
/// # Errors
/// [`DbError::Query`] with a unique violation if already a member.
pub fn add_member(
    conn: &mut Conn,
    org: OrganizationId,
    user: UserId,
    role: Role,
    invited_by: Option<UserId>,
    department: Option<&str>,
    now: DateTime<Utc>,
) -> Result<MembershipId, DbError> {
    let id = MembershipId::new();
    let invited_by = invited_by.map(|u| u.to_string());
    diesel::insert_into(memberships::table)
        .values(NewMembership {
            id: id.to_string(),
            organization_id: &org.to_string(),
            user_id: &user.to_string(),
            role: role.as_str(),
            invited_by: invited_by.as_deref(),
            notify_on_join: true,
            created_at: to_db(now),
            department,
        })
        .execute(conn)?;
    let added = crate::domain::webhook::EventType::MemberAdded;
    super::webhooks::emit_member(conn, org, user, added, role, None, now)?;
    Ok(id)
}

/// Sets a membership's role (used by the CLI to make an existing user an organization's Owner).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn set_role(conn: &mut Conn, id: MembershipId, role: Role) -> Result<(), DbError> {
    diesel::update(memberships::table.find(id.to_string()))
        .set(memberships::role.eq(role.as_str()))
        .execute(conn)?;
    Ok(())
}

/// Sets "Notify me when team members join" on a membership.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn set_notify_on_join(conn: &mut Conn, id: MembershipId, on: bool) -> Result<(), DbError> {
    diesel::update(memberships::table.find(id.to_string()))
        .set(memberships::notify_on_join.eq(on))
        .execute(conn)?;
    Ok(())
}

/// How many members `org` has.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn member_count(conn: &mut Conn, org: OrganizationId) -> Result<i64, DbError> {
    Ok(memberships::table
        .filter(memberships::organization_id.eq(org.to_string()))
        .count()
        .get_result(conn)?)
}

/// The names of the accounts `ids`, by id.
pub(super) fn names(conn: &mut Conn, ids: &[&str]) -> Result<HashMap<String, String>, DbError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect())
}

/// Members table rows of `rows` (a membership with its user's name and email), with their
/// inviters' names looked up for these rows only.
pub(super) fn member_listings(
    conn: &mut Conn,
    rows: Vec<(MembershipRow, String, String)>,
) -> Result<Vec<MemberListing>, DbError> {
    let inviter_ids: Vec<&str> = rows
        .iter()
        .filter_map(|(m, _, _)| m.invited_by.as_deref())
        .collect();
    let inviter_names = names(conn, &inviter_ids)?;
    rows.into_iter()
        .map(|(m, name, email)| {
            Ok(MemberListing {
                membership_id: parse_stored(&m.id, "membership id")?,
                user_id: parse_stored(&m.user_id, "user id")?,
                role: parse_stored(&m.role, "role")?,
                joined_at: from_db(m.created_at),
                invited_by: m
                    .invited_by
                    .as_ref()
                    .and_then(|id| inviter_names.get(id).cloned()),
                department: m.department,
                name,
                email,
            })
        })
        .collect()
}

/// `org`'s members for the Team page, by role (highest first) then name.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn list_members(conn: &mut Conn, org: OrganizationId) -> Result<Vec<MemberListing>, DbError> {
    let rows: Vec<(MembershipRow, String, String)> = memberships::table
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .filter(memberships::organization_id.eq(org.to_string()))
        .select((MembershipRow::as_select(), users::name, users::email))
        .load(conn)?;
    let mut members = member_listings(conn, rows)?;
    members.sort_by(|a, b| {
        b.role
            .cmp(&a.role)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    Ok(members)
}

/// Membership `id` of `org` as the Members table shows it, if there is one.
///
/// # Errors
/// [`DbError`] on a failed query or a stored value that does not parse.
pub fn member_listing(
    conn: &mut Conn,
    org: OrganizationId,
    id: MembershipId,
) -> Result<Option<MemberListing>, DbError> {
    let row: Option<(MembershipRow, String, String)> = memberships::table
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .filter(memberships::organization_id.eq(org.to_string()))
        .filter(memberships::id.eq(id.to_string()))
        .select((MembershipRow::as_select(), users::name, users::email))
        .first(conn)
        .optional()?;
    let Some((m, name, email)) = row else {
        return Ok(None);
    };
    let invited_by = match &m.invited_by {
        Some(inviter) => users::table
            .find(inviter)
            .select(users::name)
            .first::<String>(conn)
            .optional()?,
        None => None,
    };
    Ok(Some(MemberListing {
        membership_id: parse_stored(&m.id, "membership id")?,
        user_id: parse_stored(&m.user_id, "user id")?,
        role: parse_stored(&m.role, "role")?,
        joined_at: from_db(m.created_at),
        invited_by,
        department: m.department,
        name,
        email,
    }))
}

/// The Owners of `org` whose "Notify me when team members join" is on: (name, email).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn owners_to_notify(
    conn: &mut Conn,
    org: OrganizationId,
) -> Result<Vec<(String, EmailAddress)>, DbError> {
    Ok(memberships::table
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .filter(memberships::organization_id.eq(org.to_string()))
        .filter(memberships::role.eq(Role::Owner.as_str()))
        .filter(memberships::notify_on_join.eq(true))
        .select((users::name, users::email))
        .load::<(String, String)>(conn)?
        .into_iter()
        .map(|(name, email)| (name, EmailAddress::from_trusted(email)))
        .collect())
}

/// The organizations `user` belongs to, with their role, by name.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn for_user(conn: &mut Conn, user: UserId) -> Result<Vec<(Organization, Role)>, DbError> {
    let rows: Vec<(OrganizationRow, String)> = super::on_backend!(conn, |c| memberships::table
        .inner_join(organizations::table)
        .filter(memberships::user_id.eq(user.to_string()))
        .order(organizations::name.asc())
        .select((OrganizationRow::as_select(), memberships::role))
        .load(c))?;
    rows.into_iter()
        .map(|(o, r)| Ok((Organization::try_from(o)?, parse_stored(&r, "role")?)))
        .collect()
}

diesel::define_sql_function! {
    /// SQL `lower(text)`, the same on SQLite and PostgreSQL for ASCII.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A page of organizations whose name contains `query` (case-insensitive; empty = all), by
/// name, each with its member count; and how many match in all.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn search(
    conn: &mut Conn,
    query: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<(Organization, i64)>, i64), DbError> {
    let escaped: String = query
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    let pattern = format!("%{escaped}%");
    let filtered = || {
        organizations::table
            .filter(
                lower(organizations::name)
                    .like(pattern.clone())
                    .escape('\\'),
            )
            .into_boxed()
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let rows: Vec<OrganizationRow> = filtered()
        .order((lower(organizations::name).asc(), organizations::id.asc()))
        .limit(limit)
        .offset(offset)
        .select(OrganizationRow::as_select())
        .load(conn)?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let counts: HashMap<String, i64> = memberships::table
        .filter(memberships::organization_id.eq_any(&ids))
        .group_by(memberships::organization_id)
        .select((memberships::organization_id, diesel::dsl::count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let orgs = rows
        .into_iter()
        .map(|r| {
            let n = counts.get(&r.id).copied().unwrap_or(0);
            Ok((Organization::try_from(r)?, n))
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok((orgs, total))
}

/// Sets organization `org`'s plan.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn set_plan(conn: &mut Conn, org: OrganizationId, plan: Plan) -> Result<(), DbError> {
    diesel::update(organizations::table.find(org.to_string()))
        .set(organizations::plan.eq(plan.as_str()))
        .execute(conn)?;
    Ok(())
}

/// Whether `org` sends invitation reminders (issue 15 §3; on unless an Owner turned it off).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn invitation_reminders(conn: &mut Conn, org: OrganizationId) -> Result<bool, DbError> {
    Ok(organizations::table
        .find(org.to_string())
        .select(organizations::invitation_reminders)
        .first(conn)
        .optional()?
        .unwrap_or(true))
}

/// Turns `org`'s invitation reminders on or off.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn set_invitation_reminders(
    conn: &mut Conn,
    org: OrganizationId,
    on: bool,
) -> Result<(), DbError> {
    diesel::update(organizations::table.find(org.to_string()))
        .set(organizations::invitation_reminders.eq(on))
        .execute(conn)?;
    Ok(())
}
