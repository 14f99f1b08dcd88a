//! Memberships as the member-governance operations read and write them (`service::members`):
//! the member acted on, with the label the audit trail names them by; Owner counts; role
//! changes and deletions. Policy is the service's.

use diesel::prelude::*;

use super::models::MembershipRow;
use super::schema::{memberships, users};
use super::{Conn, DbError};
use crate::domain::Membership;
use crate::domain::{MembershipId, OrganizationId, Role, UserId};

/// How many Owners `org` has.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn owner_count(conn: &mut Conn, org: OrganizationId) -> Result<usize, DbError> {
    let n: i64 = memberships::table
        .filter(memberships::organization_id.eq(org.to_string()))
        .filter(memberships::role.eq(Role::Owner.as_str()))
        .count()
        .get_result(conn)?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Membership `id` of `org` with its person's label ("Name <email>"), if there is one.
///
/// # Errors
/// [`DbError`] on a failed query or a stored value that does not parse.
pub fn find_with_label(
    conn: &mut Conn,
    org: OrganizationId,
    id: MembershipId,
) -> Result<Option<(Membership, String)>, DbError> {
    memberships::table
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .filter(memberships::id.eq(id.to_string()))
        .filter(memberships::organization_id.eq(org.to_string()))
        .select((MembershipRow::as_select(), users::name, users::email))
        .first::<(MembershipRow, String, String)>(conn)
        .optional()?
        .map(|(m, name, email)| Ok((Membership::try_from(m)?, format!("{name} <{email}>"))))
        .transpose()
}

/// Sets membership `id`'s role.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn set_role(conn: &mut Conn, id: MembershipId, role: Role) -> Result<(), DbError> {
    diesel::update(memberships::table.find(id.to_string()))
        .set(memberships::role.eq(role.as_str()))
        .execute(conn)?;
    Ok(())
}

/// Deletes membership `id`.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn delete(conn: &mut Conn, id: MembershipId) -> Result<(), DbError> {
    diesel::delete(memberships::table.find(id.to_string())).execute(conn)?;
    Ok(())
}

/// How many organizations `user` belongs to.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn count_of_user(conn: &mut Conn, user: UserId) -> Result<i64, DbError> {
    Ok(memberships::table
        .filter(memberships::user_id.eq(user.to_string()))
        .count()
        .get_result(conn)?)
}
