//! CSV import of invitations (DESIGN.md, "Bulk"): upload → preview → "Send N invitations" →
//! result. The rules are the service's (`service::csv_import`); these handlers read the
//! request, call it once and render.
//!
//! Uploads are bounded: at most 1 MiB of file (a 413 page that keeps the form) and a few small
//! fields; a multipart body is read by hand because its CSRF token is a form field.

mod preview;

pub use preview::{ConfirmForm, PREVIEW_PAGE_ROWS, PreviewQuery, cancel, confirm, preview, result};

use actix_multipart::Multipart;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;
use futures_util::StreamExt as _;

use super::render_with_status;
use super::see_other;
use super::team::trial_message;
use crate::domain::Permission;
use crate::domain::csv_import::{self, FileError, MAX_FILE_BYTES, MAX_ROWS};
use crate::paths;
use crate::service::ServiceError;
use crate::service::csv_import::{self as service, IMPORT_TTL, ImportRefusal, UploadedFile};
use crate::web::csrf;
use crate::web::error::{Rejection, error_response};
use crate::web::extractors::{OrgMember, OrgRequest, on};
use crate::web::refusals::Refusal as _;
use crate::web::{AppError, Layout};

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

/// The upload form, with an error about the file if any.
#[derive(Template, WebTemplate)]
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
pub async fn upload_page(req: OrgRequest) -> Result<HttpResponse, AppError> {
    req.require(Permission::UsersInvite)?;
    let layout = req.layout("Import invitations")?;
    render_with_status(&upload_view(layout, &req.member, None), StatusCode::OK)
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

impl Upload {
    /// The file as the service takes it.
    fn into_command(self) -> service::Upload {
        let file = if !self.has_file || (self.bytes.is_empty() && self.file_name.is_empty()) {
            UploadedFile::Missing
        } else if self.too_large {
            UploadedFile::TooLarge
        } else {
            UploadedFile::Bytes(self.bytes)
        };
        service::Upload {
            file_name: self.file_name,
            file,
        }
    }
}

/// The upload form again, with why the upload was refused (413 over 1 MiB, 403 when the
/// actor may not invite, 422 otherwise); any other failure is an error page.
fn upload_refused(
    layout: Layout,
    member: &OrgMember,
    e: ServiceError<ImportRefusal>,
) -> Result<HttpResponse, AppError> {
    match e {
        ServiceError::Refused(
            refusal @ (ImportRefusal::Denied(_) | ImportRefusal::NoFile | ImportRefusal::File(_)),
        ) => {
            let status = refusal.rejection().status();
            render_with_status(
                &upload_view(layout, member, Some(refusal.to_string())),
                status,
            )
        }
        other => Err(other.into()),
    }
}

/// POST /orgs/{org}/invitations/import — reads the uploaded file, checks it as a whole, stores
/// it and redirects (303) to its preview. Nothing is sent. A file that cannot be used re-shows
/// the form with the reason (413 over 1 MiB, 422 otherwise) and stores nothing.
///
/// # Errors
/// 403 without a valid CSRF token or `users:invite`; 400 for a body that is not a multipart
/// form.
pub async fn upload(
    req: OrgRequest,
    http: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::UsersInvite)?;
    let layout = req.layout("Import invitations")?;
    let declared = http
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let read = if declared.is_some_and(|n| n > MAX_DRAINED_BYTES) {
        Err(ReadError::WayTooLarge)
    } else {
        read_upload(payload).await
    };
    let upload = match read {
        Ok(upload) => upload,
        Err(ReadError::WayTooLarge) => {
            let too_large = ServiceError::Refused(FileError::TooLarge.into());
            return upload_refused(layout, &req.member, too_large);
        }
        Err(ReadError::Unreadable(why)) => {
            return Err(AppError::BadRequest(
                format!("The upload could not be read ({why}). Choose a CSV file and try again.")
                    .into(),
            ));
        }
    };
    if !csrf::verify(&req.session, &upload.csrf_token) {
        return Err(AppError::Csrf);
    }
    match req.call(on(upload.into_command(), service::upload)).await {
        Ok(id) => Ok(see_other(&paths::import_preview(req.org(), id))),
        Err(e) => upload_refused(layout, &req.member, e),
    }
}
