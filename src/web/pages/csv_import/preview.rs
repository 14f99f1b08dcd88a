//! An uploaded import's preview, its confirmation ("Send N invitations"), its result and its
//! cancellation. An import is visible only to the person who uploaded it, in its organization;
//! any other id is the "Import not found" page (404).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::{import_not_found, no_store, upload_view};
use crate::domain::OrganizationId;
use crate::domain::Permission;
use crate::domain::csv_import::{Counts, ImportId, ImportResult, RowView};
use crate::paths;
use crate::service::ServiceError;
use crate::service::csv_import::{
    self as service, ImportRefusal, Preview, PreviewPage as Found, ResultPage as Sent,
};
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::extractors::{OrgRequest, on};
use crate::web::pages::{render_refused, render_with_status, see_other};
use crate::web::refusals::Refusal;
use crate::web::{AppError, Layout, flash};

/// Preview rows per page.
pub const PREVIEW_PAGE_ROWS: usize = 500;

/// An import of an organization, from the path `/orgs/{org}/invitations/import/{id}…` (a
/// malformed id is a 404).
type ImportPath = web::Path<(OrganizationId, ImportId)>;

#[derive(Template, WebTemplate)]
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
    seats_note: String,
    seats_warning: Option<String>,
    expires_minutes: i64,
}

/// `?page=` of the preview.
#[derive(Debug, Deserialize)]
pub struct PreviewQuery {
    #[serde(default)]
    page: Option<usize>,
}

/// The preview page of `preview` at `page`, answering a refused confirmation when `refusal`
/// is given (with its status and notice; 200 otherwise).
fn preview_response(
    req: &OrgRequest,
    preview: &Preview,
    page: usize,
    refusal: Option<&ImportRefusal>,
) -> Result<HttpResponse, AppError> {
    let (org, import, plan) = (req.org(), &preview.import, &preview.plan);
    let total = plan.parsed.rows.len();
    let pages = total.div_ceil(PREVIEW_PAGE_ROWS).max(1);
    let page = page.clamp(1, pages);
    let start = (page - 1) * PREVIEW_PAGE_ROWS;
    let end = (start + PREVIEW_PAGE_ROWS).min(total);
    let base = paths::import_preview(org, import.id);
    let layout = req.layout("Import preview")?;
    let expires_minutes = (import.expires_at - req.state.clock.now())
        .num_minutes()
        .max(1);
    let page_view = PreviewPage {
        layout,
        file_name: import.file_name.clone(),
        counts: plan.counts,
        rows: plan.rows(start..end),
        first_shown: if total == 0 { 0 } else { start + 1 },
        last_shown: end,
        prev_page: (page > 1).then(|| format!("{base}?page={}", page - 1)),
        next_page: (page < pages).then(|| format!("{base}?page={}", page + 1)),
        fingerprint: plan.fingerprint.clone(),
        action: base.clone(),
        cancel_action: paths::import_cancel(org, import.id),
        upload_path: paths::import_invitations(org),
        notice: refusal.map(ToString::to_string),
        limit_warning: preview.limit_warning.as_ref().map(ToString::to_string),
        seats_note: preview.seats.0.fit_note(preview.seats.1),
        seats_warning: preview.seats_warning.as_ref().map(ToString::to_string),
        expires_minutes,
    };
    Ok(no_store(match refusal {
        Some(r) => render_refused(&page_view, r.rejection(), r.retry_after())?,
        None => render_with_status(&page_view, StatusCode::OK)?,
    }))
}

/// The answer to a refusal about an import: the "Import not found" page; the upload form for a
/// stored file that no longer parses (it did at upload; only a code change could do this);
/// the updated preview for a refused confirmation; else an error page.
fn refused(req: &OrgRequest, e: ServiceError<ImportRefusal>) -> Result<HttpResponse, AppError> {
    let ServiceError::Refused(refusal) = e else {
        return Err(e.into());
    };
    match &refusal {
        ImportRefusal::NotFound => Ok(import_not_found()),
        ImportRefusal::File(e) => {
            let form = upload_view(
                req.layout("Import invitations")?,
                &req.member,
                Some(e.to_string()),
            );
            render_with_status(&form, crate::web::error::Rejection::Invalid.status())
        }
        ImportRefusal::PlanChanged(preview)
        | ImportRefusal::OverHourlyLimit { preview, .. }
        | ImportRefusal::NoFreeSeats { preview, .. } => {
            preview_response(req, preview, 1, Some(&refusal))
        }
        _ => Err(ServiceError::Refused(refusal).into()),
    }
}

/// GET /orgs/{org}/invitations/import/{id} — the preview: for every row what will happen and
/// why, exact counts at the top, 500 rows a page (`?page=`). Reads only. A sent import
/// redirects to its result.
///
/// # Errors
/// 404 for an import that is not the signed-in person's in this organization (or expired);
/// 403 without `users:invite`.
pub async fn preview(
    req: OrgRequest,
    path: ImportPath,
    query: web::Query<PreviewQuery>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::UsersInvite)?;
    match req.call(on(path.into_inner().1, service::preview)).await {
        Ok(Found::Unsent(preview)) => {
            preview_response(&req, &preview, query.page.unwrap_or(1), None)
        }
        Ok(Found::Sent(id)) => Ok(see_other(&paths::import_result(req.org(), id))),
        Err(e) => refused(&req, e),
    }
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

/// POST /orgs/{org}/invitations/import/{id} — "Send N invitations". If anything changed since
/// the preview, sends nothing and shows the updated preview (409); over the hourly limit,
/// sends nothing and shows the preview again (429). Otherwise invites the rows the preview
/// said would be sent, records each row's outcome with the import in one transaction, and
/// redirects to the result page. A confirmation of an import already sent (a resubmitted form,
/// a double click) sends nothing and redirects there too.
///
/// # Errors
/// 403 without a valid CSRF token or `users:invite`; 404 for an import that is not the
/// signed-in person's in this organization, cancelled or expired.
pub async fn confirm(
    req: OrgRequest,
    path: ImportPath,
    CsrfForm(input): CsrfForm<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::UsersInvite)?;
    let confirm = move |svc: &_, actor: &_, org, id, now| {
        service::confirm(svc, actor, org, id, &input.plan, now)
    };
    match req.call(on(path.into_inner().1, confirm)).await {
        Ok(sent) => Ok(see_other(&paths::import_result(req.org(), sent))),
        Err(e) => refused(&req, e),
    }
}

#[derive(Template, WebTemplate)]
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

impl ResultPage {
    fn new(layout: Layout, org: OrganizationId, file_name: String, r: ImportResult) -> Self {
        ResultPage {
            layout,
            file_name,
            summary: r.summary(),
            sent: r.sent,
            resent: r.resent,
            skipped: r.skipped,
            invalid: r.invalid,
            rows: r.rows,
            team_path: paths::team(org),
            upload_path: paths::import_invitations(org),
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
pub async fn result(req: OrgRequest, path: ImportPath) -> Result<HttpResponse, AppError> {
    req.require(Permission::UsersInvite)?;
    let org = req.org();
    let (file_name, result) = match req.call(on(path.into_inner().1, service::result)).await {
        Ok(Sent::Sent { file_name, result }) => (file_name, result),
        // Not sent yet: its preview.
        Ok(Sent::Unsent(id)) => return Ok(see_other(&paths::import_preview(org, id))),
        Err(e) => return refused(&req, e),
    };
    let page = ResultPage::new(req.layout("Import result")?, org, file_name, result);
    Ok(no_store(render_with_status(&page, StatusCode::OK)?))
}

/// POST /orgs/{org}/invitations/import/{id}/cancel — deletes the import; nothing is sent.
///
/// # Errors
/// 403 without a valid CSRF token or `users:invite`.
pub async fn cancel(
    req: OrgRequest,
    path: ImportPath,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::UsersInvite)?;
    let cancel = |svc: &_, actor: &_, org, id, _| service::cancel(svc, actor, org, id);
    if req.call(on(path.into_inner().1, cancel)).await? {
        flash::info(&req.session, "The import was cancelled; nothing was sent.");
    }
    Ok(see_other(&paths::import_invitations(req.org())))
}
