//! CPU cost of a video clip's variants (issue 13): a 10 s 1080p clip through the server's own
//! `probe`, `poster_png` and `make_rendition` (ffprobe/ffmpeg subprocesses, `-threads 1`), for
//! both paths: an H.264/AAC MP4 (remux: rewrapped without metadata) and an HEVC MOV as iPhones
//! shoot (transcode to H.264). Measured as the CPU time of the child processes.
//!
//!   cargo build --release --example video_cost
//!   target/release/examples/video_cost [--json]

use std::{path::Path, process::Command, process::ExitCode, time::Duration};

use clap::Parser;
use partypic::thumbnails::video::{self, RenditionPath};

#[derive(Parser)]
#[command(about = "CPU milliseconds per 10 s 1080p clip for its poster and web rendition")]
struct Args {
    /// Print one JSON object per path instead of lines.
    #[arg(long)]
    json: bool,
}

/// CPU time (user + system) of the waited-for children of this process, from /proc/self/stat.
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    // Tokens after the name start at field 3 (state); cutime is field 16, cstime 17. Some
    // fields may be negative (tpgid), so tokens are indexed, not filtered.
    let tokens: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| -> u64 { tokens.get(n - 3).and_then(|t| t.parse().ok()).unwrap_or(0) };
    let ticks = field(16) + field(17);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// A 10 s 1080p30 test-pattern clip with sound, encoded by ffmpeg with `codec_args`.
fn sample(path: &Path, codec_args: &[&str]) -> bool {
    Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=1920x1080:rate=30:duration=10")
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=10"])
        .args(codec_args)
        .arg("-y")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    if !video::tools_installed() {
        eprintln!("video_cost: ffmpeg/ffprobe are not installed");
        return ExitCode::FAILURE;
    }
    let Ok(work) = video::Workspace::new() else {
        return ExitCode::FAILURE;
    };
    let clips = [
        (
            "mp4-h264-1080p-10s",
            work.file("h264.mp4"),
            vec![
                "-c:v", "libx264", "-preset", "fast", "-pix_fmt", "yuv420p", "-c:a", "aac",
            ],
        ),
        (
            "mov-hevc-1080p-10s",
            work.file("hevc.mov"),
            vec![
                "-c:v",
                "libx265",
                "-preset",
                "fast",
                "-x265-params",
                "log-level=error",
                "-tag:v",
                "hvc1",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
            ],
        ),
    ];
    for (name, path, codec_args) in &clips {
        if !sample(path, codec_args) {
            eprintln!("video_cost: ffmpeg could not make the {name} sample");
            return ExitCode::FAILURE;
        }
        let start = children_cpu();
        let Ok(probe) = video::probe(path, 0).await else {
            eprintln!("video_cost: {name} does not probe");
            return ExitCode::FAILURE;
        };
        let poster_start = children_cpu();
        if video::poster_png(path, &probe, 0).await.is_err() {
            return ExitCode::FAILURE;
        }
        let rendition_start = children_cpu();
        let Ok(made) = video::make_rendition(path, &probe, &work.file("out.mp4"), 0).await else {
            eprintln!("video_cost: {name} gets no rendition");
            return ExitCode::FAILURE;
        };
        let end = children_cpu();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let (probe_ms, poster_ms, rendition_ms) = (
            ms(poster_start - start),
            ms(rendition_start - poster_start),
            ms(end - rendition_start),
        );
        let path_name = match made {
            RenditionPath::Remux => "remux",
            RenditionPath::Transcode => "transcode",
        };
        if args.json {
            println!(
                "{{\"clip\":\"{name}\",\"path\":\"{path_name}\",\"probe_cpu_ms\":{probe_ms:.0},\"poster_cpu_ms\":{poster_ms:.0},\"rendition_cpu_ms\":{rendition_ms:.0},\"total_cpu_ms\":{:.0}}}",
                probe_ms + poster_ms + rendition_ms
            );
        } else {
            println!(
                "{name} ({path_name}): probe {probe_ms:.0} ms + poster {poster_ms:.0} ms + rendition {rendition_ms:.0} ms = {:.0} ms CPU",
                probe_ms + poster_ms + rendition_ms
            );
        }
    }
    ExitCode::SUCCESS
}
