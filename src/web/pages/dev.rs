//! `/dev/mailbox`: the emails Joinery "sent" in development, with their links, so a newcomer can
//! follow an invitation without any mail server. It exists only in development mode.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use super::render;
use super::team::TimeView;
use crate::mail::mailbox::{self, MailboxMessage};
use crate::web::extractors::PageVisit;
use crate::web::{AppError, Layout};

#[derive(Template, WebTemplate)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    layout: Layout,
    messages: Vec<(MailboxMessage, Option<TimeView>)>,
    smtp: bool,
}

/// GET /dev/mailbox — 404 unless in development mode.
pub async fn mailbox(visit: PageVisit) -> Result<HttpResponse, AppError> {
    let state = &visit.state;
    if !state.settings.dev {
        return Err(AppError::NotFound);
    }
    let messages = match state.mailer.mailbox_dir().cloned() {
        Some(dir) => web::block(move || mailbox::read(&dir))
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?
            .map_err(|e| AppError::Internal(e.into()))?,
        None => Vec::new(),
    };
    let now = state.clock.now();
    // The `Date` header is RFC 3339 here; one that is not is shown as sent.
    let messages = messages
        .into_iter()
        .map(|m| {
            let sent = chrono::DateTime::parse_from_rfc3339(&m.date)
                .ok()
                .map(|d| TimeView::new(d.to_utc(), now));
            (m, sent)
        })
        .collect();
    let mut resp = render(&MailboxPage {
        layout: visit.layout("Development mailbox")?,
        smtp: state.mailer.mailbox_dir().is_none(),
        messages,
    })?;
    resp.headers_mut().insert(
        actix_web::http::header::REFERRER_POLICY,
        actix_web::http::header::HeaderValue::from_static("no-referrer"),
    );
    Ok(resp)
}
