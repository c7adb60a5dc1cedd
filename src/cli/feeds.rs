//! `feeds create|list|revoke`: RSS, Atom and JSON feeds of the archive.
//!
//! A feed is a filter (platform, tag, kind, author, words) with its own
//! token. `create` prints the token and the feed's three URLs once; the
//! database keeps only the token's hash and its first characters (the
//! prefix `feeds list` shows and `feeds revoke` accepts).

use std::process::ExitCode;

use clap::Subcommand;
use vaultstream_core::Settings;
use vaultstream_core::db::entities::feed;
use vaultstream_core::db::feeds::{self, FeedFilter};
use vaultstream_core::platform::{ContentKind, Platform};

use super::keys::{revoke_report, when};
use super::{EXIT_RUNTIME, EXIT_USAGE};

#[derive(Debug, Clone, Subcommand)]
pub enum Action {
    /// Create a feed and print its URLs (once: the token cannot be shown again).
    Create {
        /// A name, shown as the feed's title.
        #[arg(long)]
        name: Option<String>,
        /// Only items of this platform.
        #[arg(long)]
        platform: Option<String>,
        /// Only items with this tag.
        #[arg(long)]
        tag: Option<String>,
        /// Only items of this kind (video, post, article, ...).
        #[arg(long)]
        kind: Option<String>,
        /// Only items by this author (name or platform id, exactly).
        #[arg(long)]
        author: Option<String>,
        /// Only items this search matches (the `search` language: words, "phrases", -exclusions, OR, filters).
        #[arg(long)]
        q: Option<String>,
        /// The server's address as readers reach it (default: http://<VAULTSTREAM_BIND>).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List feeds (prefix, filter, created, last read, revoked).
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a feed by id or prefix (as `feeds list` shows them): its URLs stop working.
    Revoke {
        #[arg(value_name = "ID-OR-PREFIX")]
        feed: String,
    },
}

fn json_of(f: &feed::Model) -> serde_json::Value {
    serde_json::json!({
        "id": f.id,
        "prefix": f.prefix,
        "name": f.name,
        "filter": {
            "platform": f.platform, "tag": f.tag, "kind": f.kind,
            "author": f.author, "q": f.q,
        },
        "created_at": f.created_at,
        "last_used_at": f.last_used_at,
        "revoked_at": f.revoked_at,
    })
}

fn filter_text(f: &feed::Model) -> String {
    let parts: Vec<String> = [
        ("platform", &f.platform),
        ("tag", &f.tag),
        ("kind", &f.kind),
        ("author", &f.author),
        ("q", &f.q),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
    .collect();
    if parts.is_empty() {
        "everything".to_owned()
    } else {
        parts.join(" ")
    }
}

/// The filter from the flags; `Err` names the bad flag.
fn filter_of(action: &Action) -> Result<FeedFilter, String> {
    let Action::Create {
        platform,
        tag,
        kind,
        author,
        q,
        ..
    } = action
    else {
        return Ok(FeedFilter::default());
    };
    let platform = platform
        .as_deref()
        .map(|p| {
            p.parse::<Platform>()
                .map_err(|_| format!("--platform `{p}` is not a platform we know"))
        })
        .transpose()?;
    let kind = kind
        .as_deref()
        .map(|k| {
            k.parse::<ContentKind>().map_err(|_| {
                let names: Vec<&str> = ContentKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("--kind `{k}` is not one of {}", names.join(", "))
            })
        })
        .transpose()?;
    FeedFilter {
        platform,
        tag: tag.clone(),
        kind,
        author: author.clone(),
        q: q.clone(),
    }
    .normalised()
    .map_err(|e| {
        format!(
            "--{}",
            e.message.trim_start_matches('`').replacen('`', "", 1)
        )
    })
}

pub async fn run(settings: &Settings, action: &Action) -> ExitCode {
    let filter = match filter_of(action) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("vaultstream: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let db = match super::serve::open_db(settings).await {
        Ok(d) => d,
        Err(code) => return code,
    };
    match action {
        Action::Create {
            name,
            base_url,
            json,
            ..
        } => {
            let (row, token) = match feeds::create(&db, name.as_deref(), filter).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("vaultstream: cannot create the feed: {e}");
                    return ExitCode::from(EXIT_RUNTIME);
                }
            };
            let base = base_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", settings.bind));
            let base = base.trim_end_matches('/');
            let url = |f: &str| format!("{base}/api/v1/feed/{f}?token={token}");
            if *json {
                let mut v = json_of(&row);
                v["token"] = serde_json::Value::String(token.clone());
                v["urls"] = serde_json::json!({"rss": url("rss"), "atom": url("atom"), "json": url("json")});
                println!("{v}");
            } else {
                println!("RSS:  {}", url("rss"));
                println!("Atom: {}", url("atom"));
                println!("JSON: {}", url("json"));
                eprintln!(
                    "Created feed id {} ({}) of {}. Store a URL now: its token is not shown again.",
                    row.id,
                    row.prefix,
                    filter_text(&row)
                );
            }
            ExitCode::SUCCESS
        }
        Action::List { json } => {
            let rows = match feeds::list(&db).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("vaultstream: {e}");
                    return ExitCode::from(EXIT_RUNTIME);
                }
            };
            if !*json {
                println!(
                    "{:<6} {:<12} {:<20} {:<20} {:<20} {:<24} name",
                    "id", "prefix", "created", "last_read", "revoked", "filter"
                );
            }
            for f in rows {
                if *json {
                    println!("{}", json_of(&f));
                } else {
                    println!(
                        "{:<6} {:<12} {:<20} {:<20} {:<20} {:<24} {}",
                        f.id,
                        f.prefix,
                        when(Some(f.created_at)),
                        when(f.last_used_at),
                        when(f.revoked_at),
                        filter_text(&f),
                        f.name.as_deref().unwrap_or("")
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Action::Revoke { feed } => {
            let res = feeds::revoke(&db, feed).await;
            revoke_report("feed", feed, res, |f| {
                (f.id, f.prefix.clone(), String::new())
            })
        }
    }
}
