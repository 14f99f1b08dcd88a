//! The audit log `/orgs/{org}/audit` (DESIGN.md, "Audit log"): every recorded event of one
//! organization, newest first, filtered by action and by actor with a plain GET form (works
//! without JavaScript), 50 to a page.
//!
//! Owners and Admins (`members:manage`) and staff may read it; other members get 403 and
//! non-members 404. The rule and the reading are `service::audit`'s; this page parses the
//! query string, asks once and renders.

use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;
use chrono::{DateTime, Utc};

use super::render;
use super::team::TimeView;
use crate::domain::audit::AuditAction;
use crate::domain::{OrganizationId, Permission};
use crate::paths;
use crate::service::audit::{self as service, AuditEvent, AuditFilter, AuditLog, PAGE_SIZE};
use crate::web::extractors::OrgRequest;
use crate::web::{AppError, Layout};

/// The highest page number accepted (far beyond any real trail; keeps the offset small).
pub const MAX_PAGE: i64 = 1_000_000;

/// Parses `action`, `actor` and `page` from a query string. An empty value means "all" (or
/// page 1); other keys are ignored; a repeated key keeps its last value.
///
/// # Errors
/// A sentence for the 400 page naming the parameter that is wrong.
pub fn parse_query(query: &str) -> Result<AuditFilter, String> {
    let mut parsed = AuditFilter {
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

/// The query string for `page` with `filter`'s filters (empty filters left out).
fn query_string(filter: &AuditFilter, page: i64) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(action) = filter.action {
        query.append_pair("action", action.as_str());
    }
    if let Some(actor) = filter.actor {
        query.append_pair("actor", &actor.to_string());
    }
    query.append_pair("page", &page.to_string());
    query.finish()
}

/// One row of the table: the event and when it happened, as the page shows times.
pub struct EventRow {
    /// When.
    pub when: TimeView,
    /// The event.
    pub event: AuditEvent,
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

#[derive(Template, WebTemplate)]
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

impl AuditPage {
    /// The page of `log` that `filter` asked for, in `org`, with times relative to `now`.
    fn new(
        layout: Layout,
        org: OrganizationId,
        filter: AuditFilter,
        log: AuditLog,
        now: DateTime<Utc>,
    ) -> Self {
        let path = paths::audit(org);
        let page_count = log.page_count();
        let link = |p: i64| format!("{path}?{}", query_string(&filter, p));
        let chosen_actor = filter.actor.map(|a| a.to_string());
        let offset = filter.offset();
        Self {
            layout,
            team_path: paths::team(org),
            pages: page_links(filter.page, page_count, &link),
            previous: (filter.page > 1).then(|| link((filter.page - 1).min(page_count))),
            next: (filter.page < page_count).then(|| link(filter.page + 1)),
            events: log
                .events
                .into_iter()
                .map(|event| EventRow {
                    when: TimeView::new(event.at, now),
                    event,
                })
                .collect(),
            actions: AuditAction::ALL
                .into_iter()
                .map(|a| FilterOption {
                    value: a.as_str().into(),
                    label: a.label().into(),
                    selected: filter.action == Some(a),
                })
                .collect(),
            actors: log
                .actors
                .into_iter()
                .map(|(id, label)| FilterOption {
                    selected: chosen_actor.as_deref() == Some(id.as_str()),
                    value: id,
                    label,
                })
                .collect(),
            filtered: filter.action.is_some() || filter.actor.is_some(),
            total: log.total,
            first: (offset + 1).min(log.total),
            last: (offset + PAGE_SIZE).min(log.total),
            path,
        }
    }
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

/// The navigation links around `page` of `page_count`, each page's address from `link`.
fn page_links(page: i64, page_count: i64, link: &impl Fn(i64) -> String) -> Vec<PageLink> {
    page_numbers(page.min(page_count), page_count)
        .into_iter()
        .map(|p| match p {
            Some(p) => PageLink {
                label: p.to_string(),
                href: (p != page).then(|| link(p)),
                current: p == page,
            },
            None => PageLink {
                label: "…".into(),
                href: None,
                current: false,
            },
        })
        .collect()
}

/// GET /orgs/{org}/audit — the organization's audit log, newest first.
pub async fn audit_page(req: OrgRequest, http: HttpRequest) -> Result<HttpResponse, AppError> {
    req.require(Permission::MembersManage)?;
    let filter = parse_query(http.query_string()).map_err(|e| AppError::BadRequest(e.into()))?;
    let log = req
        .call(move |svc, actor, org, _| service::read(svc, actor, org, filter))
        .await?;
    let (org, now) = (req.org(), req.state.clock.now());
    render(&AuditPage::new(
        req.layout("Audit log")?,
        org,
        filter,
        log,
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_parse_or_say_what_is_wrong() {
        let q = parse_query("action=invitation.sent&page=3&other=x").unwrap();
        assert_eq!(q.action, Some(AuditAction::InvitationSent));
        assert_eq!(q.page, 3);
        assert_eq!(q.actor, None);
        let all = parse_query("action=&actor=&page=").unwrap();
        assert_eq!((all.action, all.actor, all.page), (None, None, 1));
        assert!(parse_query("action=invitation.eaten").is_err());
        assert!(parse_query("actor=not-an-id").is_err());
        for bad in ["page=0", "page=-1", "page=x", "page=99999999999999999999"] {
            assert!(parse_query(bad).is_err(), "{bad}");
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
