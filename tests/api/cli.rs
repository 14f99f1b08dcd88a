//! The `joinery` binary as an operator runs it: help, migrations, seeding organizations and
//! staff, and refusing to serve without its secrets.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use joinery::db::Db;
use joinery::db::schema::{memberships, organizations, users};

/// The binary with a clean environment: no inherited `JOINERY_*` or `DATABASE_URL`, its data
/// directory (and working directory) in `dir`. Other suites that run the binary use it too.
pub(crate) fn joinery(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_joinery"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("JOINERY_") || key == "DATABASE_URL" {
            cmd.env_remove(key);
        }
    }
    cmd.env("JOINERY_DATA_DIR", dir)
        .env("JOINERY_LOG", "warn")
        .current_dir(dir)
        .stdin(Stdio::null());
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn open_db(dir: &Path) -> Db {
    Db::connect(&dir.join("joinery.db").display().to_string(), 1).unwrap()
}

fn create_org(dir: &Path, args: &[&str]) -> Output {
    run(joinery(dir)
        .arg("create-org")
        .args(args)
        .env("JOINERY_PASSWORD", "a good long password"))
}

const ACME: [&str; 8] = [
    "--name",
    "Acme",
    "--plan",
    "starter",
    "--owner-email",
    "O@Example.com",
    "--owner-name",
    "Olive",
];

#[test]
fn help_lists_every_command_and_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(joinery(dir.path()).arg("--help"));
    assert!(out.status.success(), "{}", stderr(&out));
    let help = stdout(&out);
    for command in [
        "serve",
        "migrate",
        "create-org",
        "create-staff",
        "demo",
        "sweep",
    ] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(command)),
            "{command} missing from:\n{help}"
        );
    }
    for var in [
        "JOINERY_BIND",
        "DATABASE_URL",
        "JOINERY_BASE_URL",
        "JOINERY_SESSION_KEY",
        "JOINERY_SMTP_URL",
    ] {
        assert!(help.contains(var), "{var} missing from:\n{help}");
    }

    let out = run(joinery(dir.path()).args(["create-org", "--help"]));
    assert!(out.status.success());
    let help = stdout(&out);
    for flag in ["--name", "--plan", "--owner-email", "--owner-name"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn migrate_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(joinery(dir.path()).arg("migrate"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("joinery.db").exists());
    let count = open_db(dir.path())
        .with_conn(|c| Ok(organizations::table.count().get_result::<i64>(c)?))
        .unwrap();
    assert_eq!(count, 0, "the schema is there");
    // Running it again is harmless.
    let again = run(joinery(dir.path()).arg("migrate"));
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("Applied 0"), "{}", stdout(&again));
}

#[test]
fn create_org_creates_the_organization_and_its_owner_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = create_org(dir.path(), &ACME);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Acme"), "{}", stdout(&out));

    let again = create_org(dir.path(), &ACME);
    assert!(again.status.success(), "{}", stderr(&again));

    let db = open_db(dir.path());
    let (orgs, owners, accounts) = db
        .with_conn(|c| {
            let orgs = organizations::table
                .select((organizations::id, organizations::name, organizations::plan))
                .load::<(String, String, String)>(c)?;
            let owners = memberships::table
                .inner_join(users::table.on(users::id.eq(memberships::user_id)))
                .select((
                    memberships::organization_id,
                    users::email,
                    users::name,
                    memberships::role,
                ))
                .load::<(String, String, String, String)>(c)?;
            let accounts = users::table.count().get_result::<i64>(c)?;
            Ok((orgs, owners, accounts))
        })
        .unwrap();
    assert_eq!(orgs.len(), 1, "{orgs:?}");
    let (org_id, name, plan) = &orgs[0];
    assert_eq!((name.as_str(), plan.as_str()), ("Acme", "starter"));
    assert_eq!(
        owners,
        vec![(
            org_id.clone(),
            "o@example.com".to_owned(),
            "Olive".to_owned(),
            "owner".to_owned()
        )]
    );
    assert_eq!(accounts, 1);
}

#[tokio::test]
async fn the_owner_created_by_the_cli_can_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let out = create_org(dir.path(), &ACME);
    assert!(out.status.success(), "{}", stderr(&out));
    let database_url = dir.path().join("joinery.db").display().to_string();
    let app = crate::helpers::spawn_app_with(|s| s.database_url = database_url).await;
    let page = app
        .browser()
        .login("o@example.com", "a good long password")
        .await;
    assert_eq!(page.status, 200);
    assert!(page.path().starts_with("/orgs/"), "{}", page.url);
    assert!(page.shows("Acme") && page.shows("Owner"), "{}", page.text());
}

#[test]
fn create_org_refuses_bad_input_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad_plan = ACME;
    bad_plan[3] = "platinum";
    let out = create_org(dir.path(), &bad_plan);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("platinum") && err.contains("starter"), "{err}");

    let mut bad_email = ACME;
    bad_email[5] = "not-an-email";
    let out = create_org(dir.path(), &bad_email);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--owner-email") && err.contains("not a valid email"),
        "{err}"
    );

    let mut bad_name = ACME;
    bad_name[7] = "";
    let out = create_org(dir.path(), &bad_name);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--owner-name"), "{}", stderr(&out));

    // A new owner with too short a password.
    let out = run(joinery(dir.path())
        .arg("create-org")
        .args(ACME)
        .env("JOINERY_PASSWORD", "short"));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("password"), "{}", stderr(&out));

    // A new owner and no password at all (not a terminal, so no prompt).
    let out = run(joinery(dir.path()).arg("create-org").args(ACME));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("JOINERY_PASSWORD"),
        "{}",
        stderr(&out)
    );

    // Nothing was written by any of these.
    if dir.path().join("joinery.db").exists() {
        let (orgs, accounts) = open_db(dir.path())
            .with_conn(|c| {
                Ok((
                    organizations::table.count().get_result::<i64>(c)?,
                    users::table.count().get_result::<i64>(c)?,
                ))
            })
            .unwrap();
        assert_eq!((orgs, accounts), (0, 0));
    }
}

#[test]
fn create_staff_creates_a_staff_account() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(joinery(dir.path())
        .args([
            "create-staff",
            "--email",
            " Staff@Joinery.Example ",
            "--name",
            "Sam Staff",
        ])
        .env("JOINERY_PASSWORD", "a good long password"));
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = open_db(dir.path())
        .with_conn(|c| {
            Ok(users::table
                .select((users::email, users::name, users::is_staff))
                .load::<(String, String, bool)>(c)?)
        })
        .unwrap();
    assert_eq!(
        rows,
        vec![(
            "staff@joinery.example".to_owned(),
            "Sam Staff".to_owned(),
            true
        )]
    );

    // An existing account is made staff.
    let out = create_org(dir.path(), &ACME);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(joinery(dir.path()).args([
        "create-staff",
        "--email",
        "o@example.com",
        "--name",
        "Olive",
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    let staff = open_db(dir.path())
        .with_conn(|c| {
            Ok(users::table
                .filter(users::email.eq("o@example.com"))
                .select(users::is_staff)
                .first::<bool>(c)?)
        })
        .unwrap();
    assert!(staff);
}

/// Runs `cmd`, killing it if it is still running after `limit` (a server that did start).
fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!("still running after {limit:?}: {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn serve_without_dev_needs_the_session_key() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&[][..], &["serve"][..]] {
        let out = run_with_timeout(
            joinery(dir.path())
                .args(args)
                .env("JOINERY_BIND", "127.0.0.1:0"),
            Duration::from_secs(20),
        );
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(err.contains("JOINERY_SESSION_KEY"), "{err}");
    }
    // With a session key but no token key, the token key is named.
    let out = run_with_timeout(
        joinery(dir.path())
            .arg("serve")
            .env("JOINERY_BIND", "127.0.0.1:0")
            .env("JOINERY_SESSION_KEY", "ab".repeat(64)),
        Duration::from_secs(20),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("JOINERY_TOKEN_KEY"),
        "{}",
        stderr(&out)
    );
    // A key that is too short is refused, not padded.
    let out = run_with_timeout(
        joinery(dir.path())
            .arg("serve")
            .env("JOINERY_BIND", "127.0.0.1:0")
            .env("JOINERY_SESSION_KEY", "ab".repeat(16)),
        Duration::from_secs(20),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("JOINERY_SESSION_KEY"),
        "{}",
        stderr(&out)
    );
}

/// A PostgreSQL URL with a password, for a server that is not there (an unused loopback port).
const SECRET: &str = "Hunter2-never-shown";

#[test]
fn a_start_up_failure_never_prints_the_database_password() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::helpers::unused_port();
    let url = format!("postgres://joinery:{SECRET}@127.0.0.1:{port}/joinery");
    let out = run(joinery(dir.path())
        .args(["serve", "--dev"])
        .env("DATABASE_URL", &url)
        .env("JOINERY_LOG", "debug"));
    assert!(!out.status.success());
    let (printed, errors) = (stdout(&out), stderr(&out));
    assert!(
        !printed.contains(SECRET) && !errors.contains(SECRET),
        "the password was printed:\n{printed}\n{errors}"
    );
    assert!(
        errors.contains(&format!(
            "opening database postgres://joinery:***@127.0.0.1:{port}/joinery"
        )),
        "{errors}"
    );

    // Nor does `--help` show the variable's value.
    let help = run(joinery(dir.path()).arg("--help").env("DATABASE_URL", &url));
    assert!(help.status.success(), "{}", stderr(&help));
    assert!(!stdout(&help).contains(SECRET), "{}", stdout(&help));
}

/// The systemd unit in `deploy/` (README, "Deploy") runs commands and flags that exist: every
/// `Exec…=` line names a `joinery` subcommand whose `--help` lists each flag the line passes.
#[test]
fn the_systemd_unit_names_commands_and_flags_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/joinery.service"
    ))
    .unwrap();
    let lines: Vec<&str> = unit
        .lines()
        .filter_map(|l| {
            l.strip_prefix("ExecStart=")
                .or_else(|| l.strip_prefix("ExecStartPre="))
        })
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "ExecStartPre (migrate) and ExecStart (serve): {unit}"
    );
    for line in lines {
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some("/usr/local/bin/joinery"), "{line}");
        let command = words.next().unwrap();
        let help = run(joinery(dir.path()).args([command, "--help"]));
        assert!(help.status.success(), "{command}: {}", stderr(&help));
        let help = stdout(&help);
        let flags: Vec<&str> = words.filter(|w| w.starts_with("--")).collect();
        for flag in &flags {
            assert!(
                help.contains(&format!("{flag} <")) || help.contains(&format!("{flag}\n")),
                "`joinery {command}` has no flag {flag}:\n{help}"
            );
        }
    }
}
