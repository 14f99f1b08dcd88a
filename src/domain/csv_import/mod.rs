//! A CSV file of invitations (DESIGN.md, "Bulk"): `email,role,department,message`, a header
//! required, UTF-8, at most [`MAX_ROWS`] rows and [`MAX_FILE_BYTES`] bytes.
//!
//! Two kinds of failure, kept apart on purpose:
//! - [`FileError`]: the file as a whole cannot be read (not UTF-8, wrong header, too big, too
//!   many rows). Nothing is previewed; the message names the line where it can.
//! - [`RowProblem`]: one row is invalid (bad address, unknown role, role above the inviter's
//!   ceiling, bad department or message, a repeat of an earlier address). The row is reported
//!   and skipped; the other rows go ahead ("invalid rows never block valid ones").
//!
//! Cells are data, never formulas: nothing here evaluates them. An email cell that begins with
//! `=`, `+`, `-` or `@` (what a spreadsheet would run as a formula) is refused as an address;
//! a department or message is kept as typed, and whoever exports it must neutralise it.
//!
//! Parsing is the `csv` crate's (RFC 4180 quoting, multi-line quoted cells); this module only
//! checks what the rows say.

mod plan;

pub use plan::*;

use super::{OrganizationId, UserId};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

use super::email::{EmailAddress, EmailError};
use super::invitation::{InviteDenied, Inviter, authorize_invitation};
use super::plan::Plan;
use super::role::Role;
use super::text::{Department, PersonalMessage, TextError};

/// The largest file accepted, in bytes (1 MiB).
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// The most data rows (after the header) one file may hold.
pub const MAX_ROWS: usize = 5_000;
/// The header, in order.
pub const COLUMNS: [&str; 4] = ["email", "role", "department", "message"];
/// The longest cell shown back to people, in characters (longer ones are cut with "…").
const SHOWN_CHARS: usize = 120;
/// Characters that make a spreadsheet treat a cell as a formula (OWASP, "CSV Injection").
const FORMULA_STARTS: [char; 4] = ['=', '+', '-', '@'];

/// Why a whole file was refused. `Display` is the message shown above the upload form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// No bytes, or nothing but white space.
    #[error("The file is empty. The first line must be the header email,role,department,message.")]
    Empty,
    /// Over [`MAX_FILE_BYTES`].
    #[error("The file is larger than 1 MiB. Split it into smaller files and import each.")]
    TooLarge,
    /// Not UTF-8 text; `line` is where the first invalid byte is.
    #[error(
        "Line {line} is not UTF-8 text. Save the file as \"CSV UTF-8\" (or export it as UTF-8) and upload it again."
    )]
    NotUtf8 {
        /// The 1-based line of the first invalid byte.
        line: u64,
    },
    /// The first line is not `email,role,department,message`.
    #[error(
        "Line 1 must be the header email,role,department,message (in that order); it is \"{found}\"."
    )]
    BadHeader {
        /// The header as found, cut for display.
        found: String,
    },
    /// More than [`MAX_ROWS`] data rows.
    #[error(
        "The file has more than 5,000 rows (line {line} is row 5,001). Split it into files of at most 5,000 rows."
    )]
    TooManyRows {
        /// The line of the first row over the limit.
        line: u64,
    },
    /// The CSV reader itself failed at this line.
    #[error("Line {line} cannot be read as CSV: {reason}.")]
    Malformed {
        /// The 1-based line.
        line: u64,
        /// What the reader said.
        reason: String,
    },
}

/// Why one row will not be sent. `Display` is the reason shown in the preview.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowProblem {
    /// More than four cells (an unquoted comma, usually).
    #[error("{found} columns; expected 4 (put quotes around cells that contain commas)")]
    TooManyColumns {
        /// How many cells the row has.
        found: usize,
    },
    /// The email cell begins like a spreadsheet formula.
    #[error("not an email address (it begins with {0}, like a spreadsheet formula)")]
    FormulaEmail(char),
    /// The email cell is not an acceptable address.
    #[error("email: {0}")]
    Email(EmailError),
    /// The role cell is empty.
    #[error("no role given: choose Owner, Admin, Editor, Writer or Viewer")]
    NoRole,
    /// The role cell names no role.
    #[error("unknown role \"{0}\": choose Owner, Admin, Editor, Writer or Viewer")]
    UnknownRole(String),
    /// The inviter may not grant this role (DESIGN.md rule 1), or may not invite at all.
    #[error("{}", denied_reason(.0))]
    Denied(InviteDenied),
    /// The department cell is refused.
    #[error("department: {0}")]
    Department(TextError),
    /// The message cell is refused.
    #[error("message: {0}")]
    Message(TextError),
    /// The address already appeared on an earlier line (after normalization).
    #[error("the same address is already on line {first_line}")]
    Duplicate {
        /// The line of its first occurrence.
        first_line: u64,
    },
}

fn denied_reason(denied: &InviteDenied) -> String {
    match denied {
        InviteDenied::AboveCeiling(role) => format!(
            "you cannot invite someone as {role}: you may only assign roles at or below your own"
        ),
        other => other.to_string(),
    }
}

/// One valid row: what will be offered to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportEntry {
    /// The address, normalized.
    pub email: EmailAddress,
    /// The role offered (within the inviter's ceiling).
    pub role: Role,
    /// The department, kept on the invitation and carried onto the membership.
    pub department: Option<Department>,
    /// The personal message.
    pub message: Option<PersonalMessage>,
}

/// One data row of the file, as typed (cut for display) and what it came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// The 1-based line the row starts on (the header is line 1).
    pub line: u64,
    /// The email cell as typed, trimmed and cut for display.
    pub email: String,
    /// The role cell as typed, trimmed and cut for display.
    pub role: String,
    /// The department cell as typed, trimmed and cut for display.
    pub department: String,
    /// The valid entry, or why the row is invalid.
    pub verdict: Result<ImportEntry, RowProblem>,
}

/// A file read and checked row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedImport {
    /// Every non-blank data row, in file order.
    pub rows: Vec<ImportRow>,
}

impl ParsedImport {
    /// The valid rows' entries with their row index, in file order (addresses distinct).
    pub fn valid(&self) -> impl Iterator<Item = (usize, &ImportEntry)> {
        self.rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.verdict.as_ref().ok().map(|e| (i, e)))
    }
}

/// Checks the raw bytes of an upload as a whole: size, UTF-8, a leading byte-order mark
/// dropped. Returns the text to store and parse.
///
/// # Errors
/// [`FileError::TooLarge`], [`FileError::Empty`] or [`FileError::NotUtf8`] naming the line.
pub fn decode(bytes: &[u8]) -> Result<&str, FileError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        FileError::NotUtf8 {
            line: good.iter().filter(|b| **b == b'\n').count() as u64 + 1,
        }
    })?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(FileError::Empty);
    }
    Ok(text)
}

fn shown(cell: &str) -> String {
    let cell = cell.trim();
    if cell.chars().count() > SHOWN_CHARS {
        let mut cut: String = cell.chars().take(SHOWN_CHARS).collect();
        cut.push('…');
        cut
    } else {
        cell.to_owned()
    }
}

fn csv_error(e: &csv::Error, fallback_line: u64) -> FileError {
    let line = e.position().map_or(fallback_line, csv::Position::line);
    FileError::Malformed {
        line,
        reason: e.to_string(),
    }
}

/// Parses `text` (see [`decode`]) and checks every row for an inviter who is `inviter` in an
/// organization on `plan`: email syntax, role name, the role ceiling (DESIGN.md rule 1, via
/// [`authorize_invitation`]), department, message, and repeats of an earlier address.
///
/// The header must be exactly `email,role,department,message`, compared case-insensitively
/// after trimming. Rows whose cells are all blank are ignored; missing trailing cells count as
/// empty, so `a@example.com,viewer` is a valid row.
///
/// # Errors
/// [`FileError`] when the file as a whole cannot be used (nothing is previewed then).
pub fn parse(text: &str, inviter: Inviter, plan: Plan) -> Result<ParsedImport, FileError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge);
    }
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        None => return Err(FileError::Empty),
        Some(Err(e)) => return Err(csv_error(&e, 1)),
        Some(Ok(h)) => h,
    };
    let header_ok = header.len() == COLUMNS.len()
        && header
            .iter()
            .zip(COLUMNS)
            .all(|(found, want)| found.trim().eq_ignore_ascii_case(want));
    if !header_ok {
        let found: Vec<&str> = header.iter().collect();
        return Err(FileError::BadHeader {
            found: shown(&found.join(",")),
        });
    }

    let mut rows = Vec::new();
    let mut first_line_of: HashMap<EmailAddress, u64> = HashMap::new();
    let mut lines = LineCounter::new(text);
    for record in records {
        let record = record.map_err(|e| csv_error(&e, lines.line))?;
        let line = record
            .position()
            .map_or(lines.line, |p| lines.line_at(p.byte()));
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(FileError::TooManyRows { line });
        }
        let cell = |i: usize| record.get(i).unwrap_or("");
        let verdict = check_row(&record, inviter, plan).and_then(|entry| {
            match first_line_of.get(&entry.email) {
                Some(first) => Err(RowProblem::Duplicate { first_line: *first }),
                None => Ok(entry),
            }
        });
        // A repeat is counted against the address's first line even when that line is invalid
        // for another reason, so the outcome never depends on which problem is reported first.
        if let Ok(email) = EmailAddress::parse(cell(0)) {
            first_line_of.entry(email).or_insert(line);
        }
        rows.push(ImportRow {
            line,
            email: shown(cell(0)),
            role: shown(cell(1)),
            department: shown(cell(2)),
            verdict,
        });
    }
    Ok(ParsedImport { rows })
}

/// The line a record starts on, from its byte offset. The reader's own line count does not
/// follow blank lines it skips, so lines are counted here: incrementally, since records come
/// in order (a 1 MiB file is scanned once).
struct LineCounter<'a> {
    text: &'a str,
    byte: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            byte: 0,
            line: 1,
        }
    }

    /// The line of the first non-blank character at or after `byte`.
    fn line_at(&mut self, byte: u64) -> u64 {
        let start = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        let rest = self.text.get(start..).unwrap_or("");
        let skipped = rest.len() - rest.trim_start_matches(['\r', '\n']).len();
        let target = start + skipped;
        if target >= self.byte {
            let between = self.text.get(self.byte..target).unwrap_or("");
            self.line += between.bytes().filter(|b| *b == b'\n').count() as u64;
            self.byte = target;
        }
        self.line
    }
}

/// Checks one row's cells, in column order; the first problem found is reported.
fn check_row(
    record: &csv::StringRecord,
    inviter: Inviter,
    plan: Plan,
) -> Result<ImportEntry, RowProblem> {
    if record.len() > COLUMNS.len() {
        return Err(RowProblem::TooManyColumns {
            found: record.len(),
        });
    }
    let cell = |i: usize| record.get(i).unwrap_or("");
    let raw_email = cell(0).trim();
    if let Some(c) = raw_email
        .chars()
        .next()
        .filter(|c| FORMULA_STARTS.contains(c))
    {
        return Err(RowProblem::FormulaEmail(c));
    }
    let email = EmailAddress::parse(raw_email).map_err(RowProblem::Email)?;
    let raw_role = cell(1).trim();
    if raw_role.is_empty() {
        return Err(RowProblem::NoRole);
    }
    let role: Role = raw_role
        .parse()
        .map_err(|_| RowProblem::UnknownRole(shown(raw_role)))?;
    authorize_invitation(inviter, plan, role).map_err(RowProblem::Denied)?;
    let department = Department::parse(cell(2)).map_err(RowProblem::Department)?;
    let message = PersonalMessage::parse(cell(3)).map_err(RowProblem::Message)?;
    Ok(ImportEntry {
        email,
        role,
        department,
        message,
    })
}

/// Identifies an uploaded import between its preview and its confirmation (a random UUID v4,
/// stored as its hyphenated text form; anything else in a URL is a 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ImportId(pub uuid::Uuid);

impl ImportId {
    /// A fresh random identifier.
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4())
    }
}

impl Default for ImportId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for ImportId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl std::str::FromStr for ImportId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::try_parse(s).map(Self)
    }
}

/// An example file: the header and two rows (offered for download on the upload page).
pub const EXAMPLE: &str = "email,role,department,message\r\n\
ada@example.com,editor,Research,\"Welcome aboard, Ada!\"\r\n\
grace@example.com,viewer,,\r\n";

/// An uploaded import as read back.
#[derive(Debug, Clone)]
pub struct Import {
    /// Its id.
    pub id: ImportId,
    /// The organization it invites into.
    pub organization_id: OrganizationId,
    /// Who uploaded it (the only person who may see or confirm it).
    pub created_by: UserId,
    /// The uploaded file's name, as the browser gave it (display only).
    pub file_name: String,
    /// The file's text (UTF-8, already size-checked).
    pub content: String,
    /// When it was uploaded.
    pub created_at: DateTime<Utc>,
    /// When it stops being usable.
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: Inviter = Inviter::Member(Role::Owner);
    const ADMIN: Inviter = Inviter::Member(Role::Admin);

    fn parse_ok(text: &str, inviter: Inviter) -> ParsedImport {
        parse(text, inviter, Plan::Starter).unwrap()
    }

    fn problems(p: &ParsedImport) -> Vec<(u64, Option<RowProblem>)> {
        p.rows
            .iter()
            .map(|r| (r.line, r.verdict.clone().err()))
            .collect()
    }

    #[test]
    fn reads_valid_rows_with_line_numbers_and_optional_cells() {
        let p = parse_ok(
            "email,role,department,message\n\
             Ada@Example.COM ,Editor,Research,\"Hi,\nthere\"\n\
             \n\
             grace@example.com,viewer\n\
             ,,,\n\
             linus@example.com,WRITER,,\n",
            OWNER,
        );
        assert_eq!(p.rows.len(), 3);
        assert_eq!(
            p.rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![2, 5, 7]
        );
        let first = p.rows[0].verdict.as_ref().unwrap();
        assert_eq!(first.email.as_str(), "ada@example.com");
        assert_eq!(first.role, Role::Editor);
        assert_eq!(first.department.as_ref().unwrap().as_str(), "Research");
        assert_eq!(first.message.as_ref().unwrap().as_str(), "Hi,\nthere");
        let second = p.rows[1].verdict.as_ref().unwrap();
        assert_eq!(
            (second.department.clone(), second.message.clone()),
            (None, None)
        );
        assert_eq!(p.valid().count(), 3);
    }

    #[test]
    fn header_is_required_exact_case_insensitive_and_bom_tolerant() {
        assert!(
            parse(
                "\u{FEFF} Email , ROLE,Department,message\r\n",
                OWNER,
                Plan::Starter
            )
            .is_ok()
        );
        for bad in [
            "email,role\n",
            "email,role,message,department\n",
            "a@example.com,viewer,,\n",
            "email,role,department,message,extra\n",
        ] {
            assert!(
                matches!(
                    parse(bad, OWNER, Plan::Starter),
                    Err(FileError::BadHeader { .. })
                ),
                "{bad}"
            );
        }
        let e = parse("mail,role,department,message\n", OWNER, Plan::Starter).unwrap_err();
        assert!(
            e.to_string().starts_with("Line 1 must be the header"),
            "{e}"
        );
        assert_eq!(parse("", OWNER, Plan::Starter), Err(FileError::Empty));
    }

    #[test]
    fn bad_rows_are_reported_and_do_not_block_the_others() {
        let p = parse_ok(
            "email,role,department,message\n\
             not-an-address,viewer,,\n\
             a@example.com,superuser,,\n\
             b@example.com,,,\n\
             c@example.com,viewer,a,b,c\n\
             d@example.com,viewer,\"two\nlines\",\n\
             e@example.com,viewer,,ok\n",
            OWNER,
        );
        let got = problems(&p);
        assert_eq!(got[0], (2, Some(RowProblem::Email(EmailError::Invalid))));
        assert!(matches!(got[1], (3, Some(RowProblem::UnknownRole(ref r))) if r == "superuser"));
        assert_eq!(got[2], (4, Some(RowProblem::NoRole)));
        assert_eq!(got[3], (5, Some(RowProblem::TooManyColumns { found: 5 })));
        assert_eq!(
            got[4],
            (
                6,
                Some(RowProblem::Department(TextError::ControlCharacters))
            )
        );
        assert_eq!(got[5], (8, None));
    }

    #[test]
    fn roles_above_the_inviters_ceiling_are_invalid_rows() {
        let p = parse_ok(
            "email,role,department,message\nboss@example.com,owner,,\nok@example.com,admin,,\n",
            ADMIN,
        );
        assert_eq!(
            problems(&p),
            vec![
                (
                    2,
                    Some(RowProblem::Denied(InviteDenied::AboveCeiling(Role::Owner)))
                ),
                (3, None)
            ]
        );
        assert!(
            p.rows[0]
                .verdict
                .clone()
                .unwrap_err()
                .to_string()
                .contains("as Owner")
        );
        // Staff act as Owners (rule 6).
        assert_eq!(
            parse_ok(
                "email,role,department,message\nx@example.com,owner,,\n",
                Inviter::Staff
            )
            .valid()
            .count(),
            1
        );
    }

    #[test]
    fn repeats_of_an_address_in_any_case_point_at_the_first_line() {
        let p = parse_ok(
            "email,role,department,message\n\
             a@example.com,viewer,,\n\
             A@EXAMPLE.com,editor,,\n\
             b@example.com,superuser,,\n\
             b@example.com,viewer,,\n",
            OWNER,
        );
        assert_eq!(
            problems(&p)[1],
            (3, Some(RowProblem::Duplicate { first_line: 2 }))
        );
        assert_eq!(
            problems(&p)[3],
            (5, Some(RowProblem::Duplicate { first_line: 4 }))
        );
        assert_eq!(p.valid().count(), 1);
    }

    #[test]
    fn formula_cells_are_data_never_formulas() {
        let p = parse_ok(
            "email,role,department,message\n\
             \"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",viewer,,\n\
             +a@example.com,viewer,,\n\
             -b@example.com,viewer,,\n\
             @c@example.com,viewer,,\n\
             d@example.com,viewer,=1+2,=cmd|' /C calc'!A0\n",
            OWNER,
        );
        let got = problems(&p);
        assert_eq!(got[0].1, Some(RowProblem::FormulaEmail('=')));
        assert_eq!(got[1].1, Some(RowProblem::FormulaEmail('+')));
        assert_eq!(got[2].1, Some(RowProblem::FormulaEmail('-')));
        assert_eq!(got[3].1, Some(RowProblem::FormulaEmail('@')));
        let kept = p.rows[4].verdict.as_ref().unwrap();
        assert_eq!(kept.department.as_ref().unwrap().as_str(), "=1+2");
        assert_eq!(
            kept.message.as_ref().unwrap().as_str(),
            "=cmd|' /C calc'!A0"
        );
        assert_eq!(p.rows[0].email, "=HYPERLINK(\"http://evil.example\",\"x\")");
    }

    #[test]
    fn size_row_count_and_encoding_are_checked_for_the_whole_file() {
        let mut text = String::from("email,role,department,message\n");
        for i in 0..MAX_ROWS {
            text.push_str(&format!("u{i}@example.com,viewer,,\n"));
        }
        assert_eq!(parse_ok(&text, OWNER).rows.len(), 5_000);
        text.push_str("one@too-many.example,viewer,,\n");
        assert_eq!(
            parse(&text, OWNER, Plan::Starter),
            Err(FileError::TooManyRows { line: 5_002 })
        );
        assert_eq!(
            decode(&vec![b'a'; MAX_FILE_BYTES + 1]),
            Err(FileError::TooLarge)
        );
        assert_eq!(
            decode(b"email,role,department,message\nj\xe9r\xf4me@example.com,viewer,,\n"),
            Err(FileError::NotUtf8 { line: 2 })
        );
        assert_eq!(decode(b"\xEF\xBB\xBFemail"), Ok("email"));
        assert_eq!(decode(b"  \n"), Err(FileError::Empty));
    }

    #[test]
    fn the_example_file_is_valid() {
        assert_eq!(parse_ok(EXAMPLE, OWNER).valid().count(), 2);
    }
}
