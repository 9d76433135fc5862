//! The `postback` binary: parses the command line and hands over to the
//! `server` library.

use clap::Parser;

/// mimalloc: the delivery path allocates many small short-lived buffers
/// (requests, rows, JSON), which glibc's malloc handles slowly. Built
/// without transparent huge pages (`no_thp`): with them, a 2 MiB page stays
/// resident for every few bytes still in use in it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (the same in its v2 and v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // Memory freed after a burst goes back to the system after 100 ms, not
    // mimalloc's default 1 s (10 s for whole arenas), so a burst's peak
    // does not linger (README, Speed). Set before any other thread exists (mimalloc's options are not
    // thread safe).
    // SAFETY: one thread so far; the option is a plain number.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 100) };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("postback: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(run())
}

async fn run() -> std::process::ExitCode {
    let cli = server::config::Cli::parse();
    server::init_tracing();
    match server::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("postback: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
