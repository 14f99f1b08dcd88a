//! The audit log `/orgs/{org}/audit` (DESIGN.md, "Audit log"; issue 4, item 10): every
//! recorded event of one organization, newest first, filtered by action and by actor with a
//! plain GET form (works without JavaScript), 50 to a page.
//!
//! Owners and Admins (`members:manage`) and staff may read it; other members get 403 and
//! non-members 404. The page only reads: the trail is append-only.

use crate::web::session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::render;
use super::team::TimeView;
use crate::db::audit::AuditRow;
use crate::db::{self};
use crate::domain::audit::AuditAction;
use crate::domain::{OrganizationId, Permission, UserId};
use crate::paths;
use crate::web::extractors::OrgMember;
use crate::web::{AppError, AppState, Layout};

/// Events per page.
pub const PAGE_SIZE: i64 = 50;
/// The highest page number accepted (far beyond any real trail; keeps the offset small).
pub const MAX_PAGE: i64 = 1_000_000;

/// The filters and page asked for in the query string, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this action, if chosen.
    pub action: Option<AuditAction>,
    /// Only this actor, if chosen.
    pub actor: Option<UserId>,
    /// 1-based page number.
    pub page: i64,
}

impl AuditQuery {
    /// Parses `action`, `actor` and `page` from a query string. An empty value means "all"
    /// (or page 1); other keys are ignored; a repeated key keeps its last value.
    ///
    /// # Errors
    /// A sentence for the 400 page naming the parameter that is wrong.
    pub fn parse(query: &str) -> Result<Self, String> {
        let mut parsed = AuditQuery {
            action: None,
            actor: None,
            page: 1,
        };
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim();
            match key.as_ref() {
                "action" => {
                    parsed.action = if value.is_empty() {
                        None
                    } else {
                        Some(value.parse().map_err(|_| {
                            "The action filter is not one of the actions listed on the audit page."
                                .to_owned()
                        })?)
                    }
                }
                "actor" => {
                    parsed.actor = if value.is_empty() {
                        None
                    } else {
                        Some(value.parse().map_err(|_| {
                            "The actor filter is not one of the people listed on the audit page."
                                .to_owned()
                        })?)
                    }
                }
                "page" => {
                    parsed.page = if value.is_empty() {
                        1
                    } else {
                        value
                            .parse::<i64>()
                            .ok()
                            .filter(|p| (1..=MAX_PAGE).contains(p))
                            .ok_or_else(|| {
                                "The page number must be a whole number, 1 or more.".to_owned()
                            })?
                    }
                }
                _ => {}
            }
        }
        Ok(parsed)
    }

    /// The query string for `page` with these filters (empty filters left out).
    fn with_page(&self, page: i64) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(action) = self.action {
            query.append_pair("action", action.as_str());
        }
        if let Some(actor) = self.actor {
            query.append_pair("actor", &actor.to_string());
        }
        query.append_pair("page", &page.to_string());
        query.finish()
    }
}

/// One row of the table.
pub struct EventRow {
    /// When.
    pub when: TimeView,
    /// The action's label ("Invitation sent"), or its stored name if unknown to this version.
    pub action: String,
    /// Who, as recorded ("Name <email>", or "system").
    pub actor: String,
    /// Whether they acted as platform staff.
    pub actor_is_staff: bool,
    /// Whom or what it was about.
    pub target: String,
    /// More about it.
    pub details: String,
    /// The client IP recorded.
    pub ip: String,
    /// The user agent recorded.
    pub user_agent: String,
}

impl EventRow {
    fn new(row: AuditRow, now: chrono::DateTime<chrono::Utc>) -> Self {
        let action = row
            .action
            .parse::<AuditAction>()
            .map(|a| a.label().to_owned())
            .unwrap_or_else(|_| row.action.clone());
        Self {
            when: TimeView::new(row.at(), now),
            action,
            actor: row.actor_label,
            actor_is_staff: row.actor_is_staff,
            target: row.target.unwrap_or_default(),
            details: row.details.unwrap_or_default(),
            ip: row.ip.unwrap_or_default(),
            user_agent: row.user_agent.unwrap_or_default(),
        }
    }
}

/// An `<option>` of a filter.
pub struct FilterOption {
    /// Its value.
    pub value: String,
    /// What it shows.
    pub label: String,
    /// Whether it is the current choice.
    pub selected: bool,
}

/// A link in the page navigation: `None` href for the current page or a gap.
pub struct PageLink {
    /// What it shows ("3", "…").
    pub label: String,
    /// Where it goes, if it is a link.
    pub href: Option<String>,
    /// Whether it is the page shown.
    pub current: bool,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    path: String,
    team_path: String,
    events: Vec<EventRow>,
    actions: Vec<FilterOption>,
    actors: Vec<FilterOption>,
    filtered: bool,
    total: i64,
    first: i64,
    last: i64,
    pages: Vec<PageLink>,
    previous: Option<String>,
    next: Option<String>,
}

/// The page numbers to link: the first, the last, and two either side of `page`, with `None`
/// for each gap.
fn page_numbers(page: i64, page_count: i64) -> Vec<Option<i64>> {
    let mut shown: Vec<Option<i64>> = Vec::new();
    let mut previous = 0;
    for p in 1..=page_count {
        let near = (p - page).abs() <= 2;
        if p == 1 || p == page_count || near {
            if p > previous + 1 {
                shown.push(None);
            }
            shown.push(Some(p));
            previous = p;
        }
    }
    shown
}

/// GET /orgs/{org}/audit — the organization's audit log, newest first.
pub async fn audit_page(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::MembersManage)?;
    let query =
        AuditQuery::parse(req.query_string()).map_err(|e| AppError::BadRequest(e.into()))?;
    let org: OrganizationId = member.org.id;
    let offset = (query.page - 1) * PAGE_SIZE;
    let actor_filter = query.actor.map(|a| a.to_string());
    let ((rows, total), actors) = state
        .db
        .run(move |c| {
            Ok((
                db::audit::list(
                    c,
                    org,
                    query.action,
                    actor_filter.as_deref(),
                    PAGE_SIZE,
                    offset,
                )?,
                db::audit::actors(c, org)?,
            ))
        })
        .await?;
    let now = state.clock.now();
    let path = paths::audit(org);
    let page_count = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let link = |p: i64| format!("{path}?{}", query.with_page(p));
    let pages = page_numbers(query.page.min(page_count), page_count)
        .into_iter()
        .map(|p| match p {
            Some(p) => PageLink {
                label: p.to_string(),
                href: (p != query.page).then(|| link(p)),
                current: p == query.page,
            },
            None => PageLink {
                label: "…".into(),
                href: None,
                current: false,
            },
        })
        .collect();
    let chosen_actor = query.actor.map(|a| a.to_string());
    render(&AuditPage {
        layout: Layout::new(&state, &session, "Audit log", Some(&member.user))?.in_org(&member),
        team_path: paths::team(org),
        events: rows.into_iter().map(|r| EventRow::new(r, now)).collect(),
        actions: AuditAction::ALL
            .into_iter()
            .map(|a| FilterOption {
                value: a.as_str().into(),
                label: a.label().into(),
                selected: query.action == Some(a),
            })
            .collect(),
        actors: actors
            .into_iter()
            .map(|(id, label)| FilterOption {
                selected: chosen_actor.as_deref() == Some(id.as_str()),
                value: id,
                label,
            })
            .collect(),
        filtered: query.action.is_some() || query.actor.is_some(),
        total,
        first: (offset + 1).min(total),
        last: (offset + PAGE_SIZE).min(total),
        pages,
        previous: (query.page > 1).then(|| link((query.page - 1).min(page_count))),
        next: (query.page < page_count).then(|| link(query.page + 1)),
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_parse_or_say_what_is_wrong() {
        let q = AuditQuery::parse("action=invitation.sent&page=3&other=x").unwrap();
        assert_eq!(q.action, Some(AuditAction::InvitationSent));
        assert_eq!(q.page, 3);
        assert_eq!(q.actor, None);
        let all = AuditQuery::parse("action=&actor=&page=").unwrap();
        assert_eq!((all.action, all.actor, all.page), (None, None, 1));
        assert!(AuditQuery::parse("action=invitation.eaten").is_err());
        assert!(AuditQuery::parse("actor=not-an-id").is_err());
        for bad in ["page=0", "page=-1", "page=x", "page=99999999999999999999"] {
            assert!(AuditQuery::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn page_links_show_the_ends_and_the_neighbourhood() {
        assert_eq!(page_numbers(1, 1), vec![Some(1)]);
        assert_eq!(
            page_numbers(5, 10),
            vec![
                Some(1),
                None,
                Some(3),
                Some(4),
                Some(5),
                Some(6),
                Some(7),
                None,
                Some(10)
            ]
        );
        assert_eq!(page_numbers(2, 3), vec![Some(1), Some(2), Some(3)]);
    }
}
