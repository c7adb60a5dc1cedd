//! Media downloads against local servers: the replay server (CDN hosts
//! overridden onto it) and, for bodies that must stream, a small axum server
//! of our own. The yt-dlp tests need `yt-dlp` on PATH (`pip install yt-dlp`);
//! no ffmpeg is needed (progressive files only).

// `support` also serves the platform tests; not all of it is used here.
#[allow(unused_imports)]
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::Path as UrlPath;
use axum::response::Response;
use axum::routing::get;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use support::{Replay, ReplayExt, Reply};
use vaultstream_adapters::fetch::FetchConfig;
use vaultstream_adapters::http::UpstreamOverrides;
use vaultstream_adapters::http::resolve::Resolver;
use vaultstream_adapters::media::{MediaFetcher, default_media_headers};
use vaultstream_core::Platform;
use vaultstream_core::parsed::ErrorClass;
use vaultstream_core::settings::Secret;

const CDN: &str = "i0.hdslb.com";
const VIDEO_HOST: &str = "video.example.com";

fn no_headers() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Deterministic, incompressible-looking bytes.
fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 8) as u8
        })
        .collect()
}

/// A stand-in MP4: an `ftyp` box, then an `mdat` box of noise. yt-dlp's
/// generic extractor takes a direct `.mp4` URL served as `video/mp4`
/// without looking inside.
fn fake_mp4(payload: usize) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&24u32.to_be_bytes());
    out.extend_from_slice(b"ftypisom");
    out.extend_from_slice(&0x200u32.to_be_bytes());
    out.extend_from_slice(b"isomiso2");
    out.extend_from_slice(&(8 + payload as u32).to_be_bytes());
    out.extend_from_slice(b"mdat");
    out.extend_from_slice(&pseudo_random(payload, 7));
    out
}

fn media_fetcher(server: &Replay) -> MediaFetcher {
    MediaFetcher::new(&server.config(), "yt-dlp")
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Our own server for bodies the replay server cannot produce: chunked
/// (no Content-Length) bodies of `n` bytes, and a huge declared length.
/// Counts the bytes it produced.
struct StreamServer {
    base: String,
    produced: Arc<AtomicU64>,
}

impl StreamServer {
    async fn start() -> Self {
        let produced = Arc::new(AtomicU64::new(0));
        let chunked = {
            let produced = produced.clone();
            move |UrlPath(n): UrlPath<usize>| {
                let produced = produced.clone();
                async move { streamed(n, None, "image/jpeg", produced) }
            }
        };
        let declared = {
            let produced = produced.clone();
            move |UrlPath(n): UrlPath<usize>| {
                let produced = produced.clone();
                async move { streamed(n, Some(n), "image/jpeg", produced) }
            }
        };
        let video = {
            let produced = produced.clone();
            move |UrlPath(n): UrlPath<usize>| {
                let produced = produced.clone();
                async move { streamed(n, None, "video/mp4", produced) }
            }
        };
        // The mp4 header, then nothing, forever (cancellation tests).
        let hang = || async {
            let first = futures::stream::iter([Ok::<_, std::io::Error>(fake_mp4(16))]);
            let body = Body::from_stream(first.chain(futures::stream::pending()));
            Response::builder()
                .header("content-type", "video/mp4")
                .body(body)
                .expect("response")
        };
        let app = Router::new()
            .route("/hang/clip.mp4", get(hang))
            .route("/chunked/{n}", get(chunked))
            .route("/declared/{n}", get(declared))
            .route("/video/{n}/clip.mp4", get(video));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base: format!("http://{addr}"),
            produced,
        }
    }

    /// Requests to `host` go to this server.
    fn config_for(&self, host: &str) -> FetchConfig {
        FetchConfig {
            overrides: UpstreamOverrides::parse(&format!("{host}={}", self.base))
                .expect("overrides"),
            ..FetchConfig::default()
        }
    }
}

/// `n` bytes in 64 KiB chunks (the mp4 header first for videos).
fn streamed(n: usize, declared: Option<usize>, ct: &str, produced: Arc<AtomicU64>) -> Response {
    const CHUNK: usize = 64 * 1024;
    let first = if ct == "video/mp4" {
        fake_mp4(16)
    } else {
        Vec::new()
    };
    let chunks = (0..n.div_ceil(CHUNK)).map(move |i| {
        let len = CHUNK.min(n - i * CHUNK);
        let mut bytes = if i == 0 { first.clone() } else { Vec::new() };
        bytes.resize(len, 0x5a);
        produced.fetch_add(len as u64, Ordering::Relaxed);
        Ok::<_, std::io::Error>(bytes)
    });
    let mut builder = Response::builder().header("content-type", ct);
    if let Some(n) = declared {
        builder = builder.header("content-length", n.to_string());
    }
    builder
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .expect("response")
}

// ---------------------------------------------------------------- get_bytes

#[tokio::test]
async fn get_bytes_sends_the_cdn_referer_and_no_cookie() {
    let server = Replay::start(&[CDN]).await;
    let jpeg = pseudo_random(10_000, 1);
    server.route(
        &format!("{CDN}/bfs/a.jpg"),
        Reply {
            delay: None,
            status: 200,
            headers: vec![("content-type".into(), "image/jpeg".into())],
            body: jpeg.clone(),
        },
    );
    let mut cfg = server.config();
    cfg.cookies.insert(
        Platform::Bilibili,
        Secret::new("SESSDATA=secret".to_owned()),
    );
    let fetcher = MediaFetcher::new(&cfg, "yt-dlp");
    let url = format!("https://{CDN}/bfs/a.jpg");
    let got = fetcher
        .get_bytes(&url, &no_headers(), 1_000_000)
        .await
        .expect("fetched");
    assert_eq!(got.bytes, jpeg);
    assert_eq!(got.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(got.final_url, url);
    let hit = &server.hits()[0];
    assert_eq!(
        hit.headers.get("referer").map(String::as_str),
        Some("https://www.bilibili.com/")
    );
    assert!(
        hit.headers
            .get("accept")
            .is_some_and(|a| a.starts_with("image/avif,image/webp")),
        "{hit:?}"
    );
    assert!(hit.headers.contains_key("user-agent"));
    assert_eq!(
        hit.headers.get("cookie"),
        None,
        "no platform cookie on a CDN"
    );

    // The caller's headers win over the defaults.
    let mut explicit = BTreeMap::new();
    explicit.insert("Referer".to_owned(), "https://t.bilibili.com/".to_owned());
    explicit.insert("User-Agent".to_owned(), "MediaTest/1".to_owned());
    fetcher
        .get_bytes(&url, &explicit, 1_000_000)
        .await
        .expect("fetched");
    let hit = &server.hits()[1];
    assert_eq!(
        hit.headers.get("referer").map(String::as_str),
        Some("https://t.bilibili.com/")
    );
    assert_eq!(
        hit.headers.get("user-agent").map(String::as_str),
        Some("MediaTest/1")
    );
}

#[test]
fn default_headers_are_public() {
    let url = url::Url::parse("https://wx2.sinaimg.cn/large/x.jpg").expect("url");
    assert_eq!(
        default_media_headers(&url),
        vec![("Referer", "https://weibo.com/")]
    );
}

#[tokio::test]
async fn get_bytes_classifies_statuses() {
    let server = Replay::start(&[CDN]).await;
    server
        .route(&format!("{CDN}/404"), Reply::status(404, "gone"))
        .route(&format!("{CDN}/403"), Reply::status(403, "no"))
        .route(&format!("{CDN}/500"), Reply::status(500, "oops"))
        .route(
            &format!("{CDN}/429"),
            Reply::status(429, "slow down").header("retry-after", "42"),
        );
    let fetcher = media_fetcher(&server);
    let err_for = |path: &str| {
        let fetcher = fetcher.clone();
        let url = format!("https://{CDN}/{path}");
        async move {
            fetcher
                .get_bytes(&url, &no_headers(), 1_000)
                .await
                .expect_err("an error")
        }
    };
    let e = err_for("404").await;
    assert_eq!(e.class, ErrorClass::Permanent, "{e:?}");
    assert!(
        e.message.contains("404") && e.message.contains(CDN),
        "{e:?}"
    );
    let e = err_for("403").await;
    assert_eq!(e.class, ErrorClass::Permanent, "{e:?}");
    assert!(
        e.message.contains("403") && e.message.contains(CDN),
        "{e:?}"
    );
    let e = err_for("500").await;
    assert_eq!(e.class, ErrorClass::Retryable, "{e:?}");
    let e = err_for("429").await;
    assert_eq!(e.class, ErrorClass::RateLimited, "{e:?}");
    assert_eq!(e.retry_after, Some(std::time::Duration::from_secs(42)));
}

#[tokio::test]
async fn get_bytes_caps_declared_and_streamed_bodies() {
    let server = StreamServer::start().await;
    let fetcher = MediaFetcher::new(&server.config_for(CDN), "yt-dlp");

    // Declared too large: refused from the header, before reading the body.
    let huge = 512 * 1024 * 1024;
    let e = fetcher
        .get_bytes(
            &format!("https://{CDN}/declared/{huge}"),
            &no_headers(),
            1_000_000,
        )
        .await
        .expect_err("too large");
    assert_eq!(e.class, ErrorClass::Permanent, "{e:?}");
    assert!(
        e.message.contains("too large") && e.message.contains(&huge.to_string()),
        "the declared length was used: {e:?}"
    );
    assert!(
        server.produced.load(Ordering::Relaxed) < huge as u64 / 2,
        "the body was not read"
    );

    // No Content-Length: counted while reading.
    let e = fetcher
        .get_bytes(
            &format!("https://{CDN}/chunked/2000000"),
            &no_headers(),
            1_000_000,
        )
        .await
        .expect_err("too large");
    assert_eq!(e.class, ErrorClass::Permanent, "{e:?}");
    assert!(e.message.contains("too large"), "{e:?}");

    // Under the cap, chunked is fine.
    let got = fetcher
        .get_bytes(
            &format!("https://{CDN}/chunked/300000"),
            &no_headers(),
            1_000_000,
        )
        .await
        .expect("fits");
    assert_eq!(got.bytes.len(), 300_000);
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed() {
    let server = Replay::start(&[CDN]).await;
    server
        .route("/x.jpg", Reply::with_type(200, "image/jpeg", "jpeg"))
        .route(
            &format!("{CDN}/redirect.jpg"),
            Reply::redirect(&format!("{}/x.jpg", server.base)),
        );
    let direct = format!("{}/x.jpg", server.base);
    let fetcher = media_fetcher(&server);
    let e = fetcher
        .get_bytes(&direct, &no_headers(), 1_000)
        .await
        .expect_err("refused");
    assert_eq!(e.class, ErrorClass::Permanent, "{e:?}");
    assert!(e.message.contains("refused"), "{e:?}");
    // An overridden CDN host redirecting to loopback is refused too.
    let e = fetcher
        .get_bytes(&format!("https://{CDN}/redirect.jpg"), &no_headers(), 1_000)
        .await
        .expect_err("refused");
    assert!(e.message.contains("refused"), "{e:?}");
    let e = fetcher
        .download(&direct, &no_headers(), temp_dir().path(), 1_000)
        .await
        .expect_err("refused");
    assert!(e.message.contains("refused"), "{e:?}");
    assert!(server.hits_on("/x.jpg") == 0, "nothing reached loopback");

    let open = MediaFetcher::new(
        &FetchConfig {
            allow_private_targets: true,
            ..server.config()
        },
        "yt-dlp",
    );
    let got = open
        .get_bytes(&direct, &no_headers(), 1_000)
        .await
        .expect("allowed");
    assert_eq!(got.bytes, b"jpeg");
}

#[tokio::test]
async fn from_settings_uses_the_overrides() {
    let server = Replay::start(&[CDN]).await;
    server.route(
        &format!("{CDN}/s.jpg"),
        Reply::with_type(200, "image/png", "png"),
    );
    let overrides = format!("{CDN}={}/h/{CDN}", server.base);
    let settings = vaultstream_core::Settings::load(
        &vaultstream_core::settings::SettingsSources::new().with_env([
            ("VAULTSTREAM_UPSTREAM_OVERRIDES", overrides.as_str()),
            ("VAULTSTREAM_USER_AGENT", "VaultStreamMedia/1.0"),
        ]),
    )
    .expect("settings");
    let got = MediaFetcher::from_settings(&settings)
        .get_bytes(&format!("https://{CDN}/s.jpg"), &no_headers(), 1_000)
        .await
        .expect("fetched");
    assert_eq!(got.bytes, b"png");
    assert_eq!(
        server.hits()[0]
            .headers
            .get("user-agent")
            .map(String::as_str),
        Some("VaultStreamMedia/1.0")
    );
}

// ----------------------------------------------------------------- download

#[tokio::test]
async fn download_streams_5_mib_to_a_hashed_file_after_a_redirect() {
    let server = Replay::start(&[VIDEO_HOST, "cdn2.example.com"]).await;
    let body = pseudo_random(5 * 1024 * 1024, 3);
    server
        .route(
            &format!("{VIDEO_HOST}/v/clip.mp4"),
            Reply::redirect("https://cdn2.example.com/real/clip.mp4"),
        )
        .route(
            "cdn2.example.com/real/clip.mp4",
            Reply {
                delay: None,
                status: 200,
                headers: vec![("content-type".into(), "video/mp4".into())],
                body: body.clone(),
            },
        );
    let dir = temp_dir();
    let got = media_fetcher(&server)
        .download(
            &format!("https://{VIDEO_HOST}/v/clip.mp4"),
            &no_headers(),
            dir.path(),
            10 * 1024 * 1024,
        )
        .await
        .expect("downloaded");
    assert_eq!(got.bytes, body.len() as u64);
    assert_eq!(got.sha256, sha256_hex(&body));
    assert_eq!(got.sha256.len(), 64);
    assert_eq!(got.content_type.as_deref(), Some("video/mp4"));
    assert_eq!(got.final_url, "https://cdn2.example.com/real/clip.mp4");
    assert_eq!(got.head, &body[..4096]);
    assert_eq!(got.path.parent(), Some(dir.path()));
    assert_eq!(std::fs::read(&got.path).expect("file"), body);
    assert_eq!(files_in(dir.path()).len(), 1);
    let hit = &server.hits()[0];
    assert_eq!(hit.headers.get("accept").map(String::as_str), Some("*/*"));
}

#[tokio::test]
async fn download_over_the_cap_leaves_no_file() {
    // Declared too large.
    let server = Replay::start(&[VIDEO_HOST]).await;
    server.route(
        &format!("{VIDEO_HOST}/big.mp4"),
        Reply {
            delay: None,
            status: 200,
            headers: vec![("content-type".into(), "video/mp4".into())],
            body: vec![0; 200_000],
        },
    );
    let dir = temp_dir();
    let e = media_fetcher(&server)
        .download(
            &format!("https://{VIDEO_HOST}/big.mp4"),
            &no_headers(),
            dir.path(),
            100_000,
        )
        .await
        .expect_err("too large");
    assert_eq!(e.class, ErrorClass::Permanent, "{e:?}");
    assert!(e.message.contains("too large"), "{e:?}");
    assert!(files_in(dir.path()).is_empty());

    // Streamed past the cap: the partial file is deleted.
    let stream = StreamServer::start().await;
    let fetcher = MediaFetcher::new(&stream.config_for(VIDEO_HOST), "yt-dlp");
    let e = fetcher
        .download(
            &format!("https://{VIDEO_HOST}/chunked/3000000"),
            &no_headers(),
            dir.path(),
            1_000_000,
        )
        .await
        .expect_err("too large");
    assert_eq!(e.class, ErrorClass::Permanent, "{e:?}");
    assert!(e.message.contains("too large"), "{e:?}");
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );

    // The same without a cap problem streams fine.
    let got = fetcher
        .download(
            &format!("https://{VIDEO_HOST}/chunked/3000000"),
            &no_headers(),
            dir.path(),
            10_000_000,
        )
        .await
        .expect("fits");
    assert_eq!(got.bytes, 3_000_000);
    assert_eq!(files_in(dir.path()).len(), 1);
}

#[tokio::test]
async fn download_statuses_and_connect_errors() {
    let server = Replay::start(&[VIDEO_HOST]).await;
    server
        .route(&format!("{VIDEO_HOST}/gone.mp4"), Reply::status(410, ""))
        .route(&format!("{VIDEO_HOST}/busy.mp4"), Reply::status(503, ""));
    let dir = temp_dir();
    let fetcher = media_fetcher(&server);
    let e = fetcher
        .download(
            &format!("https://{VIDEO_HOST}/gone.mp4"),
            &no_headers(),
            dir.path(),
            1_000,
        )
        .await
        .expect_err("gone");
    assert_eq!(e.class, ErrorClass::Permanent, "{e:?}");
    let e = fetcher
        .download(
            &format!("https://{VIDEO_HOST}/busy.mp4"),
            &no_headers(),
            dir.path(),
            1_000,
        )
        .await
        .expect_err("busy");
    assert_eq!(e.class, ErrorClass::Retryable, "{e:?}");

    let closed = MediaFetcher::new(
        &FetchConfig {
            overrides: UpstreamOverrides::parse(&format!(
                "{VIDEO_HOST}=http://127.0.0.1:{}",
                closed_port()
            ))
            .expect("overrides"),
            ..FetchConfig::default()
        },
        "yt-dlp",
    );
    let e = closed
        .download(
            &format!("https://{VIDEO_HOST}/x.mp4"),
            &no_headers(),
            dir.path(),
            1_000,
        )
        .await
        .expect_err("refused");
    assert_eq!(e.class, ErrorClass::Retryable, "{e:?}");
    assert!(files_in(dir.path()).is_empty());
}

// ------------------------------------------------------------------- yt-dlp

fn mp4_reply(body: &[u8]) -> Reply {
    Reply {
        delay: None,
        status: 200,
        headers: vec![("content-type".into(), "video/mp4".into())],
        body: body.to_vec(),
    }
}

#[tokio::test]
async fn ytdlp_downloads_a_direct_mp4() {
    let server = Replay::start(&[VIDEO_HOST]).await;
    let mp4 = fake_mp4(50_000);
    server.route(&format!("{VIDEO_HOST}/v/clip.mp4"), mp4_reply(&mp4));
    let dir = temp_dir();
    let url = format!("https://{VIDEO_HOST}/v/clip.mp4");
    let mut headers = BTreeMap::new();
    headers.insert("Referer".to_owned(), "https://page.example.com/".to_owned());
    let got = media_fetcher(&server)
        .ytdlp_download(&url, &headers, dir.path(), 10_000_000)
        .await
        .expect("downloaded");
    assert_eq!(got.bytes, mp4.len() as u64);
    assert_eq!(got.sha256, sha256_hex(&mp4));
    assert_eq!(got.head, &mp4[..4096]);
    assert_eq!(got.content_type.as_deref(), Some("video/mp4"));
    assert_eq!(got.final_url, url);
    assert_eq!(got.path.parent(), Some(dir.path()));
    assert!(got.path.to_string_lossy().ends_with(".mp4"));
    assert_eq!(std::fs::read(&got.path).expect("file"), mp4);
    assert_eq!(
        files_in(dir.path()).len(),
        1,
        "only the video is left: {:?}",
        files_in(dir.path())
    );
    let hits = server.hits();
    assert!(!hits.is_empty());
    assert!(
        hits.iter()
            .all(|h| h.headers.get("referer").map(String::as_str)
                == Some("https://page.example.com/")),
        "{hits:?}"
    );
}

#[tokio::test]
async fn ytdlp_finds_the_video_in_a_page() {
    let server = Replay::start(&[VIDEO_HOST]).await;
    let mp4 = fake_mp4(30_000);
    server
        .route(
            &format!("{VIDEO_HOST}/post/1"),
            Reply::html(
                "<html><head><title>A post</title></head><body>\
                 <video controls><source src=\"/v/clip.mp4\" type=\"video/mp4\"></video>\
                 </body></html>",
            ),
        )
        // The page is served under the replay prefix `/h/<host>`, and an
        // absolute path in it resolves against the server root.
        .route("/v/clip.mp4", mp4_reply(&mp4));
    let dir = temp_dir();
    let got = media_fetcher(&server)
        .ytdlp_download(
            &format!("https://{VIDEO_HOST}/post/1"),
            &no_headers(),
            dir.path(),
            10_000_000,
        )
        .await
        .expect("downloaded");
    assert_eq!(got.sha256, sha256_hex(&mp4));
    assert_eq!(std::fs::read(&got.path).expect("file"), mp4);
    assert_eq!(files_in(dir.path()).len(), 1);
    assert!(server.hits_on("/v/clip.mp4") >= 1);
}

#[tokio::test]
async fn ytdlp_failures_are_classified() {
    let server = Replay::start(&[VIDEO_HOST]).await;
    server
        .route(
            &format!("{VIDEO_HOST}/missing.mp4"),
            Reply::with_type(404, "text/html", "gone"),
        )
        .route(
            &format!("{VIDEO_HOST}/plain"),
            Reply::html("<html><head><title>Nothing</title></head><body><p>hi</p></body></html>"),
        );
    let dir = temp_dir();
    let fetcher = media_fetcher(&server);
    let e = fetcher
        .ytdlp_download(
            &format!("https://{VIDEO_HOST}/missing.mp4"),
            &no_headers(),
            dir.path(),
            1_000_000,
        )
        .await
        .expect_err("404");
    assert_eq!(e.class, ErrorClass::Permanent, "{e:?}");
    assert!(e.message.contains("404"), "{e:?}");

    let e = fetcher
        .ytdlp_download(
            &format!("https://{VIDEO_HOST}/plain"),
            &no_headers(),
            dir.path(),
            1_000_000,
        )
        .await
        .expect_err("no video");
    assert_eq!(e.class, ErrorClass::Permanent, "{e:?}");
    assert!(e.message.contains("Unsupported URL"), "{e:?}");

    let closed = MediaFetcher::new(
        &FetchConfig {
            overrides: UpstreamOverrides::parse(&format!(
                "{VIDEO_HOST}=http://127.0.0.1:{}",
                closed_port()
            ))
            .expect("overrides"),
            ..FetchConfig::default()
        },
        "yt-dlp",
    );
    let e = closed
        .ytdlp_download(
            &format!("https://{VIDEO_HOST}/v/clip.mp4"),
            &no_headers(),
            dir.path(),
            1_000_000,
        )
        .await
        .expect_err("refused");
    assert_eq!(e.class, ErrorClass::Retryable, "{e:?}");

    // Loopback that is not an override is refused before yt-dlp runs.
    let e = fetcher
        .ytdlp_download(
            &format!("{}/v/clip.mp4", server.base),
            &no_headers(),
            dir.path(),
            1_000_000,
        )
        .await
        .expect_err("refused");
    assert_eq!(e.class, ErrorClass::Permanent, "{e:?}");
    assert!(e.message.contains("refused"), "{e:?}");

    let e = MediaFetcher::new(&server.config(), "/nonexistent/yt-dlp")
        .ytdlp_download(
            &format!("https://{VIDEO_HOST}/v/clip.mp4"),
            &no_headers(),
            dir.path(),
            1_000_000,
        )
        .await
        .expect_err("no program");
    assert!(e.message.contains("not installed"), "{e:?}");
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
}

/// A loopback service that must never be reached: it serves a video, and
/// counts every request.
async fn secret_service() -> Replay {
    let secret = Replay::start(&[]).await;
    secret.route("/secret.mp4", mp4_reply(&fake_mp4(10_000)));
    secret
}

/// yt-dlp connects on its own, so every connection goes through the guard
/// proxy: a public page embedding a loopback video, a video URL that
/// redirects to loopback, and a public name that resolves to a private
/// address are all refused, and the loopback service is never hit.
#[tokio::test]
async fn ytdlp_cannot_reach_private_addresses() {
    let secret = secret_service().await;
    let secret_url = format!("{}/secret.mp4", secret.base);
    let port = secret.base.rsplit(':').next().expect("port").to_owned();
    let server = Replay::start(&[VIDEO_HOST]).await;
    server
        .route(
            &format!("{VIDEO_HOST}/post/embed"),
            Reply::html(format!(
                "<html><head><title>A post</title></head><body>\
                 <video controls src=\"{secret_url}\"></video></body></html>"
            )),
        )
        .route(
            &format!("{VIDEO_HOST}/v/redirect.mp4"),
            Reply::redirect(&secret_url),
        )
        .route(
            &format!("{VIDEO_HOST}/post/rebind"),
            Reply::html(format!(
                "<html><head><title>A post</title></head><body>\
                 <video controls src=\"http://media.rebind.example:{port}/secret.mp4\"></video>\
                 </body></html>"
            )),
        );
    let cfg = FetchConfig {
        // A public-looking name whose DNS answer is loopback.
        resolver: Resolver::with_fixed([(
            "media.rebind.example",
            vec!["127.0.0.1".parse().expect("ip")],
        )]),
        ..server.config()
    };
    let fetcher = MediaFetcher::new(&cfg, "yt-dlp");
    let dir = temp_dir();
    for path in ["post/embed", "v/redirect.mp4", "post/rebind"] {
        let e = fetcher
            .ytdlp_download(
                &format!("https://{VIDEO_HOST}/{path}"),
                &no_headers(),
                dir.path(),
                10_000_000,
            )
            .await
            .expect_err("refused");
        assert_eq!(e.class, ErrorClass::Permanent, "{path}: {e:?}");
        assert!(
            e.message.contains("target guard"),
            "{path}: the proxy's refusal is the reason: {e:?}"
        );
        assert!(
            secret.hits().is_empty(),
            "{path}: the loopback service was reached: {:?}",
            secret.hits()
        );
    }
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
    // The same page is fine when its video is where the operator routed it.
    server.route(
        &format!("{VIDEO_HOST}/post/fine"),
        Reply::html(
            "<html><head><title>A post</title></head><body>\
             <video controls src=\"/v/clip.mp4\"></video></body></html>",
        ),
    );
    server.route("/v/clip.mp4", mp4_reply(&fake_mp4(20_000)));
    fetcher
        .ytdlp_download(
            &format!("https://{VIDEO_HOST}/post/fine"),
            &no_headers(),
            dir.path(),
            10_000_000,
        )
        .await
        .expect("an overridden host is a trusted route");
}

/// With private targets allowed (development), yt-dlp may reach loopback.
#[tokio::test]
async fn ytdlp_reaches_loopback_when_private_targets_are_allowed() {
    let secret = secret_service().await;
    let server = Replay::start(&[VIDEO_HOST]).await;
    server.route(
        &format!("{VIDEO_HOST}/v/redirect.mp4"),
        Reply::redirect(&format!("{}/secret.mp4", secret.base)),
    );
    let cfg = FetchConfig {
        allow_private_targets: true,
        ..server.config()
    };
    let dir = temp_dir();
    MediaFetcher::new(&cfg, "yt-dlp")
        .ytdlp_download(
            &format!("https://{VIDEO_HOST}/v/redirect.mp4"),
            &no_headers(),
            dir.path(),
            10_000_000,
        )
        .await
        .expect("allowed");
    assert!(!secret.hits().is_empty());
}

#[tokio::test]
async fn ytdlp_over_max_filesize_is_too_large() {
    // Declared (Content-Length): yt-dlp skips the file and exits 0.
    let server = Replay::start(&[VIDEO_HOST]).await;
    server.route(
        &format!("{VIDEO_HOST}/v/clip.mp4"),
        mp4_reply(&fake_mp4(200_000)),
    );
    let dir = temp_dir();
    let e = media_fetcher(&server)
        .ytdlp_download(
            &format!("https://{VIDEO_HOST}/v/clip.mp4"),
            &no_headers(),
            dir.path(),
            100_000,
        )
        .await
        .expect_err("too large");
    assert_eq!(e.class, ErrorClass::Permanent, "{e:?}");
    assert!(e.message.contains("too large"), "{e:?}");
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );

    // Not declared (chunked): stopped from yt-dlp's progress, or refused
    // after the run.
    let stream = StreamServer::start().await;
    let fetcher = MediaFetcher::new(&stream.config_for(VIDEO_HOST), "yt-dlp");
    let e = fetcher
        .ytdlp_download(
            &format!("https://{VIDEO_HOST}/video/3000000/clip.mp4"),
            &no_headers(),
            dir.path(),
            1_000_000,
        )
        .await
        .expect_err("too large");
    assert_eq!(e.class, ErrorClass::Permanent, "{e:?}");
    assert!(e.message.contains("too large"), "{e:?}");
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
}

// ------------------------------------------------------------- cancellation

#[tokio::test]
async fn dropped_or_stalled_downloads_leave_nothing_behind() {
    let stream = StreamServer::start().await;
    let fetcher = MediaFetcher::new(&stream.config_for(VIDEO_HOST), "yt-dlp");
    let url = format!("https://{VIDEO_HOST}/hang/clip.mp4");
    let dir = temp_dir();

    // A download whose future is dropped mid-body.
    let headers = no_headers();
    let pending = fetcher.download(&url, &headers, dir.path(), 1_000_000);
    let outcome = tokio::time::timeout(std::time::Duration::from_millis(500), pending).await;
    assert!(outcome.is_err(), "the body never ends: {outcome:?}");
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );

    // yt-dlp past its run limit is killed and its directory removed.
    let limited = fetcher
        .clone()
        .with_ytdlp_timeout(std::time::Duration::from_secs(3));
    let e = limited
        .ytdlp_download(&url, &no_headers(), dir.path(), 1_000_000)
        .await
        .expect_err("times out");
    assert_eq!(e.class, ErrorClass::Retryable, "{e:?}");
    assert!(e.message.contains("did not finish"), "{e:?}");
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
}
