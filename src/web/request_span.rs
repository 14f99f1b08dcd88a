//! The root span of each request. It records the *route pattern* (`/invitations/{token}`), never
//! the path, so invitation tokens never reach the logs (DESIGN.md, "Tokens"). Every line logged
//! while a request runs is inside this span, so it carries the request id (with
//! `--log-format json`, as the line's `span.request_id`); the response names the same id in
//! `X-Request-Id`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

/// Builds request spans with method, route pattern and request id only.
pub struct RedactedRootSpan;

impl RootSpanBuilder for RedactedRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "<unmatched>".to_owned());
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "request",
            method = %request.method(),
            route = %route,
            request_id = %request_id,
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        if let Ok(res) = outcome {
            let status = res.status();
            span.record("status", status.as_u16());
            // The refusals an operator watches for, logged once each inside the request's span
            // (no address, no token: the span names the route pattern). Rate-limit refusals are
            // only counted (`/metrics`): a flood of them would flood the log.
            span.in_scope(|| {
                if status == StatusCode::UNAUTHORIZED {
                    tracing::info!("log-in refused: wrong email or password");
                } else if status == StatusCode::NOT_FOUND
                    && res
                        .request()
                        .match_pattern()
                        .is_some_and(|p| p.contains("{token}"))
                {
                    tracing::info!("token look-up found nothing");
                }
            });
        }
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// The response header that names the request id (the one the request's log lines and a 500
/// page show).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Middleware (inside `TracingLogger`) that puts the request id on every response as
/// [`REQUEST_ID_HEADER`].
///
/// # Errors
/// Those of the wrapped service, unchanged.
pub async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .extensions()
        .get::<RequestId>()
        .and_then(|id| HeaderValue::from_str(&id.to_string()).ok());
    let mut res = next.call(req).await?;
    if let Some(id) = id {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), id);
    }
    Ok(res)
}
