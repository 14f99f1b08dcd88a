//! Where a request came from, for the audit trail: the client IP and user agent. The IP is the
//! TCP peer, or — only when the peer is a configured trusted proxy — the nearest untrusted
//! address in `X-Forwarded-For` (DESIGN.md, "Security rules").

use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::{Ready, ready};
use ipnet::IpNet;

use super::AppState;
use super::error::AppError;
use crate::db::audit::RequestMeta;

/// The longest user agent recorded, in characters.
pub const MAX_USER_AGENT_CHARS: usize = 300;

/// The client's address: `peer` unless `peer` is trusted, in which case `X-Forwarded-For` is
/// walked from the right (the hop nearest us) past trusted proxies to the first address that
/// is not one. A malformed entry stops the walk at the last good address.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    if let Some(header) = forwarded_for {
        for hop in header.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !is_trusted(&ip) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    }
    client
}

/// Request metadata as an extractor.
pub struct Meta(pub RequestMeta);

impl FromRequest for Meta {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let trusted: &[IpNet] = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.settings.trusted_proxies.as_slice())
            .unwrap_or(&[]);
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        let ip = req
            .peer_addr()
            .map(|peer| client_ip(peer.ip(), forwarded, trusted).to_string());
        let user_agent = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_USER_AGENT_CHARS)
                    .collect()
            });
        ready(Ok(Meta(RequestMeta { ip, user_agent })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_are_taken_as_they_are() {
        assert_eq!(
            client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &[]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_proxy_forwards_the_nearest_untrusted_hop() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // Client spoofs 6.6.6.6 at the left; the real client is the hop our proxy saw.
        assert_eq!(
            client_ip(
                ip("10.0.0.2"),
                Some("6.6.6.6, 198.51.100.7, 10.0.0.5"),
                &trusted
            ),
            ip("198.51.100.7")
        );
        assert_eq!(client_ip(ip("10.0.0.2"), None, &trusted), ip("10.0.0.2"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), Some("garbage"), &trusted),
            ip("10.0.0.2")
        );
    }
}
