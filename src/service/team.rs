//! The Team page's read model (DESIGN.md, "Pages → Team Management"): members, pending
//! invitations, invitation history and invite links, each sorted, filtered, counted and paged
//! in SQL, and the open join requests; and the members' CSV export, whose cells cannot run as
//! spreadsheet formulas.
//! Both are for `members:manage` holders (Owners, Admins, staff).

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::members::MemberRefusal;
use super::{NoStanding, ServiceError, Services, refuse, standing_in};
use crate::db::{self, DbError};
use crate::domain::join_request::JoinRequest;
use crate::domain::membership::MemberDenied;
use crate::domain::seats::SeatUsage;
use crate::domain::{InvitationStatus, MemberListing, OrganizationId, Permission};

pub use crate::db::invitations::InvitationListing;
pub use crate::db::invite_links::InviteLinkListing;
pub use crate::db::team_listing::{
    Direction, HistorySort, LinkSort, MemberSort, PAGE_ROWS, Page, PendingSort, TableView,
};

type Result<T> = std::result::Result<T, ServiceError<MemberRefusal>>;

/// What the Team page asks for: one filter for every table, and each table's sort and page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamView {
    /// Only rows whose email (or a member's name) contains this; blank for all.
    pub filter: String,
    /// *Members*.
    pub members: TableView<MemberSort>,
    /// *Pending invitations*.
    pub pending: TableView<PendingSort>,
    /// *Invitation history*.
    pub history: TableView<HistorySort>,
    /// *Invite links*.
    pub links: TableView<LinkSort>,
}

/// One page of each table of the Team page, with exact counts.
#[derive(Debug, Clone)]
pub struct Team {
    /// *Members*.
    pub members: Page<MemberListing>,
    /// How many Owners the organization has (every page's controls obey the last-Owner rule).
    pub owners: i64,
    /// *Pending invitations*, each with its newest email's delivery state.
    pub pending: Page<InvitationListing>,
    /// *Invitation history*.
    pub history: Page<InvitationListing>,
    /// The addresses of this page's expired invitations that have a newer live invitation
    /// (those offer no "Send a new invitation").
    pub live: HashSet<String>,
    /// *Invite links* (active and unexpired).
    pub links: Page<InviteLinkListing>,
    /// The organization's seats now (DESIGN.md, "Seats").
    pub seats: SeatUsage,
    /// *Join requests*: the oldest open ones (at most [`JOIN_REQUEST_ROWS`]) from people who
    /// are not members, and how many are open in all (issue 14 §3).
    pub join_requests: (Vec<JoinRequest>, i64),
}

/// How many open join requests the Team page lists (oldest first; the count says how many
/// more wait).
pub const JOIN_REQUEST_ROWS: i64 = 50;

/// Refuses `actor` without `members:manage` in `org`.
fn managing(conn: &mut db::Conn, org: OrganizationId, actor: &super::Actor) -> Result<()> {
    let standing = standing_in(conn, org, actor)?;
    if !standing.role.has(Permission::MembersManage) {
        return refuse(MemberDenied::NotPermitted);
    }
    Ok(())
}

/// The Team page of `org` for `actor` at `now`, as `view` asks. Reads only.
///
/// # Errors
/// [`MemberRefusal`]: no standing, or `members:manage` missing.
pub fn team(
    svc: &Services,
    actor: &super::Actor,
    org: OrganizationId,
    view: &TeamView,
    now: DateTime<Utc>,
) -> Result<Team> {
    use db::team_listing::{self as listing, InvitationTable};
    let mut conn = svc.conn()?;
    let c = &mut conn;
    managing(c, org, actor)?;
    let (filter, history) = (&view.filter, InvitationTable::History(view.history));
    let history = listing::invitations(c, org, filter, history, now)?;
    let expired: Vec<String> = history
        .rows
        .iter()
        .filter(|h| h.invitation.facts.effective_status(now) == InvitationStatus::Expired)
        .map(|h| h.invitation.email.to_string())
        .collect();
    let live = if expired.is_empty() {
        HashSet::new()
    } else {
        listing::with_live_invitation(c, org, &expired, now)?
    };
    Ok(Team {
        members: listing::members(c, org, filter, view.members)?,
        owners: listing::owner_count(c, org)?,
        pending: listing::invitations(c, org, filter, InvitationTable::Pending(view.pending), now)?,
        history,
        live,
        links: listing::invite_links(c, org, view.links, now)?,
        seats: seats_of(c, org, now)?,
        join_requests: db::join_requests::list_open(c, org, now, JOIN_REQUEST_ROWS)?,
    })
}

/// Up to `limit` members of `org` whose address sorts after `after_email`, by address, for
/// the JSON API's cursor: `members:manage` only. Reads only.
///
/// # Errors
/// [`MemberRefusal`]: no standing, or `members:manage` missing.
pub fn members_after(
    svc: &Services,
    actor: &super::Actor,
    org: OrganizationId,
    after_email: Option<&str>,
    limit: i64,
) -> Result<Vec<MemberListing>> {
    let mut conn = svc.conn()?;
    managing(&mut conn, org, actor)?;
    Ok(db::api_listing::members(
        &mut conn,
        org,
        after_email,
        limit,
    )?)
}

/// Up to `limit` invitations of `org` in `state` at `now` (any for `None`), newest first,
/// after `after`, for the JSON API's cursor: `members:manage` only. Reads only.
///
/// # Errors
/// [`MemberRefusal`]: no standing, or `members:manage` missing.
pub fn invitations_after(
    svc: &Services,
    actor: &super::Actor,
    org: OrganizationId,
    state: Option<InvitationStatus>,
    after: Option<&db::api_listing::After>,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<crate::domain::invitation::Invitation>> {
    let mut conn = svc.conn()?;
    managing(&mut conn, org, actor)?;
    Ok(db::api_listing::invitations(
        &mut conn, org, state, after, limit, now,
    )?)
}

/// An invitation with its delivery timeline (issue 15 §3).
#[derive(Debug, Clone)]
pub struct InvitationHistory {
    /// The invitation, its organization and its inviter.
    pub details: crate::domain::invitation::InvitationDetails,
    /// What happened to it, in order of time.
    pub timeline: Vec<crate::domain::invitation::timeline::Entry>,
}

/// Invitation `id` of `org` with its timeline at `now` (queued → sent / failed / bounced →
/// reminded → accepted / declined / revoked / expired), for `actor` with `members:manage`.
/// Reads only.
///
/// # Errors
/// [`MemberRefusal`]: no standing, `members:manage` missing, or no such invitation in `org`.
pub fn invitation_history(
    svc: &Services,
    actor: &super::Actor,
    org: OrganizationId,
    id: crate::domain::InvitationId,
    now: DateTime<Utc>,
) -> Result<InvitationHistory> {
    use crate::domain::invitation::timeline::{EmailFact, timeline};
    let mut conn = svc.conn()?;
    managing(&mut conn, org, actor)?;
    let details = db::invitations::find_details(&mut conn, &id.to_string())?
        .filter(|d| d.invitation.organization_id == org);
    let Some(details) = details else {
        return refuse(MemberRefusal::NotFound);
    };
    let emails: Vec<EmailFact> = db::outbox::for_invitation(&mut conn, id)?
        .into_iter()
        .map(|row| EmailFact {
            reminder: row.kind == db::outbox::EmailKind::InvitationReminder.as_str(),
            queued_at: db::from_db(row.created_at),
            status: row.status,
            attempts: row.attempts,
            sent_at: row.sent_at.map(db::from_db),
            next_attempt_at: db::from_db(row.next_attempt_at),
            last_error: row.last_error,
        })
        .collect();
    let timeline = timeline(&details.invitation, &emails, now);
    Ok(InvitationHistory { details, timeline })
}

/// `org`'s seats at `now` (the organization exists: its standing was just read).
fn seats_of(c: &mut db::Conn, org: OrganizationId, now: DateTime<Utc>) -> Result<SeatUsage> {
    let Some(organization) = db::organizations::find(c, org)? else {
        return refuse(NoStanding::NoSuchOrganization);
    };
    Ok(super::seats::usage(c, &organization, now)?)
}

/// The CSV header row of the members export.
pub const EXPORT_HEADER: [&str; 6] = [
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

/// Every member of `org` whose name or email contains `filter` (blank: all), sorted by `sort`
/// and `direction`, as a CSV file ([`EXPORT_HEADER`], every cell [`neutralise`]d). Reads only.
///
/// # Errors
/// [`MemberRefusal`]: no standing, or `members:manage` missing.
pub fn export_members(
    svc: &Services,
    actor: &super::Actor,
    org: OrganizationId,
    filter: &str,
    sort: MemberSort,
    direction: Direction,
) -> Result<Vec<u8>> {
    let mut conn = svc.conn()?;
    managing(&mut conn, org, actor)?;
    let members = db::team_listing::all_members(&mut conn, org, filter, sort, direction)?;
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(members.len() * 96 + 64));
    let csv_failed = |e: csv::Error| DbError::Corrupt(format!("writing the members CSV: {e}"));
    let mut write = |record: [&str; 6]| {
        writer
            .write_record(record.iter().map(|cell| neutralise(cell).into_owned()))
            .map_err(csv_failed)
    };
    write(EXPORT_HEADER)?;
    for m in &members {
        let joined = m
            .joined_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        write([
            &m.name,
            &m.email,
            m.role.label(),
            m.department.as_deref().unwrap_or(""),
            &joined,
            m.invited_by.as_deref().unwrap_or(""),
        ])?;
    }
    Ok(writer
        .into_inner()
        .map_err(|e| DbError::Corrupt(format!("writing the members CSV: {e}")))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::invitation::InviteEntry;
    use crate::domain::{EmailAddress, Plan, Role};
    use crate::service::testing::Fixture;

    fn first<S>(sort: S, direction: Direction) -> TableView<S> {
        TableView {
            sort,
            direction,
            page: 1,
        }
    }

    fn view(filter: &str) -> TeamView {
        TeamView {
            filter: filter.into(),
            members: first(MemberSort::Name, Direction::Ascending),
            pending: first(PendingSort::Sent, Direction::Descending),
            history: first(HistorySort::When, Direction::Descending),
            links: first(LinkSort::Created, Direction::Descending),
        }
    }

    #[test]
    fn the_team_page_is_for_members_managers_and_counts_exactly() {
        let f = Fixture::new();
        let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
        let viewer = f.member(org, "viewer@acme.test", Role::Viewer);
        let invite = |email: &str| InviteEntry {
            email: EmailAddress::parse(email).unwrap(),
            role: Role::Viewer,
            message: None,
            department: None,
        };
        let entries = [invite("ann@example.com"), invite("bo@example.com")];
        crate::service::invitations::invite(&f.svc, &owner, org, &entries, f.now).unwrap();
        let team = team(&f.svc, &owner, org, &view(""), f.now).unwrap();
        assert_eq!(
            (
                team.members.total,
                team.owners,
                team.pending.total,
                team.history.total
            ),
            (2, 1, 2, 0)
        );
        let filtered = super::team(&f.svc, &owner, org, &view("ann"), f.now).unwrap();
        assert_eq!((filtered.members.total, filtered.pending.total), (0, 1));
        assert!(matches!(
            super::team(&f.svc, &viewer, org, &view(""), f.now),
            Err(ServiceError::Refused(MemberRefusal::Denied(
                MemberDenied::NotPermitted
            )))
        ));
    }

    #[test]
    fn the_export_neutralises_formula_cells() {
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(formula), format!("'{formula}"));
        }
        for plain in ["Ada Lovelace", "ada@example.com", "", "1-2", "a=b"] {
            assert_eq!(neutralise(plain), plain);
        }
        let f = Fixture::new();
        let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
        let evil = f.user("evil@acme.test", "=HYPERLINK(\"x\")", false);
        f.add(org, &evil, Role::Viewer);
        let csv = export_members(
            &f.svc,
            &owner,
            org,
            "",
            MemberSort::Name,
            Direction::Ascending,
        )
        .unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert!(
            csv.starts_with("name,email,role,department,joined,invited_by\n"),
            "{csv}"
        );
        assert!(
            csv.contains("\"'=HYPERLINK(\"\"x\"\")\",evil@acme.test,Viewer"),
            "{csv}"
        );
    }
}
