//! Bounded free text typed by people: names, passwords, personal messages, organization names.
//! Each newtype is the only way such text enters the domain, so its bounds hold everywhere.

use std::fmt;

/// The longest person or organization name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The longest personal message accepted on an invitation, in characters (issue 2, item 3).
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
    Ok(trimmed.to_owned())
}

/// A person's display name: 1 to 100 characters on one line. Safe to put in an email header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// Trims and checks a name.
    ///
    /// # Errors
    /// [`TextError`] when empty, longer than [`MAX_NAME_CHARS`], or holding control characters.
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

/// An organization's name: 1 to 100 characters on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationName(String);

impl OrganizationName {
    /// Trims and checks an organization name.
    ///
    /// # Errors
    /// [`TextError`] when empty, longer than [`MAX_NAME_CHARS`], or holding control characters.
    pub fn parse(input: &str) -> Result<Self, TextError> {
        single_line(input, MAX_NAME_CHARS).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The longest department name accepted (CSV import), in characters.
pub const MAX_DEPARTMENT_CHARS: usize = 100;

/// A department from a CSV import (issue 5): 1 to 100 characters on one line. Kept on the
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
        let normalized = input.trim().replace("\r\n", "\n");
        if normalized.is_empty() {
            return Ok(None);
        }
        if normalized.chars().count() > MAX_MESSAGE_CHARS {
            return Err(TextError::TooLong {
                max: MAX_MESSAGE_CHARS,
            });
        }
        if normalized
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(TextError::ControlCharacters);
        }
        Ok(Some(Self(normalized)))
    }

    /// The message.
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
