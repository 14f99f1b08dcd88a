//! The JSON API at `/api/v1` (issue 15 §1): resources of one organization, for a product that
//! runs its membership on Joinery.
//!
//! Every request carries an API token (`Authorization: Bearer jnr_…`, made on Settings → API
//! tokens) and acts through it: [`ApiRequest`] authenticates it (`service::api_tokens`) into the
//! [`Actor`] that the same service operations as the pages take, so a rule is kept in one place
//! whichever way in calls it. Errors are RFC 9457 `application/problem+json` ([`ApiError`])
//! with the pages' statuses (`web::refusals`). Lists page with a keyset cursor
//! ([`ListQuery`]). The OpenAPI 3.1 document is generated from these handlers with `utoipa`
//! and served at `/api/v1/openapi.json`, with a reference page at `/api/v1/docs`.

pub mod docs;
pub mod resources;

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::refusals::{PASSWORDS_BUSY, Refusal};
use super::request_meta::Meta;
use crate::domain::OrganizationId;
use crate::service::{Actor, ServiceError, Services};

/// The largest page a list answers (`?limit=`); a larger one is a 400.
pub const MAX_LIMIT: i64 = 200;
/// The page size when `?limit=` is absent.
pub const DEFAULT_LIMIT: i64 = 50;
/// The largest JSON body accepted, in bytes (1,000 addresses fit).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// An RFC 9457 problem: what every error of the API answers, as `application/problem+json`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The status's reason phrase, e.g. "Forbidden".
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What was wrong, in the pages' words (e.g. "All 10 seats are in use…").
    pub detail: String,
}

/// An error of the API: its status, what to say, and for a rate limit when to retry.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The status.
    pub status: StatusCode,
    /// The problem's detail.
    pub detail: String,
    /// Seconds for `Retry-After` (429 only).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `status` saying `detail`.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// A 400: a value no client should send (an unknown role, a bad cursor or limit).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let problem = Problem {
            kind: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
        };
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(seconds) = self.retry_after {
            // 429 (a limit) and 503 (the database) both say when to try again.
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"joinery\""),
            ));
        }
        response.json(problem)
    }
}

impl<R: Refusal> From<ServiceError<R>> for ApiError {
    fn from(e: ServiceError<R>) -> Self {
        match e {
            ServiceError::Refused(r) => Self {
                status: r.rejection().status(),
                detail: r.to_string(),
                retry_after: r.retry_after(),
            },
            // The database could not be reached in time: 503 with Retry-After, as the pages.
            ServiceError::Storage(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable");
                Self {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    detail: "The database is not answering right now. Try again in a few seconds."
                        .to_owned(),
                    retry_after: Some(u64::from(super::error::UNAVAILABLE_RETRY_AFTER)),
                }
            }
            ServiceError::Storage(e) => {
                tracing::error!(error = %e, "API request failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side. Try again in a moment.",
                )
            }
            ServiceError::PasswordsBusy => Self {
                status: StatusCode::TOO_MANY_REQUESTS,
                detail: PASSWORDS_BUSY.to_owned(),
                retry_after: Some(1),
            },
        }
    }
}

/// One authenticated request to an organization's resources: the app, the token's actor,
/// and the organization of the path (`/api/v1/orgs/{org}/…`).
pub struct ApiRequest {
    /// The application.
    pub state: web::Data<AppState>,
    /// The token's creator, acting with the token's role.
    pub actor: Actor,
    /// The organization of the path.
    pub org: OrganizationId,
}

impl FromRequest for ApiRequest {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        // A malformed organization id is "not found", as on the pages.
        let org = req
            .match_info()
            .get("org")
            .and_then(|o| o.parse::<OrganizationId>().ok());
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| rest.to_owned())
            });
        let meta = Meta::from_request(req, payload);
        Box::pin(async move {
            let state = state.ok_or_else(|| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "The app is not set up.")
            })?;
            let origin = meta.await.map(|Meta(m)| m).unwrap_or_default();
            let org =
                org.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "No such organization"))?;
            let now = state.clock.now();
            let actor = state
                .call(move |svc| {
                    crate::service::api_tokens::authenticate(
                        svc,
                        org,
                        bearer.as_deref(),
                        origin,
                        now,
                    )
                })
                .await?;
            Ok(ApiRequest { state, actor, org })
        })
    }
}

impl ApiRequest {
    /// Runs `op` for this request's actor and organization at the app's "now", on the
    /// blocking pool: one hand-off to the service layer.
    ///
    /// # Errors
    /// `op`'s refusal as its problem; storage failures as a 500.
    pub async fn call<T: Send + 'static, R: Refusal + Send + 'static>(
        &self,
        op: impl FnOnce(
            &Services,
            &Actor,
            OrganizationId,
            chrono::DateTime<chrono::Utc>,
        ) -> Result<T, ServiceError<R>>
        + Send
        + 'static,
    ) -> Result<T, ApiError> {
        let (actor, org, now) = (self.actor.clone(), self.org, self.state.clock.now());
        Ok(self
            .state
            .call(move |svc| op(svc, &actor, org, now))
            .await?)
    }
}

/// `?limit=` and `?cursor=` of a list.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// How many items to answer: 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` from the previous page's body, to go on from there.
    pub cursor: Option<String>,
}

impl ListQuery {
    /// The page size asked for.
    ///
    /// # Errors
    /// [`ApiError::bad_request`] outside 1–200.
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit.unwrap_or(DEFAULT_LIMIT) {
            n @ 1..=MAX_LIMIT => Ok(n),
            n => Err(ApiError::bad_request(format!(
                "limit must be between 1 and {MAX_LIMIT}; it was {n}."
            ))),
        }
    }

    /// The cursor's text, decoded.
    ///
    /// # Errors
    /// [`ApiError::bad_request`] for a cursor this API did not give out.
    pub fn cursor(&self) -> Result<Option<String>, ApiError> {
        self.cursor
            .as_deref()
            .map(|c| {
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| ApiError::bad_request("cursor is not one this API gave out."))
            })
            .transpose()
    }
}

/// An opaque cursor for `position` (the inverse of [`ListQuery::cursor`]).
pub fn encode_cursor(position: &str) -> String {
    URL_SAFE_NO_PAD.encode(position.as_bytes())
}

/// A 400 problem for a body or query the API cannot read (actix's JSON and query errors).
fn unreadable(what: &str, e: &dyn std::fmt::Display) -> actix_web::Error {
    ApiError::bad_request(format!("The {what} could not be read: {e}.")).into()
}

/// The `/api/v1` routes, with JSON and query errors answered as problems (set on each
/// resource, so the pages keep their own).
pub fn routes(cfg: &mut web::ServiceConfig) {
    use crate::paths as P;
    use resources as r;
    let resource = |pattern: &str| {
        web::resource(pattern.to_owned())
            .app_data(
                web::JsonConfig::default()
                    .limit(MAX_BODY_BYTES)
                    .content_type_required(false)
                    .error_handler(|e, _| unreadable("JSON body", &e)),
            )
            .app_data(
                web::QueryConfig::default().error_handler(|e, _| unreadable("query string", &e)),
            )
            .app_data(web::PathConfig::default().error_handler(|_, _| {
                ApiError::new(StatusCode::NOT_FOUND, "No such resource").into()
            }))
    };
    cfg.route(P::API_OPENAPI.pattern(), web::get().to(docs::openapi_json))
        .route(P::API_DOCS.pattern(), web::get().to(docs::reference))
        .service(resource(P::API_ORG.pattern()).route(web::get().to(r::organization)))
        .service(resource(P::API_MEMBERS.pattern()).route(web::get().to(r::members)))
        .service(
            resource(P::API_MEMBER.pattern())
                .route(web::patch().to(r::change_role))
                .route(web::delete().to(r::remove_member)),
        )
        .service(
            resource(P::API_INVITATIONS.pattern())
                .route(web::get().to(r::invitations))
                .route(web::post().to(r::invite)),
        )
        .service(
            resource(P::API_INVITATION.pattern())
                .route(web::get().to(r::invitation))
                .route(web::delete().to(r::revoke)),
        )
        .service(resource(P::API_RESEND.pattern()).route(web::post().to(r::resend)))
        .service(resource(P::API_AUDIT.pattern()).route(web::get().to(r::audit)));
}
