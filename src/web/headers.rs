//! Security headers (DESIGN.md, "Security rules") and the per-client rate limiters (log-in,
//! sign-up and every route that hashes or verifies a password).

use actix_governor::governor::middleware::NoOpMiddleware;
use std::net::IpAddr;
use std::sync::Arc;

use actix_governor::{
    Governor, GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError,
};
use actix_web::HttpResponseBuilder;
use actix_web::dev::ServiceRequest;
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use ipnet::IpNet;

/// The Content-Security-Policy of every page: only our own scripts, styles and forms, no
/// framing, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The Permissions-Policy of every response: Joinery uses no device or sensor, no payment
/// request and no screen capture, so no page (nor anything injected into one) may ask for
/// them. Only features Chromium knows are named: an unknown one is a console error.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), display-capture=(), \
     geolocation=(), gyroscope=(), hid=(), magnetometer=(), microphone=(), midi=(), payment=(), \
     serial=(), usb=()";

/// Strict-Transport-Security when the base URL is https: browsers then use https only, for two
/// years, on this host and its subdomains (no `preload`: that is the operator's choice).
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=63072000; includeSubDomains";

/// Headers every response carries unless the handler set its own (DESIGN.md, "Security
/// rules"); with `https` (the base URL is https) also [`STRICT_TRANSPORT_SECURITY`].
pub fn default_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Permissions-Policy", PERMISSIONS_POLICY));
    if https {
        headers.add((header::STRICT_TRANSPORT_SECURITY, STRICT_TRANSPORT_SECURITY))
    } else {
        headers
    }
}

/// Marks a response as an invitation page: the token in the URL must not leak through a
/// `Referer` header or a shared cache.
pub fn invitation_page(builder: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    builder
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
}

/// Keys the rate limiters by the client's address, as the audit trail sees it: the peer, or
/// the forwarded address only when the peer is a trusted proxy (so that behind a proxy every
/// visitor does not share one budget, and a client cannot pick its own key by forging
/// `X-Forwarded-For`).
#[derive(Debug, Clone)]
pub struct ClientIpKey {
    trusted: Arc<Vec<IpNet>>,
    /// Counts this limiter's refusals (`joinery_rate_limited_total`), when metrics are kept.
    refusals: Option<prometheus::IntCounter>,
}

impl KeyExtractor for ClientIpKey {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<IpAddr, Self::KeyExtractionError> {
        client_key(req, &self.trusted)
            .ok_or_else(|| SimpleKeyExtractionError::new("Could not determine the client address"))
    }

    /// actix-governor's own refusal (plain text; `render_429` makes it a page), counted.
    fn exceed_rate_limit_response(
        &self,
        negative: &actix_governor::governor::NotUntil<
            actix_governor::governor::clock::QuantaInstant,
        >,
        mut response: HttpResponseBuilder,
    ) -> actix_web::HttpResponse {
        use actix_governor::governor::clock::{Clock as _, DefaultClock};
        if let Some(refusals) = &self.refusals {
            refusals.inc();
        }
        let wait = negative
            .wait_time_from(DefaultClock::default().now())
            .as_secs();
        response
            .content_type(actix_web::http::header::ContentType::plaintext())
            .body(format!("Too many requests, retry in {wait}s"))
    }
}

/// The client a request counts against in the rate limiters: the peer address, or the
/// forwarded one only when the peer is one of `trusted` proxies, with an IPv6 address cut to
/// its /56. `None` when the peer address is unknown.
pub fn client_key(req: &ServiceRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    Some(
        match super::request_meta::client_ip(peer, forwarded, trusted) {
            // One budget per /56: IPv6 customers usually get a whole prefix.
            IpAddr::V6(v6) => {
                let mut octets = v6.octets();
                octets[7..].fill(0);
                IpAddr::V6(octets.into())
            }
            v4 => v4,
        },
    )
}

/// The rate limiters' configuration type: keyed by [`ClientIpKey`].
pub type LoginRateLimit = GovernorConfig<ClientIpKey, NoOpMiddleware>;

/// A limiter allowing `per_minute` POSTs (log-in attempts, sign-up requests) per client per
/// minute (burst of the same size, refilled evenly), with clients told apart as
/// [`ClientIpKey`] does. Build it once and share it, so every worker counts the same attempts.
/// Each refusal is counted in `refusals`, when given.
pub fn login_rate_limit(
    per_minute: u32,
    trusted_proxies: &[IpNet],
    refusals: Option<prometheus::IntCounter>,
) -> LoginRateLimit {
    let per_minute = per_minute.max(1);
    let mut builder = GovernorConfigBuilder::default();
    builder
        .period(std::time::Duration::from_millis(
            60_000 / u64::from(per_minute),
        ))
        .burst_size(per_minute)
        // Only attempts count: showing the forms is free.
        .methods(vec![actix_web::http::Method::POST]);
    // `finish` refuses only a zero period or burst, which the `max(1)` above rules out.
    builder
        .key_extractor(ClientIpKey {
            trusted: Arc::new(trusted_proxies.to_vec()),
            refusals,
        })
        .finish()
        .unwrap_or_else(|| unreachable_config(per_minute))
}

#[allow(clippy::panic)]
fn unreachable_config(per_minute: u32) -> LoginRateLimit {
    panic!("rate limiter refused {per_minute} per minute")
}

/// The middleware for one route, sharing `config`'s counters.
pub fn limit(config: &LoginRateLimit) -> Governor<ClientIpKey, NoOpMiddleware> {
    Governor::new(config)
}
