//! Twitter/X: FxTwitter's v2 API first (threads), its v1 API and the
//! syndication endpoint as fallbacks.

use vaultstream_adapters::fetch::{FetchRequest, syndication_token};
use vaultstream_core::parsed::{ErrorClass, MediaRole};
use vaultstream_core::{ContentKind, Platform};

use crate::support::{Replay, ReplayExt, Reply, fixture, request};
use crate::{assert_error_matrix, fetch_err};

const HOSTS: &[&str] = &["api.fxtwitter.com", "cdn.syndication.twimg.com"];

fn req(id: &str) -> FetchRequest {
    request(Platform::Twitter, id, ContentKind::Post)
}

/// The v1 tests: FxTwitter's v2 answers with a page that is not JSON (as
/// Cloudflare's challenge does: HTTP 200 with HTML), so v1 is asked.
fn v2_unreadable(server: &Replay) {
    server.route(
        "api.fxtwitter.com/2/",
        Reply::html("<!DOCTYPE html><title>Just a moment...</title>"),
    );
}

#[tokio::test]
async fn photo_tweet() {
    let server = Replay::start(HOSTS).await;
    v2_unreadable(&server);
    server.route(
        "api.fxtwitter.com/status/1580661436132757506",
        Reply::json(fixture("twitter/fxtwitter_status_1580661436132757506.json")),
    );
    let item = server
        .fetcher()
        .fetch(&req("1580661436132757506"))
        .await
        .expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Post));
    assert_eq!(item.title, None);
    assert_eq!(item.text.as_deref(), Some("a hit Tweet"));
    assert_eq!(item.html.as_deref(), Some("<p>a hit Tweet</p>"));
    let a = item.author.as_ref().expect("author");
    assert_eq!(a.name.as_deref(), Some("Twitter"));
    assert_eq!(a.id.as_deref(), Some("783214"));
    assert_eq!(a.url.as_deref(), Some("https://x.com/Twitter"));
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_665_694_028)
    );
    // `views: null` is absent, not zero.
    let stats: Vec<(&str, i64)> = item.stats.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        stats,
        vec![("likes", 43852), ("replies", 4675), ("retweets", 2422)]
    );
    assert_eq!(item.media.len(), 1);
    assert_eq!(item.media[0].role, MediaRole::Image);
    assert_eq!(
        item.media[0].url,
        "https://pbs.twimg.com/media/Fe-jMcGWQAAFWoG.jpg"
    );
    assert_eq!(
        (item.media[0].width, item.media[0].height),
        (Some(118), Some(122))
    );
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://twitter.com/Twitter/status/1580661436132757506")
    );
    assert_eq!(item.quoted, None);
    assert_eq!(
        item.raw.pointer("/tweet/id").and_then(|v| v.as_str()),
        Some("1580661436132757506")
    );
}

#[tokio::test]
async fn video_tweet_and_missing_optional_fields() {
    // The doc's video sample has no tweet id and no author id.
    let server = Replay::start(HOSTS).await;
    v2_unreadable(&server);
    server.route(
        "api.fxtwitter.com/status/1548602399862013953",
        Reply::json(fixture("twitter/fxtwitter_status_1548602399862013953.json")),
    );
    let item = server
        .fetcher()
        .fetch(&req("1548602399862013953"))
        .await
        .expect("fetches");
    assert_eq!(
        item.text.as_deref(),
        Some("I made my first ever TikTok....")
    );
    let a = item.author.as_ref().expect("author");
    assert_eq!(
        a.id.as_deref(),
        Some("dangeredwolf"),
        "screen name stands in for the id"
    );
    assert_eq!(item.stats.get("views"), Some(&342));
    let roles: Vec<MediaRole> = item.media.iter().map(|m| m.role).collect();
    assert_eq!(roles, vec![MediaRole::Cover, MediaRole::Video]);
    assert_eq!(
        item.media[0].url,
        "https://pbs.twimg.com/ext_tw_video_thumb/1548602342488129536/pu/img/V_1u5Nv5BwKBynwv.jpg"
    );
    let v = &item.media[1];
    assert_eq!(
        v.url,
        "https://video.twimg.com/ext_tw_video/1548602342488129536/pu/vid/720x1280/I_D3svYfjBl7_xGS.mp4?tag=14"
    );
    assert_eq!((v.width, v.height), (Some(720), Some(1280)));
    assert_eq!(v.duration_secs, Some(25.133));
    assert_eq!(v.mime.as_deref(), Some("video/mp4"));
}

#[tokio::test]
async fn quoted_tweet_is_parsed_the_same_way() {
    // Synthetic: the photo sample with itself as `quote` (same shape per the doc).
    let mut body: serde_json::Value = serde_json::from_str(&fixture(
        "twitter/fxtwitter_status_1580661436132757506.json",
    ))
    .expect("json");
    let inner = body["tweet"].clone();
    body["tweet"]["quote"] = inner;
    let server = Replay::start(HOSTS).await;
    v2_unreadable(&server);
    server.route("api.fxtwitter.com/status/1", Reply::json(body.to_string()));
    let item = server.fetcher().fetch(&req("1")).await.expect("fetches");
    let q = item.quoted.as_ref().expect("quoted");
    assert_eq!(q.text.as_deref(), Some("a hit Tweet"));
    assert_eq!(q.media.len(), 1);
}

#[tokio::test]
async fn not_found_is_permanent_without_fallback() {
    let server = Replay::start(HOSTS).await;
    server.route(
        "api.fxtwitter.com/",
        Reply::status(404, fixture("twitter/fxtwitter_status_not_found.json")),
    );
    let err = fetch_err(&server, &req("20")).await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(
        server
            .hits()
            .iter()
            .all(|h| h.target.starts_with("api.fxtwitter.com"))
    );
}

#[tokio::test]
async fn private_tweet_is_a_login_wall() {
    let server = Replay::start(HOSTS).await;
    server.route(
        "api.fxtwitter.com/",
        Reply::status(401, r#"{"code":401,"message":"PRIVATE_TWEET"}"#),
    );
    assert_eq!(
        fetch_err(&server, &req("20")).await.class,
        ErrorClass::AuthRequired
    );
}

#[tokio::test]
async fn falls_back_to_syndication() {
    let server = Replay::start(HOSTS).await;
    server
        .route("api.fxtwitter.com/", Reply::status(500, r#"{"code":500,"message":"API_FAIL"}"#))
        .route(
            "cdn.syndication.twimg.com/tweet-result?id=875083037872181254&token=24d5k5p19ji9z3qrg6p9cnmi",
            Reply::json(fixture("twitter/syndication_tweet-result_875083037872181254.json")),
        );
    let item = server
        .fetcher()
        .fetch(&req("875083037872181254"))
        .await
        .expect("fetches");
    // The trailing t.co link only points at the photo: display_text_range cuts it.
    assert_eq!(
        item.text.as_deref(),
        Some(
            "UPDATE: 4pm 6/14:  NASA Terrier Improved Malemute will launch no earlier than 6/16, from 9:05 to 9:20 p.m. due to poor weather conditions."
        )
    );
    let a = item.author.as_ref().expect("author");
    assert_eq!(a.name.as_deref(), Some("NASA Wallops"));
    assert_eq!(a.id.as_deref(), Some("30258963"));
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_497_471_029)
    );
    assert_eq!(item.media.len(), 1);
    assert_eq!(item.media[0].role, MediaRole::Image);
    assert_eq!(
        item.media[0].url,
        "https://pbs.twimg.com/media/DCTrTynXgAEwyNJ.jpg"
    );
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://x.com/NASAWallops/status/875083037872181254")
    );
    assert!(item.stats.is_empty());
    // yt-dlp's UA for this endpoint.
    let hit = server
        .hits()
        .into_iter()
        .find(|h| h.target.starts_with("cdn."))
        .expect("fallback hit");
    assert_eq!(
        hit.headers.get("user-agent").map(String::as_str),
        Some("Googlebot")
    );
}

#[tokio::test]
async fn tombstone_is_permanent() {
    let server = Replay::start(HOSTS).await;
    server
        .route("api.fxtwitter.com/", Reply::status(502, "bad gateway"))
        .route(
            "cdn.syndication.twimg.com/tweet-result",
            Reply::json(fixture("twitter/syndication_tweet-result_tombstone.json")),
        );
    let err = fetch_err(&server, &req("20")).await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(
        err.detail
            .as_deref()
            .is_some_and(|d| d.contains("deleted by the Post author")),
        "{err:?}"
    );
}

/// FxTwitter down and the fallback rate limiting us: the error stays
/// FxTwitter's, but the next attempt (which asks both again) waits for the
/// fallback's Retry-After.
#[tokio::test]
async fn fallback_retry_after_is_kept() {
    let server = Replay::start(HOSTS).await;
    server
        .route("api.fxtwitter.com/", Reply::status(502, "{}"))
        .route(
            "cdn.syndication.twimg.com/tweet-result",
            Reply::status(429, "{}").header("retry-after", "7"),
        );
    let err = fetch_err(&server, &req("20")).await;
    assert_eq!(err.class, ErrorClass::Retryable, "{err:?}");
    assert_eq!(
        err.retry_after,
        Some(std::time::Duration::from_secs(7)),
        "{err:?}"
    );
}

#[tokio::test]
async fn http_errors() {
    // With the fallback also failing (no route → 599), FxTwitter's own
    // classification is the answer.
    assert_error_matrix(
        HOSTS,
        "api.fxtwitter.com/",
        &req("20"),
        ErrorClass::AuthRequired,
        Reply::json("{\"code\":200,\"tweet\":"),
    )
    .await;
}

#[test]
fn token_vector() {
    assert_eq!(
        syndication_token(875083037872181254),
        "24d5k5p19ji9z3qrg6p9cnmi"
    );
}
