//! The integration suite: one binary (so it links once), one module per area. Every test starts
//! the real server on a random port with its own SQLite database and drives it over HTTP as a
//! browser does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod faults;
mod instances;
mod ops;
mod outbox;

mod acceptance;
mod api_v1;
mod audit;
mod auth;
mod ceiling;
mod cli;
mod csv_import;
mod domains;
mod email;
mod governance;
mod input_rules;
mod invite_links;
mod join_requests;
mod limits;
mod policy;
mod reminders;
mod renewal;
mod seats;
mod security;
mod signup;
mod statuses;
mod team;
mod team_scale;
mod upgrade;
mod webhooks;
