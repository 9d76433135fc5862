//! Rebuilds the engine when a migration is added or changed:
//! `sqlx::migrate!` embeds the files, but on stable Rust it watches only
//! the ones that existed when it last ran, so a new file went unnoticed.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
