//! What the system does on its own schedule: writing Expired onto invitations past their time
//! (expiry already holds to the second without it — DESIGN.md, "Invitations"; the sweep makes
//! the stored state agree) and deleting CSV imports past theirs.

use std::convert::Infallible;

use chrono::{DateTime, Utc};

use super::{ServiceError, Services};
use crate::db;

/// What a sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Pending invitations marked Expired (each with its audit event, by the system).
    pub invitations: usize,
    /// Expired CSV imports deleted.
    pub imports: usize,
}

/// Marks overdue pending invitations Expired and deletes expired CSV imports, as of `now`.
///
/// # Errors
/// [`ServiceError::Storage`].
pub fn sweep(svc: &Services, now: DateTime<Utc>) -> Result<Swept, ServiceError<Infallible>> {
    let mut conn = svc.conn()?;
    Ok(Swept {
        invitations: db::invitations::expire_all_overdue(&mut conn, now)?,
        imports: db::imports::delete_expired(&mut conn, now)?,
    })
}
