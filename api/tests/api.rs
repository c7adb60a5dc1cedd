//! The REST API end to end: the real router on port 0, a real database
//! (SQLite file and PostgreSQL), real HTTP.

mod support;

use std::collections::HashSet;

use serde_json::{Value, json};
use support::{Backend, TestApp};

both_backends!(
    share_is_created_then_known,
    every_form_of_one_item_is_one_item,
    different_content_never_merges,
    bad_input_gets_a_4xx_with_a_code,
    bad_requests_get_the_envelope,
    list_filters_and_pages,
    fifty_parallel_submissions_make_one_item,
    short_links_are_followed,
    health_reports_the_database,
    a_whole_post_shows_its_parts_in_order,
);

async fn share_is_created_then_known(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (status, body) = app
        .share(json!({"url": "https://www.bilibili.com/video/BV1GJ411x7h7", "tags": ["Music", "#music", "中文"]}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["created"], true);
    assert_eq!(body["platform"], "bilibili");
    assert_eq!(body["platform_id"], "BV1GJ411x7h7");
    assert_eq!(
        body["canonical_url"],
        "https://www.bilibili.com/video/BV1GJ411x7h7"
    );
    assert_eq!(body["status"], "unprocessed");
    let id = body["content_id"].as_i64().expect("content_id");

    // The av form of the same video, in a share text.
    let (status, again) = app
        .share(json!({"url": "【千本樱】 https://m.bilibili.com/video/av80433022?share_source=copy_web 复制链接", "tags": ["vocaloid"]}))
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["created"], false);
    assert_eq!(again["content_id"].as_i64(), Some(id));

    let (status, item) = app.get(&format!("/api/v1/contents/{id}")).await;
    assert_eq!(status, 200, "{item}");
    assert_eq!(item["id"].as_i64(), Some(id));
    assert_eq!(item["kind"], "video");
    assert_eq!(item["failure_count"], 0);
    let tags: HashSet<&str> = item["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(tags, HashSet::from(["music", "中文", "vocaloid"]));
    let sources = item["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 2);
    assert_eq!(sources[0]["channel"], "api");
    assert_eq!(sources[0]["tags"], json!(["music", "中文"]));
    assert!(sources[1]["raw_text"].as_str().unwrap().contains("千本樱"));
    assert_eq!(
        sources[1]["submitted_url"],
        "https://m.bilibili.com/video/av80433022?share_source=copy_web"
    );
    assert!(
        sources[0]["request_id"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
}

async fn every_form_of_one_item_is_one_item(b: Backend) {
    let app = TestApp::spawn(b).await;
    let groups: &[&[&str]] = &[
        &[
            "https://twitter.com/jack/status/20",
            "https://x.com/jack/status/20?s=20&t=abc",
            "https://mobile.twitter.com/jack/status/20/photo/1",
            "看看这个 https://fxtwitter.com/jack/status/20 ！",
            "https://x.com/i/web/status/20#reply",
        ],
        &[
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://youtu.be/dQw4w9WgXcQ?si=xyz",
            "https://m.youtube.com/watch?feature=share&v=dQw4w9WgXcQ&t=42",
            "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        ],
        &[
            "https://weibo.com/1401527553/FfcTLg6AY",
            "https://m.weibo.cn/detail/4136245053838604",
            "https://m.weibo.cn/status/FfcTLg6AY?from=share",
        ],
        &[
            "https://www.zhihu.com/question/19550225/answer/2076341989",
            "https://www.zhihu.com/answer/2076341989",
        ],
        &[
            "https://www.example.com/post?id=7&utm_source=x#top",
            "HTTPS://WWW.EXAMPLE.COM:443/post?utm_medium=y&id=7",
        ],
    ];
    for forms in groups {
        let mut ids = HashSet::new();
        for (i, form) in forms.iter().enumerate() {
            let (status, body) = app.share(json!({"url": form})).await;
            let expected = if i == 0 { 201 } else { 200 };
            assert_eq!(status, expected, "{form}: {body}");
            ids.insert(body["content_id"].as_i64().unwrap());
        }
        assert_eq!(ids.len(), 1, "{forms:?} made {ids:?}");
    }
}

async fn different_content_never_merges(b: Backend) {
    let app = TestApp::spawn(b).await;
    let pairs = [
        (
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://www.youtube.com/watch?v=9bZkp7q19f0",
        ),
        (
            "https://www.example.com/post?id=7",
            "https://www.example.com/post?id=8",
        ),
        (
            "https://www.zhihu.com/question/19550225",
            "https://www.zhihu.com/question/19550225/answer/2076341989",
        ),
        (
            "https://x.com/jack/status/20",
            "https://x.com/jack/status/21",
        ),
    ];
    for (a, c) in pairs {
        let (sa, ba) = app.share(json!({"url": a})).await;
        let (sc, bc) = app.share(json!({"url": c})).await;
        assert_eq!((sa, sc), (201, 201), "{a} / {c}: {ba} {bc}");
        assert_ne!(ba["content_id"], bc["content_id"]);
    }
}

async fn bad_input_gets_a_4xx_with_a_code(b: Backend) {
    let app = TestApp::spawn(b).await;
    let cases: &[(&str, u16, &str)] = &[
        ("", 400, "empty_input"),
        ("   \n\t ", 400, "empty_input"),
        ("just some words, no link at all", 400, "no_link_found"),
        ("ftp://example.com/file.txt", 400, "unsupported_scheme"),
        ("javascript:alert(1)", 400, "unsupported_scheme"),
        ("file:///etc/passwd", 400, "unsupported_scheme"),
        ("http://127.0.0.1/admin", 422, "forbidden_target"),
        ("http://localhost:8080/", 422, "forbidden_target"),
        ("http://2130706433/", 422, "forbidden_target"),
        ("http://0x7f.0.0.1/", 422, "forbidden_target"),
        ("http://[::1]/", 422, "forbidden_target"),
        ("http://[::ffff:127.0.0.1]/", 422, "forbidden_target"),
        ("http://example.com@10.0.0.1/", 422, "forbidden_target"),
        (
            "http://169.254.169.254/latest/meta-data/",
            422,
            "forbidden_target",
        ),
        ("http://192.168.1.1/", 422, "forbidden_target"),
        ("http://[fe80::1]/", 422, "forbidden_target"),
        (
            "http://metadata.google.internal/computeMetadata/v1/",
            422,
            "forbidden_target",
        ),
    ];
    for (text, status, code) in cases {
        let (s, body) = app.share(json!({"url": text})).await;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (*status, Some(*code)),
            "{text:?}: {body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let long = format!("https://example.com/{}", "a".repeat(5000));
    let (s, body) = app.share(json!({"url": long})).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (422, Some("url_too_long")),
        "{body}"
    );

    let (s, body) = app
        .share(json!({"url": "https://example.com/", "tags": ["two words"]}))
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (422, Some("invalid_tag")),
        "{body}"
    );

    // Nothing of the refused input was stored.
    let (_, list) = app.get("/api/v1/contents").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "{list}");
}

async fn bad_requests_get_the_envelope(b: Backend) {
    let app = TestApp::spawn(b).await;
    let post = |body: Vec<u8>, ct: Option<&'static str>| {
        let mut req = app.client.post(app.url("/api/v1/shares")).body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        req.send()
    };
    let json_ct = Some("application/json");
    let cases: Vec<(Vec<u8>, Option<&str>, u16, &str)> = vec![
        (b"{not json".to_vec(), json_ct, 400, "invalid_json"),
        (b"".to_vec(), json_ct, 400, "invalid_json"),
        (vec![0xff, 0xfe, 0x7b], json_ct, 400, "invalid_json"),
        (b"{}".to_vec(), json_ct, 422, "invalid_body"),
        (br#"{"url": 42}"#.to_vec(), json_ct, 422, "invalid_body"),
        (br#"{"url": null}"#.to_vec(), json_ct, 422, "invalid_body"),
        (
            br#"["https://x.com/a/status/1"]"#.to_vec(),
            json_ct,
            422,
            "invalid_body",
        ),
        (
            br#"{"url": "https://x.com/a/status/1", "tags": "x"}"#.to_vec(),
            json_ct,
            422,
            "invalid_body",
        ),
        (
            b"url=https://x.com/a/status/1".to_vec(),
            Some("application/x-www-form-urlencoded"),
            415,
            "unsupported_media_type",
        ),
        (
            format!(r#"{{"url": "{}"}}"#, "a".repeat(100_000)).into_bytes(),
            json_ct,
            413,
            "payload_too_large",
        ),
    ];
    for (body, ct, status, code) in cases {
        let preview = String::from_utf8_lossy(&body[..body.len().min(40)]).to_string();
        let resp = post(body, ct).await.expect("request");
        let s = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{preview}: {v}"
        );
    }
    // JSON without a content type is still accepted (curl -d).
    let resp = post(br#"{"url": "https://x.com/a/status/1"}"#.to_vec(), None)
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);

    for (path, status, code) in [
        ("/api/v1/contents/abc", 400, "invalid_parameter"),
        ("/api/v1/contents/-1", 400, "invalid_parameter"),
        (
            "/api/v1/contents/99999999999999999999",
            400,
            "invalid_parameter",
        ),
        ("/api/v1/contents/424242", 404, "not_found"),
        ("/api/v1/nope", 404, "not_found"),
        ("/api/v1/contents?limit=0", 400, "invalid_parameter"),
        ("/api/v1/contents?limit=100000", 400, "invalid_parameter"),
        ("/api/v1/contents?limit=ten", 400, "invalid_parameter"),
        ("/api/v1/contents?status=done", 400, "invalid_parameter"),
        (
            "/api/v1/contents?platform=myspace",
            400,
            "invalid_parameter",
        ),
        ("/api/v1/contents?cursor=garbage", 400, "invalid_cursor"),
    ] {
        let (s, v) = app.get(path).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {v}"
        );
    }
    let resp = app
        .client
        .delete(app.url("/api/v1/shares"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "method_not_allowed");
}

async fn list_filters_and_pages(b: Backend) {
    let app = TestApp::spawn(b).await;
    let links = [
        ("https://x.com/a/status/101", vec!["news"]),
        ("https://x.com/a/status/102", vec![]),
        (
            "https://www.bilibili.com/video/BV117411r7R1",
            vec!["news", "music"],
        ),
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", vec!["music"]),
        ("https://blog.example.org/100%25-rust?x=1", vec![]),
    ];
    let mut ids = Vec::new();
    for (url, tags) in &links {
        let (s, v) = app.share(json!({"url": url, "tags": tags})).await;
        assert_eq!(s, 201, "{v}");
        ids.push(v["content_id"].as_i64().unwrap());
    }
    // Newest first, two per page, three pages, no repeats.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0..3 {
        let path = match &cursor {
            Some(c) => format!("/api/v1/contents?limit=2&cursor={c}"),
            None => "/api/v1/contents?limit=2".to_owned(),
        };
        let (s, v) = app.get(&path).await;
        assert_eq!(s, 200, "{v}");
        for item in v["items"].as_array().unwrap() {
            seen.push(item["id"].as_i64().unwrap());
        }
        cursor = v["next_cursor"].as_str().map(str::to_owned);
        assert_eq!(cursor.is_some(), page < 2, "page {page}: {v}");
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected);

    let count = |v: &Value| v["items"].as_array().map_or(0, Vec::len);
    let (_, v) = app.get("/api/v1/contents?platform=twitter").await;
    assert_eq!(count(&v), 2, "{v}");
    let (_, v) = app.get("/api/v1/contents?platform=x").await;
    assert_eq!(count(&v), 2, "{v}");
    let (_, v) = app.get("/api/v1/contents?tag=music").await;
    assert_eq!(count(&v), 2, "{v}");
    let (_, v) = app.get("/api/v1/contents?tag=news&platform=bilibili").await;
    assert_eq!(count(&v), 1, "{v}");
    let (_, v) = app.get("/api/v1/contents?status=unprocessed").await;
    assert_eq!(count(&v), 5, "{v}");
    let (_, v) = app.get("/api/v1/contents?status=pulled").await;
    assert_eq!(count(&v), 0, "{v}");
    let (_, v) = app.get("/api/v1/contents?q=BLOG.EXAMPLE").await;
    assert_eq!(count(&v), 1, "{v}");
    // LIKE wildcards in q are literal.
    let (_, v) = app.get("/api/v1/contents?q=%25").await;
    assert_eq!(count(&v), 1, "{v}");
    let (_, v) = app.get("/api/v1/contents?q=_").await;
    assert_eq!(count(&v), 0, "{v}");

    // Kind and author (name or platform id, exactly).
    let (_, v) = app.get("/api/v1/contents?kind=video").await;
    assert_eq!(count(&v), 2, "{v}");
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    use vaultstream_core::db::entities::content;
    let row = content::Entity::find_by_id(ids[0])
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut row: content::ActiveModel = row.into();
    row.author_name = Set(Some("新浪新闻".into()));
    row.author_id = Set(Some("2028810631".into()));
    row.update(&app.db).await.unwrap();
    for by in ["%E6%96%B0%E6%B5%AA%E6%96%B0%E9%97%BB", "2028810631"] {
        let (_, v) = app.get(&format!("/api/v1/contents?author={by}")).await;
        assert_eq!(count(&v), 1, "{by}: {v}");
        assert_eq!(v["items"][0]["id"], ids[0]);
    }
    let (_, v) = app.get("/api/v1/contents?author=%E6%96%B0%E6%B5%AA").await;
    assert_eq!(count(&v), 0, "an author matches exactly: {v}");
    for bad in [
        "/api/v1/contents?kind=reel",
        "/api/v1/contents?kind=VIDEO%00",
    ] {
        let (s, v) = app.get(bad).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("invalid_parameter")),
            "{bad}: {v}"
        );
    }
}

async fn fifty_parallel_submissions_make_one_item(b: Backend) {
    let app = TestApp::spawn(b).await;
    let forms = [
        "https://www.bilibili.com/video/BV1GJ411x7h7",
        "https://m.bilibili.com/video/av80433022",
        "https://www.bilibili.com/video/BV1GJ411x7h7/?spm_id_from=333.999",
        "分享 https://b23.tv/BV1GJ411x7h7 ",
        "https://www.bilibili.com/video/AV80433022",
    ];
    let futures = (0..50).map(|i| {
        let body = json!({"url": forms[i % forms.len()], "tags": [format!("t{}", i % 3)]});
        let app = &app;
        async move { app.share(body).await }
    });
    let results = futures::future::join_all(futures).await;
    let mut created = 0;
    let mut ids = HashSet::new();
    for (status, body) in &results {
        assert!(*status == 200 || *status == 201, "{status}: {body}");
        created += usize::from(body["created"] == true);
        ids.insert(body["content_id"].as_i64().unwrap());
    }
    assert_eq!(created, 1, "exactly one submission creates the item");
    assert_eq!(ids.len(), 1);
    let id = *ids.iter().next().unwrap();
    let (_, item) = app.get(&format!("/api/v1/contents/{id}")).await;
    assert_eq!(item["sources"].as_array().map(Vec::len), Some(50));
    assert_eq!(
        item["tags"].as_array().map(Vec::len),
        Some(3),
        "{}",
        item["tags"]
    );
    let (items, sources) = vaultstream_core::db::contents::counts(&app.db)
        .await
        .unwrap();
    assert_eq!((items, sources), (1, 50));
}

/// A local stand-in for b23.tv / v.douyin.com: the app follows its
/// redirects (through VAULTSTREAM_UPSTREAM_OVERRIDES) to the content id.
async fn short_links_are_followed(b: Backend) {
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::routing::get;
    async fn redirect(target: &'static str) -> (StatusCode, HeaderMap) {
        let mut h = HeaderMap::new();
        h.insert(header::LOCATION, target.parse().unwrap());
        (StatusCode::FOUND, h)
    }
    let shortener = axum::Router::new()
        .route("/xvqNvQ", get(|| redirect("https://www.bilibili.com/video/BV1GJ411x7h7?share_source=copy_web&vd_source=abc")))
        .route("/iRNBho6u/", get(|| redirect("https://www.iesdouyin.com/share/video/7535852404919586100/?region=CN&from=web_code_link")))
        .route("/dead", get(|| async { StatusCode::NOT_FOUND }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, shortener).await });

    let overrides = format!("b23.tv={base},v.douyin.com={base}");
    let app = TestApp::spawn_with(b, &[("UPSTREAM_OVERRIDES", overrides)]).await;
    let (s, v) = app
        .share(json!({"url": "【标题】 https://b23.tv/xvqNvQ 复制打开"}))
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["platform"].as_str(), v["platform_id"].as_str()),
        (Some("bilibili"), Some("BV1GJ411x7h7"))
    );
    let (s, again) = app
        .share(json!({"url": "https://www.bilibili.com/video/av80433022"}))
        .await;
    assert_eq!((s, &again["content_id"]), (200, &v["content_id"]));

    let (s, v) = app
        .share(json!({"url": "7.94 复制打开抖音，看看【作品】 https://v.douyin.com/iRNBho6u/ 3@5.com :9pm"}))
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["platform"].as_str(), v["platform_id"].as_str()),
        (Some("douyin"), Some("7535852404919586100"))
    );
    let (_, item) = app
        .get(&format!("/api/v1/contents/{}", v["content_id"]))
        .await;
    let src = &item["sources"][0];
    assert_eq!(src["submitted_url"], "https://v.douyin.com/iRNBho6u/");
    assert!(
        src["resolved_url"]
            .as_str()
            .unwrap()
            .contains("iesdouyin.com/share/video/7535852404919586100")
    );

    let (s, v) = app.share(json!({"url": "https://b23.tv/dead"})).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("short_link_unresolved")),
        "{v}"
    );
}

/// A stored thread as `GET /contents/{id}` shows it: its kind, parts in
/// order (the shared one marked), each with its own media; every media
/// file with its part; fields; the stored title null and a display title.
async fn a_whole_post_shows_its_parts_in_order(b: Backend) {
    use std::collections::BTreeMap;
    use vaultstream_core::ContentKind;
    use vaultstream_core::db::items;
    use vaultstream_core::parsed::{MediaRef, MediaRole, ParsedAuthor, ParsedItem, ParsedPart};

    let app = TestApp::spawn(b).await;
    let (_, r) = app
        .share(json!({"url": "https://x.com/jack/status/21"}))
        .await;
    let id = r["content_id"].as_i64().unwrap();
    let image = |url: &str, part: Option<u32>| MediaRef {
        role: MediaRole::Image,
        url: url.into(),
        width: None,
        height: None,
        duration_secs: None,
        mime: None,
        headers: BTreeMap::new(),
        part,
    };
    let part = |id: &str, text: &str, shared: bool| ParsedPart {
        id: Some(id.into()),
        text: Some(text.into()),
        url: Some(format!("https://x.com/jack/status/{id}")),
        shared,
        ..Default::default()
    };
    let parsed = ParsedItem {
        kind: Some(ContentKind::Thread),
        text: Some("one\n\ntwo\n\nthree".into()),
        author: Some(ParsedAuthor {
            name: Some("jack".into()),
            id: Some("12".into()),
            url: Some("https://x.com/jack".into()),
            avatar_url: None,
        }),
        parts: vec![
            part("20", "one", false),
            part("21", "two <b>", true),
            part("22", "three", false),
        ],
        media: vec![
            image("https://pbs.twimg.com/media/a.jpg", Some(0)),
            image("https://pbs.twimg.com/media/b.jpg", Some(2)),
            image("https://pbs.twimg.com/media/c.jpg", Some(2)),
        ],
        fields: BTreeMap::from([(
            "thread".to_owned(),
            json!({"source": "fxtwitter_thread", "complete": true}),
        )]),
        ..Default::default()
    };
    let claim = items::claim(&app.db, id, std::time::Duration::from_secs(30))
        .await
        .unwrap()
        .expect("claimable");
    assert!(
        items::complete(&app.db, &claim, &parsed, false)
            .await
            .unwrap()
    );

    let (s, v) = app.get(&format!("/api/v1/contents/{id}")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["kind"], "thread");
    assert_eq!(v["title"], Value::Null, "never invented");
    assert_eq!(v["display_title"], "Thread by @jack");
    assert_eq!(v["fields"]["thread"]["complete"], true);
    let parts = v["parts"].as_array().expect("parts");
    let summary: Vec<(u64, &str, &str, bool, usize)> = parts
        .iter()
        .map(|p| {
            (
                p["index"].as_u64().unwrap(),
                p["id"].as_str().unwrap(),
                p["text"].as_str().unwrap(),
                p["shared"].as_bool().unwrap(),
                p["media"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (0, "20", "one", false, 1),
            (1, "21", "two <b>", true, 0),
            (2, "22", "three", false, 2)
        ]
    );
    assert_eq!(
        parts[2]["media"][1]["original_url"],
        "https://pbs.twimg.com/media/c.jpg"
    );
    assert_eq!(parts[0]["url"], "https://x.com/jack/status/20");
    assert!(parts[0].get("html").is_none(), "no rich text: no html");
    let media_parts: Vec<&Value> = v["media"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["part"])
        .collect();
    assert_eq!(media_parts, [&json!(0), &json!(2), &json!(2)]);

    // Lists name it too, without the detail's parts.
    let (_, list) = app.get("/api/v1/contents").await;
    let row = &list["items"][0];
    assert_eq!(row["display_title"], "Thread by @jack");
    assert!(row.get("parts").is_none(), "{row}");

    // A single-part item has neither parts nor fields.
    let (_, r) = app
        .share(json!({"url": "https://www.zhihu.com/pin/1097830077735231488"}))
        .await;
    let (_, v) = app
        .get(&format!("/api/v1/contents/{}", r["content_id"]))
        .await;
    assert!(v.get("parts").is_none() && v.get("fields").is_none(), "{v}");
    assert_eq!(v["display_title"], "Zhihu post");
}

async fn health_reports_the_database(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (s, v) = app.get("/api/v1/health").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "ok");
    assert_eq!(v["checks"]["database"]["status"], "ok");
    let backend = match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(v["checks"]["database"]["backend"], backend);
}

mod operator {
    use std::time::Duration;

    use serde_json::json;
    use vaultstream_core::db::items;
    use vaultstream_core::parsed::FetchError;

    use super::support::{Backend, TestApp};

    /// Fail an item for good the way a worker does (claim, then dead-letter).
    async fn dead_letter(app: &TestApp, content_id: i64, err: FetchError) {
        let claim = items::claim(&app.db, content_id, Duration::from_secs(30))
            .await
            .unwrap()
            .expect("claimable");
        assert!(
            items::fail_dead(&app.db, &claim, &err, json!({"content_id": content_id}))
                .await
                .unwrap()
        );
    }

    async fn dead_letters_and_retries(b: Backend) {
        let app = TestApp::spawn(b).await;
        let (_, a) = app.share(json!({"url": "https://x.com/a/status/1"})).await;
        let (_, c) = app
            .share(json!({"url": "https://www.bilibili.com/video/BV117411r7R1"}))
            .await;
        let (_, d) = app.share(json!({"url": "https://x.com/a/status/3"})).await;
        let (a, c, d) = (
            a["content_id"].as_i64().unwrap(),
            c["content_id"].as_i64().unwrap(),
            d["content_id"].as_i64().unwrap(),
        );

        // A fresh, queued item is not "stale": retrying it is a conflict.
        let resp = app
            .client
            .post(app.url(&format!("/api/v1/contents/{a}/retry")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 409);
        let resp = app
            .client
            .post(app.url("/api/v1/contents/999999/retry"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 404);

        dead_letter(
            &app,
            a,
            FetchError::permanent("gone").with_detail("HTTP 404"),
        )
        .await;
        dead_letter(&app, c, FetchError::retryable("upstream 500")).await;
        dead_letter(&app, d, FetchError::auth_required("login wall")).await;

        let (s, v) = app.get("/api/v1/dead-letters").await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["items"].as_array().unwrap().len(), 3);
        let (_, v) = app.get("/api/v1/dead-letters?platform=twitter").await;
        assert_eq!(v["items"].as_array().unwrap().len(), 2);
        let (_, v) = app.get("/api/v1/dead-letters?error_type=permanent").await;
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["content_id"].as_i64(), Some(a));
        assert_eq!(items[0]["error_detail"], "HTTP 404");
        assert_eq!(items[0]["payload"]["content_id"].as_i64(), Some(a));
        for (path, code) in [
            ("/api/v1/dead-letters?error_type=oops", "invalid_parameter"),
            ("/api/v1/dead-letters?state=maybe", "invalid_parameter"),
            ("/api/v1/dead-letters?platform=myspace", "invalid_parameter"),
            ("/api/v1/dead-letters?limit=0", "invalid_parameter"),
        ] {
            let (s, v) = app.get(path).await;
            assert_eq!(
                (s, v["error"]["code"].as_str()),
                (400, Some(code)),
                "{path}"
            );
        }

        // Retry one: 202 at once, the item starts a fresh round, history kept.
        let dl = items[0]["id"].as_i64().unwrap();
        let resp = app
            .client
            .post(app.url(&format!("/api/v1/dead-letters/{dl}/retry")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 202);
        let (_, item) = app.get(&format!("/api/v1/contents/{a}")).await;
        assert_eq!(item["status"], "unprocessed");
        assert_eq!(item["failure_count"], 1);
        assert_eq!(item["last_error_type"], "permanent");
        let resp = app
            .client
            .post(app.url(&format!("/api/v1/dead-letters/{dl}/retry")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 404, "a dead letter is retried once");
        let (_, v) = app.get("/api/v1/dead-letters?state=retried").await;
        assert_eq!(v["items"].as_array().unwrap().len(), 1);

        // Retry a failed item directly.
        let resp = app
            .client
            .post(app.url(&format!("/api/v1/contents/{d}/retry")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 202);
        let (_, item) = app.get(&format!("/api/v1/contents/{d}")).await;
        assert_eq!(item["status"], "unprocessed");

        // Bulk retry by filter: what is left open.
        let resp = app
            .client
            .post(app.url("/api/v1/dead-letters/retry?platform=bilibili"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 202);
        let v: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(v["retried"], 1);
        assert_eq!(v["content_ids"], json!([c]));
        let (_, v) = app.get("/api/v1/dead-letters").await;
        assert_eq!(v["items"].as_array().unwrap().len(), 0, "{v}");
    }

    crate::both_backends!(dead_letters_and_retries);
}

/// `GET /blobs/sha256/...` on local disk: the bytes, ETag, 304, ranges,
/// 416, HEAD, and 404 for absent or malformed keys.
#[tokio::test]
async fn blob_route_serves_local_blobs() {
    use vaultstream_core::blob::{BlobKey, BlobStore, local::LocalStore};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let store = LocalStore::new(&app.data_dir()).expect("store");
    let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    let key = BlobKey::new(&sha, "webp").unwrap();
    store
        .put_bytes(&key, bytes.clone().into(), "image/webp")
        .await
        .expect("put");
    let url = format!("{}/{}", app.base, key.as_str());
    let c = &app.client;

    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "image/webp");
    assert_eq!(h["etag"], format!("\"{sha}\"").as_str());
    assert_eq!(h["accept-ranges"], "bytes");
    assert!(h["cache-control"].to_str().unwrap().contains("immutable"));
    assert_eq!(r.bytes().await.unwrap().to_vec(), bytes);

    let r = c
        .get(&url)
        .header("if-none-match", format!("\"{sha}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 304);

    let r = c
        .get(&url)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 10-19/10000");
    assert_eq!(r.bytes().await.unwrap().to_vec(), bytes[10..20]);

    let r = c
        .get(&url)
        .header("range", "bytes=9990-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 206);
    assert_eq!(r.bytes().await.unwrap().to_vec(), bytes[9990..]);

    let r = c
        .get(&url)
        .header("range", "bytes=20000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 416);
    assert_eq!(r.headers()["content-range"], "bytes */10000");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "range_not_satisfiable");

    let r = c.head(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-length"], "10000");

    let absent = BlobKey::new(&"0".repeat(64), "webp").unwrap();
    for path in [
        format!("/{}", absent.as_str()),
        "/blobs/sha256/ab/cd/not-a-hash.webp".to_owned(),
        format!("/blobs/sha256/00/00/{sha}.webp"),
        "/blobs/sha256/../../vaultstream.db".to_owned(),
        "/blobs/sha256/%2e%2e/%2e%2e/vaultstream.db".to_owned(),
    ] {
        let r = c.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 404, "{path}");
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
}
