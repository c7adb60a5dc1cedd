//! Twitter/X through FxTwitter's v2 API: self-threads (listed by FxTwitter
//! or walked up the reply chain), polls, cards, community notes, and which
//! fallback each v2 failure leads to.

use serde_json::{Value, json};
use vaultstream_adapters::fetch::FetchRequest;
use vaultstream_core::parsed::{ErrorClass, MediaRole};
use vaultstream_core::{ContentKind, Platform};

use crate::fetch_err;
use crate::support::{Replay, ReplayExt, Reply, fixture, request};

const HOSTS: &[&str] = &["api.fxtwitter.com", "cdn.syndication.twimg.com"];
/// VERBATIM live capture of `/2/thread/2072439205213421694`: a 5-post
/// self-thread by @XCreators (video on post 1, a link card on post 5).
const THREAD: &str = "twitter/fxtwitter_v2_thread_2072439205213421694.json";
const IDS: [&str; 5] = [
    "2072439205213421694",
    "2072439207402820041",
    "2072439209437380841",
    "2072439211395825978",
    "2072439213178392714",
];

fn req(id: &str) -> FetchRequest {
    request(Platform::Twitter, id, ContentKind::Post)
}

fn thread_body() -> Value {
    serde_json::from_str(&fixture(THREAD)).expect("thread fixture")
}

/// A `/2/status/{id}` answer for one post of the recorded thread: the v2
/// envelope of the capture around that post's own (verbatim) status object.
fn status_answer(post: usize) -> String {
    let body = thread_body();
    json!({"code": 200, "status": body["thread"][post], "thread": null, "author": body["author"]})
        .to_string()
}

#[tokio::test]
async fn listed_thread_becomes_one_item_with_parts() {
    let server = Replay::start(HOSTS).await;
    server.route(
        &format!("api.fxtwitter.com/2/thread/{}", IDS[0]),
        Reply::json(fixture(THREAD)),
    );
    let item = server.fetcher().fetch(&req(IDS[0])).await.expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Thread));
    let ids: Vec<&str> = item.parts.iter().filter_map(|p| p.id.as_deref()).collect();
    assert_eq!(ids, IDS);
    let shared: Vec<bool> = item.parts.iter().map(|p| p.shared).collect();
    assert_eq!(shared, vec![true, false, false, false, false]);
    let body = thread_body();
    for (i, part) in item.parts.iter().enumerate() {
        let post = &body["thread"][i];
        assert_eq!(part.text.as_deref(), post["text"].as_str(), "part {i}");
        assert_eq!(part.url.as_deref(), post["url"].as_str(), "part {i}");
        assert_eq!(
            part.published_at.map(|t| t.timestamp()),
            post["created_timestamp"].as_i64(),
            "part {i}"
        );
        // Same author throughout: the part says nothing of its own.
        assert_eq!(part.author, None);
        assert_eq!(part.title, None);
    }
    // The item's text is the whole thread, part by part.
    let texts: Vec<&str> = (0..5)
        .map(|i| body["thread"][i]["text"].as_str().expect("text"))
        .collect();
    assert_eq!(item.text.as_deref(), Some(texts.join("\n\n").as_str()));
    assert!(
        item.text
            .as_deref()
            .is_some_and(|t| t.starts_with("Introducing Live Studio (beta)")),
        "{:?}",
        item.text
    );
    // Post 1's video with its thumbnail as the cover, both in part 0.
    let media: Vec<(MediaRole, Option<u32>)> =
        item.media.iter().map(|m| (m.role, m.part)).collect();
    assert_eq!(
        media,
        vec![(MediaRole::Cover, Some(0)), (MediaRole::Video, Some(0))]
    );
    assert_eq!(
        item.media[1].url,
        "https://video.twimg.com/amplify_video/2072433363298689024/vid/avc1/1080x1080/wHZR3H8jLlbu6KnS.mp4?tag=28"
    );
    assert_eq!(item.media[1].duration_secs, Some(52.352));
    let a = item.author.as_ref().expect("author");
    assert_eq!(
        (a.name.as_deref(), a.id.as_deref()),
        (Some("Creators"), Some("3282859598"))
    );
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_782_942_985)
    );
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://x.com/XCreators/status/2072439205213421694")
    );
    let thread = &item.fields["thread"];
    assert_eq!(thread["source"], "fxtwitter_thread");
    assert_eq!(thread["complete"], true);
    assert_eq!(thread["posts"], 5);
    // The link card is on post 5, not the shared one: kept with its part.
    assert_eq!(item.fields.get("card"), None);
    assert_eq!(thread["extras"][0]["part"], 4);
    assert_eq!(thread["extras"][0]["card"]["domain"], "x.com");
    // `community_note: null` everywhere: absent, not null.
    assert_eq!(item.fields.get("community_note"), None);
    assert_eq!(item.raw["thread"][4]["id"], IDS[4]);
    assert_eq!(server.hits().len(), 1, "one request for the whole thread");
}

#[tokio::test]
async fn sharing_a_middle_post_archives_the_whole_thread() {
    // FxTwitter answers a middle post with the same thread and that post as
    // `status` (its thread builder): the capture with `status` set so.
    let mut body = thread_body();
    body["status"] = body["thread"][2].clone();
    let server = Replay::start(HOSTS).await;
    server.route(
        &format!("api.fxtwitter.com/2/thread/{}", IDS[2]),
        Reply::json(body.to_string()),
    );
    let item = server.fetcher().fetch(&req(IDS[2])).await.expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Thread));
    assert_eq!(item.parts.len(), 5);
    let shared: Vec<usize> = (0..5).filter(|i| item.parts[*i].shared).collect();
    assert_eq!(shared, vec![2]);
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://x.com/XCreators/status/2072439209437380841")
    );
    // The thread starts with its first post, whatever was shared.
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_782_942_985)
    );
}

#[tokio::test]
async fn thread_null_walks_up_the_reply_chain() {
    // FxTwitter could not read the conversation (`thread: null`): we walk
    // up from post 3 through `replying_to`, one `/2/status/` per parent.
    let server = Replay::start(HOSTS).await;
    server
        .route(
            &format!("api.fxtwitter.com/2/thread/{}", IDS[2]),
            Reply::json(status_answer(2)),
        )
        .route(
            &format!("api.fxtwitter.com/2/status/{}", IDS[1]),
            Reply::json(status_answer(1)),
        )
        .route(
            &format!("api.fxtwitter.com/2/status/{}", IDS[0]),
            Reply::json(status_answer(0)),
        );
    let item = server.fetcher().fetch(&req(IDS[2])).await.expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Thread));
    let ids: Vec<&str> = item.parts.iter().filter_map(|p| p.id.as_deref()).collect();
    assert_eq!(ids, &IDS[..3]);
    assert!(item.parts[2].shared && !item.parts[0].shared);
    // The walk cannot see posts 4 and 5: the item says it may be partial.
    let thread = &item.fields["thread"];
    assert_eq!(thread["source"], "reply_chain");
    assert_eq!(thread["complete"], false);
    assert_eq!(thread.get("stopped"), None, "ended at the thread's root");
    assert_eq!(
        item.media.iter().map(|m| m.part).collect::<Vec<_>>(),
        vec![Some(0), Some(0)],
        "the root's video and cover"
    );
    assert_eq!(item.raw["reply_chain"].as_array().map(Vec::len), Some(2));
    assert_eq!(server.hits().len(), 3);
}

#[tokio::test]
async fn a_deleted_parent_ends_the_walk() {
    let server = Replay::start(HOSTS).await;
    server
        .route(
            &format!("api.fxtwitter.com/2/thread/{}", IDS[2]),
            Reply::json(status_answer(2)),
        )
        .route(
            "api.fxtwitter.com/2/status/",
            Reply::status(404, r#"{"code":404,"message":"NOT_FOUND"}"#),
        );
    let item = server.fetcher().fetch(&req(IDS[2])).await.expect("fetches");
    // Nothing above it could be had: one post, and the item says why.
    assert_eq!(item.kind, Some(ContentKind::Post));
    assert!(item.parts.is_empty());
    let thread = &item.fields["thread"];
    assert_eq!(thread["source"], "reply_chain");
    assert_eq!(thread["complete"], false);
    assert!(
        thread["stopped"]
            .as_str()
            .is_some_and(|s| s.contains(IDS[1]) && s.contains("deleted")),
        "{thread}"
    );
}

#[tokio::test]
async fn the_walk_is_bounded() {
    // Synthetic ids on the recorded post 2: each replies to the one before,
    // further than the walk may go.
    let server = Replay::start(HOSTS).await;
    let body = thread_body();
    let answer = |n: u64| {
        let mut post = body["thread"][1].clone();
        post["id"] = json!(n.to_string());
        post["url"] = json!(format!("https://x.com/XCreators/status/{n}"));
        post["replying_to"]["status"] = json!((n - 1).to_string());
        json!({"code": 200, "status": post, "thread": null}).to_string()
    };
    server.route("api.fxtwitter.com/2/thread/1100", Reply::json(answer(1100)));
    for n in 1000..1100 {
        server.route(
            &format!("api.fxtwitter.com/2/status/{n}"),
            Reply::json(answer(n)),
        );
    }
    let item = server.fetcher().fetch(&req("1100")).await.expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Thread));
    assert_eq!(item.parts.len(), 26, "the shared post and 25 parents");
    assert_eq!(item.parts[0].id.as_deref(), Some("1075"));
    assert!(item.parts[25].shared);
    assert_eq!(server.hits_on("api.fxtwitter.com/2/status/"), 25);
    assert!(
        item.fields["thread"]["stopped"]
            .as_str()
            .is_some_and(|s| s.contains("25")),
        "{:?}",
        item.fields
    );
}

#[tokio::test]
async fn a_reply_to_someone_else_is_a_single_post() {
    let mut body = thread_body();
    let mut post = body["thread"][1].clone();
    post["replying_to"]["screen_name"] = json!("someone_else");
    body["status"] = post;
    body["thread"] = Value::Null;
    let server = Replay::start(HOSTS).await;
    server.route("api.fxtwitter.com/2/thread/", Reply::json(body.to_string()));
    let item = server.fetcher().fetch(&req(IDS[1])).await.expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Post));
    assert!(item.parts.is_empty() && item.fields.is_empty());
    assert_eq!(server.hits().len(), 1, "no walk");
}

#[tokio::test]
async fn tombstones_inside_a_thread_are_gaps() {
    // The capture with post 3 deleted (FxEmbed's tombstone shape), and the
    // tweet it answers (by someone else) listed first.
    let mut body = thread_body();
    let mut list = body["thread"].as_array().cloned().expect("thread");
    list[2] = json!({"type": "tombstone", "provider": "twitter", "reason": "deleted",
        "message": "This post was deleted by the post author."});
    let mut other = list[0].clone();
    other["id"] = json!("1");
    other["author"]["id"] = json!("42");
    other["author"]["screen_name"] = json!("someone");
    list.insert(0, other);
    body["thread"] = Value::Array(list);
    let server = Replay::start(HOSTS).await;
    server.route("api.fxtwitter.com/2/thread/", Reply::json(body.to_string()));
    let item = server.fetcher().fetch(&req(IDS[3])).await.expect("fetches");
    let ids: Vec<&str> = item.parts.iter().filter_map(|p| p.id.as_deref()).collect();
    assert_eq!(ids, vec![IDS[0], IDS[1], IDS[3], IDS[4]]);
    assert!(item.parts[2].shared);
    let thread = &item.fields["thread"];
    assert_eq!(
        (thread["complete"].as_bool(), thread["unavailable"].as_u64()),
        (Some(false), Some(1))
    );
}

#[tokio::test]
async fn single_post_with_a_quote() {
    // VERBATIM `/2/status` capture: `thread: null`, not a reply.
    let server = Replay::start(HOSTS).await;
    server.route(
        "api.fxtwitter.com/2/thread/2099922471272976442",
        Reply::json(fixture(
            "twitter/fxtwitter_v2_status_2099922471272976442_quote.json",
        )),
    );
    let item = server
        .fetcher()
        .fetch(&req("2099922471272976442"))
        .await
        .expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Post));
    assert!(item.parts.is_empty() && item.fields.is_empty());
    assert!(item.media.is_empty());
    assert_eq!(
        item.text.as_deref(),
        Some("Creators, put your Bot to work. Share your template and you could win big 👇")
    );
    // v2 says `reposts`; we keep calling them retweets.
    assert_eq!(item.stats.get("retweets"), Some(&69));
    assert_eq!(item.stats.get("views"), Some(&191_425));
    let q = item.quoted.as_ref().expect("quoted");
    assert_eq!(
        q.author.as_ref().and_then(|a| a.name.as_deref()),
        Some("Grok")
    );
    let roles: Vec<MediaRole> = q.media.iter().map(|m| m.role).collect();
    assert_eq!(roles, vec![MediaRole::Cover, MediaRole::Video]);
    assert_eq!(
        (q.media[1].width, q.media[1].height),
        (Some(1920), Some(1080))
    );
}

#[tokio::test]
async fn single_photo_post() {
    let server = Replay::start(HOSTS).await;
    server.route(
        "api.fxtwitter.com/2/thread/",
        Reply::json(fixture(
            "twitter/fxtwitter_v2_status_2088006016721940988_photo.json",
        )),
    );
    let item = server
        .fetcher()
        .fetch(&req("2088006016721940988"))
        .await
        .expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Post));
    assert_eq!(item.media.len(), 1);
    let m = &item.media[0];
    assert_eq!(
        (m.role, m.url.as_str(), m.width, m.height, m.part),
        (
            MediaRole::Image,
            "https://pbs.twimg.com/media/HPn_tiJXQAApeCf.jpg?name=orig",
            Some(1024),
            Some(1024),
            None
        )
    );
}

#[tokio::test]
async fn poll_card_and_community_note_are_kept_as_given() {
    // ASSEMBLED: no real poll or community note body exists; the recorded
    // photo post with FxEmbed's documented `poll`, `card` and
    // `community_note` shapes (api-schemas.ts) added.
    let mut body: Value = serde_json::from_str(&fixture(
        "twitter/fxtwitter_v2_status_2088006016721940988_photo.json",
    ))
    .expect("json");
    let poll = json!({"choices": [{"label": "Yes", "count": 3, "percentage": 75},
        {"label": "No", "count": 1, "percentage": 25}], "total_votes": 4,
        "ends_at": "2026-08-14T20:53:22Z", "time_left_en": "Final results"});
    let note = json!({"text": "Readers added context", "facets": []});
    let card = json!({"url": "https://t.co/x", "title": "A page", "domain": "example.com"});
    body["status"]["poll"] = poll.clone();
    body["status"]["community_note"] = note.clone();
    body["status"]["card"] = card.clone();
    let server = Replay::start(HOSTS).await;
    server.route("api.fxtwitter.com/2/thread/", Reply::json(body.to_string()));
    let item = server
        .fetcher()
        .fetch(&req("2088006016721940988"))
        .await
        .expect("fetches");
    assert_eq!(item.fields.get("poll"), Some(&poll));
    assert_eq!(item.fields.get("community_note"), Some(&note));
    assert_eq!(item.fields.get("card"), Some(&card));
}

#[tokio::test]
async fn a_deleted_quote_does_not_fail_the_post() {
    let mut body: Value = serde_json::from_str(&fixture(
        "twitter/fxtwitter_v2_status_2099922471272976442_quote.json",
    ))
    .expect("json");
    body["status"]["quote"] = json!({"type": "tombstone", "provider": "twitter",
        "reason": "deleted", "message": "This post was deleted by the post author."});
    let server = Replay::start(HOSTS).await;
    server.route("api.fxtwitter.com/2/thread/", Reply::json(body.to_string()));
    let item = server
        .fetcher()
        .fetch(&req("2099922471272976442"))
        .await
        .expect("fetches");
    assert_eq!(item.quoted, None);
    assert!(item.text.is_some());
}

#[tokio::test]
async fn deleted_and_private() {
    // FxEmbed answers a missing status `{status: null, thread: null, code: 404}`.
    let server = Replay::start(HOSTS).await;
    server.route(
        "api.fxtwitter.com/2/thread/",
        Reply::status(
            404,
            r#"{"status":null,"thread":null,"author":null,"code":404}"#,
        ),
    );
    let err = fetch_err(&server, &req("20")).await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert_eq!(server.hits().len(), 1, "final: no fallback");

    // An error `code` inside an HTTP 200 counts as much as the status.
    let server = Replay::start(HOSTS).await;
    server.route(
        "api.fxtwitter.com/2/thread/",
        Reply::json(r#"{"status":null,"thread":null,"author":null,"code":401}"#),
    );
    assert_eq!(
        fetch_err(&server, &req("20")).await.class,
        ErrorClass::AuthRequired
    );

    // A tombstone in the status slot says why.
    let server = Replay::start(HOSTS).await;
    server.route(
        "api.fxtwitter.com/2/thread/",
        Reply::status(404, r#"{"status":{"type":"tombstone","reason":"suspended","message":"This account is suspended."},"thread":null,"author":null,"code":404}"#),
    );
    let err = fetch_err(&server, &req("20")).await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("suspended"), "{err:?}");
}

#[tokio::test]
async fn v2_failures_pick_the_next_endpoint() {
    // A 5xx from v2: its v1 API may still answer.
    let server = Replay::start(HOSTS).await;
    server
        .route(
            "api.fxtwitter.com/2/",
            Reply::status(500, r#"{"code":500,"message":"API_FAIL"}"#),
        )
        .route(
            "api.fxtwitter.com/status/1580661436132757506",
            Reply::json(fixture("twitter/fxtwitter_status_1580661436132757506.json")),
        );
    let item = server
        .fetcher()
        .fetch(&req("1580661436132757506"))
        .await
        .expect("v1 answers");
    assert_eq!(item.text.as_deref(), Some("a hit Tweet"));
    assert_eq!(item.kind, Some(ContentKind::Post));

    // A 429 from v2: FxTwitter is not asked again; the syndication endpoint is.
    let server = Replay::start(HOSTS).await;
    server
        .route(
            "api.fxtwitter.com/2/",
            Reply::status(429, "{}").header("retry-after", "3"),
        )
        .route(
            "cdn.syndication.twimg.com/tweet-result",
            Reply::json(fixture(
                "twitter/syndication_tweet-result_875083037872181254.json",
            )),
        );
    let item = server
        .fetcher()
        .fetch(&req("875083037872181254"))
        .await
        .expect("syndication answers");
    assert_eq!(item.kind, Some(ContentKind::Post));
    assert_eq!(server.hits_on("api.fxtwitter.com/status/"), 0);

    // A v2 answer without a `status`: v1.
    let server = Replay::start(HOSTS).await;
    server
        .route("api.fxtwitter.com/2/", Reply::json(r#"{"code":200}"#))
        .route("api.fxtwitter.com/status/", Reply::status(503, "{}"));
    let err = fetch_err(&server, &req("20")).await;
    assert_eq!(err.class, ErrorClass::Retryable, "{err:?}");
    assert_eq!(server.hits_on("api.fxtwitter.com/status/20"), 1);
}
