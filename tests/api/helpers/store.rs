//! Reading the app's database and moving its clock.

use chrono::Utc;
use joinery::db;
use joinery::domain::OrganizationId;

use super::TestApp;

impl TestApp {
    /// Runs a query against the app's database.
    pub fn query<R>(&self, f: impl FnOnce(&mut db::Conn) -> Result<R, db::DbError>) -> R {
        self.db.with_conn(f).unwrap()
    }

    /// Runs one SQL statement against the app's database, behind every handler's back.
    pub fn execute(&self, sql: &str) {
        use diesel::RunQueryDsl as _;
        self.query(|c| Ok(diesel::sql_query(sql).execute(c).map(|_| ())?));
    }

    /// Counts the rows of the invitations table.
    pub fn invitation_count(&self) -> i64 {
        use diesel::prelude::*;
        self.query(|c| {
            Ok(db::schema::invitations::table
                .count()
                .get_result::<i64>(c)?)
        })
    }

    pub fn clock_now(&self) -> chrono::DateTime<Utc> {
        use joinery::domain::Clock;
        self.clock.now()
    }

    /// Advances the app's clock.
    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }

    /// The audit actions recorded for `org`, oldest first.
    pub fn audit_actions(&self, org: OrganizationId) -> Vec<(String, bool)> {
        let (rows, _) = self.query(|c| db::audit::list(c, org, None, None, 1000, 0));
        rows.into_iter()
            .rev()
            .map(|r| (r.action, r.actor_is_staff))
            .collect()
    }
}

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// Every table of the app's database (migration bookkeeping included), sorted.
pub fn table_names(app: &TestApp) -> Vec<String> {
    use diesel::RunQueryDsl as _;
    let sql = match app.db.backend() {
        db::Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             ORDER BY name"
        }
        db::Backend::Postgres => {
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY name"
        }
    };
    let names: Vec<Name> = app.query(|c| Ok(diesel::sql_query(sql).load(c)?));
    names.into_iter().map(|n| n.name).collect()
}

/// The columns of `table`, in table order.
pub fn column_names(app: &TestApp, table: &str) -> Vec<String> {
    use diesel::RunQueryDsl as _;
    let sql = match app.db.backend() {
        db::Backend::Sqlite => {
            format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid")
        }
        db::Backend::Postgres => format!(
            "SELECT column_name::text AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = '{table}' \
             ORDER BY ordinal_position"
        ),
    };
    let names: Vec<Name> = app.query(|c| Ok(diesel::sql_query(sql).load(c)?));
    names.into_iter().map(|n| n.name).collect()
}

/// Every row of `table` as `column=value, …` over all its columns (NULL as `NULL`), sorted:
/// a snapshot to compare before and after something that must not write to it.
pub fn table_rows(app: &TestApp, table: &str) -> Vec<String> {
    use diesel::RunQueryDsl as _;
    let row = column_names(app, table)
        .iter()
        .map(|c| format!("'{c}=' || COALESCE(CAST(\"{c}\" AS TEXT), 'NULL')"))
        .collect::<Vec<_>>()
        .join(" || ', ' || ");
    let sql = format!("SELECT {row} AS name FROM \"{table}\" ORDER BY 1");
    let rows: Vec<Name> = app.query(|c| Ok(diesel::sql_query(sql).load(c)?));
    rows.into_iter().map(|r| r.name).collect()
}

/// Every `(table, column)` of the database whose text contains `needle`.
pub fn columns_containing(app: &TestApp, needle: &str) -> Vec<(String, String)> {
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Text};
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    // The substring test in each backend's dialect.
    let contains = match app.db.backend() {
        db::Backend::Sqlite => "instr(CAST(\"{column}\" AS TEXT), ?) > 0",
        db::Backend::Postgres => "strpos(CAST(\"{column}\" AS TEXT), $1) > 0",
    };
    let mut hits = Vec::new();
    for table in table_names(app) {
        for column in column_names(app, &table) {
            let sql = format!(
                "SELECT count(*) AS n FROM \"{table}\" WHERE {}",
                contains.replace("{column}", &column)
            );
            let found: Count = app.query(|c| {
                Ok(diesel::sql_query(sql)
                    .bind::<Text, _>(needle)
                    .get_result(c)?)
            });
            if found.n > 0 {
                hits.push((table.clone(), column));
            }
        }
    }
    hits
}
