//! Outbox delivery throughput: how many emails per second go from the outbox to a real SMTP
//! server on loopback, with a given number of delivery workers.
//!
//! `cargo run --release --example outbox_bench -- --emails 2000 --workers 1`
//! Set `--database-url postgres://…/db` to measure on PostgreSQL (the database must exist and
//! be empty); the default is a fresh SQLite file in a temporary directory. `bench/outbox.sh`
//! runs the standard table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use joinery::db::invitations::{Creation, InviteBatch, create_all};
use joinery::db::{self, Db};
use joinery::domain::invitation::InviteEntry;
use joinery::domain::password::{Password, hash_password};
use joinery::domain::text::{OrganizationName, PersonName};
use joinery::domain::token::TokenKey;
use joinery::domain::{Clock, EmailAddress, Plan, Role, SystemClock};
use joinery::mail::Mailer;
use joinery::mail::outbox::{MailLinks, OutboxWorker};

#[path = "../tests/support/smtp_sink.rs"]
mod smtp_sink;

#[derive(Parser)]
struct Args {
    /// Emails to deliver.
    #[arg(long, default_value_t = 2000)]
    emails: usize,
    /// Concurrent delivery workers.
    #[arg(long, default_value_t = 1)]
    workers: u32,
    /// Database URL (default: a fresh SQLite file).
    #[arg(long)]
    database_url: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| dir.path().join("bench.db").display().to_string());
    let db = Db::connect(&url, 8)?;
    db.migrate()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();

    // Seed: one organization, its Owner, and `emails` pending invitations (one outbox row
    // each), written before any worker runs.
    let hash = hash_password(&Password::new_account("bench password").map_err(anyhow::Error::msg)?)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let key = TokenKey::from_bytes([7; 32]);
    let emails: Vec<EmailAddress> = (0..args.emails)
        .map(|i| EmailAddress::parse(&format!("bench-{i}@example.com")))
        .collect::<Result<_, _>>()?;
    db.with_conn(|c| {
        let owner = db::users::insert(
            c,
            &EmailAddress::parse("owner@bench.test")
                .map_err(|e| db::DbError::Corrupt(e.to_string()))?,
            &PersonName::parse("Bench Owner").map_err(|e| db::DbError::Corrupt(e.to_string()))?,
            &hash,
            false,
            now,
        )?;
        let org = db::organizations::insert(
            c,
            &OrganizationName::parse("Bench").map_err(|e| db::DbError::Corrupt(e.to_string()))?,
            Plan::Enterprise,
            now,
        )?;
        db::organizations::add_member(c, org.id, owner, Role::Owner, None, None, now)?;
        let batch = InviteBatch {
            organization: org.id,
            inviter: owner,
            ttl: chrono::Duration::days(7),
            now,
            send_email: true,
        };
        for chunk in emails.chunks(1000) {
            let entries: Vec<InviteEntry> = chunk
                .iter()
                .map(|email| InviteEntry {
                    email: email.clone(),
                    role: Role::Viewer,
                    message: None,
                    department: None,
                })
                .collect();
            // Every address is new: the invitations and their emails are stored as they are.
            let creations: Vec<Creation<'_>> = entries.iter().map(Creation::from).collect();
            db::write_transaction(c, |c| create_all(c, &batch, &creations, &key))?;
        }
        Ok(())
    })?;

    let smtp = smtp_sink::SmtpServer::start();
    let mailer = Mailer::smtp(&smtp.url(), "Joinery <no-reply@joinery.test>")?;
    let worker = OutboxWorker::new(
        db.clone(),
        mailer,
        clock,
        MailLinks {
            base_url: "http://127.0.0.1:8080".into(),
            token_key: key,
        },
        Duration::from_millis(50),
    );
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.workers)
        .map(|_| tokio::spawn(worker.clone().run(stop_rx.clone())))
        .collect();
    let got = smtp.wait_for(args.emails, 600).await;
    let elapsed = started.elapsed();
    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    let backend = if url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    println!(
        "backend={backend} workers={} emails={} delivered={} seconds={:.2} emails_per_second={:.0}",
        args.workers,
        args.emails,
        got.len(),
        elapsed.as_secs_f64(),
        got.len() as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
