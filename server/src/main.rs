//! The `postback` binary: parses the command line and hands over to the
//! `server` library.

use clap::Parser;

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
