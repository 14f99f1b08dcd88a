//! API tokens (issue 15 §1): storing one (only its secret's SHA-256), Settings → API tokens'
//! list, the look-up by secret, `last_used_at`, and revocation — by an Owner, or because the
//! creator was removed or demoted below a token's role. The rules are
//! `service::api_tokens`'; this module loads and stores.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditContext};
use super::models::row_structs;
use super::schema::{api_tokens, users};
use super::{Conn, DbError, from_db, parse_stored, to_db};
use crate::domain::api_token::{ApiSecret, ApiToken};
use crate::domain::audit::AuditAction;
use crate::domain::{ApiTokenId, OrganizationId, Role, UserId};

row_structs! {
    /// A new `api_tokens` row.
    ApiTokenRow, NewApiToken for api_tokens {
        organization_id: String => String,
        name: String => &'a str,
        role: String => &'a str,
        created_by: String => String,
        token_hash: String => String,
        created_at: NaiveDateTime => NaiveDateTime,
        expires_at: Option<NaiveDateTime> => Option<NaiveDateTime>,
        last_used_at: Option<NaiveDateTime>,
        revoked_at: Option<NaiveDateTime>,
        revoked_reason: Option<String>,
    }
}

impl TryFrom<ApiTokenRow> for ApiToken {
    type Error = DbError;

    fn try_from(row: ApiTokenRow) -> Result<Self, DbError> {
        Ok(ApiToken {
            id: parse_stored(&row.id, "API token id")?,
            organization_id: parse_stored(&row.organization_id, "organization id")?,
            name: row.name,
            role: parse_stored(&row.role, "role")?,
            created_by: parse_stored(&row.created_by, "user id")?,
            created_at: from_db(row.created_at),
            expires_at: row.expires_at.map(from_db),
            last_used_at: row.last_used_at.map(from_db),
            revoked_at: row.revoked_at.map(from_db),
        })
    }
}

/// A row of Settings → API tokens: the token and its creator's name.
#[derive(Debug, Clone)]
pub struct ApiTokenListing {
    /// The token.
    pub token: ApiToken,
    /// Its creator's name.
    pub created_by_name: String,
}

/// Stores `token`, new, with the SHA-256 of `secret` (never the secret).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn insert(conn: &mut Conn, token: &ApiToken, secret: &ApiSecret) -> Result<(), DbError> {
    diesel::insert_into(api_tokens::table)
        .values(NewApiToken {
            id: token.id.to_string(),
            organization_id: token.organization_id.to_string(),
            name: &token.name,
            role: token.role.as_str(),
            created_by: token.created_by.to_string(),
            token_hash: secret.lookup_hash(),
            created_at: to_db(token.created_at),
            expires_at: token.expires_at.map(to_db),
        })
        .execute(conn)?;
    Ok(())
}

/// `org`'s tokens that have not been revoked, newest first, with their creators' names
/// (expired ones too: the page says they expired).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn list(conn: &mut Conn, org: OrganizationId) -> Result<Vec<ApiTokenListing>, DbError> {
    let rows: Vec<(ApiTokenRow, String)> = api_tokens::table
        .inner_join(users::table.on(users::id.eq(api_tokens::created_by)))
        .filter(api_tokens::organization_id.eq(org.to_string()))
        .filter(api_tokens::revoked_at.is_null())
        .order((api_tokens::created_at.desc(), api_tokens::id.asc()))
        .select((ApiTokenRow::as_select(), users::name))
        .load(conn)?;
    rows.into_iter()
        .map(|(row, name)| {
            Ok(ApiTokenListing {
                token: ApiToken::try_from(row)?,
                created_by_name: name,
            })
        })
        .collect()
}

/// The token whose secret is `secret`, whatever its state.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find_by_secret(conn: &mut Conn, secret: &ApiSecret) -> Result<Option<ApiToken>, DbError> {
    api_tokens::table
        .filter(api_tokens::token_hash.eq(secret.lookup_hash()))
        .select(ApiTokenRow::as_select())
        .first(conn)
        .optional()?
        .map(ApiToken::try_from)
        .transpose()
}

/// The token `id` of `org`, whatever its state.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find_in_org(
    conn: &mut Conn,
    org: OrganizationId,
    id: ApiTokenId,
) -> Result<Option<ApiToken>, DbError> {
    api_tokens::table
        .find(id.to_string())
        .filter(api_tokens::organization_id.eq(org.to_string()))
        .select(ApiTokenRow::as_select())
        .first(conn)
        .optional()?
        .map(ApiToken::try_from)
        .transpose()
}

/// Writes `now` as the token's last use.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn touch(conn: &mut Conn, id: ApiTokenId, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::update(api_tokens::table.find(id.to_string()))
        .set(api_tokens::last_used_at.eq(Some(to_db(now))))
        .execute(conn)?;
    Ok(())
}

/// Revokes the token `id` if it is not revoked already (one conditional update), with
/// `reason`. Returns whether this request revoked it.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn revoke(
    conn: &mut Conn,
    id: ApiTokenId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = diesel::update(
        api_tokens::table
            .find(id.to_string())
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set((
        api_tokens::revoked_at.eq(Some(to_db(now))),
        api_tokens::revoked_reason.eq(Some(reason)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Revokes every live token `creator` made for `org` whose role is above `keep_up_to` (all of
/// them for `None`: the creator left or was removed), recording `reason` in the audit trail as
/// `ctx`. Returns how many were revoked.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn revoke_by_creator(
    conn: &mut Conn,
    ctx: &AuditContext,
    org: OrganizationId,
    creator: UserId,
    keep_up_to: Option<Role>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<usize, DbError> {
    let live: Vec<ApiTokenRow> = api_tokens::table
        .filter(api_tokens::organization_id.eq(org.to_string()))
        .filter(api_tokens::created_by.eq(creator.to_string()))
        .filter(api_tokens::revoked_at.is_null())
        .select(ApiTokenRow::as_select())
        .load(conn)?;
    let mut revoked = 0;
    for row in live {
        let token = ApiToken::try_from(row)?;
        if keep_up_to.is_some_and(|keep| token.role <= keep) {
            continue;
        }
        if revoke(conn, token.id, reason, now)? {
            revoked += 1;
            let target = format!("API token {}", token.name);
            let details = format!("role {}; {reason}", token.role);
            let action = AuditAction::ApiTokenRevoked;
            audit::record(
                conn,
                ctx,
                Some(org),
                action,
                Some(&target),
                Some(&details),
                now,
            )?;
        }
    }
    Ok(revoked)
}
