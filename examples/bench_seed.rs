//! Seeds a database for the HTTP benchmark (`bench/run.sh`): organization A (Enterprise,
//! unlimited seats) with 200 members and 50 pending invitations, organization B (Enterprise) with 10,000
//! members, and one Owner of both to sign in as. Everything is written through `joinery::db`
//! in one transaction, with one precomputed argon2 hash shared by every seeded account, so it
//! takes a second or two.
//!
//! `cargo run --release --example bench_seed -- --database-url PATH --token-key HEX`
//!
//! Prints shell assignments on stdout (`ORG_A=…`, `ORG_B=…`, `ADMIN_EMAIL=…`,
//! `ADMIN_PASSWORD=…`, `INVITE_TOKEN=…`, `API_TOKEN=…`) for the script to `eval`. `API_TOKEN`
//! is an API token of A acting as Admin (the JSON API scenarios). `INVITE_TOKEN` is the link
//! token of one pending invitation of A whose address has no account (the acceptance page's
//! "Create account & join" branch), derived from its stored nonce with the same token key the
//! server is given.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use diesel::prelude::*;
use joinery::db::invitations::{Creation, InviteBatch, create_all};
use joinery::db::{self, Db, DbError};
use joinery::domain::invitation::InviteEntry;
use joinery::domain::password::{Password, hash_password};
use joinery::domain::text::{OrganizationName, PersonName};
use joinery::domain::token::{LinkToken, TokenKey, TokenNonce};
use joinery::domain::{Clock, EmailAddress, OrganizationId, Plan, Role, SystemClock, UserId};

#[derive(Parser)]
struct Args {
    /// SQLite path (or any `DATABASE_URL`); migrated here if new.
    #[arg(long)]
    database_url: String,
    /// The server's invitation token key (hex, 32 bytes), to derive `INVITE_TOKEN`.
    #[arg(long)]
    token_key: String,
    /// Members of organization A (its Owner included).
    #[arg(long, default_value_t = 200)]
    members_a: usize,
    /// Pending invitations of organization A.
    #[arg(long, default_value_t = 50)]
    pending_a: usize,
    /// Members of organization B (its Owner included).
    #[arg(long, default_value_t = 10_000)]
    members_b: usize,
}

const ADMIN_EMAIL: &str = "owner@bench.test";
const ADMIN_PASSWORD: &str = "bench-password-1";

const FIRST: [&str; 16] = [
    "Ada", "Bela", "Chen", "Dara", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kiri",
    "Luca", "Maya", "Nils", "Omar", "Priya",
];
const LAST: [&str; 12] = [
    "Nakamura",
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Kowalski",
    "Haddad",
    "García",
    "Byrne",
    "Schmidt",
    "Rossi",
    "Tanaka",
    "Ivanova",
];

fn corrupt(e: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(e.to_string())
}

fn person(i: usize) -> Result<PersonName, DbError> {
    PersonName::parse(&format!(
        "{} {} {i}",
        FIRST[i % FIRST.len()],
        LAST[(i / FIRST.len()) % LAST.len()]
    ))
    .map_err(corrupt)
}

/// Adds `count - 1` members (the Owner is the first) to `org`, with a spread of roles, half
/// of them recorded as invited by the Owner.
fn add_members(
    c: &mut db::Conn,
    org: OrganizationId,
    owner: UserId,
    tag: &str,
    count: usize,
    hash: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbError> {
    const ROLES: [Role; 8] = [
        Role::Viewer,
        Role::Viewer,
        Role::Viewer,
        Role::Writer,
        Role::Writer,
        Role::Editor,
        Role::Editor,
        Role::Admin,
    ];
    for i in 1..count {
        let email =
            EmailAddress::parse(&format!("member-{i:05}@{tag}.bench.test")).map_err(corrupt)?;
        let user = db::users::insert(c, &email, &person(i)?, hash, false, now)?;
        let invited_by = (i % 2 == 0).then_some(owner);
        let joined = now - chrono::Duration::minutes(i as i64);
        db::organizations::add_member(
            c,
            org,
            user,
            ROLES[i % ROLES.len()],
            invited_by,
            None,
            joined,
        )?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let key_bytes: [u8; 32] = hex::decode(args.token_key.trim())
        .context("--token-key must be hex")?
        .try_into()
        .map_err(|_| anyhow::anyhow!("--token-key must be 32 bytes"))?;
    let key = TokenKey::from_bytes(key_bytes);
    let started = Instant::now();
    let db = Db::connect(&args.database_url, 1)?;
    db.migrate()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    // One argon2id hash (OWASP parameters) for every account: seeding must not spend 10,000
    // hashes. Only the Owner ever signs in.
    let hash = hash_password(&Password::new_account(ADMIN_PASSWORD).map_err(anyhow::Error::msg)?)
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    // Accounts and memberships in one transaction; then the invitations and their emails
    // (`db::invitations::create_all`) in a write transaction of their own.
    let (org_a, org_b, owner) = db.with_conn(|c| {
        db::write_transaction(c, |c| {
            let owner = db::users::insert(
                c,
                &EmailAddress::parse(ADMIN_EMAIL).map_err(corrupt)?,
                &PersonName::parse("Bench Owner").map_err(corrupt)?,
                &hash,
                false,
                now - chrono::Duration::days(30),
            )?;
            let org_a = db::organizations::insert(
                c,
                &OrganizationName::parse("Bench A").map_err(corrupt)?,
                Plan::Enterprise,
                now,
            )?;
            let org_b = db::organizations::insert(
                c,
                &OrganizationName::parse("Bench B").map_err(corrupt)?,
                Plan::Enterprise,
                now,
            )?;
            for org in [org_a.id, org_b.id] {
                db::organizations::add_member(c, org, owner, Role::Owner, None, None, now)?;
            }
            add_members(c, org_a.id, owner, "a", args.members_a, &hash, now)?;
            add_members(c, org_b.id, owner, "b", args.members_b, &hash, now)?;
            Ok((org_a.id, org_b.id, owner))
        })
    })?;
    let nonce = db.with_conn(|c| {
        let entries: Vec<InviteEntry> = (0..args.pending_a)
            .map(|i| {
                Ok(InviteEntry {
                    email: EmailAddress::parse(&format!("pending-{i:03}@invitee.bench.test"))
                        .map_err(corrupt)?,
                    role: if i % 5 == 0 {
                        Role::Editor
                    } else {
                        Role::Viewer
                    },
                    message: None,
                    department: None,
                })
            })
            .collect::<Result<_, DbError>>()?;
        let batch = InviteBatch {
            organization: org_a,
            inviter: owner,
            ttl: chrono::Duration::days(7),
            now,
            send_email: true,
        };
        // Every address is new: the invitations and their emails are stored as they are.
        let creations: Vec<Creation<'_>> = entries.iter().map(Creation::from).collect();
        db::write_transaction(c, |c| create_all(c, &batch, &creations, &key))?;

        use joinery::db::schema::invitations;
        let nonce: String = invitations::table
            .filter(invitations::organization_id.eq(org_a.to_string()))
            .filter(invitations::email.eq("pending-001@invitee.bench.test"))
            .select(invitations::token_nonce)
            .first(c)?;
        Ok(nonce)
    })?;
    let token = LinkToken::derive(&key, &TokenNonce(nonce));
    // An API token of A (Admin, no expiry) for the JSON API scenarios.
    let api_secret = joinery::domain::api_token::ApiSecret::generate();
    db.with_conn(|c| {
        let api_token = joinery::domain::api_token::ApiToken {
            id: joinery::domain::ApiTokenId::new(),
            organization_id: org_a,
            name: "bench".into(),
            role: Role::Admin,
            created_by: owner,
            created_at: now,
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
        };
        db::api_tokens::insert(c, &api_token, &api_secret)
    })?;
    eprintln!(
        "seeded {} + {} members and {} pending invitations in {:.2}s",
        args.members_a,
        args.members_b,
        args.pending_a,
        started.elapsed().as_secs_f64()
    );
    println!("ORG_A={org_a}");
    println!("ORG_B={org_b}");
    println!("ADMIN_EMAIL={ADMIN_EMAIL}");
    println!("ADMIN_PASSWORD={ADMIN_PASSWORD}");
    println!("INVITE_TOKEN={}", token.expose());
    println!("API_TOKEN={}", api_secret.expose());
    Ok(())
}
