//! "Export members as CSV" on the Team page (issue 5, item 4): every member, or those matching
//! the page's filter, as a CSV download whose cells cannot run as spreadsheet formulas.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::db;
use crate::domain::Permission;
use crate::web::extractors::OrgMember;
use crate::web::listing::TeamQuery;
use crate::web::{AppError, AppState};

/// The CSV header row of the export.
pub const HEADER: [&str; 6] = [
    "name",
    "email",
    "role",
    "department",
    "joined",
    "invited_by",
];

/// Makes a cell safe to open in a spreadsheet: a cell beginning with `=`, `+`, `-`, `@`, a tab
/// or a carriage return would be read as a formula (CSV injection, OWASP), so it gets a
/// leading `'`, which spreadsheets show as text. Other cells are unchanged.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// GET /orgs/{org}/team/members.csv — Owners, Admins and staff (`members:manage`). Honours the
/// Team page's filter `q` and the members table's sort; a malformed query gets the 400 page.
///
/// # Errors
/// [`AppError::Forbidden`] without `members:manage`; [`AppError::BadRequest`] for a malformed
/// query string; [`AppError::Internal`] on a database failure.
pub async fn export_members(
    state: web::Data<AppState>,
    member: OrgMember,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::MembersManage)?;
    let query = TeamQuery::parse(req.query_string()).map_err(|e| AppError::BadRequest(e.into()))?;
    let org = member.org.id;
    let (sort, direction) = (query.members.sort, query.members.direction);
    let filter = query.filter.clone();
    let members = state
        .db
        .run(move |c| db::team_listing::all_members(c, org, &filter, sort, direction))
        .await?;
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(members.len() * 96 + 64));
    let write = |w: &mut csv::Writer<Vec<u8>>, record: [&str; 6]| {
        w.write_record(record.iter().map(|cell| neutralise(cell).into_owned()))
            .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))
    };
    write(&mut writer, HEADER)?;
    for m in &members {
        let joined = m
            .joined_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        write(
            &mut writer,
            [
                &m.name,
                &m.email,
                m.role.label(),
                m.department.as_deref().unwrap_or(""),
                &joined,
                m.invited_by.as_deref().unwrap_or(""),
            ],
        )?;
    }
    let body = writer
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_others_kept() {
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(formula), format!("'{formula}"));
        }
        for plain in ["Ada Lovelace", "ada@example.com", "", "1-2", "a=b"] {
            assert_eq!(neutralise(plain), plain);
        }
    }
}
