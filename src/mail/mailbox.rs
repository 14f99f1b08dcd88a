//! Reads the development mailbox directory for `/dev/mailbox`: each `.eml` file lettre wrote,
//! parsed back with mail-parser, newest first.

use std::path::Path;

use mail_parser::MessageParser;

/// The most messages the development mailbox lists.
pub const MAX_LISTED: usize = 200;

/// One delivered message as the development mailbox shows it.
#[derive(Debug, Clone)]
pub struct MailboxMessage {
    /// The file stem (lettre's message id).
    pub id: String,
    /// Recipient addresses.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// The `Date` header as sent.
    pub date: String,
    /// The plain-text body.
    pub text: String,
    /// Every `http(s)://` link in the text body, in order.
    pub links: Vec<String>,
}

/// Every `http://` or `https://` link in `text`.
pub fn links_in(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
        .map(|w| w.trim_end_matches(['.', ',', ')', '>']).to_owned())
        .collect()
}

/// Reads up to [`MAX_LISTED`] messages from `dir`, newest first. Unreadable files are skipped.
///
/// # Errors
/// An I/O error if the directory cannot be listed.
pub fn read(dir: &Path) -> std::io::Result<Vec<MailboxMessage>> {
    let mut files: Vec<(std::time::SystemTime, std::path::PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    let mut out = Vec::new();
    for (_, path) in files.into_iter().take(MAX_LISTED) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Some(msg) = MessageParser::default().parse(&bytes) else {
            continue;
        };
        let to = msg
            .to()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.address())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let text = msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
        out.push(MailboxMessage {
            id: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            to,
            subject: msg.subject().unwrap_or_default().to_owned(),
            date: msg.date().map(|d| d.to_rfc3339()).unwrap_or_default(),
            links: links_in(&text),
            text,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_links() {
        assert_eq!(
            links_in("Open http://x.test/invitations/abc. Or https://y.test/a, thanks"),
            vec!["http://x.test/invitations/abc", "https://y.test/a"]
        );
    }
}
