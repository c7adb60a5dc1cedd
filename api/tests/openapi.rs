//! The OpenAPI document: a committed snapshot, complete (every route, every
//! error code), served over HTTP as built, and a docs UI with no CDN.
//!
//! After an intended API change:
//! `UPDATE_SNAPSHOTS=1 cargo test -p vaultstream-api --test openapi`, then
//! review the diff of `api/tests/snapshots/openapi.json`.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use support::{Backend, TestApp};
use vaultstream_core::ErrorCode;

/// Every route of `vaultstream_api::router`, as (method, OpenAPI path).
/// Add a route there → add it here → document it.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/shares"),
    ("post", "/api/v1/shares/batch"),
    ("get", "/api/v1/contents"),
    ("get", "/api/v1/contents/{id}"),
    ("put", "/api/v1/contents/{id}/tags"),
    ("get", "/api/v1/search"),
    ("get", "/api/v1/contents/{id}/history"),
    ("post", "/api/v1/contents/{id}/retry"),
    ("post", "/api/v1/contents/{id}/refresh"),
    ("get", "/api/v1/dead-letters"),
    ("post", "/api/v1/dead-letters/retry"),
    ("post", "/api/v1/dead-letters/{id}/retry"),
    ("get", "/api/v1/push-targets"),
    ("post", "/api/v1/push-targets"),
    ("get", "/api/v1/push-targets/{id}"),
    ("patch", "/api/v1/push-targets/{id}"),
    ("delete", "/api/v1/push-targets/{id}"),
    ("get", "/api/v1/pushed-records"),
    ("post", "/api/v1/pushed-records/{id}/resend"),
    ("get", "/api/v1/export"),
    ("get", "/api/v1/feeds"),
    ("post", "/api/v1/feeds"),
    ("get", "/api/v1/feeds/{id}"),
    ("delete", "/api/v1/feeds/{id}"),
    ("get", "/api/v1/logins"),
    ("put", "/api/v1/logins/{platform}"),
    ("delete", "/api/v1/logins/{platform}"),
    ("post", "/api/v1/logins/{platform}/check"),
    ("post", "/api/v1/logins/{platform}/qr"),
    ("post", "/api/v1/logins/{platform}/qr/poll"),
    ("get", "/api/v1/feed/rss"),
    ("get", "/api/v1/feed/atom"),
    ("get", "/api/v1/feed/json"),
    ("get", "/api/v1/health"),
    ("get", "/metrics"),
    ("get", "/blobs/sha256/{rest}"),
    ("head", "/blobs/sha256/{rest}"),
];

fn document() -> Value {
    serde_json::to_value(vaultstream_api::openapi::document()).expect("the document is JSON")
}

fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/openapi.json")
}

#[test]
fn document_matches_the_snapshot() {
    let mut pretty = serde_json::to_string_pretty(&document()).unwrap();
    pretty.push('\n');
    let path = snapshot_path();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &pretty).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != pretty {
        let first_diff = committed
            .lines()
            .zip(pretty.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(pretty.lines().count()));
        panic!(
            "the OpenAPI document differs from {} (first at line {}).\n\
             If the API change is intended, run\n    \
             UPDATE_SNAPSHOTS=1 cargo test -p vaultstream-api --test openapi\n\
             and review the diff of the snapshot before committing it.\n\
             committed: {:?}\ngenerated: {:?}",
            path.display(),
            first_diff + 1,
            committed.lines().nth(first_diff).unwrap_or("<end of file>"),
            pretty.lines().nth(first_diff).unwrap_or("<end of file>"),
        );
    }
}

#[test]
fn document_is_openapi_3_1_with_info() {
    let doc = document();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "VaultStream");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
}

#[test]
fn every_route_is_documented_and_nothing_else() {
    let doc = document();
    let methods = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in methods {
            if item.get(m).is_some() {
                documented.insert((m.to_owned(), path.clone()));
            }
        }
    }
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        documented, expected,
        "documented operations vs the router's routes"
    );
    let mut ids = BTreeSet::new();
    for (m, p) in ROUTES {
        let op = &doc["paths"][p][m];
        let id = op["operationId"].as_str().expect("an operationId");
        assert!(ids.insert(id), "{m} {p}: operationId `{id}` is not unique");
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{m} {p} has responses"
        );
        let security = op["security"].as_array().expect("security on every op");
        if *p == "/api/v1/health" {
            assert!(security.is_empty(), "health is open");
        } else if p.starts_with("/api/v1/feed/") {
            assert_eq!(security.len(), 1, "{m} {p} needs a feed token");
            assert!(security[0].get("feed_token").is_some(), "{m} {p}");
            assert!(op["responses"]["401"].is_object(), "{m} {p} documents 401");
        } else if p.starts_with("/blobs/") {
            assert_eq!(security.len(), 2, "{m} {p}: a key or a feed token");
            assert!(security[0].get("bearer").is_some(), "{m} {p}");
            assert!(security[1].get("feed_token").is_some(), "{m} {p}");
        } else {
            assert_eq!(security.len(), 1, "{m} {p} needs a key");
            assert!(security[0].get("bearer").is_some(), "{m} {p}");
            assert!(op["responses"]["401"].is_object(), "{m} {p} documents 401");
        }
    }
    // Every documented error answer uses the envelope.
    for (p, item) in doc["paths"].as_object().unwrap() {
        for (m, op) in item.as_object().unwrap() {
            let Some(responses) = op.get("responses").and_then(Value::as_object) else {
                continue;
            };
            for (status, resp) in responses {
                if status.starts_with('4') || (status.starts_with('5') && p != "/api/v1/health") {
                    assert_eq!(
                        resp["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorResponse",
                        "{m} {p} {status}"
                    );
                }
            }
        }
    }
    // Bodies and query parameters are described.
    for (m, p) in [
        ("post", "/api/v1/shares"),
        ("post", "/api/v1/shares/batch"),
        ("post", "/api/v1/push-targets"),
        ("patch", "/api/v1/push-targets/{id}"),
        ("post", "/api/v1/feeds"),
    ] {
        assert!(
            doc["paths"][p][m]["requestBody"].is_object(),
            "{m} {p} has a request body"
        );
    }
    let params: Vec<&str> = doc["paths"]["/api/v1/contents"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in ["status", "platform", "tag", "q", "limit", "cursor"] {
        assert!(params.contains(&name), "GET /contents documents `{name}`");
    }
}

#[test]
fn every_error_code_is_in_the_error_schema() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["ErrorResponse"]["properties"]["error"]["$ref"],
        "#/components/schemas/ErrorDetail"
    );
    assert_eq!(
        schemas["ErrorDetail"]["properties"]["code"]["$ref"],
        "#/components/schemas/ErrorCode"
    );
    let listed: BTreeSet<&str> = schemas["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode is an enum")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let all: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_served_and_the_docs_ui_is_self_contained() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let resp = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let served: Value = resp.json().await.unwrap();
    assert_eq!(served, document());

    let resp = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.url());
    assert!(
        resp.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert_no_external_hosts("/docs", &html);
    // The page's own scripts and styles are served and are local too.
    let mut assets = 0;
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            let target = part.split('"').next().unwrap();
            let url = if target.starts_with('/') {
                app.url(target)
            } else {
                app.url(&format!("/docs/{}", target.trim_start_matches("./")))
            };
            let resp = app.client.get(&url).send().await.unwrap();
            assert_eq!(resp.status(), 200, "{url}");
            let body = resp.text().await.unwrap();
            if url.ends_with(".js") && url.contains("initializer") {
                assert!(body.contains("/api/openapi.json"), "{body}");
            }
            if url.ends_with(".html") || url.ends_with(".css") || url.contains("initializer") {
                assert_no_external_hosts(&url, &body);
            }
            assets += 1;
        }
    }
    assert!(assets >= 3, "the page loads its assets: {html}");
}

fn assert_no_external_hosts(what: &str, text: &str) {
    for attr in ["src=", "href=", "url("] {
        for part in text.split(attr).skip(1) {
            let target = part.trim_start_matches(['"', '\'']);
            assert!(
                !(target.starts_with("http://")
                    || target.starts_with("https://")
                    || target.starts_with("//")),
                "{what} loads from another host: {attr}{}",
                &target[..target.len().min(80)]
            );
        }
    }
}
