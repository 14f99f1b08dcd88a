//! Passwords: bounds on what people type, a list of common and breached passwords that are
//! refused, and argon2id hashing with OWASP's parameters (DESIGN.md, "Security rules").
//! Hashing is slow on purpose: callers run it on the blocking pool, never on an async worker.

use std::collections::HashSet;
use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// The shortest password accepted for a new account, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password accepted, in characters; bounds the hashing work per request.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Why a new password was refused. The `Display` text is shown beside the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than [`MIN_PASSWORD_CHARS`].
    #[error("use at least 8 characters")]
    TooShort,
    /// Longer than [`MAX_PASSWORD_CHARS`].
    #[error("use at most 128 characters")]
    TooLong,
    /// On the list of common and breached passwords ([`is_common_password`]).
    #[error(
        "this password is too common: it appears in lists of breached passwords. Choose another"
    )]
    TooCommon,
}

/// The 20,000 most common passwords, lowercased, one per line: Django's list, made by Royce
/// Williams from breach corpuses (`data/README.md` says where it comes from; licence in
/// `data/common-passwords.LICENSE`).
const COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

/// Whether `input` is a common or known-breached password (NIST SP 800-63B §5.1.1.2: new
/// passwords are checked against such a list). Compared trimmed and lowercased, so
/// `Password1` and ` password1 ` count as `password1`.
pub fn is_common_password(input: &str) -> bool {
    static LIST: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
        COMMON_PASSWORDS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    });
    LIST.contains(input.trim().to_lowercase().as_str())
}

/// A password a person typed, checked for length. Never logged: `Debug` hides it.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    /// Checks a new password: 8 to 128 characters, and not a common or breached one
    /// ([`is_common_password`]).
    ///
    /// # Errors
    /// [`PasswordError`] when outside those bounds or on the list.
    pub fn new_account(input: &str) -> Result<Self, PasswordError> {
        let n = input.chars().count();
        if n < MIN_PASSWORD_CHARS {
            Err(PasswordError::TooShort)
        } else if n > MAX_PASSWORD_CHARS {
            Err(PasswordError::TooLong)
        } else if is_common_password(input) {
            Err(PasswordError::TooCommon)
        } else {
            Ok(Self(input.to_owned()))
        }
    }

    /// A password typed at log-in. Over-long input is cut to the bound rather than refused, so
    /// the answer to a wrong password never differs from the answer to an unknown email.
    pub fn attempt(input: &str) -> Self {
        Self(input.chars().take(MAX_PASSWORD_CHARS).collect())
    }

    /// The text, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// argon2id with OWASP's recommended minimum: 19 MiB of memory, 2 iterations, 1 lane.
fn hasher() -> Argon2<'static> {
    // These constants are valid by construction; `Params::new` only fails outside argon2's
    // ranges, so the default (which is the same parameters) is a safe fallback.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`). CPU-bound for
/// tens of milliseconds: call from a password thread (`crate::password_pool`).
///
/// # Errors
/// Only if argon2 itself fails, which with fixed valid parameters means a bug.
pub fn hash_password(password: &Password) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(hasher()
        .hash_password(password.expose().as_bytes(), &salt)?
        .to_string())
}

/// A valid hash of a random password, checked against when an email is unknown so that an
/// unknown email and a wrong password take the same time (DESIGN.md, "Security rules").
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$gZiV/M1gPc22ElAH/Jh1Hw$CWOrkoo7oJBQ/iyh7uJ0LO2aLEfrHwTWllSAxT0zRno";

/// Whether `password` matches `stored_hash`. A malformed stored hash counts as no match.
/// CPU-bound like [`hash_password`]: call from a password thread (`crate::password_pool`).
pub fn verify_password(password: &Password, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => hasher()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_with_argon2id_owasp_parameters_and_verifies() {
        let pw = Password::new_account("correct horse battery").unwrap();
        let hash = hash_password(&pw).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(&pw, &hash));
        assert!(!verify_password(
            &Password::attempt("wrong password"),
            &hash
        ));
    }

    #[test]
    fn dummy_hash_parses_and_matches_nothing_typed() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password(&Password::attempt("password"), DUMMY_HASH));
    }

    #[test]
    fn bounds_new_passwords() {
        assert_eq!(
            Password::new_account("short").err(),
            Some(PasswordError::TooShort)
        );
        assert!(Password::new_account(&"p".repeat(128)).is_ok());
        assert_eq!(
            Password::new_account(&"p".repeat(129)).err(),
            Some(PasswordError::TooLong)
        );
        assert_eq!(Password::attempt(&"p".repeat(500)).expose().len(), 128);
    }

    #[test]
    fn common_and_breached_passwords_are_refused_in_any_case_or_padding() {
        for common in [
            "password",
            "password123",
            "Password123",
            "  qwertyuiop ",
            "ILOVEYOU1",
            "baseball1",
            "12345678",
        ] {
            assert_eq!(
                Password::new_account(common).err(),
                Some(PasswordError::TooCommon),
                "{common:?}"
            );
        }
        assert_eq!(
            PasswordError::TooCommon.to_string(),
            "this password is too common: it appears in lists of breached passwords. Choose another"
        );
        // Shorter ones are refused for their length first.
        assert_eq!(
            Password::new_account("123456").err(),
            Some(PasswordError::TooShort)
        );
        // Log-in attempts are never judged: an old password still works.
        assert_eq!(Password::attempt("password123").expose(), "password123");
    }

    #[test]
    fn the_passwords_the_tests_examples_and_benchmarks_use_are_not_common() {
        // tests/api/helpers.rs, the integration and CLI tests, e2e/, examples/ and bench/.
        for used in [
            "correct horse battery staple",
            "a good long password",
            "long enough pw",
            "bob-password-12",
            "sam-password-123",
            "olive-password-1",
            "bench-password-1",
        ] {
            assert!(Password::new_account(used).is_ok(), "{used:?}");
        }
        for line in COMMON_PASSWORDS.lines().take(5) {
            assert!(is_common_password(line), "{line:?}");
        }
    }

    #[test]
    fn concurrent_callers_all_finish_through_the_hashing_cap() {
        let pw = Password::attempt("password");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let pw = pw.clone();
                std::thread::spawn(move || verify_password(&pw, DUMMY_HASH))
            })
            .collect();
        for t in threads {
            assert!(!t.join().unwrap());
        }
    }

    #[test]
    fn debug_never_shows_the_password() {
        let pw = Password::attempt("hunter2hunter2");
        assert!(!format!("{pw:?}").contains("hunter2"));
    }
}
