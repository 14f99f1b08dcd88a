//! Errors as people see them: every failure is mapped to a status and a styled page here, in
//! one place. A 500 shows the request id that the log line carries.

use actix_web::HttpMessage as _;
use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::db::DbError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The thing does not exist, or belongs to another organization (never say which).
    #[error("Page not found")]
    NotFound,
    /// Signed in but not allowed; the text says why.
    #[error("{0}")]
    Forbidden(String),
    /// A POST without a valid CSRF token.
    #[error("This form has expired. Go back, reload the page and try again.")]
    Csrf,
    /// Malformed input that no form field can show (a broken URL, an unreadable body).
    #[error("{0}")]
    BadRequest(String),
    /// A page that needs a signed-in person; `next` is where to come back to.
    #[error("Please log in")]
    LoginRequired {
        /// A local path to return to after logging in.
        next: String,
    },
    /// A rate limit refused the request.
    #[error("{0}")]
    TooManyRequests(String),
    /// Anything else: logged with its cause; the person sees a request id.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
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

/// The styled error page.
#[derive(Template)]
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
}

/// Renders the error page as a response with `status`.
pub fn error_response(
    status: StatusCode,
    title: &str,
    message: &str,
    request_id: Option<&str>,
) -> HttpResponse {
    let page = ErrorPage {
        status: status.as_u16(),
        title,
        message,
        request_id,
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
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            AppError::NotFound => error_response(
                status,
                "Page not found",
                "There is nothing here. Check the address, or go back to your organization.",
                None,
            ),
            AppError::Forbidden(why) => error_response(status, "You cannot do that", why, None),
            AppError::Csrf => error_response(status, "Form expired", &self.to_string(), None),
            AppError::BadRequest(why) => {
                error_response(status, "Something is wrong with that request", why, None)
            }
            AppError::TooManyRequests(why) => {
                error_response(status, "Too many attempts", why, None)
            }
            AppError::LoginRequired { next } => {
                let location = format!(
                    "/login?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, location))
                    .finish()
            }
            AppError::Internal(cause) => {
                // Logged inside the request's span, which carries its request id.
                tracing::error!(error = ?cause, "request failed");
                // The page itself (with the request id) is rendered by `render_500`.
                HttpResponse::InternalServerError().finish()
            }
        }
    }
}

/// `ErrorHandlers` hook for every 500: replaces the body with the styled page showing the
/// request id that the log line for this request carries.
///
/// # Errors
/// Never; the signature is actix's.
pub fn render_500<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let request_id = res
        .request()
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|id| id.to_string());
    let (req, _) = res.into_parts();
    let page = error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "We could not finish this request. Nothing was lost; please try again. If it keeps happening, tell your administrator this request id:",
        request_id.as_deref(),
    );
    let res = ServiceResponse::new(req, page).map_into_right_body::<B>();
    Ok(ErrorHandlerResponse::Response(
        res.map_body(|_, b: EitherBody<B, BoxBody>| b),
    ))
}

/// `ErrorHandlers` hook for 429 from the per-IP rate limiters (log-in, sign-up): a styled page instead of plain
/// text, keeping the limiter's `Retry-After` headers.
///
/// # Errors
/// Never; the signature is actix's.
pub fn render_429<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
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
