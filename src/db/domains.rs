//! Verified domains: an organization's claims on email domains (pending with a mailed code, or
//! verified), their enrollment modes, the organization's "only verified domains" setting, and
//! the look-up of organizations a person could join by their address's domain.
//!
//! The rules are `service::domains`'s and `domain::verified_domain`'s; this module loads and
//! stores. That a domain is verified for one organization at a time is also the database's
//! (a unique index on verified domains), so two organizations racing to verify one cannot both.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::models::{OrganizationRow, row_structs};
use super::schema::{memberships, organization_domains, organizations};
use super::{Conn, DbError, from_db, parse_stored, to_db};
use crate::domain::token::TokenNonce;
use crate::domain::verified_domain::{CodeFacts, DomainName, EnrollmentMode};
use crate::domain::{DomainId, EmailAddress, Organization, OrganizationId, Role, UserId};

row_structs! {
    /// A new `organization_domains` row (pending, manual enrollment, Viewer by default).
    DomainRow, NewDomain for organization_domains {
        organization_id: String => String,
        domain: String => &'a str,
        status: String,
        enrollment: String,
        default_role: String,
        proof_email: String => &'a str,
        code_nonce: String => &'a str,
        code_sent_at: NaiveDateTime => NaiveDateTime,
        code_expires_at: NaiveDateTime => NaiveDateTime,
        attempts: i32,
        created_by: String => String,
        created_at: NaiveDateTime => NaiveDateTime,
        verified_at: Option<NaiveDateTime>,
    }
}

/// One organization's claim on a domain, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgDomain {
    /// Its id.
    pub id: DomainId,
    /// The organization claiming it.
    pub organization_id: OrganizationId,
    /// The domain.
    pub domain: DomainName,
    /// Whether the code proved it.
    pub verified: bool,
    /// What people with an address there may do.
    pub enrollment: EnrollmentMode,
    /// The role automatic enrollment gives (at most Editor).
    pub default_role: Role,
    /// The address the code was mailed to.
    pub proof_email: EmailAddress,
    /// The nonce the current code derives from.
    pub nonce: TokenNonce,
    /// When the current code was mailed.
    pub code_sent_at: DateTime<Utc>,
    /// The current code's expiry and wrong attempts.
    pub code: CodeFacts,
    /// When it was verified.
    pub verified_at: Option<DateTime<Utc>>,
    /// The Owner who added it.
    pub created_by: UserId,
}

impl TryFrom<DomainRow> for OrgDomain {
    type Error = DbError;

    fn try_from(row: DomainRow) -> Result<Self, DbError> {
        Ok(OrgDomain {
            id: parse_stored(&row.id, "domain id")?,
            organization_id: parse_stored(&row.organization_id, "organization id")?,
            domain: DomainName::from_trusted(row.domain),
            verified: row.status == "verified",
            enrollment: parse_stored(&row.enrollment, "enrollment mode")?,
            default_role: parse_stored(&row.default_role, "role")?,
            proof_email: EmailAddress::from_trusted(row.proof_email),
            nonce: TokenNonce(row.code_nonce),
            code_sent_at: from_db(row.code_sent_at),
            code: CodeFacts {
                expires_at: from_db(row.code_expires_at),
                attempts: row.attempts,
            },
            verified_at: row.verified_at.map(from_db),
            created_by: parse_stored(&row.created_by, "user id")?,
        })
    }
}

fn read(rows: Vec<DomainRow>) -> Result<Vec<OrgDomain>, DbError> {
    rows.into_iter().map(OrgDomain::try_from).collect()
}

/// `org`'s domains, verified first, then by name.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn list(conn: &mut Conn, org: OrganizationId) -> Result<Vec<OrgDomain>, DbError> {
    let rows = organization_domains::table
        .filter(organization_domains::organization_id.eq(org.to_string()))
        .order((
            organization_domains::status.desc(),
            organization_domains::domain.asc(),
        ))
        .select(DomainRow::as_select())
        .load(conn)?;
    read(rows)
}

/// `org`'s claim with this id (`None` for another organization's).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find(
    conn: &mut Conn,
    org: OrganizationId,
    id: DomainId,
) -> Result<Option<OrgDomain>, DbError> {
    let row = organization_domains::table
        .find(id.to_string())
        .filter(organization_domains::organization_id.eq(org.to_string()))
        .select(DomainRow::as_select())
        .first(conn)
        .optional()?;
    row.map(OrgDomain::try_from).transpose()
}

/// `org`'s claim on `domain`, if it has one.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find_by_name(
    conn: &mut Conn,
    org: OrganizationId,
    domain: &DomainName,
) -> Result<Option<OrgDomain>, DbError> {
    let row = organization_domains::table
        .filter(organization_domains::organization_id.eq(org.to_string()))
        .filter(organization_domains::domain.eq(domain.as_str()))
        .select(DomainRow::as_select())
        .first(conn)
        .optional()?;
    row.map(OrgDomain::try_from).transpose()
}

/// Whether an organization other than `org` has verified `domain`.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn verified_elsewhere(
    conn: &mut Conn,
    domain: &DomainName,
    org: OrganizationId,
) -> Result<bool, DbError> {
    let n: i64 = organization_domains::table
        .filter(organization_domains::domain.eq(domain.as_str()))
        .filter(organization_domains::status.eq("verified"))
        .filter(organization_domains::organization_id.ne(org.to_string()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// A new code for a claim: where it goes and what it derives from.
#[derive(Debug)]
pub struct NewCode<'a> {
    /// The address at the domain the code is mailed to.
    pub proof_email: &'a EmailAddress,
    /// The nonce the code derives from.
    pub nonce: &'a TokenNonce,
    /// When it was mailed.
    pub sent_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Stores a new pending claim of `domain` by `org`, created by `by`, with its first code.
///
/// # Errors
/// [`DbError`] on a failed query (a unique violation if `org` already claims it).
pub fn insert_pending(
    conn: &mut Conn,
    org: OrganizationId,
    domain: &DomainName,
    by: UserId,
    code: &NewCode<'_>,
) -> Result<DomainId, DbError> {
    let id = DomainId::new();
    diesel::insert_into(organization_domains::table)
        .values(NewDomain {
            id: id.to_string(),
            organization_id: org.to_string(),
            domain: domain.as_str(),
            proof_email: code.proof_email.as_str(),
            code_nonce: &code.nonce.0,
            code_sent_at: to_db(code.sent_at),
            code_expires_at: to_db(code.expires_at),
            created_by: by.to_string(),
            created_at: to_db(code.sent_at),
        })
        .execute(conn)?;
    Ok(id)
}

/// Replaces a pending claim's code (a new address or a resend): the old code stops working
/// and the attempts start again. Returns whether the claim was still pending.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn replace_code(conn: &mut Conn, id: DomainId, code: &NewCode<'_>) -> Result<bool, DbError> {
    let n = diesel::update(
        organization_domains::table
            .find(id.to_string())
            .filter(organization_domains::status.eq("pending")),
    )
    .set((
        organization_domains::proof_email.eq(code.proof_email.as_str()),
        organization_domains::code_nonce.eq(&code.nonce.0),
        organization_domains::code_sent_at.eq(to_db(code.sent_at)),
        organization_domains::code_expires_at.eq(to_db(code.expires_at)),
        organization_domains::attempts.eq(0),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Counts one wrong code against a pending claim.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn count_attempt(conn: &mut Conn, id: DomainId) -> Result<(), DbError> {
    diesel::update(organization_domains::table.find(id.to_string()))
        .set(organization_domains::attempts.eq(organization_domains::attempts + 1))
        .execute(conn)?;
    Ok(())
}

/// Marks a pending claim verified at `now`. Fails with a unique violation when another
/// organization verified the same domain first.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn mark_verified(conn: &mut Conn, id: DomainId, now: DateTime<Utc>) -> Result<bool, DbError> {
    let n = diesel::update(
        organization_domains::table
            .find(id.to_string())
            .filter(organization_domains::status.eq("pending")),
    )
    .set((
        organization_domains::status.eq("verified"),
        organization_domains::verified_at.eq(Some(to_db(now))),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Sets a claim's enrollment mode and default role.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn set_enrollment(
    conn: &mut Conn,
    id: DomainId,
    mode: EnrollmentMode,
    role: Role,
) -> Result<(), DbError> {
    diesel::update(organization_domains::table.find(id.to_string()))
        .set((
            organization_domains::enrollment.eq(mode.as_str()),
            organization_domains::default_role.eq(role.as_str()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Deletes a claim.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn delete(conn: &mut Conn, id: DomainId) -> Result<(), DbError> {
    diesel::delete(organization_domains::table.find(id.to_string())).execute(conn)?;
    Ok(())
}

/// `org`'s verified domains, by name.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn verified(conn: &mut Conn, org: OrganizationId) -> Result<Vec<DomainName>, DbError> {
    let names: Vec<String> = organization_domains::table
        .filter(organization_domains::organization_id.eq(org.to_string()))
        .filter(organization_domains::status.eq("verified"))
        .order(organization_domains::domain.asc())
        .select(organization_domains::domain)
        .load(conn)?;
    Ok(names.into_iter().map(DomainName::from_trusted).collect())
}

/// Whether `org` restricts invitations and invite links to its verified domains.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn restricted(conn: &mut Conn, org: OrganizationId) -> Result<bool, DbError> {
    Ok(organizations::table
        .find(org.to_string())
        .select(organizations::restrict_to_verified_domains)
        .first(conn)
        .optional()?
        .unwrap_or(false))
}

/// Turns `org`'s restriction to verified domains on or off.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn set_restricted(conn: &mut Conn, org: OrganizationId, on: bool) -> Result<(), DbError> {
    diesel::update(organizations::table.find(org.to_string()))
        .set(organizations::restrict_to_verified_domains.eq(on))
        .execute(conn)?;
    Ok(())
}

/// The organizations that verified `domain` with an enrollment mode other than manual, that
/// `user` does not belong to, by name: what "Organizations you can join" offers.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn joinable(
    conn: &mut Conn,
    domain: &DomainName,
    user: UserId,
) -> Result<Vec<(Organization, OrgDomain)>, DbError> {
    let belongs = memberships::table
        .filter(memberships::user_id.eq(user.to_string()))
        .select(memberships::organization_id);
    let rows: Vec<(OrganizationRow, DomainRow)> = organization_domains::table
        .inner_join(organizations::table)
        .filter(organization_domains::domain.eq(domain.as_str()))
        .filter(organization_domains::status.eq("verified"))
        .filter(organization_domains::enrollment.ne("manual"))
        .filter(organization_domains::organization_id.ne_all(belongs))
        .order(organizations::name.asc())
        .select((OrganizationRow::as_select(), DomainRow::as_select()))
        .load(conn)?;
    rows.into_iter()
        .map(|(o, d)| Ok((Organization::try_from(o)?, OrgDomain::try_from(d)?)))
        .collect()
}

/// The verified claim on `domain` by `org`, if any (what a domain join is checked against).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn verified_claim(
    conn: &mut Conn,
    org: OrganizationId,
    domain: &DomainName,
) -> Result<Option<OrgDomain>, DbError> {
    Ok(find_by_name(conn, org, domain)?.filter(|d| d.verified))
}
