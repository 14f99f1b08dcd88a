//! API tokens (issue 15 §1): Settings → API tokens (Owner-only, as billing is: make one with a
//! name, a role of at most the Owner's own and an optional expiry, shown once; list; revoke),
//! and [`authenticate`], which turns an `Authorization: Bearer` secret into the [`Actor`] every
//! service operation takes — so the API calls the same operations as the pages, with the
//! token's role (never above its creator's current one) and "API token {name}" in the audit
//! trail.

use chrono::{DateTime, Utc};

use super::{Actor, NoStanding, ServiceError, Services, TokenGrant, refuse, standing_of};
use crate::db::api_tokens::ApiTokenListing;
use crate::db::audit::{self, RequestMeta};
use crate::db::{self, Conn};
use crate::domain::api_token::{ApiSecret, ApiToken, TokenExpiry};
use crate::domain::audit::AuditAction;
use crate::domain::text::TokenName;
use crate::domain::{ApiTokenId, OrganizationId, Permission, Role};

/// Why a change on Settings → API tokens was refused. `Display` is what the page says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiTokenRefusal {
    /// The actor has no standing in the organization.
    #[error(transparent)]
    NoStanding(#[from] NoStanding),
    /// Only Owners (and staff) manage API tokens.
    #[error("Only Owners manage the organization's API tokens.")]
    NotPermitted,
    /// No such token in this organization.
    #[error("No such API token")]
    NotFound,
    /// The name is not acceptable (beside the Name field).
    #[error("Name: {0}.")]
    InvalidName(String),
    /// A role above the creator's own.
    #[error("You cannot make a token that acts as {0}: a token's role is at most your own.")]
    AboveCeiling(Role),
    /// Revoked already: nothing to revoke.
    #[error("This API token was revoked already.")]
    AlreadyRevoked,
}

type Result<T> = std::result::Result<T, ServiceError<ApiTokenRefusal>>;

/// `actor`'s standing as an Owner (`billing`; staff act as Owners), under the lock when `lock`.
fn owner_in(c: &mut Conn, org: OrganizationId, actor: &Actor, lock: bool) -> Result<super::Acting> {
    let denied = ApiTokenRefusal::NotPermitted;
    super::permitted_in(c, org, actor, lock, Permission::Billing, denied)
}

/// `org`'s tokens that are not revoked, newest first, for its Owners (and staff). Reads only.
///
/// # Errors
/// [`ApiTokenRefusal::NotPermitted`] below Owner; no standing; storage failures.
pub fn list(svc: &Services, actor: &Actor, org: OrganizationId) -> Result<Vec<ApiTokenListing>> {
    let mut conn = svc.conn()?;
    owner_in(&mut conn, org, actor, false)?;
    Ok(db::api_tokens::list(&mut conn, org)?)
}

/// Make a token.
#[derive(Debug, Clone)]
pub struct CreateToken {
    /// Its name, as typed.
    pub name: String,
    /// The role it acts as.
    pub role: Role,
    /// How long it works.
    pub expiry: TokenExpiry,
}

/// Makes a token of `org` as `actor` (an Owner, under the organization's lock), records
/// `api_token.created`, and returns it with its secret — the only time the secret exists.
///
/// # Errors
/// [`ApiTokenRefusal`] (nothing written): not an Owner; an unacceptable name; a role above
/// the actor's own.
pub fn create(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    cmd: &CreateToken,
    now: DateTime<Utc>,
) -> Result<(ApiToken, ApiSecret)> {
    let name = TokenName::parse(&cmd.name).map_err(|e| ApiTokenRefusal::InvalidName(e.to_string()));
    let secret = ApiSecret::generate();
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let acting = owner_in(c, org, actor, true)?;
        let name = name.clone().or_else(refuse)?;
        if !acting.role.may_assign(cmd.role) {
            return refuse(ApiTokenRefusal::AboveCeiling(cmd.role));
        }
        let token = ApiToken {
            id: ApiTokenId::new(),
            organization_id: org,
            name: name.as_str().to_owned(),
            role: cmd.role,
            created_by: actor.user.id,
            created_at: now,
            expires_at: cmd.expiry.expires_at(now),
            last_used_at: None,
            revoked_at: None,
        };
        db::api_tokens::insert(c, &token, &secret)?;
        let target = format!("API token {}", token.name);
        let details = format!("role {}; expires {}", token.role, cmd.expiry.label());
        let ctx = acting.audit(actor);
        let action = AuditAction::ApiTokenCreated;
        audit::record(
            c,
            &ctx,
            Some(org),
            action,
            Some(&target),
            Some(&details),
            now,
        )?;
        Ok((token, secret.clone()))
    })
}

/// The token `id` of `org`, for its revocation confirmation. Reads only.
///
/// # Errors
/// [`ApiTokenRefusal`]: not an Owner; no such token; revoked already.
pub fn find(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: ApiTokenId,
) -> Result<ApiToken> {
    let mut conn = svc.conn()?;
    owner_in(&mut conn, org, actor, false)?;
    live(&mut conn, org, id)
}

fn live(c: &mut Conn, org: OrganizationId, id: ApiTokenId) -> Result<ApiToken> {
    match db::api_tokens::find_in_org(c, org, id)? {
        None => refuse(ApiTokenRefusal::NotFound),
        Some(t) if t.revoked_at.is_some() => refuse(ApiTokenRefusal::AlreadyRevoked),
        Some(t) => Ok(t),
    }
}

/// Revokes the token `id` of `org` as `actor` (an Owner): it stops working at once. Records
/// `api_token.revoked`.
///
/// # Errors
/// [`ApiTokenRefusal`] (nothing written): not an Owner; no such token; revoked already (also
/// by a racing request).
pub fn revoke(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: ApiTokenId,
    now: DateTime<Utc>,
) -> Result<ApiToken> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let acting = owner_in(c, org, actor, true)?;
        let token = live(c, org, id)?;
        if !db::api_tokens::revoke(c, id, "revoked by an Owner", now)? {
            return refuse(ApiTokenRefusal::AlreadyRevoked);
        }
        let target = format!("API token {}", token.name);
        let details = format!("role {}", token.role);
        let ctx = acting.audit(actor);
        let action = AuditAction::ApiTokenRevoked;
        audit::record(
            c,
            &ctx,
            Some(org),
            action,
            Some(&target),
            Some(&details),
            now,
        )?;
        Ok(token)
    })
}

/// Why a request over `/api/v1` was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApiAuthRefusal {
    /// No token, a malformed one, an unknown, revoked or expired one, or one whose creator
    /// may no longer give its role (it is revoked then): 401, said alike.
    #[error("A valid API token is required: send it as `Authorization: Bearer …`.")]
    Unauthorized,
    /// A working token of another organization: the organization asked is not found (404),
    /// as for a member of another organization.
    #[error("No such organization")]
    OtherOrganization,
}

/// The actor of a request to `org` over `/api/v1` that carries `bearer` (the value after
/// `Bearer `), at `now`: the token's creator, acting with the token's role. The token must be
/// usable and `org`'s, and its creator must still hold a role at least the token's (else the
/// token is revoked now, as their invitations would have been). Writes `last_used_at` at most
/// once a minute.
///
/// # Errors
/// [`ApiAuthRefusal`]; storage failures.
pub fn authenticate(
    svc: &Services,
    org: OrganizationId,
    bearer: Option<&str>,
    origin: RequestMeta,
    now: DateTime<Utc>,
) -> std::result::Result<Actor, ServiceError<ApiAuthRefusal>> {
    let Some(secret) = bearer.and_then(|b| ApiSecret::parse(b.trim()).ok()) else {
        return refuse(ApiAuthRefusal::Unauthorized);
    };
    let mut conn = svc.conn()?;
    let c = &mut *conn;
    let Some(token) = db::api_tokens::find_by_secret(c, &secret)? else {
        return refuse(ApiAuthRefusal::Unauthorized);
    };
    if !token.is_usable(now) {
        return refuse(ApiAuthRefusal::Unauthorized);
    }
    if token.organization_id != org {
        return refuse(ApiAuthRefusal::OtherOrganization);
    }
    let creator = db::users::find(c, token.created_by)?;
    let organization = db::organizations::find(c, org)?;
    let (Some(creator), Some(organization)) = (creator, organization) else {
        return refuse(ApiAuthRefusal::Unauthorized);
    };
    let standing = standing_of::<NoStanding>(c, organization, creator.id, creator.is_staff);
    let lapsed = match standing {
        Ok(acting) => (acting.role < token.role).then_some("creator's role is below the token's"),
        Err(ServiceError::Refused(_)) => Some("creator is no longer a member"),
        Err(e) => return Err(e.map_refusal(|_| ApiAuthRefusal::Unauthorized)),
    };
    if let Some(reason) = lapsed {
        db::write_transaction(c, |c| {
            if db::api_tokens::revoke(c, token.id, reason, now)? {
                let ctx = crate::db::audit::AuditContext {
                    actor: crate::db::audit::Actor::system(),
                    meta: origin.clone(),
                };
                let target = format!("API token {}", token.name);
                let details = format!("role {}; {reason} (checked when it was used)", token.role);
                let action = AuditAction::ApiTokenRevoked;
                audit::record(
                    c,
                    &ctx,
                    Some(org),
                    action,
                    Some(&target),
                    Some(&details),
                    now,
                )?;
            }
            Ok::<_, ServiceError<ApiAuthRefusal>>(())
        })?;
        return refuse(ApiAuthRefusal::Unauthorized);
    }
    if token.due_for_last_used(now) {
        db::api_tokens::touch(c, token.id, now)?;
    }
    Ok(Actor {
        user: creator,
        origin,
        token: Some(TokenGrant {
            id: token.id,
            name: token.name,
            role: token.role,
        }),
    })
}

#[cfg(test)]
mod tests;
