//! HEIC/HEIF → JPEG through Debian's `heif-convert` (package libheif-examples), run as a
//! subprocess in a temporary directory with a time and memory bound, at the workers' nice value.
//! The libheif-rs crate needs libheif ≥ 1.17; Debian 12 ships 1.15, so the library is reached
//! through its own tool instead. Without the tool HEIC photos end `failed` (guests get the
//! placeholder, the host the original).

use std::{process::Stdio, time::Duration};

use rustix::process::{Pid, Resource, Rlimit, prlimit, setpriority_process};
use tokio::process::Command;

use crate::domain::{image::heif_declared_dimensions, variants::dimensions_allowed};

/// A 12 MP HEIC converts in well under a second; a stuck decoder is killed.
const CONVERT_TIMEOUT: Duration = Duration::from_secs(30);
/// Address-space bound of the converter: room for a 100 MP image, not for a bomb.
const CONVERT_MEMORY_BYTES: u64 = 1536 * 1024 * 1024;
const PROGRAM: &str = "heif-convert";

#[derive(Debug, thiserror::Error)]
pub enum HeifError {
    #[error("no readable image size in the HEIF boxes")]
    NoDimensions,
    #[error("declared size {0}×{1} is beyond the decode limits")]
    TooLarge(u32, u32),
    #[error("{PROGRAM} is not installed (Debian: libheif-examples)")]
    ToolMissing,
    #[error("{PROGRAM} took longer than {CONVERT_TIMEOUT:?}")]
    TimedOut,
    #[error("{PROGRAM} failed: {0}")]
    Failed(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl HeifError {
    /// Whether the photo itself is at fault (mark it failed) rather than this server.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::NoDimensions | Self::TooLarge(..) | Self::TimedOut | Self::Failed(_)
        )
    }
}

/// Converts a HEIC/HEIF photo to an upright JPEG (libheif applies rotation and mirroring).
/// Whether the converter is on the PATH (checked once at start, for one clear log line).
pub fn tool_installed() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(PROGRAM).is_file()))
}

/// `nice` is the converter's priority (`WORKER_NICE`).
pub async fn to_jpeg(heif: &[u8], nice: i32) -> Result<Vec<u8>, HeifError> {
    let (width, height) = heif_declared_dimensions(heif).ok_or(HeifError::NoDimensions)?;
    if !dimensions_allowed(width, height) {
        return Err(HeifError::TooLarge(width, height));
    }
    let work = tempfile::Builder::new()
        .prefix("partypic-heif-")
        .tempdir()?;
    let input = work.path().join("in.heic");
    let output = work.path().join("out.jpg");
    tokio::fs::write(&input, heif).await?;
    let child = Command::new(PROGRAM)
        .args(["--quiet", "-q", "92"])
        .arg(&input)
        .arg(&output)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => HeifError::ToolMissing,
            _ => err.into(),
        })?;
    // Bounded right after the start (libheif allocates the pixels only after parsing): no
    // unsafe pre_exec hook is needed, and the image needs no shell.
    if let Some(pid) = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(Pid::from_raw)
    {
        let limit = Rlimit {
            current: Some(CONVERT_MEMORY_BYTES),
            maximum: Some(CONVERT_MEMORY_BYTES),
        };
        if let Err(err) = prlimit(Some(pid), Resource::As, limit) {
            tracing::warn!(error = %err, "cannot bound the HEIF converter's memory");
        }
        // Best effort, like the decoder thread: requests get the CPU first.
        let _ = setpriority_process(Some(pid), nice);
    }
    let finished = tokio::time::timeout(CONVERT_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| HeifError::TimedOut)??;
    if !finished.status.success() {
        let stderr = String::from_utf8_lossy(&finished.stderr);
        return Err(HeifError::Failed(
            stderr.trim().chars().take(300).collect::<String>(),
        ));
    }
    // Several top-level images are written as out-1.jpg, out-2.jpg…; the first is the primary.
    for name in ["out.jpg", "out-1.jpg"] {
        match tokio::fs::read(work.path().join(name)).await {
            Ok(jpeg) => return Ok(jpeg),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(HeifError::Failed("no image written".into()))
}
