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

/// Whether a JPEG runs to its end-of-image marker. The decoder fills a truncated file's missing
/// rows with grey instead of failing; such a photo must fail, not become a half-grey variant.
/// Data after the marker (phones append depth maps and other pictures) does not matter.
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let mut at = 2;
    while at + 1 < bytes.len() {
        if bytes[at] != 0xFF {
            return false;
        }
        let marker = bytes[at + 1];
        match marker {
            0xD9 => return true,
            // Fill byte before a marker; standalone markers without a length.
            0xFF => at += 1,
            0x01 | 0xD0..=0xD7 => at += 2,
            _ => {
                let Some(len) = bytes.get(at + 2..at + 4) else {
                    return false;
                };
                at += 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
                if marker == 0xDA {
                    // Entropy-coded data runs to the next marker that is not a stuffed 0xFF00
                    // or a restart marker.
                    while at + 1 < bytes.len()
                        && !(bytes[at] == 0xFF
                            && bytes[at + 1] != 0
                            && !(0xD0..=0xD7).contains(&bytes[at + 1]))
                    {
                        at += 1;
                    }
                }
            }
        }
    }
    false
}

/// The largest image size (`ispe` property) a HEIF file declares, read from its boxes without
/// decoding anything: checked against the decode limits before libheif allocates the pixels.
/// `None` when the file has no readable `meta/iprp/ipco/ispe`.
pub fn heif_declared_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    // meta is a full box: 4 bytes of version and flags before its children.
    let meta = find_box(bytes, b"meta")?.get(4..)?;
    let properties = find_box(find_box(meta, b"iprp")?, b"ipco")?;
    boxes(properties)
        .filter(|(kind, _)| kind == b"ispe")
        .filter_map(|(_, body)| {
            let field = |at: usize| -> Option<u32> {
                Some(u32::from_be_bytes(body.get(at..at + 4)?.try_into().ok()?))
            };
            Some((field(4)?, field(8)?))
        })
        .max_by_key(|(w, h)| u64::from(*w) * u64::from(*h))
}

fn find_box<'a>(bytes: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(bytes).find(|(k, _)| k == kind).map(|(_, body)| body)
}

/// The ISO BMFF boxes in `bytes`: (type, body). Stops at the first malformed header.
fn boxes(mut bytes: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let size = u32::from_be_bytes(bytes.get(0..4)?.try_into().ok()?);
        let kind: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
        let (header, size) = match size {
            // Size 0: to the end; size 1: a 64-bit size follows.
            0 => (8, bytes.len()),
            1 => (
                16,
                usize::try_from(u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?)).ok()?,
            ),
            n => (8, usize::try_from(n).ok()?),
        };
        let body = bytes.get(header..size)?;
        bytes = &bytes[size..];
        Some((kind, body))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = u32::try_from(body.len() + 8)
            .expect("small")
            .to_be_bytes()
            .to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn ispe(width: u32, height: u32) -> Vec<u8> {
        let mut body = vec![0; 4];
        body.extend_from_slice(&width.to_be_bytes());
        body.extend_from_slice(&height.to_be_bytes());
        mp4_box(b"ispe", &body)
    }

    #[test]
    fn only_jpegs_that_reach_their_end_marker_are_complete() {
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 1, 2, 0xFF, 0xDA, 0, 3, 9];
        jpeg.extend([0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56]);
        assert!(!jpeg_is_complete(&jpeg));
        jpeg.extend([0xFF, 0xD9]);
        assert!(jpeg_is_complete(&jpeg));
        jpeg.extend(b"trailing depth map");
        assert!(jpeg_is_complete(&jpeg));
        assert!(!jpeg_is_complete(&jpeg[..9]));
        assert!(!jpeg_is_complete(b""));
    }

    #[test]
    fn heif_dimensions_are_read_from_the_largest_ispe() {
        let ipco = mp4_box(b"ipco", &[ispe(320, 240), ispe(4032, 3024)].concat());
        let mut meta = vec![0; 4];
        meta.extend(mp4_box(b"hdlr", &[0; 24]));
        meta.extend(mp4_box(b"iprp", &ipco));
        let file = [
            mp4_box(b"ftyp", b"heic\0\0\0\0mif1heic"),
            mp4_box(b"meta", &meta),
        ]
        .concat();
        assert_eq!(heif_declared_dimensions(&file), Some((4032, 3024)));
        // Truncated inside the properties: nothing readable, no panic.
        assert_eq!(heif_declared_dimensions(&file[..file.len() - 6]), None);
        assert_eq!(heif_declared_dimensions(b"\0\0\0\x01ftyp"), None);
    }

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
