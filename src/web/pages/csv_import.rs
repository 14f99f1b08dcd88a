//! CSV import of invitations (issue 5, feature 2): upload → preview → "Send N invitations" →
//! result.
//!
//! Rules this module keeps:
//! - Nothing is sent before confirmation. The upload stores the file (`db::imports`) and
//!   redirects to its preview; the preview only reads.
//! - The confirmation re-reads the stored file and re-plans it against the database *now*,
//!   with the inviter's role *now*. The preview's form carries a fingerprint of every row's
//!   planned action; if the re-plan differs, nothing is sent and the updated preview is shown,
//!   so the confirmation never sends what the person did not see.
//! - An import is visible only to the person who uploaded it, in its organization; any other
//!   id is a 404. A confirmation claims it, sends and records each row's outcome in one
//!   transaction (`db::imports::send_once`), so a double click sends once, and redirects to
//!   the result's own page, which a reload shows again.
//! - Uploads are bounded: at most 1 MiB of file (a 413 page that keeps the form) and a few
//!   small fields; a multipart body is read by hand because its CSRF token is a form field.

use crate::web::session::Session;
use actix_multipart::Multipart;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::StreamExt as _;
use serde::Deserialize;

use super::{render_with_status, see_other};
use crate::db::imports::{IMPORT_TTL, OwnImport};
use crate::db::invitations::InviteBatch;
use crate::db::{self};
use crate::domain::csv_import::{
    self, Counts, FileError, Import, ImportId, ImportPlan, ImportResult, MAX_FILE_BYTES, MAX_ROWS,
    RowView,
};
use crate::domain::invitation::{
    InviteDenied, OverHourlyLimit, authorize_invitation, check_hourly_limit,
};
use crate::domain::{Permission, Plan, Role};
use crate::paths;
use crate::web::csrf::{self, CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::error::Rejection;
use crate::web::error::error_response;
use crate::web::extractors::OrgMember;
use crate::web::request_meta::Meta;
use crate::web::{AppError, AppState, Layout, flash};

/// The multipart field that carries the file.
const FILE_FIELD: &str = "file";
/// The largest non-file field read (the CSRF token is 43 characters).
const MAX_FIELD_BYTES: usize = 1_024;
/// The most parts one upload may have (the form has two).
const MAX_PARTS: usize = 8;
/// How much of an oversized request is still read (and discarded) so the browser gets the
/// answer instead of a reset connection; beyond this the connection is simply closed.
const MAX_DRAINED_BYTES: usize = 8 * 1024 * 1024;
/// The longest file name kept, in characters.
const MAX_FILE_NAME_CHARS: usize = 200;
/// Preview rows per page.
pub const PREVIEW_PAGE_ROWS: usize = 500;

/// The upload form, with an error about the file if any.
#[derive(Template)]
#[template(path = "csv_import.html")]
struct UploadPage {
    layout: Layout,
    action: String,
    example_path: String,
    team_path: String,
    error: Option<String>,
    trial_message: Option<&'static str>,
    max_rows: usize,
    ttl_minutes: i64,
}

/// Parses `import` for `member` and plans every valid row against the database at `now`.
async fn plan(
    state: &AppState,
    member: &OrgMember,
    import: &Import,
) -> Result<Result<ImportPlan, FileError>, AppError> {
    let parsed = match csv_import::parse(&import.content, member.inviter(), member.org.plan) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let (org, inviter) = (member.org.id, member.inviter());
    let now = state.clock.now();
    let planned = state
        .db
        .run(move |c| {
            let existing = {
                let emails = csv_import::addresses(&parsed);
                db::invitations::existing(c, org, &emails)?
            };
            Ok(csv_import::plan_import(parsed, &existing, inviter, now))
        })
        .await?;
    Ok(Ok(planned))
}

fn trial_message(plan: Plan) -> Option<&'static str> {
    (!plan.allows_invitations()).then_some(Plan::TRIAL_MESSAGE)
}

fn upload_view(layout: Layout, member: &OrgMember, error: Option<String>) -> UploadPage {
    let org = member.org.id;
    UploadPage {
        layout,
        action: paths::import_invitations(org),
        example_path: paths::import_example(org),
        team_path: paths::team(org),
        error,
        trial_message: trial_message(member.org.plan),
        max_rows: MAX_ROWS,
        ttl_minutes: IMPORT_TTL.num_minutes(),
    }
}

fn no_store(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// The 404 for an import that is not (or no longer) there for this person.
fn import_not_found() -> HttpResponse {
    error_response(
        Rejection::NotFound.status(),
        "Import not found",
        "There is no import here for you. It may have been cancelled, or it expired (an upload is kept for one hour, and a sent import's result for an hour after sending). Upload the file again to start over.",
        None,
    )
}

/// GET /orgs/{org}/invitations/import — the upload form (`users:invite`).
///
/// # Errors
/// 403 without `users:invite`; 404 outside the organization.
pub async fn upload_page(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::UsersInvite)?;
    let layout =
        Layout::new(&state, &session, "Import invitations", Some(&member.user))?.in_org(&member);
    render_with_status(&upload_view(layout, &member, None), StatusCode::OK)
}

/// GET /orgs/{org}/invitations/import/example.csv — a template file to fill in.
///
/// # Errors
/// 403 without `users:invite`; 404 outside the organization.
pub async fn example(member: OrgMember) -> Result<HttpResponse, AppError> {
    member.require(Permission::UsersInvite)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"invitations-example.csv\"",
        ))
        .body(csv_import::EXAMPLE))
}

/// An upload as read from the multipart body.
#[derive(Default)]
struct Upload {
    csrf_token: String,
    file_name: String,
    bytes: Vec<u8>,
    has_file: bool,
    too_large: bool,
}

/// Why an upload body could not be read at all.
enum ReadError {
    /// Not a multipart form, or broken mid-way.
    Unreadable(String),
    /// Bigger than we are willing to read even to answer politely.
    WayTooLarge,
}

/// Reads the upload's fields with explicit bounds: the file up to [`MAX_FILE_BYTES`] (the rest
/// is drained and flagged), other fields up to [`MAX_FIELD_BYTES`], at most [`MAX_PARTS`] parts.
async fn read_upload(mut payload: Multipart) -> Result<Upload, ReadError> {
    let mut upload = Upload::default();
    let mut seen = 0usize;
    let mut parts = 0usize;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| ReadError::Unreadable(e.to_string()))?;
        parts += 1;
        if parts > MAX_PARTS {
            return Err(ReadError::Unreadable("too many fields".into()));
        }
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = name == FILE_FIELD;
        if is_file {
            upload.has_file = true;
            upload.file_name = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_FILE_NAME_CHARS)
                .collect();
        }
        let limit = if is_file {
            MAX_FILE_BYTES
        } else {
            MAX_FIELD_BYTES
        };
        let mut buf = Vec::new();
        let mut over = false;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| ReadError::Unreadable(e.to_string()))?;
            seen += chunk.len();
            if seen > MAX_DRAINED_BYTES {
                return Err(ReadError::WayTooLarge);
            }
            if !over && buf.len() + chunk.len() > limit {
                over = true;
                buf = Vec::new();
            }
            if !over {
                buf.extend_from_slice(&chunk);
            }
        }
        match name.as_str() {
            FILE_FIELD => {
                upload.too_large = over;
                upload.bytes = buf;
            }
            csrf::FIELD if !over => {
                upload.csrf_token = String::from_utf8(buf).unwrap_or_default();
            }
            _ => {}
        }
    }
    Ok(upload)
}

/// POST /orgs/{org}/invitations/import — reads the uploaded file, checks it as a whole, stores
/// it and redirects (303) to its preview. Nothing is sent. A file that cannot be used re-shows
/// the form with the reason (413 over 1 MiB, 422 otherwise) and stores nothing.
///
/// # Errors
/// 403 without a valid CSRF token or `users:invite`; 400 for a body that is not a multipart
/// form.
pub async fn upload(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::UsersInvite)?;
    let layout =
        Layout::new(&state, &session, "Import invitations", Some(&member.user))?.in_org(&member);
    let show = |layout, error: String, status| {
        render_with_status(&upload_view(layout, &member, Some(error)), status)
    };
    let too_large = "The file is larger than 1 MiB. Split it into smaller files and import each.";
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_DRAINED_BYTES) {
        return show(layout, too_large.into(), Rejection::TooLarge.status());
    }
    let upload = match read_upload(payload).await {
        Ok(upload) => upload,
        Err(ReadError::WayTooLarge) => {
            return show(layout, too_large.into(), Rejection::TooLarge.status());
        }
        Err(ReadError::Unreadable(why)) => {
            return Err(AppError::BadRequest(
                format!("The upload could not be read ({why}). Choose a CSV file and try again.")
                    .into(),
            ));
        }
    };
    if !csrf::verify(&session, &upload.csrf_token) {
        return Err(AppError::Csrf);
    }
    if let Err(denied @ (InviteDenied::NotPermitted | InviteDenied::TrialPlan)) =
        authorize_invitation(member.inviter(), member.org.plan, Role::Viewer)
    {
        return show(layout, denied.to_string(), Rejection::Forbidden.status());
    }
    if !upload.has_file || (upload.bytes.is_empty() && upload.file_name.is_empty()) {
        return show(
            layout,
            "Choose a CSV file to upload.".into(),
            Rejection::Invalid.status(),
        );
    }
    if upload.too_large {
        return show(layout, too_large.into(), Rejection::TooLarge.status());
    }
    let checked = csv_import::decode(&upload.bytes)
        .and_then(|text| csv_import::parse(text, member.inviter(), member.org.plan).map(|_| text));
    let text = match checked {
        Ok(text) => text.to_owned(),
        Err(e) => {
            let status = if e == FileError::TooLarge {
                Rejection::TooLarge.status()
            } else {
                Rejection::Invalid.status()
            };
            return show(layout, e.to_string(), status);
        }
    };
    let file_name = if upload.file_name.trim().is_empty() {
        "upload.csv".to_owned()
    } else {
        upload.file_name
    };
    let org = member.org.id;
    let creator = member.user.id;
    let now = state.clock.now();
    let id = state
        .db
        .run(move |c| db::imports::insert(c, org, creator, &file_name, &text, now))
        .await?;
    Ok(see_other(&paths::import_preview(org, id)))
}

#[derive(Template)]
#[template(path = "csv_import_preview.html")]
struct PreviewPage {
    layout: Layout,
    file_name: String,
    counts: Counts,
    rows: Vec<RowView>,
    first_shown: usize,
    last_shown: usize,
    prev_page: Option<String>,
    next_page: Option<String>,
    fingerprint: String,
    action: String,
    cancel_action: String,
    upload_path: String,
    notice: Option<String>,
    limit_warning: Option<String>,
    expires_minutes: i64,
}

/// `?page=` of the preview.
#[derive(Debug, Deserialize)]
pub struct PreviewQuery {
    #[serde(default)]
    page: Option<usize>,
}

/// The signed-in person's import with the id in the URL, unsent or sent, if there is one.
async fn load_import(
    state: &AppState,
    member: &OrgMember,
    raw_id: &str,
) -> Result<Option<OwnImport>, AppError> {
    let Ok(id) = raw_id.parse::<ImportId>() else {
        return Ok(None);
    };
    let org = member.org.id;
    let creator = member.user.id;
    let now = state.clock.now();
    Ok(state
        .db
        .run(move |c| db::imports::find_own(c, org, creator, id, now))
        .await?)
}

/// The signed-in person's unsent import with the id in the URL, or, when there is none, the
/// answer to give instead: a redirect to its result once it was sent (the preview's address
/// after sending, a resubmitted confirmation), else the 404 page.
async fn unsent_import(
    state: &AppState,
    member: &OrgMember,
    raw_id: &str,
) -> Result<Result<Import, HttpResponse>, AppError> {
    Ok(match load_import(state, member, raw_id).await? {
        Some(OwnImport::Unsent(import)) => Ok(import),
        Some(OwnImport::Sent(sent)) => {
            Err(see_other(&paths::import_result(member.org.id, sent.id)))
        }
        None => Err(import_not_found()),
    })
}

/// The hourly limit's refusal, if sending `planned` now would exceed it (the preview's
/// warning; confirming checks again inside the transaction that sends).
async fn over_hourly_limit(
    state: &AppState,
    member: &OrgMember,
    planned: &ImportPlan,
) -> Result<Option<String>, AppError> {
    let creating = planned.creations();
    if creating == 0 {
        return Ok(None);
    }
    let org = member.org.id;
    let since = state.clock.now() - chrono::Duration::hours(1);
    let sent_last_hour = state
        .db
        .run(move |c| db::invitations::created_since(c, org, since))
        .await?;
    Ok(check_hourly_limit(
        sent_last_hour,
        creating,
        state.settings.invitations_per_hour,
    )
    .err()
    .map(|over| over.to_string()))
}

/// Why a confirmation sent nothing; the preview it answers with says so at the top.
enum Refusal {
    /// The re-plan differs from the preview that was confirmed (409).
    PlanChanged,
    /// Sending would exceed the hourly limit (429 with `Retry-After`).
    OverLimit(OverHourlyLimit),
}

impl Refusal {
    fn rejection(&self) -> Rejection {
        match self {
            Refusal::PlanChanged => Rejection::FinalState,
            Refusal::OverLimit(_) => Rejection::RateLimited,
        }
    }

    fn message(&self) -> String {
        match self {
            Refusal::PlanChanged => "Something changed since this preview was shown (an invitation was sent, accepted or resent, or your role changed). Nothing was sent. Review the updated preview and confirm again.".to_owned(),
            Refusal::OverLimit(over) => over.to_string(),
        }
    }
}

/// The preview page of `import` at `page`, answering a refused confirmation when `refusal`
/// is given (with its status; 200 otherwise).
async fn preview_response(
    state: &AppState,
    session: &Session,
    member: &OrgMember,
    import: &Import,
    planned: &ImportPlan,
    page: usize,
    refusal: Option<Refusal>,
) -> Result<HttpResponse, AppError> {
    let org = member.org.id;
    let total = planned.parsed.rows.len();
    let pages = total.div_ceil(PREVIEW_PAGE_ROWS).max(1);
    let page = page.clamp(1, pages);
    let start = (page - 1) * PREVIEW_PAGE_ROWS;
    let end = (start + PREVIEW_PAGE_ROWS).min(total);
    let base = paths::import_preview(org, import.id);
    let layout = Layout::new(state, session, "Import preview", Some(&member.user))?.in_org(member);
    // A refusal for the limit says it already; the warning would repeat it.
    let limit_warning = match refusal {
        Some(Refusal::OverLimit(_)) => None,
        _ => over_hourly_limit(state, member, planned).await?,
    };
    let retry_after = match refusal {
        Some(Refusal::OverLimit(_)) => {
            let now = state.clock.now();
            let reopens = state
                .db
                .run(move |c| db::invitations::hourly_window_reopens(c, org, now))
                .await?;
            Some(reopens.map_or(60, |at| super::seconds_until(at, now)))
        }
        _ => None,
    };
    let notice = refusal.as_ref().map(Refusal::message);
    let expires_minutes = (import.expires_at - state.clock.now()).num_minutes().max(1);
    let page_view = PreviewPage {
        layout,
        file_name: import.file_name.clone(),
        counts: planned.counts,
        rows: planned.rows(start..end),
        first_shown: if total == 0 { 0 } else { start + 1 },
        last_shown: end,
        prev_page: (page > 1).then(|| format!("{base}?page={}", page - 1)),
        next_page: (page < pages).then(|| format!("{base}?page={}", page + 1)),
        fingerprint: planned.fingerprint.clone(),
        action: base.clone(),
        cancel_action: paths::import_cancel(org, import.id),
        upload_path: paths::import_invitations(org),
        notice,
        limit_warning,
        expires_minutes,
    };
    Ok(no_store(match &refusal {
        Some(refusal) => super::render_refused(&page_view, refusal.rejection(), retry_after)?,
        None => render_with_status(&page_view, StatusCode::OK)?,
    }))
}

/// GET /orgs/{org}/invitations/import/{id} — the preview: for every row what will happen and
/// why, exact counts at the top, 500 rows a page (`?page=`). Reads only. A sent import
/// redirects to its result.
///
/// # Errors
/// 404 for an import that is not the signed-in person's in this organization (or expired);
/// 403 without `users:invite`.
pub async fn preview(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    path: web::Path<(String, String)>,
    query: web::Query<PreviewQuery>,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::UsersInvite)?;
    let import = match unsent_import(&state, &member, &path.1).await? {
        Ok(import) => import,
        Err(answer) => return Ok(answer),
    };
    let planned = match plan(&state, &member, &import).await? {
        Ok(p) => p,
        Err(e) => return stored_file_unusable(&state, &session, &member, e),
    };
    preview_response(
        &state,
        &session,
        &member,
        &import,
        &planned,
        query.page.unwrap_or(1),
        None,
    )
    .await
}

/// A stored file that no longer parses (it did at upload; only a code change could do this):
/// back to the form with the reason.
fn stored_file_unusable(
    state: &AppState,
    session: &Session,
    member: &OrgMember,
    e: FileError,
) -> Result<HttpResponse, AppError> {
    let layout =
        Layout::new(state, session, "Import invitations", Some(&member.user))?.in_org(member);
    render_with_status(
        &upload_view(layout, member, Some(e.to_string())),
        Rejection::Invalid.status(),
    )
}

/// The confirmation form.
#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf_token: String,
    /// The fingerprint of the preview that was confirmed.
    #[serde(default)]
    plan: String,
}

impl HasCsrfToken for ConfirmForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

#[derive(Template)]
#[template(path = "csv_import_result.html")]
struct ResultPage {
    layout: Layout,
    file_name: String,
    summary: String,
    sent: usize,
    resent: usize,
    skipped: usize,
    invalid: usize,
    rows: Vec<RowView>,
    team_path: String,
    upload_path: String,
}

/// POST /orgs/{org}/invitations/import/{id} — "Send N invitations". Re-plans the stored file;
/// if anything changed since the preview, sends nothing and shows the updated preview (409).
/// Refuses (422, nothing sent) when the hourly limit would be exceeded. Otherwise invites the
/// rows the preview said would be sent and records each row's outcome with the import, in one
/// transaction ([`db::imports::send_once`]), and redirects to the result page. A confirmation
/// of an import already sent (a resubmitted form, a double click) sends nothing and redirects
/// there too.
///
/// # Errors
/// 403 without a valid CSRF token or `users:invite`; 404 for an import that is not the
/// signed-in person's in this organization, cancelled or expired.
pub async fn confirm(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    Meta(meta): Meta,
    path: web::Path<(String, String)>,
    CsrfForm(input): CsrfForm<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::UsersInvite)?;
    // Sent already (a resubmitted confirmation, a double click): its result, once.
    let import = match unsent_import(&state, &member, &path.1).await? {
        Ok(import) => import,
        Err(answer) => return Ok(answer),
    };
    if let Err(denied @ (InviteDenied::NotPermitted | InviteDenied::TrialPlan)) =
        authorize_invitation(member.inviter(), member.org.plan, Role::Viewer)
    {
        return Err(AppError::Forbidden(denied.to_string().into()));
    }
    let planned = match plan(&state, &member, &import).await? {
        Ok(p) => p,
        Err(e) => return stored_file_unusable(&state, &session, &member, e),
    };
    if planned.fingerprint != input.plan {
        // A confirmation of this very import that went through meanwhile (a double click)
        // changes the plan too: then its result is the answer, not a changed preview.
        if let Some(OwnImport::Sent(sent)) = load_import(&state, &member, &path.1).await? {
            return Ok(see_other(&paths::import_result(member.org.id, sent.id)));
        }
        return preview_response(
            &state,
            &session,
            &member,
            &import,
            &planned,
            1,
            Some(Refusal::PlanChanged),
        )
        .await;
    }
    let entries = planned.to_send();
    let now = state.clock.now();
    let ctx = member.audit(meta);
    let batch = InviteBatch {
        organization: member.org.id,
        inviter: member.user.id,
        ttl: state.settings.invitation_ttl,
        now,
    };
    let per_hour = state.settings.invitations_per_hour;
    let token_key = state.settings.token_key.clone();
    let inviter = member.inviter();
    let planned = std::sync::Arc::new(planned);
    let (for_result, claimed) = (planned.clone(), import.clone());
    let sent = state
        .db
        .run(move |c| {
            db::imports::send_once(
                c,
                &claimed,
                now,
                |c| {
                    db::invitations::invite_many(
                        c, &ctx, &batch, inviter, &entries, per_hour, &token_key,
                    )
                },
                |outcomes| {
                    // Plain strings and numbers: serializing cannot fail.
                    serde_json::to_string(&ImportResult::new(&for_result, outcomes))
                        .unwrap_or_default()
                },
            )
        })
        .await?;
    match sent {
        Some(Ok(_)) => {
            state.outbox.wake();
            Ok(see_other(&paths::import_result(member.org.id, import.id)))
        }
        // Not there to claim: sent by the other of two racing confirmations (its result is
        // there), or cancelled or expired meanwhile (a 404).
        None => Ok(unsent_import(&state, &member, &path.1)
            .await?
            .err()
            .unwrap_or_else(import_not_found)),
        Some(Err(over)) => {
            preview_response(
                &state,
                &session,
                &member,
                &import,
                &planned,
                1,
                Some(Refusal::OverLimit(over)),
            )
            .await
        }
    }
}

/// GET /orgs/{org}/invitations/import/{id}/result — what happened to each row of a sent import
/// (where the confirmation redirects; reloading it sends nothing). Kept an hour after sending.
///
/// An import not sent yet redirects to its preview.
///
/// # Errors
/// 404 for an import that is not the signed-in person's in this organization, or expired;
/// 403 without `users:invite`.
pub async fn result(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::UsersInvite)?;
    let sent = match load_import(&state, &member, &path.1).await? {
        Some(OwnImport::Sent(sent)) => sent,
        // Not sent yet: its preview.
        Some(OwnImport::Unsent(import)) => {
            return Ok(see_other(&paths::import_preview(member.org.id, import.id)));
        }
        None => return Ok(import_not_found()),
    };
    let Ok(r) = serde_json::from_str::<ImportResult>(&sent.result) else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "the stored result of import {} is unreadable",
            path.1
        )));
    };
    let org = member.org.id;
    let layout =
        Layout::new(&state, &session, "Import result", Some(&member.user))?.in_org(&member);
    let summary = r.summary();
    let page = ResultPage {
        layout,
        file_name: sent.file_name,
        summary,
        sent: r.sent,
        resent: r.resent,
        skipped: r.skipped,
        invalid: r.invalid,
        rows: r.rows,
        team_path: paths::team(org),
        upload_path: paths::import_invitations(org),
    };
    Ok(no_store(render_with_status(&page, StatusCode::OK)?))
}

/// POST /orgs/{org}/invitations/import/{id}/cancel — deletes the import; nothing is sent.
///
/// # Errors
/// 403 without a valid CSRF token or `users:invite`.
pub async fn cancel(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    path: web::Path<(String, String)>,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::UsersInvite)?;
    if let Ok(id) = path.1.parse::<ImportId>() {
        let org = member.org.id;
        let creator = member.user.id;
        let deleted = state
            .db
            .run(move |c| db::imports::delete_own(c, org, creator, id))
            .await?;
        if deleted {
            flash::info(&session, "The import was cancelled; nothing was sent.");
        }
    }
    Ok(see_other(&paths::import_invitations(member.org.id)))
}
