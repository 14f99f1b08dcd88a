//! API tokens (issue 15 §1): what lets a product act in one organization over `/api/v1`.
//!
//! An Owner makes a token on Settings → API tokens with a name, the role it acts as (at most
//! the Owner's own) and an optional expiry. The secret — `jnr_` and 32 base64url characters,
//! 192 random bits — is shown once; the database keeps only its SHA-256. A token acts with the
//! lower of its role and its creator's current role, and stops working when revoked, when it
//! expires, or when its creator is removed or demoted below its role (it is then revoked, as
//! their invitations are).

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

use super::token::LinkToken;
use super::{ApiTokenId, OrganizationId, Role, UserId};

/// What every secret starts with, so that a leaked one is recognizable (secret scanners).
pub const SECRET_PREFIX: &str = "jnr_";

/// The longest token name, in characters.
pub const MAX_NAME_CHARS: usize = 80;

/// How often `last_used_at` is written at most: once a minute per token.
pub const LAST_USED_EVERY: Duration = Duration::minutes(1);

/// A token's secret as `Authorization: Bearer` carries it. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiSecret(LinkToken);

impl std::fmt::Debug for ApiSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiSecret(<redacted>)")
    }
}

/// The error for a bearer value that cannot be a secret (nothing is looked up for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an API token")]
pub struct MalformedSecret;

impl ApiSecret {
    /// A fresh random secret.
    pub fn generate() -> Self {
        Self(LinkToken::generate())
    }

    /// Accepts `jnr_` followed by 32 base64url characters.
    ///
    /// # Errors
    /// [`MalformedSecret`] for anything else.
    pub fn parse(input: &str) -> Result<Self, MalformedSecret> {
        let rest = input.strip_prefix(SECRET_PREFIX).ok_or(MalformedSecret)?;
        LinkToken::parse(rest)
            .map(Self)
            .map_err(|_| MalformedSecret)
    }

    /// The SHA-256 of the secret, hex: the only form the database holds.
    pub fn lookup_hash(&self) -> String {
        self.0.lookup_hash()
    }

    /// The secret as shown once to its creator and sent as `Authorization: Bearer …`.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", self.0.expose())
    }
}

/// How long a new token works: the choices of the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenExpiry {
    /// Until revoked.
    Never,
    /// 30 days.
    Days30,
    /// 90 days.
    Days90,
    /// One year.
    Year,
}

/// The error for an expiry no form offers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("choose one of the expiry periods listed")]
pub struct UnknownTokenExpiry;

impl TokenExpiry {
    /// Every choice, in the form's order.
    pub const ALL: [TokenExpiry; 4] = [
        TokenExpiry::Never,
        TokenExpiry::Days30,
        TokenExpiry::Days90,
        TokenExpiry::Year,
    ];

    /// The form value.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenExpiry::Never => "never",
            TokenExpiry::Days30 => "30d",
            TokenExpiry::Days90 => "90d",
            TokenExpiry::Year => "365d",
        }
    }

    /// The label people read.
    pub fn label(self) -> &'static str {
        match self {
            TokenExpiry::Never => "Never",
            TokenExpiry::Days30 => "30 days",
            TokenExpiry::Days90 => "90 days",
            TokenExpiry::Year => "1 year",
        }
    }

    /// When a token made at `now` expires (`None`: never).
    pub fn expires_at(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            TokenExpiry::Never => None,
            TokenExpiry::Days30 => Some(now + Duration::days(30)),
            TokenExpiry::Days90 => Some(now + Duration::days(90)),
            TokenExpiry::Year => Some(now + Duration::days(365)),
        }
    }
}

impl FromStr for TokenExpiry {
    type Err = UnknownTokenExpiry;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        TokenExpiry::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or(UnknownTokenExpiry)
    }
}

/// One API token (never its secret).
#[derive(Debug, Clone)]
pub struct ApiToken {
    /// Its id.
    pub id: ApiTokenId,
    /// The only organization it works for.
    pub organization_id: OrganizationId,
    /// Its name, as the audit trail says it ("API token {name}").
    pub name: String,
    /// The role it acts as (never above its creator's current role).
    pub role: Role,
    /// Who made it.
    pub created_by: UserId,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used (written at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    /// Whether the token works at `now`: not revoked and not expired (the instant of expiry
    /// is too late).
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }

    /// Whether a use at `now` should write `last_used_at` (at most once a minute).
    pub fn due_for_last_used(&self, now: DateTime<Utc>) -> bool {
        self.last_used_at
            .is_none_or(|at| now - at >= LAST_USED_EVERY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(expires_at: Option<DateTime<Utc>>) -> ApiToken {
        ApiToken {
            id: ApiTokenId::new(),
            organization_id: OrganizationId::new(),
            name: "CRM sync".into(),
            role: Role::Admin,
            created_by: UserId::new(),
            created_at: Utc::now(),
            expires_at,
            last_used_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn secrets_have_the_prefix_and_only_their_hash_is_kept() {
        let secret = ApiSecret::generate();
        let shown = secret.expose();
        assert!(shown.starts_with("jnr_"));
        assert_eq!(shown.len(), 36);
        let parsed = ApiSecret::parse(&shown).unwrap();
        assert_eq!(parsed.lookup_hash(), secret.lookup_hash());
        assert!(!secret.lookup_hash().contains(&shown[4..]));
        assert!(!format!("{secret:?}").contains(&shown[4..]));
        assert_eq!(ApiSecret::parse(&shown[4..]), Err(MalformedSecret));
        assert_eq!(ApiSecret::parse("jnr_short"), Err(MalformedSecret));
    }

    #[test]
    fn a_token_works_until_revoked_or_expired_and_records_use_once_a_minute() {
        let now = Utc::now();
        let mut t = token(Some(now + Duration::days(30)));
        assert!(t.is_usable(now));
        assert!(!t.is_usable(now + Duration::days(30)));
        assert!(token(None).is_usable(now + Duration::days(3_650)));
        assert!(t.due_for_last_used(now));
        t.last_used_at = Some(now);
        assert!(!t.due_for_last_used(now + Duration::seconds(59)));
        assert!(t.due_for_last_used(now + Duration::seconds(60)));
        t.revoked_at = Some(now);
        assert!(!t.is_usable(now));
        assert_eq!("90d".parse(), Ok(TokenExpiry::Days90));
        assert!("2d".parse::<TokenExpiry>().is_err());
    }
}
