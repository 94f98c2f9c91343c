//! A photo's variants: one decode, turned upright by the EXIF orientation, then a ~400 px
//! thumbnail and a ≤ 2048 px display copy, both re-encoded as JPEG that carries no metadata at
//! all (no EXIF, so no GPS position). Guests are only ever served these.
//!
//! A large JPEG (what phones and cameras send) is decoded at a reduced DCT scale (1/2, 1/4 or
//! 1/8, `jpeg-decoder`): a 12 MP photo's display copy needs a quarter of its pixels, and the
//! inverse DCT at half size does a quarter of the work. A JPEG that needs no scaling, and other
//! formats, go through the `image` crate (zune-jpeg for JPEG, which writes each row of blocks
//! straight into the output; jpeg-decoder keeps whole component planes besides it: 3.6 instead
//! of 2.6 MB at the peak for a 1024 × 768 photo, measured).
//! Resizing uses `fast_image_resize`, encoding `jpeg-encoder` (both AVX2 where the CPU has it).

use std::io::Cursor;

use image::{
    DynamicImage, GrayImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage,
    error::{DecodingError, EncodingError, ImageFormatHint, LimitError, LimitErrorKind},
    metadata::Orientation,
};

use fast_image_resize::{
    FilterType, PixelTrait, ResizeAlg, ResizeOptions, Resizer,
    images::{TypedImage, TypedImageRef},
    pixels::{U8, U8x3},
};

use super::image::jpeg_is_complete;

/// Longest side of a thumbnail, in pixels.
pub const THUMBNAIL_MAX_SIDE: u32 = 400;
/// Longest side of the display copy: sharp on a phone or a TV, a fraction of a 12 MP original.
pub const DISPLAY_MAX_SIDE: u32 = 2048;
/// A JPEG is decoded at the smallest DCT scale that still leaves this long a side: a 12 MP
/// photo (4032 px) at half scale gives a 2016 px display copy without any resize.
pub const DISPLAY_MIN_SIDE: u32 = 1536;
/// Largest side an image may declare before it is decoded; also bounds HEIC conversion.
pub const MAX_SIDE: u32 = 16_384;
/// Largest pixel count decoded (a 100 MP photo decodes to ~300 MB of RGB).
pub const MAX_PIXELS: u64 = 100_000_000;
/// Most memory one decode may take.
const MAX_DECODE_BYTES: u64 = 384 * 1024 * 1024;
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
    limits.max_alloc = Some(MAX_DECODE_BYTES);
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

fn too_large() -> ImageError {
    ImageError::Limits(LimitError::from_kind(LimitErrorKind::DimensionError))
}

fn undecodable(format: ImageFormat, why: impl std::fmt::Display) -> ImageError {
    ImageError::Decoding(DecodingError::new(
        ImageFormatHint::Exact(format),
        why.to_string(),
    ))
}

/// Decodes once and makes both variants; an error means the photo cannot be decoded.
pub fn make_variants(bytes: &[u8], orient: Orient) -> Result<Variants, ImageError> {
    let is_jpeg = bytes.starts_with(&[0xFF, 0xD8]);
    if is_jpeg && !jpeg_is_complete(bytes) {
        return Err(undecodable(
            ImageFormat::Jpeg,
            "truncated JPEG (no end-of-image marker)",
        ));
    }
    let decoded = if is_jpeg {
        decode_jpeg_scaled(bytes)?
    } else {
        None
    };
    let (mut image, orientation) = match decoded {
        Some(decoded) => decoded,
        None => decode_any(bytes)?,
    };
    if orient == Orient::FromExif {
        image.apply_orientation(orientation);
    }
    // The thumbnail is made from the (smaller) display copy: one full-size pass only.
    let display = shrink_to_fit(&image, DISPLAY_MAX_SIDE).unwrap_or(image);
    let thumbnail = shrink_to_fit(&display, THUMBNAIL_MAX_SIDE);
    Ok(Variants {
        thumbnail: encode_jpeg(thumbnail.as_ref().unwrap_or(&display), THUMBNAIL_QUALITY)?,
        display: encode_jpeg(&display, DISPLAY_QUALITY)?,
    })
}

/// Any format the `image` crate reads, at full size, with its EXIF orientation.
fn decode_any(bytes: &[u8]) -> Result<(DynamicImage, Orientation), ImageError> {
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format()?;
    reader.limits(limits());
    let mut decoder = reader.into_decoder()?;
    let (width, height) = decoder.dimensions();
    if !dimensions_allowed(width, height) {
        return Err(too_large());
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    Ok((DynamicImage::from_decoder(decoder)?, orientation))
}

/// The DCT scale denominator (8, 4, 2 or 1) for a JPEG of this size: the smallest picture whose
/// long side is still at least [`DISPLAY_MIN_SIDE`].
pub fn jpeg_scale_denominator(width: u32, height: u32) -> u32 {
    let long = width.max(height);
    [8, 4, 2]
        .into_iter()
        .find(|denominator| long / denominator >= DISPLAY_MIN_SIDE)
        .unwrap_or(1)
}

/// A JPEG decoded at a reduced scale, with its EXIF orientation; `None` for a JPEG that needs
/// no scaling and for the rare pixel formats (CMYK, 16-bit): those are left to the general
/// decoder.
fn decode_jpeg_scaled(bytes: &[u8]) -> Result<Option<(DynamicImage, Orientation)>, ImageError> {
    let bad = |err: jpeg_decoder::Error| undecodable(ImageFormat::Jpeg, err);
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.set_max_decoding_buffer_size(MAX_DECODE_BYTES as usize);
    decoder.read_info().map_err(bad)?;
    let info = decoder
        .info()
        .ok_or_else(|| undecodable(ImageFormat::Jpeg, "no frame header"))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    if !dimensions_allowed(width, height) {
        return Err(too_large());
    }
    let denominator = jpeg_scale_denominator(width, height);
    if denominator == 1 {
        return Ok(None);
    }
    let requested = |side: u32| u16::try_from(side.div_ceil(denominator)).unwrap_or(u16::MAX);
    let (out_width, out_height) = decoder
        .scale(requested(width), requested(height))
        .map_err(bad)?;
    let (out_width, out_height) = (u32::from(out_width), u32::from(out_height));
    let pixels = decoder.decode().map_err(bad)?;
    let orientation = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let short = || undecodable(ImageFormat::Jpeg, "fewer pixels than the frame declares");
    let image = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => DynamicImage::ImageRgb8(
            RgbImage::from_raw(out_width, out_height, pixels).ok_or_else(short)?,
        ),
        jpeg_decoder::PixelFormat::L8 => DynamicImage::ImageLuma8(
            GrayImage::from_raw(out_width, out_height, pixels).ok_or_else(short)?,
        ),
        jpeg_decoder::PixelFormat::L16 | jpeg_decoder::PixelFormat::CMYK32 => return Ok(None),
    };
    Ok(Some((image, orientation)))
}

/// The image shrunk to fit a `max_side` box, keeping its aspect ratio; `None` when it fits
/// already (never enlarged). A Catmull-Rom convolution with `fast_image_resize` (SIMD).
fn shrink_to_fit(image: &DynamicImage, max_side: u32) -> Option<DynamicImage> {
    let (width, height) = (image.width(), image.height());
    if width <= max_side && height <= max_side {
        return None;
    }
    let scaled = |side: u32, long: u32| {
        let exact = f64::from(side) * f64::from(max_side) / f64::from(long);
        (exact.round() as u32).max(1)
    };
    let (to_width, to_height) = if width >= height {
        (max_side, scaled(height, width))
    } else {
        (scaled(width, height), max_side)
    };
    let resized = match image {
        DynamicImage::ImageRgb8(rgb) => {
            resize::<U8x3>(rgb.as_raw(), (width, height), (to_width, to_height))
                .and_then(|pixels| RgbImage::from_raw(to_width, to_height, pixels))
                .map(DynamicImage::ImageRgb8)
        }
        DynamicImage::ImageLuma8(grey) => {
            resize::<U8>(grey.as_raw(), (width, height), (to_width, to_height))
                .and_then(|pixels| GrayImage::from_raw(to_width, to_height, pixels))
                .map(DynamicImage::ImageLuma8)
        }
        // Variants are JPEGs without alpha: other pixel formats (PNG, WebP, GIF) become RGB or
        // grey first, as the encoder would turn them anyway.
        other if other.color().has_color() => {
            return shrink_to_fit(&DynamicImage::ImageRgb8(other.to_rgb8()), max_side);
        }
        other => return shrink_to_fit(&DynamicImage::ImageLuma8(other.to_luma8()), max_side),
    };
    // Should the crate refuse (it does not for these buffers): the image crate's slower resize.
    Some(resized.unwrap_or_else(|| image.thumbnail(to_width, to_height)))
}

/// `pixels` (`from` width × height) resized to `to` with a Catmull-Rom convolution. Only the two
/// pixel types variants are made of are resized, so only their code is in the binary: the crate's
/// generic `resize` compiles every pixel type it knows (1.5 MB more machine code, measured).
fn resize<P: PixelTrait>(pixels: &[u8], from: (u32, u32), to: (u32, u32)) -> Option<Vec<u8>> {
    let source = TypedImageRef::<P>::from_buffer(from.0, from.1, pixels).ok()?;
    let mut out = vec![0; to.0 as usize * to.1 as usize * P::size()];
    let mut target = TypedImage::<P>::from_buffer(to.0, to.1, &mut out).ok()?;
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom));
    Resizer::new()
        .resize_typed(&source, &mut target, &options)
        .ok()?;
    Some(out)
}

/// Baseline JPEG from RGB (or grey) pixels: the encoder writes a JFIF header and no EXIF, XMP
/// or ICC segment.
fn encode_jpeg(image: &DynamicImage, quality: u8) -> Result<Vec<u8>, ImageError> {
    let failed = |why: String| {
        ImageError::Encoding(EncodingError::new(
            ImageFormatHint::Exact(ImageFormat::Jpeg),
            why,
        ))
    };
    let side = |n: u32| u16::try_from(n).map_err(|_| failed(format!("{n} px is too wide")));
    let (width, height) = (side(image.width())?, side(image.height())?);
    let mut out = Vec::new();
    let encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    let encoded = match image {
        DynamicImage::ImageLuma8(grey) => {
            encoder.encode(grey.as_raw(), width, height, jpeg_encoder::ColorType::Luma)
        }
        DynamicImage::ImageRgb8(rgb) => {
            encoder.encode(rgb.as_raw(), width, height, jpeg_encoder::ColorType::Rgb)
        }
        other => encoder.encode(
            other.to_rgb8().as_raw(),
            width,
            height,
            jpeg_encoder::ColorType::Rgb,
        ),
    };
    encoded.map_err(|err| failed(err.to_string()))?;
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
    fn photos_with_alpha_or_16_bit_channels_are_resized_as_rgb_or_grey() {
        let encoded = |image: DynamicImage| {
            let mut out = Cursor::new(Vec::new());
            image.write_to(&mut out, ImageFormat::Png).expect("encode");
            out.into_inner()
        };
        let rgba =
            image::RgbaImage::from_fn(900, 600, |x, _| image::Rgba([200, 40, 40, (x % 256) as u8]));
        let grey_alpha =
            image::GrayAlphaImage::from_fn(600, 900, |_, y| image::LumaA([90, (y % 256) as u8]));
        let rgb16 = image::ImageBuffer::<image::Rgb<u16>, _>::from_pixel(
            1000,
            500,
            image::Rgb([40_000, 1_000, 9_000]),
        );
        for (png, expected) in [
            (encoded(rgba.into()), (400, 267)),
            (encoded(grey_alpha.into()), (267, 400)),
            (encoded(rgb16.into()), (400, 200)),
        ] {
            let made = make_variants(&png, Orient::FromExif).expect("variants");
            assert_eq!(size_of(&made.thumbnail), expected);
            let thumbnail = image::load_from_memory(&made.thumbnail).expect("a JPEG");
            assert!(matches!(
                thumbnail,
                DynamicImage::ImageRgb8(_) | DynamicImage::ImageLuma8(_)
            ));
        }
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
    fn a_twelve_megapixel_jpeg_is_decoded_at_half_scale_into_its_display_copy() {
        assert_eq!(jpeg_scale_denominator(4032, 3024), 2);
        assert_eq!(jpeg_scale_denominator(3024, 4032), 2);
        assert_eq!(jpeg_scale_denominator(8064, 6048), 4);
        assert_eq!(jpeg_scale_denominator(2048, 1536), 1);
        assert_eq!(jpeg_scale_denominator(16_000, 1_000), 8);
        let made = make_variants(&encode(4032, 3024, ImageFormat::Jpeg), Orient::FromExif)
            .expect("variants");
        assert_eq!(size_of(&made.display), (2016, 1512));
        assert_eq!(size_of(&made.thumbnail), (400, 300));
    }

    #[test]
    fn grey_jpegs_and_odd_sizes_decode_too() {
        let grey =
            image::GrayImage::from_fn(3001, 1999, |x, y| image::Luma([((x ^ y) % 256) as u8]));
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageLuma8(grey)
            .write_to(&mut out, ImageFormat::Jpeg)
            .expect("encode");
        let made = make_variants(&out.into_inner(), Orient::FromExif).expect("variants");
        assert_eq!(size_of(&made.display).0, 2048);
        assert_eq!(size_of(&made.thumbnail).0, 400);
    }

    #[test]
    fn huge_declared_dimensions_are_refused_before_decoding() {
        assert!(dimensions_allowed(4032, 3024));
        assert!(!dimensions_allowed(20_000, 100));
        assert!(!dimensions_allowed(12_000, 12_000));
        assert!(!dimensions_allowed(0, 10));
    }
}
