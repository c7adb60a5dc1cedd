//! Self-threads: the posts of one author that reply to each other, as one
//! item whose parts are the posts in order.
//!
//! FxTwitter's `/2/thread/{id}` lists the thread (ancestors, the shared
//! post, the author's later replies) when it can read the conversation;
//! it answers `thread: null` when it cannot, which does not mean there is
//! no thread. Then we walk the reply chain upwards ourselves, one parent at
//! a time while the parent's author is the same, which can never find the
//! posts that came after the shared one: `fields.thread.complete` says so.

use serde_json::{Value, json};
use vaultstream_core::ContentKind;
use vaultstream_core::parsed::{FetchError, MediaRole, ParsedItem, ParsedPart};

use super::super::Ctx;
use super::fx::{self, Answer, Api, id_of, screen_name_of, self_parent};

/// Most parents fetched one by one when walking a reply chain.
pub(super) const MAX_HOPS: usize = 25;

/// The posts of the item in order, and how they were found.
struct Found {
    posts: Vec<Value>,
    /// `fields.thread`, when the shared post is part of a thread.
    thread: Option<Value>,
    /// Answers fetched while walking, kept in `raw.reply_chain`.
    walked: Vec<Value>,
}

/// The item for the shared status `id` from an FxTwitter answer: a thread
/// when it is part of one, a single post otherwise.
pub(super) async fn assemble(
    ctx: &Ctx,
    api: Api,
    id: &str,
    answer: Answer,
) -> Result<ParsedItem, FetchError> {
    let focal = answer.status().clone();
    let listed = answer
        .body
        .get("thread")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty());
    let found = match listed.and_then(|l| from_list(l, &focal, id)) {
        Some(found) => found,
        None => walk(ctx, api, &focal).await,
    };
    let mut raw = answer.body;
    if !found.walked.is_empty()
        && let Some(o) = raw.as_object_mut()
    {
        o.insert("reply_chain".to_owned(), Value::Array(found.walked));
    }
    let mut item = build(&found.posts, id, found.thread)?;
    item.raw = raw;
    Ok(item)
}

fn same_author(a: &Value, b: &Value) -> bool {
    match (fx_author_id(a), fx_author_id(b)) {
        (Some(x), Some(y)) => x == y,
        _ => screen_name_of(a).is_some() && screen_name_of(a) == screen_name_of(b),
    }
}

fn fx_author_id(t: &Value) -> Option<String> {
    super::super::value::id_at(t, "/author/id")
}

/// The run of the focal author's posts around the shared one in FxTwitter's
/// list. Posts by others (the tweet the thread answers) end the run; a
/// tombstone inside it is a post we cannot have. `None` when the list does
/// not hold the shared post.
fn from_list(list: &[Value], focal: &Value, id: &str) -> Option<Found> {
    let is_post = |v: &Value| v.is_object() && fx::tombstone(v).is_none();
    let at = list
        .iter()
        .position(|v| is_post(v) && id_of(v).as_deref() == Some(id))
        .or_else(|| {
            let focal_id = id_of(focal)?;
            list.iter()
                .position(|v| is_post(v) && id_of(v) == Some(focal_id.clone()))
        })?;
    let belongs = |v: &Value| !is_post(v) || same_author(v, focal);
    let mut start = at;
    while start > 0 && belongs(&list[start - 1]) {
        start -= 1;
    }
    let mut end = at + 1;
    while end < list.len() && belongs(&list[end]) {
        end += 1;
    }
    // Tombstones at the edges may belong to someone else: only those
    // between two of the author's posts count as missing parts.
    let run = &list[start..end];
    let first = run.iter().position(is_post).unwrap_or(0);
    let last = run.iter().rposition(is_post).unwrap_or(0);
    let run = &run[first..=last];
    let posts: Vec<Value> = run.iter().filter(|v| is_post(v)).cloned().collect();
    let unavailable = run.len() - posts.len();
    let thread = (posts.len() > 1 || unavailable > 0).then(|| {
        let mut t = json!({"source": "fxtwitter_thread", "complete": unavailable == 0});
        if unavailable > 0 {
            t["unavailable"] = json!(unavailable);
        }
        t
    });
    Some(Found {
        posts,
        thread,
        walked: Vec::new(),
    })
}

/// Up the reply chain from `focal` while the parent is the same author's,
/// at most [`MAX_HOPS`] parents. A parent that cannot be fetched ends the
/// walk (the posts found so far are kept, and `stopped` says why).
async fn walk(ctx: &Ctx, api: Api, focal: &Value) -> Found {
    let mut chain = vec![focal.clone()];
    let mut walked = Vec::new();
    let mut stopped: Option<String> = None;
    let Some(mut parent) = self_parent(focal) else {
        return Found {
            posts: chain,
            thread: None,
            walked,
        };
    };
    loop {
        if walked.len() >= MAX_HOPS {
            stopped = Some(format!("stopped after {MAX_HOPS} parents"));
            break;
        }
        let path = match api {
            Api::V2 => format!("2/status/{parent}"),
            Api::V1 => format!("status/{parent}"),
        };
        let answer = match fx::get(ctx, api, &path).await {
            Ok(a) => a,
            Err(e) => {
                let e = e.into_inner();
                stopped = Some(format!("parent {parent}: {}", e.message));
                break;
            }
        };
        let status = answer.status().clone();
        walked.push(answer.body);
        if !same_author(&status, focal) {
            break;
        }
        let next = self_parent(&status);
        chain.push(status);
        match next {
            Some(p) => parent = p,
            None => break,
        }
    }
    chain.reverse();
    let mut thread = json!({"source": "reply_chain", "complete": false});
    if let Some(why) = stopped {
        thread["stopped"] = json!(why);
    }
    Found {
        posts: chain,
        thread: Some(thread),
        walked,
    }
}

/// One item from the posts in order: a single post, or a thread whose
/// parts are the posts (the shared one marked) and whose media say which
/// part they belong to.
fn build(posts: &[Value], id: &str, thread: Option<Value>) -> Result<ParsedItem, FetchError> {
    let shared_at = posts
        .iter()
        .position(|p| id_of(p).as_deref() == Some(id))
        .unwrap_or(posts.len().saturating_sub(1));
    let Some(shared) = posts.get(shared_at) else {
        return Err(super::super::malformed(
            "the FxTwitter answer has no post",
            "",
        ));
    };
    let mut item = fx::parse_status(shared)?;
    if let Some(t) = &thread {
        item.fields.insert("thread".to_owned(), t.clone());
    }
    if posts.len() < 2 {
        return Ok(item);
    }
    // Every other post must read too: a post we cannot read is a gap, not
    // a reason to lose the thread.
    let mut parsed: Vec<(usize, ParsedItem)> = Vec::new();
    for (i, p) in posts.iter().enumerate() {
        if i == shared_at {
            parsed.push((i, item.clone()));
        } else if let Ok(one) = fx::parse_status(p) {
            parsed.push((i, one));
        }
    }
    let mut covers = Vec::new();
    let mut images = Vec::new();
    let mut videos = Vec::new();
    let mut parts = Vec::new();
    let mut extras = Vec::new();
    for (n, (i, one)) in parsed.iter().enumerate() {
        let part = u32::try_from(n).ok();
        for m in &one.media {
            let mut m = m.clone();
            m.part = part;
            match m.role {
                MediaRole::Cover => covers.push(m),
                MediaRole::Video => videos.push(m),
                _ => images.push(m),
            }
        }
        if *i != shared_at && !one.fields.is_empty() {
            let mut extra = json!({"part": n});
            for (k, v) in &one.fields {
                extra[k] = v.clone();
            }
            extras.push(extra);
        }
        parts.push(ParsedPart {
            id: id_of(&posts[*i]),
            title: None,
            html: one.html.clone(),
            text: one.text.clone(),
            url: one.canonical_url.clone(),
            author: None,
            published_at: one.published_at,
            duration_secs: None,
            shared: *i == shared_at,
        });
    }
    covers.truncate(1);
    let texts: Vec<&str> = parts.iter().filter_map(|p| p.text.as_deref()).collect();
    item.text = (!texts.is_empty()).then(|| texts.join("\n\n"));
    item.html = Some(parts.iter().filter_map(|p| p.html.as_deref()).collect());
    item.kind = Some(ContentKind::Thread);
    item.published_at = parts.first().and_then(|p| p.published_at);
    item.media = covers.into_iter().chain(images).chain(videos).collect();
    if item.quoted.is_none() {
        item.quoted = parsed.iter().find_map(|(_, p)| p.quoted.clone());
    }
    let mut thread = thread.unwrap_or_else(|| json!({}));
    thread["posts"] = json!(parts.len());
    if parsed.len() < posts.len() {
        thread["unreadable"] = json!(posts.len() - parsed.len());
        thread["complete"] = json!(false);
    }
    if !extras.is_empty() {
        thread["extras"] = Value::Array(extras);
    }
    item.fields.insert("thread".to_owned(), thread);
    item.parts = parts;
    Ok(item)
}
