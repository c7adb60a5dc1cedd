//! The operator's login routes on SQLite and PostgreSQL, against a fake of
//! Bilibili (`vaultstream_testkit::bilibili`): a cookie goes in and never
//! comes out (answers, lists, errors, the OpenAPI document), environment
//! logins are read-only entries, bad input is a 4xx with its code, and the
//! QR login ends in a stored, checked login.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Backend, TestApp};
use vaultstream_testkit::bilibili::FakeBilibili;

const KEY: &str = "api-test-key-0123456789";
const COOKIE: &str = "SESSDATA=api-sess-31337; bili_jct=api-jct-8080";
const SECRETS: &[&str] = &["api-sess-31337", "api-jct-8080", "env-sub-4242"];

async fn call(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (u16, String) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = app.client.request(m, app.url(path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    for s in SECRETS {
        assert!(
            !text.contains(s),
            "{method} {path} answered with `{s}`: {text}"
        );
    }
    (status, text)
}

fn code(text: &str) -> String {
    serde_json::from_str::<Value>(text).unwrap_or(Value::Null)["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_go_in_and_never_come_out() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let fake = FakeBilibili::start(Duration::from_secs(180)).await;
        fake.add_session("api-sess-31337", "alice");
        let app = TestApp::spawn_with(
            backend,
            &[
                ("SECRET_KEY", KEY.to_owned()),
                ("UPSTREAM_OVERRIDES", fake.overrides()),
                ("COOKIES_WEIBO", "SUB=env-sub-4242".to_owned()),
            ],
        )
        .await;

        let (status, text) = call(
            &app,
            "PUT",
            "/api/v1/logins/bilibili",
            Some(json!({ "cookie": COOKIE })),
        )
        .await;
        assert_eq!(status, 200, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["login"]["source"], "vault");
        assert_eq!(v["login"]["account"], "alice");
        assert_eq!(v["check"]["state"], "valid");

        let (status, text) = call(&app, "GET", "/api/v1/logins", None).await;
        assert_eq!(status, 200);
        let v: Value = serde_json::from_str(&text).unwrap();
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{text}");
        assert_eq!(items[0]["platform"], "bilibili");
        assert_eq!(items[0]["qr"], true);
        assert_eq!(items[1]["platform"], "weibo");
        assert_eq!(
            (&items[1]["source"], &items[1]["read_only"]),
            (&json!("env"), &json!(true))
        );

        // Bad input: 4xx with a code, never the value.
        for (method, path, body, status, want) in [
            (
                "PUT",
                "/api/v1/logins/nowhere",
                Some(json!({"cookie": COOKIE})),
                400,
                "invalid_parameter",
            ),
            (
                "PUT",
                "/api/v1/logins/web",
                Some(json!({"cookie": COOKIE})),
                400,
                "invalid_parameter",
            ),
            (
                "PUT",
                "/api/v1/logins/zhihu",
                Some(json!({"cookie": "  "})),
                422,
                "invalid_body",
            ),
            (
                "PUT",
                "/api/v1/logins/zhihu",
                Some(json!({"cookie": "a=b\u{7}"})),
                422,
                "invalid_body",
            ),
            (
                "PUT",
                "/api/v1/logins/zhihu",
                Some(json!({"cookie": COOKIE, "x": 1})),
                422,
                "invalid_body",
            ),
            (
                "PUT",
                "/api/v1/logins/zhihu",
                Some(json!({"cookie": 5})),
                422,
                "invalid_body",
            ),
            ("DELETE", "/api/v1/logins/weibo", None, 404, "not_found"),
            (
                "POST",
                "/api/v1/logins/twitter/check",
                None,
                400,
                "invalid_parameter",
            ),
            ("POST", "/api/v1/logins/zhihu/check", None, 404, "not_found"),
            (
                "POST",
                "/api/v1/logins/weibo/qr",
                None,
                400,
                "invalid_parameter",
            ),
            (
                "POST",
                "/api/v1/logins/bilibili/qr/poll",
                Some(json!({"key": "../../x"})),
                422,
                "invalid_body",
            ),
        ] {
            let (got, text) = call(&app, method, path, body).await;
            assert_eq!(
                (got, code(&text).as_str()),
                (status, want),
                "{method} {path}: {text}"
            );
        }

        // Checked on demand.
        fake.expire_session("api-sess-31337");
        let (status, text) = call(&app, "POST", "/api/v1/logins/bilibili/check", None).await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains(r#""state":"expired""#), "{text}");

        // The QR login.
        let (status, text) = call(&app, "POST", "/api/v1/logins/bilibili/qr", None).await;
        assert_eq!(status, 200, "{text}");
        let qr: Value = serde_json::from_str(&text).unwrap();
        assert!(qr["svg"].as_str().unwrap().contains("<svg"));
        let key = qr["key"].as_str().unwrap().to_owned();
        let poll = || {
            call(
                &app,
                "POST",
                "/api/v1/logins/bilibili/qr/poll",
                Some(json!({ "key": key })),
            )
        };
        let (status, text) = poll().await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains(r#""state":"waiting""#), "{text}");
        fake.confirm(&key);
        let (_, text) = poll().await;
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["state"], "done", "{text}");
        assert_eq!(v["login"]["account"], "qr_user");
        assert_eq!(v["check"]["state"], "valid");
        assert!(!text.contains("SESSDATA"), "{text}");

        let (status, _) = call(&app, "DELETE", "/api/v1/logins/bilibili", None).await;
        assert_eq!(status, 204);
        let (status, _) = call(&app, "DELETE", "/api/v1/logins/bilibili", None).await;
        assert_eq!(status, 404);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_nothing_is_stored() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, text) = call(
        &app,
        "PUT",
        "/api/v1/logins/bilibili",
        Some(json!({ "cookie": COOKIE })),
    )
    .await;
    assert_eq!((status, code(&text).as_str()), (409, "conflict"), "{text}");
    assert!(text.contains("VAULTSTREAM_SECRET_KEY"), "{text}");
    let (status, text) = call(&app, "POST", "/api/v1/logins/bilibili/qr", None).await;
    assert_eq!(status, 409, "{text}");
    let (_, text) = call(&app, "GET", "/api/v1/logins", None).await;
    assert_eq!(text, r#"{"items":[]}"#);
    // The document shows no cookie, not even as an example.
    let doc = serde_json::to_string(&vaultstream_api::openapi::document()).unwrap();
    assert!(
        !doc.contains("SESSDATA="),
        "the OpenAPI document names no cookie value"
    );
}
