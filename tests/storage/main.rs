//! Conformance of the storage traits: the same scenarios run against every `Database` backend
//! (SQLite, PostgreSQL) and every `PhotoStore` backend (local disk, S3), through the trait only.
//! The PostgreSQL and S3 halves need servers (scripts/test starts them) and skip without.

#[path = "../support/external.rs"]
mod external;

mod database;
mod store;
