//! The SSRF guard of webhook endpoints: a URL's host is resolved (IP literals as they are;
//! names through the stub table, then DNS) and refused when any address is loopback, private,
//! link-local or otherwise internal (`domain::webhook::is_internal`), unless the operator set
//! `--webhooks-allow-private`. Delivery connects to the addresses checked here, never to a
//! second lookup's, so a name cannot resolve to a public address at registration and an
//! internal one at delivery.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use url::{Host, Url};

use crate::config::Settings;
use crate::domain::webhook::{UrlRefused, is_internal};

/// What the guard allows: private addresses or not, and the stub resolver's table.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// `--webhooks-allow-private`.
    pub allow_private: bool,
    /// Names resolved without DNS (tests).
    pub hosts: Vec<(String, IpAddr)>,
}

impl Guard {
    /// The guard of `settings`.
    pub fn of(settings: &Settings) -> Self {
        Self {
            allow_private: settings.webhooks_allow_private,
            hosts: settings.webhook_hosts.clone(),
        }
    }

    /// The addresses `url` may be reached at: its host resolved (blocking DNS for a name not
    /// in the stub table), each checked.
    ///
    /// # Errors
    /// [`UrlRefused::Internal`] when any address is internal and private ones are not allowed;
    /// [`UrlRefused::Unresolvable`] when the name has no address; [`UrlRefused::Malformed`]
    /// without a host.
    pub fn check(&self, url: &Url) -> Result<Vec<SocketAddr>, UrlRefused> {
        let port = url.port_or_known_default().ok_or(UrlRefused::Malformed)?;
        let host = url.host().ok_or(UrlRefused::Malformed)?;
        let name = host.to_string();
        let ips: Vec<IpAddr> = match host {
            Host::Ipv4(ip) => vec![IpAddr::V4(ip)],
            Host::Ipv6(ip) => vec![IpAddr::V6(ip)],
            Host::Domain(domain) => {
                let stubbed: Vec<IpAddr> = self
                    .hosts
                    .iter()
                    .filter(|(h, _)| h.eq_ignore_ascii_case(domain))
                    .map(|(_, ip)| *ip)
                    .collect();
                if stubbed.is_empty() {
                    (domain, port)
                        .to_socket_addrs()
                        .map_err(|_| UrlRefused::Unresolvable(name.clone()))?
                        .map(|a| a.ip())
                        .collect()
                } else {
                    stubbed
                }
            }
        };
        if ips.is_empty() {
            return Err(UrlRefused::Unresolvable(name));
        }
        if !self.allow_private && ips.iter().any(|ip| is_internal(*ip)) {
            return Err(UrlRefused::Internal(name));
        }
        Ok(ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn loopback_spellings_and_stubbed_internal_names_are_refused_without_a_connection() {
        let guard = Guard {
            allow_private: false,
            hosts: vec![("hooks.example.test".into(), "127.0.0.1".parse().unwrap())],
        };
        for u in [
            "http://127.0.0.1:9/hook",
            "http://127.1.2.3/hook",
            "http://[::1]:8080/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://localhost/hook",
            "http://hooks.example.test/hook",
            "http://HOOKS.example.test/hook",
        ] {
            assert!(
                matches!(guard.check(&url(u)), Err(UrlRefused::Internal(_))),
                "{u}"
            );
        }
        let allowed = Guard {
            allow_private: true,
            ..guard
        };
        let addrs = allowed
            .check(&url("http://hooks.example.test:8081/x"))
            .unwrap();
        assert_eq!(addrs, ["127.0.0.1:8081".parse().unwrap()]);
    }
}
