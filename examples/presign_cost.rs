//! CPU per presigned download URL, the server's signer (`store::sigv4`, signing key derived once
//! per day) against `rusty-s3`'s (the key derived for every URL), interleaved in rounds on one
//! thread with the same bucket, credentials and photo keys. The benchmark suite (`bench/run`)
//! reports the ratio.
//!
//!   cargo build --release --example presign_cost
//!   target/release/examples/presign_cost [--urls 20000] [--rounds 7] [--json]

use std::{hint::black_box, time::Duration};

use chrono::Utc;
use clap::Parser;
use partypic::store::sigv4::Presigner;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

#[path = "support/thread_cpu.rs"]
mod support;
use support::thread_cpu;

#[derive(Parser)]
#[command(about = "CPU per presigned URL: per-day signing key vs rusty-s3")]
struct Args {
    /// URLs signed by each signer per round.
    #[arg(long, default_value_t = 20_000)]
    urls: usize,
    /// Rounds, alternating the signers; the median round counts.
    #[arg(long, default_value_t = 7)]
    rounds: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

fn nanos_per_url(urls: usize, mut sign: impl FnMut(&str) -> url::Url, keys: &[String]) -> f64 {
    let start = thread_cpu();
    for index in 0..urls {
        black_box(sign(&keys[index % keys.len()]));
    }
    (thread_cpu() - start).as_nanos() as f64 / urls as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bucket = Bucket::new(
        "http://127.0.0.1:3900".parse()?,
        UrlStyle::Path,
        "partypic-photos",
        "garage",
    )?;
    let credentials = Credentials::new(
        "GK31c2f218a2e44f485b94239e",
        "b892c0665f0ada8a4755dae98baa3b133590e11dae3bcc1f9d769d67f16c3835",
    );
    let presigner = Presigner::new(&credentials, bucket.region());
    // Photo keys shaped like the server's (events/<uuid>/photos/<uuid>.jpg).
    let keys: Vec<String> = (0..500)
        .map(|i| format!("events/5f0c2b1e-4d7a-4c11-9a51-0e4b8f2d{i:04}/photos/0b7e0c1d-4b1c-4f0e-8d2a-7c9e1f3a{i:04}.jpg"))
        .collect();
    let ttl = Duration::from_secs(7 * 24 * 3600);

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..args.rounds.max(1) {
        theirs.push(nanos_per_url(
            args.urls,
            |key| bucket.get_object(Some(&credentials), key).sign(ttl),
            &keys,
        ));
        ours.push(nanos_per_url(
            args.urls,
            |key| presigner.presign("GET", bucket.object_url(key), &[], ttl, Utc::now()),
            &keys,
        ));
    }
    let (ours, theirs) = (median(&mut ours), median(&mut theirs));
    let ratio = ours / theirs;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"urls": args.urls, "rounds": args.rounds,
                "day_key_ns": ours, "rusty_s3_ns": theirs, "ratio": ratio})
        );
    } else {
        println!("| signer | CPU ns per URL |\n|---|---:|");
        println!("| rusty-s3 (key per URL) | {theirs:.0} |");
        println!("| store::sigv4 (key per day) | {ours:.0} |");
        println!("ratio: {ratio:.2}");
    }
    Ok(())
}
