// `sqlx::migrate!` embeds the files under `migrations/`; a new file changes no Rust source, so
// tell Cargo to rebuild when the directory changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
