//! "Export members as CSV" on the Team page (DESIGN.md, "Pages → Team Management"): every
//! member, or those matching the page's filter, as a CSV download whose cells cannot run as
//! spreadsheet formulas (`service::team::export_members`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::team::team_query;
use crate::domain::Permission;
use crate::service::team as service;
use crate::web::extractors::OrgMember;
use crate::web::request_meta::Meta;
use crate::web::{AppError, AppState};

/// GET /orgs/{org}/team/members.csv — Owners, Admins and staff (`members:manage`). Honours the
/// Team page's filter `q` and the members table's sort; a malformed query gets the 400 page.
///
/// # Errors
/// [`AppError::Forbidden`] without `members:manage`; [`AppError::BadRequest`] for a malformed
/// query string; [`AppError::Internal`] on a database failure.
pub async fn export_members(
    state: web::Data<AppState>,
    member: OrgMember,
    Meta(meta): Meta,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::MembersManage)?;
    let query = team_query(&req)?;
    let (org, actor) = (member.org.id, member.actor(meta));
    let (sort, direction) = (query.members.sort, query.members.direction);
    let filter = query.filter;
    let body = state
        .call(move |svc| service::export_members(svc, &actor, org, &filter, sort, direction))
        .await?;
    let file_name = format!("members-{}.csv", state.clock.now().format("%Y-%m-%d"));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}
