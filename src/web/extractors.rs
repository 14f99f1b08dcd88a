//! Who is asking. Handlers take these instead of reading session keys: a handler that takes
//! [`OrgMember`] cannot forget the membership check. Roles are read from the database on every
//! request, never cached in the session, so a demotion takes effect on the next click. Each
//! extractor asks the service layer once (`service::accounts::signed_in`,
//! `service::organizations::member_context`), a read that on SQLite runs without a hand-off
//! to a blocking thread when a connection is idle (`AppState::read`).

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;

use super::error::AppError;
use super::request_meta::Meta;
use super::session::Session;
use super::{AppState, Layout};
use crate::db::audit::{self, AuditContext, RequestMeta};
use crate::domain::invitation::Inviter;
use crate::domain::{Membership, Organization, OrganizationId, Permission, Role, User};
use crate::service::accounts;
use crate::service::organizations::{self, MemberContext};
use crate::service::{Actor, ServiceError, Services};

/// Implements `FromRequest` for a struct made of other extractors: they are extracted in the
/// order listed, as a handler's own arguments are (the first that fails answers), and `build`
/// makes the struct from their values.
macro_rules! from_parts {
    ($name:ident: ($($part:ty),+ $(,)?) => |$parts:pat_param| $build:block) => {
        impl actix_web::FromRequest for $name {
            type Error = actix_web::Error;
            type Future =
                futures_util::future::LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

            fn from_request(
                req: &actix_web::HttpRequest,
                payload: &mut actix_web::dev::Payload,
            ) -> Self::Future {
                let parts = <($($part,)+)>::from_request(req, payload);
                Box::pin(async move {
                    let $parts = parts.await?;
                    Ok($build)
                })
            }
        }
    };
}
pub(crate) use from_parts;

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
            let user = state.read(move |svc| accounts::signed_in(svc, id)).await?;
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
    pub fn actor(&self, origin: RequestMeta) -> Actor {
        Actor::new(self.user.clone(), origin)
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
pub fn actor_of(user: &User, as_staff: bool) -> audit::Actor {
    audit::Actor {
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
                .read(move |svc| organizations::member_context(svc, user_id, org_id))
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

/// One request to a page anyone may open (`/`, `/login`, `/signup`, …): the app, the session
/// and who is signed in, if anyone. Extracted in that order, as those handlers took them one by
/// one.
pub struct PageVisit {
    /// The application.
    pub state: web::Data<AppState>,
    /// The session.
    pub session: Session,
    /// Who is signed in, if anyone.
    pub user: Option<User>,
}

from_parts!(PageVisit: (web::Data<AppState>, Session, MaybeUser) =>
|(state, session, MaybeUser(user))| {
    PageVisit { state, session, user }
});

impl PageVisit {
    /// The layout of a page titled `title` for this visitor.
    ///
    /// # Errors
    /// [`AppError::Internal`] if the session cannot be written (CSRF token).
    pub fn layout(&self, title: impl Into<String>) -> Result<Layout, AppError> {
        Layout::new(&self.state, &self.session, title, self.user.as_ref())
    }
}

/// One request to an organization's pages (`/orgs/{org}/…`): the app, the session, the
/// [`OrgMember`] asking and from where. Extracted in that order, as those handlers took them
/// one by one.
pub struct OrgRequest {
    /// The application.
    pub state: web::Data<AppState>,
    /// The session.
    pub session: Session,
    /// Who asks, in which organization, with which role.
    pub member: OrgMember,
    /// The request's client address and user agent (for the audit trail).
    pub origin: RequestMeta,
}

from_parts!(OrgRequest: (web::Data<AppState>, Session, OrgMember, Meta) =>
|(state, session, member, Meta(origin))| {
    OrgRequest { state, session, member, origin }
});

impl OrgRequest {
    /// The organization asked about.
    pub fn org(&self) -> OrganizationId {
        self.member.org.id
    }

    /// Requires `permission` of the member, else a 403 page that says which.
    ///
    /// # Errors
    /// [`AppError::Forbidden`] without it.
    pub fn require(&self, permission: Permission) -> Result<(), AppError> {
        self.member.require(permission)
    }

    /// The layout of a page titled `title` inside the organization.
    ///
    /// # Errors
    /// [`AppError::Internal`] if the session cannot be written (CSRF token).
    pub fn layout(&self, title: impl Into<String>) -> Result<Layout, AppError> {
        Ok(
            Layout::new(&self.state, &self.session, title, Some(&self.member.user))?
                .in_org(&self.member),
        )
    }

    /// Runs the service operation `op` for this member in this organization, now, as the
    /// request's one blocking hand-off.
    ///
    /// # Errors
    /// Whatever `op` refuses; [`ServiceError::Storage`] if the hand-off failed.
    pub async fn call<T: Send + 'static, R: Send + 'static>(
        &self,
        op: impl FnOnce(&Services, &Actor, OrganizationId, DateTime<Utc>) -> Result<T, ServiceError<R>>
        + Send
        + 'static,
    ) -> Result<T, ServiceError<R>> {
        let (actor, org, now) = (
            self.member.actor(self.origin.clone()),
            self.org(),
            self.state.clock.now(),
        );
        self.state.call(move |svc| op(svc, &actor, org, now)).await
    }
}

/// `op` on one item of the organization, named by `id` (a membership, an invitation, an
/// import…), as an operation [`OrgRequest::call`] runs.
pub fn on<I, X>(
    id: I,
    op: impl FnOnce(&Services, &Actor, OrganizationId, I, DateTime<Utc>) -> X + Send + 'static,
) -> impl FnOnce(&Services, &Actor, OrganizationId, DateTime<Utc>) -> X + Send + 'static
where
    I: Send + 'static,
{
    move |svc, actor, org, now| op(svc, actor, org, id, now)
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
