//! Gallery thumbnails: decoded with the `image` crate, turned upright by the EXIF orientation,
//! re-encoded as a small JPEG that carries no metadata (no EXIF, so no GPS position).

use std::io::Cursor;

use image::{
    DynamicImage, ImageDecoder, ImageReader, Limits, codecs::jpeg::JpegEncoder,
    metadata::Orientation,
};

/// Longest side of a thumbnail, in pixels.
pub const THUMBNAIL_MAX_SIDE: u32 = 400;
const JPEG_QUALITY: u8 = 80;

/// Bounds memory for hostile or huge inputs (a 50 MP photo decodes to ~150 MB).
fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(384 * 1024 * 1024);
    limits
}

/// Makes a JPEG thumbnail; an error means the photo cannot be decoded (it keeps no thumbnail).
pub fn make_thumbnail(bytes: &[u8], max_side: u32) -> Result<Vec<u8>, image::ImageError> {
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format()?;
    reader.limits(limits());
    let mut decoder = reader.into_decoder()?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder)?;
    image.apply_orientation(orientation);
    let thumbnail = image.thumbnail(max_side, max_side).to_rgb8();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).encode_image(&thumbnail)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, RgbImage};

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

    #[test]
    fn thumbnails_fit_the_box_and_keep_the_aspect_ratio() {
        let thumb = make_thumbnail(&encode(1200, 600, ImageFormat::Png), 400).expect("thumbnail");
        let decoded = image::load_from_memory(&thumb).expect("decodes");
        assert_eq!((decoded.width(), decoded.height()), (400, 200));
        assert_eq!(&thumb[..3], &[0xFF, 0xD8, 0xFF]);
    }

    #[test]
    fn undecodable_bytes_are_an_error_not_a_panic() {
        assert!(make_thumbnail(b"\xFF\xD8\xFF\xE0 definitely not a jpeg", 400).is_err());
        assert!(make_thumbnail(b"", 400).is_err());
    }
}
