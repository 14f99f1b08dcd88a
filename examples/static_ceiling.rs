//! The ceiling for the HTTP benchmark (`bench/run.sh`): a minimal actix-web server that answers
//! every GET with the same bytes (the Team page as the app rendered it), with as many workers
//! as the app. No session, no database, no template: what this machine's HTTP stack and
//! loopback can do with a page of that size.
//!
//! `cargo run --release --example static_ceiling -- --file team.html --bind 127.0.0.1:18081`

use actix_web::{App, HttpResponse, HttpServer, web};
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// The bytes to serve.
    #[arg(long)]
    file: std::path::PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:18081")]
    bind: String,
    /// Worker threads (default: as many as actix-web gives the app, one per CPU).
    #[arg(long)]
    workers: Option<usize>,
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let body = web::Bytes::from(std::fs::read(&args.file)?);
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    eprintln!(
        "serving {} bytes on {} with {workers} workers",
        body.len(),
        args.bind
    );
    HttpServer::new(move || {
        let body = body.clone();
        App::new().default_service(web::to(move || {
            let body = body.clone();
            async move {
                HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(body)
            }
        }))
    })
    .workers(workers)
    .bind(&args.bind)?
    .run()
    .await?;
    Ok(())
}
