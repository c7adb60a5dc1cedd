//! The media archive end to end: a share goes in over HTTP, the worker
//! parses it from recorded upstream responses, then media jobs download
//! every image and video from a local server (the media CDN hosts are
//! overridden onto it), transcode images to WebP and store every file under
//! `blobs/sha256/ab/cd/<sha256>.<ext>` — on local disk (the embedded
//! default) or in a real S3 server (Garage) on loopback — and the files are
//! fetched back over the URLs the API returns.
//!
//! Media bytes: real photos from `shared/fixtures/media` (public domain /
//! CC0, see its README), a hand-made MP4-shaped file (an `ftyp` box and
//! random payload: nothing here decodes video), and hostile inputs built in
//! the test (a 30000×30000 PNG header, HTML served as an image, noise).

mod support;

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use support::{World, fake_mp4, photo, sha_hex};
use vaultstream_core::db::entities::{blob, blob_source, media};
use vaultstream_core::queue::JobQueue;
use vaultstream_testkit::env::{Stack, TestEnv};
use vaultstream_testkit::replay::{Reply, fixture};
use vaultstream_testkit::wait;

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG that declares 30000×30000 pixels (a decompression bomb: the
/// header alone must get it refused).
fn png_bomb() -> Vec<u8> {
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        c.extend_from_slice(&body);
        c.extend_from_slice(&crc32(&body).to_be_bytes());
        c
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&30000u32.to_be_bytes());
    ihdr.extend_from_slice(&30000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    // A valid zlib stream of a few zero bytes; the size is what matters.
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}

/// Poll the item until no media file is still pending; returns its view.
async fn media_settled(w: &World, id: i64) -> Value {
    let what = format!("media of item {id} settled");
    wait::until(Duration::from_secs(90), what, || async {
        let (status, body) = w.get(&format!("/api/v1/contents/{id}")).await;
        assert_eq!(status, 200, "{body}");
        let pending = body["media_status"] == "pending" || body["status"] != "pulled";
        if !pending {
            return Ok(body);
        }
        Err(format!("{body}\nupstream hits: {:?}", w.replay.targets()))
    })
    .await
}

/// GET an absolute URL (following redirects, e.g. to S3) → (status, headers, body).
async fn fetch(url: &str, headers: &[(&str, &str)]) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let client = reqwest::Client::new();
    let mut req = client.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("fetch");
    let status = resp.status().as_u16();
    let h = resp.headers().clone();
    (status, h, resp.bytes().await.expect("body").to_vec())
}

fn media_of(view: &Value) -> Vec<Value> {
    view["media"].as_array().cloned().unwrap_or_default()
}

fn twitter_routes(w: &World, video: &[u8]) {
    w.replay
        .route(
            "api.fxtwitter.com/status/1580661436132757506",
            Reply::json(fixture("twitter/fxtwitter_status_1580661436132757506.json")),
        )
        .route(
            "api.fxtwitter.com/status/1548602399862013953",
            Reply::json(fixture("twitter/fxtwitter_status_1548602399862013953.json")),
        )
        // The photo of one tweet and the video thumbnail of the other are
        // the same picture: it must be stored once.
        .route(
            "pbs.twimg.com/media/Fe-jMcGWQAAFWoG.jpg",
            Reply::bytes("image/jpeg", photo("chelsea_small.jpg")),
        )
        .route(
            "pbs.twimg.com/ext_tw_video_thumb/",
            Reply::bytes("image/jpeg", photo("chelsea_small.jpg")),
        )
        .route(
            "video.twimg.com/",
            Reply::bytes("video/mp4", video.to_vec()),
        );
}

/// Two tweets (a photo; a video with its thumbnail) archived, checked over
/// the API, the blob route and the store; the same picture stored once;
/// re-running the media jobs uploads nothing new.
async fn tweets_with_photo_and_video(w: &World) -> (Value, Value) {
    let video = fake_mp4(3 * 1024 * 1024 + 17, 7);
    twitter_routes(w, &video);

    let photo_id = w
        .submit("https://x.com/elonmusk/status/1580661436132757506?s=20")
        .await;
    let video_id = w
        .submit("https://twitter.com/i/status/1548602399862013953")
        .await;
    let photo_view = media_settled(w, photo_id).await;
    let video_view = media_settled(w, video_id).await;
    assert_eq!(photo_view["media_status"], "archived", "{photo_view}");
    assert_eq!(video_view["media_status"], "archived", "{video_view}");

    let pm = media_of(&photo_view);
    assert_eq!(pm.len(), 1, "{photo_view}");
    let img = &pm[0];
    assert_eq!(img["role"], "image");
    assert_eq!(img["status"], "archived");
    assert_eq!(img["mime"], "image/webp");
    assert_eq!(
        img["original_url"],
        "https://pbs.twimg.com/media/Fe-jMcGWQAAFWoG.jpg"
    );
    let key = img["blob_key"].as_str().expect("blob_key");
    let sha = img["sha256"].as_str().expect("sha256");
    assert_eq!(
        key,
        format!("blobs/sha256/{}/{}/{sha}.webp", &sha[..2], &sha[2..4])
    );
    let (iw, ih) = image_dims(&photo("chelsea_small.jpg"));
    assert_eq!(
        (img["width"].as_i64(), img["height"].as_i64()),
        (Some(iw), Some(ih))
    );

    // The returned URL serves exactly the stored bytes.
    let url = img["url"].as_str().expect("url");
    assert!(url.starts_with("http://"), "absolute URL: {url}");
    let (status, headers, body) = fetch(url, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(sha_hex(&body), sha, "the blob's bytes hash to its key");
    assert_eq!(img["bytes"].as_i64(), Some(body.len() as i64));
    assert_eq!(&body[..4], b"RIFF");
    assert_eq!(&body[8..12], b"WEBP");
    assert!(
        headers
            .get("content-type")
            .is_some_and(|v| v == "image/webp"),
        "{headers:?}"
    );

    let vm = media_of(&video_view);
    let roles: Vec<&str> = vm.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["cover", "video"], "{video_view}");
    let vid = &vm[1];
    assert_eq!(vid["status"], "archived", "{vid}");
    assert_eq!(vid["sha256"].as_str(), Some(sha_hex(&video).as_str()));
    assert_eq!(vid["bytes"].as_i64(), Some(video.len() as i64));
    assert_eq!(vid["mime"], "video/mp4");
    assert!(vid["blob_key"].as_str().unwrap().ends_with(".mp4"));
    let cover = &vm[0];
    assert_eq!(cover["blob_key"], img["blob_key"], "same picture, one blob");

    // A Range request on the video blob.
    let vurl = vid["url"].as_str().expect("video url");
    let (status, headers, body) = fetch(vurl, &[("range", "bytes=100-1123")]).await;
    assert_eq!(status, 206, "{headers:?}");
    assert_eq!(body, video[100..1124]);
    if let Some(cr) = headers.get("content-range") {
        assert_eq!(cr, &format!("bytes 100-1123/{}", video.len()));
    }

    // Stored once: two blobs (the WebP and the MP4), one encoding recorded.
    assert_eq!(blob::Entity::find().count(&w.db).await.unwrap(), 2);
    assert_eq!(blob_source::Entity::find().count(&w.db).await.unwrap(), 1);
    (photo_view, video_view)
}

fn image_dims(bytes: &[u8]) -> (i64, i64) {
    let img = image::load_from_memory(bytes).expect("decodable fixture");
    (i64::from(img.width()), i64::from(img.height()))
}

/// Make every media row of the items pending again and run them: nothing
/// is downloaded or uploaded again.
async fn rerun_media_jobs(w: &World, ids: &[i64]) {
    let hits_before = w.replay.hits_on("pbs.twimg.com") + w.replay.hits_on("video.twimg.com");
    let rows = media::Entity::find()
        .filter(media::Column::ContentId.is_in(ids.iter().copied()))
        .order_by_asc(media::Column::Id)
        .all(&w.db)
        .await
        .unwrap();
    for r in &rows {
        media::Entity::update_many()
            .col_expr(
                media::Column::Status,
                sea_orm::sea_query::Expr::value("pending"),
            )
            .filter(media::Column::Id.eq(r.id))
            .exec(&w.db)
            .await
            .unwrap();
        w.queue
            .enqueue_media(
                vaultstream_core::queue::MediaJob {
                    media_id: r.id,
                    request_id: None,
                },
                None,
            )
            .await
            .unwrap();
    }
    for id in ids {
        let v = media_settled(w, *id).await;
        assert_eq!(v["media_status"], "archived", "{v}");
    }
    let after = media::Entity::find()
        .filter(media::Column::ContentId.is_in(ids.iter().copied()))
        .order_by_asc(media::Column::Id)
        .all(&w.db)
        .await
        .unwrap();
    for (a, b) in rows.iter().zip(&after) {
        assert_eq!(a.blob_key, b.blob_key);
        assert!(b.attempts > a.attempts, "the job ran again: {b:?}");
    }
    let hits_after = w.replay.hits_on("pbs.twimg.com") + w.replay.hits_on("video.twimg.com");
    assert_eq!(hits_before, hits_after, "nothing downloaded again");
    assert_eq!(blob::Entity::find().count(&w.db).await.unwrap(), 2);
}

fn with_media(env: &mut TestEnv) {
    env.set("ARCHIVE_MEDIA", "true")
        .set("MEDIA_CONCURRENCY", "4")
        .set("MAX_ATTEMPTS", "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn photo_and_video_tweets_archive_to_local_disk() {
    let w = World::start(Stack::Embedded, with_media).await;
    let (p, v) = tweets_with_photo_and_video(&w).await;

    // On local disk under the data dir, at the key's path; nothing staged
    // is left behind.
    let data = w.data_dir();
    for m in media_of(&p).iter().chain(media_of(&v).iter()) {
        let path = data.join(m["blob_key"].as_str().unwrap());
        assert!(path.is_file(), "{} on disk", path.display());
    }
    let mut files = Vec::new();
    collect_files(&data.join("blobs"), &mut files);
    assert_eq!(files.len(), 2, "{files:?}");
    let staged = std::fs::read_dir(data.join("tmp/media"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(staged, 0, "staging dir is empty");

    // ETag / If-None-Match on the local blob route.
    let url = media_of(&p)[0]["url"].as_str().unwrap().to_owned();
    let (_, headers, _) = fetch(&url, &[]).await;
    let etag = headers
        .get("etag")
        .expect("etag")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        headers
            .get("cache-control")
            .is_some_and(|v| v.to_str().unwrap().contains("immutable"))
    );
    let (status, _, body) = fetch(&url, &[("if-none-match", &etag)]).await;
    assert_eq!(status, 304);
    assert!(body.is_empty());

    rerun_media_jobs(&w, &[p["id"].as_i64().unwrap(), v["id"].as_i64().unwrap()]).await;
    w.stop().await;
}

fn collect_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn photo_and_video_tweets_archive_to_s3() {
    let bucket = vaultstream_testkit::s3::server().bucket();
    let w = World::start(Stack::PostgresRedis, |env| {
        with_media(env);
        for (k, v) in &bucket.env {
            env.set(k, v.clone());
        }
    })
    .await;
    let (p, v) = tweets_with_photo_and_video(&w).await;
    // Nothing on local disk: the blobs are in the bucket.
    let mut files = Vec::new();
    collect_files(&w.data_dir().join("blobs"), &mut files);
    assert!(files.is_empty(), "{files:?}");
    // The blob route redirects to S3.
    let url = media_of(&p)[0]["url"].as_str().unwrap().to_owned();
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains(&bucket.name), "{location}");
    rerun_media_jobs(&w, &[p["id"].as_i64().unwrap(), v["id"].as_i64().unwrap()]).await;
    w.stop().await;
}

/// A page whose pictures are broken in every way a CDN can break them,
/// and whose video is a page that only yt-dlp can take apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_media_fail_one_by_one_and_the_item_stays_pulled() {
    let w = World::start(Stack::Embedded, with_media).await;
    let clip = fake_mp4(256 * 1024, 11);
    let page = r#"<!doctype html><html><head><title>Broken pictures</title>
<meta property="og:title" content="Broken pictures">
<meta property="og:image" content="https://img.example.net/good.jpg">
<meta property="og:video" content="https://media.example.net/watch.html">
</head><body><article><h1>Broken pictures</h1><p>Every picture below is broken in its own way, and the article text is long enough to be the main content of the page.</p>
<img src="https://img.example.net/noise.jpg">
<img src="https://img.example.net/bomb.png">
<img src="https://img.example.net/login.jpg">
<img src="https://img.example.net/missing.jpg">
</article></body></html>"#;
    // A JPEG signature followed by noise.
    let mut noise = vec![0xFF, 0xD8, 0xFF, 0xE0];
    noise.extend_from_slice(&fake_mp4(4096, 3)[32..3000]);
    w.replay
        .route("example.com/broken", Reply::html(page))
        .route(
            "img.example.net/good.jpg",
            Reply::bytes("image/jpeg", photo("coffee_small.jpg")),
        )
        .route(
            "img.example.net/noise.jpg",
            Reply::bytes("image/jpeg", noise),
        )
        .route(
            "img.example.net/bomb.png",
            Reply::bytes("image/png", png_bomb()),
        )
        .route(
            "img.example.net/login.jpg",
            Reply::html("<html><body>Please log in</body></html>"),
        )
        .route("img.example.net/missing.jpg", Reply::status(404, "{}"))
        .route(
            "media.example.net/watch.html",
            Reply::html(
                r#"<!doctype html><html><head><title>clip</title></head><body>
<video controls><source src="clip.mp4" type="video/mp4"></video></body></html>"#,
            ),
        )
        .route(
            "media.example.net/clip.mp4",
            Reply::bytes("video/mp4", clip.clone()),
        );

    let id = w.submit("look: https://example.com/broken").await;
    let view = media_settled(&w, id).await;
    assert_eq!(
        view["status"], "pulled",
        "one bad image never fails the item"
    );
    assert_eq!(view["media_status"], "partial", "{view}");
    let by_url = |u: &str| {
        media_of(&view)
            .into_iter()
            .find(|m| m["original_url"] == u)
            .unwrap_or_else(|| panic!("{u} listed: {view}"))
    };
    let good = by_url("https://img.example.net/good.jpg");
    assert_eq!(good["status"], "archived");
    assert_eq!(good["role"], "cover");
    for (u, code) in [
        ("https://img.example.net/noise.jpg", "corrupt_image"),
        ("https://img.example.net/bomb.png", "image_too_large"),
        ("https://img.example.net/login.jpg", "not_an_image"),
        ("https://img.example.net/missing.jpg", "download_failed"),
    ] {
        let m = by_url(u);
        assert_eq!(m["status"], "failed", "{m}");
        assert_eq!(m["error"]["code"], code, "{m}");
        assert_eq!(m["error"]["error_type"], "permanent", "{m}");
        assert!(m["blob_key"].is_null());
    }
    let video = by_url("https://media.example.net/watch.html");
    assert_eq!(
        video["status"], "archived",
        "yt-dlp took the page apart: {video}"
    );
    assert_eq!(video["sha256"].as_str(), Some(sha_hex(&clip).as_str()));
    let (status, _, body) =
        fetch(video["url"].as_str().unwrap(), &[("range", "bytes=-1000")]).await;
    assert_eq!(status, 206);
    assert_eq!(body, clip[clip.len() - 1000..]);

    // Each failure is a media dead letter an operator can see and retry.
    let (_, dls) = w.get("/api/v1/dead-letters").await;
    let media_dls: Vec<&Value> = dls["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["job_kind"] == "media" && d["content_id"] == id)
        .collect();
    assert_eq!(media_dls.len(), 4, "{dls}");

    // The missing picture appears upstream; the operator retries the item:
    // only its failed files run again, and the fixed one is archived.
    w.replay.route(
        "img.example.net/missing.jpg",
        Reply::bytes("image/jpeg", photo("rocket_small.jpg")),
    );
    let resp = w
        .client
        .post(format!("{}/api/v1/contents/{id}/retry", w.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["media_ids"].as_array().map(Vec::len),
        Some(4),
        "{body}"
    );
    let view = media_settled(&w, id).await;
    let fixed = media_of(&view)
        .into_iter()
        .find(|m| m["original_url"] == "https://img.example.net/missing.jpg")
        .unwrap();
    assert_eq!(fixed["status"], "archived", "{fixed}");
    assert_eq!(view["media_status"], "partial");
    w.stop().await;
}

/// `VAULTSTREAM_ARCHIVE_MEDIA=false`: media are listed as `skipped`,
/// nothing is downloaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn archiving_off_lists_media_without_downloading() {
    let w = World::start(Stack::Embedded, |_| {}).await;
    twitter_routes(&w, &fake_mp4(1024, 1));
    let id = w
        .submit("https://x.com/elonmusk/status/1580661436132757506")
        .await;
    let view = w.settle(id).await;
    assert_eq!(view["status"], "pulled");
    assert_eq!(view["media_status"], "skipped", "{view}");
    let m = media_of(&view);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["status"], "skipped");
    assert!(m[0]["url"].is_null());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(w.replay.hits_on("pbs.twimg.com"), 0);
    w.stop().await;
}
