//! CPU cost of a photo's variants (issue 13): a 12 MP JPEG (4032 × 3024, as phones shoot)
//! decoded once and turned into the thumbnail and the display copy by the server's own code
//! (`make_variants`), on one thread, measured in CPU time of that thread. Target: ≤ 60 ms.
//!
//! With `--heic` also a 12 MP HEIC of the same picture (written by libheif's `heif-enc`), turned
//! into a JPEG by `heif-convert` as the server does, then into its variants; CPU time of this
//! thread plus the converter processes.
//!
//!   cargo build --release --example variants_cost
//!   target/release/examples/variants_cost [--iterations 10] [--json] [--heic]

use std::{io::Cursor, process::ExitCode, time::Duration};

use clap::Parser;
use image::{DynamicImage, ImageFormat, RgbImage};
use partypic::{
    domain::variants::{Orient, make_variants},
    thumbnails::heif,
};

#[path = "support/thread_cpu.rs"]
mod support;
use support::thread_cpu;

#[derive(Parser)]
#[command(about = "CPU milliseconds per 12 MP JPEG for its thumbnail and display copy")]
struct Args {
    /// Photos processed (after one warm-up).
    #[arg(long, default_value_t = 10)]
    iterations: u32,
    /// Print one JSON object instead of a line.
    #[arg(long)]
    json: bool,
    /// Also a 12 MP HEIC (made by `heif-enc`), converted by `heif-convert` as the server does.
    #[arg(long)]
    heic: bool,
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

/// CPU time of this process's finished children (heif-convert), from /proc/self/stat.
fn children_cpu() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // Fields after the command name (which may hold spaces): cutime and cstime are the
            // 16th and 17th fields of the line, the 14th and 15th after the name.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let user: u64 = fields.get(13)?.parse().ok()?;
            let system: u64 = fields.get(14)?.parse().ok()?;
            Some(user + system)
        })
        .unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// The sample as an iPhone-like HEIC, written by libheif's `heif-enc`; `None` without it.
fn as_heic(jpeg: &[u8]) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().ok()?;
    let input = dir.path().join("in.jpg");
    let output = dir.path().join("out.heic");
    std::fs::write(&input, jpeg).ok()?;
    let status = std::process::Command::new("heif-enc")
        .args(["-q", "50", "-o"])
        .arg(&output)
        .arg(&input)
        .stdout(std::process::Stdio::null())
        .status()
        .ok()?;
    status
        .success()
        .then(|| std::fs::read(&output).ok())
        .flatten()
}

/// CPU milliseconds per HEIC photo: libheif's conversion (a child process) plus the variants.
fn heic_cost(heic: &[u8], iterations: u32) -> Option<(f64, f64)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let convert = |bytes: &[u8]| runtime.block_on(heif::to_jpeg(bytes, 0)).ok();
    make_variants(&convert(heic)?, Orient::AsDecoded).ok()?;
    let (own, children) = (thread_cpu(), children_cpu());
    for _ in 0..iterations {
        let jpeg = convert(heic)?;
        make_variants(&jpeg, Orient::AsDecoded).ok()?;
    }
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / f64::from(iterations.max(1));
    Some((per(thread_cpu() - own), per(children_cpu() - children)))
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
    let heic = if args.heic { as_heic(&jpeg) } else { None };
    if args.heic && heic.is_none() {
        eprintln!("variants_cost: no HEIC sample (heif-enc from libheif-examples is missing)");
        return ExitCode::FAILURE;
    }
    let heic_ms = match &heic {
        Some(heic) => match heic_cost(heic, args.iterations) {
            Some(cost) => Some(cost),
            None => {
                eprintln!("variants_cost: the HEIC sample does not convert (heif-convert)");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    if args.json {
        let heic_json = match (&heic, heic_ms) {
            (Some(heic), Some((own, children))) => format!(
                ",\"heic\":{{\"bytes\":{},\"cpu_ms_per_photo\":{:.1},\"server_ms\":{own:.1},\"libheif_ms\":{children:.1}}}",
                heic.len(),
                own + children
            ),
            _ => String::new(),
        };
        println!(
            "{{\"photo\":\"jpeg-12mp\",\"bytes\":{},\"iterations\":{},\"cpu_ms_per_photo\":{per_photo_ms:.1}{heic_json}}}",
            jpeg.len(),
            args.iterations
        );
    } else {
        println!(
            "12 MP JPEG ({} KB) → thumbnail + display copy: {per_photo_ms:.1} ms CPU per photo (target ≤ 60)",
            jpeg.len() / 1024
        );
        if let (Some(heic), Some((own, children))) = (&heic, heic_ms) {
            println!(
                "12 MP HEIC ({} KB) → JPEG (heif-convert) → variants: {:.1} ms CPU per photo ({children:.1} libheif + {own:.1} server)",
                heic.len() / 1024,
                own + children
            );
        }
    }
    ExitCode::SUCCESS
}
