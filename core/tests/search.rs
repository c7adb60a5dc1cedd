//! Search finds what a person expects, on SQLite and PostgreSQL alike:
//! Chinese (a two-character word inside a long sentence, traditional vs
//! simplified), English (plurals), mixed text, phrases across line breaks,
//! exclusions, OR, filters; bad queries are `invalid_query` errors, and
//! snippets never carry item text as HTML.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait,
};
use vaultstream_core::content::Channel;
use vaultstream_core::db::contents::{self, NewSource};
use vaultstream_core::db::entities::content;
use vaultstream_core::db::search;
use vaultstream_core::{ContentKind, ErrorCode, Identity, Platform};
use vaultstream_testkit::env::{Stack, TestEnv};

struct Item {
    platform: Platform,
    id: &'static str,
    title: &'static str,
    text: &'static str,
    author: &'static str,
    tags: &'static [&'static str],
    published: &'static str,
}

const ITEMS: &[Item] = &[
    Item {
        platform: Platform::Weibo,
        id: "1",
        title: "",
        text: "今天早上我在上班的路上发现地铁因为信号故障停运了很久大家都很着急",
        author: "通勤的人",
        tags: &["通勤"],
        published: "2026-03-01T08:00:00Z",
    },
    Item {
        platform: Platform::Twitter,
        id: "2",
        title: "Cats of the city",
        text: "A thread about the street cats we met in Lisbon.\nThe cats were friendly.",
        author: "jack",
        tags: &["cats"],
        published: "2025-11-20T10:00:00Z",
    },
    Item {
        platform: Platform::Web,
        id: "https://example.com/tw",
        title: "臺灣的資料庫設計",
        text: "這篇文章介紹資料庫索引與查詢",
        author: "編者",
        tags: &[],
        published: "2026-01-05T00:00:00Z",
    },
    Item {
        platform: Platform::Bilibili,
        id: "BV1",
        title: "Rust 入门教程",
        text: "用 Rust 写一个命令行工具, exact phrase\nacross a line break",
        author: "up主",
        tags: &["rust", "教程"],
        published: "2026-02-10T00:00:00Z",
    },
    Item {
        platform: Platform::Twitter,
        id: "5",
        title: "<script>alert(1)</script> dogs",
        text: "Dogs & cats <b>together</b>",
        author: "mallory",
        tags: &[],
        published: "2026-04-01T00:00:00Z",
    },
];

async fn seed(db: &DatabaseConnection) -> Vec<i64> {
    let mut ids = Vec::new();
    for it in ITEMS {
        let identity = Identity {
            platform: it.platform,
            platform_id: it.id.to_owned(),
            canonical_url: format!("https://example.com/{}", it.id),
            kind: ContentKind::Post,
        };
        let source = NewSource {
            raw_text: identity.canonical_url.clone(),
            submitted_url: identity.canonical_url.clone(),
            resolved_url: None,
            channel: Channel::Api,
            tags: it.tags.iter().map(|t| (*t).to_owned()).collect(),
            note: (it.id == "2").then(|| "saved for the cat book".to_owned()),
            submitted_by: None,
            request_id: None,
        };
        let id = contents::submit(db, &identity, source)
            .await
            .unwrap()
            .content
            .id;
        let row = content::Entity::find_by_id(id)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        let mut am: content::ActiveModel = row.into();
        am.status = Set(vaultstream_core::content::Status::Pulled);
        am.title = Set((!it.title.is_empty()).then(|| it.title.to_owned()));
        am.text = Set(Some(it.text.to_owned()));
        am.author_name = Set(Some(it.author.to_owned()));
        am.published_at = Set(Some(it.published.parse().unwrap()));
        am.update(db).await.unwrap();
        ids.push(id);
    }
    search::index_items(db, &ids).await.unwrap();
    ids
}

async fn find(db: &DatabaseConnection, ids: &[i64], q: &str) -> Vec<usize> {
    let parsed = search::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    let hits = search::search(db, &parsed, 50, 0).await.unwrap();
    let mut found: Vec<usize> = hits
        .hits
        .iter()
        .map(|h| ids.iter().position(|id| *id == h.item.id).expect("seeded"))
        .collect();
    found.sort_unstable();
    found
}

async fn check(stack: Stack) {
    let env = TestEnv::new(stack).await;
    let db = vaultstream_core::db::connect_migrated(&env.settings())
        .await
        .unwrap();
    let ids = seed(&db).await;
    let cases: &[(&str, &[usize])] = &[
        // A two-character word inside a long sentence.
        ("地铁", &[0]),
        ("故障", &[0]),
        // Traditional and simplified find each other (character by
        // character: 資料庫 is 资料库, not the mainland word 数据库).
        ("资料库", &[2]),
        ("臺灣", &[2]),
        ("台湾 资料", &[2]),
        // English plurals and case.
        ("cat", &[1, 4]),
        ("CATS lisbon", &[1]),
        // Mixed.
        ("rust 教程", &[3]),
        // Phrases, across a line break too.
        ("\"exact phrase across a line\"", &[3]),
        ("\"friendly cats\"", &[]),
        ("\"The cats were friendly\"", &[1]),
        // Exclusion and OR.
        ("cats -dogs", &[1]),
        ("lisbon OR 地铁", &[0, 1]),
        // Filters, with and without words.
        ("platform:twitter", &[1, 4]),
        ("cats platform:twitter -tag:cats", &[4]),
        ("tag:rust", &[3]),
        ("author:jack", &[1]),
        ("before:2026-01-01", &[1]),
        ("after:2026-03 platform:twitter", &[4]),
        // Notes and hashtags.
        ("book", &[1]),
        ("#通勤", &[0]),
        // Nothing.
        ("zebra", &[]),
    ];
    for (q, want) in cases {
        assert_eq!(&find(&db, &ids, q).await, want, "{stack:?}: {q}");
    }

    // Snippets: matches marked, item text escaped.
    let hits = search::search(&db, &search::parse("dogs").unwrap(), 10, 0)
        .await
        .unwrap();
    let hit = &hits.hits[0];
    let title = &hit.highlights["title"];
    assert!(title.contains("&lt;script&gt;"), "{title}");
    assert!(title.contains("<mark>dogs</mark>"), "{title}");
    assert!(!title.contains("<script>"), "{title}");
    assert!(
        hit.matched.contains(&"text".to_owned()),
        "{:?}",
        hit.matched
    );
    let hits = search::search(&db, &search::parse("地铁").unwrap(), 10, 0)
        .await
        .unwrap();
    assert!(hits.hits[0].highlights["text"].contains("<mark>地铁</mark>"));

    // Paging.
    let q = search::parse("platform:twitter").unwrap();
    let first = search::search(&db, &q, 1, 0).await.unwrap();
    assert_eq!(first.hits.len(), 1);
    assert_eq!(first.next_offset, Some(1));
    let second = search::search(&db, &q, 1, 1).await.unwrap();
    assert_ne!(first.hits[0].item.id, second.hits[0].item.id);
    assert_eq!(second.next_offset, None);

    // Bad queries are 400s that say where.
    for bad in [
        "\"open",
        "platform:myspace",
        "kind:blog",
        "a OR",
        "before:soon",
        "",
    ] {
        let e = search::parse(bad).expect_err(bad);
        assert_eq!(e.code, ErrorCode::InvalidQuery, "{bad}");
        assert!(e.message.contains("column"), "{bad}: {}", e.message);
    }

    // Reindexing everything gives the same answers.
    let mut calls = 0;
    let n = search::reindex(&db, 2, |_, _| calls += 1).await.unwrap();
    assert_eq!(n, ITEMS.len() as u64);
    assert_eq!(calls, 3);
    assert_eq!(find(&db, &ids, "地铁").await, vec![0]);
}

/// A word in more items than are ranked: the page is the best of its
/// newest [`search::RANK_CANDIDATES`] matches, every match is still reached
/// by paging (a deeper page ranks more), and a rarer word is ranked over
/// all its matches.
async fn common_words_rank_among_the_newest(stack: Stack) {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, QueryFilter};
    use vaultstream_core::db::batch::{Submission, submit_batch};
    let env = TestEnv::new(stack).await;
    let db = vaultstream_core::db::connect_migrated(&env.settings())
        .await
        .unwrap();
    // Every fifth item says the common word: 1,020 matches spread over
    // 5,100 items, so PostgreSQL's first window of ids (the newest 4,000)
    // holds only 800 of them and the next window must be read too.
    let total = 5 * search::RANK_CANDIDATES as usize + 100;
    let subs: Vec<Submission> = (0..total)
        .map(|n| {
            let url = format!("https://x.com/i/status/{}", 1000 + n);
            Submission {
                identity: Identity {
                    platform: Platform::Twitter,
                    platform_id: (1000 + n).to_string(),
                    canonical_url: url.clone(),
                    kind: ContentKind::Post,
                },
                source: NewSource {
                    raw_text: url.clone(),
                    submitted_url: url,
                    resolved_url: None,
                    channel: Channel::Api,
                    tags: Vec::new(),
                    note: None,
                    submitted_by: None,
                    request_id: None,
                },
                saved_at: None,
            }
        })
        .collect();
    let mut ids = Vec::new();
    for chunk in subs.chunks(500) {
        for s in submit_batch(&db, chunk).await.unwrap() {
            ids.push(s.content.id);
        }
    }
    content::Entity::update_many()
        .col_expr(content::Column::Status, Expr::value("pulled"))
        .col_expr(content::Column::Text, Expr::value("a plain item"))
        .exec(&db)
        .await
        .unwrap();
    let matching: Vec<i64> = ids.iter().copied().step_by(5).collect();
    for chunk in matching.chunks(500) {
        content::Entity::update_many()
            .col_expr(
                content::Column::Text,
                Expr::value("a common word among many"),
            )
            .filter(content::Column::Id.is_in(chunk.iter().copied()))
            .exec(&db)
            .await
            .unwrap();
    }
    // The oldest item says it most often, and alone has a rarer word.
    content::Entity::update_many()
        .col_expr(
            content::Column::Text,
            Expr::value("common common common common common uncommon"),
        )
        .filter(content::Column::Id.eq(ids[0]))
        .exec(&db)
        .await
        .unwrap();
    if stack == Stack::Postgres {
        // No statistics until this test asks for them (autovacuum would
        // analyze the table at a moment of its choosing).
        db.execute_unprepared("ALTER TABLE search_docs SET (autovacuum_enabled = false)")
            .await
            .unwrap();
    }
    search::index_items(&db, &ids).await.unwrap();
    pages_of_common_words(&db, &ids, &matching).await;
    if stack == Stack::Postgres {
        // Without statistics PostgreSQL starts with the newest 4,000 ids
        // (then a second window); with them, "uncommon" (one item) is read
        // in one statement over every id, and "common" (a fifth of the
        // items) in a window sized to hold its candidates. The answers are
        // the same.
        let uncommon = search::parse("uncommon").unwrap();
        let first = search::pg_first_window(&db, &uncommon, 20, 0)
            .await
            .unwrap();
        let sql = first.unwrap().sql;
        assert!(sql.contains("d.content_id >"), "{sql}");
        db.execute_unprepared("ANALYZE search_docs").await.unwrap();
        let first = search::pg_first_window(&db, &uncommon, 20, 0)
            .await
            .unwrap();
        let sql = first.unwrap().sql;
        assert!(!sql.contains("d.content_id >"), "{sql}");
        pages_of_common_words(&db, &ids, &matching).await;
    }
}

/// The pages of [`common_words_rank_among_the_newest`]'s archive.
async fn pages_of_common_words(db: &DatabaseConnection, ids: &[i64], matching: &[i64]) {
    let common = search::parse("common").unwrap();
    let first = search::search(db, &common, 20, 0).await.unwrap();
    assert_eq!(first.hits.len(), 20);
    let oldest_ranked = matching[matching.len() - search::RANK_CANDIDATES as usize];
    assert!(
        first.hits.iter().all(|h| h.item.id >= oldest_ranked),
        "a first page comes from the newest matches"
    );
    // Every match is reached by paging, once.
    let mut seen = std::collections::HashSet::new();
    let mut offset = Some(0);
    while let Some(o) = offset {
        let page = search::search(db, &common, 100, o).await.unwrap();
        for h in &page.hits {
            assert!(seen.insert(h.item.id), "{} twice", h.item.id);
        }
        offset = page.next_offset;
    }
    assert_eq!(seen.len(), matching.len());
    assert!(matching.iter().all(|id| seen.contains(id)));
    // A rarer word is ranked over all its matches, however old.
    let only = search::parse("uncommon").unwrap();
    let hits = search::search(db, &only, 5, 0).await.unwrap();
    assert_eq!(
        hits.hits.iter().map(|h| h.item.id).collect::<Vec<_>>(),
        vec![ids[0]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranking_is_bounded_on_sqlite() {
    common_words_rank_among_the_newest(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranking_is_bounded_on_postgres() {
    common_words_rank_among_the_newest(Stack::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_on_sqlite() {
    check(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_on_postgres() {
    check(Stack::Postgres).await;
}
