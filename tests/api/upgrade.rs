//! Upgrading from the first release (README, "Backup and upgrade"): a database made by
//! v0.1.0's migrations, with data in every table, migrates to the current schema and loses
//! nothing. Migrations are never edited once released, so the first five embedded ones are
//! exactly v0.1.0's; the test builds the old database from them, on SQLite and (with
//! `JOINERY_TEST_POSTGRES_URL`) on PostgreSQL.

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use joinery::db::{self, AnyConnection, Backend, Db};

use crate::helpers::TestDatabase;

/// How many migrations v0.1.0 shipped, and the version of its last (`2026-11-22-000040_import_results`).
const V0_1_0_MIGRATIONS: usize = 5;
const V0_1_0_LAST: &str = "20261122000040";

/// One row in every table of v0.1.0's schema, linked to each other as the app links them.
const V0_1_0_DATA: &[&str] = &[
    "INSERT INTO users (id, email, name, password_hash, is_staff, created_at) VALUES \
     ('u-1', 'owner@acme.test', 'Olive Owner', '$argon2id$hash', FALSE, '2026-11-30 09:00:00'), \
     ('u-2', 'sam@joinery.test', 'Sam Staff', '$argon2id$hash2', TRUE, '2026-11-30 09:01:00')",
    "INSERT INTO organizations (id, name, plan, created_at) VALUES \
     ('o-1', 'Acme', 'professional', '2026-11-30 09:00:00')",
    "INSERT INTO memberships (id, organization_id, user_id, role, invited_by, notify_on_join, \
     created_at, department) VALUES \
     ('m-1', 'o-1', 'u-1', 'owner', NULL, TRUE, '2026-11-30 09:00:00', 'Sales')",
    "INSERT INTO invitations (id, organization_id, email, role, message, invited_by, token_nonce, \
     token_hash, status, status_reason, created_at, expires_at, last_resent_at, resend_count, \
     decided_at, accepted_by, renewal_requested_at, department) VALUES \
     ('i-1', 'o-1', 'pat@example.com', 'editor', 'Welcome!', 'u-1', 'nonce-1', 'hash-1', 'pending', \
     NULL, '2026-11-30 10:00:00', '2026-12-07 10:00:00', '2026-11-30 10:05:00', 1, NULL, NULL, \
     NULL, 'Ops')",
    "INSERT INTO invite_links (id, organization_id, role, created_by, token_hash, status, \
     created_at, expires_at, used_by, decided_at) VALUES \
     ('l-1', 'o-1', 'viewer', 'u-1', 'hash-2', 'active', '2026-11-30 11:00:00', \
     '2026-12-01 11:00:00', NULL, NULL)",
    "INSERT INTO invitation_imports (id, organization_id, created_by, file_name, content, created_at, \
     expires_at, sent_at, result) VALUES \
     ('c-1', 'o-1', 'u-1', 'people.csv', 'email,role,department,message', '2026-11-30 12:00:00', \
     '2026-11-30 13:00:00', NULL, NULL)",
    "INSERT INTO tenant_invitations (id, email, plan, message, invited_by, token_nonce, token_hash, \
     status, status_reason, created_at, expires_at, last_resent_at, resend_count, decided_at, \
     accepted_by, organization_id) VALUES \
     ('t-1', 'founder@example.com', 'starter', NULL, 'u-2', 'nonce-3', 'hash-3', 'pending', NULL, \
     '2026-11-30 13:00:00', '2026-12-07 13:00:00', NULL, 0, NULL, NULL, NULL)",
    "INSERT INTO signup_requests (id, email, token_nonce, token_hash, created_at, expires_at, \
     used_at) VALUES \
     ('s-1', 'new@example.com', 'nonce-4', 'hash-4', '2026-11-30 14:00:00', \
     '2026-12-01 14:00:00', NULL)",
    "INSERT INTO audit_events (id, organization_id, action, actor_id, actor_label, actor_is_staff, \
     target, details, ip, user_agent, created_at) VALUES \
     ('a-1', 'o-1', 'invitation.sent', 'u-1', 'Olive Owner <owner@acme.test>', FALSE, \
     'pat@example.com', 'Editor', '127.0.0.1', 'test', '2026-11-30 10:00:00')",
    "INSERT INTO sessions (key_hash, user_id, state, expires_at) VALUES \
     ('k-1', 'u-1', '{\"user_id\":\"\\\"u-1\\\"\"}', '2026-11-30 22:00:00')",
    "INSERT INTO outbox_emails (id, kind, invitation_id, recipient, payload, status, attempts, \
     next_attempt_at, locked_until, last_error, created_at, sent_at) VALUES \
     ('e-1', 'invitation', 'i-1', 'pat@example.com', '{}', 'sent', 1, '2026-11-30 10:00:00', \
     NULL, NULL, '2026-11-30 10:00:00', '2026-11-30 10:00:01')",
];

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

fn names(conn: &mut AnyConnection, sql: &str) -> Vec<String> {
    diesel::sql_query(sql)
        .load::<Name>(conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect()
}

fn tables(conn: &mut AnyConnection, backend: Backend) -> Vec<String> {
    names(
        conn,
        match backend {
            Backend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                 AND name != '__diesel_schema_migrations' ORDER BY name"
            }
            Backend::Postgres => {
                "SELECT table_name::text AS name FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                 AND table_name != '__diesel_schema_migrations' ORDER BY name"
            }
        },
    )
}

fn columns(conn: &mut AnyConnection, backend: Backend, table: &str) -> Vec<String> {
    names(
        conn,
        &match backend {
            Backend::Sqlite => {
                format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid")
            }
            Backend::Postgres => format!(
                "SELECT column_name::text AS name FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = '{table}' \
                 ORDER BY ordinal_position"
            ),
        },
    )
}

/// Every row of `table` over `cols`, as text (booleans as 0/1 on both backends), sorted.
fn rows(conn: &mut AnyConnection, table: &str, cols: &[String]) -> Vec<String> {
    let row = cols
        .iter()
        .map(|c| {
            format!(
                "'{c}=' || COALESCE(CASE WHEN CAST(\"{c}\" AS TEXT) IN ('true', 'false') \
                 THEN CASE WHEN CAST(\"{c}\" AS TEXT) = 'true' THEN '1' ELSE '0' END \
                 ELSE CAST(\"{c}\" AS TEXT) END, 'NULL')"
            )
        })
        .collect::<Vec<_>>()
        .join(" || ', ' || ");
    names(
        conn,
        &format!("SELECT {row} AS name FROM \"{table}\" ORDER BY 1"),
    )
}

/// Runs the first `n` pending migrations of `migrations`; returns the last one's name.
fn migrate_first(conn: &mut AnyConnection, n: usize) -> String {
    fn run<C: MigrationHarness<B>, B: diesel::backend::Backend>(
        c: &mut C,
        m: fn() -> EmbeddedMigrations,
        n: usize,
    ) -> String {
        let mut last = String::new();
        for _ in 0..n {
            last = c.run_next_migration(m()).unwrap().to_string();
        }
        last
    }
    match conn {
        AnyConnection::Sqlite(c) => run(c, || db::SQLITE_MIGRATIONS, n),
        AnyConnection::Postgresql(c) => run(c, || db::POSTGRES_MIGRATIONS, n),
    }
}

#[test]
fn a_v0_1_0_database_with_data_in_every_table_migrates_to_the_current_schema_losing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pg = TestDatabase::from_env();
    let url = pg.as_ref().map_or_else(
        || dir.path().join("old.db").display().to_string(),
        |d| d.url.clone(),
    );
    let database = Db::connect(&url, 1).unwrap();
    let backend = database.backend();
    let before = database
        .with_conn(|c| {
            let last = migrate_first(c, V0_1_0_MIGRATIONS);
            assert!(last.contains(V0_1_0_LAST), "v0.1.0 ended with {last}");
            for sql in V0_1_0_DATA {
                diesel::sql_query(*sql).execute(c)?;
            }
            let mut snapshot = Vec::new();
            for table in tables(c, backend) {
                let cols = columns(c, backend, &table);
                let data = rows(c, &table, &cols);
                assert!(!data.is_empty(), "v0.1.0's table {table} has no test row");
                snapshot.push((table, cols, data));
            }
            Ok(snapshot)
        })
        .unwrap();
    assert_eq!(
        before.len(),
        11,
        "every v0.1.0 table: {:?}",
        before.iter().map(|t| &t.0).collect::<Vec<_>>()
    );

    let ran = database.migrate().unwrap();
    assert!(ran >= 1, "the current schema adds migrations after v0.1.0");
    database
        .with_conn(|c| {
            for (table, cols, data) in &before {
                assert_eq!(&rows(c, table, cols), data, "{table} after the upgrade");
            }
            Ok(())
        })
        .unwrap();
    drop(database);
    drop(pg);
}
