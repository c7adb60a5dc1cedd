//! S3 blob store (AWS S3, MinIO, Garage, …): rust-s3, path-style URLs, a
//! custom endpoint and region.
//!
//! Puts ask HEAD first and send nothing when the key exists. Files are
//! streamed: up to 8 MiB in one PUT, beyond that a multipart upload with a
//! bounded number of 8 MiB parts in flight, never the whole file in memory.
//! Objects are immutable (the key is the content hash), so they are
//! uploaded with a year-long `immutable` Cache-Control.
//!
//! Errors are classified for the job runner: network trouble, timeouts and
//! 5xx are [`BlobError::Unavailable`] (retry); 401/403 and signature errors
//! are [`BlobError::Config`] (the operator must fix credentials, region or
//! bucket permissions); other 4xx are [`BlobError::Refused`].

use std::fmt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use s3::bucket_ops::BucketConfiguration;
use s3::command::Command;
use s3::creds::Credentials;
use s3::error::S3Error;
use s3::request::Request as _;
use s3::request::tokio_backend::ReqwestRequest;
use s3::{Bucket, Region};
use url::Url;

use super::{BlobError, BlobInfo, BlobKey, BlobReader, BlobStore, Stored};
use crate::settings::S3Settings;

/// Objects never change once written.
pub const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// Multipart parts (8 MiB each, fixed by rust-s3) in flight per upload:
/// bounds memory. rust-s3 holds about three copies of a part while it
/// uploads. Measured with a 1 GiB video (bench/README.md): with two parts
/// in flight a worker's peak grew past 100 MB; with one it stays near
/// 60–70 MB at 100 MiB and 1 GiB alike, for ~10 % less throughput.
const MAX_PARTS_IN_FLIGHT: usize = 1;

/// A bucket on an S3-compatible server.
pub struct S3Store {
    bucket: Box<Bucket>,
    endpoint: String,
    public_base_url: Option<Url>,
    presign_secs: u32,
    /// Some servers echo the access key id in error bodies: it is scrubbed
    /// from our messages (the settings treat it as a secret).
    access_key: String,
}

impl fmt::Debug for S3Store {
    // Bucket's own Debug would print the credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket.name())
            .field(
                "public_base_url",
                &self.public_base_url.as_ref().map(Url::as_str),
            )
            .field("presign_secs", &self.presign_secs)
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// Connect, check that the bucket exists and create it when it does not
    /// and `s.create_bucket` allows it.
    pub async fn open(s: &S3Settings) -> Result<Self, BlobError> {
        let endpoint = s.endpoint.as_str().trim_end_matches('/').to_owned();
        let region = Region::Custom {
            region: s.region.clone(),
            endpoint: endpoint.clone(),
        };
        let credentials = Credentials::new(
            Some(s.access_key.expose()),
            Some(s.secret_key.expose()),
            None,
            None,
            None,
        )
        .map_err(|e| BlobError::Config(format!("S3 credentials: {e}")))?;
        let bucket = Bucket::new(&s.bucket, region, credentials)
            .map_err(|e| BlobError::Config(format!("S3 bucket `{}`: {e}", s.bucket)))?
            .with_path_style();
        let store = S3Store {
            bucket,
            endpoint,
            public_base_url: s.public_base_url.clone(),
            presign_secs: s.presign_secs,
            access_key: s.access_key.expose().clone(),
        };

        if !store.bucket_exists().await? {
            if !s.create_bucket {
                return Err(BlobError::Config(format!(
                    "bucket `{}` does not exist at {} and VAULTSTREAM_S3_CREATE_BUCKET is false: \
                     create it or set VAULTSTREAM_S3_BUCKET to an existing bucket",
                    s.bucket, store.endpoint
                )));
            }
            store.create_bucket(&s.region).await?;
            tracing::info!(bucket = %s.bucket, endpoint = %store.endpoint, "created S3 bucket");
        }
        Ok(store)
    }

    pub fn bucket_name(&self) -> String {
        self.bucket.name()
    }

    /// A ListObjects of at most one key: cheap, needs only read permission.
    async fn bucket_exists(&self) -> Result<bool, BlobError> {
        match self
            .bucket
            .list_page("blobs/".to_owned(), None, None, None, Some(1))
            .await
        {
            Ok(_) => Ok(true),
            Err(S3Error::HttpFailWithBody(404, body)) if body.contains("NoSuchBucket") => Ok(false),
            Err(S3Error::HttpFailWithBody(404, body)) => Err(self.scrub(BlobError::Config(format!(
                "{} answered 404 to a bucket listing ({}): is VAULTSTREAM_S3_ENDPOINT an S3 endpoint?",
                self.endpoint,
                error_summary(&body)
            )))),
            Err(e) => Err(self.classify(&format!("bucket `{}`", self.bucket.name()), e)),
        }
    }

    /// CreateBucket. Sent by hand rather than with
    /// `Bucket::create_with_path_style`, which always sends the region as a
    /// LocationConstraint (unless an environment variable says otherwise),
    /// and AWS refuses a LocationConstraint of `us-east-1`.
    async fn create_bucket(&self, region: &str) -> Result<(), BlobError> {
        // `public()` only means "no ACL header": new buckets stay private,
        // and buckets with ACLs disabled refuse any ACL header.
        let mut config = BucketConfiguration::public();
        if region != "us-east-1" {
            config.set_location_constraint(self.bucket.region());
        }
        let what = format!("creating bucket `{}`", self.bucket.name());
        let request = ReqwestRequest::new(&self.bucket, "", Command::CreateBucket { config })
            .await
            .map_err(|e| self.classify(&what, e))?;
        match request.response_data(false).await {
            Ok(r) if r.status_code() < 300 => Ok(()),
            Ok(r) => Err(self.classify(
                &what,
                S3Error::HttpFailWithBody(r.status_code(), r.as_str().unwrap_or("").to_owned()),
            )),
            // A concurrent opener won the race.
            Err(S3Error::HttpFailWithBody(409, body))
                if body.contains("BucketAlreadyOwnedByYou") =>
            {
                Ok(())
            }
            Err(S3Error::HttpFailWithBody(status @ (401 | 403), body)) => {
                Err(self.scrub(BlobError::Config(format!(
                    "{what} (VAULTSTREAM_S3_BUCKET): the key may not create buckets \
                     (HTTP {status} {}); create the bucket yourself or grant the key that right",
                    error_summary(&body)
                ))))
            }
            Err(e) => Err(self.classify(&what, e)),
        }
    }

    /// `<public_base_url>/<key>`, keeping any path and query of the base.
    fn public_url(base: &Url, key: &BlobKey) -> String {
        let mut url = base.clone();
        let path = format!("{}/{}", base.path().trim_end_matches('/'), key.as_str());
        url.set_path(&path);
        url.to_string()
    }

    fn classify(&self, what: &str, e: S3Error) -> BlobError {
        self.scrub(classify(&self.endpoint, what, e))
    }

    fn check_status(&self, what: &str, status: u16, body: &str) -> Result<(), BlobError> {
        if status < 300 {
            return Ok(());
        }
        Err(self.classify(what, S3Error::HttpFailWithBody(status, body.to_owned())))
    }

    /// Remove the access key id from a message.
    fn scrub(&self, e: BlobError) -> BlobError {
        let key = self.access_key.as_str();
        if key.is_empty() {
            return e;
        }
        let clean = |m: String| {
            if m.contains(key) {
                m.replace(key, "[access key]")
            } else {
                m
            }
        };
        match e {
            BlobError::Config(m) => BlobError::Config(clean(m)),
            BlobError::Unavailable(m) => BlobError::Unavailable(clean(m)),
            BlobError::Refused(m) => BlobError::Refused(clean(m)),
            e @ BlobError::Io(_) => e,
        }
    }
}

#[async_trait::async_trait]
impl BlobStore for S3Store {
    fn backend(&self) -> &'static str {
        "s3"
    }

    async fn head(&self, key: &BlobKey) -> Result<Option<BlobInfo>, BlobError> {
        match self.bucket.head_object(key.as_str()).await {
            Ok((h, status)) if status < 300 => Ok(Some(BlobInfo {
                size: h.content_length.unwrap_or(0).max(0) as u64,
            })),
            Ok((_, 404)) | Err(S3Error::HttpFailWithBody(404, _)) => Ok(None),
            Ok((_, status)) => Err(self.classify(
                &format!("HEAD {key}"),
                S3Error::HttpFailWithBody(status, String::new()),
            )),
            Err(e) => Err(self.classify(&format!("HEAD {key}"), e)),
        }
    }

    /// Streamed: the object's bytes as they arrive, never whole in memory.
    async fn open_read(&self, key: &BlobKey) -> Result<Option<BlobReader>, BlobError> {
        use futures::StreamExt as _;
        let Some(info) = self.head(key).await? else {
            return Ok(None);
        };
        match self.bucket.get_object_stream(key.as_str()).await {
            Ok(r) if r.status_code < 300 => {
                let bytes = r.bytes.map(|chunk| chunk.map_err(std::io::Error::other));
                Ok(Some(BlobReader {
                    size: info.size,
                    reader: Box::pin(tokio_util::io::StreamReader::new(bytes)),
                }))
            }
            Ok(r) if r.status_code == 404 => Ok(None),
            Ok(r) => Err(self.classify(
                &format!("GET {key}"),
                S3Error::HttpFailWithBody(r.status_code, String::new()),
            )),
            Err(S3Error::HttpFailWithBody(404, _)) => Ok(None),
            Err(e) => Err(self.classify(&format!("GET {key}"), e)),
        }
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Bytes>, BlobError> {
        match self.bucket.get_object(key.as_str()).await {
            Ok(r) if r.status_code() < 300 => Ok(Some(r.bytes().clone())),
            Ok(r) if r.status_code() == 404 => Ok(None),
            Ok(r) => Err(self.classify(
                &format!("GET {key}"),
                S3Error::HttpFailWithBody(r.status_code(), String::new()),
            )),
            Err(S3Error::HttpFailWithBody(404, _)) => Ok(None),
            Err(e) => Err(self.classify(&format!("GET {key}"), e)),
        }
    }

    async fn put_bytes(
        &self,
        key: &BlobKey,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<Stored, BlobError> {
        if self.head(key).await?.is_some() {
            return Ok(Stored::AlreadyThere);
        }
        let what = format!("PUT {key}");
        let response = self
            .bucket
            .put_object_builder(key.as_str(), &bytes)
            .with_content_type(content_type)
            .with_cache_control(CACHE_CONTROL)
            .map_err(|e| self.classify(&what, e))?
            .execute()
            .await
            .map_err(|e| self.classify(&what, e))?;
        self.check_status(
            &what,
            response.status_code(),
            response.as_str().unwrap_or(""),
        )?;
        Ok(Stored::Uploaded)
    }

    async fn put_file(
        &self,
        key: &BlobKey,
        path: &Path,
        content_type: &str,
    ) -> Result<Stored, BlobError> {
        if self.head(key).await?.is_some() {
            return Ok(Stored::AlreadyThere);
        }
        let what = format!("PUT {key}");
        let mut file = tokio::fs::File::open(path).await?;
        let response = self
            .bucket
            .put_object_stream_builder(key.as_str())
            .with_content_type(content_type)
            .with_cache_control(CACHE_CONTROL)
            .map_err(|e| self.classify(&what, e))?
            .with_max_concurrent_chunks(MAX_PARTS_IN_FLIGHT)
            .execute_stream(&mut file)
            .await
            .map_err(|e| self.classify(&what, e))?;
        self.check_status(&what, response.status_code(), "")?;
        Ok(Stored::Uploaded)
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match self.bucket.delete_object(key.as_str()).await {
            Ok(_) | Err(S3Error::HttpFailWithBody(404, _)) => Ok(()),
            Err(e) => Err(self.classify(&format!("DELETE {key}"), e)),
        }
    }

    async fn redirect_url(&self, key: &BlobKey) -> Result<Option<String>, BlobError> {
        if let Some(base) = &self.public_base_url {
            return Ok(Some(Self::public_url(base, key)));
        }
        self.bucket
            .presign_get(key.as_str(), self.presign_secs, None)
            .await
            .map(Some)
            .map_err(|e| self.classify(&format!("presigning {key}"), e))
    }

    fn local_path(&self, _key: &BlobKey) -> Option<PathBuf> {
        None
    }

    async fn check(&self) -> Result<(), BlobError> {
        if self.bucket_exists().await? {
            Ok(())
        } else {
            Err(BlobError::Config(format!(
                "bucket `{}` (VAULTSTREAM_S3_BUCKET) does not exist at {}",
                self.bucket.name(),
                self.endpoint
            )))
        }
    }
}

/// Sort an S3 error into what the caller should do about it. Messages name
/// the endpoint and operation, never a credential.
fn classify(endpoint: &str, what: &str, e: S3Error) -> BlobError {
    match e {
        S3Error::HttpFailWithBody(status, body) => {
            let code = xml_field(&body, "Code").unwrap_or_default();
            let summary = error_summary(&body);
            let msg = format!("{what} at {endpoint}: HTTP {status} {summary}");
            let auth_code = matches!(
                code,
                "SignatureDoesNotMatch"
                    | "InvalidAccessKeyId"
                    | "AccessDenied"
                    | "AuthorizationHeaderMalformed"
                    | "InvalidToken"
                    | "ExpiredToken"
                    | "InvalidSignature"
                    | "AllAccessDisabled"
            );
            match status {
                401 | 403 => BlobError::Config(format!(
                    "{msg}; check VAULTSTREAM_S3_ACCESS_KEY, VAULTSTREAM_S3_SECRET_KEY, \
                     VAULTSTREAM_S3_REGION and the key's rights on the bucket"
                )),
                400 if auth_code => BlobError::Config(format!(
                    "{msg}; check VAULTSTREAM_S3_ACCESS_KEY, VAULTSTREAM_S3_SECRET_KEY \
                     and VAULTSTREAM_S3_REGION"
                )),
                408 | 429 => BlobError::Unavailable(msg),
                500..=599 => BlobError::Unavailable(msg),
                _ if code == "SlowDown" || code == "RequestTimeout" => BlobError::Unavailable(msg),
                _ => BlobError::Refused(msg),
            }
        }
        S3Error::HttpFail => BlobError::Unavailable(format!("{what} at {endpoint}: HTTP error")),
        S3Error::Reqwest(e) if e.is_builder() => {
            BlobError::Config(format!("{what} at {endpoint}: {e}"))
        }
        // Connection refused/reset, DNS, TLS, timeouts, truncated bodies.
        S3Error::Reqwest(e) => BlobError::Unavailable(format!("{what} at {endpoint}: {e}")),
        S3Error::Io(e) => BlobError::Io(e),
        e @ (S3Error::Credentials(_)
        | S3Error::Region(_)
        | S3Error::UrlParse(_)
        | S3Error::MaxExpiry(_)
        | S3Error::InvalidHeaderValue(_)
        | S3Error::InvalidHeaderName(_)
        | S3Error::HmacInvalidLength(_)) => BlobError::Config(format!("{what}: {e}")),
        // An answer we could not make sense of (a proxy's HTML page, a
        // truncated body): most likely passing.
        e @ (S3Error::Utf8(_)
        | S3Error::FromUtf8(_)
        | S3Error::SerdeXml(_)
        | S3Error::ReqwestHeaderToStr(_)) => {
            BlobError::Unavailable(format!("{what} at {endpoint}: unexpected answer: {e}"))
        }
        e => BlobError::Refused(format!("{what} at {endpoint}: {e}")),
    }
}

/// `Code: Message` from an S3 XML error body, or a short excerpt.
fn error_summary(body: &str) -> String {
    match (xml_field(body, "Code"), xml_field(body, "Message")) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_owned(),
        _ => {
            let t = body.trim();
            let mut end = t.len().min(200);
            while !t.is_char_boundary(end) {
                end -= 1;
            }
            t[..end].to_owned()
        }
    }
}

fn xml_field<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&format!("</{tag}>"))?;
    Some(body[start..start + len].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn public_urls_join_without_double_slash() {
        let key = BlobKey::new(H, "webp").unwrap();
        for base in ["https://cdn.example/", "https://cdn.example"] {
            let url = S3Store::public_url(&Url::parse(base).unwrap(), &key);
            assert_eq!(url, format!("https://cdn.example/{key}"));
        }
        let url = S3Store::public_url(&Url::parse("https://cdn.example/media/").unwrap(), &key);
        assert_eq!(url, format!("https://cdn.example/media/{key}"));
    }

    #[test]
    fn errors_are_classified() {
        let xml = |code: &str| format!("<Error><Code>{code}</Code><Message>m</Message></Error>");
        let c = |status, body: String| {
            classify("http://s3", "op", S3Error::HttpFailWithBody(status, body))
        };
        assert!(matches!(
            c(403, xml("SignatureDoesNotMatch")),
            BlobError::Config(_)
        ));
        assert!(matches!(
            c(400, xml("AuthorizationHeaderMalformed")),
            BlobError::Config(_)
        ));
        assert!(matches!(c(503, xml("SlowDown")), BlobError::Unavailable(_)));
        assert!(matches!(c(500, String::new()), BlobError::Unavailable(_)));
        assert!(matches!(
            c(400, xml("InvalidArgument")),
            BlobError::Refused(_)
        ));
        assert!(matches!(c(413, String::new()), BlobError::Refused(_)));
        let e = c(400, xml("EntityTooLarge"));
        assert!(e.to_string().contains("EntityTooLarge: m"), "{e}");
    }
}
