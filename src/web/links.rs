//! The typed path of every link page (`/invitations/{token}`, `/join/{token}`,
//! `/signup/{token}` and the POSTs under them): the token is parsed once, here, into a
//! [`LinkToken`]; a malformed one is a 404 that never reaches the database (and counts as a
//! miss for the per-client token look-up budget, `web::limits`). And the one response of every
//! page that carries a token ([`respond`]).

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use askama::Template;

use super::AppError;
use super::headers::invitation_page;
use crate::domain::token::LinkToken;

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
