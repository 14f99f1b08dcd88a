//! `/api/v1/orgs/{org}/members…`: list, change a role, remove.

#[allow(clippy::wildcard_imports)]
use super::*;

/// A member.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberBody {
    /// Their account's id (the `{user}` of `…/members/{user}`).
    pub user_id: String,
    /// Their name.
    pub name: String,
    /// Their address.
    pub email: String,
    /// `owner`, `admin`, `editor`, `writer` or `viewer`.
    pub role: String,
    /// When they joined (RFC 3339).
    pub joined_at: String,
    /// Who invited them, by name, if anyone.
    pub invited_by: Option<String>,
}

impl From<MemberListing> for MemberBody {
    fn from(m: MemberListing) -> Self {
        Self {
            user_id: m.user_id.to_string(),
            name: m.name,
            email: m.email,
            role: m.role.as_str().to_owned(),
            joined_at: m.joined_at.to_rfc3339(),
            invited_by: m.invited_by,
        }
    }
}

/// A page of members, by address.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MembersPage {
    /// The members.
    pub data: Vec<MemberBody>,
    /// Pass as `?cursor=` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// `PATCH …/members/{user}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RoleChange {
    /// The new role: `owner`, `admin`, `editor`, `writer` or `viewer`.
    pub role: String,
}

/// The members, by address (`members:manage`: Owner and Admin tokens).
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/members",
    params(("org" = String, Path, description = "The organization's id"), ListQuery),
    responses(
        (status = 200, body = MembersPage),
        (status = 400, body = crate::web::api::Problem, description = "A bad limit or cursor"),
        (status = 401, body = crate::web::api::Problem),
        (status = 403, body = crate::web::api::Problem, description = "The token's role may not manage members"),
    ),
    security(("bearer" = [])),
    tag = "Members"
)]
pub async fn members(
    req: ApiRequest,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, after) = (query.limit()?, query.cursor()?);
    let rows = req
        .call(move |svc, actor, org, _| {
            team::members_after(svc, actor, org, after.as_deref(), limit + 1)
        })
        .await?;
    let (data, next) = page(rows, limit, |m: &MemberListing| encode_cursor(&m.email));
    Ok(HttpResponse::Ok().json(MembersPage {
        data: data.into_iter().map(MemberBody::from).collect(),
        next_cursor: next,
    }))
}

/// Changes a member's role, with the rules of the Team page (the token's role is the ceiling;
/// the last Owner stays).
#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{org}/members/{user}",
    params(
        ("org" = String, Path, description = "The organization's id"),
        ("user" = String, Path, description = "The member's account id"),
    ),
    request_body = RoleChange,
    responses(
        (status = 200, body = MemberBody),
        (status = 400, body = crate::web::api::Problem, description = "An unknown role"),
        (status = 401, body = crate::web::api::Problem),
        (status = 403, body = crate::web::api::Problem, description = "A rule refuses it (ceiling, last Owner)"),
        (status = 404, body = crate::web::api::Problem, description = "Not a member"),
    ),
    security(("bearer" = [])),
    tag = "Members"
)]
pub async fn change_role(
    req: ApiRequest,
    path: web::Path<(String, String)>,
    body: web::Json<RoleChange>,
) -> Result<HttpResponse, ApiError> {
    let user = user_of(&path.1)?;
    let to = role_of(&body.role)?;
    let member = req
        .call(move |svc, actor, org, now| {
            let membership = members::membership_of(svc, actor, org, user)?;
            members::change_role(svc, actor, org, ChangeRole { membership, to }, now)?;
            members::find(svc, actor, org, membership)
        })
        .await?;
    Ok(HttpResponse::Ok().json(MemberBody::from(member)))
}

fn user_of(input: &str) -> Result<UserId, ApiError> {
    input
        .parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "No such member"))
}

/// Removes a member, with the rules of the Team page; their pending invitations, links and
/// API tokens are revoked.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/members/{user}",
    params(
        ("org" = String, Path, description = "The organization's id"),
        ("user" = String, Path, description = "The member's account id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, body = crate::web::api::Problem),
        (status = 403, body = crate::web::api::Problem, description = "A rule refuses it"),
        (status = 404, body = crate::web::api::Problem, description = "Not a member"),
    ),
    security(("bearer" = [])),
    tag = "Members"
)]
pub async fn remove_member(
    req: ApiRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let user = user_of(&path.1)?;
    req.call(move |svc, actor, org, now| {
        let membership = members::membership_of(svc, actor, org, user)?;
        members::remove(svc, actor, org, membership, now)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
