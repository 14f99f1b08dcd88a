//! The one look-up of a link by its token (`domain::link`): whatever its kind, a link is found
//! by the SHA-256 of its token, which each kind's table keeps in `token_hash`. Tokens are
//! random, so at most one table holds a given hash.

use super::{Conn, DbError};
use crate::domain::link::Link;
use crate::domain::token::LinkToken;

/// The link whose token is `token`, with what its pages show (organization, inviter), if one
/// exists.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find(conn: &mut Conn, token: &LinkToken) -> Result<Option<Link>, DbError> {
    if let Some(found) = super::invitations::find_by_token(conn, token)? {
        return Ok(Some(Link::MemberInvitation(found)));
    }
    if let Some(found) = super::tenant_invitations::find_by_token(conn, token)? {
        return Ok(Some(Link::TenantInvitation(found)));
    }
    if let Some(found) = super::invite_links::find_by_token(conn, token)? {
        return Ok(Some(Link::InviteLink(found)));
    }
    Ok(super::signups::find_by_token(conn, token)?.map(Link::Signup))
}
