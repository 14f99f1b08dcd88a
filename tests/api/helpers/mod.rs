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

/// Reads `read()` every 50 ms until `done` holds of what it read, or `secs` seconds have
/// passed; returns the last reading either way, for the caller to assert on. For state that
/// follows an event the test saw a moment later — an email the SMTP server accepted is marked
/// sent when its batch commits, which on a loaded machine can take a while.
pub async fn eventually<T>(secs: u64, mut read: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let value = read();
        if done(&value) || std::time::Instant::now() >= deadline {
            return value;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
