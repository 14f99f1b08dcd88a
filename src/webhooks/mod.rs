//! Delivering webhooks (issue 15 §2): the SSRF [`guard`] every endpoint address passes — at
//! registration and again at delivery, after DNS resolution — and the [`worker`] that POSTs
//! the webhook outbox's events with Standard Webhooks signatures.

pub mod guard;
pub mod worker;
