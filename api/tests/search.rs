//! `GET /api/v1/search` over real HTTP, on SQLite and PostgreSQL: items
//! shared over the API, stored as the worker stores them, then found by
//! words (Chinese and English), ranked, highlighted and paged; bad queries
//! and foreign cursors are 400s with their codes, never 500s.

mod support;

use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};
use support::{Backend, TestApp};
use vaultstream_core::content::Status;
use vaultstream_core::db::entities::content;
use vaultstream_core::db::search;

both_backends!(search_over_http);

/// Share `url`, then store it pulled with this text (what the parse job
/// does) and index it.
async fn pulled(app: &TestApp, url: &str, title: &str, text: &str, tags: &[&str]) -> i64 {
    let (status, body) = app.share(json!({"url": url, "tags": tags})).await;
    assert_eq!(status, 201, "{body}");
    let id = body["content_id"].as_i64().unwrap();
    let row = content::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut am: content::ActiveModel = row.into();
    am.status = Set(Status::Pulled);
    am.title = Set(Some(title.to_owned()));
    am.text = Set(Some(text.to_owned()));
    am.author_name = Set(Some("作者".to_owned()));
    am.update(&app.db).await.unwrap();
    search::index_items(&app.db, &[id]).await.unwrap();
    id
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {page}"))
        .iter()
        .map(|h| h["item"]["id"].as_i64().unwrap())
        .collect()
}

fn q(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn search_over_http(b: Backend) {
    let app = TestApp::spawn(b).await;
    let subway = pulled(
        &app,
        "https://weibo.com/1234567890/4900000000000001",
        "",
        "今天早上地铁因为信号故障停运了很久",
        &["通勤"],
    )
    .await;
    let cats = pulled(
        &app,
        "https://x.com/jack/status/20",
        "Cats of <Lisbon>",
        "The street cats we met.\nThe cats were friendly.",
        &["cats"],
    )
    .await;
    let both = pulled(
        &app,
        "https://x.com/jack/status/21",
        "地铁 cats",
        "cats on the 地铁, cats everywhere",
        &[],
    )
    .await;

    // A two-character Chinese word inside a sentence.
    let (status, page) = app.get(&format!("/api/v1/search?q={}", q("故障"))).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(&page), vec![subway]);
    let hit = &page["items"][0];
    assert!(hit["matched"].as_array().unwrap().contains(&json!("text")));
    let snippet = hit["highlights"]["text"].as_str().unwrap();
    assert!(snippet.contains("<mark>故障</mark>"), "{snippet}");
    assert_eq!(page["next_cursor"], Value::Null);

    // English, plural and singular; the title is HTML-escaped in snippets.
    let (status, page) = app
        .get(&format!("/api/v1/search?q={}", q("cat lisbon")))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(&page), vec![cats]);
    let title = page["items"][0]["highlights"]["title"].as_str().unwrap();
    assert!(title.contains("&lt;"), "{title}");
    assert!(!title.contains("<Lisbon>"), "{title}");

    // Filters and exclusions.
    let (_, page) = app
        .get(&format!(
            "/api/v1/search?q={}",
            q("cats platform:twitter -地铁")
        ))
        .await;
    assert_eq!(ids(&page), vec![cats]);
    let (_, page) = app
        .get(&format!("/api/v1/search?q={}", q("tag:通勤")))
        .await;
    assert_eq!(ids(&page), vec![subway]);

    // Paging: one hit per page, the cursor walks every hit exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let path = match &cursor {
            None => format!("/api/v1/search?q={}&limit=1", q("cats")),
            Some(c) => format!("/api/v1/search?q={}&limit=1&cursor={c}", q("cats")),
        };
        let (status, page) = app.get(&path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    seen.sort_unstable();
    let mut want = vec![cats, both];
    want.sort_unstable();
    assert_eq!(seen, want);

    // A cursor of one query is refused by another.
    let (_, first) = app
        .get(&format!("/api/v1/search?q={}&limit=1", q("cats")))
        .await;
    let c = first["next_cursor"].as_str().expect("a second page");
    let (status, err) = app
        .get(&format!("/api/v1/search?q={}&cursor={c}", q("dogs")))
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("invalid_cursor")),
        "{err}"
    );

    // Bad input: 400 with a code, never a 500.
    for (path, code) in [
        ("/api/v1/search".to_owned(), "invalid_parameter"),
        (
            format!("/api/v1/search?q={}", q("\"unclosed")),
            "invalid_query",
        ),
        (
            format!("/api/v1/search?q={}", q("platform:myspace")),
            "invalid_query",
        ),
        (format!("/api/v1/search?q={}", q("-only")), "invalid_query"),
        (
            format!("/api/v1/search?q={}", q("before:yesterday")),
            "invalid_query",
        ),
        ("/api/v1/search?q=".to_owned(), "invalid_parameter"),
        (
            format!("/api/v1/search?q={}", "x".repeat(1001)),
            "invalid_query",
        ),
        (
            "/api/v1/search?q=cats&limit=0".to_owned(),
            "invalid_parameter",
        ),
        (
            "/api/v1/search?q=cats&limit=101".to_owned(),
            "invalid_parameter",
        ),
        (
            "/api/v1/search?q=cats&cursor=zzz".to_owned(),
            "invalid_cursor",
        ),
        ("/api/v1/search?q=a%00b".to_owned(), "invalid_parameter"),
    ] {
        let (status, body) = app.get(&path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
    }
    // Where the syntax broke is in the message.
    let (_, body) = app
        .get(&format!("/api/v1/search?q={}", q("cats platform:myspace")))
        .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("column"),
        "{body}"
    );
}
