//! The `joinery` binary: see `joinery --help`.

fn main() -> std::process::ExitCode {
    match joinery::cli::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("joinery: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
