//! Security headers (DESIGN.md, "Security rules") and the log-in rate limiter.

use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::{Governor, GovernorConfig, GovernorConfigBuilder, PeerIpKeyExtractor};
use actix_web::HttpResponseBuilder;
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;

/// The Content-Security-Policy of every page: only our own scripts, styles and forms, no
/// framing, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Headers every response carries unless the handler set its own.
pub fn default_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
}

/// Marks a response as an invitation page: the token in the URL must not leak through a
/// `Referer` header or a shared cache.
pub fn invitation_page(builder: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    builder
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
}

/// The rate limiter's configuration type: keyed by the peer's IP address.
pub type LoginRateLimit = GovernorConfig<PeerIpKeyExtractor, NoOpMiddleware>;

/// A limiter allowing `per_minute` POSTs (log-in attempts, sign-up requests) per IP per minute
/// (burst of the same size,
/// refilled evenly). Build it once and share it, so every worker counts the same attempts.
pub fn login_rate_limit(per_minute: u32) -> LoginRateLimit {
    let per_minute = per_minute.max(1);
    let mut builder = GovernorConfigBuilder::default();
    builder
        .period(std::time::Duration::from_millis(
            60_000 / u64::from(per_minute),
        ))
        .burst_size(per_minute)
        // Only attempts count: showing the log-in form is free.
        .methods(vec![actix_web::http::Method::POST]);
    // `finish` refuses only a zero period or burst, which the `max(1)` above rules out.
    builder.finish().unwrap_or_default()
}

/// The middleware for one route, sharing `config`'s counters.
pub fn limit(config: &LoginRateLimit) -> Governor<PeerIpKeyExtractor, NoOpMiddleware> {
    Governor::new(config)
}
