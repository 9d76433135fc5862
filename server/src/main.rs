//! The `postback` binary: parses the command line and hands over to the
//! `server` library.

use clap::Parser;

/// mimalloc: the delivery path allocates many small short-lived buffers (requests,
/// rows, JSON), and glibc's malloc spent about a sixth of the CPU time on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
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
