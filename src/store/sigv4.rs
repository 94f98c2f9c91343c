//! Presigned SigV4 URLs for the client-facing hot paths: every gallery photo's download URL and
//! every upload URL. A SigV4 signing key depends only on the secret, the UTC day, the region and
//! the service, so it is derived once per day here instead of four chained HMACs for each URL as
//! `rusty-s3` does; the rest follows AWS's query-string signing exactly as `rusty-s3` does (the
//! tests compare both, URL for URL). Server-side requests keep using `rusty-s3`.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rusty_s3::Credentials;
use sha2::{Digest, Sha256};
use url::Url;

/// AWS's canonical encoding: everything but the unreserved characters of RFC 3986.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The store only has to accept the payload as sent: uploads are checked after they land.
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

struct DayKey {
    /// `YYYYMMDD` in UTC, the credential scope's date.
    day: String,
    /// HMAC-SHA256 keyed with the day's signing key: cloning it skips hashing the key's pads.
    mac: Hmac<Sha256>,
}

pub struct Presigner {
    access_key: String,
    secret_key: String,
    session_token: Option<String>,
    region: String,
    /// Held only to compare the day and clone the keyed MAC; renewed once per UTC day.
    day_key: Mutex<Option<DayKey>>,
}

fn keyed_mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length: new_from_slice cannot fail for it.
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length")
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = keyed_mac(key);
    mac.update(message);
    mac.finalize().into_bytes().into()
}

impl Presigner {
    pub fn new(credentials: &Credentials, region: &str) -> Self {
        Self {
            access_key: credentials.key().to_owned(),
            secret_key: credentials.secret().to_owned(),
            // An empty token is no token: signing `X-Amz-Security-Token=` only makes requests fail.
            session_token: credentials
                .token()
                .filter(|token| !token.is_empty())
                .map(str::to_owned),
            region: region.to_owned(),
            day_key: Mutex::new(None),
        }
    }

    /// The signing key for `day`: AWS4 + secret → day → region → service → "aws4_request".
    fn derive_key(&self, day: &str) -> [u8; 32] {
        let secret = format!("AWS4{}", self.secret_key);
        let dated = hmac_sha256(secret.as_bytes(), day.as_bytes());
        let regional = hmac_sha256(&dated, self.region.as_bytes());
        let service = hmac_sha256(&regional, b"s3");
        hmac_sha256(&service, b"aws4_request")
    }

    /// The MAC keyed with `day`'s signing key, derived when the day is not the cached one.
    fn mac_for(&self, day: &str) -> Hmac<Sha256> {
        // A poisoned lock only means another thread panicked while holding it; the cached key
        // is either whole or absent, so it stays usable.
        let mut cached = self
            .day_key
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match cached.as_ref() {
            Some(current) if current.day == day => current.mac.clone(),
            _ => {
                let mac = keyed_mac(&self.derive_key(day));
                *cached = Some(DayKey {
                    day: day.to_owned(),
                    mac: mac.clone(),
                });
                mac
            }
        }
    }

    /// Presigns `method` on `url` (an object URL with its path already percent-encoded, as
    /// `rusty_s3::Bucket::object_url` gives it) with the extra query parameters `query`, valid
    /// for `expires` from `now`. Only the `host` header is signed.
    pub fn presign(
        &self,
        method: &str,
        mut url: Url,
        query: &[(&str, &str)],
        expires: Duration,
        now: DateTime<Utc>,
    ) -> Url {
        let timestamp = now.format("%Y%m%dT%H%M%SZ").to_string();
        let day = &timestamp[..8];
        let credential = format!("{}/{day}/{}/s3/aws4_request", self.access_key, self.region);
        let expires = expires.as_secs().to_string();
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };

        let mut params: Vec<(&str, &str)> = vec![
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", &credential),
            ("X-Amz-Date", &timestamp),
            ("X-Amz-Expires", &expires),
            ("X-Amz-SignedHeaders", "host"),
        ];
        if let Some(token) = &self.session_token {
            params.push(("X-Amz-Security-Token", token));
        }
        params.extend_from_slice(query);
        params.sort_unstable();
        let mut query_string = String::with_capacity(256);
        for (name, value) in &params {
            if !query_string.is_empty() {
                query_string.push('&');
            }
            query_string.extend(utf8_percent_encode(name, QUERY_VALUE));
            query_string.push('=');
            query_string.extend(utf8_percent_encode(value, QUERY_VALUE));
        }

        let canonical_request = format!(
            "{method}\n{}\n{query_string}\nhost:{host}\n\nhost\n{UNSIGNED_PAYLOAD}",
            url.path()
        );
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{timestamp}\n{day}/{}/s3/aws4_request\n{}",
            self.region,
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );
        let mut mac = self.mac_for(day);
        mac.update(string_to_sign.as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());

        query_string.push_str("&X-Amz-Signature=");
        query_string.push_str(&signature);
        url.set_query(Some(&query_string));
        url
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rusty_s3::{Bucket, S3Action, UrlStyle};

    use super::*;

    const TTL: Duration = Duration::from_secs(7 * 24 * 3600);

    fn bucket(endpoint: &str, style: UrlStyle) -> Bucket {
        Bucket::new(
            endpoint.parse().expect("test endpoint"),
            style,
            "partypic-photos",
            "garage",
        )
        .expect("test bucket")
    }

    fn at(seconds: i64) -> (DateTime<Utc>, jiff::Timestamp) {
        (
            Utc.timestamp_opt(seconds, 0).single().expect("valid time"),
            jiff::Timestamp::from_second(seconds).expect("valid time"),
        )
    }

    fn credential_sets() -> Vec<Credentials> {
        vec![
            Credentials::new(
                "GK31c2f218a2e44f485b94239e",
                "b892c0665f0ada8a4755dae98baa3b133590e11dae3bcc1f9d769d67f16c3835",
            ),
            Credentials::new_with_token(
                "AKIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "FQoGZXIvYXdzE+Pk/t==",
            ),
            Credentials::new_with_token("key", "secret", ""),
        ]
    }

    /// The AWS documentation's own presigned GET (its example credentials, 24 May 2013).
    #[test]
    fn matches_the_aws_documentation_example() {
        let bucket = bucket_aws();
        let credentials = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        );
        let presigner = Presigner::new(&credentials, "us-east-1");
        let (now, _) = at(1_369_353_600);
        let url = presigner.presign(
            "GET",
            bucket.object_url("test.txt"),
            &[],
            Duration::from_secs(86400),
            now,
        );
        assert_eq!(
            url.as_str(),
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    fn bucket_aws() -> Bucket {
        Bucket::new(
            "https://s3.amazonaws.com".parse().expect("endpoint"),
            UrlStyle::VirtualHost,
            "examplebucket",
            "us-east-1",
        )
        .expect("bucket")
    }

    #[test]
    fn signs_every_client_url_exactly_as_rusty_s3() {
        let buckets = [
            bucket("http://127.0.0.1:3900", UrlStyle::Path),
            bucket("https://photos.example.org", UrlStyle::Path),
            bucket("https://s3.eu-central-1.example.com", UrlStyle::VirtualHost),
        ];
        let keys = [
            "events/5f0c/photos/0b7e-4b1c.jpg",
            "events/5f0c/videos/clip one (2).mov",
            "events/ä/ü+&=?.heic",
        ];
        // Across midnight and on later days, so the cached key is renewed when the day changes.
        for seconds in [1_764_806_399, 1_764_806_400, 1_764_806_401, 1_800_000_000] {
            let (now, time) = at(seconds);
            for credentials in credential_sets() {
                for bucket in &buckets {
                    let presigner = Presigner::new(&credentials, bucket.region());
                    for key in keys {
                        let get = presigner.presign("GET", bucket.object_url(key), &[], TTL, now);
                        let expected = bucket.get_object(Some(&credentials), key);
                        assert_eq!(get, expected.sign_with_time(TTL, &time), "GET {key}");

                        let put = presigner.presign("PUT", bucket.object_url(key), &[], TTL, now);
                        let expected = bucket.put_object(Some(&credentials), key);
                        assert_eq!(put, expected.sign_with_time(TTL, &time), "PUT {key}");

                        let upload_id = "YmE2NDM1ZDgtMzQ1Ni00Y2Q1LWFkNjAtNDg5ZGQ5MmUxN2Nj";
                        let part = presigner.presign(
                            "PUT",
                            bucket.object_url(key),
                            &[("partNumber", "17"), ("uploadId", upload_id)],
                            TTL,
                            now,
                        );
                        let expected = bucket.upload_part(Some(&credentials), key, 17, upload_id);
                        assert_eq!(part, expected.sign_with_time(TTL, &time), "part {key}");
                    }
                }
            }
        }
    }

    #[test]
    fn one_presigner_renews_its_key_when_the_day_changes() {
        let credentials = &credential_sets()[0];
        let bucket = bucket("http://127.0.0.1:3900", UrlStyle::Path);
        let presigner = Presigner::new(credentials, bucket.region());
        // Same presigner through three days and back: each URL must be the one rusty-s3 signs.
        for seconds in [
            1_764_720_000,
            1_764_806_399,
            1_764_806_400,
            1_764_892_800,
            1_764_720_000,
        ] {
            let (now, time) = at(seconds);
            let url = presigner.presign("GET", bucket.object_url("a.jpg"), &[], TTL, now);
            let expected = bucket.get_object(Some(credentials), "a.jpg");
            assert_eq!(url, expected.sign_with_time(TTL, &time), "at {seconds}");
        }
    }
}
