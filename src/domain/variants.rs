//! A photo's variants: one decode with the `image` crate, turned upright by the EXIF orientation,
//! then a ~400 px thumbnail and a ≤ 2048 px display copy, both re-encoded as JPEG that carries no
//! metadata at all (no EXIF, so no GPS position). Guests are only ever served these.

use std::io::Cursor;

use image::{
    DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits,
    codecs::jpeg::JpegEncoder,
    error::{DecodingError, ImageFormatHint},
    metadata::Orientation,
};

use super::image::jpeg_is_complete;

/// Longest side of a thumbnail, in pixels.
pub const THUMBNAIL_MAX_SIDE: u32 = 400;
/// Longest side of the display copy: sharp on a phone or a TV, a fraction of a 12 MP original.
pub const DISPLAY_MAX_SIDE: u32 = 2048;
/// Largest side an image may declare before it is decoded; also bounds HEIC conversion.
pub const MAX_SIDE: u32 = 16_384;
/// Largest pixel count decoded (a 100 MP photo decodes to ~300 MB of RGB).
pub const MAX_PIXELS: u64 = 100_000_000;
const THUMBNAIL_QUALITY: u8 = 80;
const DISPLAY_QUALITY: u8 = 85;

/// The two JPEGs made from one photo.
pub struct Variants {
    pub thumbnail: Vec<u8>,
    pub display: Vec<u8>,
}

/// Where the upright orientation comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orient {
    /// Apply the EXIF orientation tag (JPEG, WebP, PNG straight from a camera).
    FromExif,
    /// The pixels are already upright (a HEIC converted by libheif, which applies its
    /// rotation and mirroring itself).
    AsDecoded,
}

/// Bounds memory for hostile or huge inputs.
fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(384 * 1024 * 1024);
    limits
}

/// Whether declared dimensions are within the decode limits.
pub fn dimensions_allowed(width: u32, height: u32) -> bool {
    width > 0
        && height > 0
        && width <= MAX_SIDE
        && height <= MAX_SIDE
        && u64::from(width) * u64::from(height) <= MAX_PIXELS
}

/// Decodes once and makes both variants; an error means the photo cannot be decoded.
pub fn make_variants(bytes: &[u8], orient: Orient) -> Result<Variants, image::ImageError> {
    if bytes.starts_with(&[0xFF, 0xD8]) && !jpeg_is_complete(bytes) {
        return Err(image::ImageError::Decoding(DecodingError::new(
            ImageFormatHint::Exact(ImageFormat::Jpeg),
            "truncated JPEG (no end-of-image marker)",
        )));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format()?;
    reader.limits(limits());
    let mut decoder = reader.into_decoder()?;
    let (width, height) = decoder.dimensions();
    if !dimensions_allowed(width, height) {
        return Err(image::ImageError::Limits(
            image::error::LimitError::from_kind(image::error::LimitErrorKind::DimensionError),
        ));
    }
    let orientation = match orient {
        Orient::FromExif => decoder.orientation().unwrap_or(Orientation::NoTransforms),
        Orient::AsDecoded => Orientation::NoTransforms,
    };
    let mut image = DynamicImage::from_decoder(decoder)?;
    image.apply_orientation(orientation);
    // The thumbnail is made from the (smaller) display copy: one full-size pass only.
    let display = fit_within(&image, DISPLAY_MAX_SIDE);
    drop(image);
    let thumbnail = fit_within(&display, THUMBNAIL_MAX_SIDE);
    Ok(Variants {
        thumbnail: encode_jpeg(&thumbnail, THUMBNAIL_QUALITY)?,
        display: encode_jpeg(&display, DISPLAY_QUALITY)?,
    })
}

/// Shrinks to fit a `max_side` box with the crate's fast integer resize; never enlarges.
fn fit_within(image: &DynamicImage, max_side: u32) -> DynamicImage {
    if image.width() <= max_side && image.height() <= max_side {
        image.clone()
    } else {
        image.thumbnail(max_side, max_side)
    }
}

/// Baseline JPEG from RGB pixels: the encoder writes no EXIF, XMP or ICC segment.
fn encode_jpeg(image: &DynamicImage, quality: u8) -> Result<Vec<u8>, image::ImageError> {
    let rgb = image.to_rgb8();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality).encode_image(&rgb)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbImage;

    fn encode(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(image)
            .write_to(&mut out, format)
            .expect("encode");
        out.into_inner()
    }

    fn size_of(jpeg: &[u8]) -> (u32, u32) {
        assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF]);
        let decoded = image::load_from_memory(jpeg).expect("decodes");
        (decoded.width(), decoded.height())
    }

    #[test]
    fn variants_fit_their_boxes_and_keep_the_aspect_ratio() {
        let made = make_variants(&encode(4200, 2100, ImageFormat::Png), Orient::FromExif)
            .expect("variants");
        assert_eq!(size_of(&made.display), (2048, 1024));
        assert_eq!(size_of(&made.thumbnail), (400, 200));
    }

    #[test]
    fn small_photos_are_not_enlarged() {
        let made =
            make_variants(&encode(300, 200, ImageFormat::Png), Orient::FromExif).expect("variants");
        assert_eq!(size_of(&made.display), (300, 200));
        assert_eq!(size_of(&made.thumbnail), (300, 200));
    }

    #[test]
    fn undecodable_bytes_are_an_error_not_a_panic() {
        let truncated = encode(640, 480, ImageFormat::Jpeg);
        for bad in [
            &b"\xFF\xD8\xFF\xE0 definitely not a jpeg"[..],
            b"",
            &truncated[..truncated.len() / 3],
        ] {
            assert!(make_variants(bad, Orient::FromExif).is_err());
        }
    }

    #[test]
    fn huge_declared_dimensions_are_refused_before_decoding() {
        assert!(dimensions_allowed(4032, 3024));
        assert!(!dimensions_allowed(20_000, 100));
        assert!(!dimensions_allowed(12_000, 12_000));
        assert!(!dimensions_allowed(0, 10));
    }
}
