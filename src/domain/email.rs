//! Email addresses as Joinery compares and stores them (DESIGN.md, "Email normalization").

use std::fmt;

use super::text::is_invisible_format;

/// The longest address accepted, in characters (RFC 5321 path limit less the angle brackets).
pub const MAX_EMAIL_CHARS: usize = 254;
/// The longest local part (before the `@`) accepted, in characters.
pub const MAX_LOCAL_PART_CHARS: usize = 64;

/// A syntactically valid, normalized email address: trimmed, ASCII letters lowercased.
///
/// Only ASCII letters are folded: Unicode case mapping would let look-alikes such as the Kelvin
/// sign (U+212A) stand for `k`, and PostgreSQL and SQLite would disagree about it. Two addresses
/// are the same invitee exactly when their normalized strings are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);

/// Why a string is not an acceptable email address. The `Display` text is shown to people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing but white space was given.
    #[error("enter an email address")]
    Empty,
    /// Longer than [`MAX_EMAIL_CHARS`].
    #[error("an email address can be at most 254 characters long")]
    TooLong,
    /// The part before the `@` is longer than [`MAX_LOCAL_PART_CHARS`].
    #[error("the part before the @ can be at most 64 characters long")]
    LocalPartTooLong,
    /// Not of the form `name@example.com`.
    #[error("this is not a valid email address")]
    Invalid,
    /// The domain has characters outside ASCII. It is refused rather than converted with
    /// IDNA, whose mapping folds look-alikes (the Kelvin sign becomes `k`) into ASCII letters,
    /// which the ASCII-only folding of addresses exists to prevent (DESIGN.md, "Email
    /// normalization").
    #[error(
        "the domain (after the @) can only use ASCII letters, digits, hyphens and dots; write an international domain in its xn-- form"
    )]
    NonAsciiDomain,
}

impl EmailAddress {
    /// Normalizes and checks `input`: trims white space, lowercases ASCII letters, then checks
    /// length (at most 254 characters, local part at most 64) and syntax (one `@`, a dotted
    /// ASCII domain, no quoting, spaces, control or invisible formatting characters).
    ///
    /// # Errors
    /// [`EmailError`] saying what is wrong; nothing is changed by a failed parse.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.chars().count() > MAX_EMAIL_CHARS {
            return Err(EmailError::TooLong);
        }
        let normalized = trimmed.to_ascii_lowercase();
        let (local, domain) = normalized.rsplit_once('@').ok_or(EmailError::Invalid)?;
        if local.chars().count() > MAX_LOCAL_PART_CHARS {
            return Err(EmailError::LocalPartTooLong);
        }
        if !domain.is_ascii() {
            return Err(EmailError::NonAsciiDomain);
        }
        let plain = |c: char| {
            !c.is_whitespace()
                && !c.is_control()
                && !is_invisible_format(c)
                && !"\"()<>[],;:\\@".contains(c)
        };
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        let local_ok = !local.is_empty()
            && local.chars().all(plain)
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !(domain_ok && local_ok && email_address::EmailAddress::is_valid(&normalized)) {
            return Err(EmailError::Invalid);
        }
        Ok(Self(normalized))
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps an address read back from the database, where only parsed addresses are written.
    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// One entry of a list of addresses as typed into the invite dialog, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListedAddress {
    /// A valid address, normalized.
    Valid(EmailAddress),
    /// What was typed (cut to 254 characters) and why it was refused.
    Invalid {
        /// The entry as typed, trimmed.
        input: String,
        /// Why it was refused.
        error: EmailError,
    },
    /// The same address as an earlier entry (after normalization): invited once.
    Duplicate {
        /// The entry as typed, trimmed.
        input: String,
    },
}

/// Splits a list of addresses separated by newlines, commas or semicolons and parses each
/// entry, in order; a later entry naming the same address as an earlier one (after
/// normalization) is a [`ListedAddress::Duplicate`]. Blank entries are ignored.
pub fn parse_address_list(input: &str) -> Vec<ListedAddress> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for entry in input.split(['\n', '\r', ',', ';']) {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        match EmailAddress::parse(entry) {
            Ok(email) => {
                if seen.insert(email.clone()) {
                    out.push(ListedAddress::Valid(email));
                } else {
                    out.push(ListedAddress::Duplicate {
                        input: entry.chars().take(MAX_EMAIL_CHARS).collect(),
                    });
                }
            }
            Err(error) => out.push(ListedAddress::Invalid {
                input: entry.chars().take(MAX_EMAIL_CHARS).collect(),
                error,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_lowercases_ascii() {
        let a = EmailAddress::parse("User@Example.COM ").unwrap();
        let b = EmailAddress::parse("user@example.com").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "user@example.com");
    }

    #[test]
    fn does_not_fold_unicode_lookalikes() {
        // U+212A KELVIN SIGN must not become an ASCII k.
        let kelvin = EmailAddress::parse("\u{212A}im@example.com").unwrap();
        let ascii = EmailAddress::parse("kim@example.com").unwrap();
        assert_ne!(kelvin, ascii);
        assert!(kelvin.as_str().starts_with('\u{212A}'));
    }

    #[test]
    fn refuses_domains_that_are_not_ascii_instead_of_folding_them() {
        for idn in [
            "ann@exämple.com",
            "ann@\u{212A}iwi.example", // Kelvin sign, which IDNA would map to k
            "ann@bücher.example",
            "ann@example.\u{0441}om", // Cyrillic es
            "ann@ｅxample.com",       // full-width e
        ] {
            assert_eq!(
                EmailAddress::parse(idn),
                Err(EmailError::NonAsciiDomain),
                "{idn:?}"
            );
        }
        assert!(EmailAddress::parse("ann@xn--bcher-kva.example").is_ok());
        assert_eq!(
            EmailError::NonAsciiDomain.to_string(),
            "the domain (after the @) can only use ASCII letters, digits, hyphens and dots; write an international domain in its xn-- form"
        );
    }

    #[test]
    fn refuses_invisible_formatting_characters_in_the_local_part() {
        for disguised in ["ann\u{200B}@example.com", "\u{202E}nna@example.com"] {
            assert_eq!(
                EmailAddress::parse(disguised),
                Err(EmailError::Invalid),
                "{disguised:?}"
            );
        }
    }

    #[test]
    fn enforces_lengths() {
        let local = "a".repeat(64);
        assert!(EmailAddress::parse(&format!("{local}@example.com")).is_ok());
        assert_eq!(
            EmailAddress::parse(&format!("a{local}@example.com")),
            Err(EmailError::LocalPartTooLong)
        );
        let domain = format!("{}.com", "d".repeat(60));
        let long = format!(
            "{}@{}.{}.{}.{}",
            "a".repeat(60),
            domain,
            domain,
            domain,
            domain
        );
        assert_eq!(EmailAddress::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "plainaddress",
            "@example.com",
            "user@",
            "user@localhost",
            "user@@example.com",
            "user name@example.com",
            "user@exa mple.com",
            "\"quoted\"@example.com",
            "user@[127.0.0.1]",
            "user@example..com",
            ".user@example.com",
            "user\r\nBcc: x@evil.com@example.com",
        ] {
            assert!(
                EmailAddress::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
        assert_eq!(EmailAddress::parse("   "), Err(EmailError::Empty));
    }

    #[test]
    fn list_splits_dedups_and_reports_invalid_entries() {
        let parsed =
            parse_address_list("a@example.com, A@EXAMPLE.com\nnot-an-email;\n\nb@example.com");
        assert_eq!(parsed.len(), 4);
        assert!(matches!(&parsed[0], ListedAddress::Valid(e) if e.as_str() == "a@example.com"));
        assert!(
            matches!(&parsed[1], ListedAddress::Duplicate { input } if input == "A@EXAMPLE.com")
        );
        assert!(
            matches!(&parsed[2], ListedAddress::Invalid { input, .. } if input == "not-an-email")
        );
        assert!(matches!(&parsed[3], ListedAddress::Valid(e) if e.as_str() == "b@example.com"));
    }
}
