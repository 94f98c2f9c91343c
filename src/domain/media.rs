//! What a guest may upload: a photo ([`ImageType`]) or a video clip ([`VideoType`]), recognised by
//! their first bytes rather than by the client's claim.

use super::image::ImageType;

/// The video containers guests may upload. Playability is decided later by ffprobe; the
/// signature only routes the upload to the video checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoType {
    Mp4,
    /// QuickTime (iPhone clips).
    Mov,
    Webm,
}

impl VideoType {
    pub const ALL: [VideoType; 3] = [Self::Mp4, Self::Mov, Self::Webm];

    pub fn from_mime(mime: &str) -> Option<Self> {
        match essence(mime).as_str() {
            "video/mp4" => Some(Self::Mp4),
            "video/quicktime" => Some(Self::Mov),
            "video/webm" => Some(Self::Webm),
            _ => None,
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Mp4 => "video/mp4",
            Self::Mov => "video/quicktime",
            Self::Webm => "video/webm",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Mp4 => "mp4",
            Self::Mov => "mov",
            Self::Webm => "webm",
        }
    }

    /// Recognises a clip by its container signature: the ISO BMFF `ftyp` brand (QuickTime's
    /// `qt  ` apart) or the EBML header with the `webm` doctype. Matroska is not WebM: refused.
    pub fn sniff(head: &[u8]) -> Option<Self> {
        if head.len() >= 12 && &head[4..8] == b"ftyp" {
            return match &head[8..12] {
                b"qt  " => Some(Self::Mov),
                b"isom" | b"iso2" | b"iso4" | b"iso5" | b"iso6" | b"mp41" | b"mp42" | b"avc1"
                | b"M4V " | b"MSNV" | b"dash" => Some(Self::Mp4),
                _ => None,
            };
        }
        // Older QuickTime files start with a `moov`/`mdat`/`wide` atom instead of `ftyp`.
        if head.len() >= 8 && matches!(&head[4..8], b"moov" | b"wide" | b"mdat" | b"free") {
            return Some(Self::Mov);
        }
        match infer::get(head)?.mime_type() {
            "video/webm" => Some(Self::Webm),
            _ => None,
        }
    }
}

/// A photo or a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Image(ImageType),
    Video(VideoType),
}

impl From<ImageType> for MediaType {
    fn from(image: ImageType) -> Self {
        Self::Image(image)
    }
}

impl From<VideoType> for MediaType {
    fn from(video: VideoType) -> Self {
        Self::Video(video)
    }
}

impl MediaType {
    /// How many leading bytes [`MediaType::sniff`] needs.
    pub const SNIFF_LEN: usize = 64;

    /// Parses a declared MIME type (parameters and case ignored).
    pub fn from_mime(mime: &str) -> Option<Self> {
        ImageType::from_mime(mime)
            .map(Self::Image)
            .or_else(|| VideoType::from_mime(mime).map(Self::Video))
    }

    pub fn from_extension(ext: &str) -> Option<Self> {
        ImageType::from_extension(ext).map(Self::Image).or_else(|| {
            VideoType::ALL
                .into_iter()
                .find(|t| t.extension() == ext)
                .map(Self::Video)
        })
    }

    pub fn sniff(head: &[u8]) -> Option<Self> {
        ImageType::sniff(head)
            .map(Self::Image)
            .or_else(|| VideoType::sniff(head).map(Self::Video))
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Image(image) => image.mime(),
            Self::Video(video) => video.mime(),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Image(image) => image.extension(),
            Self::Video(video) => video.extension(),
        }
    }

    pub fn is_video(self) -> bool {
        matches!(self, Self::Video(_))
    }

    /// Whether a stored MIME type (a picture's `mimetype`) is a clip.
    pub fn mime_is_video(mime: &str) -> bool {
        VideoType::from_mime(mime).is_some()
    }
}

fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_signatures_are_recognised() {
        assert_eq!(
            MediaType::sniff(b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41"),
            Some(MediaType::Video(VideoType::Mp4))
        );
        assert_eq!(
            MediaType::sniff(b"\0\0\0\x14ftypqt  \0\0\x02\0qt  \0\0\0\x08wide"),
            Some(MediaType::Video(VideoType::Mov))
        );
        assert_eq!(
            MediaType::sniff(
                b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm\x42\x87\x81\x02"
            ),
            Some(MediaType::Video(VideoType::Webm))
        );
        // HEIC shares the box format; it stays a photo.
        assert_eq!(
            MediaType::sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            Some(MediaType::Image(ImageType::Heic))
        );
        assert_eq!(
            MediaType::sniff(b"just some text, renamed to clip.mp4"),
            None
        );
    }

    #[test]
    fn declared_video_types_are_parsed() {
        assert_eq!(
            MediaType::from_mime("Video/QuickTime"),
            Some(MediaType::Video(VideoType::Mov))
        );
        assert_eq!(
            MediaType::from_mime("image/png"),
            Some(MediaType::Image(ImageType::Png))
        );
        assert_eq!(MediaType::from_mime("video/x-matroska"), None);
        assert!(MediaType::mime_is_video("video/webm"));
        assert!(!MediaType::mime_is_video("image/jpeg"));
    }
}
