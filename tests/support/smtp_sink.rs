//! A real SMTP server for tests and benchmarks: mailin-embedded on a loopback port, recording
//! every message it receives. Shared by `tests/api` and `examples/outbox_bench.rs`.
#![allow(dead_code)] // Each includer uses part of it.

use std::sync::Mutex;
use std::time::Duration as StdDuration;

/// A message as a real SMTP server received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// MAIL FROM.
    pub from: String,
    /// RCPT TO, in order.
    pub recipients: Vec<String>,
    /// The DATA as sent (headers and body).
    pub data: String,
}

impl Received {
    /// The message parsed with mail-parser: (subject, text part, HTML part).
    pub fn parts(&self) -> (String, String, String) {
        let msg = mail_parser::MessageParser::default()
            .parse(self.data.as_bytes())
            .unwrap();
        (
            msg.subject().unwrap_or_default().to_owned(),
            msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
            msg.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
        )
    }

    /// The invitation link in the text part.
    pub fn invitation_link(&self) -> String {
        let (_, text, _) = self.parts();
        text.split_whitespace()
            .find(|w| w.contains("/invitations/"))
            .unwrap_or_else(|| panic!("no invitation link in {text}"))
            .to_owned()
    }
}

#[derive(Clone)]
struct SinkHandler {
    inbox: std::sync::Arc<Mutex<Vec<Received>>>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl mailin_embedded::Handler for SinkHandler {
    /// Refuses for good (550, "Mailbox unavailable") any recipient whose address starts with
    /// `bounce`, as a server refuses a mailbox that does not exist; accepts the rest.
    fn rcpt(&mut self, to: &str) -> mailin_embedded::Response {
        if to.trim_start_matches('<').starts_with("bounce") {
            mailin_embedded::response::NO_MAILBOX
        } else {
            mailin_embedded::response::OK
        }
    }

    fn data_start(
        &mut self,
        _domain: &str,
        from: &str,
        _is8bit: bool,
        to: &[String],
    ) -> mailin_embedded::Response {
        self.from = from.to_owned();
        self.to = to.to_vec();
        self.data.clear();
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        self.inbox.lock().unwrap().push(Received {
            from: std::mem::take(&mut self.from),
            recipients: std::mem::take(&mut self.to),
            data: String::from_utf8_lossy(&std::mem::take(&mut self.data)).into_owned(),
        });
        mailin_embedded::response::OK
    }
}

/// A real SMTP server (mailin-embedded) on a loopback port, recording what it receives. It
/// runs on its own threads until the test process ends. Addresses starting with `bounce` are
/// refused with 550.
#[derive(Clone)]
pub struct SmtpServer {
    /// `127.0.0.1:PORT`.
    pub addr: std::net::SocketAddr,
    inbox: std::sync::Arc<Mutex<Vec<Received>>>,
}

impl SmtpServer {
    /// Starts a server on a free port.
    pub fn start() -> Self {
        Self::start_on(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// Starts a server on `port` (for a server that "comes back" where it was).
    pub fn start_on_port(port: u16) -> Self {
        Self::start_on(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap())
    }

    fn start_on(listener: std::net::TcpListener) -> Self {
        let addr = listener.local_addr().unwrap();
        let inbox = std::sync::Arc::new(Mutex::new(Vec::new()));
        let handler = SinkHandler {
            inbox: inbox.clone(),
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        };
        let mut server = mailin_embedded::Server::new(handler);
        server
            .with_name("smtp.joinery.test")
            .with_num_threads(128)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self { addr, inbox }
    }

    /// The URL for `JOINERY_SMTP_URL` (plain SMTP on loopback, no TLS).
    pub fn url(&self) -> String {
        format!("smtp://{}:{}", self.addr.ip(), self.addr.port())
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }

    /// Waits (up to `secs` seconds) until at least `n` messages have arrived; returns them all.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = std::time::Instant::now() + StdDuration::from_secs(secs);
        loop {
            let got = self.received();
            if got.len() >= n || std::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(StdDuration::from_millis(25)).await;
        }
    }
}
