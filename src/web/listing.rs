//! Sorted, paged and filtered tables in the query string: parsing what a Team page URL asks
//! for, and building the links of column headers and page navigation. Every table keeps its
//! own sort and page (`members_sort`, `members_dir`, `members_page`, …); one filter `q`
//! applies to every table.

use crate::db::team_listing::{
    Direction, HistorySort, LinkSort, MemberSort, PAGE_ROWS, PendingSort, TableView,
};

/// The highest page number accepted (keeps offsets small; far beyond any real team).
pub const MAX_PAGE: i64 = 1_000_000;
/// The longest filter accepted, in characters.
pub const MAX_FILTER_CHARS: usize = 254;

/// A column a table can be sorted by: its name in the query string and its natural direction.
pub trait SortColumn: Copy + PartialEq + Sized + 'static {
    /// Every column, in table order, with its query-string name.
    const ALL: &'static [(Self, &'static str)];
    /// The table's sort when the URL names none.
    const DEFAULT: (Self, Direction);

    /// The direction a first click on this column sorts by: A→Z for text, newest first for
    /// times.
    fn first_direction(self) -> Direction;

    /// The query-string name.
    fn key(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(c, _)| *c == self)
            .map_or("", |(_, k)| k)
    }
}

impl SortColumn for MemberSort {
    const ALL: &'static [(Self, &'static str)] = &[
        (MemberSort::Name, "name"),
        (MemberSort::Email, "email"),
        (MemberSort::Role, "role"),
        (MemberSort::Joined, "joined"),
        (MemberSort::InvitedBy, "invited_by"),
    ];
    const DEFAULT: (Self, Direction) = (MemberSort::Joined, Direction::Ascending);

    fn first_direction(self) -> Direction {
        match self {
            MemberSort::Joined => Direction::Descending,
            _ => Direction::Ascending,
        }
    }
}

impl SortColumn for PendingSort {
    const ALL: &'static [(Self, &'static str)] = &[
        (PendingSort::Email, "email"),
        (PendingSort::Role, "role"),
        (PendingSort::InvitedBy, "invited_by"),
        (PendingSort::Sent, "sent"),
        (PendingSort::Expires, "expires"),
        (PendingSort::Delivery, "delivery"),
    ];
    const DEFAULT: (Self, Direction) = (PendingSort::Sent, Direction::Descending);

    fn first_direction(self) -> Direction {
        match self {
            PendingSort::Sent => Direction::Descending,
            _ => Direction::Ascending,
        }
    }
}

impl SortColumn for HistorySort {
    const ALL: &'static [(Self, &'static str)] = &[
        (HistorySort::Email, "email"),
        (HistorySort::Role, "role"),
        (HistorySort::InvitedBy, "invited_by"),
        (HistorySort::Status, "status"),
        (HistorySort::When, "when"),
    ];
    const DEFAULT: (Self, Direction) = (HistorySort::When, Direction::Descending);

    fn first_direction(self) -> Direction {
        match self {
            HistorySort::When => Direction::Descending,
            _ => Direction::Ascending,
        }
    }
}

impl SortColumn for LinkSort {
    const ALL: &'static [(Self, &'static str)] = &[
        (LinkSort::Role, "role"),
        (LinkSort::CreatedBy, "created_by"),
        (LinkSort::Created, "created"),
        (LinkSort::Expires, "expires"),
    ];
    const DEFAULT: (Self, Direction) = (LinkSort::Created, Direction::Descending);

    fn first_direction(self) -> Direction {
        match self {
            LinkSort::Created => Direction::Descending,
            _ => Direction::Ascending,
        }
    }
}

fn default_view<S: SortColumn>() -> TableView<S> {
    TableView {
        sort: S::DEFAULT.0,
        direction: S::DEFAULT.1,
        page: 1,
    }
}

/// What a Team page URL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamQuery {
    /// Show only rows whose email or name contains this (trimmed; empty = all).
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

impl Default for TeamQuery {
    fn default() -> Self {
        Self {
            filter: String::new(),
            members: default_view(),
            pending: default_view(),
            history: default_view(),
            links: default_view(),
        }
    }
}

/// Which table a link is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// *Members* (`members_…`).
    Members,
    /// *Pending invitations* (`pending_…`).
    Pending,
    /// *Invitation history* (`history_…`).
    History,
    /// *Invite links* (`links_…`).
    Links,
}

impl Table {
    /// The id of the table's section heading, which links jump back to.
    pub fn anchor(self) -> &'static str {
        match self {
            Table::Members => "members-heading",
            Table::Pending => "pending-heading",
            Table::History => "history-heading",
            Table::Links => "links-heading",
        }
    }
}

fn parse_sort<S: SortColumn>(value: &str, what: &str) -> Result<S, String> {
    S::ALL
        .iter()
        .find(|(_, k)| *k == value)
        .map(|(c, _)| *c)
        .ok_or_else(|| {
            let names: Vec<&str> = S::ALL.iter().map(|(_, k)| *k).collect();
            format!(
                "The {what} table cannot be sorted by \"{}\"; choose one of: {}.",
                value.chars().take(40).collect::<String>(),
                names.join(", ")
            )
        })
}

fn parse_direction(value: &str) -> Result<Direction, String> {
    match value {
        "asc" => Ok(Direction::Ascending),
        "desc" => Ok(Direction::Descending),
        _ => Err("A sort direction must be \"asc\" or \"desc\".".to_owned()),
    }
}

fn parse_page(value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .ok()
        .filter(|p| (1..=MAX_PAGE).contains(p))
        .ok_or_else(|| "A page number must be a whole number, 1 or more.".to_owned())
}

fn direction_key(d: Direction) -> &'static str {
    match d {
        Direction::Ascending => "asc",
        Direction::Descending => "desc",
    }
}

impl TeamQuery {
    /// Parses a Team page query string. Empty values mean the default; unknown keys are
    /// ignored; a repeated key keeps its last value.
    ///
    /// # Errors
    /// A sentence for the 400 page naming what is wrong: an unknown column or direction, a
    /// page that is not a whole number from 1, or a filter over 254 characters.
    pub fn parse(query: &str) -> Result<Self, String> {
        let mut parsed = TeamQuery::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match key.as_ref() {
                "q" => {
                    if value.chars().count() > MAX_FILTER_CHARS {
                        return Err(format!(
                            "The filter can be at most {MAX_FILTER_CHARS} characters long."
                        ));
                    }
                    parsed.filter = value.to_owned();
                }
                "members_sort" => parsed.members.sort = parse_sort(value, "members")?,
                "members_dir" => parsed.members.direction = parse_direction(value)?,
                "members_page" => parsed.members.page = parse_page(value)?,
                "pending_sort" => parsed.pending.sort = parse_sort(value, "pending invitations")?,
                "pending_dir" => parsed.pending.direction = parse_direction(value)?,
                "pending_page" => parsed.pending.page = parse_page(value)?,
                "history_sort" => parsed.history.sort = parse_sort(value, "invitation history")?,
                "history_dir" => parsed.history.direction = parse_direction(value)?,
                "history_page" => parsed.history.page = parse_page(value)?,
                "links_sort" => parsed.links.sort = parse_sort(value, "invite links")?,
                "links_dir" => parsed.links.direction = parse_direction(value)?,
                "links_page" => parsed.links.page = parse_page(value)?,
                _ => {}
            }
        }
        Ok(parsed)
    }

    /// The query string of this view, leaving defaults out (so the plain page is `?`-free).
    pub fn to_query_string(&self) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        if !self.filter.is_empty() {
            out.append_pair("q", &self.filter);
        }
        fn table<S: SortColumn>(
            out: &mut url::form_urlencoded::Serializer<'_, String>,
            prefix: &str,
            view: &TableView<S>,
        ) {
            if (view.sort, view.direction) != S::DEFAULT {
                out.append_pair(&format!("{prefix}_sort"), view.sort.key());
                out.append_pair(&format!("{prefix}_dir"), direction_key(view.direction));
            }
            if view.page > 1 {
                out.append_pair(&format!("{prefix}_page"), &view.page.to_string());
            }
        }
        table(&mut out, "members", &self.members);
        table(&mut out, "pending", &self.pending);
        table(&mut out, "history", &self.history);
        table(&mut out, "links", &self.links);
        out.finish()
    }

    /// `base` with this view's query string and `#anchor`.
    pub fn href(&self, base: &str, anchor: Option<&str>) -> String {
        let query = self.to_query_string();
        let mut href = base.to_owned();
        if !query.is_empty() {
            href.push('?');
            href.push_str(&query);
        }
        if let Some(anchor) = anchor {
            href.push('#');
            href.push_str(anchor);
        }
        href
    }

    /// The hidden inputs a filter form carries so filtering keeps every table's sort (pages
    /// start again at 1).
    pub fn sort_inputs(&self) -> Vec<(String, String)> {
        let mut inputs = Vec::new();
        fn table<S: SortColumn>(
            inputs: &mut Vec<(String, String)>,
            prefix: &str,
            v: &TableView<S>,
        ) {
            if (v.sort, v.direction) != S::DEFAULT {
                inputs.push((format!("{prefix}_sort"), v.sort.key().to_owned()));
                inputs.push((
                    format!("{prefix}_dir"),
                    direction_key(v.direction).to_owned(),
                ));
            }
        }
        table(&mut inputs, "members", &self.members);
        table(&mut inputs, "pending", &self.pending);
        table(&mut inputs, "history", &self.history);
        table(&mut inputs, "links", &self.links);
        inputs
    }
}

/// A sortable column header: its label, the link that sorts by it, and its current state.
#[derive(Debug, Clone)]
pub struct SortHeader {
    /// The column's label.
    pub label: &'static str,
    /// Sorts by this column (the other direction, when it is already the sort).
    pub href: String,
    /// `ascending` / `descending` for `aria-sort` when this is the current sort.
    pub aria_sort: Option<&'static str>,
    /// What the link does, for screen readers: "sort by Email, Z to A".
    pub hint: String,
}

/// The page navigation of one table.
#[derive(Debug, Clone)]
pub struct Pager {
    /// "1–50 of 200".
    pub range: String,
    /// Previous page, if any.
    pub previous: Option<String>,
    /// Next page, if any.
    pub next: Option<String>,
    /// The current page and how many there are: "Page 2 of 4".
    pub position: String,
    /// Whether there is more than one page.
    pub several: bool,
}

/// Builds the links of one table: sort headers and page navigation.
pub struct TableLinks<'a> {
    /// The page the links point at.
    pub base: &'a str,
    /// The current view.
    pub query: &'a TeamQuery,
    /// The table.
    pub table: Table,
}

impl TableLinks<'_> {
    fn with(&self, set: impl FnOnce(&mut TeamQuery)) -> String {
        let mut q = self.query.clone();
        set(&mut q);
        q.href(self.base, Some(self.table.anchor()))
    }

    /// The header of `column`, labelled `label`, given the table's current `view`, changed
    /// with `set` on a copy of the query.
    pub fn header<S: SortColumn>(
        &self,
        column: S,
        label: &'static str,
        view: TableView<S>,
        set: fn(&mut TeamQuery, TableView<S>),
    ) -> SortHeader {
        let current = view.sort == column;
        let direction = if current {
            match view.direction {
                Direction::Ascending => Direction::Descending,
                Direction::Descending => Direction::Ascending,
            }
        } else {
            column.first_direction()
        };
        let next = TableView {
            sort: column,
            direction,
            page: 1,
        };
        let order = match direction {
            Direction::Ascending => "ascending",
            Direction::Descending => "descending",
        };
        SortHeader {
            label,
            href: self.with(|q| set(q, next)),
            aria_sort: current.then_some(match view.direction {
                Direction::Ascending => "ascending",
                Direction::Descending => "descending",
            }),
            hint: format!("sort by {label}, {order}"),
        }
    }

    /// The page navigation for `total` rows with the table on `view`.
    pub fn pager<S: SortColumn>(
        &self,
        total: i64,
        view: TableView<S>,
        set: fn(&mut TeamQuery, TableView<S>),
    ) -> Pager {
        let pages = ((total + PAGE_ROWS - 1) / PAGE_ROWS).max(1);
        let page = view.page;
        let first = ((page - 1) * PAGE_ROWS + 1).min(total);
        let last = (page * PAGE_ROWS).min(total);
        let go = |p: i64| self.with(|q| set(q, TableView { page: p, ..view }));
        Pager {
            range: if total == 0 {
                "0 of 0".to_owned()
            } else if first > last {
                format!("none of {total}")
            } else {
                format!("{first}–{last} of {total}")
            },
            previous: (page > 1).then(|| go((page - 1).min(pages))),
            next: (page < pages).then(|| go(page + 1)),
            position: format!("Page {page} of {pages}"),
            several: pages > 1 || page > 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_page_has_no_query_string() {
        let q = TeamQuery::parse("").unwrap();
        assert_eq!(q, TeamQuery::default());
        assert_eq!(q.to_query_string(), "");
    }

    #[test]
    fn each_table_keeps_its_own_sort_and_page() {
        let q =
            TeamQuery::parse("q=ada&members_sort=email&members_dir=desc&pending_page=3").unwrap();
        assert_eq!(q.filter, "ada");
        assert_eq!(q.members.sort, MemberSort::Email);
        assert_eq!(q.members.direction, Direction::Descending);
        assert_eq!(q.pending.page, 3);
        assert_eq!(q.history, default_view());
        assert_eq!(
            TeamQuery::parse(&q.to_query_string()).unwrap(),
            q,
            "round trip"
        );
    }

    #[test]
    fn bad_values_are_named() {
        assert!(
            TeamQuery::parse("members_sort=password")
                .unwrap_err()
                .contains("password")
        );
        assert!(TeamQuery::parse("pending_dir=up").is_err());
        assert!(TeamQuery::parse("history_page=0").is_err());
        assert!(TeamQuery::parse("history_page=x").is_err());
        assert!(TeamQuery::parse(&format!("q={}", "a".repeat(255))).is_err());
    }

    #[test]
    fn a_header_link_flips_the_current_sort_and_starts_at_page_one() {
        let q = TeamQuery::parse("members_sort=email&members_page=2").unwrap();
        let links = TableLinks {
            base: "/t",
            query: &q,
            table: Table::Members,
        };
        let set: fn(&mut TeamQuery, TableView<MemberSort>) = |q, v| q.members = v;
        let email = links.header(MemberSort::Email, "Email", q.members, set);
        assert_eq!(email.aria_sort, Some("ascending"));
        assert_eq!(
            email.href,
            "/t?members_sort=email&members_dir=desc#members-heading"
        );
        let joined = links.header(MemberSort::Joined, "Joined", q.members, set);
        assert_eq!(joined.aria_sort, None);
        assert!(joined.href.contains("members_sort=joined&members_dir=desc"));
    }

    #[test]
    fn the_pager_counts_exactly() {
        let q = TeamQuery::parse("members_page=2").unwrap();
        let links = TableLinks {
            base: "/t",
            query: &q,
            table: Table::Members,
        };
        let set: fn(&mut TeamQuery, TableView<MemberSort>) = |q, v| q.members = v;
        let pager = links.pager(120, q.members, set);
        assert_eq!(pager.range, "51–100 of 120");
        assert_eq!(pager.position, "Page 2 of 3");
        assert_eq!(pager.previous.as_deref(), Some("/t#members-heading"));
        assert_eq!(
            pager.next.as_deref(),
            Some("/t?members_page=3#members-heading")
        );
    }
}
