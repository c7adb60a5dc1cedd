//! Feeds over real HTTP, on SQLite and PostgreSQL, with auth required:
//! operators make feeds (`POST /api/v1/feeds`), a reader fetches RSS, Atom
//! and JSON Feed with nothing but the URL, and Python's `feedparser` (a real
//! feed parser, installed by `scripts/test`) reads them. Checked: the spec's
//! required elements, escaping of hostile titles and texts, archived images
//! inline and files as enclosures that open with the feed's token (and only
//! for items the feed shows), `rel="next"` paging, conditional GET, and
//! revocation; a feed's `q` is a search (the search route's language).

mod support;

use std::path::Path;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use support::{Backend, TestApp};
use vaultstream_core::blob::{BlobKey, BlobStore, local::LocalStore};
use vaultstream_core::db::blobs::Archived;
use vaultstream_core::db::keys::{self, Role};
use vaultstream_core::db::{items, media, search};
use vaultstream_core::parsed::{MediaRef, MediaRole, ParsedAuthor, ParsedItem};

both_backends!(feeds_over_http, a_feeds_q_is_a_search);

const HOSTILE_TITLE: &str = "<script>alert(\"t\")</script> & 'quotes' ]]>";
const HOSTILE_TEXT: &str =
    "first line <img src=x onerror=alert(1)>\nsecond line\u{1b}\n\nnext paragraph";

fn authed(key: &str) -> reqwest::Client {
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(h)
        .build()
        .unwrap()
}

async fn share(app: &TestApp, client: &reqwest::Client, url: &str, tags: &[&str]) -> i64 {
    let resp = client
        .post(app.url("/api/v1/shares"))
        .json(&json!({"url": url, "tags": tags}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let body: Value = resp.json().await.unwrap();
    body["content_id"].as_i64().unwrap()
}

/// Store `id` pulled (as the parse job does) with these files; the image
/// (if any) is archived with real bytes in the local store. Returns the
/// archived image's blob key.
async fn pull(
    app: &TestApp,
    id: i64,
    title: &str,
    text: &str,
    with_image: bool,
) -> Option<BlobKey> {
    let claim = items::claim(&app.db, id, Duration::from_secs(30))
        .await
        .unwrap()
        .expect("claimable");
    let file = |role, url: &str| MediaRef {
        role,
        url: url.to_owned(),
        width: None,
        height: None,
        duration_secs: None,
        mime: None,
        headers: Default::default(),
        part: None,
    };
    let parsed = ParsedItem {
        title: Some(title.to_owned()),
        text: Some(text.to_owned()),
        author: Some(ParsedAuthor {
            name: Some("jack".to_owned()),
            ..Default::default()
        }),
        media: if with_image {
            vec![file(
                MediaRole::Image,
                "https://pbs.twimg.com/media/secret-signed.jpg?token=cdn",
            )]
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    assert!(
        items::complete(&app.db, &claim, &parsed, true)
            .await
            .unwrap()
    );
    search::index_items(&app.db, &[id]).await.unwrap();
    if !with_image {
        return None;
    }
    let bytes: Vec<u8> = (0..2_000u32)
        .map(|i| ((i * 7 + id as u32) % 251) as u8)
        .collect();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    let key = BlobKey::new(&sha, "webp").unwrap();
    LocalStore::new(&app.data_dir())
        .unwrap()
        .put_bytes(&key, bytes.into(), "image/webp")
        .await
        .unwrap();
    let row = media::for_content(&app.db, id)
        .await
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    let claim = media::claim(&app.db, row.id, Duration::from_secs(30))
        .await
        .unwrap()
        .expect("claimable file");
    let archived = Archived {
        blob_key: key.as_str().to_owned(),
        sha256: sha,
        source_sha256: None,
        bytes: 2000,
        mime: "image/webp".to_owned(),
        width: Some(40),
        height: Some(50),
        duration_secs: None,
    };
    assert!(media::complete(&app.db, &claim, &archived).await.unwrap());
    Some(key)
}

/// What feedparser makes of a feed.
fn feedparser(dir: &Path, body: &str) -> Value {
    let file = dir.join("feed.xml");
    std::fs::write(&file, body).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/feed_parse.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(&file)
        .output()
        .expect("python3 (scripts/test installs feedparser)");
    assert!(
        out.status.success(),
        "feedparser failed (is it installed? scripts/test installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn fetch(url: &str) -> (u16, HeaderMap, String) {
    // A feed reader: no Authorization header.
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

fn link(feed: &Value, rel: &str) -> Option<String> {
    feed["feed"]["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == rel)
        .map(|l| l["href"].as_str().unwrap().to_owned())
}

async fn feeds_over_http(b: Backend) {
    let app = TestApp::spawn_with(b, &[("AUTH", "required".to_owned())]).await;
    let (_, op_key) = keys::create(&app.db, Role::Operator, None).await.unwrap();
    let (_, sub_key) = keys::create(&app.db, Role::Submitter, None).await.unwrap();
    let op = authed(&op_key);
    let tmp = app.data_dir().join("feed-test");
    std::fs::create_dir_all(&tmp).unwrap();

    let cat = share(&app, &op, "https://x.com/jack/status/101", &["cats"]).await;
    let image = pull(&app, cat, HOSTILE_TITLE, HOSTILE_TEXT, true)
        .await
        .unwrap();
    let cat2 = share(&app, &op, "https://x.com/jack/status/102", &["cats"]).await;
    pull(&app, cat2, "second cat", "purr", false).await;
    let video = share(
        &app,
        &op,
        "https://www.bilibili.com/video/BV1GJ411x7h7",
        &["cats"],
    )
    .await;
    pull(&app, video, "a video", "watch", false).await;
    // Not archived yet: in no feed.
    let pending = share(&app, &op, "https://x.com/jack/status/103", &["cats"]).await;

    // Operators make feeds; submitters cannot.
    let resp = authed(&sub_key)
        .post(app.url("/api/v1/feeds"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    for (body, code) in [
        (json!({"platform": "myspace"}), "invalid_body"),
        (json!({"kind": "poem"}), "invalid_body"),
        (json!({"colour": "red"}), "invalid_body"),
        (json!({"q": "x".repeat(200)}), "invalid_body"),
    ] {
        let resp = op
            .post(app.url("/api/v1/feeds"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 422, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], code, "{body}");
    }
    let resp = op
        .post(app.url("/api/v1/feeds"))
        .json(&json!({"name": "Cats <b>", "platform": "twitter", "tag": "#Cats"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let created: Value = resp.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("vf_") && token.len() == 43, "{token}");
    assert_eq!(created["filter"]["tag"], "cats");
    assert_eq!(created["prefix"], &token[..11]);
    let rss_url = created["urls"]["rss"].as_str().unwrap().to_owned();
    assert_eq!(
        rss_url,
        format!("{}/api/v1/feed/rss?token={token}", app.base)
    );
    // The token is never shown again.
    let listed: Value = op
        .get(app.url("/api/v1/feeds"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!listed.to_string().contains(&token), "{listed}");
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    // RSS 2.0 with a real parser.
    let (status, headers, rss) = fetch(&rss_url).await;
    assert_eq!(status, 200, "{rss}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/rss+xml")
    );
    assert!(!rss.contains("<script"), "hostile markup is escaped: {rss}");
    assert!(!rss.contains('\u{1b}'), "no character XML cannot carry");
    for leak in [
        "pbs.twimg.com",
        "secret-signed",
        op_key.as_str(),
        sub_key.as_str(),
    ] {
        assert!(!rss.contains(leak), "the feed names {leak}");
    }
    let parsed = feedparser(&tmp, &rss);
    assert_eq!(parsed["bozo"], false, "{parsed}");
    assert_eq!(parsed["version"], "rss20");
    assert_eq!(parsed["feed"]["title"], "VaultStream: Cats <b>");
    assert_eq!(parsed["feed"]["link"], format!("{}/", app.base));
    assert!(
        parsed["feed"]["subtitle"]
            .as_str()
            .unwrap()
            .contains("Cats")
    );
    assert_eq!(link(&parsed, "self").as_deref(), Some(rss_url.as_str()));
    assert_eq!(link(&parsed, "next"), None, "one page");
    let entries = parsed["entries"].as_array().unwrap();
    let ids: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        vec!["https://x.com/i/status/102", "https://x.com/i/status/101"],
        "twitter and #cats only, archived only, newest first"
    );
    let hostile = &entries[1];
    assert_eq!(hostile["title"], HOSTILE_TITLE);
    assert_eq!(hostile["author"], "jack");
    assert_eq!(hostile["tags"], json!(["cats"]));
    let blob_url = format!("{}/{}?token={token}", app.base, image.as_str());
    assert_eq!(
        hostile["enclosures"],
        json!([{"href": blob_url, "type": "image/webp", "length": "2000"}])
    );
    // The picture inline; the hostile markup of the text as text.
    let html = hostile["content"][0].as_str().unwrap();
    assert!(html.contains("<img") && html.contains(&blob_url), "{html}");
    assert!(html.contains("first line &lt;img src=x"), "{html}");
    assert!(
        html.contains("second line") && !html.contains("onerror=alert(1)>"),
        "{html}"
    );
    assert!(
        rss.contains(&format!("&lt;img src=&quot;{blob_url}&quot;")),
        "the HTML is escaped once more for XML"
    );

    // The file opens with the feed's token, without a key.
    let resp = reqwest::get(&blob_url).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.bytes().await.unwrap().len(), 2000);
    let bare = format!("{}/{}", app.base, image.as_str());
    assert_eq!(reqwest::get(&bare).await.unwrap().status().as_u16(), 401);

    // Atom.
    let atom_url = created["urls"]["atom"].as_str().unwrap();
    let (status, _, atom) = fetch(atom_url).await;
    assert_eq!(status, 200, "{atom}");
    for required in ["<id>", "<title>", "<updated>", "rel=\"self\""] {
        assert!(atom.contains(required), "Atom needs {required}");
    }
    let parsed = feedparser(&tmp, &atom);
    assert_eq!(parsed["bozo"], false, "{parsed}");
    assert_eq!(parsed["version"], "atom10");
    assert_eq!(
        parsed["feed"]["id"],
        format!("{}/api/v1/feeds/{}", app.base, created["id"])
    );
    assert!(parsed["feed"]["updated"].is_string());
    assert_eq!(link(&parsed, "self").as_deref(), Some(atom_url));
    for e in parsed["entries"].as_array().unwrap() {
        assert!(e["id"].is_string() && e["title"].is_string() && e["updated"].is_string());
    }
    assert_eq!(parsed["entries"][1]["title"], HOSTILE_TITLE);
    assert_eq!(parsed["entries"][1]["enclosures"][0]["href"], blob_url);

    // JSON Feed 1.1 (feedparser 6 does not read JSON Feed: its required
    // members are checked here).
    let json_url = created["urls"]["json"].as_str().unwrap();
    let (status, headers, body) = fetch(json_url).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/feed+json")
    );
    let jf: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(jf["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(jf["title"], "VaultStream: Cats <b>");
    assert_eq!(jf["feed_url"], json_url);
    assert!(jf.get("next_url").is_none());
    let items = jf["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for i in items {
        assert!(i["id"].is_string());
        assert!(i["content_html"].is_string() || i["content_text"].is_string());
    }
    assert_eq!(items[1]["title"], HOSTILE_TITLE);
    assert_eq!(items[1]["attachments"][0]["url"], blob_url);
    assert_eq!(items[1]["authors"][0]["name"], "jack");

    // Conditional GET.
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let last_modified = headers["last-modified"].to_str().unwrap().to_owned();
    let c = reqwest::Client::new();
    let r = c
        .get(json_url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 304);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
    let r = c
        .get(json_url)
        .header("if-modified-since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 304);
    let r = c
        .get(json_url)
        .header("if-none-match", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // A new item changes the feed.
    let cat3 = share(&app, &op, "https://x.com/jack/status/104", &["cats"]).await;
    pull(&app, cat3, "third cat", "meow", false).await;
    let r = c
        .get(json_url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let jf: Value = r.json().await.unwrap();
    assert_eq!(jf["items"][0]["id"], "https://x.com/i/status/104");

    // Paging by rel="next": a feed of everything, two per page.
    let everything: Value = op
        .post(app.url("/api/v1/feeds"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let every_token = everything["token"].as_str().unwrap().to_owned();
    let mut url = format!("{}&limit=2", everything["urls"]["atom"].as_str().unwrap());
    let mut seen = Vec::new();
    for _ in 0..5 {
        let (status, _, page) = fetch(&url).await;
        assert_eq!(status, 200, "{page}");
        let parsed = feedparser(&tmp, &page);
        assert_eq!(parsed["bozo"], false, "{parsed}");
        assert_eq!(link(&parsed, "self").as_deref(), Some(url.as_str()));
        for e in parsed["entries"].as_array().unwrap() {
            seen.push(e["id"].as_str().unwrap().to_owned());
        }
        match link(&parsed, "next") {
            Some(next) => url = next,
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec![
            "https://x.com/i/status/104",
            "https://www.bilibili.com/video/BV1GJ411x7h7",
            "https://x.com/i/status/102",
            "https://x.com/i/status/101",
        ],
        "every archived item once, newest first (not {pending})"
    );
    let (_, _, rss_page) = fetch(&format!(
        "{}&limit=2",
        everything["urls"]["rss"].as_str().unwrap()
    ))
    .await;
    let parsed = feedparser(&tmp, &rss_page);
    assert!(link(&parsed, "next").unwrap().contains("cursor="));

    // A feed's token opens only the files of items that feed shows.
    let bili: Value = op
        .post(app.url("/api/v1/feeds"))
        .json(&json!({"platform": "bilibili"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let other = format!(
        "{}/{}?token={}",
        app.base,
        image.as_str(),
        bili["token"].as_str().unwrap()
    );
    assert_eq!(reqwest::get(&other).await.unwrap().status().as_u16(), 403);
    let every_blob = format!("{}/{}?token={every_token}", app.base, image.as_str());
    assert_eq!(
        reqwest::get(&every_blob).await.unwrap().status().as_u16(),
        200
    );

    // Bad requests: clear 4xx codes.
    for (url, status, code) in [
        (
            format!("{}/api/v1/feed/rss", app.base),
            401,
            "unauthenticated",
        ),
        (
            format!("{}/api/v1/feed/rss?token=vf_{}", app.base, "A".repeat(40)),
            401,
            "unauthenticated",
        ),
        (
            format!("{}/api/v1/feed/atom?token=nonsense", app.base),
            401,
            "unauthenticated",
        ),
        (format!("{rss_url}&cursor=garbage"), 400, "invalid_cursor"),
        (format!("{rss_url}&limit=0"), 400, "invalid_parameter"),
        (format!("{rss_url}&limit=101"), 400, "invalid_parameter"),
    ] {
        let (got, _, body) = fetch(&url).await;
        assert_eq!(got, status, "{url}: {body}");
        let err: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(err["error"]["code"], code, "{url}");
    }

    // Revoked: the URLs and the files stop working at once.
    let id = created["id"].as_i64().unwrap();
    let resp = op
        .delete(app.url(&format!("/api/v1/feeds/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let revoked: Value = resp.json().await.unwrap();
    assert!(revoked["revoked_at"].is_string());
    assert_eq!(fetch(&rss_url).await.0, 401);
    assert_eq!(
        reqwest::get(&blob_url).await.unwrap().status().as_u16(),
        401
    );
    let resp = op
        .get(app.url(&format!("/api/v1/feeds/{id}")))
        .send()
        .await
        .unwrap();
    let got: Value = resp.json().await.unwrap();
    assert!(got["revoked_at"].is_string());
    assert!(got["last_used_at"].is_string(), "reads are recorded: {got}");
    let resp = op
        .delete(app.url("/api/v1/feeds/999999"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}

/// The ids of a JSON Feed page's items and its next page, if any.
async fn json_page(url: &str) -> (Vec<String>, Option<String>) {
    let (status, _, body) = fetch(url).await;
    assert_eq!(status, 200, "{url}: {body}");
    let jf: Value = serde_json::from_str(&body).unwrap();
    let ids = jf["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    (ids, jf["next_url"].as_str().map(str::to_owned))
}

/// Every item id of a feed, following `next_url`.
async fn whole_feed(first: &str) -> Vec<String> {
    let (mut all, mut next) = json_page(first).await;
    while let Some(url) = next {
        let (ids, n) = json_page(&url).await;
        assert!(!ids.is_empty(), "a next page is never empty");
        all.extend(ids);
        next = n;
    }
    all
}

async fn a_feeds_q_is_a_search(b: Backend) {
    let app = TestApp::spawn_with(b, &[("AUTH", "required".to_owned())]).await;
    let (_, op_key) = keys::create(&app.db, Role::Operator, None).await.unwrap();
    let op = authed(&op_key);
    let status = |n: u32| format!("https://x.com/jack/status/{n}");
    let canonical = |n: u32| format!("https://x.com/i/status/{n}");
    // Chinese and English, simplified and traditional, a two-character
    // word inside a sentence, an excluded word, a phrase across a line break.
    let items: [(u32, &str, &str, bool); 6] = [
        (
            201,
            "早高峰",
            "今天北京地铁又晚点了，大家注意安排时间",
            false,
        ),
        (202, "廣告", "地鐵站裡的新廣告牌", true),
        (
            203,
            "rust async",
            "Notes on rust\nasync runtimes and tokio",
            false,
        ),
        (204, "cooking", "a recipe for dumplings", true),
        (205, "trust", "trusting the process", false),
        (206, "tokio", "tokio \"only", false),
    ];
    let mut files = std::collections::HashMap::new();
    for (n, title, text, image) in items {
        let id = share(&app, &op, &status(n), &[]).await;
        if let Some(key) = pull(&app, id, title, text, image).await {
            files.insert(n, key.as_str().to_owned());
        }
    }
    let feed = |q: &str| {
        let op = op.clone();
        let url = app.url("/api/v1/feeds");
        let q = q.to_owned();
        async move {
            let resp = op.post(url).json(&json!({ "q": q })).send().await.unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            (status, body)
        }
    };
    let cases: [(&str, Vec<u32>); 7] = [
        // A two-character word, in both scripts, newest first.
        ("地铁", vec![202, 201]),
        ("地铁 -广告", vec![201]),
        ("\"rust async\"", vec![203]),
        // Words, not substrings: `rust` is not in "trust".
        ("rust", vec![203]),
        ("rust OR dumplings", vec![204, 203]),
        ("has:images", vec![204, 202]),
        ("tokio -\"rust async\"", vec![206]),
    ];
    for (q, want) in cases {
        let (code, created) = feed(q).await;
        assert_eq!(code, 201, "{q}: {created}");
        assert_eq!(created["filter"]["q"], q);
        let first = format!("{}&limit=1", created["urls"]["json"].as_str().unwrap());
        let got = whole_feed(&first).await;
        let want: Vec<String> = want.into_iter().map(canonical).collect();
        assert_eq!(got, want, "feed q={q}, one item per page");
    }

    // The files a searched feed's token opens: its items' only.
    let (_, pics) = feed("dumplings").await;
    let token = pics["token"].as_str().unwrap();
    let blobs = |key: &str| format!("{}/{key}?token={token}", app.base);
    let (shown, hidden) = (&files[&204], &files[&202]);
    assert_ne!(shown, hidden);
    assert_eq!(reqwest::get(blobs(shown)).await.unwrap().status(), 200);
    assert_eq!(reqwest::get(blobs(hidden)).await.unwrap().status(), 403);

    // A `q` that is not a search: the search route's 400, saying where.
    for q in ["\"never closed", "a OR", "platform:myspace"] {
        let (code, err) = feed(q).await;
        assert_eq!(code, 400, "{q}: {err}");
        assert_eq!(err["error"]["code"], "invalid_query", "{q}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains("column"),
            "{q}: {err}"
        );
    }

    // A feed stored by an earlier release with a `q` that is not a search
    // keeps its substring match rather than failing or showing everything.
    let (row, token) = vaultstream_core::db::feeds::create(
        &app.db,
        None,
        vaultstream_core::db::feeds::FeedFilter {
            q: Some("Tokio \"ONLY".to_owned()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(row.q.is_some());
    let url = format!("{}/api/v1/feed/json?token={token}", app.base);
    assert_eq!(whole_feed(&url).await, vec![canonical(206)]);
}
