//! Video clips through Debian's `ffprobe`/`ffmpeg`, run as subprocesses on a local temporary
//! copy, each with a timeout, an address-space bound and the workers' nice value (the pattern of
//! [`super::heif`]). `probe` checks an upload at finalize; `poster_png` and `make_rendition` make
//! what guests get: a poster frame and a metadata-free H.264 MP4 (≤ 1080p) with fast start.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use rustix::process::{Pid, Resource, Rlimit, prlimit, setpriority_process};
use serde::Deserialize;
use tokio::process::Command;

use crate::domain::media::VideoType;

const FFPROBE: &str = "ffprobe";
const FFMPEG: &str = "ffmpeg";
/// Reading a container's headers is quick; a probe that hangs is killed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
const POSTER_TIMEOUT: Duration = Duration::from_secs(60);
/// Address-space bound of each tool: ample for one 1080p H.264 encoder thread or a 4K decoder.
const TOOL_MEMORY_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Where the poster frame is taken (earlier for shorter clips): the first frame is often black.
const POSTER_AT: Duration = Duration::from_secs(1);
/// The rendition's box: ≤ 1080p in either orientation.
const MAX_LONG_SIDE: u32 = 1920;
const MAX_SHORT_SIDE: u32 = 1080;

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("{0} is not installed (Debian: ffmpeg)")]
    ToolMissing(&'static str),
    #[error("{0} took longer than {1:?}")]
    TimedOut(&'static str, Duration),
    /// The file is not a readable clip (the tool's own words).
    #[error("not a readable video: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl VideoError {
    /// Whether the clip itself is at fault (reject it / mark it failed) rather than this server.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, Self::Unreadable(_) | Self::TimedOut(..))
    }
}

/// Whether both tools are on the PATH (checked once at start, for one clear log line).
pub fn tools_installed() -> bool {
    let on_path = |program: &str| {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
    };
    on_path(FFPROBE) && on_path(FFMPEG)
}

/// What ffprobe found in a clip.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub duration: Duration,
    pub width: u32,
    pub height: u32,
    pub video_codec: String,
    pub pixel_format: Option<String>,
    /// `None` for a silent clip.
    pub audio_codec: Option<String>,
    /// ffprobe's container names, e.g. `mov,mp4,m4a,3gp,3g2,mj2` or `matroska,webm`.
    pub format_name: String,
}

impl Probe {
    /// Whether the container ffprobe read is the one the signature announced.
    pub fn container_matches(&self, sniffed: VideoType) -> bool {
        let names: Vec<&str> = self.format_name.split(',').collect();
        match sniffed {
            VideoType::Mp4 | VideoType::Mov => names.contains(&"mov") || names.contains(&"mp4"),
            VideoType::Webm => names.contains(&"webm"),
        }
    }

    /// Whether the clip can go to browsers as it is (only rewrapped, metadata dropped): H.264
    /// 4:2:0 with AAC or no sound, in an MP4/MOV container, within the 1080p box.
    pub fn web_playable(&self) -> bool {
        let (long, short) = (self.width.max(self.height), self.width.min(self.height));
        self.format_name
            .split(',')
            .any(|name| name == "mp4" || name == "mov")
            && self.video_codec == "h264"
            && self.pixel_format.as_deref() == Some("yuv420p")
            && self
                .audio_codec
                .as_deref()
                .is_none_or(|codec| codec == "aac")
            && long <= MAX_LONG_SIDE
            && short <= MAX_SHORT_SIDE
    }
}

#[derive(Deserialize)]
struct ProbeOutput {
    #[serde(default)]
    streams: Vec<ProbeStream>,
    format: Option<ProbeFormat>,
}

#[derive(Deserialize)]
struct ProbeStream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    pix_fmt: Option<String>,
    disposition: Option<Disposition>,
}

#[derive(Deserialize)]
struct Disposition {
    #[serde(default)]
    attached_pic: u8,
}

#[derive(Deserialize)]
struct ProbeFormat {
    format_name: Option<String>,
    duration: Option<String>,
}

/// Reads a clip's container and streams; an error unless it has a video stream and a duration.
pub async fn probe(clip: &Path, nice: i32) -> Result<Probe, VideoError> {
    let mut command = Command::new(FFPROBE);
    command
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(clip);
    let stdout = run(FFPROBE, command, PROBE_TIMEOUT, nice).await?;
    parse_probe(&stdout)
}

fn parse_probe(json: &[u8]) -> Result<Probe, VideoError> {
    let unreadable = |why: &str| VideoError::Unreadable(why.to_owned());
    let output: ProbeOutput =
        serde_json::from_slice(json).map_err(|_| unreadable("unexpected ffprobe output"))?;
    let format = output.format.ok_or_else(|| unreadable("no container"))?;
    let video = output
        .streams
        .iter()
        .find(|s| {
            s.codec_type.as_deref() == Some("video")
                && s.disposition.as_ref().is_none_or(|d| d.attached_pic == 0)
        })
        .ok_or_else(|| unreadable("no video stream"))?;
    let duration = format
        .duration
        .as_deref()
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|secs| secs.is_finite() && *secs > 0.0)
        .ok_or_else(|| unreadable("no duration"))?;
    let (width, height) = match (video.width, video.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => (w, h),
        _ => return Err(unreadable("no picture size")),
    };
    Ok(Probe {
        duration: Duration::from_secs_f64(duration),
        width,
        height,
        video_codec: video.codec_name.clone().unwrap_or_default(),
        pixel_format: video.pix_fmt.clone(),
        audio_codec: output
            .streams
            .iter()
            .find(|s| s.codec_type.as_deref() == Some("audio"))
            .map(|s| s.codec_name.clone().unwrap_or_default()),
        format_name: format.format_name.unwrap_or_default(),
    })
}

/// One upright frame near the start, as PNG (the variants code makes the JPEGs from it).
pub async fn poster_png(clip: &Path, probe: &Probe, nice: i32) -> Result<Vec<u8>, VideoError> {
    let work = tempfile::Builder::new()
        .prefix("partypic-poster-")
        .tempdir()?;
    let output = work.path().join("poster.png");
    let at = POSTER_AT.min(probe.duration / 2);
    let mut command = Command::new(FFMPEG);
    command
        .args(["-nostdin", "-v", "error", "-threads", "1", "-ss"])
        .arg(format!("{:.3}", at.as_secs_f64()))
        .arg("-i")
        .arg(clip)
        .args([
            "-map",
            "0:v:0",
            "-frames:v",
            "1",
            "-f",
            "image2",
            "-c:v",
            "png",
        ])
        .arg(&output);
    run(FFMPEG, command, POSTER_TIMEOUT, nice).await?;
    match tokio::fs::read(&output).await {
        Ok(png) if !png.is_empty() => Ok(png),
        Ok(_) => Err(VideoError::Unreadable("no frame decoded".into())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            Err(VideoError::Unreadable("no frame decoded".into()))
        }
        Err(err) => Err(err.into()),
    }
}

/// How a rendition was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenditionPath {
    /// Already H.264/AAC: only rewrapped (fast start) and stripped of metadata.
    Remux,
    Transcode,
}

/// Writes the guests' MP4 to `output`: always rewritten, so the original's metadata (QuickTime
/// location, device, dates) never reaches guests.
pub async fn make_rendition(
    clip: &Path,
    probe: &Probe,
    output: &Path,
    nice: i32,
) -> Result<RenditionPath, VideoError> {
    let path = if probe.web_playable() {
        RenditionPath::Remux
    } else {
        RenditionPath::Transcode
    };
    let mut command = Command::new(FFMPEG);
    command
        .args(["-nostdin", "-v", "error", "-threads", "1", "-i"])
        .arg(clip)
        .args(["-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn"])
        .args(["-map_metadata", "-1", "-map_chapters", "-1"])
        .args(["-map_metadata:s:v", "-1", "-map_metadata:s:a", "-1"]);
    match path {
        RenditionPath::Remux => {
            command.args(["-c", "copy"]);
        }
        RenditionPath::Transcode => {
            // Fit the 1080p box in either orientation, never enlarge, keep even sides.
            let scale = format!(
                "scale=w='trunc(iw*min(1\\,min({MAX_LONG_SIDE}/max(iw\\,ih)\\,{MAX_SHORT_SIDE}/min(iw\\,ih)))/2)*2'\
                 :h='trunc(ih*min(1\\,min({MAX_LONG_SIDE}/max(iw\\,ih)\\,{MAX_SHORT_SIDE}/min(iw\\,ih)))/2)*2'"
            );
            command
                .args(["-vf", &scale])
                .args(["-c:v", "libx264", "-preset", "veryfast", "-crf", "23"])
                .args(["-pix_fmt", "yuv420p", "-profile:v", "high"])
                .args(["-c:a", "aac", "-b:a", "128k", "-ac", "2"]);
        }
    }
    // Encoder threads too (the first `-threads` bounds the decoder only).
    command
        .args([
            "-threads",
            "1",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            "-y",
        ])
        .arg(output);
    run(FFMPEG, command, rendition_timeout(probe.duration), nice).await?;
    Ok(path)
}

/// A transcode at `-threads 1` runs at about real time for 1080p on a slow core; a stuck or
/// pathological one is killed.
fn rendition_timeout(duration: Duration) -> Duration {
    Duration::from_secs(60) + duration.saturating_mul(8)
}

/// Runs a tool bounded in time and memory at priority `nice`; its stdout, or its stderr as the
/// error when it fails.
async fn run(
    program: &'static str,
    mut command: Command,
    timeout: Duration,
    nice: i32,
) -> Result<Vec<u8>, VideoError> {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => VideoError::ToolMissing(program),
            _ => err.into(),
        })?;
    // Bounded right after the start, as the HEIF converter: no unsafe pre_exec hook needed.
    if let Some(pid) = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(Pid::from_raw)
    {
        let limit = Rlimit {
            current: Some(TOOL_MEMORY_BYTES),
            maximum: Some(TOOL_MEMORY_BYTES),
        };
        if let Err(err) = prlimit(Some(pid), Resource::As, limit) {
            tracing::warn!(error = %err, program, "cannot bound the video tool's memory");
        }
        let _ = setpriority_process(Some(pid), nice);
    }
    let finished = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| VideoError::TimedOut(program, timeout))??;
    if !finished.status.success() {
        let stderr = String::from_utf8_lossy(&finished.stderr);
        let stderr = stderr.trim().chars().take(300).collect::<String>();
        return Err(VideoError::Unreadable(if stderr.is_empty() {
            format!("{program} exited with {}", finished.status)
        } else {
            stderr
        }));
    }
    Ok(finished.stdout)
}

/// A private temporary directory for one clip's files, removed when dropped.
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> std::io::Result<Self> {
        Ok(Self {
            dir: tempfile::Builder::new()
                .prefix("partypic-video-")
                .tempdir()?,
        })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOV_HEVC: &str = r#"{"streams":[{"codec_type":"video","codec_name":"hevc","width":1920,"height":1080,"pix_fmt":"yuv420p10le","disposition":{"attached_pic":0}},{"codec_type":"audio","codec_name":"aac"}],
        "format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"12.480000"}}"#;

    #[test]
    fn probe_output_is_read_and_judged() {
        let probe = parse_probe(MOV_HEVC.as_bytes()).expect("valid");
        assert_eq!(probe.duration, Duration::from_millis(12_480));
        assert!(probe.container_matches(VideoType::Mov));
        assert!(!probe.container_matches(VideoType::Webm));
        assert!(!probe.web_playable());
        let h264 = Probe {
            video_codec: "h264".into(),
            pixel_format: Some("yuv420p".into()),
            ..probe.clone()
        };
        assert!(h264.web_playable());
        assert!(
            !Probe {
                width: 3840,
                height: 2160,
                ..h264.clone()
            }
            .web_playable()
        );
        // Portrait 1080p fits the box too.
        assert!(
            Probe {
                width: 1080,
                height: 1920,
                ..h264
            }
            .web_playable()
        );
    }

    #[test]
    fn probes_without_a_video_stream_or_duration_are_unreadable() {
        for bad in [
            r#"{"streams":[{"codec_type":"audio","codec_name":"mp3"}],"format":{"format_name":"mp3","duration":"3.0"}}"#,
            r#"{"streams":[{"codec_type":"video","codec_name":"h264","width":10,"height":10}],"format":{"format_name":"mov"}}"#,
            r#"{"streams":[]}"#,
            "not json",
        ] {
            assert!(parse_probe(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
