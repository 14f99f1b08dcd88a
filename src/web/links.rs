//! The typed path of every link page (`/invitations/{token}`, `/join/{token}`,
//! `/signup/{token}` and the POSTs under them): the token is parsed once, here, into a
//! [`LinkToken`]; a malformed one is a 404 that never reaches the database (and counts as a
//! miss for the per-client token look-up budget, `web::limits`).

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use super::AppError;
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
