//! YouTube through yt-dlp: parse-level tests on recorded info dicts, and the
//! real yt-dlp run against a local page.
//!
//! The driver tests need `yt-dlp` on PATH (`pip install yt-dlp`).

use std::time::Duration;

use vaultstream_adapters::fetch::youtube::parse_info;
use vaultstream_adapters::fetch::{FetchConfig, Fetcher};
use vaultstream_core::parsed::{ErrorClass, MediaRole};
use vaultstream_core::{ContentKind, Platform};

use crate::support::{Replay, ReplayExt, Reply, fixture, request};

fn json(path: &str) -> serde_json::Value {
    serde_json::from_str(&fixture(path)).expect("fixture is JSON")
}

#[test]
fn generic_page_info_dict() {
    let item = parse_info(&json("youtube/ytdlp_local_generic_page.json")).expect("parses");
    assert_eq!(item.kind, Some(ContentKind::Video));
    assert_eq!(item.title.as_deref(), Some("Sample clip (1)"));
    assert_eq!(item.text.as_deref(), Some("A two second test clip."));
    assert_eq!(item.author, None);
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_795_503_730)
    );
    assert!(item.stats.is_empty());
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("http://127.0.0.1:18765/page.html")
    );
    let media: Vec<(MediaRole, &str)> = item
        .media
        .iter()
        .map(|m| (m.role, m.url.as_str()))
        .collect();
    assert_eq!(
        media,
        vec![
            (MediaRole::Cover, "http://127.0.0.1:18765/thumb.jpg"),
            (MediaRole::Video, "http://127.0.0.1:18765/sample.mp4"),
        ]
    );
    let v = &item.media[1];
    assert_eq!(v.mime.as_deref(), Some("video/mp4"));
    assert_eq!(
        v.headers.get("Referer").map(String::as_str),
        Some("http://127.0.0.1:18765/page.html")
    );
    assert!(v.headers.contains_key("User-Agent"));
}

#[test]
fn direct_file_info_dict_with_few_fields() {
    let item = parse_info(&json("youtube/ytdlp_local_direct_sample.json")).expect("parses");
    assert_eq!(item.title.as_deref(), Some("sample"));
    assert_eq!(item.text, None);
    let roles: Vec<MediaRole> = item.media.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        vec![MediaRole::Video],
        "no thumbnail in a direct file"
    );
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_795_503_724)
    );
}

#[test]
fn youtube_fields_from_the_expected_values() {
    // EXPECTED fixture: assertion values from yt-dlp's own test, not a
    // capture; it has no formats, so no video.
    let item = parse_info(&json("youtube/ytdlp_YE7VzlLtp-4.expected_fields.json")).expect("parses");
    assert_eq!(item.title.as_deref(), Some("Big Buck Bunny"));
    let a = item.author.as_ref().expect("author");
    assert_eq!(a.name.as_deref(), Some("Blender"));
    assert_eq!(a.id.as_deref(), Some("UCSMOQeBJ2RAnuFungnQOxLg"));
    assert_eq!(
        a.url.as_deref(),
        Some("https://www.youtube.com/channel/UCSMOQeBJ2RAnuFungnQOxLg")
    );
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_212_060_266)
    );
    let media: Vec<(MediaRole, &str)> = item
        .media
        .iter()
        .map(|m| (m.role, m.url.as_str()))
        .collect();
    assert_eq!(
        media,
        vec![(
            MediaRole::Cover,
            "https://i.ytimg.com/vi/YE7VzlLtp-4/maxresdefault.jpg"
        )]
    );
}

#[test]
fn malformed_info_dicts_are_permanent() {
    for bad in [
        serde_json::json!("x"),
        serde_json::json!({"title": "no id"}),
        serde_json::json!({"_type": "playlist", "id": "p"}),
    ] {
        let err = parse_info(&bad).expect_err("rejected");
        assert_eq!(err.class, ErrorClass::Permanent, "{bad}: {err:?}");
    }
}

fn ytdlp_fetcher(server: &Replay, program: &str) -> Fetcher {
    Fetcher::new(FetchConfig {
        ytdlp: program.to_owned(),
        ytdlp_timeout: Duration::from_secs(90),
        ..server.config()
    })
}

#[tokio::test]
async fn real_ytdlp_against_a_local_page() {
    let server = Replay::start(&["www.youtube.com"]).await;
    // The page the REAL-OUTPUT fixture was made from, its loopback URLs
    // pointed at this server. The media body is a stand-in (no ffmpeg here):
    // `-J` reads the page, not the file.
    let page = fixture("generic/ytdlp_input_page_with_og_video.html").replace(
        "http://127.0.0.1:18765",
        &format!("{}/h/www.youtube.com", server.base),
    );
    server
        .route("www.youtube.com/watch", Reply::html(page))
        .route(
            "www.youtube.com/sample.mp4",
            Reply::with_type(200, "video/mp4", "not really an mp4"),
        )
        .route(
            "www.youtube.com/thumb.jpg",
            Reply::with_type(200, "image/jpeg", "jpeg"),
        );
    let req = request(Platform::Youtube, "YE7VzlLtp-4", ContentKind::Video);
    let item = ytdlp_fetcher(&server, "yt-dlp")
        .fetch(&req)
        .await
        .expect("yt-dlp runs");
    assert_eq!(item.title.as_deref(), Some("Sample clip (1)"));
    assert_eq!(item.text.as_deref(), Some("A two second test clip."));
    let video = item
        .media
        .iter()
        .find(|m| m.role == MediaRole::Video)
        .expect("video");
    assert_eq!(
        video.url,
        format!("{}/h/www.youtube.com/sample.mp4", server.base)
    );
    assert!(item.raw.get("extractor_key").is_some());
    assert!(
        server
            .hits()
            .iter()
            .any(|h| h.target.starts_with("www.youtube.com/watch?v=YE7VzlLtp-4"))
    );
}

#[tokio::test]
async fn real_ytdlp_classifies_a_404() {
    let server = Replay::start(&["www.youtube.com"]).await;
    server.route(
        "www.youtube.com/watch",
        Reply::with_type(404, "text/html", "gone"),
    );
    let req = request(Platform::Youtube, "YE7VzlLtp-4", ContentKind::Video);
    let err = ytdlp_fetcher(&server, "yt-dlp")
        .fetch(&req)
        .await
        .expect_err("404");
    assert_eq!(err.class, ErrorClass::Permanent, "{err:?}");
    assert!(err.message.contains("404"), "{err:?}");
}

#[tokio::test]
async fn missing_program_is_a_clear_error() {
    let server = Replay::start(&["www.youtube.com"]).await;
    let req = request(Platform::Youtube, "YE7VzlLtp-4", ContentKind::Video);
    let err = ytdlp_fetcher(&server, "/nonexistent/yt-dlp")
        .fetch(&req)
        .await
        .expect_err("no program");
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(
        err.message.contains("/nonexistent/yt-dlp") && err.message.contains("not installed"),
        "{err:?}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_hanging_ytdlp_is_killed_at_the_limit() {
    use std::os::unix::fs::PermissionsExt;
    // A stand-in program that never answers.
    let dir = std::env::temp_dir().join(format!("vaultstream-ytdlp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let program = dir.join("slow-yt-dlp");
    std::fs::write(&program, "#!/bin/sh\nexec sleep 30\n").expect("script");
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let server = Replay::start(&["www.youtube.com"]).await;
    let fetcher = Fetcher::new(FetchConfig {
        ytdlp: program.display().to_string(),
        ytdlp_timeout: Duration::from_millis(500),
        ..server.config()
    });
    let started = std::time::Instant::now();
    let req = request(Platform::Youtube, "YE7VzlLtp-4", ContentKind::Video);
    let err = fetcher.fetch(&req).await.expect_err("times out");
    assert_eq!(err.class, ErrorClass::Retryable, "{err:?}");
    assert!(err.message.contains("did not finish"), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[tokio::test]
async fn youtube_cookies_go_to_ytdlp_as_a_private_file() {
    use std::os::unix::fs::PermissionsExt;
    // A stand-in yt-dlp that records its arguments and the cookie file it
    // was given, then prints a minimal info dict.
    let dir =
        std::env::temp_dir().join(format!("vaultstream-ytdlp-cookies-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let program = dir.join("fake-yt-dlp");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > {d}/args\nenv > {d}/env\n\
         while [ \"$1\" != --cookies ]; do shift; done\n\
         cp \"$2\" {d}/cookies\nls -l \"$2\" > {d}/mode\necho '{{\"id\":\"YE7VzlLtp-4\",\"title\":\"t\"}}'\n",
        d = dir.display()
    );
    std::fs::write(&program, script).expect("script");
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let server = Replay::start(&[]).await;
    let mut cfg = FetchConfig {
        ytdlp: program.display().to_string(),
        ..server.config()
    };
    cfg.cookies.insert(
        Platform::Youtube,
        vaultstream_core::settings::Secret::new("SID=abc; HSID=def".to_owned()),
    );
    let req = request(Platform::Youtube, "YE7VzlLtp-4", ContentKind::Video);
    let item = Fetcher::new(cfg)
        .fetch(&req)
        .await
        .expect("fake yt-dlp runs");
    assert_eq!(item.title.as_deref(), Some("t"));

    let args = std::fs::read_to_string(dir.join("args")).expect("args");
    let args: Vec<&str> = args.lines().collect();
    // The driver's own flags first: no config, every connection through
    // the guard proxy on loopback, HLS/DASH downloads kept in yt-dlp.
    assert_eq!(args[0], "--no-config");
    assert_eq!(args[1], "--proxy");
    assert!(args[2].starts_with("http://127.0.0.1:"), "{args:?}");
    assert_eq!(&args[3..5], &["--downloader", "native"]);
    let env = std::fs::read_to_string(dir.join("env")).expect("env");
    for var in ["http_proxy", "https_proxy", "HTTPS_PROXY", "ALL_PROXY"] {
        assert!(
            env.lines().any(|l| l == format!("{var}={}", args[2])),
            "{var} points at the guard proxy: {env}"
        );
    }
    let args = &args[5..];
    assert_eq!(args[0], "--cookies");
    assert!(
        !args.iter().any(|a| a.contains("abc")),
        "the cookie is not on the command line"
    );
    assert_eq!(
        &args[2..],
        &[
            "-J",
            "--socket-timeout",
            "15",
            "--no-playlist",
            "--",
            "https://www.youtube.com/watch?v=YE7VzlLtp-4"
        ]
    );
    let cookies = std::fs::read_to_string(dir.join("cookies")).expect("cookies");
    assert!(cookies.starts_with("# Netscape HTTP Cookie File"));
    assert!(
        cookies.contains(".youtube.com\tTRUE\t/\tTRUE\t2147483647\tSID\tabc\n"),
        "{cookies}"
    );
    assert!(cookies.contains("\tHSID\tdef\n"));
    let mode = std::fs::read_to_string(dir.join("mode")).expect("mode");
    assert!(mode.starts_with("-rw-------"), "{mode}");
    assert!(
        !std::path::Path::new(args[1]).exists(),
        "the cookie file is removed after the run"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
