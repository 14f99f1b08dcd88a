//! CSV imports of invitations (`invitation_imports`): between their preview and their
//! confirmation the uploaded text is kept, so the confirmation plans the same file again; once sent, the text gives way to what happened to each row, so the result page
//! can be reloaded. An import belongs to the person who uploaded it, in one organization, and
//! lives [`IMPORT_TTL`] after its upload (unsent) or after sending.

use crate::domain::csv_import::Import;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::models::row_structs;
use super::schema::invitation_imports;
use super::{Conn, DbError, from_db, parse_stored, to_db};
use crate::domain::csv_import::ImportId;
use crate::domain::{OrganizationId, UserId};

/// How long an uploaded import waits for its confirmation, and a sent one keeps its result,
/// before the sweep deletes it.
pub const IMPORT_TTL: Duration = Duration::hours(1);

row_structs! {
    /// A new `invitation_imports` row.
    ImportRow, NewImport for invitation_imports {
        organization_id: String => String,
        created_by: String => String,
        file_name: String => &'a str,
        content: String => &'a str,
        created_at: NaiveDateTime => NaiveDateTime,
        expires_at: NaiveDateTime => NaiveDateTime,
    }
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
    diesel::insert_into(invitation_imports::table)
        .values(NewImport {
            id: id.to_string(),
            organization_id: org.to_string(),
            created_by: creator.to_string(),
            file_name,
            content,
            created_at: to_db(now),
            expires_at: to_db(now + IMPORT_TTL),
        })
        .execute(conn)?;
    Ok(id)
}

/// One of `creator`'s imports, as its pages read it.
#[derive(Debug, Clone)]
pub enum OwnImport {
    /// Uploaded and waiting for confirmation: the preview, and what a confirmation sends.
    Unsent(Import),
    /// Sent: the result page.
    Sent(SentImport),
}

/// A sent import as its result page reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentImport {
    /// Its id.
    pub id: ImportId,
    /// The uploaded file's name (display only).
    pub file_name: String,
    /// What [`store_result`] recorded.
    pub result: String,
}

/// The import `id` if it belongs to `creator` in `org` and has not expired at `now`, unsent
/// or sent; `None` otherwise (another person's or organization's import is indistinguishable
/// from none).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find_own(
    conn: &mut Conn,
    org: OrganizationId,
    creator: UserId,
    id: ImportId,
    now: DateTime<Utc>,
) -> Result<Option<OwnImport>, DbError> {
    let found = invitation_imports::table
        .find(id.to_string())
        .filter(invitation_imports::organization_id.eq(org.to_string()))
        .filter(invitation_imports::created_by.eq(creator.to_string()))
        .filter(invitation_imports::expires_at.gt(to_db(now)))
        .select((
            ImportRow::as_select(),
            invitation_imports::sent_at,
            invitation_imports::result,
        ))
        .first::<(ImportRow, Option<NaiveDateTime>, Option<String>)>(conn)
        .optional()?;
    let Some((row, sent_at, result)) = found else {
        return Ok(None);
    };
    let import = Import::try_from(row)?;
    Ok(Some(match sent_at {
        None => OwnImport::Unsent(import),
        Some(_) => OwnImport::Sent(SentImport {
            id: import.id,
            file_name: import.file_name,
            result: result.unwrap_or_default(),
        }),
    }))
}

/// Claims `import` for sending: marks it sent at `now` if it is still unsent and usable.
/// Returns whether this request claimed it (of two racing confirmations, one does). Call it in
/// the transaction that sends, with [`store_result`] after the invitations are written.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn claim(conn: &mut Conn, import: &Import, now: DateTime<Utc>) -> Result<bool, DbError> {
    let claimed = diesel::update(
        invitation_imports::table
            .find(import.id.to_string())
            .filter(invitation_imports::organization_id.eq(import.organization_id.to_string()))
            .filter(invitation_imports::created_by.eq(import.created_by.to_string()))
            .filter(invitation_imports::expires_at.gt(to_db(now)))
            .filter(invitation_imports::sent_at.is_null()),
    )
    .set(invitation_imports::sent_at.eq(Some(to_db(now))))
    .execute(conn)?;
    Ok(claimed == 1)
}

/// Stores what happened to each row (`result`, shown by the result page) with the claimed
/// import `id`, drops the file's text (no longer needed), and keeps the import
/// [`IMPORT_TTL`] from `now` for its result page.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn store_result(
    conn: &mut Conn,
    id: ImportId,
    result: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(invitation_imports::table.find(id.to_string()))
        .set((
            invitation_imports::result.eq(Some(result)),
            invitation_imports::content.eq(""),
            invitation_imports::expires_at.eq(to_db(now + IMPORT_TTL)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Deletes `creator`'s unsent import `id` in `org` (Cancel). Returns whether one was deleted.
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
            .filter(invitation_imports::created_by.eq(creator.to_string()))
            .filter(invitation_imports::sent_at.is_null()),
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
