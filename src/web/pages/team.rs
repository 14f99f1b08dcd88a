//! Team Management: members, pending invitations, invitation history, and the invite form
//! (a `<dialog>` on the Team page, or a page of its own without JavaScript).

use std::collections::HashSet;

use crate::web::session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{render, render_refused, seconds_until, see_other};
use crate::db::invitations::{AddressOutcome, InvitationListing, InviteBatch, InviteEntry};
use crate::db::team_listing::{self, HistorySort, LinkSort, MemberSort, PendingSort, TableView};
use crate::db::{self};
use crate::domain::MemberListing;
use crate::domain::email::{EmailAddress, ListedAddress, parse_address_list};
use crate::domain::invitation::{
    ActOnDenied, InviteDenied, Inviter, ResendError, ResendPlan, SkipReason, authorize_invitation,
    check_acting_on,
};
use crate::domain::text::{MAX_MESSAGE_CHARS, PersonalMessage};
use crate::domain::{InvitationId, OrganizationId, Permission, Plan, Role};
use crate::paths;
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::error::Rejection;
use crate::web::extractors::OrgMember;
use crate::web::listing::{Pager, SortColumn, SortHeader, Table, TableLinks, TeamQuery};
use crate::web::request_meta::Meta;
use crate::web::{AppError, AppState, Layout, flash};

/// The most addresses one submission of the invite form may hold.
pub const MAX_ADDRESSES_PER_SUBMISSION: usize = 1_000;
/// The largest "Email addresses" field accepted, in characters.
pub const MAX_ADDRESS_FIELD_CHARS: usize = 300_000;

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

/// The invite form as shown: the roles offered, what was typed, and errors beside fields.
#[derive(Debug, Clone)]
pub struct InviteForm {
    /// Where it posts.
    pub action: String,
    /// The roles the sender may assign, lowest first.
    pub roles: Vec<Role>,
    /// The selected role (Viewer by default).
    pub role: String,
    /// What was typed into "Email addresses".
    pub emails: String,
    /// What was typed into "Personal message".
    pub message: String,
    /// Error beside "Email addresses".
    pub emails_error: Option<String>,
    /// Error beside "Role".
    pub role_error: Option<String>,
    /// Error beside "Personal message".
    pub message_error: Option<String>,
    /// An error about the whole form.
    pub form_error: Option<String>,
    /// The CSRF token.
    pub csrf: String,
    /// The longest message, in characters.
    pub max_message: usize,
}

impl InviteForm {
    fn empty(member: &OrgMember, csrf: String) -> Self {
        Self {
            action: paths::send_invitations(member.org.id),
            roles: member.role.assignable_roles(),
            role: Role::Viewer.as_str().into(),
            emails: String::new(),
            message: String::new(),
            emails_error: None,
            role_error: None,
            message_error: None,
            form_error: None,
            csrf,
            max_message: MAX_MESSAGE_CHARS,
        }
    }

    fn has_errors(&self) -> bool {
        self.emails_error.is_some()
            || self.role_error.is_some()
            || self.message_error.is_some()
            || self.form_error.is_some()
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
    /// POST here to change the role.
    pub role_path: String,
    /// GET here to confirm removal, when the viewer may remove them.
    pub remove_path: Option<String>,
    /// Why there are no controls, when there are none.
    pub locked_reason: Option<&'static str>,
}

impl MemberRow {
    fn new(m: MemberListing, viewer: &OrgMember, owners: usize, now: DateTime<Utc>) -> Self {
        use crate::domain::membership::{Manager, check_removal, check_role_change};
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
            role_path: paths::member_role(viewer.org.id, m.membership_id),
            remove_path: removable.then(|| paths::remove_member(viewer.org.id, m.membership_id)),
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
    /// `queued`, `sent`, `retrying`, `failed`, `not sent`.
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

#[derive(Template)]
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
}

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    layout: Layout,
    team_path: String,
    trial_message: Option<&'static str>,
    form: InviteForm,
}

#[derive(Template)]
#[template(path = "revoke_confirm.html")]
struct RevokeConfirmPage {
    layout: Layout,
    email: String,
    role: Role,
    action: String,
    team_path: String,
}

fn trial_message(plan: Plan) -> Option<&'static str> {
    (!plan.allows_invitations()).then_some(Plan::TRIAL_MESSAGE)
}

fn pending_row(
    p: InvitationListing,
    org: OrganizationId,
    viewer: Inviter,
    now: DateTime<Utc>,
) -> PendingRow {
    let inv = &p.invitation;
    // Offer only what the viewer may do (the server checks again on submit).
    let may_act = check_acting_on(viewer, inv.role).is_ok();
    let (delivery, delivery_error) = match p.delivery {
        Some(d) => {
            let label = match d.status.as_str() {
                "queued" if d.attempts > 0 => "retrying",
                "queued" => "queued",
                "sending" => "sending",
                "sent" => "sent",
                "failed" => "failed",
                _ => "not-sent",
            };
            (label.to_owned(), d.last_error)
        }
        None => ("queued".to_owned(), None),
    };
    PendingRow {
        email: inv.email.to_string(),
        role: inv.role,
        invited_by: p.inviter_name,
        sent: TimeView::new(inv.created_at, now),
        expires: TimeView::new(inv.facts.expires_at, now),
        delivery,
        delivery_error,
        resend_path: may_act.then(|| paths::resend(org, inv.id)),
        resend_available: inv
            .facts
            .resend_available_at(now)
            .map(|t| (TimeView::new(t, now), (t - now).num_seconds().max(1))),
        revoke_path: may_act.then(|| paths::revoke(org, inv.id)),
    }
}

fn history_row(
    h: InvitationListing,
    org: OrganizationId,
    viewer: Inviter,
    live: &HashSet<String>,
    now: DateTime<Utc>,
) -> HistoryRow {
    let inv = &h.invitation;
    let status = inv.facts.effective_status(now);
    let when = inv.decided_at.unwrap_or(inv.facts.expires_at);
    // An expired invitation whose address already has a newer pending one offers no resend.
    // Nor one whose role is above the viewer's own.
    let resend_path = (status == crate::domain::InvitationStatus::Expired
        && !live.contains(inv.email.as_str())
        && check_acting_on(viewer, inv.role).is_ok())
    .then(|| paths::resend(org, inv.id));
    HistoryRow {
        email: inv.email.to_string(),
        role: inv.role,
        invited_by: h.inviter_name,
        status: status.label().to_owned(),
        reason: inv.status_reason.clone(),
        when: TimeView::new(when, now),
        // Once a new invitation is pending the request has been answered.
        renewal_requested: inv
            .renewal_requested_at
            .filter(|_| resend_path.is_some())
            .map(|at| TimeView::new(at, now)),
        resend_path,
    }
}

/// One table of the Team page: a header link for each of `columns` (in order), the page
/// navigation, and the rows of `page` made by `row`. `set` puts a changed view of this table
/// into a copy of the query, for the links.
fn table_section<S: SortColumn, T, R>(
    links: &TableLinks<'_>,
    columns: &[(S, &'static str)],
    view: TableView<S>,
    set: fn(&mut TeamQuery, TableView<S>),
    page: team_listing::Page<T>,
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

/// GET /orgs/{org}/team — Owners and Admins (`members:manage`); others get 403. Every table
/// sorts by its columns, pages by 50 and follows the filter `q` (see `web::listing`); a
/// malformed query string gets a 400 page naming the parameter.
pub async fn team_page(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::MembersManage)?;
    let query = TeamQuery::parse(req.query_string()).map_err(|e| AppError::BadRequest(e.into()))?;
    let org = member.org.id;
    let now = state.clock.now();
    let q = query.clone();
    let (members, owners, pending, history, live, links_page) = state
        .db
        .run(move |c| {
            let members = team_listing::members(c, org, &q.filter, q.members)?;
            let owners = team_listing::owner_count(c, org)?;
            let pending = team_listing::pending(c, org, &q.filter, q.pending, now)?;
            let history = team_listing::history(c, org, &q.filter, q.history, now)?;
            let expired: Vec<String> = history
                .rows
                .iter()
                .filter(|h| {
                    h.invitation.facts.effective_status(now)
                        == crate::domain::InvitationStatus::Expired
                })
                .map(|h| h.invitation.email.to_string())
                .collect();
            let live = if expired.is_empty() {
                HashSet::new()
            } else {
                team_listing::with_live_invitation(c, org, &expired, now)?
            };
            let links = team_listing::invite_links(c, org, q.links, now)?;
            Ok((members, owners, pending, history, live, links))
        })
        .await?;
    // Removing writes the session row, so `remove` does it only when there is a result.
    let result = session.get::<InviteResult>(RESULT_KEY);
    session.remove(RESULT_KEY);
    let layout = Layout::new(&state, &session, "Team", Some(&member.user))?.in_org(&member);
    let form = InviteForm::empty(&member, layout.csrf.clone());
    let team_path = paths::team(org);
    let viewer = member.inviter();

    let table = |table| TableLinks {
        base: &team_path,
        query: &query,
        table,
    };
    let members = table_section(
        &table(Table::Members),
        &[
            (MemberSort::Name, "Name"),
            (MemberSort::Email, "Email"),
            (MemberSort::Role, "Role"),
            (MemberSort::Joined, "Joined"),
            (MemberSort::InvitedBy, "Invited by"),
        ],
        query.members,
        |q, v| q.members = v,
        members,
        |row| MemberRow::new(row, &member, owners as usize, now),
    );
    let pending = table_section(
        &table(Table::Pending),
        &[
            (PendingSort::Email, "Email"),
            (PendingSort::Role, "Role"),
            (PendingSort::InvitedBy, "Invited by"),
            (PendingSort::Sent, "Sent"),
            (PendingSort::Expires, "Expires"),
            (PendingSort::Delivery, "Delivery"),
        ],
        query.pending,
        |q, v| q.pending = v,
        pending,
        |row| pending_row(row, org, viewer, now),
    );
    let history = table_section(
        &table(Table::History),
        &[
            (HistorySort::Email, "Email"),
            (HistorySort::Role, "Role"),
            (HistorySort::InvitedBy, "Invited by"),
            (HistorySort::Status, "Status"),
            (HistorySort::When, "When"),
        ],
        query.history,
        |q, v| q.history = v,
        history,
        |row| history_row(row, org, viewer, &live, now),
    );
    let links = table_section(
        &table(Table::Links),
        &[
            (LinkSort::Role, "Role"),
            (LinkSort::CreatedBy, "Created by"),
            (LinkSort::Created, "Created"),
            (LinkSort::Expires, "Expires"),
        ],
        query.links,
        |q, v| q.links = v,
        links_page,
        |link| LinkRow {
            role: link.role,
            created_by: link.created_by_name,
            created: TimeView::new(link.created_at, now),
            expires: TimeView::new(link.expires_at, now),
            revoke_path: check_acting_on(viewer, link.role)
                .is_ok()
                .then(|| paths::revoke_invite_link(org, link.id)),
        },
    );

    let export_path = if query.filter.is_empty() {
        paths::export_members(org)
    } else {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &query.filter)
            .finish();
        format!("{}?{q}", paths::export_members(org))
    };
    render(&TeamPage {
        layout,
        members,
        pending,
        history,
        links,
        new_link_path: paths::new_invite_link(org),
        import_path: paths::import_invitations(org),
        sort_inputs: query.sort_inputs(),
        filter: query.filter.clone(),
        team_path,
        export_path,
        result,
        can_invite: member.role.has(Permission::UsersInvite),
        trial_message: trial_message(member.org.plan),
        invite_page: paths::invite(org),
        audit_path: paths::audit(org),
        form,
    })
}

/// GET /orgs/{org}/team/invite — the invite form as its own page (works without JavaScript).
pub async fn invite_page(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::UsersInvite)?;
    let layout =
        Layout::new(&state, &session, "Invite Team Member", Some(&member.user))?.in_org(&member);
    let form = InviteForm::empty(&member, layout.csrf.clone());
    render(&InvitePage {
        layout,
        team_path: paths::team(member.org.id),
        trial_message: trial_message(member.org.plan),
        form,
    })
}

/// The invite form as submitted.
#[derive(Debug, Deserialize)]
pub struct InviteSubmission {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    emails: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    message: String,
}

impl HasCsrfToken for InviteSubmission {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// The result of an invite submission: one row per entry typed, in order, and the summary
/// line "N invitations sent, N resent, N skipped, N invalid." followed by the first 20 entries
/// that were not sent, with why. `outcomes` holds one outcome per valid entry of `listed`, in
/// order (as `invite_many` returns them).
pub fn invite_result(listed: &[ListedAddress], outcomes: &[AddressOutcome]) -> InviteResult {
    let mut outcomes = outcomes.iter();
    let mut rows = Vec::with_capacity(listed.len());
    let (mut sent, mut resent, mut skipped, mut invalid) = (0, 0, 0, 0);
    let mut not_sent = Vec::new();
    for entry in listed {
        let (email, kind, label) = match entry {
            ListedAddress::Valid(email) => match outcomes.next() {
                Some(AddressOutcome::Sent) => {
                    sent += 1;
                    (email.to_string(), "sent", "Sent".to_owned())
                }
                Some(AddressOutcome::Resent) => {
                    resent += 1;
                    (
                        email.to_string(),
                        "resent",
                        "Resent: already invited with this role, the original link again"
                            .to_owned(),
                    )
                }
                Some(AddressOutcome::Skipped(reason)) => {
                    skipped += 1;
                    not_sent.push(format!("{email} ({reason})"));
                    let why = match reason {
                        SkipReason::AlreadyMember => "Skipped: already a member".to_owned(),
                        SkipReason::ResentRecently => {
                            "Skipped: pending with the same role, and sent again less than a minute ago"
                                .to_owned()
                        }
                        SkipReason::AboveYourRole(_) => format!("Skipped: {reason}"),
                    };
                    (email.to_string(), "skipped", why)
                }
                None => continue,
            },
            ListedAddress::Duplicate { input } => {
                skipped += 1;
                not_sent.push(format!("{input} (listed more than once)"));
                (
                    input.clone(),
                    "skipped",
                    "Skipped: listed more than once (invited once)".to_owned(),
                )
            }
            ListedAddress::Invalid { input, error } => {
                invalid += 1;
                not_sent.push(format!("{input} (invalid address: {error})"));
                (
                    input.clone(),
                    "invalid",
                    format!("Invalid address: {error}"),
                )
            }
        };
        rows.push(OutcomeRow {
            email,
            kind: kind.to_owned(),
            label,
        });
    }
    let plural = |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
    let mut summary = format!(
        "{sent} {} sent, {resent} resent, {skipped} skipped, {invalid} invalid",
        plural(sent, "invitation", "invitations"),
    );
    if !not_sent.is_empty() {
        const SHOWN: usize = 20;
        let more = not_sent.len().saturating_sub(SHOWN);
        not_sent.truncate(SHOWN);
        summary.push_str(": ");
        summary.push_str(&not_sent.join(", "));
        if more > 0 {
            summary.push_str(&format!(" and {more} more"));
        }
    }
    summary.push('.');
    InviteResult { summary, rows }
}

/// A role typed into an invite form, checked against the sender's ceiling and plan
/// (`domain::invitation::authorize_invitation`), with the messages the form shows and the
/// status the refusal gets (a role no form offers: 400; above the sender's own, a Trial plan or
/// no right to invite: 403).
pub struct OfferedRole {
    /// The role, when it names one (even if refused: the form keeps it selected).
    pub role: Option<Role>,
    /// Beside the Role field: not a role, or above the sender's own.
    pub role_error: Option<String>,
    /// About the whole form: the plan allows no invitations, or the sender may not invite.
    pub form_error: Option<String>,
    /// The kind of refusal, when the role is refused.
    pub rejection: Option<Rejection>,
}

impl OfferedRole {
    /// Checks `input` for `member`; `doing` completes "You cannot {doing} Owner: …" (e.g.
    /// "invite someone as", "create a link for").
    pub fn check(member: &OrgMember, input: &str, doing: &str) -> Self {
        let Ok(role) = input.parse::<Role>() else {
            return Self {
                role: None,
                role_error: Some("Choose one of the roles listed.".into()),
                form_error: None,
                rejection: Some(Rejection::Malformed),
            };
        };
        let (role_error, form_error) =
            match authorize_invitation(member.inviter(), member.org.plan, role) {
                Ok(()) => (None, None),
                Err(InviteDenied::AboveCeiling(_)) => (
                    Some(format!(
                        "You cannot {doing} {}: you may only assign roles at or below your own.",
                        role.label()
                    )),
                    None,
                ),
                Err(denied) => (None, Some(denied.to_string())),
            };
        let refused = role_error.is_some() || form_error.is_some();
        Self {
            role: Some(role),
            role_error,
            form_error,
            rejection: refused.then_some(Rejection::Forbidden),
        }
    }

    /// The status for a form re-shown with errors: this refusal's, else 422 (a field that
    /// failed validation).
    pub fn form_rejection(&self) -> Rejection {
        self.rejection.unwrap_or(Rejection::Invalid)
    }
}

/// POST /orgs/{org}/invitations — invites one or many addresses with one role and message.
/// Errors re-show the form with the input kept and the message beside the field; nothing is
/// written unless the whole submission is acceptable.
pub async fn send_invitations(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    Meta(meta): Meta,
    CsrfForm(input): CsrfForm<InviteSubmission>,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::UsersInvite)?;
    let layout =
        Layout::new(&state, &session, "Invite Team Member", Some(&member.user))?.in_org(&member);
    let mut form = InviteForm::empty(&member, layout.csrf.clone());
    form.emails = input.emails.chars().take(MAX_ADDRESS_FIELD_CHARS).collect();
    form.message = input.message.chars().take(MAX_MESSAGE_CHARS * 2).collect();
    form.role = input.role.chars().take(20).collect();

    let offered = OfferedRole::check(&member, &input.role, "invite someone as");
    let rejection = offered.form_rejection();
    let role = offered.role;
    form.role_error = offered.role_error;
    form.form_error = offered.form_error;
    let message = match PersonalMessage::parse(&input.message) {
        Ok(m) => m,
        Err(e) => {
            form.message_error = Some(format!("The message {e}."));
            None
        }
    };
    let mut listed = Vec::new();
    if input.emails.chars().count() > MAX_ADDRESS_FIELD_CHARS {
        form.emails_error =
            Some("That is too much text. Send at most 1,000 addresses at a time.".into());
    } else {
        listed = parse_address_list(&input.emails);
        let valid = listed
            .iter()
            .filter(|e| matches!(e, ListedAddress::Valid(_)))
            .count();
        if listed.len() > MAX_ADDRESSES_PER_SUBMISSION {
            form.emails_error = Some(format!(
                "You entered {} addresses; send at most 1,000 at a time.",
                listed.len()
            ));
        } else if listed.is_empty() {
            form.emails_error = Some("Enter at least one email address.".into());
        } else if valid == 0 {
            let shown: Vec<String> = listed
                .iter()
                .take(10)
                .map(|entry| match entry {
                    ListedAddress::Invalid { input, error } => format!("{input} ({error})"),
                    ListedAddress::Valid(e) => e.to_string(),
                    ListedAddress::Duplicate { input } => format!("{input} (listed twice)"),
                })
                .collect();
            form.emails_error = Some(format!("No valid address: {}.", shown.join(", ")));
        }
    }
    let valid: Vec<EmailAddress> = listed
        .iter()
        .filter_map(|e| match e {
            ListedAddress::Valid(email) => Some(email.clone()),
            _ => None,
        })
        .collect();
    let invite_page = |layout, form| InvitePage {
        layout,
        team_path: paths::team(member.org.id),
        trial_message: trial_message(member.org.plan),
        form,
    };
    let (Some(role), false) = (role, form.has_errors()) else {
        return render_refused(&invite_page(layout, form), rejection, None);
    };

    let now = state.clock.now();
    let token_key = state.settings.token_key.clone();
    let ttl = state.settings.invitation_ttl;
    let org = member.org.id;
    let inviter = member.inviter();
    let entries: Vec<InviteEntry> = valid
        .into_iter()
        .map(|email| InviteEntry {
            email,
            role,
            message: message.clone(),
            department: None,
        })
        .collect();
    let ctx = member.audit(meta);
    let batch = InviteBatch {
        organization: org,
        inviter: member.user.id,
        ttl,
        now,
    };
    let per_hour = state.settings.invitations_per_hour;
    let outcomes = match state
        .db
        .run(move |c| {
            db::invitations::invite_many(c, &ctx, &batch, inviter, &entries, per_hour, &token_key)
        })
        .await?
    {
        Ok(outcomes) => outcomes,
        Err(over) => {
            form.form_error = Some(over.to_string());
            let reopens = state
                .db
                .run(move |c| db::invitations::hourly_window_reopens(c, org, now))
                .await?;
            let wait = reopens.map_or(60, |at| seconds_until(at, now));
            return render_refused(
                &invite_page(layout, form),
                Rejection::RateLimited,
                Some(wait),
            );
        }
    };
    if let Some(refusal) = all_above_your_role(&listed, &outcomes) {
        return Err(AppError::Forbidden(refusal.into())
            .back_to(paths::team(org), "Back to Team Management"));
    }
    state.outbox.wake();
    let result = invite_result(&listed, &outcomes);
    let any_sent = outcomes
        .iter()
        .any(|o| !matches!(o, AddressOutcome::Skipped(_)));
    if any_sent {
        flash::success(&session, result.summary.clone());
    } else {
        flash::error(&session, result.summary.clone());
    }
    if result.rows.len() > 1 {
        // The per-address table waits for the Team page this redirects to.
        session.insert(RESULT_KEY, &result)?;
    }
    Ok(see_other(&paths::team(member.org.id)))
}

/// When every address of a submission was skipped because its live invitation's role is above
/// the sender's own (nothing was written), the refusal that says so: the submission as a
/// whole is refused by the role ceiling (DESIGN.md, "Security rules": re-invite obeys the
/// ceiling of the invitation's role), a 403.
fn all_above_your_role(listed: &[ListedAddress], outcomes: &[AddressOutcome]) -> Option<String> {
    let valid = listed
        .iter()
        .filter(|e| matches!(e, ListedAddress::Valid(_)));
    let mut refused = Vec::new();
    for (entry, outcome) in valid.zip(outcomes) {
        match (entry, outcome) {
            (
                ListedAddress::Valid(email),
                AddressOutcome::Skipped(why @ SkipReason::AboveYourRole(_)),
            ) => {
                refused.push(format!("{email} ({why})"));
            }
            _ => return None,
        }
    }
    if refused.is_empty() {
        return None;
    }
    const SHOWN: usize = 20;
    let more = refused.len().saturating_sub(SHOWN);
    refused.truncate(SHOWN);
    let mut text = format!("Nothing was sent: {}", refused.join(", "));
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text.push_str(
        ". You may replace or resend only invitations at or below your own role; ask an Owner.",
    );
    Some(text)
}

/// A refusal to act on an invitation or invite link (resend, revoke) by the role ceiling of
/// its role ([`check_acting_on`]): a 403 page with a link back to the Team page. `doing`
/// completes "You cannot {doing} Owner", e.g. "revoke an invitation as".
pub fn act_on_refused(denied: ActOnDenied, doing: &str, org: OrganizationId) -> AppError {
    let text = match denied {
        ActOnDenied::AboveCeiling(role) => format!(
            "You cannot {doing} {role}: it is above your own role. You may act only on invitations and links at or below your role."
        ),
        ActOnDenied::NotPermitted => format!("{denied}."),
    };
    AppError::Forbidden(text.into()).back_to(paths::team(org), "Back to Team Management")
}

fn parse_invitation_id(raw: &str) -> Result<InvitationId, AppError> {
    raw.parse().map_err(|_| AppError::NotFound)
}

async fn load_invitation(
    state: &AppState,
    member: &OrgMember,
    raw_id: &str,
) -> Result<crate::domain::invitation::Invitation, AppError> {
    let id = parse_invitation_id(raw_id)?;
    let org = member.org.id;
    state
        .db
        .run(move |c| db::invitations::find_in_org(c, org, id))
        .await?
        .ok_or(AppError::NotFound)
}

/// POST /orgs/{org}/invitations/{id}/resend — the original link again (at most once a minute),
/// or a new invitation when it has expired.
pub async fn resend(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    Meta(meta): Meta,
    path: web::Path<(String, String)>,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::UsersInvite)?;
    let inv = load_invitation(&state, &member, &path.1).await?;
    let team = paths::team(member.org.id);
    let back = |e: AppError| e.back_to(&team, "Back to Team Management");
    check_acting_on(member.inviter(), inv.role)
        .map_err(|denied| act_on_refused(denied, "resend an invitation as", member.org.id))?;
    if !member.org.plan.allows_invitations() {
        return Err(back(AppError::Forbidden(Plan::TRIAL_MESSAGE.into())));
    }
    let now = state.clock.now();
    let ttl = state.settings.invitation_ttl;
    let key = state.settings.token_key.clone();
    let per_hour = state.settings.invitations_per_hour;
    let resender = member.user.id;
    let email = inv.email.to_string();
    let ctx = member.audit(meta);
    let org = member.org.id;
    let result = state
        .db
        .run(move |c| db::invitations::resend(c, &ctx, &inv, resender, ttl, per_hour, now, &key))
        .await?;
    match result {
        Ok(ResendPlan::SameLink) => {
            state.outbox.wake();
            flash::success(
                &session,
                format!("Invitation sent again to {email} with the same link."),
            );
        }
        Ok(ResendPlan::NewInvitation) => {
            state.outbox.wake();
            flash::success(
                &session,
                format!(
                    "The invitation to {email} had expired; a new one was sent with a fresh link."
                ),
            );
        }
        Err(ResendError::OverHourlyLimit(over)) => {
            let reopens = state
                .db
                .run(move |c| db::invitations::hourly_window_reopens(c, org, now))
                .await?;
            return Err(back(AppError::too_many(
                format!(
                    "The invitation to {email} had expired, and a new one would exceed this organization's limit of {} an hour ({} sent in the last hour). Nothing was sent; try again later.",
                    over.per_hour, over.sent_last_hour
                ),
                reopens.map_or(60, |at| seconds_until(at, now)),
            )));
        }
        Err(refused) => return Err(back(resend_refused(refused, &email, now))),
    }
    Ok(see_other(&team))
}

/// The answer to a refused resend of the invitation to `email` (member and tenant-owner
/// invitations alike): sent again less than a minute ago → 429 with the seconds left; final
/// or superseded → 409 (DESIGN.md, "Resend"; the status policy).
pub fn resend_refused(refused: ResendError, email: &str, now: DateTime<Utc>) -> AppError {
    match refused {
        ResendError::TooSoon { available_at } => {
            let wait = seconds_until(available_at, now);
            AppError::too_many(
                format!(
                    "The invitation to {email} was sent again less than a minute ago. You can resend it in {wait} seconds."
                ),
                wait,
            )
        }
        ResendError::OverHourlyLimit(over) => AppError::too_many(over.to_string(), 60),
        e @ (ResendError::Final(_) | ResendError::Superseded) => {
            AppError::Conflict(e.to_string().into())
        }
    }
}

/// GET /orgs/{org}/invitations/{id}/revoke — asks for confirmation.
pub async fn revoke_confirm(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::UsersInvite)?;
    let inv = load_invitation(&state, &member, &path.1).await?;
    check_acting_on(member.inviter(), inv.role)
        .map_err(|denied| act_on_refused(denied, "revoke an invitation as", member.org.id))?;
    render(&RevokeConfirmPage {
        layout: Layout::new(&state, &session, "Revoke invitation", Some(&member.user))?
            .in_org(&member),
        email: inv.email.to_string(),
        role: inv.role,
        action: paths::revoke(member.org.id, inv.id),
        team_path: paths::team(member.org.id),
    })
}

/// POST /orgs/{org}/invitations/{id}/revoke — the link stops working at once.
pub async fn revoke(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    Meta(meta): Meta,
    path: web::Path<(String, String)>,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::UsersInvite)?;
    let inv = load_invitation(&state, &member, &path.1).await?;
    check_acting_on(member.inviter(), inv.role)
        .map_err(|denied| act_on_refused(denied, "revoke an invitation as", member.org.id))?;
    let now = state.clock.now();
    let email = inv.email.to_string();
    let reason = format!("revoked by {}", member.user.name);
    let ctx = member.audit(meta);
    let result = state
        .db
        .run(move |c| db::invitations::revoke(c, &ctx, &inv, &reason, now))
        .await?;
    let team = paths::team(member.org.id);
    match result {
        Ok(()) => flash::success(
            &session,
            format!("The invitation to {email} was revoked; its link no longer works."),
        ),
        Err(e) => {
            return Err(
                AppError::Conflict(e.to_string().into()).back_to(&team, "Back to Team Management")
            );
        }
    }
    Ok(see_other(&team))
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
