//! Joinery: team membership and invitations for multi-tenant products.
//!
//! Layers (DESIGN.md, "Layout"): [`domain`] decides (roles, permissions, the invitation state
//! machine — no HTTP, no SQL); [`db`] stores (Diesel); [`web`] shows (actix-web and askama);
//! [`mail`] sends; [`config`], [`cli`] and [`startup`] put them together.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod mail;
pub mod metrics;
pub mod password_pool;
pub mod paths;
pub mod service;
pub mod startup;
pub mod web;
pub mod webhooks;
