//! Refreshes end to end: the API and a worker against the replay server,
//! whose answers are switched over time — live → edited → 404 → 404
//! (versions recorded, the good copy kept, deleted only after the second,
//! later 404, then back), live → login wall (restricted), live → 5xx →
//! live (unreachable, dead-lettered, then back); the stats series grows; a
//! refresh whose media are already archived uploads nothing new; and a
//! backlog of refreshes never delays new shares.

use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use vaultstream_core::db::entities::{blob, refresh};
use vaultstream_testkit::env::{Stack, TestEnv};
use vaultstream_testkit::replay::{Reply, fixture};

mod support;
use support::{World, fixture_json, photo};

const TWEET: &str = "api.fxtwitter.com/status/1580661436132757506";
const TWEET_LINK: &str = "https://x.com/Twitter/status/1580661436132757506";

fn tweet_with(edit: impl FnOnce(&mut Value)) -> String {
    let mut v = fixture_json("twitter/fxtwitter_status_1580661436132757506.json");
    edit(&mut v["tweet"]);
    v.to_string()
}

impl World {
    /// `POST /api/v1/contents/{id}/refresh` → (status, body).
    async fn ask_refresh(&self, id: i64) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}/api/v1/contents/{id}/refresh", self.base))
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn rounds(&self, id: i64) -> i32 {
        refresh::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .unwrap()
            .map_or(0, |r| r.rounds)
    }

    /// Wait until the item's refresh rounds reach `n`.
    async fn rounds_reach(&self, id: i64, n: i32) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.rounds(id).await < n {
            assert!(
                Instant::now() < deadline,
                "refresh round {n} of {id} not done; upstream hits: {:?}",
                self.replay.targets()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ask for a refresh and wait for it to be stored; returns the item.
    async fn refreshed(&self, id: i64) -> Value {
        let before = self.rounds(id).await;
        let (status, body) = self.ask_refresh(id).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["queued"], true, "{body}");
        self.rounds_reach(id, before + 1).await;
        self.item(id).await
    }

    async fn item(&self, id: i64) -> Value {
        let (status, body) = self.get(&format!("/api/v1/contents/{id}")).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn history(&self, id: i64) -> Value {
        let (status, body) = self.get(&format!("/api/v1/contents/{id}/history")).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_edited_gone_gone_and_back() {
    live_edited_gone_gone_and_back_on(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_edited_gone_gone_and_back_on_postgres_and_redis() {
    live_edited_gone_gone_and_back_on(Stack::PostgresRedis).await;
}

async fn live_edited_gone_gone_and_back_on(stack: Stack) {
    let w = World::start(stack, |env| {
        env.set("REFRESH_CONFIRM_AFTER_MS", "2000");
    })
    .await;
    w.replay.route(
        TWEET,
        Reply::json(fixture("twitter/fxtwitter_status_1580661436132757506.json")),
    );
    let (view, _) = w.pull(TWEET_LINK).await;
    let id = view["id"].as_i64().unwrap();
    assert_eq!(view["upstream_state"], "live");
    assert_eq!(
        view["versions"]["count"], 1,
        "the copy first archived: {view}"
    );
    assert_eq!(view["last_refresh_at"], Value::Null);
    // The reconciler puts the new item on the default policy (1 h first).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let item = w.item(id).await;
        if let Some(due) = item["refresh_due_at"].as_str() {
            let due = chrono::DateTime::parse_from_rfc3339(due).unwrap();
            let pulled =
                chrono::DateTime::parse_from_rfc3339(item["pulled_at"].as_str().unwrap()).unwrap();
            assert_eq!((due - pulled).num_minutes(), 60, "{item}");
            break;
        }
        assert!(Instant::now() < deadline, "not scheduled: {item}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Edited upstream: a new version with a field-level diff; stats grow.
    w.replay.route(
        TWEET,
        Reply::json(tweet_with(|t| {
            t["text"] = json!("a hit Tweet (edited)");
            t["likes"] = json!(50000);
        })),
    );
    let item = w.refreshed(id).await;
    assert_eq!(item["text"], "a hit Tweet (edited)");
    assert_eq!(item["stats"]["likes"], 50000);
    assert_eq!(item["versions"]["count"], 2, "{item}");
    assert_eq!(item["versions"]["latest_change"], json!(["text"]));
    assert!(item["last_refresh_at"].is_string());
    let h = w.history(id).await;
    let versions = h["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{h}");
    assert_eq!(
        versions[0]["snapshot"]["text"], "a hit Tweet",
        "v1 kept: {h}"
    );
    assert_eq!(
        versions[1]["diff"],
        json!([{"field": "text", "change": "changed", "before": "a hit Tweet", "after": "a hit Tweet (edited)"}])
    );
    let stats = h["stats"].as_array().unwrap();
    assert_eq!(stats.len(), 2, "first archive + this refresh: {h}");
    assert_eq!(stats[0]["stats"]["likes"], 43852);
    assert_eq!(stats[1]["stats"]["likes"], 50000);

    // A worse answer (no text) changes nothing: the good copy is kept.
    w.replay
        .route(TWEET, Reply::json(tweet_with(|t| t["text"] = json!(""))));
    let item = w.refreshed(id).await;
    assert_eq!(item["text"], "a hit Tweet (edited)");
    assert_eq!(item["versions"]["count"], 2);
    assert_eq!(
        w.history(id).await["stats"].as_array().unwrap().len(),
        3,
        "the series grows"
    );

    // Gone: the first 404 is only suspected.
    w.replay.route(
        TWEET,
        Reply::status(404, fixture("twitter/fxtwitter_status_not_found.json")),
    );
    let first_404 = chrono::Utc::now();
    let item = w.refreshed(id).await;
    assert_eq!(
        item["upstream_state"], "live",
        "one 404 is not enough: {item}"
    );
    assert_eq!(item["text"], "a hit Tweet (edited)", "the copy is kept");
    let row = refresh::Entity::find_by_id(id)
        .one(&w.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.suspect_state.as_deref(), Some("deleted"));
    // The confirming refetch is scheduled REFRESH_CONFIRM_AFTER_MS later,
    // by itself; when it agrees, the item is deleted since the first 404.
    let rounds = w.rounds(id).await;
    w.rounds_reach(id, rounds + 1).await;
    let item = w.item(id).await;
    assert_eq!(item["upstream_state"], "deleted", "{item}");
    let since =
        chrono::DateTime::parse_from_rfc3339(item["upstream_state_since"].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc);
    assert!(
        (since - first_404).num_seconds().abs() <= 2,
        "since the first 404: {item}"
    );
    assert_eq!(item["upstream_evidence"]["status"], "permanent");
    assert!(item["upstream_evidence"]["first_seen"].is_string());
    assert_eq!(item["text"], "a hit Tweet (edited)", "the copy is kept");
    assert!(w.replay.hits_on(TWEET) >= 5);
    let (status, deleted) = w.get("/api/v1/contents?upstream_state=deleted").await;
    assert_eq!(status, 200);
    assert_eq!(deleted["items"].as_array().unwrap().len(), 1, "{deleted}");
    let (status, live) = w.get("/api/v1/contents?upstream_state=live").await;
    assert_eq!(status, 200);
    assert!(live["items"].as_array().unwrap().is_empty());
    // Search filters by it too (words and `upstream:` together).
    let (status, found) = w.get("/api/v1/search?q=hit%20upstream:deleted").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["items"][0]["item"]["id"], id, "{found}");
    let (_, none) = w.get("/api/v1/search?q=upstream:live").await;
    assert!(none["items"].as_array().unwrap().is_empty(), "{none}");
    let (status, bad) = w.get("/api/v1/search?q=upstream:gone").await;
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["error"]["code"], "invalid_query");

    // Back again: recorded.
    w.replay.route(
        TWEET,
        Reply::json(tweet_with(|t| t["text"] = json!("a hit Tweet (edited)"))),
    );
    let item = w.refreshed(id).await;
    assert_eq!(item["upstream_state"], "live", "{item}");
    let h = w.history(id).await;
    let states: Vec<(&str, &str)> = h["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["previous"].as_str().unwrap(),
                s["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(states, vec![("live", "deleted"), ("deleted", "live")]);
    assert_eq!(h["versions"].as_array().unwrap().len(), 2);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_wall_is_restricted() {
    let w = World::embedded().await;
    let status = "m.weibo.cn/statuses/show?id=4136245053838604";
    w.replay.route(
        status,
        Reply::json(fixture("weibo/statuses_show_4136245053838604.json")),
    );
    let (view, _) = w.pull("https://m.weibo.cn/status/4136245053838604").await;
    let id = view["id"].as_i64().unwrap();
    w.replay.route(
        status,
        Reply::json(r#"{"ok":-100,"url":"https://passport.weibo.cn/signin/welcome"}"#),
    );
    let item = w.refreshed(id).await;
    assert_eq!(item["upstream_state"], "restricted", "at once: {item}");
    assert_eq!(item["upstream_evidence"]["status"], "auth_required");
    assert_eq!(item["text"], view["text"], "the copy is kept");
    assert_eq!(item["title"], view["title"]);
    // No dead letter: a login wall is an answer, not a failure.
    let (_, dl) = w.get("/api/v1/dead-letters?state=open").await;
    assert!(dl["items"].as_array().unwrap().is_empty(), "{dl}");
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_errors_make_it_unreachable_until_it_answers_again() {
    let w = World::embedded().await;
    w.replay.route(
        TWEET,
        Reply::json(fixture("twitter/fxtwitter_status_1580661436132757506.json")),
    );
    let (view, _) = w.pull(TWEET_LINK).await;
    let id = view["id"].as_i64().unwrap();
    w.replay
        .route(TWEET, Reply::status(503, r#"{"message":"busy"}"#))
        .route("cdn.syndication.twimg.com/", Reply::status(503, "busy"));
    let item = w.refreshed(id).await;
    // MAX_ATTEMPTS=2: retried once, then dead-lettered.
    assert_eq!(item["upstream_state"], "unreachable", "{item}");
    assert_eq!(item["text"], view["text"], "the copy is kept");
    let dl = w.dead_letter(id).await;
    assert_eq!(dl["job_kind"], "refresh", "{dl}");
    assert_eq!(dl["attempts"], 2, "{dl}");
    assert_eq!(item["status"], "pulled", "the item itself stays pulled");

    w.replay.route(
        TWEET,
        Reply::json(fixture("twitter/fxtwitter_status_1580661436132757506.json")),
    );
    let item = w.refreshed(id).await;
    assert_eq!(item["upstream_state"], "live", "{item}");
    let h = w.history(id).await;
    let states: Vec<&str> = h["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["unreachable", "live"]);
    assert_eq!(
        h["versions"].as_array().unwrap().len(),
        1,
        "nothing changed"
    );
    w.stop().await;
}

fn with_media(env: &mut TestEnv) {
    env.set("ARCHIVE_MEDIA", "true")
        .set("MEDIA_CONCURRENCY", "2");
}

async fn media_settled(w: &World, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let item = w.item(id).await;
        if item["media_status"] != "pending" {
            return item;
        }
        assert!(Instant::now() < deadline, "media not settled: {item}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refreshing_deduplicated_media_uploads_nothing_new() {
    let w = World::start(vaultstream_testkit::env::Stack::Embedded, with_media).await;
    let jpg = photo("chelsea_small.jpg");
    w.replay
        .route(
            TWEET,
            Reply::json(fixture("twitter/fxtwitter_status_1580661436132757506.json")),
        )
        .route(
            "pbs.twimg.com/media/",
            Reply::bytes("image/jpeg", jpg.clone()),
        );
    let (view, _) = w.pull(TWEET_LINK).await;
    let id = view["id"].as_i64().unwrap();
    let item = media_settled(&w, id).await;
    assert_eq!(item["media_status"], "archived", "{item}");
    let blobs = blob::Entity::find().count(&w.db).await.unwrap();
    let photo_hits = w.replay.hits_on("pbs.twimg.com");

    // The same media: nothing downloaded, nothing stored.
    let item = w.refreshed(id).await;
    assert_eq!(item["media"].as_array().unwrap().len(), 1);
    assert_eq!(w.replay.hits_on("pbs.twimg.com"), photo_hits);
    assert_eq!(blob::Entity::find().count(&w.db).await.unwrap(), blobs);

    // A changed media URL with the same picture: a new file row, archived
    // onto the blob already stored (content addressing: no new blob).
    w.replay.route(
        TWEET,
        Reply::json(tweet_with(|t| {
            t["media"]["photos"][0]["url"] =
                json!("https://pbs.twimg.com/media/Fe-jMcGWQAAFWoG-2.jpg");
        })),
    );
    w.refreshed(id).await;
    let item = media_settled(&w, id).await;
    let media = item["media"].as_array().unwrap();
    assert_eq!(
        media.len(),
        2,
        "the old file is kept, the new one added: {item}"
    );
    assert_eq!(media[0]["blob_key"], media[1]["blob_key"], "{item}");
    assert_eq!(item["media_status"], "archived");
    assert_eq!(
        blob::Entity::find().count(&w.db).await.unwrap(),
        blobs,
        "no new blob"
    );
    assert_eq!(item["versions"]["latest_change"], json!(["media"]));
    w.stop().await;
}

/// A backlog of refreshes (300 items due at once — fewer than the issue's
/// 10,000, to keep the suite quick) while 20 new shares arrive: every new
/// share is pulled promptly, long before the backlog has drained.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_backlog_never_delays_new_shares() {
    refresh_backlog_never_delays_new_shares(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_backlog_never_delays_new_shares_on_postgres_and_redis() {
    refresh_backlog_never_delays_new_shares(Stack::PostgresRedis).await;
}

/// 10,000 refreshes due while 100 new shares arrive at once: the new ones
/// are pulled first (within seconds) while the backlog is still draining.
async fn refresh_backlog_never_delays_new_shares(stack: Stack) {
    const BACKLOG: i64 = 10_000;
    const NEW: i64 = 100;
    let w = World::start(stack, |_| {}).await;
    // Every tweet answers (slowly enough that the backlog takes a while).
    w.replay.route(
        "api.fxtwitter.com/status/",
        Reply::json(fixture("twitter/fxtwitter_status_1580661436132757506.json"))
            .delayed(Duration::from_millis(30)),
    );
    // Written as the worker would have left them: pulled two hours ago,
    // their refresh due.
    let ago = (chrono::Utc::now() - chrono::Duration::hours(2)).format("'%Y-%m-%d %H:%M:%S%:z'");
    for chunk in (1..=BACKLOG).collect::<Vec<_>>().chunks(500) {
        let mut contents = Vec::new();
        let mut refreshes = Vec::new();
        for id in chunk {
            contents.push(format!(
                "({id}, 'twitter', '{id}', 'https://x.com/i/status/{id}', 'post', 'pulled', 'old text', 0, 0, 'live', {ago}, {ago}, {ago})"
            ));
            refreshes.push(format!(
                "({id}, 'waiting', 0, {ago}, 0, 0, 0, {ago}, {ago})"
            ));
        }
        for sql in [
            format!(
                "INSERT INTO contents (id, platform, platform_id, canonical_url, kind, status, text, \
                 failure_count, attempts, upstream_state, pulled_at, created_at, updated_at) VALUES {}",
                contents.join(",")
            ),
            format!(
                "INSERT INTO refreshes (id, status, attempts, next_attempt_at, step, rounds, failure_count, \
                 created_at, updated_at) VALUES {}",
                refreshes.join(",")
            ),
        ] {
            w.db.execute_unprepared(&sql)
                .await
                .expect("seed the backlog");
        }
    }
    if w.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        // Rows written with explicit ids: move the sequence past them.
        w.db.execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('contents', 'id'), (SELECT MAX(id) FROM contents))",
        )
        .await
        .expect("advance the id sequence");
    }
    // Let the reconciler start feeding the backlog.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let world = &w;
    let ids: Vec<i64> = futures::future::join_all((0..NEW).map(|i| async move {
        world
            .submit(&format!("https://x.com/someone/status/{}", 9_000_000 + i))
            .await
    }))
    .await;
    let mut latencies = Vec::new();
    for id in ids {
        let view = w.settle(id).await;
        assert_eq!(view["status"], "pulled", "{view}");
        latencies.push(started.elapsed());
    }
    let refreshed = refresh::Entity::find()
        .filter(refresh::Column::Rounds.gt(0))
        .count(&w.db)
        .await
        .unwrap();
    assert!(
        refreshed < BACKLOG as u64 / 2,
        "the backlog had mostly drained ({refreshed}) before the new shares were all in"
    );
    assert!(refreshed > 0, "the backlog was draining meanwhile");
    let worst = latencies.iter().max().unwrap();
    assert!(
        *worst < Duration::from_secs(20),
        "the last of {NEW} new shares was pulled after {worst:?}"
    );
    eprintln!(
        "{stack:?}: {NEW} new shares all pulled after {worst:?}; refreshes done meanwhile: {refreshed} of {BACKLOG}"
    );
    w.stop().await;
}
