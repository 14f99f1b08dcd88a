//! Signed webhooks (issue 15 §2): the events an organization's product can subscribe to, the
//! Standard Webhooks signature, and which endpoint addresses are allowed.
//!
//! An event is written in the same transaction as its change (`db::webhooks::emit`), so it
//! exists if and only if the change happened; the webhook worker delivers it at least once,
//! with the same `webhook-id` on every retry. Signatures follow the Standard Webhooks
//! specification: `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
//! under the endpoint's secret (`whsec_` and the base64 of 24 random bytes).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::token::fill_random;

/// An endpoint failing for this long is disabled (and its Owners emailed).
pub const DISABLE_AFTER: Duration = Duration::days(3);

/// The longest endpoint URL accepted, in characters.
pub const MAX_URL_CHARS: usize = 2_000;

/// An event a product can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// An invitation was sent (`invitation.created`).
    InvitationCreated,
    /// An invitation was accepted: the invitee joined.
    InvitationAccepted,
    /// An invitation was declined.
    InvitationDeclined,
    /// An invitation was revoked (or replaced).
    InvitationRevoked,
    /// An invitation expired (written by the expiry sweep, or when it is replaced).
    InvitationExpired,
    /// Someone became a member, whichever way in.
    MemberAdded,
    /// A member's role changed.
    MemberRoleChanged,
    /// A member was removed or left.
    MemberRemoved,
}

/// The error for an event name that is not one of [`EventType::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event {0:?}")]
pub struct UnknownEvent(pub String);

impl EventType {
    /// Every event, in the form's order.
    pub const ALL: [EventType; 8] = [
        EventType::InvitationCreated,
        EventType::InvitationAccepted,
        EventType::InvitationDeclined,
        EventType::InvitationRevoked,
        EventType::InvitationExpired,
        EventType::MemberAdded,
        EventType::MemberRoleChanged,
        EventType::MemberRemoved,
    ];

    /// The name a receiver sees in `type`: `invitation.created`, …
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::InvitationCreated => "invitation.created",
            EventType::InvitationAccepted => "invitation.accepted",
            EventType::InvitationDeclined => "invitation.declined",
            EventType::InvitationRevoked => "invitation.revoked",
            EventType::InvitationExpired => "invitation.expired",
            EventType::MemberAdded => "member.added",
            EventType::MemberRoleChanged => "member.role_changed",
            EventType::MemberRemoved => "member.removed",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = UnknownEvent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|e| e.as_str() == s.trim())
            .ok_or_else(|| UnknownEvent(s.chars().take(60).collect()))
    }
}

/// An endpoint's signing secret: `whsec_` and the base64 of 24 random bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(String);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

impl SigningSecret {
    /// A fresh secret.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 24];
        fill_random(&mut bytes);
        Self(format!("whsec_{}", STANDARD.encode(bytes)))
    }

    /// A stored secret.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    /// The secret as shown once and stored.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The `webhook-signature` value for message `id` sent at `timestamp` (Unix seconds) with
    /// `body`: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the
    /// secret's bytes.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let key = self
            .0
            .strip_prefix("whsec_")
            .and_then(|b| STANDARD.decode(b).ok())
            .unwrap_or_else(|| self.0.as_bytes().to_vec());
        // HMAC accepts keys of any length, so this cannot fail.
        #[allow(clippy::expect_used)]
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
        mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// Why an endpoint address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefused {
    /// Not an absolute `http` or `https` URL with a host, or too long.
    #[error("Enter an absolute http:// or https:// URL")]
    Malformed,
    /// The host is (or resolves to) a loopback, private, link-local or otherwise internal
    /// address: requests from this server must not reach its own network (SSRF).
    #[error(
        "{0} is an internal address (loopback, private or link-local): webhooks go only to public addresses"
    )]
    Internal(String),
    /// The host does not resolve.
    #[error("{0} does not resolve to an address")]
    Unresolvable(String),
}

/// Checks the shape of an endpoint URL: absolute, `http` or `https`, with a host, at most
/// 2,000 characters, no user name or password.
///
/// # Errors
/// [`UrlRefused::Malformed`].
pub fn parse_url(input: &str) -> Result<url::Url, UrlRefused> {
    let input = input.trim();
    if input.chars().count() > MAX_URL_CHARS {
        return Err(UrlRefused::Malformed);
    }
    let url = url::Url::parse(input).map_err(|_| UrlRefused::Malformed)?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none();
    if ok {
        Ok(url)
    } else {
        Err(UrlRefused::Malformed)
    }
}

/// Whether `ip` is an address webhooks must not reach unless the operator allows private
/// ones: loopback, private (RFC 1918, unique local), link-local, unspecified, broadcast,
/// documentation, shared (CGNAT) and IPv4-mapped forms of those.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 224
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_standard_webhooks_one() {
        // The Standard Webhooks specification's own test vector.
        let secret = SigningSecret::from_stored("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let fresh = SigningSecret::generate();
        assert!(fresh.expose().starts_with("whsec_"));
        assert!(!format!("{fresh:?}").contains("whsec_"));
    }

    #[test]
    fn internal_addresses_in_every_spelling_are_refused() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::6810:85e5"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
        assert_eq!(parse_url("ftp://example.com/x"), Err(UrlRefused::Malformed));
        assert_eq!(
            parse_url("https://user:pw@example.com/"),
            Err(UrlRefused::Malformed)
        );
        assert!(parse_url("https://hooks.example.com/joinery").is_ok());
        assert_eq!(
            "member.added".parse::<EventType>(),
            Ok(EventType::MemberAdded)
        );
    }
}
