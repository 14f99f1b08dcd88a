//! Page handlers, one module per area. Each handler reads like a sentence: who is asking →
//! parse the form into domain types → ask the domain → store the result → render or redirect.

pub mod acceptance;
pub mod api_tokens;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod csv_import;
pub mod dashboard;
pub mod dev;
pub mod domains;
pub mod health;
pub mod invite_links;
pub mod join_requests;
pub mod member_export;
pub mod members;
pub mod settings;
pub mod signup;
pub mod staff;
pub mod team;
pub mod tenant_acceptance;
pub mod webhooks;

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use askama::Template;

use super::AppError;
use super::error::Rejection;

/// A 303 redirect to `location` (after a POST, so a reload does not resubmit).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Renders `page` as HTML with `status` (for form errors: 400 or 422 with the form re-shown).
///
/// # Errors
/// [`AppError::Internal`] if the template fails.
pub fn render_with_status(
    page: &impl Template,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

/// Renders `page` — a form re-shown with its input kept and why it was refused — with the
/// status of `rejection` (the status policy, `web::error::Rejection`), and for a rate limit
/// `Retry-After: retry_after` seconds (at least 1).
///
/// # Errors
/// [`AppError::Internal`] if the template fails.
pub fn render_refused(
    page: &impl Template,
    rejection: Rejection,
    retry_after: Option<u64>,
) -> Result<HttpResponse, AppError> {
    let mut response = render_with_status(page, rejection.status())?;
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(seconds.max(1)),
        );
    }
    Ok(response)
}

/// Seconds from `now` until `at`, at least 1 (for `Retry-After`).
pub fn seconds_until(at: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> u64 {
    u64::try_from((at - now).num_seconds()).unwrap_or(0).max(1)
}

/// Renders `page` as a 200 HTML response.
///
/// # Errors
/// [`AppError::Internal`] if the template fails.
pub fn render(page: &impl Template) -> Result<HttpResponse, AppError> {
    render_with_status(page, StatusCode::OK)
}
