//! Content codings: which of br and gzip a client takes (`Accept-Encoding`), and making them.
//! The web client's files are compressed once at the highest levels (`web.rs`); gallery pages
//! once per rendered page, at levels that keep up with a page per upload (`pictures.rs`).

use std::io::Write as _;

use axum::http::{HeaderMap, HeaderValue, header};
use bytes::Bytes;

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    /// The `Content-Encoding` value; none for identity.
    pub fn header_value(self) -> Option<HeaderValue> {
        match self {
            Self::Brotli => Some(HeaderValue::from_static("br")),
            Self::Gzip => Some(HeaderValue::from_static("gzip")),
            Self::Identity => None,
        }
    }
}

/// The client's preference among br and gzip (`Accept-Encoding`, `q=0` refuses a coding).
pub fn accepted(headers: &HeaderMap) -> (bool, bool) {
    let mut br = false;
    let mut gzip = false;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            match coding.as_str() {
                "br" => br = !refused,
                "gzip" | "x-gzip" => gzip = !refused,
                _ => {}
            }
        }
    }
    (br, gzip)
}

/// br when the client takes it, else gzip, else identity.
pub fn preferred(headers: &HeaderMap) -> Coding {
    match accepted(headers) {
        (true, _) => Coding::Brotli,
        (_, true) => Coding::Gzip,
        _ => Coding::Identity,
    }
}

/// A compressed copy, kept only when it is smaller.
fn keep_if_smaller(original: &[u8], compressed: Vec<u8>) -> Option<Bytes> {
    (compressed.len() < original.len()).then(|| Bytes::from(compressed))
}

/// `data` as brotli at `quality` (0–11), when that is smaller. The window is just large enough
/// for `data` (2^16–2^22 bytes): a gallery page is compressed while the server is busy, and the
/// largest window would allocate several MiB for every page of a few hundred KiB.
pub fn brotli(data: &[u8], quality: u32) -> Option<Bytes> {
    let window_bits = (usize::BITS - data.len().leading_zeros()).clamp(16, 22);
    let mut writer = brotli::CompressorWriter::new(Vec::new(), 4096, quality, window_bits);
    writer.write_all(data).ok()?;
    keep_if_smaller(data, writer.into_inner())
}

/// `data` as gzip at `level` (0–9), when that is smaller.
pub fn gzip(data: &[u8], level: u32) -> Option<Bytes> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    encoder.write_all(data).ok()?;
    keep_if_smaller(data, encoder.finish().ok()?)
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    fn with_accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn accept_encoding_names_the_codings_a_client_takes() {
        assert_eq!(
            accepted(&with_accept("gzip, deflate, br, zstd")),
            (true, true)
        );
        assert_eq!(accepted(&with_accept("gzip;q=1.0, br;q=0")), (false, true));
        assert_eq!(accepted(&with_accept("identity")), (false, false));
        assert_eq!(accepted(&HeaderMap::new()), (false, false));
        assert_eq!(preferred(&with_accept("gzip, br")), Coding::Brotli);
        assert_eq!(preferred(&with_accept("gzip;q=0.5, br;q=0")), Coding::Gzip);
        assert_eq!(preferred(&with_accept("deflate")), Coding::Identity);
    }

    #[test]
    fn compressed_copies_decode_to_the_original_and_are_kept_only_when_smaller() {
        let text = br#"{"id":"a","url":"https://example.test/x"},"#.repeat(200);
        let br = brotli(&text, 5).expect("smaller");
        let mut out = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut out)
            .expect("brotli");
        assert_eq!(out, text);
        let gz = gzip(&text, 6).expect("smaller");
        out.clear();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .expect("gzip");
        assert_eq!(out, text);
        assert_eq!(gzip(b"{}", 6), None, "two bytes do not get smaller");
    }
}
