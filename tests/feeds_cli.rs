//! `vaultstream feeds create|list|revoke` as a user runs them, and a
//! created feed read from a running `vaultstream api` that requires keys,
//! with nothing but its URL (as a feed reader does); revoked, it stops.

use std::process::Output;

use vaultstream_testkit::env::{Stack, TestEnv};
use vaultstream_testkit::proc::{spawn_api, vaultstream};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(env: &TestEnv, args: &[&str]) -> Output {
    vaultstream(env!("CARGO_BIN_EXE_vaultstream"), env)
        .args(args)
        .output()
        .expect("run vaultstream")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_from_the_cli() {
    let mut env = TestEnv::new(Stack::Embedded).await;
    env.set("AUTH", "required");

    // Bad filters are usage errors that name the flag.
    let out = run(&env, &["feeds", "create", "--kind", "poem"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--kind"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&env, &["feeds", "create", "--platform", "myspace"]);
    assert_eq!(out.status.code(), Some(2));
    let long = "x".repeat(200);
    let out = run(&env, &["feeds", "create", "--q", &long]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--q"), "{}", text(&out.stderr));

    let (_server, addr) = spawn_api(vaultstream(env!("CARGO_BIN_EXE_vaultstream"), &env));
    let base = format!("http://{addr}");
    let out = run(
        &env,
        &[
            "feeds",
            "create",
            "--name",
            "Videos",
            "--kind",
            "video",
            "--base-url",
            &base,
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(text(&out.stderr).contains("not shown again"));
    let rss = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RSS:  "))
        .unwrap_or_else(|| panic!("an RSS URL: {stdout}"))
        .to_owned();
    assert!(
        rss.starts_with(&format!("{base}/api/v1/feed/rss?token=vf_")),
        "{rss}"
    );
    let token = rss.split("token=").nth(1).unwrap().to_owned();
    assert!(stdout.contains(&format!("{base}/api/v1/feed/atom?token={token}")));
    assert!(stdout.contains(&format!("{base}/api/v1/feed/json?token={token}")));

    let out = run(&env, &["feeds", "create", "--tag", "#Cats", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let second: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(second["filter"]["tag"], "cats");
    assert!(second["token"].as_str().unwrap().starts_with("vf_"));

    let out = run(&env, &["feeds", "list"]);
    let list = text(&out.stdout);
    assert_eq!(list.lines().count(), 3, "{list}");
    assert!(list.contains("kind=video") && list.contains("Videos") && list.contains("tag=cats"));
    assert!(list.contains(&token[..8]), "the prefix is shown: {list}");
    assert!(!list.contains(&token), "the token never is");

    // A reader needs no header.
    let resp = reqwest::get(&rss).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("<title>VaultStream: Videos</title>"),
        "{body}"
    );
    // Without the token it is closed like every other route.
    let resp = reqwest::get(format!("{base}/api/v1/feed/rss"))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    let prefix = token[..11].to_owned();
    let out = run(&env, &["feeds", "revoke", &prefix]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("revoked feed"));
    let out = run(&env, &["feeds", "revoke", &prefix]);
    assert!(text(&out.stdout).contains("already revoked"));
    let out = run(&env, &["feeds", "revoke", "vf_nothing"]);
    assert_eq!(out.status.code(), Some(1));
    let resp = reqwest::get(&rss).await.unwrap();
    assert_eq!(resp.status().as_u16(), 401, "revoked feeds stop at once");

    let out = run(&env, &["feeds", "list", "--json"]);
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(!rows[0]["revoked_at"].is_null());
    assert!(!rows[0]["last_used_at"].is_null(), "the read was recorded");
    assert!(rows[1]["revoked_at"].is_null());
}
