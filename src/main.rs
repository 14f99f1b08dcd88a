//! The `joinery` binary: see `joinery --help`.

fn main() -> std::process::ExitCode {
    bound_allocator_retention();
    match joinery::cli::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("joinery: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Serves every allocation of 1 MiB or more with its own mapping, returned to the system when
/// freed. glibc's default raises that threshold after the first large free, so each argon2
/// buffer (19 MiB) is then carved from the calling thread's malloc arena and kept there: a
/// log-in flood spread over many threads left one such buffer in every arena
/// (4.2 GiB RSS after 8 s of wrong passwords on 2 cores; 40 MiB with this setting —
/// `bench/run.sh`). And keeps at most two malloc arenas: glibc's default of eight per core
/// lets every thread of the blocking pool hold freed memory of its own (issue 16: peak RSS).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn bound_allocator_retention() {
    // SAFETY: `mallopt` only changes allocator tuning; it is called once, before any other
    // thread exists, with a parameter and value glibc documents.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn bound_allocator_retention() {}
