//! Fault drill: a corpus of a few hundred malformed requests, generated
//! deterministically (a seeded SplitMix64), thrown at every route of the
//! real server on SQLite and on PostgreSQL.
//!
//! Categories: malformed JSON (truncated, trailing garbage, mutated, wrong
//! types for every field, nulls, arrays and scalars instead of objects,
//! 10k-deep nesting), huge bodies (over the body limit → 413), control
//! characters and NUL in bodies, paths and queries, invalid UTF-8 in the
//! body, path and query (over a raw TCP socket with hand-written HTTP/1.1:
//! reqwest will not send those bytes), absurd query values, absurd path ids,
//! wrong content types, wrong methods on every route, unknown routes,
//! oversized headers, and garbage `Authorization` / `X-Request-Id` headers.
//!
//! Each answer must be a 4xx (never a 5xx, never a dropped connection) in
//! the error envelope with a code from the contract whose status is the one
//! answered; inputs a lenient server may accept (an ignored query
//! parameter, a note with a bell character) must at least not be a 5xx. A
//! valid share and a valid push target made before the corpus must be
//! unchanged after it, every item the corpus got accepted must be
//! retrievable, and `/api/v1/health` must still answer 200. All failures
//! are reported together.

mod support;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use support::{Backend, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vaultstream_core::ErrorCode;

both_backends!(bad_input_corpus);

/// `vaultstream_api::MAX_BODY_BYTES`, for bodies just over it.
const LIMIT: usize = vaultstream_api::MAX_BODY_BYTES;
const SEED: u64 = 0x5EED_BAD1_F00D_CAFE;
/// Requests in flight at once.
const PARALLEL: usize = 8;
const TIMEOUT: Duration = Duration::from_secs(15);

// -- the corpus ------------------------------------------------------------

/// SplitMix64: small, seeded, the same corpus on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    fn pick_from(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| alphabet[self.below(alphabet.len())] as char)
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A 4xx in the envelope.
    Reject,
    /// Not a 5xx (a lenient server may accept it); a 4xx is in the envelope.
    Survive,
    /// Refused by the HTTP layer before any route sees it: any 4xx; a JSON
    /// body, if there is one, is in the envelope.
    Protocol,
}

#[derive(Debug, Clone)]
enum Body {
    None,
    Bytes(Vec<u8>),
    /// Sent with `Transfer-Encoding: chunked` (no length up front).
    Chunked(Vec<u8>),
    /// Raw only: `Content-Length: declared`, then `sent` bytes and a stall.
    Lying {
        declared: usize,
        sent: Vec<u8>,
    },
}

#[derive(Debug, Clone)]
struct Case {
    category: &'static str,
    method: String,
    /// The request target as sent (may hold bytes no URL type accepts).
    target: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    body: Body,
    /// Hand-written HTTP/1.1 on a TCP socket instead of reqwest.
    raw: bool,
    expect: Expect,
    /// The exact `error.code` wanted, when one answer is right.
    code: Option<&'static str>,
}

fn case(category: &'static str, method: &str, target: impl Into<Vec<u8>>) -> Case {
    Case {
        category,
        method: method.to_owned(),
        target: target.into(),
        headers: Vec::new(),
        body: Body::None,
        raw: false,
        expect: Expect::Reject,
        code: None,
    }
}

impl Case {
    fn json(self, body: impl Into<Vec<u8>>) -> Self {
        self.header("content-type", "application/json").body(body)
    }
    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Body::Bytes(body.into());
        self
    }
    fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
    fn raw(mut self) -> Self {
        self.raw = true;
        self
    }
    fn survive(mut self) -> Self {
        self.expect = Expect::Survive;
        self
    }
    fn protocol(mut self) -> Self {
        self.expect = Expect::Protocol;
        self
    }
    fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }
    fn describe(&self) -> String {
        let mut target = String::from_utf8_lossy(&self.target)
            .escape_debug()
            .to_string();
        if target.chars().count() > 100 {
            let cut: String = target.chars().take(100).collect();
            target = format!("{cut}…({} bytes)", self.target.len());
        }
        let body = match &self.body {
            Body::None => String::new(),
            Body::Bytes(b) | Body::Chunked(b) => format!(" body={}", preview(b)),
            Body::Lying { declared, sent } => {
                format!(" body=<declared {declared}, sent {}>", sent.len())
            }
        };
        format!("[{}] {} {target}{body}", self.category, self.method)
    }
}

fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
        .escape_debug()
        .to_string();
    if bytes.len() > 80 {
        format!("{text}…({} bytes)", bytes.len())
    } else {
        text
    }
}

/// URL-safe base64 without padding (what the list cursors use).
fn b64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// What the corpus knows about the data made before it.
struct Fixture {
    /// A content id that exists (only ever read by the corpus).
    content: i64,
    /// A push target id that exists (only ever sent bad bodies).
    target: i64,
    /// A blob on local disk, for `Range` garbage.
    blob_path: String,
}

/// JSON values of every type, for "wrong type" fields.
const JUNK: &[&str] = &[
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1.5",
    "1e400",
    "9223372036854775808",
    "\"\"",
    "\"x\"",
    "[]",
    "[1]",
    "[\"a\"]",
    "[null]",
    "{}",
    "{\"a\":1}",
];

/// Path ids that are not plain positive integers → 400: among them `%0a1`
/// and `%20`-padded or signed spellings, which must not reach item 1 (the
/// fixture) — plus the largest i64, which does not exist → 404.
fn bad_ids() -> Vec<String> {
    let mut ids: Vec<String> = [
        "0",
        "-1",
        "1180591620717411303424", // 2^70
        "9223372036854775808",    // i64::MAX + 1
        "-9223372036854775808",
        "abc",
        "%00",
        "%ff",
        "%c3%28",
        "1.5",
        "1e3",
        "0x10",
        "%2F",
        "%20",
        "%0a1",
        "١٢٣",
        "+999999",
        "9223372036854775807",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    ids.push("9".repeat(5000));
    ids
}

fn build_corpus(rng: &mut Rng, fx: &Fixture) -> Vec<Case> {
    let mut c: Vec<Case> = Vec::new();
    let mut fresh = 0u32;
    let mut fresh_url = || {
        fresh += 1;
        format!("https://x.com/drill/status/{}", 9_000_000 + fresh)
    };
    let target_path = format!("/api/v1/push-targets/{}", fx.target);

    // -- malformed JSON on every route that reads a body ------------------
    let valid_share =
        json!({"url": "https://x.com/drill/status/1", "tags": ["drill"], "note": "n"}).to_string();
    let valid_target =
        json!({"chat_id": "@drillchannel", "platforms": ["twitter"], "tags": ["a"], "enabled": true})
            .to_string();
    let valid_patch = json!({"name": "renamed", "enabled": false}).to_string();
    let body_routes: Vec<(&str, String, String)> = vec![
        ("POST", "/api/v1/shares".to_owned(), valid_share.clone()),
        (
            "POST",
            "/api/v1/push-targets".to_owned(),
            valid_target.clone(),
        ),
        ("PATCH", target_path.clone(), valid_patch.clone()),
    ];
    for (method, path, valid) in &body_routes {
        let v = valid.as_bytes();
        // Truncated: no prefix of an object is a JSON document.
        for _ in 0..6 {
            let at = rng.range(1, v.len());
            c.push(
                case("json.truncated", method, path.as_str())
                    .json(&v[..at])
                    .code("invalid_json"),
            );
        }
        for garbage in ["}", "garbage", ",", "{}", "\u{0}", "]]]", "\"\""] {
            let mut b = v.to_vec();
            b.extend_from_slice(garbage.as_bytes());
            c.push(
                case("json.trailing", method, path.as_str())
                    .json(b)
                    .code("invalid_json"),
            );
        }
        // A structural byte dropped in at random: still JSON sometimes,
        // so never aimed at the push target that must stay unchanged.
        let mutated_path = path.replace(&target_path, "/api/v1/push-targets/999999");
        for _ in 0..5 {
            let mut b = v.to_vec();
            let at = rng.below(b.len());
            b.insert(at, b"{}[]\",:\\"[rng.below(8)]);
            c.push(
                case("json.mutated", method, mutated_path.as_str())
                    .json(b)
                    .survive(),
            );
        }
        for whole in [
            "null",
            "[]",
            "[{}]",
            "\"a string\"",
            "42",
            "true",
            "{",
            "}",
            "{\"url\"}",
            "{'url': 'x'}",
            "{\"url\": \"\\ud800\"}",
            "{\"url\": 1e999999}",
            "\u{feff}{}",
            "NaN",
            "/* */ {}",
        ] {
            c.push(case("json.shape", method, path.as_str()).json(whole));
        }
        // Bytes that are not UTF-8 at all.
        let mut bad_utf8 = br#"{"url": ""#.to_vec();
        bad_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
        bad_utf8.extend_from_slice(br#""}"#);
        c.push(
            case("utf8.body", method, path.as_str())
                .json(bad_utf8)
                .code("invalid_json"),
        );
        c.push(
            case("utf8.body", method, path.as_str())
                .json(rng.bytes(256))
                .code("invalid_json"),
        );
        // 10k-deep nesting, whole body and inside a field.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        c.push(
            case("json.deep", method, path.as_str())
                .json(deep.clone())
                .code("invalid_json"),
        );
        c.push(
            case("json.deep", method, path.as_str())
                .json(format!(
                    "{}1{}",
                    "{\"a\":".repeat(10_000),
                    "}".repeat(10_000)
                ))
                .code("invalid_json"),
        );
        c.push(
            case("json.deep", method, path.as_str())
                .json(format!("{{\"url\": {deep}, \"tags\": {deep}}}"))
                .code("invalid_json"),
        );
        c.push(
            case("json.deep", method, path.as_str())
                .json("[".repeat(50_000))
                .code("invalid_json"),
        );
    }

    // -- wrong types for every field --------------------------------------
    // (field, values that are valid there and so not in the corpus)
    let share_fields: &[(&str, &[&str])] = &[
        ("url", &[]),
        ("tags", &["[]", "[\"a\"]"]),
        ("note", &["null", "\"\"", "\"x\""]),
    ];
    for (field, valid) in share_fields {
        for junk in JUNK.iter().filter(|j| !valid.contains(j)) {
            let mut body: serde_json::Map<String, Value> = serde_json::from_str(&format!(
                r#"{{"url": "{}", "tags": ["drill"]}}"#,
                fresh_url()
            ))
            .unwrap();
            body.remove(*field);
            let mut text = Value::Object(body).to_string();
            text.insert_str(1, &format!("\"{field}\": {junk},"));
            c.push(case("json.types", "POST", "/api/v1/shares").json(text));
        }
    }
    let target_fields: &[(&str, &[&str])] = &[
        ("chat_id", &["-1"]),
        ("name", &["null", "\"\"", "\"x\""]),
        ("platforms", &["null", "[]"]),
        ("tags", &["null", "[]", "[\"a\"]"]),
        ("enabled", &["null", "true", "false"]),
    ];
    for (field, valid) in target_fields {
        for junk in JUNK.iter().filter(|j| !valid.contains(j)) {
            let mut body: serde_json::Map<String, Value> =
                serde_json::from_str(&valid_target).unwrap();
            body.remove(*field);
            let mut text = Value::Object(body).to_string();
            text.insert_str(1, &format!("\"{field}\": {junk},"));
            c.push(case("json.types", "POST", "/api/v1/push-targets").json(text));
        }
    }
    // PATCH semantics differ: `null` clears a name, absent fields stay.
    let patch_fields: &[(&str, &[&str])] = &[
        ("chat_id", &["-1"]),
        ("name", &["null", "\"\"", "\"x\""]),
        ("platforms", &["[]"]),
        ("tags", &["[]", "[\"a\"]"]),
        ("enabled", &["true", "false"]),
    ];
    for (field, valid) in patch_fields {
        for junk in JUNK.iter().filter(|j| !valid.contains(j)) {
            c.push(
                case("json.types", "PATCH", target_path.as_str())
                    .json(format!("{{\"{field}\": {junk}}}")),
            );
        }
    }
    c.push(
        case("json.types", "PATCH", target_path.as_str())
            .json(r#"{"enabled": false, "surprise": 1}"#)
            .code("invalid_body"),
    );

    // -- huge bodies: over the limit is 413 --------------------------------
    let huge = |n: usize| {
        let mut b = br#"{"url": "https://x.com/drill/status/2", "note": ""#.to_vec();
        b.resize(n, b'a');
        b.extend_from_slice(br#""}"#);
        b
    };
    for (method, path, _) in &body_routes {
        c.push(
            case("huge", method, path.as_str())
                .json(huge(5 * 1024 * 1024))
                .code("payload_too_large"),
        );
        c.push(
            case("huge", method, path.as_str())
                .json(huge(LIMIT + 1))
                .code("payload_too_large"),
        );
        let mut chunked =
            case("huge", method, path.as_str()).header("content-type", "application/json");
        chunked.body = Body::Chunked(huge(3 * 1024 * 1024));
        c.push(chunked.code("payload_too_large"));
        let mut lying = case("huge", method, path.as_str())
            .header("content-type", "application/json")
            .raw();
        lying.body = Body::Lying {
            declared: 50 * 1024 * 1024,
            sent: huge(200 * 1024),
        };
        c.push(lying.code("payload_too_large"));
    }
    // The limit holds on routes that read no body too (and the answer
    // reaches a client that writes the whole body before reading).
    for (method, path) in [
        ("POST", "/api/v1/contents/999999/retry"),
        ("POST", "/api/v1/dead-letters/999999/retry"),
        ("POST", "/api/v1/dead-letters/retry?limit=-1"),
        ("POST", "/api/v1/pushed-records/999999/resend"),
        ("GET", "/api/v1/contents/abc"),
        ("GET", "/api/v1/health"),
        ("DELETE", "/api/v1/push-targets/999999"),
        ("PUT", "/api/v1/nope"),
    ] {
        c.push(
            case("huge", method, path)
                .json(huge(3 * 1024 * 1024))
                .code("payload_too_large"),
        );
    }
    // Under the limit but over what a field takes.
    c.push(
        case("huge", "POST", "/api/v1/shares")
            .json(json!({"url": format!("https://x.com/{}", "a".repeat(60_000))}).to_string()),
    );
    c.push(
        case("huge", "POST", "/api/v1/shares")
            .json(json!({"url": fresh_url(), "note": "n".repeat(50_000)}).to_string())
            .code("invalid_body"),
    );
    c.push(
        case("huge", "POST", "/api/v1/shares")
            .json(json!({"url": fresh_url(), "tags": vec!["t"; 10_000]}).to_string())
            .code("invalid_tag"),
    );
    let many_keys: String = (0..5000).fold(String::new(), |mut s, i| {
        let _ = write!(s, ",\"k{i}\":{i}");
        s
    });
    c.push(
        case("huge", "POST", "/api/v1/push-targets")
            .json(format!("{{\"chat_id\":\"@drillmany\"{many_keys}}}")),
    );
    c.push(
        case("huge", "POST", "/api/v1/shares").json(format!("{{\"url\":\"no link\"{many_keys}}}")),
    );

    // -- control characters and NUL ------------------------------------------
    let controls = [
        '\u{0}', '\u{1}', '\u{7}', '\u{8}', '\u{b}', '\u{c}', '\u{1b}', '\u{1f}', '\u{7f}',
        '\u{85}', '\u{2028}', '\n', '\r', '\t',
    ];
    for ch in controls {
        // (A NUL is refused before the tags are looked at.)
        let tag = case("control.tag", "POST", "/api/v1/shares")
            .json(json!({"url": fresh_url(), "tags": [format!("a{ch}b")]}).to_string());
        c.push(if ch == '\0' {
            tag
        } else {
            tag.code("invalid_tag")
        });
        // A line separator in a display name is odd but harmless.
        let name = case("control.target", "POST", "/api/v1/push-targets")
            .json(json!({"chat_id": "@drillchan", "name": format!("a{ch}b")}).to_string());
        c.push(if ch == '\u{2028}' {
            name.survive()
        } else {
            name
        });
        c.push(
            case("control.target", "PATCH", target_path.as_str())
                .json(json!({"tags": [format!("a{ch}b")]}).to_string()),
        );
    }
    // NUL where free text is stored or searched: refused, on every backend.
    let nul = '\u{0}';
    for body in [
        json!({"url": fresh_url(), "note": format!("a{nul}b")}),
        json!({"url": fresh_url(), "note": nul.to_string()}),
        json!({"url": format!("{nul}{}", fresh_url())}),
        json!({"url": format!("look {} {nul}", fresh_url())}),
        json!({"url": format!("{}?a={nul}", fresh_url())}),
        json!({"url": format!("https://example.com/a{nul}b")}),
        json!({"url": fresh_url(), "tags": ["ok"], "note": "fine", "x": nul.to_string()}),
    ] {
        c.push(case("control.nul", "POST", "/api/v1/shares").json(body.to_string()));
    }
    for body in [
        json!({"chat_id": format!("@drill{nul}chan")}),
        json!({"chat_id": "@drillnulchan", "name": nul.to_string()}),
        json!({"chat_id": "@drillnulchan", "tags": [nul.to_string()]}),
        json!({"chat_id": "@drillnulchan", "platforms": [format!("x{nul}")]}),
    ] {
        c.push(case("control.nul", "POST", "/api/v1/push-targets").json(body.to_string()));
    }
    for q in [
        "/api/v1/contents?tag=%00",
        "/api/v1/contents?tag=a%00b",
        "/api/v1/contents?q=%00",
        "/api/v1/contents?q=a%00",
        "/api/v1/contents?status=%00",
        "/api/v1/contents?platform=%00",
        "/api/v1/contents?cursor=%00",
        "/api/v1/contents?limit=%00",
        "/api/v1/dead-letters?platform=%00",
        "/api/v1/dead-letters?error_type=%00",
        "/api/v1/dead-letters?state=%00",
        "/api/v1/pushed-records?status=%00",
        "/api/v1/pushed-records?target_id=%00",
        "/api/v1/contents/%00",
        "/api/v1/push-targets/1%00",
        "/blobs/sha256/%00",
        "/%00",
    ] {
        c.push(case("control.nul", "GET", q));
        // The same bytes unencoded: the HTTP layer refuses them.
        c.push(
            case("control.raw", "GET", q.replace("%00", "\0"))
                .raw()
                .protocol(),
        );
    }
    c.push(case(
        "control.nul",
        "POST",
        "/api/v1/dead-letters/retry?platform=%00",
    ));
    // Other control characters in a query are harmless text.
    for (encoded, raw) in [
        (
            "/api/v1/contents?q=%01%1b%7f",
            "/api/v1/contents?q=\x01\x1b\x7f",
        ),
        ("/api/v1/contents?tag=%07", "/api/v1/contents?tag=\x07"),
        ("/api/v1/contents?q=%0d%0a", "/api/v1/contents?q=\r\n"),
    ] {
        c.push(case("control.query", "GET", encoded).survive());
        c.push(case("control.raw", "GET", raw).raw().protocol());
    }
    // Notes and share texts with control characters other than NUL may be
    // kept as sent.
    for ch in ['\u{1}', '\u{7}', '\u{1b}', '\u{7f}'] {
        c.push(
            case("control.note", "POST", "/api/v1/shares")
                .json(json!({"url": fresh_url(), "note": format!("a{ch}b")}).to_string())
                .survive(),
        );
    }

    // -- invalid UTF-8 in path and query -------------------------------------
    for target in [
        &b"/api/v1/contents/\xff\xfe"[..],
        b"/api/v1/contents?q=\xff",
        b"/api/v1/contents?tag=\xc0\xaf",
        b"/api/v1/contents?status=\xff",
        b"/api/v1/dead-letters?platform=\xfe",
        b"/api/v1/push-targets/\xff",
        b"/blobs/sha256/\xff/\xfe.webp",
        b"/api/v1/\xff",
        b"/\xc3\x28",
    ] {
        // Either the HTTP layer refuses the bytes or the route does.
        c.push(case("utf8.raw", "GET", target).raw().protocol());
    }
    let mut raw_body = br#"{"url": "https://x.com/a/status/1"#.to_vec();
    raw_body.extend_from_slice(b"\xc3\x28\"}");
    c.push(
        case("utf8.raw", "POST", "/api/v1/shares")
            .json(raw_body)
            .raw()
            .code("invalid_json"),
    );
    for path in [
        "/api/v1/contents/%ff",
        "/api/v1/contents/%c3%28/retry",
        "/api/v1/dead-letters/%ff/retry",
        "/api/v1/push-targets/%c3%28",
        "/api/v1/pushed-records/%ed%a0%80/resend",
        "/blobs/sha256/%ff%fe/x.webp",
        "/blobs/sha256/ab/cd/%c3%28.webp",
        "/api/v1/%ff",
    ] {
        let method = if path.ends_with("retry") || path.ends_with("resend") {
            "POST"
        } else {
            "GET"
        };
        c.push(case("utf8.path", method, path));
    }
    for q in [
        "/api/v1/contents?status=%ff",
        "/api/v1/contents?platform=%c3%28",
        "/api/v1/contents?cursor=%ff%fe",
        "/api/v1/contents?limit=%ff",
        "/api/v1/dead-letters?error_type=%ff",
        "/api/v1/pushed-records?target_id=%ff",
    ] {
        c.push(case("utf8.query", "GET", q));
    }
    for q in ["/api/v1/contents?q=%ff", "/api/v1/contents?tag=%c3%28"] {
        c.push(case("utf8.query", "GET", q).survive());
    }

    // -- absurd query values -----------------------------------------------
    let list_routes: &[(&str, &str, u64)] = &[
        ("GET", "/api/v1/contents", 200),
        ("GET", "/api/v1/dead-letters", 200),
        ("GET", "/api/v1/pushed-records", 200),
        ("POST", "/api/v1/dead-letters/retry", 10_000),
    ];
    let mut cursors: Vec<String> = vec![
        "garbage".into(),
        "%%%".into(),
        "====".into(),
        b64(b"v1.-5"),
        b64(b"v1.0"),
        b64(b"v1.abc"),
        b64(b"v1.99999999999999999999"),
        b64(b"v2.5"),
        b64(b"v1.5\0"),
        b64(&[0xff, 0xfe, 0xfd]),
        "A".repeat(20_000),
    ];
    for _ in 0..4 {
        let n = rng.range(1, 60);
        cursors.push(b64(&rng.bytes(n)));
    }
    for (method, path, max) in list_routes {
        let mut bad_limits: Vec<String> = [
            "-1",
            "0",
            "99999999999999999999",
            "1e3",
            "0x10",
            "ten",
            "1.5",
            "%ff",
            "--1",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        bad_limits.push((max + 1).to_string());
        bad_limits.push("7".repeat(3000));
        for l in &bad_limits {
            c.push(
                case("query.limit", method, format!("{path}?limit={l}")).code("invalid_parameter"),
            );
        }
        for cur in &cursors {
            c.push(
                case("query.cursor", method, format!("{path}?cursor={cur}")).code("invalid_cursor"),
            );
        }
        // Repeated parameters: the first one counts.
        c.push(case(
            "query.repeat",
            method,
            format!("{path}?limit=-1&limit=5"),
        ));
        c.push(case("query.repeat", method, format!("{path}?limit=5&limit=-1")).survive());
        // Unknown or empty parameters are ignored.
        for q in [
            "since=not-a-date",
            "until=yesterday&since=%ff",
            "limit=",
            "limit",
            "&&&&",
            "=",
            "%",
            "a=%zz",
        ] {
            c.push(case("query.ignored", method, format!("{path}?{q}")).survive());
        }
        c.push(
            case(
                "query.long",
                method,
                format!("{path}?since={}", "x".repeat(30_000)),
            )
            .survive(),
        );
    }
    for q in [
        "/api/v1/contents?status=xyz",
        "/api/v1/contents?status=xyz&status=pulled",
        "/api/v1/contents?platform=myspace",
        "/api/v1/contents?platform=twitter&platform=myspace&limit=0",
        "/api/v1/dead-letters?error_type=oops",
        "/api/v1/dead-letters?state=maybe",
        "/api/v1/dead-letters?platform=myspace",
        "/api/v1/pushed-records?status=xyz",
        "/api/v1/pushed-records?target_id=-1",
        "/api/v1/pushed-records?target_id=0",
        "/api/v1/pushed-records?target_id=1180591620717411303424",
        "/api/v1/pushed-records?content_id=abc",
        "/api/v1/pushed-records?content_id=1.5",
    ] {
        c.push(case("query.values", "GET", q).code("invalid_parameter"));
    }
    for q in [
        "/api/v1/dead-letters/retry?error_type=oops",
        "/api/v1/dead-letters/retry?state=maybe",
        "/api/v1/dead-letters/retry?platform=myspace",
    ] {
        c.push(case("query.values", "POST", q).code("invalid_parameter"));
    }
    let long = "z".repeat(20_000);
    c.push(case(
        "query.long",
        "GET",
        format!("/api/v1/contents?q={}", "q".repeat(201)),
    ));
    c.push(case(
        "query.long",
        "GET",
        format!("/api/v1/contents?q={long}"),
    ));
    c.push(case(
        "query.long",
        "GET",
        format!("/api/v1/contents?status={long}"),
    ));
    c.push(case(
        "query.long",
        "GET",
        format!("/api/v1/contents?platform={long}"),
    ));
    c.push(case("query.long", "GET", format!("/api/v1/contents?tag={long}")).survive());
    c.push(case(
        "query.long",
        "GET",
        format!("/api/v1/dead-letters?platform={long}"),
    ));
    c.push(case(
        "query.long",
        "GET",
        format!("/api/v1/pushed-records?status={long}"),
    ));

    // -- absurd path ids on every route with an id -------------------------
    let id_routes: &[(&str, &str, &str)] = &[
        ("GET", "/api/v1/contents/", ""),
        ("POST", "/api/v1/contents/", "/retry"),
        ("POST", "/api/v1/dead-letters/", "/retry"),
        ("GET", "/api/v1/push-targets/", ""),
        ("PATCH", "/api/v1/push-targets/", ""),
        ("DELETE", "/api/v1/push-targets/", ""),
        ("POST", "/api/v1/pushed-records/", "/resend"),
    ];
    for (method, before, after) in id_routes {
        for id in bad_ids() {
            let mut k = case("path.id", method, format!("{before}{id}{after}"));
            if *method == "PATCH" {
                k = k.json(valid_patch.clone());
            }
            c.push(k);
        }
        // Dot segments, sent as is (a URL type would resolve them).
        for id in ["..", ".", "%2e%2e", "..%2f..%2fetc%2fpasswd"] {
            c.push(case("path.id", method, format!("{before}{id}{after}")).raw());
        }
    }

    // -- malformed blob keys -------------------------------------------------
    let hex: String = rng.pick_from(b"0123456789abcdef", 64);
    for key in [
        "x".to_owned(),
        "ab/cd".to_owned(),
        format!("ab/cd/{}.webp", &hex[..63]),
        format!("{}/{}/{hex}.exe", &hex[..2], &hex[2..4]),
        format!("{}/{}/{}.webp", &hex[..2], &hex[2..4], hex.to_uppercase()),
        format!("{}/{}/{hex}.webp", &hex[..2], &hex[2..4]),
        format!("00/00/{hex}.webp"),
        "%2e%2e/%2e%2e/vaultstream.db".to_owned(),
        "ab/cd/%2e%2e%2f%2e%2e%2fvaultstream.db".to_owned(),
        format!("ab/cd/{}.webp", "a".repeat(10_000)),
        format!("{}/{}/{hex}.webp/extra", &hex[..2], &hex[2..4]),
    ] {
        c.push(case("blob.key", "GET", format!("/blobs/sha256/{key}")).code("not_found"));
    }
    c.push(
        case("blob.key", "GET", "/blobs/sha256/../../vaultstream.db")
            .raw()
            .code("not_found"),
    );
    for range in [
        "bytes=99999999999999999999999-",
        "bytes=-0",
        "bytes=5-1",
        "bytes=0-1,2-3,4-5",
        "bytes=--",
        "lines=1-2",
        "bytes=100000-",
        "bytes=-99999999999999999999",
    ] {
        c.push(
            case("blob.range", "GET", fx.blob_path.as_str())
                .header("range", range)
                .survive(),
        );
    }
    c.push(
        case("blob.range", "GET", fx.blob_path.as_str())
            .header("range", b"bytes=\xff-\xfe".to_vec())
            .raw()
            .survive(),
    );
    c.push(
        case("blob.range", "GET", fx.blob_path.as_str())
            .header("range", b"bytes=\x01-2".to_vec())
            .raw()
            .protocol(),
    );

    // -- wrong content types -------------------------------------------------
    for (method, path, valid) in &body_routes {
        for (ct, body) in [
            (
                "application/x-www-form-urlencoded",
                "url=https%3A%2F%2Fx.com%2Fa%2Fstatus%2F1",
            ),
            (
                "multipart/form-data; boundary=x",
                "--x\r\nContent-Disposition: form-data; name=\"url\"\r\n\r\nhttps://x.com/a/status/1\r\n--x--\r\n",
            ),
            (
                "application/xml",
                "<share><url>https://x.com/a/status/1</url></share>",
            ),
            ("text/plain", "https://x.com/a/status/1"),
            ("", "url=x"),
            ("][}{", "url=x"),
            ("image/png", "\u{89}PNG\r\n"),
        ] {
            c.push(
                case("content_type", method, path.as_str())
                    .header("content-type", ct)
                    .body(body)
                    .code("unsupported_media_type"),
            );
        }
        // Declared JSON, but not JSON.
        c.push(
            case("content_type", method, path.as_str())
                .json("url=https%3A%2F%2Fx.com%2Fa%2Fstatus%2F1")
                .code("invalid_json"),
        );
        let utf16: Vec<u8> = valid.encode_utf16().flat_map(u16::to_le_bytes).collect();
        c.push(
            case("content_type", method, path.as_str())
                .header("content-type", "application/json; charset=utf-16")
                .body(utf16)
                .code("invalid_json"),
        );
        // A compressed body the server does not inflate.
        c.push(
            case("content_type", method, path.as_str())
                .json(vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xab, 0xae, 5, 0])
                .header("content-encoding", "gzip")
                .code("invalid_json"),
        );
        // No content type and no JSON.
        c.push(
            case("content_type", method, path.as_str())
                .body("hello")
                .code("invalid_json"),
        );
        c.push(
            case("content_type", method, path.as_str())
                .header("content-type", b"application/\xffjson".to_vec())
                .body("{")
                .raw(),
        );
    }
    // JSON with another declared type is still read, so a wrong shape is 422.
    c.push(
        case("content_type", "POST", "/api/v1/shares")
            .header("content-type", "text/plain")
            .body("{\"url\": 5}")
            .code("invalid_body"),
    );

    // -- wrong methods on every route ----------------------------------------
    let blob_key = fx.blob_path.clone();
    let content_path = format!("/api/v1/contents/{}", fx.content);
    let routes: Vec<(String, &[&str])> = vec![
        ("/api/v1/shares".into(), &["POST"]),
        ("/api/v1/contents".into(), &["GET", "HEAD"]),
        (content_path.clone(), &["GET", "HEAD"]),
        ("/api/v1/contents/999999/retry".into(), &["POST"]),
        ("/api/v1/dead-letters".into(), &["GET", "HEAD"]),
        ("/api/v1/dead-letters/retry".into(), &["POST"]),
        ("/api/v1/dead-letters/999999/retry".into(), &["POST"]),
        ("/api/v1/push-targets".into(), &["GET", "HEAD", "POST"]),
        (target_path.clone(), &["GET", "HEAD", "PATCH", "DELETE"]),
        ("/api/v1/pushed-records".into(), &["GET", "HEAD"]),
        ("/api/v1/pushed-records/999999/resend".into(), &["POST"]),
        ("/api/v1/health".into(), &["GET", "HEAD"]),
        ("/metrics".into(), &["GET", "HEAD"]),
        (blob_key, &["GET", "HEAD"]),
        ("/admin".into(), &["GET", "HEAD"]),
        ("/".into(), &["GET", "HEAD"]),
        ("/items/1".into(), &["GET", "HEAD"]),
        ("/share".into(), &["GET", "HEAD"]),
        (format!("{content_path}/tags"), &["PUT"]),
        ("/api/openapi.json".into(), &["GET", "HEAD"]),
    ];
    for (path, allowed) in &routes {
        for method in [
            "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "BREW",
        ] {
            if allowed.contains(&method) {
                continue;
            }
            let mut k = case("method", method, path.as_str()).code("method_not_allowed");
            if matches!(method, "POST" | "PUT" | "PATCH") {
                k = k.json(r#"{"url": "https://x.com/drill/status/3"}"#);
            }
            c.push(k);
        }
    }

    // -- unknown routes ------------------------------------------------------
    for path in [
        "/items",
        "/items/1/x",
        "/api",
        "/api/v1",
        "/api/v1/",
        "/api/v2/shares",
        "/api/v1/share",
        "/api/v1/shares/1",
        "/api/v1/contents/",
        "/api/v1/contents/1/retry/again",
        "/api/v1/contents/1/media",
        "/api/v1/dead-letters/1",
        "/api/v1/pushed-records/1",
        "/api/v1/health/",
        "/API/V1/HEALTH",
        "//api/v1/health",
        "/api/v1//contents",
        "/blobs",
        "/blobs/sha256",
        "/blobs/sha512/ab/cd/x.webp",
        "/metrics/x",
        "/admin/x",
        "/.env",
        "/api/openapi.yaml",
    ] {
        c.push(case("unknown", "GET", path).code("not_found"));
    }
    c.push(
        case("unknown", "POST", "/api/v1/nope")
            .json("{}")
            .code("not_found"),
    );
    c.push(case("unknown", "DELETE", "/api/v1/contents").code("method_not_allowed"));
    for _ in 0..12 {
        let n = rng.range(1, 40);
        let junk = rng.pick_from(b"abcdefghijklmnopqrstuvwxyz0123456789-_.~", n);
        c.push(
            case(
                "unknown",
                "GET",
                format!("/api/v1/{junk}/{}", rng.below(1000)),
            )
            .code("not_found"),
        );
    }
    c.push(case("unknown", "GET", format!("/{}", "a".repeat(30_000))).code("not_found"));

    // -- oversized headers and request lines --------------------------------
    let big = |n: usize| "h".repeat(n).into_bytes();
    c.push(
        case("headers", "GET", "/api/v1/contents/abc")
            .header("x-big", big(20_000))
            .raw()
            .protocol(),
    );
    c.push(
        case("headers", "GET", "/api/v1/contents/abc")
            .header("x-big", big(100_000))
            .raw()
            .protocol(),
    );
    c.push(
        case("headers", "GET", "/api/v1/contents/abc")
            .header("x-big", big(1_000_000))
            .raw()
            .protocol(),
    );
    c.push(
        case("headers", "GET", "/api/v1/contents/abc")
            .header("cookie", big(300_000))
            .raw()
            .protocol(),
    );
    c.push(
        case("headers", "GET", "/api/v1/contents/abc")
            .header(&"n".repeat(10_000), "v")
            .raw()
            .protocol(),
    );
    let mut many = case("headers", "POST", "/api/v1/shares")
        .json("{")
        .raw()
        .protocol();
    for i in 0..500 {
        many = many.header(&format!("x-h{i}"), "v");
    }
    c.push(many);
    c.push(
        case(
            "headers",
            "GET",
            format!("/api/v1/contents/{}", "1".repeat(100_000)),
        )
        .raw()
        .protocol(),
    );
    c.push(
        case(
            "headers",
            "GET",
            format!("/api/v1/contents?q={}", "q".repeat(100_000)),
        )
        .raw()
        .protocol(),
    );
    c.push(
        case("headers", "GET", "/api/v1/contents/abc")
            .header("x-bad", b"a\x01b".to_vec())
            .raw()
            .protocol(),
    );
    // Request lines that are not HTTP.
    for (method, target) in [
        ("G\0T", &b"/api/v1/health"[..]),
        ("GET", b"api/v1/health"),
        ("GET", b"/api/v1/health HTTP/1.1 extra"),
        ("", b"/"),
    ] {
        c.push(case("protocol", method, target).raw().protocol());
    }

    // -- garbage credentials and request ids (auth is off) ------------------
    for auth in [
        &b"Bearer"[..],
        b"Bearer ",
        b"Bearer  \t ",
        b"Basic Zm9vOmJhcg==",
        b"bearer vs_op_0000000000000000000000000000000000000000",
        b"Bearer \x80\xff",
        b"Digest \"unterminated",
        b"Bearer a b c d",
    ] {
        c.push(
            case("auth", "GET", "/api/v1/contents/abc")
                .header("authorization", auth)
                .raw()
                .code("invalid_parameter"),
        );
        c.push(
            case("auth", "POST", "/api/v1/shares")
                .header("authorization", auth)
                .json("{")
                .raw()
                .code("invalid_json"),
        );
    }
    c.push(
        case("auth", "GET", "/api/v1/contents/abc")
            .header("authorization", format!("Bearer {}", "k".repeat(8000)))
            .code("invalid_parameter"),
    );
    c.push(
        case("auth", "GET", "/api/v1/health")
            .header("authorization", "Bearer x")
            .survive(),
    );
    // A client-chosen request id is stored with a submission.
    for rid in [
        "r".repeat(129).into_bytes(),
        "r".repeat(4000).into_bytes(),
        b"\xff\xfe".to_vec(),
        b"  ".to_vec(),
        "<script>alert(1)</script>".into(),
    ] {
        c.push(
            case("request_id", "POST", "/api/v1/shares")
                .header("x-request-id", rid)
                .json(json!({"url": fresh_url()}).to_string())
                .raw()
                .survive(),
        );
    }
    for host in [&b"exa mple.com"[..], b"\xff", b"[::1", b"a/b"] {
        c.push(
            case("request_id", "GET", content_path.as_str())
                .header("x-forwarded-host", host)
                .raw()
                .survive(),
        );
    }
    c
}

// -- sending ---------------------------------------------------------------

#[derive(Debug)]
struct Answer {
    status: u16,
    body: Vec<u8>,
}

async fn send(client: &reqwest::Client, addr: SocketAddr, k: &Case) -> Result<Answer, String> {
    if k.raw || matches!(k.body, Body::Lying { .. }) {
        return tokio::time::timeout(TIMEOUT, send_raw(addr, k))
            .await
            .map_err(|_| "no answer in time".to_owned())?;
    }
    let method = reqwest::Method::from_bytes(k.method.as_bytes()).map_err(|e| e.to_string())?;
    let target = String::from_utf8(k.target.clone()).map_err(|e| e.to_string())?;
    let mut req = client.request(method, format!("http://{addr}{target}"));
    for (name, value) in &k.headers {
        req = req.header(name.as_str(), value.as_slice());
    }
    req = match &k.body {
        Body::None => req,
        Body::Bytes(b) => req.body(b.clone()),
        Body::Chunked(b) => {
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                b.chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
            req.body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        }
        Body::Lying { .. } => unreachable!("sent raw"),
    };
    let resp = req.send().await.map_err(|e| format!("{e:?}"))?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(|e| format!("body: {e:?}"))?;
    Ok(Answer {
        status,
        body: body.to_vec(),
    })
}

/// Hand-written HTTP/1.1: any bytes in the request line and headers.
async fn send_raw(addr: SocketAddr, k: &Case) -> Result<Answer, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut head = Vec::new();
    head.extend_from_slice(k.method.as_bytes());
    head.push(b' ');
    head.extend_from_slice(&k.target);
    head.extend_from_slice(b" HTTP/1.1\r\n");
    write!(
        DisplayBytes(&mut head),
        "host: {addr}\r\nconnection: close\r\n"
    )
    .ok();
    for (name, value) in &k.headers {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    let body: &[u8] = match &k.body {
        Body::None => &[],
        Body::Bytes(b) | Body::Chunked(b) => {
            write!(DisplayBytes(&mut head), "content-length: {}\r\n", b.len()).ok();
            b
        }
        Body::Lying { declared, sent } => {
            write!(DisplayBytes(&mut head), "content-length: {declared}\r\n").ok();
            sent
        }
    };
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(body);
    let (mut rd, mut wr) = stream.into_split();
    // Write while reading: the server may answer (and close) before it has
    // read everything. The write half stays open (a half-close would end
    // the request early).
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&head).await;
        let _ = wr.flush().await;
        // Keep the write half open until the reader is done.
        tokio::time::sleep(TIMEOUT).await;
        drop(wr);
    });
    let mut buf = Vec::new();
    let read = rd.read_to_end(&mut buf).await;
    writer.abort();
    if buf.is_empty() {
        return Err(format!("connection closed without an answer ({read:?})"));
    }
    parse_response(&buf)
}

/// `write!` into a byte buffer.
struct DisplayBytes<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for DisplayBytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn parse_response(buf: &[u8]) -> Result<Answer, String> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(format!("incomplete answer: {}", preview(buf)));
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let mut body = buf[end + 4..].to_vec();
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Answer { status, body })
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size")?;
        let size_text = String::from_utf8_lossy(&b[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

// -- judging -----------------------------------------------------------------

/// `None` when the answer is right; what is wrong otherwise.
fn judge(k: &Case, answer: &Result<Answer, String>) -> Option<String> {
    let a = match answer {
        Ok(a) => a,
        Err(e) => return Some(format!("no answer: {e}")),
    };
    let s = a.status;
    let status_ok = match k.expect {
        Expect::Reject | Expect::Protocol => (400..500).contains(&s),
        Expect::Survive => s < 500,
    };
    if !status_ok {
        return Some(format!("status {s}"));
    }
    if s < 400 {
        return None;
    }
    let parsed: Option<Value> = serde_json::from_slice(&a.body).ok();
    // HEAD answers have no body; the HTTP layer's own refusals have an
    // empty one. Any other 4xx body is the envelope.
    let may_be_empty = k.method == "HEAD" || k.expect == Expect::Protocol;
    let v = match parsed {
        Some(v) => v,
        None if may_be_empty && a.body.is_empty() => return None,
        None => return Some(format!("status {s} without a JSON envelope")),
    };
    let code = v["error"]["code"].as_str().unwrap_or("");
    let message = v["error"]["message"].as_str().unwrap_or("");
    let Some(known) = ErrorCode::ALL.iter().find(|c| c.as_str() == code) else {
        return Some(format!("status {s}, no known error.code"));
    };
    if message.trim().is_empty() {
        return Some(format!("status {s}, empty error.message"));
    }
    if known.http_status() != s {
        return Some(format!(
            "status {s} with code {code} (which is {})",
            known.http_status()
        ));
    }
    if let Some(want) = k.code
        && want != code
    {
        return Some(format!("status {s} code {code}, wanted {want}"));
    }
    None
}

// -- the drill ---------------------------------------------------------------

async fn bad_input_corpus(b: Backend) {
    let started = std::time::Instant::now();
    // Default settings (auth off); no rate limit, so every request reaches
    // its route instead of a 429.
    let app = TestApp::spawn_with(b, &[("RATE_LIMIT_BURST", "0".to_owned())]).await;

    // Before: one accepted item, one push target, one blob.
    let (s, receipt) = app
        .share(json!({
            "url": "【千本樱】 https://www.bilibili.com/video/BV1GJ411x7h7?share_source=copy_web 复制链接",
            "tags": ["keep", "中文"],
            "note": "kept through the drill",
        }))
        .await;
    assert_eq!(s, 201, "{receipt}");
    let content = receipt["content_id"].as_i64().expect("content_id");
    let (s, item_before) = app.get(&format!("/api/v1/contents/{content}")).await;
    assert_eq!(s, 200, "{item_before}");
    let resp = app
        .client
        .post(app.url("/api/v1/push-targets"))
        .json(&json!({"chat_id": "@drillkeep", "name": "keep", "platforms": ["bilibili"], "tags": ["keep"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let created: Value = resp.json().await.unwrap();
    let target = created["id"].as_i64().expect("target id");
    // Compared as read back (PostgreSQL keeps microseconds).
    let (s, target_before) = app.get(&format!("/api/v1/push-targets/{target}")).await;
    assert_eq!(s, 200, "{target_before}");
    let blob_path = {
        use vaultstream_core::blob::{BlobKey, BlobStore, local::LocalStore};
        let store = LocalStore::new(&app.data_dir()).expect("store");
        let bytes: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let sha = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&bytes))
        };
        let key = BlobKey::new(&sha, "webp").unwrap();
        store
            .put_bytes(&key, bytes.into(), "image/webp")
            .await
            .expect("put");
        format!("/{}", key.as_str())
    };

    let fx = Fixture {
        content,
        target,
        blob_path,
    };
    let mut rng = Rng(SEED);
    let corpus = build_corpus(&mut rng, &fx);
    assert!(corpus.len() >= 300, "only {} cases", corpus.len());

    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let addr = app.addr;
    let mut results: Vec<(usize, Result<Answer, String>)> =
        futures::stream::iter(corpus.iter().enumerate())
            .map(|(i, k)| {
                let client = &client;
                async move { (i, send(client, addr, k).await) }
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
    results.sort_by_key(|(i, _)| *i);

    let mut failures = Vec::new();
    let mut accepted = Vec::new();
    let mut per_category: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut per_status: std::collections::BTreeMap<u16, usize> = Default::default();
    for (i, answer) in &results {
        let k = &corpus[*i];
        *per_category.entry(k.category).or_default() += 1;
        if let Ok(a) = answer {
            *per_status.entry(a.status).or_default() += 1;
        }
        if let Some(problem) = judge(k, answer) {
            let body = answer
                .as_ref()
                .map(|a| preview(&a.body))
                .unwrap_or_default();
            failures.push(format!("{problem}: {} → {body}", k.describe()));
        }
        if let Ok(a) = answer
            && a.status == 201
            && k.target == b"/api/v1/shares"
            && let Some(id) = serde_json::from_slice::<Value>(&a.body)
                .ok()
                .and_then(|v| v["content_id"].as_i64())
        {
            accepted.push(id);
        }
    }

    // After: the server is up, nothing accepted is lost or changed.
    let (s, health) = app.get("/api/v1/health").await;
    if s != 200 {
        failures.push(format!("after the corpus: health is {s}: {health}"));
    }
    let (s, item_after) = app.get(&format!("/api/v1/contents/{content}")).await;
    if s != 200 || item_after != item_before {
        failures.push(format!(
            "after the corpus: content {content} changed ({s}):\n before {item_before}\n after  {item_after}"
        ));
    }
    let (s, target_after) = app.get(&format!("/api/v1/push-targets/{target}")).await;
    if s != 200 || target_after != target_before {
        failures.push(format!(
            "after the corpus: push target {target} changed ({s}):\n before {target_before}\n after  {target_after}"
        ));
    }
    for id in &accepted {
        let (s, v) = app.get(&format!("/api/v1/contents/{id}")).await;
        if s != 200 {
            failures.push(format!("accepted content {id} is gone ({s}): {v}"));
        }
    }

    eprintln!(
        "{b:?}: {} requests ({} accepted as new items) in {:.1?}\n  per category: {per_category:?}\n  per status: {per_status:?}",
        corpus.len(),
        accepted.len(),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{b:?}: {} of {} bad requests were answered wrongly:\n{}",
        failures.len(),
        corpus.len(),
        failures.join("\n")
    );
}
