//! Errors as people see them: every failure is mapped to a status and a styled page here, in
//! one place. A 500 shows the request id that the log line carries.
//!
//! [`Rejection`] is the status policy (DESIGN.md, "Security rules"; the README's "Status
//! policy" table): every refusal a page or route gives is one of its kinds, and
//! [`Rejection::status`] is the only mapping from a kind to an HTTP status. Handlers that
//! re-render a form (422, 401, 410) take the status from it too.

use actix_web::HttpMessage as _;
use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use askama_web::WebTemplate;

use crate::db::DbError;

/// The kinds of refusal, each with its one status (DESIGN.md, "Security rules": "One status
/// policy for every form, page and API route").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Refused by permission, role ceiling, plan or seats (also a forged POST that the UI
    /// never offers, such as an Admin demoting an Owner): 403.
    Forbidden,
    /// A value that no form offers (an unknown role, an unreadable body): 400.
    Malformed,
    /// A form whose input fails validation, re-shown with the message beside the field: 422.
    Invalid,
    /// An unknown, foreign or malformed id or token in a path: 404.
    NotFound,
    /// Opening (or posting to) a link that can no longer be used: 410.
    LinkUnusable,
    /// A POST acting on an invitation or link in a final state (resend or revoke of an
    /// accepted or revoked one): 409.
    FinalState,
    /// A rate limit (resend within 60 s, the hourly invitation limit, log-in and sign-up per
    /// client, token look-ups, busy password threads): 429 with `Retry-After`.
    RateLimited,
    /// A body over its limit: 413.
    TooLarge,
    /// A wrong password (or an unknown email, answered alike): 401.
    WrongPassword,
}

impl Rejection {
    /// The HTTP status of this kind of refusal: the one place the policy is written.
    pub const fn status(self) -> StatusCode {
        match self {
            Rejection::Forbidden => StatusCode::FORBIDDEN,
            Rejection::Malformed => StatusCode::BAD_REQUEST,
            Rejection::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            Rejection::NotFound => StatusCode::NOT_FOUND,
            Rejection::LinkUnusable => StatusCode::GONE,
            Rejection::FinalState => StatusCode::CONFLICT,
            Rejection::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Rejection::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::WrongPassword => StatusCode::UNAUTHORIZED,
        }
    }

    /// The heading of the error page for this kind.
    pub const fn title(self) -> &'static str {
        match self {
            Rejection::Forbidden => "You cannot do that",
            Rejection::Malformed => "Something is wrong with that request",
            Rejection::Invalid => "Please check what you entered",
            Rejection::NotFound => "Page not found",
            Rejection::LinkUnusable => "This link can no longer be used",
            Rejection::FinalState => "Nothing to do",
            Rejection::RateLimited => "Too many attempts",
            Rejection::TooLarge => "That is too much at once",
            Rejection::WrongPassword => "Wrong email or password",
        }
    }
}

/// A link on an error page that takes the person back to where they were (the Team page,
/// the staff console), so a refusal keeps their place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackLink {
    /// A local path.
    pub href: String,
    /// What the link says, e.g. "Back to Team Management".
    pub label: String,
}

/// What an error page says: the message, and where "back" leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    /// What happened and what to do.
    pub text: String,
    /// Where to go back to, if the page knows.
    pub back: Option<BackLink>,
}

impl std::fmt::Display for Explained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<String> for Explained {
    fn from(text: String) -> Self {
        Self { text, back: None }
    }
}

impl From<&str> for Explained {
    fn from(text: &str) -> Self {
        text.to_owned().into()
    }
}

/// Why a request failed. Each variant's status comes from [`Rejection::status`].
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The thing does not exist, or belongs to another organization (never say which).
    #[error("Page not found")]
    NotFound,
    /// Signed in but not allowed (permission, role ceiling, plan, seats); the text says why.
    #[error("{0}")]
    Forbidden(Explained),
    /// A POST without a valid CSRF token.
    #[error("This form has expired. Go back, reload the page and try again.")]
    Csrf,
    /// Malformed input that no form field can show (a broken URL, an unreadable body, a role
    /// that no form offers).
    #[error("{0}")]
    BadRequest(Explained),
    /// A POST on an invitation or link in a final state.
    #[error("{0}")]
    Conflict(Explained),
    /// A link that can no longer be used.
    #[error("{0}")]
    Gone(Explained),
    /// A page that needs a signed-in person; `next` is where to come back to.
    #[error("Please log in")]
    LoginRequired {
        /// A local path to return to after logging in.
        next: String,
    },
    /// A rate limit refused the request; `retry_after` seconds (at least 1) go into the
    /// `Retry-After` header.
    #[error("{why}")]
    TooManyRequests {
        /// What was limited and when to try again.
        why: Explained,
        /// Seconds until a retry may succeed.
        retry_after: u64,
    },
    /// A body over its limit.
    #[error("{0}")]
    PayloadTooLarge(Explained),
    /// Input that failed validation, where no form can show it beside a field.
    #[error("{0}")]
    Unprocessable(Explained),
    /// A wrong password, where no form can show it.
    #[error("{0}")]
    Unauthorized(Explained),
    /// Anything else: logged with its cause; the person sees a request id.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// A 429 saying `why`, retryable after `retry_after` seconds (at least 1).
    pub fn too_many(why: impl Into<Explained>, retry_after: u64) -> Self {
        AppError::TooManyRequests {
            why: why.into(),
            retry_after: retry_after.max(1),
        }
    }

    /// The same error with a link back to `href` on its page (ignored by errors that have no
    /// page of their own: 404, log-in redirects, 500s).
    pub fn back_to(mut self, href: impl Into<String>, label: impl Into<String>) -> Self {
        let link = BackLink {
            href: href.into(),
            label: label.into(),
        };
        match &mut self {
            AppError::Forbidden(e)
            | AppError::BadRequest(e)
            | AppError::Conflict(e)
            | AppError::Gone(e)
            | AppError::PayloadTooLarge(e)
            | AppError::Unprocessable(e)
            | AppError::Unauthorized(e)
            | AppError::TooManyRequests { why: e, .. } => e.back = Some(link),
            AppError::NotFound
            | AppError::Csrf
            | AppError::LoginRequired { .. }
            | AppError::Internal(_) => {}
        }
        self
    }

    /// The kind of refusal under the status policy; `None` for log-in redirects and 500s.
    pub fn rejection(&self) -> Option<Rejection> {
        Some(match self {
            AppError::NotFound => Rejection::NotFound,
            AppError::Forbidden(_) | AppError::Csrf => Rejection::Forbidden,
            AppError::BadRequest(_) => Rejection::Malformed,
            AppError::Conflict(_) => Rejection::FinalState,
            AppError::Gone(_) => Rejection::LinkUnusable,
            AppError::TooManyRequests { .. } => Rejection::RateLimited,
            AppError::PayloadTooLarge(_) => Rejection::TooLarge,
            AppError::Unprocessable(_) => Rejection::Invalid,
            AppError::Unauthorized(_) => Rejection::WrongPassword,
            AppError::LoginRequired { .. } | AppError::Internal(_) => return None,
        })
    }
}

impl AppError {
    /// The error for a refusal of kind `rejection` saying `why` (for a rate limit, retryable
    /// after `retry_after` seconds, else after a minute).
    pub fn rejected(
        rejection: Rejection,
        why: impl Into<Explained>,
        retry_after: Option<u64>,
    ) -> Self {
        let why = why.into();
        match rejection {
            Rejection::Forbidden => AppError::Forbidden(why),
            Rejection::Malformed => AppError::BadRequest(why),
            Rejection::Invalid => AppError::Unprocessable(why),
            Rejection::NotFound => AppError::NotFound,
            Rejection::LinkUnusable => AppError::Gone(why),
            Rejection::FinalState => AppError::Conflict(why),
            Rejection::RateLimited => AppError::too_many(why, retry_after.unwrap_or(60)),
            Rejection::TooLarge => AppError::PayloadTooLarge(why),
            Rejection::WrongPassword => AppError::Unauthorized(why),
        }
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(e.into())
    }
}

/// The styled error page. (Rendered by [`error_response`], which adds the status and
/// `Cache-Control: no-store`; `WebTemplate` makes it a responder like every page.)
#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    /// The status code, e.g. 404.
    pub status: u16,
    /// The heading.
    pub title: &'a str,
    /// What happened and what to do.
    pub message: &'a str,
    /// The request id, for 500s.
    pub request_id: Option<&'a str>,
    /// Where "back" leads, if known.
    pub back: Option<&'a BackLink>,
}

/// Renders the error page as a response with `status`.
pub fn error_response(
    status: StatusCode,
    title: &str,
    message: &str,
    request_id: Option<&str>,
) -> HttpResponse {
    error_page(status, title, message, request_id, None)
}

/// Renders the error page with an optional link back.
fn error_page(
    status: StatusCode,
    title: &str,
    message: &str,
    request_id: Option<&str>,
    back: Option<&BackLink>,
) -> HttpResponse {
    let page = ErrorPage {
        status: status.as_u16(),
        title,
        message,
        request_id,
        back,
    };
    let body = page
        .render()
        .unwrap_or_else(|_| format!("{} {title}", status.as_u16()));
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            other => other
                .rejection()
                .map_or(StatusCode::INTERNAL_SERVER_ERROR, Rejection::status),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let page = |kind: Rejection, why: &Explained| {
            error_page(status, kind.title(), &why.text, None, why.back.as_ref())
        };
        match self {
            AppError::NotFound => error_response(
                status,
                Rejection::NotFound.title(),
                "There is nothing here. Check the address, or go back to your organization.",
                None,
            ),
            AppError::Csrf => error_response(status, "Form expired", &self.to_string(), None),
            AppError::Forbidden(why) => page(Rejection::Forbidden, why),
            AppError::BadRequest(why) => page(Rejection::Malformed, why),
            AppError::Conflict(why) => page(Rejection::FinalState, why),
            AppError::Gone(why) => page(Rejection::LinkUnusable, why),
            AppError::PayloadTooLarge(why) => page(Rejection::TooLarge, why),
            AppError::Unprocessable(why) => page(Rejection::Invalid, why),
            AppError::Unauthorized(why) => page(Rejection::WrongPassword, why),
            AppError::TooManyRequests { why, retry_after } => {
                let mut res = page(Rejection::RateLimited, why);
                res.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(*retry_after));
                res
            }
            AppError::LoginRequired { next } => {
                let location = format!(
                    "{}?next={}",
                    crate::paths::login(),
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, location))
                    .finish()
            }
            AppError::Internal(cause) => {
                // Logged inside the request's span, which carries its request id.
                if cause
                    .downcast_ref::<DbError>()
                    .is_some_and(DbError::is_unavailable)
                {
                    // `render_500` answers 503: not a fault of this request.
                    tracing::warn!(error = %cause, "database unavailable");
                } else {
                    tracing::error!(error = ?cause, "request failed");
                }
                // The page itself (with the request id) is rendered by `render_500`.
                HttpResponse::InternalServerError().finish()
            }
        }
    }
}

/// The answer while the database cannot be reached: 503 with `Retry-After` and a page that
/// says so. The instance itself is fine and recovers by itself once the database is back; a
/// load balancer may send the visitor to another.
#[derive(Debug, thiserror::Error)]
#[error("the database is unreachable")]
pub struct DatabaseUnavailable;

impl ResponseError for DatabaseUnavailable {
    fn status_code(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    fn error_response(&self) -> HttpResponse {
        let mut page = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "Joinery cannot reach its database at the moment. Please try again in a few seconds.",
            None,
        );
        page.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(UNAVAILABLE_RETRY_AFTER),
        );
        page
    }
}

/// Middleware just outside the session middleware: an error that a middleware returned instead
/// of a response (the session store's, when it cannot load a session) bypasses `ErrorHandlers`
/// and [`render_500`]; while the database is unreachable such an error becomes
/// [`DatabaseUnavailable`] (503), as a handler's would.
///
/// # Errors
/// The wrapped service's errors, those caused by the database's absence as
/// [`DatabaseUnavailable`].
pub async fn database_errors(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> actix_web::Result<ServiceResponse<impl actix_web::body::MessageBody>> {
    let state = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .cloned();
    next.call(req).await.map_err(|e| {
        if state.is_some_and(|s| s.db.unreachable()) {
            tracing::warn!(error = %e, "database unavailable");
            DatabaseUnavailable.into()
        } else {
            e
        }
    })
}

/// Seconds a 503 (database unreachable) asks the client to wait before trying again.
pub const UNAVAILABLE_RETRY_AFTER: u32 = 5;

/// Whether a failed request failed because the database could not be reached: its error is a
/// [`DbError`] that says so, or the pool has lost the database (which also covers failures
/// that reach here without their cause, such as the session store's).
fn database_unavailable<B>(res: &ServiceResponse<B>) -> bool {
    let cause = res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
        .and_then(|e| match e {
            AppError::Internal(cause) => cause.downcast_ref::<DbError>(),
            _ => None,
        });
    cause.is_some_and(DbError::is_unavailable)
        || res
            .request()
            .app_data::<actix_web::web::Data<super::AppState>>()
            .is_some_and(|state| state.db.unreachable())
}

/// `ErrorHandlers` hook for every 500: replaces the body with the styled page showing the
/// request id that the log line for this request carries — or, when the database could not be
/// reached, answers 503 with `Retry-After` (the instance is fine and recovers by itself once
/// the database is back; a load balancer may try another).
///
/// # Errors
/// Never; the signature is actix's.
pub fn render_500<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    if is_problem(&res) {
        // The JSON API's own problem (`web::api`): a client reads it, not a person.
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let request_id = res
        .request()
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|id| id.to_string());
    let unavailable = database_unavailable(&res);
    let (req, _) = res.into_parts();
    let page = if unavailable {
        DatabaseUnavailable.error_response()
    } else {
        error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "We could not finish this request. Nothing was lost; please try again. If it keeps happening, tell your administrator this request id:",
            request_id.as_deref(),
        )
    };
    let res = ServiceResponse::new(req, page).map_into_right_body::<B>();
    Ok(ErrorHandlerResponse::Response(
        res.map_body(|_, b: EitherBody<B, BoxBody>| b),
    ))
}

/// Whether `res` is an `application/problem+json` answer of the JSON API.
fn is_problem<B>(res: &ServiceResponse<B>) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"))
}

/// `ErrorHandlers` hook for 429 from the per-IP rate limiters (log-in, sign-up): a styled page
/// instead of their plain text, keeping the limiter's `Retry-After` header. Joinery's own 429
/// pages (HTML already) pass through unchanged.
///
/// # Errors
/// Never; the signature is actix's.
pub fn render_429<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let ours = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if ours || is_problem(&res) {
        // A page of Joinery's own (a resend too soon, the hourly limit): it says more.
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let retry_after = res
        .headers()
        .get("x-ratelimit-after")
        .or_else(|| res.headers().get(header::RETRY_AFTER))
        .cloned();
    let (req, _) = res.into_parts();
    let wait = retry_after
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .map(|s| format!("Too many attempts from your network. Wait {s} seconds, then try again."))
        .unwrap_or_else(|| {
            "Too many attempts from your network. Wait a minute, then try again.".into()
        });
    let mut page = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        &wait,
        None,
    );
    if let Some(v) = retry_after {
        page.headers_mut().insert(header::RETRY_AFTER, v);
    }
    let res = ServiceResponse::new(req, page).map_into_right_body::<B>();
    Ok(ErrorHandlerResponse::Response(
        res.map_body(|_, b: EitherBody<B, BoxBody>| b),
    ))
}
