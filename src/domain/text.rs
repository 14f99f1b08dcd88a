//! Bounded free text typed by people: names, passwords, personal messages, organization names.
//! Each newtype is the only way such text enters the domain, so its bounds hold everywhere.

use std::fmt;

/// The longest person or organization name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The longest personal message accepted on an invitation, in characters.
pub const MAX_MESSAGE_CHARS: usize = 1_000;

/// Why a piece of text was refused. The `Display` text is shown beside the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Required and empty.
    #[error("this field is required")]
    Empty,
    /// Over its length bound.
    #[error("this can be at most {max} characters long")]
    TooLong {
        /// The bound, in characters.
        max: usize,
    },
    /// Holds line breaks or other control characters where they are not allowed.
    #[error("this cannot contain line breaks or control characters")]
    ControlCharacters,
    /// Holds invisible formatting characters ([`is_invisible_format`]) that could make it
    /// show as something else.
    #[error(
        "this cannot contain invisible formatting characters (such as text-direction overrides or zero-width spaces)"
    )]
    InvisibleCharacters,
}

/// Whether `c` is an invisible formatting character: Unicode's format characters (general
/// category Cf). They include the bidirectional embeddings, overrides and isolates
/// (U+202A–U+202E, U+2066–U+2069) and marks (U+200E, U+200F, U+061C) that reorder what is
/// shown — "Ann \u{202E}fdp.exe" shows as "Ann exe.pdf" — and the zero-width characters
/// (U+200B–U+200D, U+2060, U+FEFF) and tags that hide inside a name, so two names that look
/// the same differ. Names and organization names refuse them; email local parts too.
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

fn single_line(input: &str, max: usize) -> Result<String, TextError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(TextError::Empty);
    }
    if trimmed.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(TextError::ControlCharacters);
    }
    if trimmed.chars().any(is_invisible_format) {
        return Err(TextError::InvisibleCharacters);
    }
    Ok(trimmed.to_owned())
}

/// A person's display name: 1 to 100 characters on one line, without invisible formatting
/// characters. Safe to put in an email header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// Trims and checks a name.
    ///
    /// # Errors
    /// [`TextError`] when empty, longer than [`MAX_NAME_CHARS`], or holding control or
    /// invisible formatting characters.
    pub fn parse(input: &str) -> Result<Self, TextError> {
        single_line(input, MAX_NAME_CHARS).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An organization's name: 1 to 100 characters on one line, without invisible formatting
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationName(String);

impl OrganizationName {
    /// Trims and checks an organization name.
    ///
    /// # Errors
    /// [`TextError`] when empty, longer than [`MAX_NAME_CHARS`], or holding control or
    /// invisible formatting characters.
    pub fn parse(input: &str) -> Result<Self, TextError> {
        single_line(input, MAX_NAME_CHARS).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An API token's name (issue 15 §1): 1 to 80 characters on one line, without invisible
/// formatting characters. The audit trail says "API token {name}".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    /// Trims and checks a token name.
    ///
    /// # Errors
    /// [`TextError`] when empty, longer than 80 characters, or holding control or invisible
    /// formatting characters.
    pub fn parse(input: &str) -> Result<Self, TextError> {
        single_line(input, crate::domain::api_token::MAX_NAME_CHARS).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The longest department name accepted (CSV import), in characters.
pub const MAX_DEPARTMENT_CHARS: usize = 100;

/// A department from a CSV import (DESIGN.md, "Bulk"): 1 to 100 characters on one line. Kept on the
/// invitation and carried onto the membership when it is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department(String);

impl Department {
    /// Checks a department; `Ok(None)` for blank input (no department).
    ///
    /// # Errors
    /// [`TextError`] when longer than [`MAX_DEPARTMENT_CHARS`] or holding control characters.
    pub fn parse(input: &str) -> Result<Option<Self>, TextError> {
        if input.trim().is_empty() {
            return Ok(None);
        }
        single_line(input, MAX_DEPARTMENT_CHARS).map(|d| Some(Self(d)))
    }

    /// The department.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An optional personal message on an invitation: at most 1,000 characters; line breaks are
/// kept, other control characters refused. Blank input means no message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalMessage(String);

impl PersonalMessage {
    /// Checks a message; `Ok(None)` for blank input.
    ///
    /// # Errors
    /// [`TextError::TooLong`] over [`MAX_MESSAGE_CHARS`]; [`TextError::ControlCharacters`] for
    /// control characters other than line breaks and tabs.
    pub fn parse(input: &str) -> Result<Option<Self>, TextError> {
        Ok(multiline(input, MAX_MESSAGE_CHARS)?.map(Self))
    }

    /// The message.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks multi-line text of at most `max` characters: trimmed, `\r\n` made `\n`, line
/// breaks and tabs kept, other control characters refused; `Ok(None)` for blank input.
fn multiline(input: &str, max: usize) -> Result<Option<String>, TextError> {
    let normalized = input.trim().replace("\r\n", "\n");
    if normalized.is_empty() {
        return Ok(None);
    }
    if normalized.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    if normalized
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(TextError::ControlCharacters);
    }
    Ok(Some(normalized))
}

/// The most characters a join request's note may have.
pub const MAX_NOTE_CHARS: usize = 500;

/// An optional note to the admins on a join request (issue 14 §3): at most 500 characters,
/// line breaks kept, other control characters refused. Blank input means no note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequestNote(String);

impl JoinRequestNote {
    /// Checks a note; `Ok(None)` for blank input.
    ///
    /// # Errors
    /// [`TextError::TooLong`] over [`MAX_NOTE_CHARS`]; [`TextError::ControlCharacters`] for
    /// control characters other than line breaks and tabs.
    pub fn parse(input: &str) -> Result<Option<Self>, TextError> {
        Ok(multiline(input, MAX_NOTE_CHARS)?.map(Self))
    }

    /// The note.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departments_are_optional_single_line_and_bounded() {
        assert_eq!(Department::parse("   ").unwrap(), None);
        assert_eq!(
            Department::parse(" Sales ").unwrap().unwrap().as_str(),
            "Sales"
        );
        assert_eq!(
            Department::parse(&"d".repeat(101)),
            Err(TextError::TooLong { max: 100 })
        );
        assert_eq!(Department::parse("a\nb"), Err(TextError::ControlCharacters));
    }

    #[test]
    fn names_are_single_line_and_bounded() {
        assert_eq!(
            PersonName::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        assert_eq!(PersonName::parse(""), Err(TextError::Empty));
        assert_eq!(
            PersonName::parse("Eve\r\nBcc: victim@example.com"),
            Err(TextError::ControlCharacters)
        );
        assert!(PersonName::parse(&"x".repeat(100)).is_ok());
        assert_eq!(
            PersonName::parse(&"x".repeat(101)),
            Err(TextError::TooLong { max: 100 })
        );
    }

    #[test]
    fn names_refuse_direction_overrides_isolates_and_invisible_characters() {
        for disguised in [
            "Ann \u{202E}fdp.exe",      // right-to-left override
            "\u{202A}Ann",              // left-to-right embedding
            "Ann\u{202C}",              // pop directional formatting
            "Acme\u{2066}Bank\u{2069}", // isolates
            "Ann\u{2067}x",
            "Ann\u{2068}x",
            "Ann\u{200B}Example", // zero-width space
            "Ann\u{200C}x",       // zero-width non-joiner
            "Ann\u{200D}x",       // zero-width joiner
            "Ann\u{200E}x",       // left-to-right mark
            "Ann\u{200F}x",       // right-to-left mark
            "Ann\u{061C}x",       // Arabic letter mark
            "\u{FEFF}Acme",       // byte order mark
            "Ann\u{2060}x",       // word joiner
            "Ann\u{00AD}x",       // soft hyphen
            "Ann\u{E0041}x",      // tag
        ] {
            assert_eq!(
                PersonName::parse(disguised),
                Err(TextError::InvisibleCharacters),
                "{disguised:?}"
            );
            assert_eq!(
                OrganizationName::parse(disguised),
                Err(TextError::InvisibleCharacters),
                "{disguised:?}"
            );
        }
        for broken in ["Ann\u{85}x", "Ann\u{1B}[31m"] {
            assert_eq!(
                PersonName::parse(broken),
                Err(TextError::ControlCharacters),
                "{broken:?}"
            );
        }
        // Letters and marks of every script stay welcome.
        for fine in [
            "Zoë Ødegård",
            "محمد علي",
            "שרה כהן",
            "李小龙",
            "Nguyễn Văn A",
            "Acme & Co.",
        ] {
            assert!(PersonName::parse(fine).is_ok(), "{fine:?}");
            assert!(OrganizationName::parse(fine).is_ok(), "{fine:?}");
        }
        assert_eq!(
            TextError::InvisibleCharacters.to_string(),
            "this cannot contain invisible formatting characters (such as text-direction overrides or zero-width spaces)"
        );
    }

    #[test]
    fn message_is_optional_multiline_and_bounded() {
        assert_eq!(PersonalMessage::parse("   "), Ok(None));
        let m = PersonalMessage::parse("Hi!\r\nWelcome.").unwrap().unwrap();
        assert_eq!(m.as_str(), "Hi!\nWelcome.");
        assert!(PersonalMessage::parse(&"é".repeat(1000)).unwrap().is_some());
        assert_eq!(
            PersonalMessage::parse(&"é".repeat(1001)),
            Err(TextError::TooLong { max: 1000 })
        );
        assert_eq!(
            PersonalMessage::parse("bell\u{7}"),
            Err(TextError::ControlCharacters)
        );
    }
}
