//! CSV imports of invitations between their preview and their confirmation
//! (`invitation_imports`). The uploaded text is kept so the confirmation re-plans exactly what
//! was previewed; an import belongs to the person who uploaded it, in one organization, and
//! lives [`IMPORT_TTL`] at most.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::invitation_imports;
use super::{Conn, DbError, from_db, parse_stored, to_db};
use crate::domain::csv_import::ImportId;
use crate::domain::{OrganizationId, UserId};

/// How long an uploaded import waits for its confirmation before the sweep deletes it.
pub const IMPORT_TTL: Duration = Duration::hours(1);

/// An `invitation_imports` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invitation_imports)]
struct ImportRow {
    id: String,
    organization_id: String,
    created_by: String,
    file_name: String,
    content: String,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

/// A new `invitation_imports` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = invitation_imports)]
struct NewImport<'a> {
    id: String,
    organization_id: String,
    created_by: String,
    file_name: &'a str,
    content: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

/// An uploaded import as read back.
#[derive(Debug, Clone)]
pub struct Import {
    /// Its id.
    pub id: ImportId,
    /// The organization it invites into.
    pub organization_id: OrganizationId,
    /// Who uploaded it (the only person who may see or confirm it).
    pub created_by: UserId,
    /// The uploaded file's name, as the browser gave it (display only).
    pub file_name: String,
    /// The file's text (UTF-8, already size-checked).
    pub content: String,
    /// When it was uploaded.
    pub created_at: DateTime<Utc>,
    /// When it stops being usable.
    pub expires_at: DateTime<Utc>,
}

impl TryFrom<ImportRow> for Import {
    type Error = DbError;

    fn try_from(row: ImportRow) -> Result<Self, DbError> {
        Ok(Import {
            id: parse_stored(&row.id, "import id")?,
            organization_id: parse_stored(&row.organization_id, "organization id")?,
            created_by: parse_stored(&row.created_by, "user id")?,
            file_name: row.file_name,
            content: row.content,
            created_at: from_db(row.created_at),
            expires_at: from_db(row.expires_at),
        })
    }
}

/// Stores an uploaded file for `creator` in `org`, usable until `now` + [`IMPORT_TTL`];
/// returns its id.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn insert(
    conn: &mut Conn,
    org: OrganizationId,
    creator: UserId,
    file_name: &str,
    content: &str,
    now: DateTime<Utc>,
) -> Result<ImportId, DbError> {
    let id = ImportId::new();
    restore(
        conn,
        &Import {
            id,
            organization_id: org,
            created_by: creator,
            file_name: file_name.to_owned(),
            content: content.to_owned(),
            created_at: now,
            expires_at: now + IMPORT_TTL,
        },
    )?;
    Ok(id)
}

/// Writes `import` back as it was (after a confirmation that claimed it failed to send).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn restore(conn: &mut Conn, import: &Import) -> Result<(), DbError> {
    diesel::insert_into(invitation_imports::table)
        .values(NewImport {
            id: import.id.to_string(),
            organization_id: import.organization_id.to_string(),
            created_by: import.created_by.to_string(),
            file_name: &import.file_name,
            content: &import.content,
            created_at: to_db(import.created_at),
            expires_at: to_db(import.expires_at),
        })
        .execute(conn)?;
    Ok(())
}

/// The import `id` if it belongs to `creator` in `org` and has not expired at `now`; `None`
/// otherwise (another person's or organization's import is indistinguishable from none).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find_own(
    conn: &mut Conn,
    org: OrganizationId,
    creator: UserId,
    id: ImportId,
    now: DateTime<Utc>,
) -> Result<Option<Import>, DbError> {
    invitation_imports::table
        .find(id.to_string())
        .filter(invitation_imports::organization_id.eq(org.to_string()))
        .filter(invitation_imports::created_by.eq(creator.to_string()))
        .filter(invitation_imports::expires_at.gt(to_db(now)))
        .select(ImportRow::as_select())
        .first(conn)
        .optional()?
        .map(Import::try_from)
        .transpose()
}

/// Deletes `import` if it is still there and usable: the confirmation's claim. Of two racing
/// confirmations exactly one gets `true`, so a double click sends once.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn claim(conn: &mut Conn, import: &Import, now: DateTime<Utc>) -> Result<bool, DbError> {
    let n = diesel::delete(
        invitation_imports::table
            .find(import.id.to_string())
            .filter(invitation_imports::organization_id.eq(import.organization_id.to_string()))
            .filter(invitation_imports::created_by.eq(import.created_by.to_string()))
            .filter(invitation_imports::expires_at.gt(to_db(now))),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// Deletes `creator`'s import `id` in `org` (Cancel). Returns whether one was deleted.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn delete_own(
    conn: &mut Conn,
    org: OrganizationId,
    creator: UserId,
    id: ImportId,
) -> Result<bool, DbError> {
    let n = diesel::delete(
        invitation_imports::table
            .find(id.to_string())
            .filter(invitation_imports::organization_id.eq(org.to_string()))
            .filter(invitation_imports::created_by.eq(creator.to_string())),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// Deletes every import past its expiry (the maintenance sweep); returns how many.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn delete_expired(conn: &mut Conn, now: DateTime<Utc>) -> Result<usize, DbError> {
    Ok(diesel::delete(
        invitation_imports::table.filter(invitation_imports::expires_at.le(to_db(now))),
    )
    .execute(conn)?)
}
