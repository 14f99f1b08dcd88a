//! Who is asking. Handlers take these instead of reading session keys: a handler that takes
//! [`OrgMember`] cannot forget the membership check. Roles are read from the database on every
//! request, never cached in the session, so a demotion takes effect on the next click. Each
//! extractor asks the service layer once (`service::accounts::signed_in`,
//! `service::organizations::member_context`): one hand-off to a blocking thread.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::AppState;
use super::error::AppError;
use super::session::Session;
use crate::db::audit::{Actor, AuditContext, RequestMeta};
use crate::domain::invitation::Inviter;
use crate::domain::{Membership, Organization, OrganizationId, Permission, Role, User};
use crate::service::ServiceError;
use crate::service::accounts;
use crate::service::organizations::{self, MemberContext};

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
        let session = Session::of(req);
        let state = state(req);
        Box::pin(async move {
            let (state, session) = (state?, session?);
            let Some(id) = session.user_id() else {
                return Ok(MaybeUser(None));
            };
            let user = state.call(move |svc| accounts::signed_in(svc, id)).await?;
            if user.is_none() {
                session.sign_out();
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

/// One organization of the signed-in person, for the header's switcher.
#[derive(Debug, Clone)]
pub struct OrgLink {
    /// Its id.
    pub id: OrganizationId,
    /// Its name.
    pub name: String,
    /// The person's role there.
    pub role: Role,
}

/// A signed-in person allowed into the organization named by the `{org}` path segment: a
/// member, or platform staff (who act there as an Owner would — DESIGN.md, rule 6). A
/// malformed id, an unknown organization and someone else's organization all answer 404.
pub struct OrgMember {
    /// The person.
    pub user: User,
    /// The organization.
    pub org: Organization,
    /// Their membership, if they are a member (staff may not be).
    pub membership: Option<Membership>,
    /// The role they act with, read from the database on this request: their membership's,
    /// or Owner for staff.
    pub role: Role,
    /// Whether they act as platform staff rather than through their own membership.
    pub as_staff: bool,
    /// Every organization they belong to, by name (the header's switcher).
    pub organizations: Vec<OrgLink>,
}

impl OrgMember {
    /// Requires `permission`, else a 403 page that says which.
    ///
    /// # Errors
    /// [`AppError::Forbidden`] without it.
    pub fn require(&self, permission: Permission) -> Result<(), AppError> {
        if self.role.has(permission) {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                format!(
                    "Your role in {} is {}, which does not include {} ({}).",
                    self.org.name,
                    self.role.label(),
                    permission.describe().to_lowercase(),
                    permission.name()
                )
                .into(),
            ))
        }
    }

    /// The policy's view of this person as an inviter.
    pub fn inviter(&self) -> Inviter {
        if self.as_staff {
            Inviter::Staff
        } else {
            Inviter::Member(self.role)
        }
    }

    /// This person as the service layer's actor, with the request's origin.
    pub fn actor(&self, origin: RequestMeta) -> crate::service::Actor {
        crate::service::Actor {
            user: self.user.clone(),
            origin,
        }
    }

    /// The audit trail's view of this person, with the request's origin.
    pub fn audit(&self, meta: RequestMeta) -> AuditContext {
        AuditContext {
            actor: actor_of(&self.user, self.as_staff),
            meta,
        }
    }
}

/// The audit trail's name for `user`: "Name <email>", flagged when acting as staff.
pub fn actor_of(user: &User, as_staff: bool) -> Actor {
    Actor {
        user_id: Some(user.id),
        label: format!("{} <{}>", user.name, user.email),
        is_staff: as_staff,
    }
}

impl FromRequest for OrgMember {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = Session::of(req);
        let next = here(req);
        let org_id = req
            .match_info()
            .get("org")
            .map(str::parse::<OrganizationId>);
        let state = state(req);
        Box::pin(async move {
            let (state, session) = (state?, session?);
            let Some(user_id) = session.user_id() else {
                return Err(AppError::LoginRequired { next });
            };
            let org_id = org_id.and_then(Result::ok);
            // The person, their standing and their organizations in one hand-off.
            let context = state
                .call(move |svc| organizations::member_context(svc, user_id, org_id))
                .await;
            let MemberContext {
                user,
                acting,
                organizations,
            } = match context {
                Ok(Some(context)) => context,
                Ok(None) => {
                    // A session whose account is gone counts as signed out.
                    session.sign_out();
                    return Err(AppError::LoginRequired { next });
                }
                // Neither an unknown organization nor someone else's is admitted to exist.
                Err(ServiceError::Refused(_)) => return Err(AppError::NotFound),
                Err(e) => return Err(e.into()),
            };
            Ok(OrgMember {
                user,
                org: acting.org,
                membership: acting.membership,
                role: acting.role,
                as_staff: acting.as_staff,
                organizations: organizations
                    .into_iter()
                    .map(|(o, role)| OrgLink {
                        id: o.id,
                        name: o.name,
                        role,
                    })
                    .collect(),
            })
        })
    }
}

/// Platform staff. Anyone else — signed in or not — gets a 404: the console's existence is
/// not advertised.
pub struct StaffUser(pub User);

impl FromRequest for StaffUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let maybe = MaybeUser::from_request(req, payload);
        Box::pin(async move {
            match maybe.await? {
                MaybeUser(Some(user)) if user.is_staff => Ok(StaffUser(user)),
                _ => Err(AppError::NotFound),
            }
        })
    }
}
