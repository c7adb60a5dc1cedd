//! What the library page needs from the API, over HTTP on SQLite and
//! PostgreSQL: tag editing (`PUT /contents/{id}/tags`, the search index
//! kept current) and card previews on lists and search hits.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Backend, TestApp};
use vaultstream_core::db::blobs::Archived;
use vaultstream_core::db::{items, media};
use vaultstream_core::parsed::{MediaRef, MediaRole, ParsedItem};

both_backends!(
    tags_are_replaced_and_searchable,
    lists_and_hits_carry_previews,
);

async fn put_tags(app: &TestApp, path: &str, body: &str) -> (u16, Value) {
    let resp = app
        .client
        .put(app.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn search_ids(app: &TestApp, q: &str) -> Vec<i64> {
    let (status, page) = app.get(&format!("/api/v1/search?q={}", urlencode(q))).await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["item"]["id"].as_i64().unwrap())
        .collect()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn tags_are_replaced_and_searchable(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (status, body) = app
        .share(json!({"url": "https://x.com/jack/status/20", "tags": ["first", "zebrafish"]}))
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["content_id"].as_i64().unwrap();
    vaultstream_core::db::search::index_items(&app.db, &[id])
        .await
        .unwrap();
    assert_eq!(search_ids(&app, "zebrafish").await, vec![id]);

    // Replace: `first` stays in its place, `zebrafish` goes, new ones come
    // last, normalised and without duplicates.
    let path = format!("/api/v1/contents/{id}/tags");
    let (status, body) = put_tags(
        &app,
        &path,
        r##"{"tags": ["#Cats", "first", "cats", "猫"]}"##,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"].as_i64(), Some(id));
    let tags = body["tags"].as_array().unwrap();
    assert_eq!(tags[0], "first");
    let mut rest: Vec<&str> = tags[1..].iter().filter_map(Value::as_str).collect();
    rest.sort_unstable();
    assert_eq!(rest, vec!["cats", "猫"]);

    let (_, item) = app.get(&format!("/api/v1/contents/{id}")).await;
    assert_eq!(item["tags"], body["tags"]);
    // The submission keeps the tags it came with.
    assert_eq!(item["sources"][0]["tags"], json!(["first", "zebrafish"]));
    // Lists and the search index follow at once.
    let (_, page) = app.get("/api/v1/contents?tag=cats").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (_, page) = app.get("/api/v1/contents?tag=zebrafish").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    assert!(search_ids(&app, "zebrafish").await.is_empty());
    assert_eq!(search_ids(&app, "tag:cats").await, vec![id]);
    assert_eq!(search_ids(&app, "cats").await, vec![id]);

    // The same request again changes nothing; [] removes every tag.
    let (status, again) = put_tags(&app, &path, r#"{"tags": ["first", "cats", "猫"]}"#).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["tags"], body["tags"]);
    let (status, none) = put_tags(&app, &path, r#"{"tags": []}"#).await;
    assert_eq!(status, 200, "{none}");
    assert_eq!(none["tags"], json!([]));

    // Refusals, in the envelope.
    for (path, body, status, code) in [
        (path.as_str(), r#"{"tags": ["a b"]}"#, 422, "invalid_tag"),
        (path.as_str(), r#"{"tags": [""]}"#, 422, "invalid_tag"),
        (path.as_str(), r#"{"tag": ["a"]}"#, 422, "invalid_body"),
        (path.as_str(), r#"{"tags": "a"}"#, 422, "invalid_body"),
        (path.as_str(), "{", 400, "invalid_json"),
        (
            "/api/v1/contents/999999/tags",
            r#"{"tags": ["a"]}"#,
            404,
            "not_found",
        ),
        (
            "/api/v1/contents/x/tags",
            r#"{"tags": ["a"]}"#,
            400,
            "invalid_parameter",
        ),
    ] {
        let (got, body) = put_tags(&app, path, body).await;
        assert_eq!(got, status, "{path} {body}");
        assert_eq!(body["error"]["code"], code, "{path} {body}");
    }
    let too_many: Vec<String> = (0..33).map(|i| format!("t{i}")).collect();
    let (got, body) = put_tags(&app, &path, &json!({"tags": too_many}).to_string()).await;
    assert_eq!(
        (got, body["error"]["code"].as_str()),
        (422, Some("invalid_tag"))
    );
    let resp = app.client.post(app.url(&path)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 405);
}

/// A pulled item with a cover that failed, an archived image and a video.
async fn pulled_with_media(app: &TestApp) -> i64 {
    let (_, body) = app
        .share(json!({"url": "https://x.com/jack/status/21"}))
        .await;
    let id = body["content_id"].as_i64().unwrap();
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
        title: Some("picture post".to_owned()),
        text: Some("three files".to_owned()),
        media: vec![
            file(MediaRole::Cover, "https://pbs.twimg.com/cover.jpg"),
            file(MediaRole::Image, "https://pbs.twimg.com/a.jpg"),
            file(MediaRole::Video, "https://video.twimg.com/v.mp4"),
        ],
        ..Default::default()
    };
    assert!(
        items::complete(&app.db, &claim, &parsed, true)
            .await
            .unwrap()
    );
    let rows = media::for_content(&app.db, id).await.unwrap();
    let image = rows.iter().find(|m| m.role == "image").unwrap();
    let claim = media::claim(&app.db, image.id, Duration::from_secs(30))
        .await
        .unwrap()
        .expect("claimable file");
    let sha = "ab".repeat(32);
    let archived = Archived {
        blob_key: format!("blobs/sha256/ab/ab/{sha}.webp"),
        sha256: sha,
        source_sha256: None,
        bytes: 1000,
        mime: "image/webp".to_owned(),
        width: Some(640),
        height: Some(480),
        duration_secs: None,
    };
    assert!(media::complete(&app.db, &claim, &archived).await.unwrap());
    vaultstream_core::db::search::index_items(&app.db, &[id])
        .await
        .unwrap();
    id
}

async fn lists_and_hits_carry_previews(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, plain) = app
        .share(json!({"url": "https://x.com/jack/status/22"}))
        .await;
    let plain = plain["content_id"].as_i64().unwrap();
    let id = pulled_with_media(&app).await;
    let expected = json!({
        "image": {
            "url": format!("{}/blobs/sha256/ab/ab/{}.webp", app.base, "ab".repeat(32)),
            "width": 640, "height": 480, "mime": "image/webp",
        },
        "images": 2,
        "videos": 1,
    });
    let (status, page) = app.get("/api/v1/contents").await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    let of = |id: i64| items.iter().find(|i| i["id"].as_i64() == Some(id)).unwrap();
    assert_eq!(of(id)["preview"], expected);
    assert_eq!(of(id)["title"], "picture post");
    assert_eq!(
        of(plain)["preview"],
        json!({"image": null, "images": 0, "videos": 0})
    );
    let (status, hits) = app.get("/api/v1/search?q=three").await;
    assert_eq!(status, 200, "{hits}");
    assert_eq!(hits["items"][0]["item"]["id"].as_i64(), Some(id));
    assert_eq!(hits["items"][0]["preview"], expected);
    assert!(hits["items"][0]["highlights"]["text"].is_string());
}
