//! Rebuild when a migration changes: `embed_migrations!` reads `migrations/` at compile time,
//! and Cargo does not see a new folder or a changed `metadata.toml` by itself.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
