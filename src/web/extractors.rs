//! Who is asking. Handlers take these instead of reading session keys: a handler that takes
//! [`OrgMember`] cannot forget the membership check. Roles are read from the database on every
//! request, never cached in the session, so a demotion takes effect on the next click.

use actix_session::{Session, SessionExt as _};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::AppState;
use super::error::AppError;
use super::session_store::USER_ID_KEY;
use crate::db::organizations::{Membership, Organization};
use crate::db::users::User;
use crate::db::{self};
use crate::domain::{OrganizationId, Permission, UserId};

/// The signed-in user's id from the session, if any.
pub fn session_user_id(session: &Session) -> Option<UserId> {
    session
        .get::<String>(USER_ID_KEY)
        .ok()
        .flatten()
        .and_then(|s| s.parse().ok())
}

/// Marks `user` as signed in, with a new session key (DESIGN.md: renewed on log-in, sign-up
/// and acceptance, against session fixation).
///
/// # Errors
/// [`AppError::Internal`] if the session cannot be written.
pub fn sign_in(session: &Session, user: UserId) -> Result<(), AppError> {
    session.renew();
    session
        .insert(USER_ID_KEY, user.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session write: {e}")))
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("app state missing")))
}

/// The local path (with query) of this request, to come back to after logging in.
fn here(req: &HttpRequest) -> String {
    match req.uri().path_and_query() {
        Some(pq) if req.method() == actix_web::http::Method::GET => pq.as_str().to_owned(),
        _ => "/".into(),
    }
}

/// Someone signed in, if anyone is. A session whose account is gone counts as signed out.
pub struct MaybeUser(pub Option<User>);

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let state = state(req);
        Box::pin(async move {
            let state = state?;
            let Some(id) = session_user_id(&session) else {
                return Ok(MaybeUser(None));
            };
            let user = state.db.run(move |c| db::users::find(c, id)).await?;
            if user.is_none() {
                session.purge();
            }
            Ok(MaybeUser(user))
        })
    }
}

/// A signed-in user; anyone else is sent to `/login?next=…`.
pub struct CurrentUser(pub User);

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let maybe = MaybeUser::from_request(req, payload);
        let next = here(req);
        Box::pin(async move {
            match maybe.await? {
                MaybeUser(Some(user)) => Ok(CurrentUser(user)),
                MaybeUser(None) => Err(AppError::LoginRequired { next }),
            }
        })
    }
}

/// A signed-in member of the organization named by the `{org}` path segment. A malformed id,
/// an unknown organization and someone else's organization all answer 404.
pub struct OrgMember {
    /// The person.
    pub user: User,
    /// The organization.
    pub org: Organization,
    /// Their membership (role read now).
    pub membership: Membership,
}

impl OrgMember {
    /// Requires `permission`, else a 403 page that says which.
    ///
    /// # Errors
    /// [`AppError::Forbidden`] without it.
    pub fn require(&self, permission: Permission) -> Result<(), AppError> {
        if self.membership.role.has(permission) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "Your role in {} is {}, which does not include {} ({}).",
                self.org.name,
                self.membership.role.label(),
                permission.describe().to_lowercase(),
                permission.name()
            )))
        }
    }
}

impl FromRequest for OrgMember {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = CurrentUser::from_request(req, payload);
        let org_id = req
            .match_info()
            .get("org")
            .map(str::parse::<OrganizationId>);
        let state = state(req);
        Box::pin(async move {
            let CurrentUser(user) = user.await?;
            let state = state?;
            let org_id = match org_id {
                Some(Ok(id)) => id,
                _ => return Err(AppError::NotFound),
            };
            let user_id = user.id;
            let found = state
                .db
                .run(move |c| {
                    let Some(org) = db::organizations::find(c, org_id)? else {
                        return Ok(None);
                    };
                    Ok(db::organizations::membership(c, org_id, user_id)?.map(|m| (org, m)))
                })
                .await?;
            match found {
                Some((org, membership)) => Ok(OrgMember {
                    user,
                    org,
                    membership,
                }),
                None => Err(AppError::NotFound),
            }
        })
    }
}
