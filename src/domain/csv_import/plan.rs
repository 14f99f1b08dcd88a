//! What confirming an import will do, row by row, and what it did: the preview's plan with
//! its fingerprint, and the result stored with a sent import.
//!
//! The fingerprint covers every row's line, action and reason. The preview's form carries it;
//! the confirmation plans again and sends only when the fingerprints agree, so what is sent is
//! exactly what was previewed (DESIGN.md, "Bulk": a per-row preview that sends on
//! confirmation).

use sha2::{Digest as _, Sha256};

use super::ParsedImport;
use crate::domain::EmailAddress;
use chrono::{DateTime, Utc};

use crate::domain::invitation::{
    AddressOutcome, Existing, InviteEntry, InvitePlan, Inviter, SkipReason, plan_batch,
};
use crate::domain::role::Role;

/// What will happen to one row, as the preview and the result page name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowAction {
    /// A new invitation.
    Send,
    /// The pending invitation's original link again.
    Resend,
    /// The pending invitation with another role is revoked and a new one sent.
    Replace,
    /// The address belongs to a member.
    SkipMember,
    /// Pending with the same role and sent again less than a minute ago.
    SkipRecent,
    /// Its pending invitation's role is above the inviter's own.
    SkipAboveRole(Role),
    /// The organization invites only addresses at its verified domains.
    SkipOutside,
    /// The row is invalid.
    Invalid,
}

impl RowAction {
    fn from_plan(plan: InvitePlan) -> Self {
        match plan {
            InvitePlan::New => RowAction::Send,
            InvitePlan::ResendExisting(_) => RowAction::Resend,
            InvitePlan::ReplaceExisting(_) => RowAction::Replace,
            InvitePlan::Skip(SkipReason::AlreadyMember) => RowAction::SkipMember,
            InvitePlan::Skip(SkipReason::ResentRecently) => RowAction::SkipRecent,
            InvitePlan::Skip(SkipReason::AboveYourRole(role)) => RowAction::SkipAboveRole(role),
            InvitePlan::Skip(SkipReason::OutsideVerifiedDomains) => RowAction::SkipOutside,
        }
    }

    /// Whether confirming sends an email for this row.
    pub fn sends(self) -> bool {
        matches!(
            self,
            RowAction::Send | RowAction::Resend | RowAction::Replace
        )
    }

    /// Whether confirming creates an invitation (what the hourly limit counts).
    pub fn creates(self) -> bool {
        matches!(self, RowAction::Send | RowAction::Replace)
    }

    /// A stable one-letter code for the preview's fingerprint.
    fn code(self) -> char {
        match self {
            RowAction::Send => 'n',
            RowAction::Resend => 'r',
            RowAction::Replace => 'p',
            RowAction::SkipMember => 'm',
            RowAction::SkipRecent => 's',
            RowAction::SkipAboveRole(_) => 'o',
            RowAction::SkipOutside => 'd',
            RowAction::Invalid => 'x',
        }
    }

    /// Its kind: `send`, `resend`, `replace`, `skip` or `invalid` (the page's CSS class and
    /// `data-action`).
    pub fn class(self) -> &'static str {
        match self {
            RowAction::Send => "send",
            RowAction::Resend => "resend",
            RowAction::Replace => "replace",
            RowAction::SkipMember
            | RowAction::SkipRecent
            | RowAction::SkipAboveRole(_)
            | RowAction::SkipOutside => "skip",
            RowAction::Invalid => "invalid",
        }
    }

    /// What the preview says will happen.
    pub fn will(self) -> &'static str {
        match self {
            RowAction::Send => "Will send",
            RowAction::Resend => "Will send the same link again",
            RowAction::Replace => "Will replace the pending invitation",
            RowAction::SkipMember
            | RowAction::SkipRecent
            | RowAction::SkipAboveRole(_)
            | RowAction::SkipOutside => "Skip",
            RowAction::Invalid => "Invalid",
        }
    }

    /// Why, for a valid row offered `role`.
    fn why(self, role: Role) -> String {
        match self {
            RowAction::Send => format!("New invitation as {role}"),
            RowAction::Resend => {
                format!("A pending invitation as {role} exists; its link is sent again")
            }
            RowAction::Replace => format!(
                "A pending invitation with another role is revoked; a new one as {role} is sent"
            ),
            RowAction::SkipMember => "Already a member".to_owned(),
            RowAction::SkipRecent => "Sent less than a minute ago".to_owned(),
            RowAction::SkipAboveRole(role) => {
                capitalized(&SkipReason::AboveYourRole(role).to_string())
            }
            RowAction::SkipOutside => capitalized(&SkipReason::OutsideVerifiedDomains.to_string()),
            RowAction::Invalid => String::new(),
        }
    }
}

/// One row of the preview or result table (the result's rows are stored with the import as
/// JSON, so its page can be reloaded).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RowView {
    /// The line in the file.
    pub line: u64,
    /// The email as typed (auto-escaped in the template: a formula is shown as text).
    pub email: String,
    /// The role as typed.
    pub role: String,
    /// The department as typed.
    pub department: String,
    /// `send`, `resend`, `replace`, `skip` or `invalid`.
    pub class: String,
    /// What will (or did) happen.
    pub what: String,
    /// Why.
    pub why: String,
}

/// Exact counts over every row of the file.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Rows read.
    pub rows: usize,
    /// New invitations.
    pub send: usize,
    /// The same link again.
    pub resend: usize,
    /// Pending invitations replaced by one with another role.
    pub replace: usize,
    /// Skipped (members, sent a moment ago).
    pub skip: usize,
    /// Invalid rows.
    pub invalid: usize,
}

impl Counts {
    /// How many emails confirming sends.
    pub fn sending(&self) -> usize {
        self.send + self.resend + self.replace
    }
}

/// A parsed file planned: each row with its action and reason, the counts and the
/// fingerprint.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    /// The file, row by row.
    pub parsed: ParsedImport,
    /// Each row's action and reason, in file order.
    pub actions: Vec<(RowAction, String)>,
    /// What inviting each valid row does, in file order (`invitation::plan_batch`).
    pub plans: Vec<InvitePlan>,
    /// The counts over every row.
    pub counts: Counts,
    /// The SHA-256 of every row's line, action and reason, in hex.
    pub fingerprint: String,
}

/// The addresses of the valid rows of `parsed`, in file order: what [`plan_import`] needs
/// to know about.
pub fn addresses(parsed: &ParsedImport) -> Vec<&EmailAddress> {
    parsed.valid().map(|(_, e)| &e.email).collect()
}

/// Plans every row of `parsed` for `inviter` at `now`, given what `existing` holds about the
/// rows' [`addresses`] (`invitation::plan_batch`, the invite dialog's rules).
pub fn plan_import(
    parsed: ParsedImport,
    existing: &Existing,
    inviter: Inviter,
    now: DateTime<Utc>,
) -> ImportPlan {
    let requested = parsed.valid().map(|(_, e)| (&e.email, e.role));
    let plans = plan_batch(existing, requested, inviter, now);
    let mut planned = plans.iter().copied();
    let mut counts = Counts {
        rows: parsed.rows.len(),
        ..Counts::default()
    };
    let mut fingerprint = Sha256::new();
    let mut actions = Vec::with_capacity(parsed.rows.len());
    for row in &parsed.rows {
        let (action, why) = match &row.verdict {
            Err(problem) => (RowAction::Invalid, problem.to_string()),
            Ok(entry) => {
                // `plan_batch` plans every valid row, in order.
                let action = planned
                    .next()
                    .map_or(RowAction::Invalid, RowAction::from_plan);
                (action, action.why(entry.role))
            }
        };
        match action {
            RowAction::Send => counts.send += 1,
            RowAction::Resend => counts.resend += 1,
            RowAction::Replace => counts.replace += 1,
            RowAction::SkipMember
            | RowAction::SkipRecent
            | RowAction::SkipAboveRole(_)
            | RowAction::SkipOutside => {
                counts.skip += 1;
            }
            RowAction::Invalid => counts.invalid += 1,
        }
        fingerprint.update(format!("{}:{}:{};", row.line, action.code(), why));
        actions.push((action, why));
    }
    ImportPlan {
        parsed,
        actions,
        plans,
        counts,
        fingerprint: hex::encode(fingerprint.finalize()),
    }
}

impl ImportPlan {
    /// The rows confirming sends an email for, in file order: each as an invite entry, with
    /// what inviting it does (as planned).
    pub fn to_send(&self) -> (Vec<InviteEntry>, Vec<InvitePlan>) {
        self.parsed
            .valid()
            .zip(&self.plans)
            .filter(|((i, _), _)| self.actions[*i].0.sends())
            .map(|((_, e), plan)| {
                let entry = InviteEntry {
                    email: e.email.clone(),
                    role: e.role,
                    message: e.message.clone(),
                    department: e.department.clone(),
                };
                (entry, *plan)
            })
            .unzip()
    }

    /// How many invitations confirming creates (what the hourly limit counts).
    pub fn creations(&self) -> i64 {
        self.actions.iter().filter(|(a, _)| a.creates()).count() as i64
    }

    /// The preview's rows in `range` (of row indices).
    pub fn rows(&self, range: std::ops::Range<usize>) -> Vec<RowView> {
        self.parsed.rows[range.clone()]
            .iter()
            .zip(&self.actions[range])
            .map(|(r, (action, why))| RowView {
                line: r.line,
                email: r.email.clone(),
                role: r.role.clone(),
                department: r.department.clone(),
                class: action.class().to_owned(),
                what: action.will().to_owned(),
                why: why.clone(),
            })
            .collect()
    }
}

/// What happened to each row of a sent import, with the counts; stored with the import as
/// JSON.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ImportResult {
    /// New invitations sent.
    pub sent: usize,
    /// Original links sent again.
    pub resent: usize,
    /// Rows skipped.
    pub skipped: usize,
    /// Invalid rows.
    pub invalid: usize,
    /// Every row, in file order.
    pub rows: Vec<RowView>,
}

impl ImportResult {
    /// Pairs each planned row with its outcome (`outcomes` has one per row that was sent, in
    /// order, as sending [`ImportPlan::to_send`] returns them).
    pub fn new(planned: &ImportPlan, outcomes: &[AddressOutcome]) -> Self {
        let mut outcomes = outcomes.iter();
        let (mut sent, mut resent, mut skipped, mut invalid) = (0, 0, 0, 0);
        let rows: Vec<RowView> = planned
            .rows(0..planned.parsed.rows.len())
            .into_iter()
            .zip(&planned.actions)
            .map(|(mut row, (action, _))| {
                let (class, what, why): (&'static str, &str, String) = if action.sends() {
                    match outcomes.next() {
                        Some(AddressOutcome::Sent) if *action == RowAction::Replace => {
                            sent += 1;
                            (
                                "send",
                                "Sent",
                                "The pending invitation with another role was revoked".into(),
                            )
                        }
                        Some(AddressOutcome::Sent) => {
                            sent += 1;
                            ("send", "Sent", "New invitation".into())
                        }
                        Some(AddressOutcome::Resent) => {
                            resent += 1;
                            (
                                "resend",
                                "Sent again",
                                "The original link was sent again".into(),
                            )
                        }
                        Some(AddressOutcome::Skipped(reason)) => {
                            skipped += 1;
                            ("skip", "Skipped", capitalized(&reason.to_string()))
                        }
                        None => {
                            skipped += 1;
                            ("skip", "Skipped", "Not sent".into())
                        }
                    }
                } else if *action == RowAction::Invalid {
                    invalid += 1;
                    ("invalid", "Invalid", row.why.clone())
                } else {
                    skipped += 1;
                    ("skip", "Skipped", row.why.clone())
                };
                row.class = class.to_owned();
                row.what = what.to_owned();
                row.why = why;
                row
            })
            .collect();
        ImportResult {
            sent,
            resent,
            skipped,
            invalid,
            rows,
        }
    }

    /// "2 invitations sent, 1 sent again, 0 skipped, 1 invalid."
    pub fn summary(&self) -> String {
        let plural = |n: usize| if n == 1 { "invitation" } else { "invitations" };
        format!(
            "{} {} sent, {} sent again, {} skipped, {} invalid.",
            self.sent,
            plural(self.sent),
            self.resent,
            self.skipped,
            self.invalid
        )
    }
}

/// `text` with its first letter upper-cased.
pub fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::InvitationId;
    use crate::domain::InvitationStatus;
    use crate::domain::csv_import::parse;
    use crate::domain::invitation::{InvitationFacts, LivePending};
    use crate::domain::plan::Plan;
    use chrono::TimeZone;

    const OWNER: Inviter = Inviter::Member(Role::Owner);

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
    }

    fn parsed() -> ParsedImport {
        parse(
            "email,role,department,message\n\
             ada@example.com,editor,,\n\
             not an address,viewer,,\n\
             grace@example.com,viewer,,\n",
            OWNER,
            Plan::Starter,
        )
        .unwrap()
    }

    #[test]
    fn each_row_gets_an_action_a_reason_and_a_count() {
        let plan = plan_import(parsed(), &Existing::default(), OWNER, now());
        let actions: Vec<RowAction> = plan.actions.iter().map(|(a, _)| *a).collect();
        assert_eq!(
            actions,
            [RowAction::Send, RowAction::Invalid, RowAction::Send]
        );
        assert_eq!(plan.actions[0].1, "New invitation as Editor");
        assert_eq!((plan.counts.send, plan.counts.invalid), (2, 1));
        assert_eq!(plan.counts.sending(), 2);
        assert_eq!(plan.creations(), 2);
        let (entries, plans) = plan.to_send();
        let to_send: Vec<&str> = entries.iter().map(|e| e.email.as_str()).collect();
        assert_eq!(to_send, ["ada@example.com", "grace@example.com"]);
        assert_eq!(plans, [InvitePlan::New, InvitePlan::New]);
    }

    #[test]
    fn the_fingerprint_changes_with_what_exists() {
        let before = plan_import(parsed(), &Existing::default(), OWNER, now());
        let again = plan_import(parsed(), &Existing::default(), OWNER, now());
        assert_eq!(before.fingerprint, again.fingerprint);
        let mut existing = Existing::default();
        existing.pending.insert(
            EmailAddress::parse("grace@example.com").unwrap(),
            LivePending {
                id: InvitationId::new(),
                role: Role::Admin,
                facts: InvitationFacts {
                    status: InvitationStatus::Pending,
                    expires_at: now() + chrono::Duration::days(1),
                    last_resent_at: None,
                },
            },
        );
        let after = plan_import(parsed(), &existing, OWNER, now());
        assert_eq!(after.actions[2].0, RowAction::Replace);
        assert_ne!(before.fingerprint, after.fingerprint);
    }

    #[test]
    fn the_result_pairs_rows_with_what_happened() {
        let plan = plan_import(parsed(), &Existing::default(), OWNER, now());
        let result = ImportResult::new(
            &plan,
            &[
                AddressOutcome::Sent,
                AddressOutcome::Skipped(SkipReason::AlreadyMember),
            ],
        );
        assert_eq!(
            result.summary(),
            "1 invitation sent, 0 sent again, 1 skipped, 1 invalid."
        );
        assert_eq!(result.rows[2].why, "Already a member");
        assert_eq!(capitalized("éa"), "Éa");
    }
}
