//! Reads a small request body in full before any extractor runs.
//!
//! A handler may answer before reading the body: an extractor such as `OrgMember` can refuse
//! (404, 403) while the form is still unread. actix-http then closes the connection with the
//! body's bytes unread, and a TCP socket closed with unread data answers with a reset, which can
//! destroy the response on its way to the browser (the client sees "connection reset" or an
//! incomplete message instead of the error page). Reading small bodies first means every answer
//! is delivered and the connection stays usable.

use actix_web::HttpMessage as _;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::BytesMut;
use futures_util::StreamExt as _;

/// Bodies up to this many bytes (by `Content-Length`) are read before the handler runs; larger
/// ones (bulk invite lists, CSV uploads) are left to their extractors and limits.
pub const BUFFERED_BODY_BYTES: usize = 64 * 1024;

/// Middleware (`actix_web::middleware::from_fn`): reads a body whose declared length is at most
/// [`BUFFERED_BODY_BYTES`] into memory and hands the handler the same bytes.
///
/// # Errors
/// Whatever the rest of the chain returns; a body that fails while being read is handed on as
/// read so far, and the form extractor reports it.
pub async fn read_small_bodies(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(length) = declared.filter(|n| (1..=BUFFERED_BODY_BYTES).contains(n)) {
        let mut payload = req.take_payload();
        let mut body = BytesMut::with_capacity(length);
        while let Some(chunk) = payload.next().await {
            match chunk {
                Ok(bytes) => body.extend_from_slice(&bytes),
                Err(_) => break,
            }
            if body.len() > BUFFERED_BODY_BYTES {
                break;
            }
        }
        req.set_payload(Payload::from(body.freeze()));
    }
    next.call(req).await
}
