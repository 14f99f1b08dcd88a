//! The Team page's tables, read a page at a time: members, pending invitations and invitation
//! history, each sorted by any of its columns, filtered by email or name, and counted exactly
//! (DESIGN.md, "Pages": "Columns sort; long lists page"). Sorting, filtering, counting and paging happen in SQL, so the page costs
//! the same for an organization of 10 members or 10,000.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use super::invitations::InvitationListing;
use super::invite_links::InviteLinkListing;
use super::models::{InvitationRow, MembershipRow};
use super::outbox;
use super::schema::{invitations, memberships, users};
use super::{Conn, DbError, to_db};
use crate::domain::MemberListing;
use crate::domain::invitation::Invitation;
use crate::domain::{InvitationStatus, OrganizationId};

/// Rows per page of every Team page table.
pub const PAGE_ROWS: i64 = 50;

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A to Z, oldest first, Owner first.
    Ascending,
    /// Z to A, newest first, Viewer first.
    Descending,
}

/// A column of *Members* to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberSort {
    /// Name, case-insensitive.
    Name,
    /// Email.
    Email,
    /// Role, Owner first when ascending.
    Role,
    /// When they joined.
    Joined,
    /// The inviter's name (members nobody invited sort last when ascending).
    InvitedBy,
}

/// A column of *Pending invitations* to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingSort {
    /// Invited address.
    Email,
    /// Offered role, Owner first when ascending.
    Role,
    /// The inviter's name.
    InvitedBy,
    /// When it was sent.
    Sent,
    /// When it expires.
    Expires,
    /// Its newest email's delivery state (failed, queued, sending, sent: A to Z).
    Delivery,
}

/// A column of *Invitation history* to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistorySort {
    /// Invited address.
    Email,
    /// Offered role, Owner first when ascending.
    Role,
    /// The inviter's name.
    InvitedBy,
    /// Accepted, Declined, Expired or Revoked.
    Status,
    /// When it reached that state.
    When,
}

/// A column of *Invite links* to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkSort {
    /// The role it grants, Owner first when ascending.
    Role,
    /// Its creator's name.
    CreatedBy,
    /// When it was created.
    Created,
    /// When it stops working.
    Expires,
}

/// One table's view: its sort, and which page of 50.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableView<S> {
    /// The column.
    pub sort: S,
    /// The direction.
    pub direction: Direction,
    /// 1-based page number (a page past the end is empty, not an error).
    pub page: i64,
}

impl<S> TableView<S> {
    fn offset(&self) -> i64 {
        (self.page.max(1) - 1) * PAGE_ROWS
    }
}

/// A page of rows and how many rows match in all.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows of this page, at most [`PAGE_ROWS`].
    pub rows: Vec<T>,
    /// How many rows match the filter, on every page together.
    pub total: i64,
}

/// `LIKE` pattern matching `filter` anywhere, case-insensitive, with `%`, `_` and `\` taken
/// literally (escaped with `\`).
fn contains_pattern(filter: &str) -> String {
    let mut pattern = String::with_capacity(filter.len() + 2);
    pattern.push('%');
    for c in filter.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// SQL giving a role column its rank, Owner 0 to Viewer 4, so roles sort by power, not name.
fn role_rank(column: &str) -> diesel::expression::SqlLiteral<Integer> {
    sql::<Integer>(&format!(
        "(CASE {column} WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'editor' THEN 2 \
         WHEN 'writer' THEN 3 ELSE 4 END)"
    ))
}

diesel::define_sql_function! {
    /// SQL `lower(text)`, the same on SQLite and PostgreSQL for ASCII.
    fn lower(x: Text) -> Text;
}

/// Applies `$dir` to `$expr` as the primary ORDER BY of boxed query `$q`.
macro_rules! order_by {
    ($q:expr, $expr:expr, $dir:expr) => {
        match $dir {
            Direction::Ascending => $q.order_by($expr.asc()),
            Direction::Descending => $q.order_by($expr.desc()),
        }
    };
}

/// One page of `org`'s members matching `filter` (name or email contains it; blank = all),
/// sorted by `view`, ties broken by name then id.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn members(
    conn: &mut Conn,
    org: OrganizationId,
    filter: &str,
    view: TableView<MemberSort>,
) -> Result<Page<MemberListing>, DbError> {
    members_limited(conn, org, filter, view, PAGE_ROWS)
}

/// Every member of `org` matching `filter`, in `view`'s order (the CSV export).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn all_members(
    conn: &mut Conn,
    org: OrganizationId,
    filter: &str,
    sort: MemberSort,
    direction: Direction,
) -> Result<Vec<MemberListing>, DbError> {
    let view = TableView {
        sort,
        direction,
        page: 1,
    };
    Ok(members_limited(conn, org, filter, view, i64::MAX)?.rows)
}

fn members_limited(
    conn: &mut Conn,
    org: OrganizationId,
    filter: &str,
    view: TableView<MemberSort>,
    limit: i64,
) -> Result<Page<MemberListing>, DbError> {
    let org = org.to_string();
    let pattern = contains_pattern(filter);
    let filtered = || {
        let q = memberships::table
            .inner_join(users::table.on(users::id.eq(memberships::user_id)))
            .filter(memberships::organization_id.eq(org.clone()))
            .into_boxed();
        if filter.trim().is_empty() {
            q
        } else {
            q.filter(
                lower(users::name)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(users::email.like(pattern.clone()).escape('\\')),
            )
        }
    };
    // Unfiltered, the count needs no join: the memberships index alone answers it.
    let total: i64 = if filter.trim().is_empty() {
        memberships::table
            .filter(memberships::organization_id.eq(org.clone()))
            .count()
            .get_result(conn)?
    } else {
        filtered().count().get_result(conn)?
    };
    let mut q = filtered();
    let mut offset = view.offset();
    if view.sort == MemberSort::Joined && filter.trim().is_empty() {
        // The page's ids straight from the (organization_id, created_at, id) index, without
        // touching a table row; then only those rows are joined and read.
        let ids = memberships::table
            .filter(memberships::organization_id.eq(org.clone()))
            .select(memberships::id)
            .into_boxed();
        let ids: Vec<String> = match view.direction {
            Direction::Ascending => {
                ids.order_by((memberships::created_at.asc(), memberships::id.asc()))
            }
            Direction::Descending => {
                ids.order_by((memberships::created_at.desc(), memberships::id.desc()))
            }
        }
        .limit(limit)
        .offset(offset)
        .load(conn)?;
        q = q.filter(memberships::id.eq_any(ids));
        offset = 0;
    }
    let q = match view.sort {
        MemberSort::Name => order_by!(q, lower(users::name), view.direction),
        MemberSort::Email => order_by!(q, users::email, view.direction),
        MemberSort::Role => order_by!(q, role_rank("memberships.role"), view.direction),
        MemberSort::Joined => order_by!(q, memberships::created_at, view.direction),
        // The inviter's name, looked up only for this sort; nobody sorts after every name
        // when ascending, on both backends.
        MemberSort::InvitedBy => order_by!(
            q,
            sql::<Text>(
                "COALESCE((SELECT lower(inviters.name) FROM users AS inviters \
                 WHERE inviters.id = memberships.invited_by), '\u{10FFFF}')"
            ),
            view.direction
        ),
    };
    // Joined order comes straight from the (organization_id, created_at, id) index, so the
    // first page of a large team reads 50 rows, not all of them.
    let q = if view.sort == MemberSort::Joined {
        q
    } else {
        q.then_order_by(lower(users::name).asc())
    };
    let q = match (view.sort, view.direction) {
        (MemberSort::Joined, Direction::Descending) => q.then_order_by(memberships::id.desc()),
        _ => q.then_order_by(memberships::id.asc()),
    };
    let rows: Vec<(MembershipRow, String, String)> = q
        .limit(limit)
        .offset(offset)
        .select((MembershipRow::as_select(), users::name, users::email))
        .load(conn)?;
    let rows = super::organizations::member_listings(conn, rows)?;
    Ok(Page { rows, total })
}

/// One page of `org`'s active, unexpired invite links, sorted by `view`. Links live at most
/// seven days and their creation is rate-limited, so they are sorted in memory.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn invite_links(
    conn: &mut Conn,
    org: OrganizationId,
    view: TableView<LinkSort>,
    now: DateTime<Utc>,
) -> Result<Page<InviteLinkListing>, DbError> {
    let mut rows = super::invite_links::list_active(conn, org, now)?;
    rows.sort_by(|a, b| {
        let primary = match view.sort {
            LinkSort::Role => b.role.cmp(&a.role),
            LinkSort::CreatedBy => a
                .created_by_name
                .to_lowercase()
                .cmp(&b.created_by_name.to_lowercase()),
            LinkSort::Created => a.created_at.cmp(&b.created_at),
            LinkSort::Expires => a.expires_at.cmp(&b.expires_at),
        };
        let primary = match view.direction {
            Direction::Ascending => primary,
            Direction::Descending => primary.reverse(),
        };
        primary.then_with(|| b.created_at.cmp(&a.created_at))
    });
    let total = rows.len() as i64;
    let rows = rows
        .into_iter()
        .skip(view.offset() as usize)
        .take(PAGE_ROWS as usize)
        .collect();
    Ok(Page { rows, total })
}

/// How many Owners `org` has (the last-Owner rule needs the whole count, not a page's).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn owner_count(conn: &mut Conn, org: OrganizationId) -> Result<i64, DbError> {
    Ok(memberships::table
        .filter(memberships::organization_id.eq(org.to_string()))
        .filter(memberships::role.eq(crate::domain::Role::Owner.as_str()))
        .count()
        .get_result(conn)?)
}

/// Which table of invitations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Pending and unexpired.
    Pending,
    /// Everything else: final, or pending past its expiry (listed as Expired, agreeing with
    /// what acceptance enforces).
    History,
}

/// The column of either invitations table to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvitationOrder {
    Email,
    Role,
    InvitedBy,
    Created,
    Expires,
    Status,
    Decided,
    Delivery,
}

fn invitations_page(
    conn: &mut Conn,
    org: OrganizationId,
    section: Section,
    filter: &str,
    view: TableView<InvitationOrder>,
    now: DateTime<Utc>,
) -> Result<Page<InvitationListing>, DbError> {
    let (order, direction, page) = (view.sort, view.direction, view.page);
    let org = org.to_string();
    let pattern = contains_pattern(filter);
    let now_db = to_db(now);
    let filtered = || {
        let q = invitations::table
            .filter(invitations::organization_id.eq(org.clone()))
            .into_boxed();
        let q = match section {
            Section::Pending => q
                .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
                .filter(invitations::expires_at.gt(now_db)),
            Section::History => q.filter(
                invitations::status
                    .ne(InvitationStatus::Pending.as_str())
                    .or(invitations::expires_at.le(now_db)),
            ),
        };
        if filter.trim().is_empty() {
            q
        } else {
            q.filter(invitations::email.like(pattern.clone()).escape('\\'))
        }
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let q = filtered();
    let q = match order {
        InvitationOrder::Email => order_by!(q, invitations::email, direction),
        InvitationOrder::Role => order_by!(q, role_rank("invitations.role"), direction),
        InvitationOrder::InvitedBy => order_by!(
            q,
            sql::<Text>(
                "(SELECT lower(inviters.name) FROM users AS inviters \
                 WHERE inviters.id = invitations.invited_by)"
            ),
            direction
        ),
        InvitationOrder::Created => order_by!(q, invitations::created_at, direction),
        InvitationOrder::Expires => order_by!(q, invitations::expires_at, direction),
        // The newest email's state, as the Delivery column shows it.
        InvitationOrder::Delivery => order_by!(
            q,
            sql::<Text>(
                "COALESCE((SELECT outbox_emails.status FROM outbox_emails \
                 WHERE outbox_emails.invitation_id = invitations.id \
                 ORDER BY outbox_emails.created_at DESC LIMIT 1), 'queued')"
            ),
            direction
        ),
        // The status as people see it: pending past its time is Expired.
        InvitationOrder::Status => order_by!(
            q,
            sql::<Text>("(CASE WHEN invitations.status = 'pending' AND invitations.expires_at <= ")
                .bind::<diesel::sql_types::Timestamp, _>(now_db)
                .sql(" THEN 'expired' ELSE invitations.status END)"),
            direction
        ),
        InvitationOrder::Decided => order_by!(
            q,
            sql::<diesel::sql_types::Timestamp>(
                "COALESCE(invitations.decided_at, invitations.expires_at)"
            ),
            direction
        ),
    };
    let rows: Vec<InvitationRow> = q
        .then_order_by(invitations::created_at.desc())
        .then_order_by(invitations::id.asc())
        .limit(PAGE_ROWS)
        .offset((page.max(1) - 1) * PAGE_ROWS)
        .select(InvitationRow::as_select())
        .load(conn)?;
    let inviter_ids: Vec<&str> = rows.iter().map(|r| r.invited_by.as_str()).collect();
    let inviter_names = super::organizations::names(conn, &inviter_ids)?;
    let mut delivery = if section == Section::Pending {
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        outbox::latest_for_invitations(conn, &ids)?
    } else {
        Default::default()
    };
    let rows = rows
        .into_iter()
        .map(|row| {
            let delivery = delivery.remove(&row.id);
            let inviter_name = inviter_names
                .get(&row.invited_by)
                .cloned()
                .unwrap_or_default();
            Ok(InvitationListing {
                invitation: Invitation::try_from(row)?,
                inviter_name,
                delivery,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok(Page { rows, total })
}

impl From<PendingSort> for InvitationOrder {
    fn from(sort: PendingSort) -> Self {
        match sort {
            PendingSort::Email => InvitationOrder::Email,
            PendingSort::Role => InvitationOrder::Role,
            PendingSort::InvitedBy => InvitationOrder::InvitedBy,
            PendingSort::Sent => InvitationOrder::Created,
            PendingSort::Expires => InvitationOrder::Expires,
            PendingSort::Delivery => InvitationOrder::Delivery,
        }
    }
}

impl From<HistorySort> for InvitationOrder {
    fn from(sort: HistorySort) -> Self {
        match sort {
            HistorySort::Email => InvitationOrder::Email,
            HistorySort::Role => InvitationOrder::Role,
            HistorySort::InvitedBy => InvitationOrder::InvitedBy,
            HistorySort::Status => InvitationOrder::Status,
            HistorySort::When => InvitationOrder::Decided,
        }
    }
}

/// `view`, sorted by the invitations column that the table's column names.
fn by_invitation_column<S: Into<InvitationOrder>>(
    view: TableView<S>,
) -> TableView<InvitationOrder> {
    TableView {
        sort: view.sort.into(),
        direction: view.direction,
        page: view.page,
    }
}

/// A table of invitations and how to show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationTable {
    /// *Pending invitations*: pending and unexpired, each with its newest email's delivery
    /// state.
    Pending(TableView<PendingSort>),
    /// *Invitation history*: accepted, declined, revoked, and expired (including pending ones
    /// past their time).
    History(TableView<HistorySort>),
}

/// One page of `org`'s invitations of `table` at `now` whose address contains `filter`
/// (blank = all), sorted by its view.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn invitations(
    conn: &mut Conn,
    org: OrganizationId,
    filter: &str,
    table: InvitationTable,
    now: DateTime<Utc>,
) -> Result<Page<InvitationListing>, DbError> {
    let (section, view) = match table {
        InvitationTable::Pending(view) => (Section::Pending, by_invitation_column(view)),
        InvitationTable::History(view) => (Section::History, by_invitation_column(view)),
    };
    invitations_page(conn, org, section, filter, view, now)
}

/// Which of `emails` have a live (pending, unexpired) invitation in `org` — an expired
/// invitation to such an address offers no "Send a new invitation".
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn with_live_invitation(
    conn: &mut Conn,
    org: OrganizationId,
    emails: &[String],
    now: DateTime<Utc>,
) -> Result<std::collections::HashSet<String>, DbError> {
    Ok(invitations::table
        .filter(invitations::organization_id.eq(org.to_string()))
        .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
        .filter(invitations::expires_at.gt(to_db(now)))
        .filter(invitations::email.eq_any(emails))
        .select(invitations::email)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern(" Ada "), "%ada%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
