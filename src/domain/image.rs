//! Which images PartyPic accepts, recognised by their first bytes rather than by the client's claim.

/// The image types guests may upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Jpeg,
    Png,
    Webp,
    Heic,
    Heif,
    Gif,
}

impl ImageType {
    pub const ALL: [ImageType; 6] = [
        Self::Jpeg,
        Self::Png,
        Self::Webp,
        Self::Heic,
        Self::Heif,
        Self::Gif,
    ];

    /// Parses a declared MIME type (parameters and case ignored).
    pub fn from_mime(mime: &str) -> Option<Self> {
        let essence = mime
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Some(Self::Jpeg),
            "image/png" => Some(Self::Png),
            "image/webp" => Some(Self::Webp),
            "image/heic" => Some(Self::Heic),
            "image/heif" => Some(Self::Heif),
            "image/gif" => Some(Self::Gif),
            _ => None,
        }
    }

    pub fn from_extension(ext: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.extension() == ext)
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Heic => "image/heic",
            Self::Heif => "image/heif",
            Self::Gif => "image/gif",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Heic => "heic",
            Self::Heif => "heif",
            Self::Gif => "gif",
        }
    }

    /// Recognises an image by its signature; `None` for anything else.
    pub fn sniff(head: &[u8]) -> Option<Self> {
        let kind = infer::get(head)?;
        match kind.mime_type() {
            "image/jpeg" => Some(Self::Jpeg),
            "image/png" => Some(Self::Png),
            "image/webp" => Some(Self::Webp),
            "image/heif" => Some(if is_heic_brand(head) {
                Self::Heic
            } else {
                Self::Heif
            }),
            "image/gif" => Some(Self::Gif),
            _ if is_heic_brand(head) => Some(Self::Heic),
            _ => None,
        }
    }

    /// How many leading bytes [`ImageType::sniff`] needs.
    pub const SNIFF_LEN: usize = 64;
}

fn is_heic_brand(head: &[u8]) -> bool {
    head.len() >= 12
        && &head[4..8] == b"ftyp"
        && matches!(
            &head[8..12],
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_mime_types_are_parsed_leniently() {
        assert_eq!(
            ImageType::from_mime("IMAGE/JPEG; charset=binary"),
            Some(ImageType::Jpeg)
        );
        assert_eq!(ImageType::from_mime("image/svg+xml"), None);
        assert_eq!(ImageType::from_mime("text/plain"), None);
    }

    #[test]
    fn signatures_are_recognised() {
        assert_eq!(
            ImageType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0]),
            Some(ImageType::Jpeg)
        );
        assert_eq!(
            ImageType::sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(ImageType::Png)
        );
        assert_eq!(
            ImageType::sniff(b"GIF89a\x01\0\x01\0"),
            Some(ImageType::Gif)
        );
        assert_eq!(
            ImageType::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageType::Webp)
        );
        assert_eq!(
            ImageType::sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            Some(ImageType::Heic)
        );
        assert_eq!(
            ImageType::sniff(b"<html><body>not an image</body></html>"),
            None
        );
        assert_eq!(ImageType::sniff(b""), None);
    }
}
