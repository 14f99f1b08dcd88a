//! CSV import of invitations (DESIGN.md, "Bulk"): upload → preview → confirm → result.
//!
//! Rules this module keeps:
//! - Nothing is sent before confirmation. An upload is checked as a whole and stored
//!   (`db::imports`); its preview only reads.
//! - The confirmation re-reads the stored file and plans it again, inside the transaction that
//!   sends, after the organization's lock, with the inviter's role then. The preview's form
//!   carries a fingerprint of every row's planned action; if the new plan differs, nothing is
//!   sent and the updated preview is the answer; if not, that very plan is carried out. So a
//!   confirmation never sends what the person did not see.
//! - An import is its uploader's, in its organization; any other id is "not found". A
//!   confirmation claims it, sends, and stores each row's outcome in one transaction, so a
//!   double click sends once and the result can be shown again.
//! - The rows follow the invite dialog's rules (`invitations::Sending`), the hourly limit
//!   included.

use chrono::{DateTime, Utc};

use super::invitations::{Sending, inviter, over_limit, retry_after};
use super::{Acting, Actor, NoStanding, ServiceError, Services, acting_in, refuse, standing_in};
use crate::db::imports::OwnImport;
use crate::db::{self, Conn, DbError};
use crate::domain::csv_import::{
    self, FileError, Import, ImportId, ImportPlan, ImportResult, plan_import,
};
use crate::domain::invitation::{Existing, InviteDenied, OverHourlyLimit, authorize_invitation};
use crate::domain::seats::{NoFreeSeats, SeatUsage, seats_added};
use crate::domain::{OrganizationId, Permission, Role};

pub use crate::db::imports::IMPORT_TTL;

/// Why an import was not stored, shown or sent. `Display` is what the person is told.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ImportRefusal {
    /// The actor has no standing in the organization.
    #[error(transparent)]
    NoStanding(#[from] NoStanding),
    /// Not an import of the actor's in this organization (or cancelled, or expired).
    #[error("Import not found")]
    NotFound,
    /// The actor may not invite here (no `users:invite`, or a Trial plan).
    #[error("{0}")]
    Denied(#[from] InviteDenied),
    /// The upload carries no file.
    #[error("Choose a CSV file to upload.")]
    NoFile,
    /// The file as a whole cannot be used.
    #[error("{0}")]
    File(#[from] FileError),
    /// The plan made now differs from the preview that was confirmed: nothing was sent; the
    /// updated preview says what changed.
    #[error(
        "Something changed since this preview was shown (an invitation was sent, accepted or resent, or your role changed). Nothing was sent. Review the updated preview and confirm again."
    )]
    PlanChanged(Box<Preview>),
    /// Sending would take the organization past its hourly limit: nothing was sent.
    #[error("{over}")]
    OverHourlyLimit {
        /// The preview, shown again.
        preview: Box<Preview>,
        /// The limit and the counts.
        over: OverHourlyLimit,
        /// Seconds until the window has room.
        retry_after: u64,
    },
    /// The new invitations do not all fit in the organization's free seats: nothing was sent
    /// (DESIGN.md, "Access, integration": Seats).
    #[error("{seats}")]
    NoFreeSeats {
        /// The preview, shown again.
        preview: Box<Preview>,
        /// The limit and the counts.
        seats: NoFreeSeats,
    },
}

type Result<T> = std::result::Result<T, ServiceError<ImportRefusal>>;

/// An uploaded file, as far as the upload could read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadedFile {
    /// No file was chosen.
    Missing,
    /// The file is larger than `csv_import::MAX_FILE_BYTES` (it was not kept).
    TooLarge,
    /// The file's bytes.
    Bytes(Vec<u8>),
}

/// Upload a file to preview.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The file's name as the browser gave it (display only; "upload.csv" when blank).
    pub file_name: String,
    /// The file.
    pub file: UploadedFile,
}

/// An unsent import planned: what its preview shows and its confirmation would send.
#[derive(Debug, Clone)]
pub struct Preview {
    /// The import.
    pub import: Import,
    /// Each row's action and reason, the counts and the fingerprint.
    pub plan: ImportPlan,
    /// When sending would exceed the hourly limit now: the refusal a confirmation would get.
    pub limit_warning: Option<OverHourlyLimit>,
    /// The organization's seats now, and how many the new invitations need.
    pub seats: (SeatUsage, i64),
    /// When the new invitations do not all fit in the free seats: the refusal a confirmation
    /// would get.
    pub seats_warning: Option<NoFreeSeats>,
}

/// What the preview's address shows.
#[derive(Debug, Clone)]
pub enum PreviewPage {
    /// The preview of an unsent import.
    Unsent(Box<Preview>),
    /// The import was sent: its result (at this id) is the answer.
    Sent(ImportId),
}

/// What the result's address shows.
#[derive(Debug, Clone)]
pub enum ResultPage {
    /// What happened to each row of the sent import.
    Sent {
        /// The uploaded file's name.
        file_name: String,
        /// The stored result.
        result: ImportResult,
    },
    /// Not sent yet: its preview (at this id) is the answer.
    Unsent(ImportId),
}

/// Refuses `actor` without `users:invite` or on a Trial plan (rules 2 and 3).
fn may_invite(acting: &Acting) -> Result<()> {
    match authorize_invitation(inviter(acting), acting.org.plan, Role::Viewer) {
        Err(denied @ (InviteDenied::NotPermitted | InviteDenied::TrialPlan)) => refuse(denied),
        _ => Ok(()),
    }
}

/// Checks an upload as a whole and stores it for `actor` in `org`; returns its id, for the
/// preview. Nothing is sent.
///
/// # Errors
/// [`ImportRefusal`]: no standing, [`ImportRefusal::Denied`], [`ImportRefusal::NoFile`], or
/// [`ImportRefusal::File`] (too large, not UTF-8, a bad header, too many rows …).
pub fn upload(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    upload: Upload,
    now: DateTime<Utc>,
) -> Result<ImportId> {
    let mut conn = svc.conn()?;
    let acting = standing_in(&mut conn, org, actor)?;
    may_invite(&acting)?;
    let bytes = match upload.file {
        UploadedFile::Missing => return refuse(ImportRefusal::NoFile),
        UploadedFile::TooLarge => return refuse(FileError::TooLarge),
        UploadedFile::Bytes(bytes) => bytes,
    };
    let text = csv_import::decode(&bytes).or_else(refuse)?;
    csv_import::parse(text, inviter(&acting), acting.org.plan).or_else(refuse)?;
    let file_name = match upload.file_name.trim() {
        "" => "upload.csv",
        _ => &upload.file_name,
    };
    Ok(db::imports::insert(
        &mut conn,
        org,
        actor.user.id,
        file_name,
        text,
        now,
    )?)
}

/// `actor`'s import `id` in `org`, unsent or sent, if it is there at `now`.
fn own(
    c: &mut Conn,
    org: OrganizationId,
    actor: &Actor,
    id: ImportId,
    now: DateTime<Utc>,
) -> Result<OwnImport> {
    db::imports::find_own(c, org, actor.user.id, id, now)?
        .map_or_else(|| refuse(ImportRefusal::NotFound), Ok)
}

/// Parses `import` for `acting` and plans every row against what exists now; returns the
/// preview and what exists for its addresses.
fn plan(
    c: &mut Conn,
    svc: &Services,
    acting: &Acting,
    import: Import,
    now: DateTime<Utc>,
) -> Result<(Preview, Existing)> {
    let parsed =
        csv_import::parse(&import.content, inviter(acting), acting.org.plan).or_else(refuse)?;
    let existing = {
        let emails = csv_import::addresses(&parsed);
        super::invitations::existing(c, acting.org.id, &emails)?
    };
    let plan = plan_import(parsed, &existing, inviter(acting), now);
    let limit_warning = over_limit(c, svc, acting.org.id, plan.creations(), now)?;
    // Counted after the organization's lock when confirming (the same rule as
    // `seats::ensure_free`): all or nothing.
    let seats = super::seats::usage(c, &acting.org, now)?;
    let needed = seats_added(&plan.plans);
    let seats_warning = (needed > 0).then(|| seats.check(needed).err()).flatten();
    let preview = Preview {
        import,
        plan,
        limit_warning: limit_warning.map(|(over, _)| over),
        seats: (seats, needed),
        seats_warning,
    };
    Ok((preview, existing))
}

/// The preview of `actor`'s import `id` in `org` at `now`: for every row what confirming will
/// do and why. Reads only.
///
/// # Errors
/// [`ImportRefusal`]: no standing, `users:invite` missing, not found, or
/// [`ImportRefusal::File`] when the stored file no longer parses.
pub fn preview(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: ImportId,
    now: DateTime<Utc>,
) -> Result<PreviewPage> {
    let (mut conn, acting, found) = reading(svc, actor, org, id, now)?;
    match found {
        OwnImport::Sent(sent) => Ok(PreviewPage::Sent(sent.id)),
        OwnImport::Unsent(import) => {
            let (preview, _) = plan(&mut conn, svc, &acting, import, now)?;
            Ok(PreviewPage::Unsent(Box::new(preview)))
        }
    }
}

/// `actor`'s import `id` in `org` at `now`, for a page that reads it: with a connection and
/// the actor's standing, which must include `users:invite`.
fn reading(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: ImportId,
    now: DateTime<Utc>,
) -> Result<(db::Pooled, Acting, OwnImport)> {
    let mut conn = svc.conn()?;
    let acting = standing_in(&mut conn, org, actor)?;
    if !acting.role.has(Permission::UsersInvite) {
        return refuse(InviteDenied::NotPermitted);
    }
    let found = own(&mut conn, org, actor, id, now)?;
    Ok((conn, acting, found))
}

/// Confirms `actor`'s import `id` in `org` at `now`, previewed with `fingerprint`: sends the
/// rows the preview said would be sent, stores each row's outcome with the import, and
/// returns the id of the result to show. An import already sent (a resubmitted confirmation,
/// a double click) sends nothing and returns its result too.
///
/// The plan that is compared with the preview's fingerprint is made inside the transaction
/// that sends, after the organization's lock, and it is the plan carried out: what is sent is
/// exactly what was previewed, or nothing is and the updated preview says what changed.
///
/// # Errors
/// [`ImportRefusal`]: no standing, [`ImportRefusal::Denied`], not found, the stored file no
/// longer parses, [`ImportRefusal::PlanChanged`] (nothing sent), or
/// [`ImportRefusal::OverHourlyLimit`] (nothing sent).
pub fn confirm(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: ImportId,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<ImportId> {
    let mut conn = svc.conn()?;
    let sent = db::write_transaction(&mut conn, |c| {
        let acting = acting_in(c, org, actor)?;
        let import = match own(c, org, actor, id, now)? {
            OwnImport::Sent(sent) => return Ok(sent.id),
            OwnImport::Unsent(import) => import,
        };
        may_invite(&acting)?;
        let (mut preview, existing) = plan(c, svc, &acting, import, now)?;
        if preview.plan.fingerprint != fingerprint {
            return refuse(ImportRefusal::PlanChanged(Box::new(preview)));
        }
        // The refusal says it; the preview's warning would repeat it.
        if let Some(seats) = preview.seats_warning.take() {
            let preview = Box::new(preview);
            return refuse(ImportRefusal::NoFreeSeats { preview, seats });
        }
        if let Some(over) = preview.limit_warning.take() {
            return refuse(ImportRefusal::OverHourlyLimit {
                over,
                retry_after: retry_after(c, org, now)?,
                preview: Box::new(preview),
            });
        }
        if !db::imports::claim(c, &preview.import, now)? {
            // Cancelled or expired since it was read.
            return refuse(ImportRefusal::NotFound);
        }
        let (entries, plans) = preview.plan.to_send();
        let sending = Sending::new(svc, actor, &acting, now);
        let outcomes = sending.carry_out(c, &entries, &existing, &plans)?;
        let result = ImportResult::new(&preview.plan, &outcomes);
        let stored = serde_json::to_string(&result)
            .map_err(|e| DbError::Corrupt(format!("the result of import {id}: {e}")))?;
        db::imports::store_result(c, id, &stored, now)?;
        Ok(id)
    })?;
    svc.email_queued();
    Ok(sent)
}

/// The result of `actor`'s sent import `id` in `org`: what happened to each row. Reads only.
///
/// # Errors
/// [`ImportRefusal`]: no standing, `users:invite` missing, or not found (or expired).
pub fn result(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: ImportId,
    now: DateTime<Utc>,
) -> Result<ResultPage> {
    match reading(svc, actor, org, id, now)?.2 {
        OwnImport::Unsent(import) => Ok(ResultPage::Unsent(import.id)),
        OwnImport::Sent(sent) => {
            let result = serde_json::from_str(&sent.result).map_err(|_| {
                DbError::Corrupt(format!("the stored result of import {id} is unreadable"))
            })?;
            Ok(ResultPage::Sent {
                file_name: sent.file_name,
                result,
            })
        }
    }
}

/// Deletes `actor`'s unsent import `id` in `org` (Cancel); nothing is sent. Returns whether
/// there was one.
///
/// # Errors
/// [`ImportRefusal`]: no standing.
pub fn cancel(svc: &Services, actor: &Actor, org: OrganizationId, id: ImportId) -> Result<bool> {
    let mut conn = svc.conn()?;
    standing_in::<ImportRefusal>(&mut conn, org, actor)?;
    Ok(db::imports::delete_own(&mut conn, org, actor.user.id, id)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Plan;
    use crate::domain::csv_import::RowAction;
    use crate::service::testing::Fixture;

    const HEADER: &str = "email,role,department,message\n";

    fn refusal<T: std::fmt::Debug>(r: Result<T>) -> ImportRefusal {
        match r {
            Err(ServiceError::Refused(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn file(rows: &str) -> Upload {
        Upload {
            file_name: "team.csv".into(),
            file: UploadedFile::Bytes(format!("{HEADER}{rows}").into_bytes()),
        }
    }

    fn upload_rows(f: &Fixture, actor: &Actor, org: OrganizationId, rows: &str) -> ImportId {
        upload(&f.svc, actor, org, file(rows), f.now).unwrap()
    }

    fn previewed(f: &Fixture, actor: &Actor, org: OrganizationId, id: ImportId) -> Preview {
        match preview(&f.svc, actor, org, id, f.now).unwrap() {
            PreviewPage::Unsent(preview) => *preview,
            PreviewPage::Sent(_) => panic!("expected an unsent import"),
        }
    }

    fn invitation_count(f: &Fixture) -> i64 {
        use crate::db::schema::invitations;
        use diesel::prelude::*;
        f.with(|c| Ok(invitations::table.count().get_result(c)?))
    }

    /// A fixture with Acme (Starter) and its Owner.
    fn acme() -> (Fixture, OrganizationId, Actor) {
        let f = Fixture::new();
        let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
        (f, org, owner)
    }

    #[test]
    fn an_upload_is_checked_as_a_whole_and_sends_nothing() {
        let (f, org, owner) = acme();
        let missing = Upload {
            file_name: String::new(),
            file: UploadedFile::Missing,
        };
        assert!(matches!(
            refusal(upload(&f.svc, &owner, org, missing, f.now)),
            ImportRefusal::NoFile
        ));
        let big = Upload {
            file_name: "big.csv".into(),
            file: UploadedFile::TooLarge,
        };
        assert!(matches!(
            refusal(upload(&f.svc, &owner, org, big, f.now)),
            ImportRefusal::File(FileError::TooLarge)
        ));
        let bad = Upload {
            file_name: "bad.csv".into(),
            file: UploadedFile::Bytes(b"name,email\n".to_vec()),
        };
        assert!(matches!(
            refusal(upload(&f.svc, &owner, org, bad, f.now)),
            ImportRefusal::File(FileError::BadHeader { .. })
        ));
        let id = upload_rows(&f, &owner, org, "a@example.com,viewer,,\n");
        let preview = previewed(&f, &owner, org, id);
        assert_eq!(preview.plan.counts.send, 1);
        assert_eq!(
            invitation_count(&f),
            0,
            "nothing is sent before confirmation"
        );
    }

    #[test]
    fn rules_2_and_3_an_editor_or_a_trial_organization_cannot_import() {
        let (f, org, owner) = acme();
        let editor = f.member(org, "editor@acme.test", Role::Editor);
        assert!(matches!(
            refusal(upload(
                &f.svc,
                &editor,
                org,
                file("a@example.com,viewer,,\n"),
                f.now
            )),
            ImportRefusal::Denied(InviteDenied::NotPermitted)
        ));
        let trial = f.org("Trialco", Plan::Trial);
        f.add(trial, &owner.user, Role::Owner);
        assert!(matches!(
            refusal(upload(
                &f.svc,
                &owner,
                trial,
                file("a@example.com,viewer,,\n"),
                f.now
            )),
            ImportRefusal::Denied(InviteDenied::TrialPlan)
        ));
    }

    #[test]
    fn a_confirmation_sends_what_was_previewed_once() {
        let (f, org, owner) = acme();
        f.member(org, "pat@acme.test", Role::Viewer);
        let rows =
            "pat@acme.test,viewer,,\nann@example.com,editor,Research,\nnot an address,viewer,,\n";
        let id = upload_rows(&f, &owner, org, rows);
        let seen = previewed(&f, &owner, org, id);
        let actions: Vec<RowAction> = seen.plan.actions.iter().map(|(a, _)| *a).collect();
        assert_eq!(
            actions,
            [RowAction::SkipMember, RowAction::Send, RowAction::Invalid]
        );
        let fingerprint = seen.plan.fingerprint;
        assert_eq!(
            confirm(&f.svc, &owner, org, id, &fingerprint, f.now).unwrap(),
            id
        );
        assert_eq!(invitation_count(&f), 1);
        let ResultPage::Sent { result, .. } = result(&f.svc, &owner, org, id, f.now).unwrap()
        else {
            panic!("expected the result");
        };
        assert_eq!(
            result.summary(),
            "1 invitation sent, 0 sent again, 1 skipped, 1 invalid."
        );
        // A second confirmation (a double click) sends nothing and answers with the result.
        assert_eq!(
            confirm(&f.svc, &owner, org, id, &fingerprint, f.now).unwrap(),
            id
        );
        assert_eq!(invitation_count(&f), 1);
        assert!(matches!(
            preview(&f.svc, &owner, org, id, f.now).unwrap(),
            PreviewPage::Sent(sent) if sent == id
        ));
    }

    #[test]
    fn a_confirmation_sends_nothing_when_the_plan_changed() {
        let (f, org, owner) = acme();
        let id = upload_rows(
            &f,
            &owner,
            org,
            "a@example.com,viewer,,\nb@example.com,viewer,,\n",
        );
        let fingerprint = previewed(&f, &owner, org, id).plan.fingerprint;
        // Meanwhile b joins.
        f.member(org, "b@example.com", Role::Viewer);
        let ImportRefusal::PlanChanged(updated) =
            refusal(confirm(&f.svc, &owner, org, id, &fingerprint, f.now))
        else {
            panic!("expected a changed plan");
        };
        assert_eq!((updated.plan.counts.send, updated.plan.counts.skip), (1, 1));
        assert_eq!(invitation_count(&f), 0);
        let sent = confirm(&f.svc, &owner, org, id, &updated.plan.fingerprint, f.now);
        assert_eq!(sent.unwrap(), id);
        assert_eq!(invitation_count(&f), 1);
    }

    #[test]
    fn a_confirmation_over_the_hourly_limit_sends_nothing() {
        let (mut f, org, owner) = acme();
        let mut settings = (*f.svc.settings).clone();
        settings.invitations_per_hour = 1;
        f.svc.settings = std::sync::Arc::new(settings);
        let id = upload_rows(
            &f,
            &owner,
            org,
            "a@example.com,viewer,,\nb@example.com,viewer,,\n",
        );
        let seen = previewed(&f, &owner, org, id);
        assert!(seen.limit_warning.is_some(), "the preview warns");
        let over = refusal(confirm(
            &f.svc,
            &owner,
            org,
            id,
            &seen.plan.fingerprint,
            f.now,
        ));
        let ImportRefusal::OverHourlyLimit {
            preview: shown,
            over,
            retry_after,
        } = over
        else {
            panic!("expected the hourly limit, got {over:?}");
        };
        assert_eq!((over.creating, retry_after), (2, 60));
        assert!(shown.limit_warning.is_none(), "the refusal says it once");
        assert_eq!(invitation_count(&f), 0);
        assert!(
            matches!(
                preview(&f.svc, &owner, org, id, f.now).unwrap(),
                PreviewPage::Unsent(_)
            ),
            "a refused confirmation leaves the import to confirm again"
        );
    }

    #[test]
    fn an_import_is_its_uploaders_alone_and_cancel_deletes_it() {
        let (f, org, owner) = acme();
        let colleague = f.member(org, "admin@acme.test", Role::Admin);
        let id = upload_rows(&f, &owner, org, "a@example.com,viewer,,\n");
        assert!(matches!(
            refusal(preview(&f.svc, &colleague, org, id, f.now)),
            ImportRefusal::NotFound
        ));
        assert!(matches!(
            refusal(confirm(&f.svc, &colleague, org, id, "x", f.now)),
            ImportRefusal::NotFound
        ));
        assert!(!cancel(&f.svc, &colleague, org, id).unwrap());
        assert!(cancel(&f.svc, &owner, org, id).unwrap());
        assert!(matches!(
            refusal(result(&f.svc, &owner, org, id, f.now)),
            ImportRefusal::NotFound
        ));
    }
}
