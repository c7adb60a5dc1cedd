//! A fake Telegram Bot API on 127.0.0.1 that speaks the real JSON
//! (<https://core.telegram.org/bots/api>) well enough for teloxide 0.17:
//! `getMe`, `getWebhookInfo`, `deleteWebhook`, long-polling `getUpdates`,
//! `sendMessage`, `sendPhoto`, `sendMediaGroup`, `sendVideo`,
//! `sendChatAction` and `setMyCommands`.
//!
//! Paths are `/bot<token>/<method>`; the method name is matched
//! case-insensitively (teloxide sends `SendMessage`). Parameters are read
//! from the query string and from a JSON, urlencoded or multipart body
//! (uploads arrive as `attach://<name>` parts; `sendMediaGroup` sends
//! `media` as a JSON string part). Every call is counted, every successful
//! send is recorded as a [`SentMessage`], and failures can be injected per
//! method with [`FakeTelegram::fail_next`].
//!
//! Like the real API it rejects HTML with unsupported or unbalanced tags
//! ("can't parse entities"), texts over 4096 characters and captions over
//! 1024 characters (counted after entity parsing), and albums outside
//! 2..=10 items, so escaping and length bugs show up in tests.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

/// The bot the fake pretends to be (`getMe`).
pub const BOT_ID: i64 = 7_000_000_001;
pub const BOT_USERNAME: &str = "vaultstream_test_bot";

/// An injected failure for the next call(s) of one method.
#[derive(Debug, Clone, PartialEq)]
pub enum FakeFailure {
    /// 429 `Too Many Requests: retry after N` with `parameters.retry_after`.
    RetryAfter(u32),
    /// Any `{"ok":false}` answer, e.g. `Error(400, "Bad Request: chat not found")`.
    /// Avoid 5xx codes in fast tests: teloxide sleeps 10 s before reading them.
    Error(u16, String),
    /// The request is processed (a send IS recorded, as if Telegram delivered
    /// it) but the connection breaks before the answer is complete: the
    /// client sees a network error after the request went out.
    Disconnect,
    /// The send is recorded at once (Telegram got it) but the answer comes
    /// only after this long: a client killed meanwhile never learns it
    /// was posted.
    Slow(std::time::Duration),
}

/// One thing the bot sent (a successful send call).
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    /// Canonical Bot API name, e.g. `sendMessage`, `sendMediaGroup`.
    pub method: String,
    /// The `chat_id` parameter as a string: `"-100123"` or `"@channel"`.
    pub chat_id: String,
    pub text: Option<String>,
    /// The caption (for an album: the first item's caption).
    pub caption: Option<String>,
    /// `parse_mode` (for an album: the first item's).
    pub parse_mode: Option<String>,
    /// Items in an album; 1 for a photo or video; 0 for text.
    pub media_count: usize,
    /// Uploaded file parts: (part name, size in bytes), in request order.
    pub files: Vec<(String, usize)>,
    /// The message ids the fake answered with.
    pub message_ids: Vec<i64>,
    /// All parameters as JSON (multipart text parts as strings, `media`
    /// parsed), plus `"_files"`: [{"name", "filename", "bytes"}].
    pub raw: Value,
}

#[derive(Default)]
struct Inner {
    updates: VecDeque<Value>,
    next_update_id: i64,
    next_user_message_id: i64,
    sent: Vec<SentMessage>,
    calls: HashMap<String, usize>,
    failures: HashMap<String, VecDeque<FakeFailure>>,
    next_message_id: HashMap<String, i64>,
    username_ids: HashMap<String, i64>,
    next_file: u64,
    next_media_group: u64,
}

struct Shared {
    token: String,
    inner: Mutex<Inner>,
    new_update: Notify,
}

impl Shared {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

/// The fake Bot API server. Cheap to clone; the server lives as long as the
/// test's runtime.
#[derive(Clone)]
pub struct FakeTelegram {
    /// `http://127.0.0.1:PORT`: hand it to `Bot::set_api_url` or
    /// `VAULTSTREAM_TELEGRAM_API_URL`.
    pub base: String,
    /// A token in the real format (`<bot id>:<secret>`); requests with any
    /// other token get 401 Unauthorized.
    pub token: String,
    shared: Arc<Shared>,
}

impl FakeTelegram {
    pub async fn start() -> Self {
        let token = format!("{BOT_ID}:AAFakeTokenForVaultStreamTests_0123456");
        let shared = Arc::new(Shared {
            token: token.clone(),
            inner: Mutex::new(Inner {
                next_update_id: 100_000,
                next_user_message_id: 1,
                ..Inner::default()
            }),
            new_update: Notify::new(),
        });
        let app = Router::new()
            .route("/{bot}/{method}", any(handle))
            .fallback(|| async { not_found() })
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake telegram");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTelegram {
            base,
            token,
            shared,
        }
    }

    /// `base` as a URL (for `Bot::set_api_url`).
    pub fn url(&self) -> url::Url {
        url::Url::parse(&self.base).expect("fake telegram base url")
    }

    /// Queue a raw `Update` JSON. A missing `update_id` is filled in; the
    /// ids of pushed updates always increase.
    pub fn push_update(&self, mut update: Value) {
        self.shared.with(|s| {
            let id = match update.get("update_id").and_then(Value::as_i64) {
                Some(id) if id >= s.next_update_id => id,
                _ => s.next_update_id,
            };
            s.next_update_id = id + 1;
            if let Some(obj) = update.as_object_mut() {
                obj.insert("update_id".into(), json!(id));
            }
            s.updates.push_back(update);
        });
        self.shared.new_update.notify_waiters();
    }

    /// Push a text message from `user_id` in `chat_id` (private chat when
    /// `chat_id > 0`, else a group), with `bot_command` and `url` entities
    /// (offsets in UTF-16 code units, as Telegram counts them).
    pub fn user_message(&self, user_id: i64, chat_id: i64, text: &str) {
        let message_id = self.shared.with(|s| {
            let id = s.next_user_message_id;
            s.next_user_message_id += 1;
            id
        });
        let from = json!({
            "id": user_id,
            "is_bot": false,
            "first_name": format!("User{user_id}"),
            "username": format!("user{user_id}"),
            "language_code": "en",
        });
        let chat = if chat_id > 0 {
            json!({"id": chat_id, "type": "private", "first_name": format!("User{user_id}"),
                   "username": format!("user{user_id}")})
        } else {
            json!({"id": chat_id, "type": "group", "title": format!("Group {chat_id}")})
        };
        let mut message = json!({
            "message_id": message_id,
            "from": from,
            "chat": chat,
            "date": now(),
            "text": text,
        });
        let entities = text_entities(text);
        if !entities.is_empty() {
            message["entities"] = Value::Array(entities);
        }
        self.push_update(json!({ "message": message }));
    }

    /// Everything the bot sent successfully, in order.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.shared.with(|s| s.sent.clone())
    }

    /// What was sent to one chat (`"-100123"` or `"@channel"`, as the bot
    /// passed it).
    pub fn sent_to(&self, chat: &str) -> Vec<SentMessage> {
        self.shared.with(|s| {
            s.sent
                .iter()
                .filter(|m| m.chat_id == chat)
                .cloned()
                .collect()
        })
    }

    /// The next `n` calls of `method` (any case) answer `reply` instead.
    pub fn fail_next(&self, method: &str, n: usize, reply: FakeFailure) {
        self.shared.with(|s| {
            let q = s.failures.entry(method.to_ascii_lowercase()).or_default();
            q.extend(std::iter::repeat_n(reply, n));
        });
    }

    /// Calls of `method` (any case) so far, failed ones included.
    pub fn calls(&self, method: &str) -> usize {
        self.shared
            .with(|s| s.calls.get(&method.to_ascii_lowercase()).copied())
            .unwrap_or(0)
    }

    /// Updates queued and not yet confirmed by a later `offset`.
    pub fn pending_updates(&self) -> usize {
        self.shared.with(|s| s.updates.len())
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn ok(result: Value) -> Response {
    reply(StatusCode::OK, json!({"ok": true, "result": result}))
}

fn error(code: u16, description: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    reply(
        status,
        json!({"ok": false, "error_code": code, "description": description}),
    )
}

fn not_found() -> Response {
    error(404, "Not Found: method not found")
}

fn bad_request(description: &str) -> Response {
    error(400, &format!("Bad Request: {description}"))
}

/// A response whose declared length is longer than its body: the
/// connection breaks while the client reads it.
fn broken_response() -> Response {
    let mut resp = Response::new(Body::from("{\"ok\":true,"));
    resp.headers_mut().insert(
        header::CONTENT_LENGTH,
        header::HeaderValue::from_static("4096"),
    );
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(token) = bot.strip_prefix("bot") else {
        return not_found();
    };
    if token != shared.token {
        return error(401, "Unauthorized");
    }
    let method_lc = method.to_ascii_lowercase();
    let (params, files) = match parse_params(uri.query(), &headers, &body) {
        Ok(p) => p,
        Err(e) => return bad_request(&e),
    };
    let failure = shared.with(|s| {
        *s.calls.entry(method_lc.clone()).or_default() += 1;
        s.failures.get_mut(&method_lc).and_then(VecDeque::pop_front)
    });
    match failure {
        Some(FakeFailure::RetryAfter(secs)) => {
            return reply(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"ok": false, "error_code": 429,
                       "description": format!("Too Many Requests: retry after {secs}"),
                       "parameters": {"retry_after": secs}}),
            );
        }
        Some(FakeFailure::Error(code, description)) => return error(code, &description),
        Some(FakeFailure::Disconnect) | Some(FakeFailure::Slow(_)) | None => {}
    }
    let response = match method_lc.as_str() {
        "getme" => ok(json!({
            "id": BOT_ID,
            "is_bot": true,
            "first_name": "VaultStream Test Bot",
            "username": BOT_USERNAME,
            "can_join_groups": true,
            "can_read_all_group_messages": false,
            "supports_inline_queries": false,
            "can_connect_to_business": false,
            "has_main_web_app": false,
        })),
        "getwebhookinfo" => {
            let pending = shared.with(|s| s.updates.len());
            ok(json!({"url": "", "has_custom_certificate": false,
                      "pending_update_count": pending}))
        }
        "deletewebhook" => {
            if params.get("drop_pending_updates").is_some_and(truthy) {
                shared.with(|s| s.updates.clear());
            }
            ok(json!(true))
        }
        "getupdates" => get_updates(&shared, &params).await,
        "sendchataction"
        | "setmycommands"
        | "deletemycommands"
        | "answercallbackquery"
        | "setchatmenubutton"
        | "setmydescription"
        | "setmyshortdescription" => ok(json!(true)),
        "getmycommands" => ok(json!([])),
        "sendmessage" | "sendphoto" | "sendvideo" | "sendmediagroup" => {
            send(&shared, &method_lc, params, files)
        }
        _ => not_found(),
    };
    if let Some(FakeFailure::Slow(d)) = failure {
        tokio::time::sleep(d).await;
    }
    if failure == Some(FakeFailure::Disconnect) {
        return broken_response();
    }
    response
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => s == "true" || s == "1",
        Value::Number(n) => n.as_i64().unwrap_or(0) != 0,
        _ => false,
    }
}

fn param_i64(params: &Map<String, Value>, key: &str) -> Option<i64> {
    match params.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn param_str(params: &Map<String, Value>, key: &str) -> Option<String> {
    match params.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

async fn get_updates(shared: &Shared, params: &Map<String, Value>) -> Response {
    let offset = param_i64(params, "offset");
    let limit = param_i64(params, "limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = param_i64(params, "timeout").unwrap_or(0).clamp(0, 600) as u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        let notified = shared.new_update.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let batch: Vec<Value> = shared.with(|s| {
            if let Some(offset) = offset {
                // Confirm (forget) everything below the offset.
                s.updates.retain(|u| {
                    u.get("update_id")
                        .and_then(Value::as_i64)
                        .is_some_and(|id| id >= offset)
                });
            }
            s.updates.iter().take(limit).cloned().collect()
        });
        if !batch.is_empty() {
            return ok(Value::Array(batch));
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return ok(json!([]));
        }
    }
}

fn chat_object(s: &mut Inner, chat_id: &str) -> Result<Value, String> {
    if let Some(name) = chat_id.strip_prefix('@') {
        if name.is_empty() {
            return Err("chat not found".into());
        }
        let next = -1_009_000_000_000 - s.username_ids.len() as i64;
        let id = *s.username_ids.entry(name.to_owned()).or_insert(next);
        return Ok(json!({"id": id, "type": "channel", "title": name, "username": name}));
    }
    let id: i64 = chat_id
        .trim()
        .parse()
        .map_err(|_| "chat not found".to_owned())?;
    Ok(if id > 0 {
        json!({"id": id, "type": "private", "first_name": format!("User{id}")})
    } else if chat_id.starts_with("-100") {
        json!({"id": id, "type": "channel", "title": format!("Channel {id}")})
    } else {
        json!({"id": id, "type": "group", "title": format!("Group {id}")})
    })
}

fn next_file_id(s: &mut Inner, kind: &str) -> (String, String) {
    s.next_file += 1;
    (
        format!("Fake{kind}FileId{:06}", s.next_file),
        format!("FakeUniq{:06}", s.next_file),
    )
}

fn photo_sizes(s: &mut Inner, bytes: usize) -> Value {
    let (small, small_u) = next_file_id(s, "Photo");
    let (big, big_u) = next_file_id(s, "Photo");
    json!([
        {"file_id": small, "file_unique_id": small_u, "width": 90, "height": 67,
         "file_size": (bytes / 20).max(1)},
        {"file_id": big, "file_unique_id": big_u, "width": 1280, "height": 960,
         "file_size": bytes.max(1)},
    ])
}

fn file_size_of(files: &[(String, Option<String>, usize)], reference: Option<&str>) -> usize {
    match reference.and_then(|r| r.strip_prefix("attach://")) {
        Some(name) => files
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, len)| *len)
            .unwrap_or(0),
        None => 0,
    }
}

/// Check the HTML the way Telegram does (supported tags, balanced) and
/// return the visible text.
fn parse_html(text: &str) -> Result<String, String> {
    const TAGS: &[&str] = &[
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    ];
    let mut out = String::new();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find(['<', '&']) {
        out.push_str(&rest[..pos]);
        let offset = text.len() - rest.len() + pos;
        rest = &rest[pos..];
        if rest.starts_with('&') {
            let entity_end = rest.find(';').filter(|&e| e <= 10);
            let decoded = entity_end.and_then(|e| match &rest[1..e] {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                n if n.starts_with("#x") || n.starts_with("#X") => u32::from_str_radix(&n[2..], 16)
                    .ok()
                    .and_then(char::from_u32),
                n if n.starts_with('#') => n[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            });
            match (decoded, entity_end) {
                (Some(c), Some(e)) => {
                    out.push(c);
                    rest = &rest[e + 1..];
                }
                _ => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
            continue;
        }
        let Some(end) = rest.find('>') else {
            return Err(format!(
                "can't parse entities: Unclosed start tag at byte offset {offset}"
            ));
        };
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            match stack.pop() {
                Some(open) if open == name => {}
                _ => {
                    return Err(format!(
                        "can't parse entities: Unexpected end tag at byte offset {offset}"
                    ));
                }
            }
        } else {
            let name = tag
                .split(|c: char| c.is_whitespace())
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            if !TAGS.contains(&name.as_str()) {
                return Err(format!(
                    "can't parse entities: Unsupported start tag \"{name}\" at byte offset {offset}"
                ));
            }
            stack.push(name);
        }
    }
    out.push_str(rest);
    if let Some(open) = stack.pop() {
        return Err(format!(
            "can't parse entities: Can't find end tag corresponding to start tag \"{open}\""
        ));
    }
    Ok(out)
}

/// The visible text of `text` under `parse_mode` (HTML checked like Telegram).
fn visible(text: &str, parse_mode: Option<&str>) -> Result<String, String> {
    match parse_mode {
        Some(m) if m.eq_ignore_ascii_case("html") => parse_html(text),
        _ => Ok(text.to_owned()),
    }
}

fn send(
    shared: &Shared,
    method: &str,
    params: Map<String, Value>,
    files: Vec<(String, Option<String>, usize)>,
) -> Response {
    let Some(chat_id) = param_str(&params, "chat_id") else {
        return bad_request("chat_id is empty");
    };
    let parse_mode = param_str(&params, "parse_mode");
    let text = param_str(&params, "text");
    let caption = param_str(&params, "caption");
    let canonical = match method {
        "sendmessage" => "sendMessage",
        "sendphoto" => "sendPhoto",
        "sendvideo" => "sendVideo",
        _ => "sendMediaGroup",
    };

    // Validate like Telegram does.
    let mut visible_text = None;
    let mut visible_caption = None;
    if method == "sendmessage" {
        let Some(t) = &text else {
            return bad_request("message text is empty");
        };
        let v = match visible(t, parse_mode.as_deref()) {
            Ok(v) => v,
            Err(e) => return bad_request(&e),
        };
        if v.trim().is_empty() {
            return bad_request("message text is empty");
        }
        if v.encode_utf16().count() > 4096 {
            return bad_request("message is too long");
        }
        visible_text = Some(v);
    } else if let Some(c) = &caption {
        let v = match visible(c, parse_mode.as_deref()) {
            Ok(v) => v,
            Err(e) => return bad_request(&e),
        };
        if v.encode_utf16().count() > 1024 {
            return bad_request("message caption is too long");
        }
        visible_caption = Some(v);
    }
    let media: Vec<Value> = if method == "sendmediagroup" {
        let Some(Value::Array(items)) = params.get("media") else {
            return bad_request("media is empty");
        };
        if !(2..=10).contains(&items.len()) {
            return bad_request("wrong number of messages to send as an album");
        }
        items.clone()
    } else {
        Vec::new()
    };

    let mut album_caption = None;
    let mut album_parse_mode = None;
    let mut album_visible = Vec::with_capacity(media.len());
    for item in &media {
        let pm = item.get("parse_mode").and_then(Value::as_str);
        match item.get("caption").and_then(Value::as_str) {
            Some(c) => match visible(c, pm) {
                Ok(v) if v.encode_utf16().count() > 1024 => {
                    return bad_request("message caption is too long");
                }
                Ok(v) => album_visible.push(Some(v)),
                Err(e) => return bad_request(&e),
            },
            None => album_visible.push(None),
        }
        if album_caption.is_none() && album_parse_mode.is_none() {
            album_caption = item
                .get("caption")
                .and_then(Value::as_str)
                .map(str::to_owned);
            album_parse_mode = pm.map(str::to_owned);
        }
    }

    // A reply names a message of that chat: one that does not exist is
    // refused unless the sender allows sending without it (as Telegram).
    let reply_to = match params.get("reply_parameters") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => serde_json::from_str::<Value>(s).ok(),
        Some(v) => Some(v.clone()),
    };
    let reply_to = match reply_to {
        None => None,
        Some(r) => match r.get("message_id").and_then(Value::as_i64) {
            Some(id) => Some((
                id,
                truthy(r.get("allow_sending_without_reply").unwrap_or(&Value::Null)),
            )),
            None => return bad_request("can't parse reply parameters JSON object"),
        },
    };

    let result = shared.with(|s| {
        let chat = chat_object(s, &chat_id)?;
        if let Some((id, lenient)) = reply_to {
            let exists = id >= 1 && id < s.next_message_id.get(&chat_id).copied().unwrap_or(1);
            if !exists && !lenient {
                return Err("message to be replied not found".to_owned());
            }
        }
        let is_channel = chat["type"] == "channel";
        let date = now();
        let mut base = json!({"chat": chat.clone(), "date": date});
        if is_channel {
            base["sender_chat"] = chat;
        } else {
            base["from"] = json!({"id": BOT_ID, "is_bot": true,
                                  "first_name": "VaultStream Test Bot",
                                  "username": BOT_USERNAME});
        }
        let mut messages = Vec::new();
        let alloc = |s: &mut Inner| {
            let next = s.next_message_id.entry(chat_id.clone()).or_insert(1);
            let id = *next;
            *next += 1;
            id
        };
        match method {
            "sendmessage" => {
                let mut m = base.clone();
                m["message_id"] = json!(alloc(s));
                m["text"] = json!(visible_text);
                messages.push(m);
            }
            "sendphoto" => {
                let mut m = base.clone();
                m["message_id"] = json!(alloc(s));
                let bytes = file_size_of(&files, param_str(&params, "photo").as_deref());
                m["photo"] = photo_sizes(s, bytes);
                if let Some(c) = &visible_caption {
                    m["caption"] = json!(c);
                }
                messages.push(m);
            }
            "sendvideo" => {
                let mut m = base.clone();
                m["message_id"] = json!(alloc(s));
                let bytes = file_size_of(&files, param_str(&params, "video").as_deref());
                let (fid, uid) = next_file_id(s, "Video");
                m["video"] = json!({"file_id": fid, "file_unique_id": uid, "width": 160,
                                    "height": 120, "duration": 2, "mime_type": "video/mp4",
                                    "file_size": bytes.max(1)});
                if let Some(c) = &visible_caption {
                    m["caption"] = json!(c);
                }
                messages.push(m);
            }
            _ => {
                s.next_media_group += 1;
                let group = format!("1{:017}", s.next_media_group);
                for (item, cap) in media.iter().zip(&album_visible) {
                    let mut m = base.clone();
                    m["message_id"] = json!(alloc(s));
                    m["media_group_id"] = json!(group);
                    let bytes = file_size_of(&files, item.get("media").and_then(Value::as_str));
                    if item.get("type").and_then(Value::as_str) == Some("video") {
                        let (fid, uid) = next_file_id(s, "Video");
                        m["video"] = json!({"file_id": fid, "file_unique_id": uid,
                                            "width": 160, "height": 120, "duration": 2,
                                            "mime_type": "video/mp4",
                                            "file_size": bytes.max(1)});
                    } else {
                        m["photo"] = photo_sizes(s, bytes);
                    }
                    if let Some(c) = cap {
                        m["caption"] = json!(c);
                    }
                    messages.push(m);
                }
            }
        }
        let message_ids = messages
            .iter()
            .filter_map(|m| m["message_id"].as_i64())
            .collect();
        let mut raw = params.clone();
        raw.insert(
            "_files".into(),
            Value::Array(
                files
                    .iter()
                    .map(|(n, f, b)| json!({"name": n, "filename": f, "bytes": b}))
                    .collect(),
            ),
        );
        let (caption, parse_mode) = if method == "sendmediagroup" {
            (album_caption.clone(), album_parse_mode.clone())
        } else {
            (caption.clone(), parse_mode.clone())
        };
        s.sent.push(SentMessage {
            method: canonical.to_owned(),
            chat_id: chat_id.clone(),
            text: text.clone(),
            caption,
            parse_mode,
            media_count: match method {
                "sendmessage" => 0,
                "sendmediagroup" => media.len(),
                _ => 1,
            },
            files: files.iter().map(|(n, _, b)| (n.clone(), *b)).collect(),
            message_ids,
            raw: Value::Object(raw),
        });
        Ok::<_, String>(messages)
    });
    match result {
        Ok(mut messages) if method != "sendmediagroup" => ok(messages.remove(0)),
        Ok(messages) => ok(Value::Array(messages)),
        Err(e) => bad_request(&e),
    }
}

type Files = Vec<(String, Option<String>, usize)>;

/// Parameters from the query string and the body (JSON, urlencoded or
/// multipart). Multipart text parts stay strings except `media`, which is
/// parsed as JSON; file parts are returned as (name, filename, bytes).
fn parse_params(
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Map<String, Value>, Files), String> {
    let mut params = Map::new();
    let mut files = Vec::new();
    if let Some(q) = query {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            params.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((params, files));
    }
    match mime.as_str() {
        "application/json" => {
            let v: Value =
                serde_json::from_slice(body).map_err(|e| format!("can't parse JSON: {e}"))?;
            let Value::Object(obj) = v else {
                return Err("JSON object expected".into());
            };
            params.extend(obj);
        }
        "application/x-www-form-urlencoded" => {
            for (k, v) in url::form_urlencoded::parse(body) {
                params.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
        "multipart/form-data" => {
            let boundary = content_type
                .split(';')
                .filter_map(|p| p.trim().strip_prefix("boundary="))
                .next()
                .map(|b| b.trim_matches('"').to_owned())
                .ok_or("multipart boundary missing")?;
            for part in multipart_parts(body, &boundary)? {
                match part.filename {
                    Some(f) => files.push((part.name, Some(f), part.data.len())),
                    None => {
                        let s = String::from_utf8_lossy(part.data).into_owned();
                        let value = if part.name == "media" || part.name == "reply_markup" {
                            serde_json::from_str(&s).unwrap_or(Value::String(s))
                        } else {
                            Value::String(s)
                        };
                        params.insert(part.name, value);
                    }
                }
            }
        }
        _ => return Err(format!("unsupported content type {content_type:?}")),
    }
    Ok((params, files))
}

struct Part<'a> {
    name: String,
    filename: Option<String>,
    data: &'a [u8],
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn multipart_parts<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, String> {
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let start = find(body, delim).ok_or("multipart: no boundary")?;
    let mut rest = &body[start + delim.len()..];
    let next_delim = format!("\r\n--{boundary}");
    let next_delim = next_delim.as_bytes();
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("multipart: bad delimiter")?;
        let head_end = find(rest, b"\r\n\r\n").ok_or("multipart: part headers unterminated")?;
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let after = &rest[head_end + 4..];
        let data_end = find(after, next_delim).ok_or("multipart: part unterminated")?;
        let data = &after[..data_end];
        rest = &after[data_end + next_delim.len()..];
        let mut name = None;
        let mut filename = None;
        for line in head.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if !key.trim().eq_ignore_ascii_case("content-disposition") {
                continue;
            }
            for attr in value.split(';').map(str::trim) {
                if let Some(v) = attr.strip_prefix("name=") {
                    name = Some(v.trim_matches('"').to_owned());
                } else if let Some(v) = attr.strip_prefix("filename=") {
                    filename = Some(v.trim_matches('"').to_owned());
                }
            }
        }
        parts.push(Part {
            name: name.ok_or("multipart: part without name")?,
            filename,
            data,
        });
    }
}

/// `bot_command` and `url` entities of a user's text, offsets in UTF-16.
fn text_entities(text: &str) -> Vec<Value> {
    let mut entities = Vec::new();
    let mut utf16_pos = 0usize;
    let mut prev_space = true;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (byte, c) = chars[i];
        let rest = &text[byte..];
        let is_url = rest.starts_with("http://") || rest.starts_with("https://");
        if (prev_space && c == '/') || is_url {
            let mut j = i;
            while j < chars.len() && !chars[j].1.is_whitespace() && chars[j].1.is_ascii() {
                j += 1;
            }
            if !is_url {
                // A command is `/word` with an optional `@botname`.
                j = i + 1;
                while j < chars.len()
                    && (chars[j].1.is_ascii_alphanumeric() || matches!(chars[j].1, '_' | '@'))
                {
                    j += 1;
                }
            } else {
                while j > i && matches!(chars[j - 1].1, '.' | ',' | ';' | ':' | '!' | '?' | ')') {
                    j -= 1;
                }
            }
            let len: usize = chars[i..j].iter().map(|(_, c)| c.len_utf16()).sum();
            if len > 1 {
                let kind = if is_url { "url" } else { "bot_command" };
                entities.push(json!({"type": kind, "offset": utf16_pos, "length": len}));
                utf16_pos += len;
                prev_space = false;
                i = j;
                continue;
            }
        }
        utf16_pos += c.len_utf16();
        prev_space = c.is_whitespace();
        i += 1;
    }
    entities
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_count_utf16() {
        let e = text_entities("/save 【标题】 https://b23.tv/abc 复制");
        assert_eq!(
            e[0],
            json!({"type": "bot_command", "offset": 0, "length": 5})
        );
        assert_eq!(e[1], json!({"type": "url", "offset": 11, "length": 18}));
        assert!(text_entities("a/b no command").is_empty());
    }

    #[test]
    fn html_is_checked_like_telegram() {
        assert_eq!(
            parse_html("<b>a &amp; b</b> &lt;x&gt; <a href=\"u\">l</a>").as_deref(),
            Ok("a & b <x> l")
        );
        assert!(parse_html("1 < 2").is_err());
        assert!(parse_html("<b>x").is_err());
        assert!(parse_html("<div>x</div>").is_err());
        assert!(parse_html("<b><i>x</b></i>").is_err());
    }

    #[test]
    fn multipart_parses() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n-100\r\n--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\nabc\r\n\r\n--XX--\r\n";
        let parts = multipart_parts(body, "XX").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].data, b"-100");
        assert_eq!(parts[1].filename.as_deref(), Some("a.jpg"));
        assert_eq!(parts[1].data, b"abc\r\n");
    }
}
