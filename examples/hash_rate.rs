//! The raw password-hashing limit of this machine with the server's own argon2id parameters:
//! hashes per second on 1 thread and on N threads, nothing else running in the process.
//! The benchmark suite (`bench/run`) compares register/login throughput against it.
//!
//!   cargo build --release --example hash_rate
//!   target/release/examples/hash_rate [--threads 1,2] [--seconds 3] [--json]
//!
//! Parameters come from the server's own configuration (`ARGON2_MEMORY_KIB`, `ARGON2_ITERATIONS`,
//! `ARGON2_PARALLELISM` and their defaults), and each hash is made by the server's own code
//! (`hash_reusing_memory`): a fresh salt, the thread's reused working memory, the PHC string.
//! Each run also reports hashes per CPU-second of its threads, which other processes on a shared
//! machine disturb far less than hashes per wall-clock second, and with `--reuse` the bare
//! algorithm (`hash_password_into_with_memory`, no salt generation, no PHC string) for reference.

use std::{
    process::ExitCode,
    sync::Barrier,
    time::{Duration, Instant},
};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use clap::Parser;
use partypic::{config::Cli, domain::password::hash_reusing_memory};

#[derive(Parser)]
#[command(about = "Raw argon2id hashes per second with the server's parameters")]
struct Args {
    /// Thread counts to measure, comma-separated (default: 1 and the available cores).
    #[arg(long, value_delimiter = ',')]
    threads: Vec<usize>,
    /// Seconds each thread count is measured for.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Also measure the bare algorithm in reused memory (no salt generation, no PHC string).
    #[arg(long)]
    reuse: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// As the server hashes (its own function).
    Server,
    /// The bare algorithm in reused memory.
    Reuse,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Server => "server",
            Mode::Reuse => "reuse",
        }
    }
}

struct Measurement {
    mode: Mode,
    threads: usize,
    hashes: u64,
    hashes_per_sec: f64,
    hashes_per_cpu_sec: f64,
    ms_per_hash: f64,
}

/// CPU seconds (user + system) of the calling thread, from /proc (USER_HZ is 100 on Linux).
fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|stat| {
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

fn hash_once(argon2: &Argon2<'_>) -> String {
    hash_reusing_memory(argon2, b"benchmark password 0123")
        .expect("argon2 with validated parameters")
}

fn hash_reusing(argon2: &Argon2<'_>, memory: &mut [Block]) -> [u8; 32] {
    let mut out = [0u8; 32];
    argon2
        .hash_password_into_with_memory(
            b"benchmark password 0123",
            b"sixteen byte salt",
            &mut out,
            memory,
        )
        .expect("argon2 with validated parameters");
    out
}

/// Every thread hashes until the deadline; the rate is the sum of each thread's own rate, so a
/// thread finishing its last hash late does not stretch the others' time.
fn measure(argon2: &Argon2<'static>, mode: Mode, threads: usize, seconds: f64) -> Measurement {
    let barrier = Barrier::new(threads);
    let blocks = argon2.params().block_count();
    let per_thread: Vec<(u64, Duration, f64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let mut memory = vec![Block::default(); blocks];
                    let mut hash = || match mode {
                        Mode::Server => {
                            let _ = std::hint::black_box(hash_once(argon2));
                        }
                        Mode::Reuse => {
                            let _ = std::hint::black_box(hash_reusing(argon2, &mut memory));
                        }
                    };
                    hash(); // warm-up: first-touch page faults, allocator
                    barrier.wait();
                    let start = Instant::now();
                    let cpu_start = thread_cpu_seconds();
                    let deadline = start + Duration::from_secs_f64(seconds);
                    let mut count = 0u64;
                    while Instant::now() < deadline {
                        hash();
                        count += 1;
                    }
                    (count, start.elapsed(), thread_cpu_seconds() - cpu_start)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("hashing thread"))
            .collect()
    });
    let hashes: u64 = per_thread.iter().map(|(n, _, _)| n).sum();
    let hashes_per_sec: f64 = per_thread
        .iter()
        .map(|(n, t, _)| *n as f64 / t.as_secs_f64())
        .sum();
    let cpu: f64 = per_thread.iter().map(|(_, _, c)| c).sum();
    Measurement {
        mode,
        threads,
        hashes,
        hashes_per_sec,
        hashes_per_cpu_sec: hashes as f64 / cpu,
        ms_per_hash: 1000.0 * threads as f64 / hashes_per_sec,
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    // The server's own flags, defaults and ARGON2_* environment, without any other argument.
    let config = Cli::parse_from(["partypic"]).config;
    let params = match Params::new(
        config.argon2_memory_kib,
        config.argon2_iterations,
        config.argon2_parallelism,
        None,
    ) {
        Ok(params) => params,
        Err(err) => {
            eprintln!("hash_rate: invalid argon2 parameters: {err}");
            return ExitCode::from(2);
        }
    };
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut threads = args.threads.clone();
    if threads.is_empty() {
        threads = vec![1];
        if cores > 1 {
            threads.push(cores);
        }
    }
    threads.retain(|&n| n > 0);

    let modes: &[Mode] = if args.reuse {
        &[Mode::Server, Mode::Reuse]
    } else {
        &[Mode::Server]
    };
    let results: Vec<Measurement> = modes
        .iter()
        .flat_map(|&mode| threads.iter().map(move |&n| (mode, n)))
        .map(|(mode, n)| measure(&argon2, mode, n, args.seconds))
        .collect();

    if args.json {
        let runs: Vec<_> = results
            .iter()
            .map(|m| {
                serde_json::json!({
                    "mode": m.mode.name(),
                    "threads": m.threads,
                    "hashes": m.hashes,
                    "hashes_per_sec": m.hashes_per_sec,
                    "hashes_per_sec_per_thread": m.hashes_per_sec / m.threads as f64,
                    "hashes_per_cpu_sec": m.hashes_per_cpu_sec,
                    "ms_per_hash": m.ms_per_hash,
                })
            })
            .collect();
        let out = serde_json::json!({
            "algorithm": "argon2id",
            "memory_kib": config.argon2_memory_kib,
            "iterations": config.argon2_iterations,
            "parallelism": config.argon2_parallelism,
            "cores": cores,
            "seconds": args.seconds,
            "runs": runs,
        });
        println!("{out}");
    } else {
        println!(
            "argon2id m={} KiB t={} p={}, {} cores available, {} s per run",
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.argon2_parallelism,
            cores,
            args.seconds
        );
        println!(
            "| memory | threads | hashes | hashes/s | hashes/s per thread | hashes per CPU-second | ms per hash |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for m in &results {
            println!(
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
                m.mode.name(),
                m.threads,
                m.hashes,
                m.hashes_per_sec,
                m.hashes_per_sec / m.threads as f64,
                m.hashes_per_cpu_sec,
                m.ms_per_hash
            );
        }
    }
    ExitCode::SUCCESS
}
