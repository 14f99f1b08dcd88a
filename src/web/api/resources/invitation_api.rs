//! `/api/v1/orgs/{org}/invitations…`: list, send (with or without Joinery's email), one with
//! its timeline, resend and revoke.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The most addresses one `POST …/invitations` may name (as the invite form).
pub const MAX_ADDRESSES: usize = 1_000;

/// An invitation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvitationBody {
    /// Its id.
    pub id: String,
    /// The invited address.
    pub email: String,
    /// The role it offers.
    pub role: String,
    /// `pending`, `accepted`, `revoked`, `declined` or `expired` (a pending one past its time
    /// is `expired`).
    pub state: String,
    /// The inviter's account id.
    pub invited_by: String,
    /// When it was sent (RFC 3339).
    pub created_at: String,
    /// When its link stops working (RFC 3339).
    pub expires_at: String,
    /// The inviter's message, if any.
    pub message: Option<String>,
}

impl InvitationBody {
    fn new(i: Invitation, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            id: i.id.to_string(),
            email: i.email.to_string(),
            role: i.role.as_str().to_owned(),
            state: i.facts.effective_status(now).as_str().to_owned(),
            invited_by: i.invited_by.to_string(),
            created_at: i.created_at.to_rfc3339(),
            expires_at: i.facts.expires_at.to_rfc3339(),
            message: i.message,
        }
    }
}

/// A page of invitations, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvitationsPage {
    /// The invitations.
    pub data: Vec<InvitationBody>,
    /// Pass as `?cursor=` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// `POST …/invitations`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct InviteRequest {
    /// The addresses to invite (at most 1,000).
    pub emails: Vec<String>,
    /// The role offered to each.
    pub role: String,
    /// An optional personal message (at most 1,000 characters).
    #[serde(default)]
    pub message: Option<String>,
    /// Whether Joinery emails each invitation (default `true`). With `false`, nothing is
    /// emailed and each sent or resent outcome carries its `link` for the product to deliver.
    #[serde(default)]
    pub send_email: Option<bool>,
}

/// What happened to one address of `POST …/invitations`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InviteOutcomeBody {
    /// The address, normalized (or as sent, when it is not one).
    pub email: String,
    /// `sent`, `resent`, `skipped` or `invalid`.
    pub outcome: &'static str,
    /// Why it was skipped or invalid.
    pub reason: Option<String>,
    /// With `"send_email": false`, the invitation's link for the product to deliver (sent or
    /// resent addresses only). Give it only to its address: it still proves the address when
    /// followed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// The answer of `POST …/invitations`: one outcome per address, in order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InviteResponse {
    /// The outcomes.
    pub outcomes: Vec<InviteOutcomeBody>,
}

/// One step of an invitation's timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimelineStepBody {
    /// `queued`, `resent`, `sent`, `failed`, `bounced`, `reminded`, `accepted`, `declined`,
    /// `revoked` or `expired`.
    pub step: &'static str,
    /// When (RFC 3339).
    pub at: String,
    /// More: a delivery error, or why it was revoked.
    pub detail: Option<String>,
}

/// An invitation with its delivery timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvitationWithTimeline {
    /// The invitation.
    #[serde(flatten)]
    pub invitation: InvitationBody,
    /// What happened to it, oldest first.
    pub timeline: Vec<TimelineStepBody>,
}

/// The answer of `POST …/invitations/{id}/resend`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResendResponse {
    /// The invited address.
    pub email: String,
    /// `same_link` (pending: its link again) or `new_invitation` (it had expired).
    pub how: &'static str,
}

/// The `?state=` of `GET …/invitations`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvitationQuery {
    /// Only invitations in this state: `pending`, `accepted`, `revoked`, `declined` or
    /// `expired`.
    pub state: Option<String>,
}

/// The invitations, newest first, optionally in one state (`members:manage`).
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/invitations",
    params(("org" = String, Path, description = "The organization's id"), InvitationQuery, ListQuery),
    responses(
        (status = 200, body = InvitationsPage),
        (status = 400, body = crate::web::api::Problem, description = "A bad state, limit or cursor"),
        (status = 401, body = crate::web::api::Problem),
        (status = 403, body = crate::web::api::Problem),
    ),
    security(("bearer" = [])),
    tag = "Invitations"
)]
pub async fn invitations(
    req: ApiRequest,
    state: web::Query<InvitationQuery>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let state = state
        .state
        .as_deref()
        .map(|s| {
            s.parse::<InvitationStatus>().map_err(|_| {
                ApiError::bad_request(
                    "state must be one of pending, accepted, revoked, declined, expired.",
                )
            })
        })
        .transpose()?;
    let (limit, after) = (query.limit()?, after_of(query.cursor()?)?);
    let now = req.state.clock.now();
    let rows = req
        .call(move |svc, actor, org, now| {
            team::invitations_after(svc, actor, org, state, after.as_ref(), limit + 1, now)
        })
        .await?;
    let (data, next) = page(rows, limit, |i: &Invitation| {
        cursor_at(crate::db::to_db(i.created_at), &i.id.to_string())
    });
    Ok(HttpResponse::Ok().json(InvitationsPage {
        data: data
            .into_iter()
            .map(|i| InvitationBody::new(i, now))
            .collect(),
        next_cursor: next,
    }))
}

/// Invites addresses with one role and message, as the invite dialog does: all or nothing
/// for the rules (ceiling, plan, seats, hourly limit), and one outcome per address. With
/// `"send_email": false` nothing is emailed and each sent or resent outcome has its `link`.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/invitations",
    params(("org" = String, Path, description = "The organization's id")),
    request_body = InviteRequest,
    responses(
        (status = 201, body = InviteResponse),
        (status = 400, body = crate::web::api::Problem, description = "An unknown role"),
        (status = 401, body = crate::web::api::Problem),
        (status = 403, body = crate::web::api::Problem, description = "Ceiling, plan, seats or domain restriction"),
        (status = 422, body = crate::web::api::Problem, description = "No valid address, too many, or a bad message"),
        (status = 429, body = crate::web::api::Problem, description = "The hourly limit; see Retry-After"),
    ),
    security(("bearer" = [])),
    tag = "Invitations"
)]
pub async fn invite(
    req: ApiRequest,
    body: web::Json<InviteRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let role = role_of(&body.role)?;
    let send_email = body.send_email.unwrap_or(true);
    let (listed, entries) = entries_of(&body)?;
    let entries: Vec<InviteEntry> = entries
        .into_iter()
        .map(|(email, message)| InviteEntry {
            email,
            role,
            message,
            department: None,
        })
        .collect();
    let outcomes: Vec<(AddressOutcome, Option<String>)> = if send_email {
        req.call(move |svc, actor, org, now| invitations::invite(svc, actor, org, &entries, now))
            .await?
            .into_iter()
            .map(|o| (o, None))
            .collect()
    } else {
        let base = req.state.base_url.clone();
        req.call(move |svc, actor, org, now| {
            invitations::invite_without_email(svc, actor, org, &entries, now)
        })
        .await?
        .into_iter()
        .map(|(o, token)| {
            let link = token.map(|t| format!("{base}{}", crate::paths::invitation(t.expose())));
            (o, link)
        })
        .collect()
    };
    let bodies = outcome_bodies(listed, outcomes);
    Ok(HttpResponse::Created().json(InviteResponse { outcomes: bodies }))
}

/// The addresses of `body`, in order as listed (each item one address: separators inside one
/// are not split), and the valid ones with the message to send.
///
/// # Errors
/// 422 for more than 1,000 addresses, a bad message, or no valid address.
#[allow(clippy::type_complexity)]
fn entries_of(
    body: &InviteRequest,
) -> Result<
    (
        Vec<ListedAddress>,
        Vec<(crate::domain::EmailAddress, Option<PersonalMessage>)>,
    ),
    ApiError,
> {
    let invalid = |detail: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail);
    if body.emails.len() > MAX_ADDRESSES {
        return Err(invalid(format!(
            "{} addresses; send at most {MAX_ADDRESSES} at a time.",
            body.emails.len()
        )));
    }
    let message = PersonalMessage::parse(body.message.as_deref().unwrap_or(""))
        .map_err(|e| invalid(format!("message: {e}.")))?;
    let one_per_line: Vec<String> = body
        .emails
        .iter()
        .map(|e| e.replace(['\n', '\r', ',', ';'], " "))
        .collect();
    let listed = parse_address_list(&one_per_line.join("\n"));
    let valid: Vec<_> = listed
        .iter()
        .filter_map(|l| match l {
            ListedAddress::Valid(email) => Some((email.clone(), message.clone())),
            _ => None,
        })
        .collect();
    if valid.is_empty() {
        return Err(invalid(
            "No valid address: name at least one in emails.".into(),
        ));
    }
    Ok((listed, valid))
}

/// One body per address of `listed`, in order: the service's outcome (and link) for each
/// valid one, "invalid" or "listed twice" for the rest.
fn outcome_bodies(
    listed: Vec<ListedAddress>,
    outcomes: Vec<(AddressOutcome, Option<String>)>,
) -> Vec<InviteOutcomeBody> {
    let mut outcomes = outcomes.into_iter();
    listed
        .into_iter()
        .map(|l| match l {
            ListedAddress::Valid(email) => {
                let (outcome, reason, link) = match outcomes.next() {
                    Some((AddressOutcome::Sent, link)) => ("sent", None, link),
                    Some((AddressOutcome::Resent, link)) => ("resent", None, link),
                    Some((AddressOutcome::Skipped(why), _)) => {
                        ("skipped", Some(why.to_string()), None)
                    }
                    None => ("skipped", Some("not processed".to_owned()), None),
                };
                InviteOutcomeBody {
                    email: email.to_string(),
                    outcome,
                    reason,
                    link,
                }
            }
            ListedAddress::Invalid { input, error } => InviteOutcomeBody {
                email: input,
                outcome: "invalid",
                reason: Some(error.to_string()),
                link: None,
            },
            ListedAddress::Duplicate { input } => InviteOutcomeBody {
                email: input,
                outcome: "skipped",
                reason: Some("listed twice".to_owned()),
                link: None,
            },
        })
        .collect()
}

fn invitation_of(input: &str) -> Result<InvitationId, ApiError> {
    input
        .parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "No such invitation"))
}

/// Resends an invitation, as the Team page's Resend: its link again while pending (at most
/// once a minute), a new invitation once expired.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/invitations/{id}/resend",
    params(
        ("org" = String, Path, description = "The organization's id"),
        ("id" = String, Path, description = "The invitation's id"),
    ),
    responses(
        (status = 200, body = ResendResponse),
        (status = 401, body = crate::web::api::Problem),
        (status = 403, body = crate::web::api::Problem, description = "Above the token's role"),
        (status = 404, body = crate::web::api::Problem),
        (status = 409, body = crate::web::api::Problem, description = "Accepted, revoked or declined"),
        (status = 429, body = crate::web::api::Problem, description = "Resent less than a minute ago"),
    ),
    security(("bearer" = [])),
    tag = "Invitations"
)]
pub async fn resend(
    req: ApiRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = invitation_of(&path.1)?;
    let resent = req
        .call(move |svc, actor, org, now| invitations::resend(svc, actor, org, id, now))
        .await?;
    Ok(HttpResponse::Ok().json(ResendResponse {
        email: resent.email.to_string(),
        how: match resent.how {
            ResendPlan::SameLink => "same_link",
            ResendPlan::NewInvitation => "new_invitation",
        },
    }))
}

/// One invitation with its delivery timeline: queued → sent / failed / bounced → reminded →
/// accepted / declined / revoked / expired (`members:manage`).
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/invitations/{id}",
    params(
        ("org" = String, Path, description = "The organization's id"),
        ("id" = String, Path, description = "The invitation's id"),
    ),
    responses(
        (status = 200, body = InvitationWithTimeline),
        (status = 401, body = crate::web::api::Problem),
        (status = 403, body = crate::web::api::Problem),
        (status = 404, body = crate::web::api::Problem),
    ),
    security(("bearer" = [])),
    tag = "Invitations"
)]
pub async fn invitation(
    req: ApiRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = invitation_of(&path.1)?;
    let now = req.state.clock.now();
    let history = req
        .call(move |svc, actor, org, now| team::invitation_history(svc, actor, org, id, now))
        .await?;
    let timeline = history
        .timeline
        .iter()
        .map(|e| TimelineStepBody {
            step: e.step.as_str(),
            at: e.at.to_rfc3339(),
            detail: e.detail.clone(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(InvitationWithTimeline {
        invitation: InvitationBody::new(history.details.invitation, now),
        timeline,
    }))
}

/// Revokes a pending invitation: its link stops working at once.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/invitations/{id}",
    params(
        ("org" = String, Path, description = "The organization's id"),
        ("id" = String, Path, description = "The invitation's id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = crate::web::api::Problem),
        (status = 403, body = crate::web::api::Problem, description = "Above the token's role"),
        (status = 404, body = crate::web::api::Problem),
        (status = 409, body = crate::web::api::Problem, description = "Not pending any more"),
    ),
    security(("bearer" = [])),
    tag = "Invitations"
)]
pub async fn revoke(
    req: ApiRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = invitation_of(&path.1)?;
    req.call(move |svc, actor, org, now| invitations::revoke(svc, actor, org, id, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
