//! Short-link resolution against a local redirect server.
//!
//! Every shortener host is pointed at one axum server on 127.0.0.1:0 through
//! `UpstreamOverrides`, each under its own path prefix. The platform hosts
//! the chains end on are overridden too, under `/platform`, so a request to
//! one would be recorded (and fail the test) instead of leaving the machine.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use vaultstream_adapters::http::UpstreamOverrides;
use vaultstream_adapters::links::{Identified, LinkPolicy, Linker};
use vaultstream_core::{ErrorCode, Platform, UserError};

type Hits = Arc<Mutex<Vec<String>>>;

struct Server {
    base: String,
    hits: Hits,
}

impl Server {
    async fn start() -> Self {
        let hits: Hits = Arc::default();
        let recorded = hits.clone();
        let app = Router::new().fallback(move |uri: Uri| {
            let hits = recorded.clone();
            async move {
                let path = uri
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default();
                hits.lock().expect("lock").push(path.clone());
                answer(&path).await
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base: format!("http://{addr}"),
            hits,
        }
    }

    fn overrides(&self) -> UpstreamOverrides {
        let b = &self.base;
        UpstreamOverrides::parse(&format!(
            "b23.tv={b}/b23,v.douyin.com={b}/douyin,xhslink.com={b}/xhs,t.co={b}/tco,t.cn={b}/tcn,\
             www.bilibili.com={b}/platform,www.iesdouyin.com={b}/platform,\
             www.xiaohongshu.com={b}/platform,x.com={b}/platform"
        ))
        .expect("valid overrides")
    }

    fn linker(&self) -> Linker {
        Linker::new(LinkPolicy {
            overrides: self.overrides(),
            resolve_timeout: Duration::from_secs(3),
            ..LinkPolicy::default()
        })
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().expect("lock").clone()
    }

    /// The chains end on platform pages; none of them may be fetched.
    fn assert_no_platform_request(&self) {
        let hits = self.hits();
        assert!(
            hits.iter().all(|h| !h.starts_with("/platform")),
            "a platform page was requested: {hits:?}"
        );
    }
}

fn redirect(status: StatusCode, location: &str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::LOCATION, location.parse().expect("header value"));
    (status, headers).into_response()
}

async fn answer(path: &str) -> Response {
    let found = StatusCode::FOUND;
    match path {
        "/b23/abc" => redirect(found, "https://www.bilibili.com/video/BV1GJ411x7h7?share_source=copy_web"),
        "/b23/rel" => redirect(found, "/BV1GJ411x7h7"),
        "/tco/hop" => redirect(StatusCode::MOVED_PERMANENTLY, "https://b23.tv/abc"),
        "/douyin/iRNBho6u/" => redirect(
            found,
            "https://www.iesdouyin.com/share/video/7535852404919586100/?region=CN&mid=1&from=web_code_link",
        ),
        "/xhs/a/AbCdEf" => redirect(
            StatusCode::TEMPORARY_REDIRECT,
            "https://www.xiaohongshu.com/discovery/item/6411cf99000000001300b6d9?xsec_token=AB1&xsec_source=app_share",
        ),
        "/tco/meta" => Html(
            r#"<head><noscript><META http-equiv="refresh" content="0;URL=https://x.com/jack/status/20?s=20"></noscript><title>https://x.com/jack/status/20</title></head><script>window.opener = null; location.replace("https:\/\/x.com\/jack\/status\/20?s=20")</script>"#,
        )
        .into_response(),
        "/tcn/web" => redirect(found, "https://example.com/article?utm_source=weibo&id=5"),
        "/b23/loop" => redirect(found, "https://b23.tv/loop"),
        "/b23/slow" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            redirect(found, "https://www.bilibili.com/video/BV1GJ411x7h7")
        }
        "/b23/evil" => redirect(found, "http://127.0.0.1:1/admin"),
        "/b23/metadata" => redirect(found, "http://169.254.169.254/latest/meta-data/"),
        "/b23/app" => redirect(found, "bilibili://video/80433022"),
        "/b23/noloc" => StatusCode::FOUND.into_response(),
        "/b23/page" => Html("<html><body>Nothing to see</body></html>").into_response(),
        "/b23/boom" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn expect_ok(result: Result<Identified, UserError>) -> Identified {
    match result {
        Ok(identified) => identified,
        Err(e) => panic!("expected an identity, got {e}"),
    }
}

fn expect_err(result: Result<Identified, UserError>, code: ErrorCode) -> UserError {
    match result {
        Ok(identified) => panic!("expected {code}, got {identified:?}"),
        Err(e) => {
            assert_eq!(e.code, code, "{e}");
            e
        }
    }
}

#[tokio::test]
async fn b23_redirect_to_video_without_fetching_it() {
    let server = Server::start().await;
    let got = expect_ok(
        server
            .linker()
            .identify("【某视频】 https://b23.tv/abc 复制打开哔哩哔哩")
            .await,
    );
    assert_eq!(got.identity.platform, Platform::Bilibili);
    assert_eq!(got.identity.platform_id, "BV1GJ411x7h7");
    assert_eq!(got.submitted_url, "https://b23.tv/abc");
    assert_eq!(
        got.resolved_url.as_deref(),
        Some("https://www.bilibili.com/video/BV1GJ411x7h7?share_source=copy_web")
    );
    assert_eq!(server.hits(), ["/b23/abc"]);
    server.assert_no_platform_request();
}

#[tokio::test]
async fn two_hop_chain() {
    let server = Server::start().await;
    let got = expect_ok(server.linker().identify("https://t.co/hop").await);
    assert_eq!(got.identity.platform_id, "BV1GJ411x7h7");
    assert_eq!(server.hits(), ["/tco/hop", "/b23/abc"]);
    server.assert_no_platform_request();
}

#[tokio::test]
async fn relative_location_resolves_against_the_short_link() {
    let server = Server::start().await;
    let got = expect_ok(server.linker().identify("https://b23.tv/rel").await);
    assert_eq!(got.identity.platform_id, "BV1GJ411x7h7");
    // Not against the override's 127.0.0.1 base.
    assert_eq!(
        got.resolved_url.as_deref(),
        Some("https://b23.tv/BV1GJ411x7h7")
    );
    assert_eq!(server.hits(), ["/b23/rel"]);
}

#[tokio::test]
async fn douyin_xiaohongshu_and_meta_refresh() {
    let server = Server::start().await;
    let linker = server.linker();

    let douyin = expect_ok(
        linker
            .identify(
                "7.94 复制打开抖音，看看【xxx的作品】… https://v.douyin.com/iRNBho6u/ 3@5.com :9pm",
            )
            .await,
    );
    assert_eq!(douyin.identity.platform, Platform::Douyin);
    assert_eq!(douyin.identity.platform_id, "7535852404919586100");

    let xhs = expect_ok(
        linker
            .identify(
                "… http://xhslink.com/a/AbCdEf，复制本条信息，打开【小红书】App查看精彩内容！",
            )
            .await,
    );
    assert_eq!(xhs.identity.platform, Platform::Xiaohongshu);
    assert_eq!(xhs.identity.platform_id, "6411cf99000000001300b6d9");

    let tweet = expect_ok(linker.identify("https://t.co/meta").await);
    assert_eq!(tweet.identity.platform, Platform::Twitter);
    assert_eq!(tweet.identity.platform_id, "20");
    assert_eq!(
        tweet.resolved_url.as_deref(),
        Some("https://x.com/jack/status/20?s=20")
    );

    server.assert_no_platform_request();
}

#[tokio::test]
async fn non_platform_target_becomes_a_web_page() {
    let server = Server::start().await;
    let got = expect_ok(server.linker().identify("https://t.cn/web").await);
    assert_eq!(got.identity.platform, Platform::Web);
    assert_eq!(got.identity.platform_id, "https://example.com/article?id=5");
    assert_eq!(server.hits(), ["/tcn/web"]);
}

#[tokio::test]
async fn redirect_loop_stops_after_max_redirects() {
    let server = Server::start().await;
    let e = expect_err(
        server.linker().identify("https://b23.tv/loop").await,
        ErrorCode::ShortLinkUnresolved,
    );
    assert!(e.message.contains("more than 5"), "{e}");
    assert_eq!(server.hits().len(), 5, "{:?}", server.hits());
}

#[tokio::test]
async fn upstream_errors_are_unresolved() {
    let server = Server::start().await;
    let linker = server.linker();
    for (link, why) in [
        ("https://b23.tv/missing", "404"),
        ("https://b23.tv/boom", "500"),
        ("https://b23.tv/noloc", "without a Location"),
        ("https://b23.tv/page", "leads nowhere"),
        ("https://b23.tv/app", "bilibili:"),
    ] {
        let e = expect_err(linker.identify(link).await, ErrorCode::ShortLinkUnresolved);
        assert!(e.message.contains(why), "{link}: {e}");
    }
}

#[tokio::test]
async fn slow_shortener_times_out() {
    let server = Server::start().await;
    let linker = Linker::new(LinkPolicy {
        overrides: server.overrides(),
        resolve_timeout: Duration::from_millis(300),
        ..LinkPolicy::default()
    });
    let started = Instant::now();
    let e = expect_err(
        linker.identify("https://b23.tv/slow").await,
        ErrorCode::ShortLinkUnresolved,
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        e.message.contains("time") || e.message.contains("300 ms"),
        "{e}"
    );
}

#[tokio::test]
async fn connection_refused_is_unresolved() {
    // Bind and drop: the port is free, nobody listens.
    let port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        l.local_addr().expect("addr").port()
    };
    let linker = Linker::new(LinkPolicy {
        overrides: UpstreamOverrides::parse(&format!("t.cn=http://127.0.0.1:{port}"))
            .expect("valid"),
        resolve_timeout: Duration::from_secs(2),
        ..LinkPolicy::default()
    });
    let e = expect_err(
        linker.identify("https://t.cn/A6abcdEf").await,
        ErrorCode::ShortLinkUnresolved,
    );
    assert!(e.message.contains("t.cn"), "{e}");
}

#[tokio::test]
async fn redirects_to_private_targets_are_forbidden() {
    let server = Server::start().await;
    let linker = server.linker();
    for link in ["https://b23.tv/evil", "https://b23.tv/metadata"] {
        expect_err(linker.identify(link).await, ErrorCode::ForbiddenTarget);
    }
    // The guard runs on the Location before anything is requested there.
    assert_eq!(server.hits(), ["/b23/evil", "/b23/metadata"]);
}

#[tokio::test]
async fn direct_links_need_no_request() {
    let server = Server::start().await;
    let got = expect_ok(
        server
            .linker()
            .identify("https://b23.tv/BV1GJ411x7h7")
            .await,
    );
    assert_eq!(got.identity.platform_id, "BV1GJ411x7h7");
    assert_eq!(got.resolved_url, None);
    let page = expect_ok(
        server
            .linker()
            .identify("https://example.com/?b=1&a=2")
            .await,
    );
    assert_eq!(page.identity.platform_id, "https://example.com/?a=2&b=1");
    assert!(server.hits().is_empty(), "{:?}", server.hits());
}
