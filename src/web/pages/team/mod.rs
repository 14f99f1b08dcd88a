//! Team Management (DESIGN.md, "Pages"): members, pending invitations, invitation history and
//! invite links, each sorted, filtered and paged (`service::team`), with the controls the
//! viewer may use on each row; the invite form (`invite`) and resending and revoking an
//! invitation (`act`). For the page's weight, a row's links and button actions are relative to
//! the page (`paths::relative_to_team`) and a table's buttons share one form, its CSRF token
//! sent once (`templates/team.html`).

mod act;
mod invite;
mod rows;

use std::collections::HashSet;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use act::{
    act_on_refused, fix_address, invitation_history, resend, resend_refused, revoke, revoke_confirm,
};
pub use invite::{
    InviteForm, InviteSubmission, MAX_ADDRESS_FIELD_CHARS, MAX_ADDRESSES_PER_SUBMISSION,
    OfferedRole, invite_page, invite_result, send_invitations,
};

use crate::domain::invitation::{Inviter, check_acting_on};
use crate::domain::{InvitationStatus, MemberListing, OrganizationId, Permission, Plan, Role};
use crate::paths;
use crate::service::team::{
    self as service, HistorySort, InvitationListing, LinkSort, MemberSort, Page, PendingSort,
    TableView, Team, TeamView,
};
use crate::service::{Actor, ServiceError, Services};
use crate::web::extractors::{OrgMember, OrgRequest, on};
use crate::web::listing::{Pager, SortColumn, SortHeader, Table, TableLinks, TeamQuery};
use crate::web::page_cache::{CachedPage, PageKey};
use crate::web::{AppError, Layout};
use rows::{JoinRequestRow, history_row, join_request_rows, pending_row};

/// Adds the link back to the Team page to an error page (or a refusal's page).
pub(super) fn back_to_team<E: Into<AppError>>(org: OrganizationId) -> impl FnOnce(E) -> AppError {
    move |e| {
        e.into()
            .back_to(paths::team(org), "Back to Team Management")
    }
}

/// Runs `op` on the item of the Team page that `path` names (`/orgs/{org}/…/{id}`), for
/// `req`'s member, who needs `permission`; a refusal's page links back to the Team page.
///
/// # Errors
/// [`AppError::Forbidden`] without `permission`; `op`'s refusal as its page.
pub(super) async fn on_team<I: Send + 'static, T: Send + 'static, R: Send + 'static>(
    req: &OrgRequest,
    permission: Permission,
    path: web::Path<(OrganizationId, I)>,
    op: impl FnOnce(&Services, &Actor, OrganizationId, I, DateTime<Utc>) -> Result<T, ServiceError<R>>
    + Send
    + 'static,
) -> Result<T, AppError>
where
    AppError: From<ServiceError<R>>,
{
    req.require(permission)?;
    let (org, id) = path.into_inner();
    req.call(on(id, op)).await.map_err(back_to_team(org))
}

/// What a Team page address asks for (its query string); a malformed one is a 400.
pub(super) fn team_query(req: &HttpRequest) -> Result<TeamQuery, AppError> {
    TeamQuery::parse(req.query_string()).map_err(|e| AppError::BadRequest(e.into()))
}

/// A point in time as pages show it: machine-readable and in words.
#[derive(Debug, Clone)]
pub struct TimeView {
    /// RFC 3339, for `<time datetime>`.
    pub iso: String,
    /// e.g. `2026-11-21 14:05 UTC`.
    pub text: String,
    /// e.g. `in 6 days`, `3 hours ago`.
    pub relative: String,
}

impl TimeView {
    /// Describes `at` as seen from `now`.
    pub fn new(at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        Self {
            iso: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            text: at.format("%Y-%m-%d %H:%M UTC").to_string(),
            relative: relative(at, now),
        }
    }
}

/// `at` relative to `now` in words, rounded to the nearest minute, hour or day: "just now",
/// "in 7 days" (for 6 days 23 hours 59 minutes), "3 hours ago".
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (at - now).num_seconds();
    let abs = secs.unsigned_abs();
    if abs < 60 {
        return if secs > 0 {
            "in under a minute".into()
        } else {
            "just now".into()
        };
    }
    let (unit_secs, unit) = match abs {
        s if s < 3_570 => (60, "minute"),
        s if s < 84_600 => (3_600, "hour"),
        _ => (86_400, "day"),
    };
    let n = (abs + unit_secs / 2) / unit_secs;
    let plural = if n == 1 { "" } else { "s" };
    if secs > 0 {
        format!("in {n} {unit}{plural}")
    } else {
        format!("{n} {unit}{plural} ago")
    }
}

/// A row of "Members", with the controls the viewer may use on it.
pub struct MemberRow {
    /// The member.
    pub member: MemberListing,
    /// When they joined.
    pub joined: TimeView,
    /// Whether this row is the viewer.
    pub is_self: bool,
    /// Roles the viewer may give this member (empty: no role selector).
    pub roles: Vec<Role>,
    /// The "Change role" button's `formaction` (relative to the Team page, as every link and
    /// action of a row: `paths::relative_to_team`); its form sends `role-{membership id}`.
    pub role_path: String,
    /// GET here to confirm removal, when the viewer may remove them.
    pub remove_path: Option<String>,
    /// Why there are no controls, when there are none.
    pub locked_reason: Option<&'static str>,
}

impl MemberRow {
    fn new(m: MemberListing, viewer: &OrgMember, owners: usize, now: DateTime<Utc>) -> Self {
        use crate::domain::membership::{Manager, check_removal, check_role_change};
        let org = viewer.org.id;
        let is_self = m.user_id == viewer.user.id;
        let manager = Manager {
            role: viewer.role,
            is_target: is_self,
        };
        // Offer only changes the rules allow (the server checks again on submit).
        let roles: Vec<Role> = Role::ALL_ASCENDING
            .into_iter()
            .filter(|to| *to == m.role || check_role_change(manager, m.role, *to, owners).is_ok())
            .collect();
        let roles = if roles.len() > 1 { roles } else { Vec::new() };
        let removable = check_removal(manager, m.role, owners).is_ok();
        let locked_reason = match (is_self, roles.is_empty() && !removable) {
            (true, _) => Some("You"),
            (false, true) if viewer.role == Role::Admin && m.role == Role::Owner => {
                Some("Only Owners manage Owners")
            }
            (false, true) => Some("Last Owner"),
            _ => None,
        };
        Self {
            role_path: paths::relative_to_team(org, paths::member_role(org, m.membership_id)),
            remove_path: removable
                .then(|| paths::relative_to_team(org, paths::remove_member(org, m.membership_id))),
            joined: TimeView::new(m.joined_at, now),
            member: m,
            is_self,
            roles,
            locked_reason,
        }
    }
}

/// A row of "Pending invitations".
pub struct PendingRow {
    /// Invited address.
    pub email: String,
    /// Offered role.
    pub role: Role,
    /// Inviter's name.
    pub invited_by: String,
    /// When it was sent.
    pub sent: TimeView,
    /// When it expires.
    pub expires: TimeView,
    /// `queued`, `sent`, `retrying`, `failed`, `bounced`, `not sent`.
    pub delivery: String,
    /// The last delivery error, if any.
    pub delivery_error: Option<String>,
    /// POST here to resend; `None` when the viewer may not act on it (its role is above
    /// theirs).
    pub resend_path: Option<String>,
    /// When Resend can be used again, if not now, and the seconds until then.
    pub resend_available: Option<(TimeView, i64)>,
    /// GET here to confirm revoking; `None` as for `resend_path`.
    pub revoke_path: Option<String>,
    /// POST here to "Fix address" of a bounced invitation; `None` unless it bounced and the
    /// viewer may act on it.
    pub fix_path: Option<String>,
    /// Its page with the delivery timeline.
    pub history_path: String,
}

/// A row of "Invitation history".
pub struct HistoryRow {
    /// Invited address.
    pub email: String,
    /// Offered role.
    pub role: Role,
    /// Inviter's name.
    pub invited_by: String,
    /// Accepted, Expired, Revoked or Declined.
    pub status: String,
    /// Why, when recorded (e.g. "replaced").
    pub reason: Option<String>,
    /// When it reached that state.
    pub when: TimeView,
    /// For expired invitations: POST here to send a new one.
    pub resend_path: Option<String>,
    /// For expired invitations that can be sent anew: when the invitee asked for a new one.
    pub renewal_requested: Option<TimeView>,
    /// Its page with the delivery timeline.
    pub history_path: String,
}

/// One table of the Team page: its rows, exact count, sortable headers and page navigation.
pub struct TableSection<R> {
    /// This page's rows.
    pub rows: Vec<R>,
    /// How many rows match, on every page together.
    pub total: i64,
    /// The column headers, in order.
    pub headers: Vec<SortHeader>,
    /// The page navigation.
    pub pager: Pager,
}

/// A row of "Invite links".
pub struct LinkRow {
    /// The role it grants.
    pub role: Role,
    /// "Admins approve who joins": it sends join requests.
    pub approval: bool,
    /// Its creator's name.
    pub created_by: String,
    /// When it was created.
    pub created: TimeView,
    /// When it stops working.
    pub expires: TimeView,
    /// GET here to confirm revoking it; `None` when its role is above the viewer's.
    pub revoke_path: Option<String>,
}

/// The outcome of one entry of the last invite submission, kept in the session for the Team
/// page the submission redirects to (Post/Redirect/Get).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutcomeRow {
    /// The address (normalized) or the entry as typed (invalid or repeated entries).
    pub email: String,
    /// `sent`, `resent`, `skipped` or `invalid` (its badge).
    pub kind: String,
    /// What happened and why: "Skipped: already a member".
    pub label: String,
}

/// The last invite submission's result: a summary and one row per entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InviteResult {
    /// "3 invitations sent, 1 resent, 2 skipped, 1 invalid."
    pub summary: String,
    /// Every entry, in the order typed.
    pub rows: Vec<OutcomeRow>,
}

/// Where the last invite submission's result waits in the session.
const RESULT_KEY: &str = "invite_result";

#[derive(Template, WebTemplate)]
#[template(path = "team.html")]
struct TeamPage {
    layout: Layout,
    members: TableSection<MemberRow>,
    pending: TableSection<PendingRow>,
    history: TableSection<HistoryRow>,
    links: TableSection<LinkRow>,
    new_link_path: String,
    import_path: String,
    filter: String,
    sort_inputs: Vec<(String, String)>,
    team_path: String,
    export_path: String,
    result: Option<InviteResult>,
    can_invite: bool,
    trial_message: Option<&'static str>,
    invite_page: String,
    audit_path: String,
    form: InviteForm,
    seats: String,
    seats_over: Option<String>,
    /// *Join requests* (issue 14 §3).
    join_requests: Vec<JoinRequestRow>,
    /// How many are open in all (more than the rows when the list is cut).
    join_request_total: i64,
    /// The roles the viewer may grant on approval, lowest first.
    approve_roles: Vec<Role>,
}

impl TeamPage {
    /// Whether a row of *Members* has a button, and so the table is a form (the conditions of
    /// the rows' buttons in `templates/team.html`; a form without a button fails WCAG H32).
    fn members_form(&self) -> bool {
        self.members.rows.iter().any(|row| !row.roles.is_empty())
    }

    /// As [`Self::members_form`], for *Pending invitations*: Resend or Fix address.
    fn pending_form(&self) -> bool {
        self.can_invite
            && self.pending.rows.iter().any(|p| {
                (self.trial_message.is_none() && p.resend_path.is_some()) || p.fix_path.is_some()
            })
    }

    /// As [`Self::members_form`], for *Invitation history*: Send a new invitation.
    fn history_form(&self) -> bool {
        self.can_invite
            && self.trial_message.is_none()
            && self.history.rows.iter().any(|h| h.resend_path.is_some())
    }
}

/// What pages say instead of offering invite controls on a Trial plan (DESIGN.md, rule 3).
pub fn trial_message(plan: Plan) -> Option<&'static str> {
    (!plan.allows_invitations()).then_some(Plan::TRIAL_MESSAGE)
}

/// One table of the Team page: a header link for each of `columns` (in order), the page
/// navigation, and the rows of `page` made by `row`. `set` puts a changed view of this table
/// into a copy of the query, for the links.
fn table_section<S: SortColumn, T, R>(
    links: &TableLinks<'_>,
    columns: &[(S, &'static str)],
    view: TableView<S>,
    set: fn(&mut TeamQuery, TableView<S>),
    page: Page<T>,
    row: impl FnMut(T) -> R,
) -> TableSection<R> {
    TableSection {
        headers: columns
            .iter()
            .map(|(column, label)| links.header(*column, label, view, set))
            .collect(),
        pager: links.pager(page.total, view, set),
        total: page.total,
        rows: page.rows.into_iter().map(row).collect(),
    }
}

/// The columns of *Members*, in order.
const MEMBER_COLUMNS: [(MemberSort, &str); 5] = [
    (MemberSort::Name, "Name"),
    (MemberSort::Email, "Email"),
    (MemberSort::Role, "Role"),
    (MemberSort::Joined, "Joined"),
    (MemberSort::InvitedBy, "Invited by"),
];
/// The columns of *Pending invitations*, in order.
const PENDING_COLUMNS: [(PendingSort, &str); 6] = [
    (PendingSort::Email, "Email"),
    (PendingSort::Role, "Role"),
    (PendingSort::InvitedBy, "Invited by"),
    (PendingSort::Sent, "Sent"),
    (PendingSort::Expires, "Expires"),
    (PendingSort::Delivery, "Delivery"),
];
/// The columns of *Invitation history*, in order.
const HISTORY_COLUMNS: [(HistorySort, &str); 5] = [
    (HistorySort::Email, "Email"),
    (HistorySort::Role, "Role"),
    (HistorySort::InvitedBy, "Invited by"),
    (HistorySort::Status, "Status"),
    (HistorySort::When, "When"),
];
/// The columns of *Invite links*, in order.
const LINK_COLUMNS: [(LinkSort, &str); 4] = [
    (LinkSort::Role, "Role"),
    (LinkSort::CreatedBy, "Created by"),
    (LinkSort::Created, "Created"),
    (LinkSort::Expires, "Expires"),
];

/// The four tables of the Team page as `viewer` sees them.
struct Sections {
    members: TableSection<MemberRow>,
    pending: TableSection<PendingRow>,
    history: TableSection<HistoryRow>,
    links: TableSection<LinkRow>,
}

impl Sections {
    /// `team` laid out for `viewer` at `now`, with links that keep the rest of `query`.
    fn new(viewer: &OrgMember, query: &TeamQuery, team: Team, now: DateTime<Utc>) -> Self {
        let org = viewer.org.id;
        let team_path = paths::team(org);
        let inviter = viewer.inviter();
        let owners = usize::try_from(team.owners).unwrap_or(usize::MAX);
        let table = |table| TableLinks {
            base: &team_path,
            query,
            table,
        };
        let live = &team.live;
        Sections {
            members: table_section(
                &table(Table::Members),
                &MEMBER_COLUMNS,
                query.members,
                |q, v| q.members = v,
                team.members,
                |row| MemberRow::new(row, viewer, owners, now),
            ),
            pending: table_section(
                &table(Table::Pending),
                &PENDING_COLUMNS,
                query.pending,
                |q, v| q.pending = v,
                team.pending,
                |row| pending_row(row, org, inviter, now),
            ),
            history: table_section(
                &table(Table::History),
                &HISTORY_COLUMNS,
                query.history,
                |q, v| q.history = v,
                team.history,
                |row| history_row(row, org, inviter, live, now),
            ),
            links: table_section(
                &table(Table::Links),
                &LINK_COLUMNS,
                query.links,
                |q, v| q.links = v,
                team.links,
                |link| LinkRow {
                    role: link.role,
                    approval: link.approval_required,
                    created_by: link.created_by_name,
                    created: TimeView::new(link.created_at, now),
                    expires: TimeView::new(link.expires_at, now),
                    revoke_path: check_acting_on(inviter, link.role).is_ok().then(|| {
                        paths::relative_to_team(org, paths::revoke_invite_link(org, link.id))
                    }),
                },
            ),
        }
    }
}

/// The export's address, keeping the page's filter.
fn export_path(org: OrganizationId, filter: &str) -> String {
    if filter.is_empty() {
        return paths::export_members(org);
    }
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("q", filter)
        .finish();
    format!("{}?{q}", paths::export_members(org))
}

/// GET /orgs/{org}/team — Owners and Admins (`members:manage`); others get 403. Every table
/// sorts by its columns, pages by 50 and follows the filter `q` (see `web::listing`); a
/// malformed query string gets a 400 page naming the parameter.
pub async fn team_page(req: OrgRequest, http: HttpRequest) -> Result<HttpResponse, AppError> {
    req.require(Permission::MembersManage)?;
    let query = team_query(&http)?;
    let (org, now) = (req.org(), req.state.clock.now());
    let member = &req.member;
    // Removing writes the session row, so `remove` does it only when there is a result.
    let result = req.session.get::<InviteResult>(RESULT_KEY);
    req.session.remove(RESULT_KEY);
    let layout = req.layout("Team")?;
    // A page without a one-shot message is reused while nothing it shows has changed
    // (`web::page_cache`): the organization's version, the viewer's role (read on this
    // request), the query, the layout and the second all name it.
    let key = (result.is_none() && layout.flash.is_none()).then(|| PageKey {
        page: "team",
        org,
        version: member.org.version,
        viewer: member.user.id,
        role: member.role,
        as_staff: member.as_staff,
        query: http.query_string().to_owned(),
        layout: layout.clone(),
        second: PageKey::second_of(now),
    });
    if let Some(page) = key.as_ref().and_then(|key| req.state.pages.get(key)) {
        return Ok(page.respond(&http));
    }
    let view = TeamView {
        filter: query.filter.clone(),
        members: query.members,
        pending: query.pending,
        history: query.history,
        links: query.links,
    };
    let team = req
        .call(move |svc, actor, org, _| service::team(svc, actor, org, &view, now))
        .await?;
    let page = CachedPage::new(team_html(member, &query, team, layout, result, now)?);
    if let Some(key) = key {
        req.state.pages.insert(key, page.clone());
    }
    Ok(page.respond(&http))
}

/// The Team page of `team` as `member` sees it at `now`, with `query`'s view of each table.
///
/// # Errors
/// [`AppError::Internal`] if the template fails.
fn team_html(
    member: &OrgMember,
    query: &TeamQuery,
    mut team: Team,
    layout: Layout,
    result: Option<InviteResult>,
    now: DateTime<Utc>,
) -> Result<String, AppError> {
    let org = member.org.id;
    let form = InviteForm::empty(member, layout.csrf.clone()).with_seats(&team.seats);
    let (seats, seats_over) = (team.seats.summary(), team.seats.over_notice());
    let (open_requests, join_request_total) = std::mem::take(&mut team.join_requests);
    let join_requests = join_request_rows(open_requests, org, now);
    let Sections {
        members,
        pending,
        history,
        links,
    } = Sections::new(member, query, team, now);
    Ok(TeamPage {
        layout,
        members,
        pending,
        history,
        links,
        new_link_path: paths::new_invite_link(org),
        import_path: paths::import_invitations(org),
        sort_inputs: query.sort_inputs(),
        filter: query.filter.clone(),
        team_path: paths::team(org),
        export_path: export_path(org, &query.filter),
        result,
        can_invite: member.role.has(Permission::UsersInvite),
        trial_message: trial_message(member.org.plan),
        invite_page: paths::invite(org),
        audit_path: paths::audit(org),
        form,
        seats,
        seats_over,
        join_requests,
        join_request_total,
        approve_roles: member.role.assignable_roles(),
    }
    .render()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[test]
    fn relative_times_round_to_the_nearest_unit() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(relative(now, now), "just now");
        assert_eq!(
            relative(now + Duration::seconds(30), now),
            "in under a minute"
        );
        assert_eq!(
            relative(now + Duration::days(7) - Duration::seconds(1), now),
            "in 7 days"
        );
        assert_eq!(relative(now + Duration::hours(1), now), "in 1 hour");
        assert_eq!(relative(now - Duration::minutes(5), now), "5 minutes ago");
        assert_eq!(relative(now - Duration::hours(30), now), "1 day ago");
    }
}
