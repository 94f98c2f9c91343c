//! The PostgreSQL + S3 half of the suite needs real servers, which `scripts/test` starts and
//! points PARTYPIC_TEST_* at. A plain `cargo test` without them skips that half with one note;
//! CI and `scripts/test` (CI or PARTYPIC_TEST_REQUIRE_ALL set) fail instead, so a lost
//! variable can never turn the half into silent passes.

#![allow(dead_code, reason = "each test binary uses part of this module")]

use std::{io::Write, sync::Once};

pub const DATABASE_URL: &str = "PARTYPIC_TEST_DATABASE_URL";
pub const S3_ENDPOINT: &str = "PARTYPIC_TEST_S3_ENDPOINT";
pub const S3_REGION: &str = "PARTYPIC_TEST_S3_REGION";
pub const S3_ACCESS_KEY: &str = "PARTYPIC_TEST_S3_ACCESS_KEY";
pub const S3_SECRET_KEY: &str = "PARTYPIC_TEST_S3_SECRET_KEY";
pub const S3_BUCKET: &str = "PARTYPIC_TEST_S3_BUCKET";

pub const POSTGRES: &[&str] = &[DATABASE_URL];
pub const S3: &[&str] = &[S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY, S3_SECRET_KEY];
pub const POSTGRES_S3: &[&str] = &[
    DATABASE_URL,
    S3_ENDPOINT,
    S3_REGION,
    S3_ACCESS_KEY,
    S3_SECRET_KEY,
];

static NOTE: Once = Once::new();

fn set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|value| !value.is_empty())
}

fn everything_required() -> bool {
    set("PARTYPIC_TEST_REQUIRE_ALL")
        || std::env::var("CI")
            .is_ok_and(|value| !value.is_empty() && value != "false" && value != "0")
}

/// Whether a test needing `vars` must skip: true when one is missing (after one note per test
/// binary); panics instead when the run must cover everything.
pub fn skip_without(vars: &[&str]) -> bool {
    let missing: Vec<&str> = vars.iter().copied().filter(|name| !set(name)).collect();
    if missing.is_empty() {
        return false;
    }
    assert!(
        !everything_required(),
        "{} not set, but CI/PARTYPIC_TEST_REQUIRE_ALL asks for every backend: run scripts/test",
        missing.join(", ")
    );
    NOTE.call_once(|| {
        // Straight to stderr: the test harness captures `eprintln!` of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "note: PostgreSQL + S3 tests skipped: set PARTYPIC_TEST_DATABASE_URL and \
             PARTYPIC_TEST_S3_* (scripts/test does) to run them"
        );
    });
    true
}

/// The value of a variable [`skip_without`] has checked.
pub fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run scripts/test"))
}
