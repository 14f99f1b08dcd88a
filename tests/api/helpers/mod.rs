//! What every integration test uses, one module per concern: [`app`] starts the app (a small
//! builder), [`seed`] writes accounts and organizations, [`browser`] drives it as a browser
//! does, [`mail`] reads what it sent, [`store`] reads its database and moves its clock. Paths
//! come from `joinery::paths`, as the app's own do.

#![allow(dead_code)] // Shared by every test module; not each module uses every helper.

mod app;
mod browser;
mod mail;
mod seed;
mod store;

pub use app::*;
pub use browser::*;
pub use mail::*;
pub use seed::*;
pub use store::*;
