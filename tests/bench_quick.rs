//! The benchmark in `--quick` mode, so it never rots: every scenario runs
//! small against the real binary, PostgreSQL, Redis and the S3 server, and
//! produces sane numbers. Targets are judged by the full run (release
//! build, bench/README.md), never here: this is a debug build on a busy
//! machine.

use vaultstream_bench::{Opts, SCENARIOS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quick_bench_runs_every_scenario() {
    let mut opts = Opts::for_checkout(true);
    opts.vaultstream = env!("CARGO_BIN_EXE_vaultstream").into();
    let (machine, rows) = vaultstream_bench::run(&opts).await.expect("quick bench");
    assert!(machine.cores >= 1);
    for s in SCENARIOS {
        assert!(
            rows.iter().any(|r| r.scenario == *s),
            "no result for the {s} scenario"
        );
    }
    for r in &rows {
        assert!(!r.result.is_empty(), "{r:?}");
        for (name, v) in &r.metrics {
            if let Some(x) = v.as_f64() {
                assert!(
                    x.is_finite() && x >= 0.0,
                    "{}/{}: {name} = {x}",
                    r.scenario,
                    r.variant
                );
            }
        }
        let positive =
            |name: &str| r.metrics.get(name).and_then(|v| v.as_f64()).unwrap_or(0.0) > 0.0;
        match r.scenario.as_str() {
            "ingest" => assert!(positive("per_s") && positive("raw_sql_per_s"), "{r:?}"),
            "import" => assert!(
                positive("links_per_s") && positive("single_share_per_s"),
                "{r:?}"
            ),
            "queue" => assert!(positive("per_s") && positive("raw_per_s"), "{r:?}"),
            // Pillow is part of the run: CI installs it.
            "images" => assert!(
                positive("per_s") && positive("bare_per_s") && positive("pillow_per_s"),
                "{r:?}"
            ),
            "video" => assert!(
                positive("mb_per_s") && positive("worker_peak_rss_mb"),
                "{r:?}"
            ),
            "e2e" => assert!(
                positive("items_per_s") && positive("archived_p99_ms"),
                "{r:?}"
            ),
            "search" if r.variant.starts_with("index build") => {
                assert!(positive("items_per_s") && positive("index_mb"), "{r:?}")
            }
            "search" => {
                assert!(positive("queries_per_s") && positive("p99_ms"), "{r:?}");
                // Our own index must find what the labelled queries ask for.
                if r.variant.contains("ours") {
                    let recall = r.metrics.get("recall").and_then(|v| v.as_f64());
                    assert!(recall.is_some_and(|x| x >= 0.9), "{r:?}");
                }
            }
            "refresh" if r.variant.contains("refreshes due") => {
                assert!(positive("refreshes_per_s"), "{r:?}");
                // Every tweet ending in 0 changes on its refresh.
                assert!(positive("new_versions"), "{r:?}");
            }
            "refresh" => assert!(
                positive("calm_p99_ms") && positive("backlog_p99_ms"),
                "{r:?}"
            ),
            other => panic!("unexpected scenario {other}"),
        }
    }
}
