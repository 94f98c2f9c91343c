// Re-embed the SQL migrations (sqlx::migrate!) and the web client (rust-embed) when they change.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=web");
}
