//! The one look-up of a link by its token (`domain::link`): whatever its kind, a link is found
//! by the SHA-256 of its token, which each kind's table keeps in `token_hash`. Tokens are
//! random, so at most one table holds a given hash.
//!
//! It also holds what the link tables share: who a link's maker is now ([`inviter_now`]), how
//! an invitation ends ([`Ending`]), and macros that write each table's same-shaped queries
//! once (row lock, hourly window, look-ups by id and token).

use diesel::prelude::*;

use super::schema::users;
use super::{Conn, DbError};
use crate::domain::invitation::Inviter;
use crate::domain::link::Link;
use crate::domain::token::LinkToken;
use crate::domain::{InvitationStatus, OrganizationId, UserId};

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

/// Who `user`, the maker of a link of `org`, is there *now*, as an inviter: staff (who may
/// assign any role), a member with their current role, or `None` when they are no longer a
/// member (DESIGN.md, "Invitations follow current policy").
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn inviter_now(
    conn: &mut Conn,
    org: OrganizationId,
    user: UserId,
) -> Result<Option<Inviter>, DbError> {
    let is_staff: Option<bool> = super::on_backend!(conn, |c| users::table
        .find(user.to_string())
        .select(users::is_staff)
        .first(c)
        .optional())?;
    Ok(match is_staff {
        None => None,
        Some(true) => Some(Inviter::Staff),
        Some(false) => {
            super::organizations::membership(conn, org, user)?.map(|m| Inviter::Member(m.role))
        }
    })
}

/// How a pending invitation (member or tenant-owner) ends: the final state and what its row
/// records with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending<'a> {
    /// Accepted, by this account where it is known at that moment.
    Accepted(Option<UserId>),
    /// Declined by the invitee.
    Declined,
    /// Revoked, with the reason the row keeps.
    Revoked(&'a str),
}

impl Ending<'_> {
    /// The final status.
    pub fn status(self) -> InvitationStatus {
        match self {
            Ending::Accepted(_) => InvitationStatus::Accepted,
            Ending::Declined => InvitationStatus::Declined,
            Ending::Revoked(_) => InvitationStatus::Revoked,
        }
    }

    /// The reason the row records (a revocation's).
    pub(super) fn reason(&self) -> Option<&str> {
        match self {
            Ending::Revoked(reason) => Some(reason),
            _ => None,
        }
    }

    /// The account the row records as having accepted, if known.
    pub(super) fn accepted_by(self) -> Option<String> {
        match self {
            Ending::Accepted(user) => user.map(|u| u.to_string()),
            _ => None,
        }
    }
}

/// Invitation `$id` of table `$t` if it is still pending and unexpired at `$now`: what every
/// conditional update of an invitation starts from (DESIGN.md, "single use").
macro_rules! pending_unexpired {
    ($t:ident, $id:expr, $now:expr) => {
        $t::table
            .find($id.to_string())
            .filter($t::status.eq(InvitationStatus::Pending.as_str()))
            .filter($t::expires_at.gt(to_db($now)))
    };
}
pub(crate) use pending_unexpired;

/// `pub fn end(conn, id, ending, now)` for an invitation table `$t`: the one conditional
/// update (`WHERE status = 'pending' AND expires_at > now`) that ends an invitation, whose row
/// count says whether this request won (of racing requests exactly one does).
macro_rules! invitation_ending {
    ($t:ident) => {
        /// Moves a pending, unexpired invitation to `ending`'s state; whether this request won.
        ///
        /// # Errors
        /// [`DbError`] on a failed query.
        pub fn end(
            conn: &mut Conn,
            id: InvitationId,
            ending: $crate::db::links::Ending<'_>,
            now: DateTime<Utc>,
        ) -> Result<bool, DbError> {
            let n = diesel::update(pending_unexpired!($t, id, now))
                .set((
                    $t::status.eq(ending.status().as_str()),
                    $t::status_reason.eq(ending.reason()),
                    $t::decided_at.eq(Some(to_db(now))),
                    $t::accepted_by.eq(ending.accepted_by()),
                ))
                .execute(conn)?;
            Ok(n == 1)
        }
    };
}
pub(crate) use invitation_ending;

/// `pub fn lock(conn, id)` for table `$t`: locks row `id` until the transaction ends, so
/// concurrent uses of one link queue (PostgreSQL; SQLite's immediate write transaction
/// already admits one writer). Without it, two new accounts racing for one link would both
/// insert before either marks it used.
macro_rules! row_lock {
    ($t:ident, $id:ty) => {
        /// Locks the row of `id` until the transaction ends (PostgreSQL; a no-op on SQLite,
        /// whose write transaction already excludes other writers).
        ///
        /// # Errors
        /// [`DbError`] on a failed query.
        pub fn lock(conn: &mut Conn, id: $id) -> Result<(), DbError> {
            if let Conn::Postgresql(pg) = conn {
                $t::table
                    .find(id.to_string())
                    .select($t::id)
                    .for_update()
                    .first::<String>(pg)
                    .optional()?;
            }
            Ok(())
        }
    };
}
pub(crate) use row_lock;

/// `created_since` and `hourly_window_reopens` for table `$t` of things an organization
/// creates under the hourly limit (`invitations_per_hour`, which invite links share in
/// spirit with invitations); `reopens_only` leaves out `created_since` (invitations count
/// their hour by the minute: `db::invitations::created_in_last_hour`).
macro_rules! hourly_window {
    ($t:ident) => {
        $crate::db::links::hourly_window!($t, reopens_only);

        #[doc = concat!("How many `", stringify!($t), "` rows `org` created since `since` (for")]
        /// the per-organization rate limit).
        ///
        /// # Errors
        /// [`DbError`] on a failed query.
        pub fn created_since(
            conn: &mut Conn,
            org: OrganizationId,
            since: DateTime<Utc>,
        ) -> Result<i64, DbError> {
            Ok($t::table
                .filter($t::organization_id.eq(org.to_string()))
                .filter($t::created_at.gt(to_db(since)))
                .count()
                .get_result(conn)?)
        }
    };
    ($t:ident, reopens_only) => {
        /// When the hourly limit's window next has room: an hour after the oldest row `org`
        /// created since `now` minus an hour (`None` when it created none). For `Retry-After`.
        ///
        /// # Errors
        /// [`DbError`] on a failed query.
        pub fn hourly_window_reopens(
            conn: &mut Conn,
            org: OrganizationId,
            now: DateTime<Utc>,
        ) -> Result<Option<DateTime<Utc>>, DbError> {
            let hour = chrono::Duration::hours(1);
            let oldest: Option<chrono::NaiveDateTime> = $t::table
                .filter($t::organization_id.eq(org.to_string()))
                .filter($t::created_at.gt(to_db(now - hour)))
                .select(diesel::dsl::min($t::created_at))
                .first(conn)?;
            Ok(oldest.map(|t| $crate::db::from_db(t) + hour))
        }
    };
}
pub(crate) use hourly_window;

/// The look-ups of a link table `$t` whose rows (`$row`, Selectable) convert into `$link`
/// (`TryFrom<$row, Error = DbError>`) and, with the calling module's
/// `details(conn, $link) -> Result<$details, DbError>`, into what its pages show:
/// `find_in_org` (by `$id`), `find_details` (by `$details_id`, as the mail has it) and
/// `find_by_token`.
macro_rules! link_lookups {
    ($t:ident, $row:ty => $link:ty, $details:ty, $id:ty, $details_id:ty) => {
        /// The row `id` of organization `org`, or `None` — also when it belongs to another
        /// organization, so a foreign id is indistinguishable from a missing one (a 404).
        ///
        /// # Errors
        /// [`DbError`] on a failed query.
        pub fn find_in_org(
            conn: &mut Conn,
            org: OrganizationId,
            id: $id,
        ) -> Result<Option<$link>, DbError> {
            $t::table
                .find(id.to_string())
                .filter($t::organization_id.eq(org.to_string()))
                .select(<$row>::as_select())
                .first(conn)
                .optional()?
                .map(<$link>::try_from)
                .transpose()
        }

        /// The row `id` with what its pages show (a mailed link names its row by id).
        ///
        /// # Errors
        /// [`DbError`] on a failed query.
        pub fn find_details(conn: &mut Conn, id: $details_id) -> Result<Option<$details>, DbError> {
            let row: Option<$row> = $t::table
                .find(id.to_string())
                .select(<$row>::as_select())
                .first(conn)
                .optional()?;
            row.map(|row| details(conn, <$link>::try_from(row)?))
                .transpose()
        }

        /// The row whose token is `token` (found by its SHA-256), with what its pages show.
        ///
        /// # Errors
        /// [`DbError`] on a failed query.
        pub fn find_by_token(
            conn: &mut Conn,
            token: &LinkToken,
        ) -> Result<Option<$details>, DbError> {
            let row: Option<$row> = $crate::db::on_backend!(conn, |c| $t::table
                .filter($t::token_hash.eq(token.lookup_hash()))
                .select(<$row>::as_select())
                .first(c)
                .optional())?;
            row.map(|row| details(conn, <$link>::try_from(row)?))
                .transpose()
        }
    };
}
pub(crate) use link_lookups;

/// A function `$name(conn, id, not_since, now)` for invitation table `$t`: stamps a resend of
/// pending, unexpired invitation `id` at `now` unless it was resent after `not_since` — one
/// conditional update, so two racing resends send once. Whether it stamped.
macro_rules! resend_stamp {
    ($(#[$attr:meta])* $vis:vis fn $name:ident for $t:ident) => {
        $(#[$attr])*
        $vis fn $name(
            conn: &mut Conn,
            id: InvitationId,
            not_since: DateTime<Utc>,
            now: DateTime<Utc>,
        ) -> Result<bool, DbError> {
            let n = diesel::update(
                pending_unexpired!($t, id, now).filter(
                        $t::last_resent_at
                            .is_null()
                            .or($t::last_resent_at.le(to_db(not_since))),
                    ),
            )
            .set((
                $t::last_resent_at.eq(Some(to_db(now))),
                $t::resend_count.eq($t::resend_count + 1),
            ))
            .execute(conn)?;
            Ok(n == 1)
        }
    };
}
pub(crate) use resend_stamp;
