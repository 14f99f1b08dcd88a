//! The typed path of every link page (`/invitations/{token}`, `/join/{token}`,
//! `/signup/{token}` and the POSTs under them): the token is parsed once, here, into a
//! [`LinkToken`]; a malformed one is a 404 that never reaches the database (and counts as a
//! miss for the per-client token look-up budget, `web::limits`). The request every link page's
//! handler takes ([`LinkVisit`]), and the one response of every page that carries a token
//! ([`respond`]).

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};

use super::extractors::{MaybeUser, from_parts};
use super::headers::invitation_page;
use super::request_meta::Meta;
use super::session::Session;
use super::{AppError, AppState, Layout};
use crate::domain::User;
use crate::domain::token::LinkToken;
use crate::service::{ServiceError, Services, Visitor};

/// The `{token}` segment of a link page's path, parsed.
pub struct LinkPath(pub LinkToken);

impl FromRequest for LinkPath {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.match_info()
                .get("token")
                .and_then(|raw| LinkToken::parse(raw).ok())
                .map(LinkPath)
                .ok_or(AppError::NotFound),
        )
    }
}

/// Renders `page` with `status` as a page that carries a token, in its URL or its body
/// (DESIGN.md, "Security rules"): `Referrer-Policy: no-referrer` and `Cache-Control:
/// no-store`, so the token leaks through neither a `Referer` header nor a shared cache.
///
/// # Errors
/// [`AppError::Internal`] if the template fails.
pub fn respond(page: &impl Template, status: StatusCode) -> Result<HttpResponse, AppError> {
    Ok(invitation_page(&mut HttpResponse::build(status))
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

/// One request to a link page: the app, the session, who is visiting (signed in or not, and
/// from where) and the link's parsed token. Extracted in that order, as the handlers of every
/// link kind took them one by one: a malformed token is a 404 after the visitor is known.
pub struct LinkVisit {
    /// The application.
    pub state: web::Data<AppState>,
    /// The visitor's session.
    pub session: Session,
    /// Who is visiting, and from where.
    pub visitor: Visitor,
    /// The link's token.
    pub token: LinkToken,
}

from_parts!(LinkVisit: (web::Data<AppState>, Session, MaybeUser, Meta, LinkPath) =>
|(state, session, MaybeUser(user), Meta(origin), LinkPath(token))| {
    let visitor = Visitor { user, origin };
    LinkVisit { state, session, visitor, token }
});

impl LinkVisit {
    /// Who is signed in, if anyone.
    pub fn user(&self) -> Option<&User> {
        self.visitor.user.as_ref()
    }

    /// The signed-in person's address, or an empty string.
    pub fn signed_in_email(&self) -> String {
        self.user().map(|u| u.email.to_string()).unwrap_or_default()
    }

    /// The same visit as if no one were signed in (a form that signs in with its own
    /// credentials).
    #[must_use]
    pub fn signed_out(mut self) -> Self {
        self.visitor.user = None;
        self
    }

    /// The layout of a page titled `title` for this visitor.
    ///
    /// # Errors
    /// [`AppError::Internal`] if the session cannot be written (CSRF token).
    pub fn layout(&self, title: impl Into<String>) -> Result<Layout, AppError> {
        Layout::new(&self.state, &self.session, title, self.user())
    }

    /// Runs the service operation `op` for this visitor, this link and now, as the request's
    /// one blocking hand-off.
    ///
    /// # Errors
    /// Whatever `op` refuses; [`ServiceError::Storage`] if the hand-off failed.
    pub async fn call<T: Send + 'static, R: Send + 'static>(
        &self,
        op: impl FnOnce(&Services, &Visitor, &LinkToken, DateTime<Utc>) -> Result<T, ServiceError<R>>
        + Send
        + 'static,
    ) -> Result<T, ServiceError<R>> {
        self.state.call(self.bound(op)).await
    }

    /// Runs the read-only service operation `op` (opening a link's page: a few indexed reads)
    /// as [`AppState::read`](crate::web::AppState::read) does: on SQLite without a hand-off
    /// to a blocking thread when a connection is idle.
    ///
    /// # Errors
    /// Whatever `op` refuses; [`ServiceError::Storage`] if the hand-off failed.
    pub async fn read<T: Send + 'static, R: Send + 'static>(
        &self,
        op: impl FnOnce(&Services, &Visitor, &LinkToken, DateTime<Utc>) -> Result<T, ServiceError<R>>
        + Send
        + 'static,
    ) -> Result<T, ServiceError<R>> {
        self.state.read(self.bound(op)).await
    }

    /// `op` for this visitor, this link and now, as an operation of the service layer.
    fn bound<X>(
        &self,
        op: impl FnOnce(&Services, &Visitor, &LinkToken, DateTime<Utc>) -> X + Send + 'static,
    ) -> impl FnOnce(&Services) -> X + Send + 'static {
        let (visitor, token) = (self.visitor.clone(), self.token.clone());
        let now = self.state.clock.now();
        move |svc| op(svc, &visitor, &token, now)
    }
}
