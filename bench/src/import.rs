//! Import: `vaultstream import` of a generated Netscape bookmarks file
//! (100,000 links; 3,000 with `--quick`) as the real binary, beside the
//! single-share ingest rate (`POST /api/v1/shares`, new links, 64
//! connections) measured on the same deployment in the same run. The
//! issue's target: the import ≥ 5× the single-share rate on each backend.
//!
//! The file is what a browser exports: folders (which become tags),
//! `ADD_DATE`s (the original times), and a realistic mix of platforms —
//! tweets under both of their hosts, Bilibili videos (BV and av forms),
//! Weibo statuses, Zhihu answers — with about one link in eight a
//! duplicate of an earlier one in another spelling, and a few links the
//! guard refuses (private addresses). No link needs the network: none is a
//! short link.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hyper::Method;
use vaultstream_testkit::env::Stack;

use crate::Opts;
use crate::deploy::Deployment;
use crate::load::{self, MakeRequest};
use crate::report::Row;

struct Sizes {
    links: u64,
    conns: usize,
    warmup: Duration,
    window: Duration,
}

fn sizes(opts: &Opts) -> Sizes {
    if opts.quick {
        Sizes {
            links: 3_000,
            conns: 16,
            warmup: Duration::from_millis(300),
            window: Duration::from_secs(1),
        }
    } else {
        Sizes {
            links: 100_000,
            conns: 64,
            warmup: Duration::from_secs(3),
            window: Duration::from_secs(15),
        }
    }
}

pub async fn run(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for stack in [Stack::PostgresRedis, Stack::Embedded] {
        rows.push(one_stack(opts, stack).await?);
    }
    Ok(rows)
}

fn stack_name(stack: Stack) -> &'static str {
    match stack {
        Stack::PostgresRedis => "PostgreSQL + Redis",
        Stack::Embedded => "embedded (SQLite + SQLite queue)",
        Stack::Postgres => "PostgreSQL + its queue",
        Stack::SqliteRedis => "SQLite + Redis",
    }
}

/// What the generated file holds.
pub struct Bookmarks {
    pub html: String,
    pub links: u64,
    /// Distinct items among them.
    pub distinct: u64,
    /// Links the guard refuses.
    pub refused: u64,
}

/// A browser's bookmarks export of `links` links (see the module doc).
pub fn bookmarks(links: u64) -> Bookmarks {
    const FOLDERS: [&str; 5] = ["Read later", "Music", "News", "Research", "Funny"];
    let mut html = String::from(
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n\
         <META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=UTF-8\">\n\
         <TITLE>Bookmarks</TITLE>\n<H1>Bookmarks</H1>\n<DL><p>\n",
    );
    let per_folder = links.div_ceil(FOLDERS.len() as u64).max(1);
    let (mut distinct, mut refused) = (0u64, 0u64);
    for n in 0..links {
        if n % per_folder == 0 {
            if n > 0 {
                html.push_str("    </DL><p>\n");
            }
            let folder = FOLDERS[(n / per_folder) as usize % FOLDERS.len()];
            let _ = writeln!(
                html,
                "    <DT><H3 ADD_DATE=\"1600000000\" LAST_MODIFIED=\"1600000000\">{folder}</H3>\n    <DL><p>"
            );
        }
        // One in eight: an earlier item again, in its other spelling (an
        // item of each platform in turn; never a refused link).
        let (href, title) = if n % 8 == 7 && n >= 8 {
            let mut m = n - 7 + (n / 8) % 7;
            if m % 500 == 250 {
                m = n - 7;
            }
            (link(m, true), "again")
        } else if n % 500 == 250 {
            refused += 1;
            (
                format!("http://192.168.{}.{}/", n % 250, n % 200 + 1),
                "router",
            )
        } else {
            distinct += 1;
            (link(n, false), "a post")
        };
        let added = 1_500_000_000 + n * 37;
        let _ = writeln!(
            html,
            "        <DT><A HREF=\"{href}\" ADD_DATE=\"{added}\" TAGS=\"bench\">{title} {n}</A>"
        );
        if n % 10 == 3 {
            let _ = writeln!(html, "        <DD>note on link {n}");
        }
    }
    html.push_str("    </DL><p>\n</DL><p>\n");
    Bookmarks {
        html,
        links,
        distinct,
        refused,
    }
}

/// The `n`th item's link; `other` spells the same item another way.
fn link(n: u64, other: bool) -> String {
    match n % 8 {
        // Tweets (x.com and twitter.com): the commonest bookmark here.
        0..=2 => {
            let id = 1_600_000_000_000_000_000u64 + n;
            if other {
                format!("https://twitter.com/someone/status/{id}?s=20")
            } else {
                format!("https://x.com/someone/status/{id}")
            }
        }
        3 | 4 => {
            let av = 10_000_000 + n;
            if other {
                format!("https://m.bilibili.com/video/av{av}")
            } else {
                format!("https://www.bilibili.com/video/av{av}/?spm_id_from=333.1007")
            }
        }
        5 => {
            let id = 4_100_000_000_000_000u64 + n;
            if other {
                format!("https://weibo.com/detail/{id}")
            } else {
                format!("https://m.weibo.cn/detail/{id}")
            }
        }
        _ => {
            let (q, a) = (19_550_000 + n, 2_000_000_000 + n);
            if other {
                format!("https://www.zhihu.com/question/{q}/answer/{a}?utm_source=bench")
            } else {
                format!("https://www.zhihu.com/question/{q}/answer/{a}")
            }
        }
    }
}

fn share(id: u64) -> (Method, String, Option<String>) {
    (
        Method::POST,
        "/api/v1/shares".to_owned(),
        Some(format!(
            r#"{{"url":"https://x.com/single/status/{}"}}"#,
            1_700_000_000_000_000_000u64 + id
        )),
    )
}

/// Whether `a` is at least `ratio` times `b`.
fn at_least(a: f64, ratio: f64, b: f64) -> bool {
    a >= ratio * b
}

async fn one_stack(opts: &Opts, stack: Stack) -> anyhow::Result<Row> {
    let sz = sizes(opts);
    let dep = Deployment::new(stack).await;
    let db = dep.db().await?;

    // The single-share rate on this deployment, now.
    let (api, addr) = dep.spawn_api(opts, &[]).await?;
    let single: MakeRequest = Arc::new(share);
    let single = load::run(addr, sz.conns, sz.warmup, sz.window, single).await?;
    anyhow::ensure!(
        single.not(&[201]) == 0,
        "single shares answered other than 201: {:?}",
        single.statuses
    );
    drop(api);
    let (items_before, _) = vaultstream_core::db::contents::counts(&db).await?;

    let file = bookmarks(sz.links);
    let path = dep.env.dir.path().join("bookmarks.html");
    std::fs::write(&path, &file.html)?;
    let report = dep.env.dir.path().join("bookmarks.report.csv");
    let mut cmd = vaultstream_testkit::proc::vaultstream(&opts.vaultstream, &dep.env);
    cmd.arg("import")
        .arg(&path)
        .arg("--report")
        .arg(&report)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let started = Instant::now();
    let out = tokio::process::Command::from(cmd)
        .output()
        .await
        .context("running vaultstream import")?;
    let secs = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(out.status.success(), "vaultstream import failed: {stderr}");
    let summary = format!(
        "{} links: {} new, {} already archived, {} refused",
        file.links,
        file.distinct,
        file.links - file.distinct - file.refused,
        file.refused
    );
    anyhow::ensure!(
        stderr.contains(&summary),
        "the import's summary is not {summary:?}: {stderr}"
    );
    let (items_after, _) = vaultstream_core::db::contents::counts(&db).await?;
    anyhow::ensure!(
        items_after - items_before == file.distinct,
        "{} items stored, {} expected",
        items_after - items_before,
        file.distinct
    );

    let per_s = file.links as f64 / secs;
    let ratio = per_s / single.per_s;
    let name = stack_name(stack);
    Ok(
        Row::new("import", format!("{}-link bookmarks, {name}", file.links))
            .metric("links", file.links)
            .metric("distinct", file.distinct)
            .num("secs", secs)
            .num("links_per_s", per_s)
            .num("single_share_per_s", single.per_s)
            .num("single_share_p99_ms", single.p99_ms)
            .result(format!(
                "{per_s:.0} links/s ({:.1} s; {} new, {} known, {} refused)",
                secs,
                file.distinct,
                file.links - file.distinct - file.refused,
                file.refused
            ))
            .baseline(
                format!(
                    "single shares, same deployment, {} connections: {:.0}/s (p99 {:.1} ms)",
                    sz.conns, single.per_s, single.p99_ms
                ),
                Some(ratio),
            )
            .target("≥ 5× single-share", at_least(per_s, 5.0, single.per_s)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_counts_itself() {
        let b = bookmarks(1000);
        assert_eq!(b.html.matches("<DT><A ").count(), 1000);
        assert_eq!(b.refused, 2);
        assert_eq!(b.distinct, 1000 - 2 - 124);
    }
}
