//! "Export members as CSV" on the Team page (DESIGN.md, "Pages → Team Management"): every
//! member, or those matching the page's filter, as a CSV download whose cells cannot run as
//! spreadsheet formulas (`service::team::export_members`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use super::team::team_query;
use crate::domain::Permission;
use crate::service::team as service;
use crate::web::AppError;
use crate::web::extractors::OrgRequest;

/// GET /orgs/{org}/team/members.csv — Owners, Admins and staff (`members:manage`). Honours the
/// Team page's filter `q` and the members table's sort; a malformed query gets the 400 page.
///
/// # Errors
/// [`AppError::Forbidden`] without `members:manage`; [`AppError::BadRequest`] for a malformed
/// query string; [`AppError::Internal`] on a database failure.
pub async fn export_members(req: OrgRequest, http: HttpRequest) -> Result<HttpResponse, AppError> {
    req.require(Permission::MembersManage)?;
    let query = team_query(&http)?;
    let (sort, direction, filter) = (query.members.sort, query.members.direction, query.filter);
    let body = req
        .call(move |svc, actor, org, _| {
            service::export_members(svc, actor, org, &filter, sort, direction)
        })
        .await?;
    let file_name = format!("members-{}.csv", req.state.clock.now().format("%Y-%m-%d"));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}
