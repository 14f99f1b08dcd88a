//! Verified email domains (DESIGN.md, "Access, integration": Verified domains): what a domain
//! name is, which ones may be claimed, how the mailed code proves one, the enrollment modes, and
//! the policy that restricts invitations to verified domains.
//!
//! Pure decisions: the service layer reads the rows, asks here, and writes.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use subtle::ConstantTimeEq;

use super::email::EmailAddress;
use super::role::Role;
use super::token::{TokenKey, TokenNonce};

/// How long a mailed code proves the domain: 30 minutes.
pub const CODE_TTL: Duration = Duration::minutes(30);
/// Wrong codes allowed before the code stops working: 5.
pub const MAX_ATTEMPTS: i32 = 5;
/// Seconds between two codes mailed for one domain: 60.
pub const CODE_RESEND_SECONDS: i64 = 60;
/// The longest domain name DNS allows: 253 characters.
pub const MAX_DOMAIN_CHARS: usize = 253;

/// A domain name as stored: lower case, ASCII labels of letters, digits and hyphens, at least
/// two labels (`example.com`), at most 253 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);

/// Why a domain cannot be claimed. `Display` is the message the form shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainNameError {
    /// Nothing was entered.
    #[error("Enter a domain, such as example.com.")]
    Empty,
    /// Longer than DNS allows.
    #[error("A domain has at most 253 characters.")]
    TooLong,
    /// Not a domain name.
    #[error(
        "“{0}” is not a domain name: use letters, digits, hyphens and dots, such as example.com."
    )]
    Invalid(String),
    /// A public mail provider: its addresses belong to anyone.
    #[error(
        "{0} is a public email provider: anyone can have an address there, so it cannot be verified for an organization."
    )]
    PublicMail(String),
}

impl DomainName {
    /// Parses what an Owner typed: trimmed, lower-cased, one trailing dot and a leading `@`
    /// dropped. Public mail domains are refused ([`is_public_mail_domain`]).
    ///
    /// # Errors
    /// [`DomainNameError`] saying what was wrong.
    pub fn parse(input: &str) -> Result<Self, DomainNameError> {
        let trimmed = input.trim().trim_start_matches('@').trim_end_matches('.');
        if trimmed.is_empty() {
            return Err(DomainNameError::Empty);
        }
        if trimmed.len() > MAX_DOMAIN_CHARS {
            return Err(DomainNameError::TooLong);
        }
        let name = trimmed.to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        let labels: Vec<&str> = name.split('.').collect();
        let tld_ok = labels
            .last()
            .is_some_and(|t| !t.bytes().all(|b| b.is_ascii_digit()));
        if labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) || !tld_ok {
            return Err(DomainNameError::Invalid(trimmed.chars().take(80).collect()));
        }
        if is_public_mail_domain(&name) {
            return Err(DomainNameError::PublicMail(name));
        }
        Ok(Self(name))
    }

    /// The domain of an address (the part after `@`, already lower case in an
    /// [`EmailAddress`]), unchecked against the public list: for comparing, not claiming.
    pub fn of(email: &EmailAddress) -> Self {
        let at = email.as_str().rsplit_once('@').map_or("", |(_, d)| d);
        Self(at.to_ascii_lowercase())
    }

    /// A name read back from the database, which only ever holds parsed names.
    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    /// The name, e.g. `example.com`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `email` is an address at this domain (exactly; not a subdomain).
    pub fn holds(&self, email: &EmailAddress) -> bool {
        Self::of(email) == *self
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// HubSpot's list of free email providers, one domain per line, sorted (see the file's head
/// for where it comes from).
const PUBLIC_MAIL_DOMAINS: &str = include_str!("public_mail_domains.txt");

/// Whether `domain` (lower case), or a domain it is under, belongs to a public mail provider
/// (gmail.com, outlook.com …): [`PUBLIC_MAIL_DOMAINS`], searched by halves.
pub fn is_public_mail_domain(domain: &str) -> bool {
    static LIST: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        PUBLIC_MAIL_DOMAINS
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    });
    let mut rest = domain;
    loop {
        if LIST.binary_search(&rest).is_ok() {
            return true;
        }
        match rest.split_once('.') {
            Some((_, parent)) if parent.contains('.') => rest = parent,
            _ => return false,
        }
    }
}

/// What a verified domain lets people with an address there do (DESIGN.md, "Verified
/// domains": manual only, suggest, automatic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EnrollmentMode {
    /// Manual invitations only: nothing is offered (the default).
    #[default]
    Manual,
    /// They see "Request to join {org}" and send a join request.
    Suggest,
    /// They see "Join {org}" and become members at once with the domain's default role.
    Automatic,
}

impl EnrollmentMode {
    /// Every mode, in the order the settings page offers them.
    pub const ALL: [EnrollmentMode; 3] = [
        EnrollmentMode::Manual,
        EnrollmentMode::Suggest,
        EnrollmentMode::Automatic,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentMode::Manual => "manual",
            EnrollmentMode::Suggest => "suggest",
            EnrollmentMode::Automatic => "automatic",
        }
    }

    /// What the settings page calls it.
    pub fn label(self) -> &'static str {
        match self {
            EnrollmentMode::Manual => "Manual invitations only",
            EnrollmentMode::Suggest => "Suggest",
            EnrollmentMode::Automatic => "Automatic",
        }
    }

    /// One sentence on what it does.
    pub fn description(self) -> &'static str {
        match self {
            EnrollmentMode::Manual => "People join only when invited.",
            EnrollmentMode::Suggest => {
                "Signed-in people with an address at the domain can ask to join; Owners and Admins approve."
            }
            EnrollmentMode::Automatic => {
                "Signed-in people with an address at the domain can join at once, with the default role."
            }
        }
    }
}

impl fmt::Display for EnrollmentMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A stored or submitted mode name that is not one of [`EnrollmentMode::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown enrollment mode {0:?}")]
pub struct UnknownMode(pub String);

impl FromStr for EnrollmentMode {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Self, UnknownMode> {
        EnrollmentMode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownMode(s.to_owned()))
    }
}

/// The highest default role a domain may give: Editor (DESIGN.md, "automatic (joins with the
/// domain's default role, never above Editor)").
pub const HIGHEST_DOMAIN_ROLE: Role = Role::Editor;

/// The roles a domain's default may be, lowest first.
pub fn domain_roles() -> Vec<Role> {
    Role::ALL_ASCENDING
        .into_iter()
        .filter(|r| *r <= HIGHEST_DOMAIN_ROLE)
        .collect()
}

/// A default role above Editor was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("A domain's default role can be at most Editor; {0} must be given by invitation.")]
pub struct DomainRoleTooHigh(pub Role);

/// Checks a domain's default role: at most [`HIGHEST_DOMAIN_ROLE`], so never Owner or Admin.
///
/// # Errors
/// [`DomainRoleTooHigh`] otherwise.
pub fn check_default_role(role: Role) -> Result<(), DomainRoleTooHigh> {
    if role <= HIGHEST_DOMAIN_ROLE {
        Ok(())
    } else {
        Err(DomainRoleTooHigh(role))
    }
}

/// A 6-digit verification code. The code is derived from a stored nonce with the server's
/// token key (as link tokens are), so the database never holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct VerificationCode(String);

impl fmt::Debug for VerificationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerificationCode(…)")
    }
}

/// What was typed is not six digits. `Display` is the message the form shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Enter the 6-digit code from the email.")]
pub struct MalformedCode;

impl VerificationCode {
    /// The code for `nonce` under `key`: the same inputs always give the same six digits.
    pub fn derive(key: &TokenKey, nonce: &TokenNonce) -> Self {
        let digest = key.mac(b"domain-code:", nonce.0.as_bytes());
        let n = u64::from_be_bytes([
            digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
        ]);
        Self(format!("{:06}", n % 1_000_000))
    }

    /// Accepts what someone typed: six digits, with spaces and hyphens ignored.
    ///
    /// # Errors
    /// [`MalformedCode`] otherwise.
    pub fn parse(input: &str) -> Result<Self, MalformedCode> {
        let digits: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(MalformedCode)
        }
    }

    /// The six digits, for the email.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether two codes are equal, in constant time.
    pub fn matches(&self, other: &VerificationCode) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

/// What a pending domain's current code is like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeFacts {
    /// When the code stops working.
    pub expires_at: DateTime<Utc>,
    /// Wrong codes entered so far.
    pub attempts: i32,
}

/// Why a code did not verify the domain. `Display` is the message the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeRejected {
    /// Past its 30 minutes.
    #[error("This code has expired. Send a new code and enter it within 30 minutes.")]
    Expired,
    /// Five wrong codes were entered already.
    #[error("Too many wrong codes. Send a new code to try again.")]
    NoAttemptsLeft,
    /// The wrong code; `attempts_left` more may be tried.
    #[error("That code is not right. {attempts_left} {} left.", if *.attempts_left == 1 { "attempt" } else { "attempts" })]
    Wrong {
        /// Attempts left after this one.
        attempts_left: i32,
    },
}

impl CodeFacts {
    /// Checks `given` against `expected` at `now`: the code must be unexpired and fewer than
    /// [`MAX_ATTEMPTS`] wrong ones entered. A wrong code counts as an attempt (the caller
    /// stores the count, even when refusing).
    ///
    /// # Errors
    /// [`CodeRejected`].
    pub fn check(
        &self,
        given: &VerificationCode,
        expected: &VerificationCode,
        now: DateTime<Utc>,
    ) -> Result<(), CodeRejected> {
        if self.attempts >= MAX_ATTEMPTS {
            return Err(CodeRejected::NoAttemptsLeft);
        }
        if now >= self.expires_at {
            return Err(CodeRejected::Expired);
        }
        if given.matches(expected) {
            Ok(())
        } else {
            Err(CodeRejected::Wrong {
                attempts_left: MAX_ATTEMPTS - self.attempts - 1,
            })
        }
    }
}

/// An organization's rule on whom it may invite: anyone, or only addresses at its verified
/// domains (issue "Who may get in" §2: "Invitations and invite links may be restricted to
/// verified domains").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DomainPolicy {
    /// `Some(domains)` when the organization restricts to its verified domains.
    pub restricted_to: Option<Vec<DomainName>>,
}

/// An address outside an organization's verified domains, when it restricts to them.
/// `Display` is the reason shown beside the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("outside this organization's verified domains")]
pub struct OutsideVerifiedDomains;

impl DomainPolicy {
    /// Whether `email` may be invited (or join through a link).
    ///
    /// # Errors
    /// [`OutsideVerifiedDomains`] when the organization restricts and the address's domain is
    /// not one of its verified domains.
    pub fn check(&self, email: &EmailAddress) -> Result<(), OutsideVerifiedDomains> {
        match &self.restricted_to {
            Some(domains) if !domains.iter().any(|d| d.holds(email)) => Err(OutsideVerifiedDomains),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    #[test]
    fn a_domain_is_normalized_and_checked() {
        assert_eq!(
            DomainName::parse(" @Acme.Test. ").unwrap().as_str(),
            "acme.test"
        );
        assert_eq!(DomainName::parse("").unwrap_err(), DomainNameError::Empty);
        for bad in [
            "localhost",
            "acme..test",
            "-acme.test",
            "acme.test/x",
            "1.2.3.4",
            "a b.c",
        ] {
            assert!(
                matches!(DomainName::parse(bad), Err(DomainNameError::Invalid(_))),
                "{bad}"
            );
        }
        let long = format!("{}.test", "a".repeat(260));
        assert_eq!(
            DomainName::parse(&long).unwrap_err(),
            DomainNameError::TooLong
        );
    }

    #[test]
    fn public_mail_domains_are_refused() {
        for public in [
            "gmail.com",
            "outlook.com",
            "yahoo.com",
            "hotmail.com",
            "GMAIL.com",
        ] {
            assert!(
                matches!(
                    DomainName::parse(public),
                    Err(DomainNameError::PublicMail(_))
                ),
                "{public}"
            );
        }
        assert!(DomainName::parse("acme.test").is_ok());
        assert!(
            is_public_mail_domain("mail.gmail.com"),
            "a subdomain of one"
        );
        assert!(!is_public_mail_domain("com"));
    }

    #[test]
    fn the_public_list_is_sorted_so_it_can_be_searched_by_halves() {
        let list: Vec<&str> = PUBLIC_MAIL_DOMAINS
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect();
        assert!(list.len() > 4_000);
        assert!(list.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_domain_holds_only_its_own_addresses() {
        let acme = DomainName::parse("acme.test").unwrap();
        assert!(acme.holds(&email("ann@acme.test")));
        assert!(!acme.holds(&email("ann@eu.acme.test")));
        assert!(!acme.holds(&email("ann@notacme.test")));
    }

    #[test]
    fn the_default_role_is_at_most_editor() {
        assert!(check_default_role(Role::Viewer).is_ok());
        assert!(check_default_role(Role::Editor).is_ok());
        assert_eq!(
            check_default_role(Role::Admin),
            Err(DomainRoleTooHigh(Role::Admin))
        );
        assert!(check_default_role(Role::Owner).is_err());
        assert_eq!(
            domain_roles(),
            vec![Role::Viewer, Role::Writer, Role::Editor]
        );
    }

    #[test]
    fn a_code_is_six_digits_derived_from_its_nonce() {
        let key = TokenKey::from_bytes([7; 32]);
        let nonce = TokenNonce("n1".into());
        let code = VerificationCode::derive(&key, &nonce);
        assert_eq!(code.expose().len(), 6);
        assert!(code.matches(&VerificationCode::derive(&key, &nonce)));
        let other = VerificationCode::derive(&key, &TokenNonce("n2".into()));
        assert_ne!(code.expose(), other.expose());
        assert_eq!(
            VerificationCode::parse("123 456").unwrap().expose(),
            "123456"
        );
        assert_eq!(VerificationCode::parse("12345"), Err(MalformedCode));
        assert_eq!(VerificationCode::parse("abcdef"), Err(MalformedCode));
    }

    #[test]
    fn a_code_expires_after_thirty_minutes_and_allows_five_attempts() {
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        let right = VerificationCode::parse("111111").unwrap();
        let wrong = VerificationCode::parse("222222").unwrap();
        let fresh = CodeFacts {
            expires_at: now + CODE_TTL,
            attempts: 0,
        };
        assert_eq!(fresh.check(&right, &right, now), Ok(()));
        assert_eq!(
            fresh.check(&wrong, &right, now),
            Err(CodeRejected::Wrong { attempts_left: 4 })
        );
        assert_eq!(
            fresh.check(&right, &right, now + CODE_TTL),
            Err(CodeRejected::Expired)
        );
        let spent = CodeFacts {
            attempts: MAX_ATTEMPTS,
            ..fresh
        };
        assert_eq!(
            spent.check(&right, &right, now),
            Err(CodeRejected::NoAttemptsLeft)
        );
    }

    #[test]
    fn a_restricted_policy_admits_only_its_domains() {
        let open = DomainPolicy::default();
        assert!(open.check(&email("x@anywhere.test")).is_ok());
        let restricted = DomainPolicy {
            restricted_to: Some(vec![DomainName::parse("acme.test").unwrap()]),
        };
        assert!(restricted.check(&email("ann@acme.test")).is_ok());
        assert_eq!(
            restricted.check(&email("bob@other.test")),
            Err(OutsideVerifiedDomains)
        );
        let none_verified = DomainPolicy {
            restricted_to: Some(vec![]),
        };
        assert!(none_verified.check(&email("ann@acme.test")).is_err());
    }
}
