//! Link tokens (DESIGN.md, "Tokens"): one type for every kind of link (`domain::link`), parsed
//! in one place, 32 base64url characters carrying 192 bits. The database stores only a token's
//! SHA-256 (for look-up), never the token. Two schemes make them:
//!
//! - **Derived** (invitations, tenant-owner invitations, sign-up links): each gets a 256-bit
//!   random nonce from the operating system's CSPRNG, and its token is
//!   `base64url(HMAC-SHA256(token_key, nonce)[..24])`. A copy of the database without the
//!   server's token key cannot produce a working link, yet a resend recomputes the *original*
//!   link from the nonce.
//! - **Random** (invite links): 24 random bytes, shown once to their creator.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::TryRngCore as _;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// The length of a token in characters.
pub const TOKEN_CHARS: usize = 32;
const TOKEN_BYTES: usize = 24;

/// The server secret that turns nonces into tokens. Rotating it invalidates every outstanding
/// invitation link.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

impl TokenKey {
    /// A key from 32 secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// HMAC-SHA256 of `purpose` followed by `data` under this key: a value only the server
    /// can compute, for secrets derived from a stored nonce (verification codes).
    pub(crate) fn mac(&self, purpose: &[u8], data: &[u8]) -> [u8; 32] {
        // HMAC accepts keys of any length, so this cannot fail.
        #[allow(clippy::expect_used)]
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

/// A per-invitation random value, stored as 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenNonce(pub String);

/// Fills `buf` from the operating system's CSPRNG.
///
/// # Panics
/// If the operating system cannot provide randomness — no safe way to go on exists then.
pub fn fill_random(buf: &mut [u8]) {
    #[allow(clippy::expect_used)]
    OsRng
        .try_fill_bytes(buf)
        .expect("the operating system's random number generator failed");
}

impl TokenNonce {
    /// A fresh nonce: 32 bytes from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        fill_random(&mut bytes);
        Self(hex::encode(bytes))
    }
}

/// A link's token as it appears in its URL: 32 base64url characters. `Debug` hides it so it
/// never reaches logs.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkToken(String);

impl std::fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkToken(<redacted>)")
    }
}

/// The error for a string that cannot be a token (wrong length or alphabet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a link token")]
pub struct MalformedToken;

impl LinkToken {
    /// A fresh random token (192 bits), for links whose token is shown once and never
    /// recomputed (invite links).
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        fill_random(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Derives the token for `nonce` under `key`; the same inputs always give the same token.
    pub fn derive(key: &TokenKey, nonce: &TokenNonce) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        #[allow(clippy::expect_used)]
        let mut mac = Hmac::<Sha256>::new_from_slice(&key.0).expect("HMAC takes any key length");
        mac.update(nonce.0.as_bytes());
        let digest = mac.finalize().into_bytes();
        Self(URL_SAFE_NO_PAD.encode(&digest[..TOKEN_BYTES]))
    }

    /// Accepts a token from a URL: exactly 32 characters of the base64url alphabet.
    ///
    /// # Errors
    /// [`MalformedToken`] otherwise; the caller answers 404 without touching the database.
    pub fn parse(input: &str) -> Result<Self, MalformedToken> {
        let ok = input.len() == TOKEN_CHARS
            && input
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(MalformedToken)
        }
    }

    /// The SHA-256 of the token, hex: the only form the database holds.
    pub fn lookup_hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// The token text, for building a link.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> TokenKey {
        TokenKey::from_bytes([b; 32])
    }

    #[test]
    fn tokens_are_32_url_safe_characters() {
        let t = LinkToken::derive(&key(1), &TokenNonce::generate());
        assert_eq!(t.expose().len(), TOKEN_CHARS);
        assert!(LinkToken::parse(t.expose()).is_ok());
    }

    #[test]
    fn derivation_is_stable_for_resend_and_keyed() {
        let nonce = TokenNonce::generate();
        assert_eq!(
            LinkToken::derive(&key(1), &nonce),
            LinkToken::derive(&key(1), &nonce)
        );
        assert_ne!(
            LinkToken::derive(&key(1), &nonce),
            LinkToken::derive(&key(2), &nonce)
        );
    }

    #[test]
    fn nonces_are_random() {
        assert_ne!(TokenNonce::generate(), TokenNonce::generate());
        assert_eq!(TokenNonce::generate().0.len(), 64);
    }

    #[test]
    fn lookup_hash_is_the_sha256_of_the_token_not_the_token() {
        // Known answer, computed outside Rust:
        // printf %s Tok3n-for_the-lookup-hash-test42 | sha256sum
        let t = LinkToken::parse("Tok3n-for_the-lookup-hash-test42").unwrap();
        assert_eq!(
            t.lookup_hash(),
            "17c979b3349192a15ebdeb34ad317d8bcfb0cb7c8fb7bfacbb3737a7534a3eb2"
        );
        // One character more or less is another hash: the whole token is hashed.
        let next = LinkToken::parse("Tok3n-for_the-lookup-hash-test43").unwrap();
        assert_eq!(
            next.lookup_hash(),
            "e3ae119f81285e2774f06cbf7875466be366f63ba578c2a740f7e85b2515723b"
        );
        // A derived token is looked up by the hash of its link text, not of its nonce.
        let nonce = TokenNonce::generate();
        let derived = LinkToken::derive(&key(1), &nonce);
        let reparsed = LinkToken::parse(derived.expose()).unwrap();
        assert_eq!(derived.lookup_hash(), reparsed.lookup_hash());
        assert!(!derived.lookup_hash().contains(derived.expose()));
    }

    #[test]
    fn parse_rejects_wrong_shapes() {
        assert!(LinkToken::parse("short").is_err());
        assert!(LinkToken::parse(&"a".repeat(33)).is_err());
        assert!(LinkToken::parse(&format!("{}/", "a".repeat(31))).is_err());
        assert!(LinkToken::parse(&"a".repeat(32)).is_ok());
    }

    #[test]
    fn debug_redacts() {
        let t = LinkToken::parse(&"b".repeat(32)).unwrap();
        assert!(!format!("{t:?}").contains("bbbb"));
    }
}
