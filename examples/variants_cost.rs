//! CPU cost of a photo's variants (issue 13): a 12 MP JPEG (4032 × 3024, as phones shoot)
//! decoded once and turned into the thumbnail and the display copy by the server's own code
//! (`make_variants`), on one thread, measured in CPU time of that thread. Target: ≤ 60 ms.
//!
//!   cargo build --release --example variants_cost
//!   target/release/examples/variants_cost [--iterations 10] [--json]

use std::{io::Cursor, process::ExitCode, time::Duration};

use clap::Parser;
use image::{DynamicImage, ImageFormat, RgbImage};
use partypic::domain::variants::{Orient, make_variants};

#[derive(Parser)]
#[command(about = "CPU milliseconds per 12 MP JPEG for its thumbnail and display copy")]
struct Args {
    /// Photos processed (after one warm-up).
    #[arg(long, default_value_t = 10)]
    iterations: u32,
    /// Print one JSON object instead of a line.
    #[arg(long)]
    json: bool,
}

/// A 12 MP JPEG with detail everywhere (smooth gradients compress and decode unrealistically fast).
fn twelve_megapixels() -> Vec<u8> {
    let mut seed = 0x9E37_79B9u32;
    let image = RgbImage::from_fn(4032, 3024, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let noise = (seed & 0x1F) as u8;
        image::Rgb([
            ((x / 8) % 256) as u8 ^ noise,
            ((y / 6) % 256) as u8,
            (((x + y) / 11) % 256) as u8 ^ (noise >> 1),
        ])
    });
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(image)
        .write_to(&mut out, ImageFormat::Jpeg)
        .expect("encode the sample");
    out.into_inner()
}

/// CPU time of the calling thread (Linux: /proc/thread-self/schedstat, nanoseconds on CPU).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

fn main() -> ExitCode {
    let args = Args::parse();
    let jpeg = twelve_megapixels();
    if let Err(err) = make_variants(&jpeg, Orient::FromExif) {
        eprintln!("variants_cost: the sample does not decode: {err}");
        return ExitCode::FAILURE;
    }
    let start = thread_cpu();
    for _ in 0..args.iterations {
        if make_variants(&jpeg, Orient::FromExif).is_err() {
            return ExitCode::FAILURE;
        }
    }
    let per_photo_ms =
        (thread_cpu() - start).as_secs_f64() * 1000.0 / f64::from(args.iterations.max(1));
    if args.json {
        println!(
            "{{\"photo\":\"jpeg-12mp\",\"bytes\":{},\"iterations\":{},\"cpu_ms_per_photo\":{per_photo_ms:.1}}}",
            jpeg.len(),
            args.iterations
        );
    } else {
        println!(
            "12 MP JPEG ({} KB) → thumbnail + display copy: {per_photo_ms:.1} ms CPU per photo (target ≤ 60)",
            jpeg.len() / 1024
        );
    }
    ExitCode::SUCCESS
}
