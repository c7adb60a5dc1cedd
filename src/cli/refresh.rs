//! `refresh`: ask for items to be fetched again now (on the refresh queue,
//! below new items), by id or by platform, tag and age of the last fetch.

use std::process::ExitCode;

use clap::Args as ClapArgs;
use vaultstream_core::Settings;
use vaultstream_core::db::refresh::{RefreshSelection, request_many};
use vaultstream_core::platform::Platform;
use vaultstream_core::queue::{Payload, RefreshJob};

use super::{EXIT_RUNTIME, EXIT_USAGE};

#[derive(Debug, Clone, ClapArgs)]
pub struct Args {
    /// Item ids (repeatable).
    #[arg(long = "id")]
    ids: Vec<i64>,
    /// Only items of this platform.
    #[arg(long)]
    platform: Option<String>,
    /// Only items with this tag.
    #[arg(long)]
    tag: Option<String>,
    /// Only items last fetched (refreshed, or first archived) longer ago
    /// than this: e.g. 7d, 12h, 30m.
    #[arg(long)]
    older_than: Option<String>,
    /// At most this many items.
    #[arg(long, default_value_t = 10_000)]
    limit: u64,
}

pub async fn run(settings: &Settings, args: &Args) -> ExitCode {
    if args.ids.is_empty()
        && args.platform.is_none()
        && args.tag.is_none()
        && args.older_than.is_none()
    {
        eprintln!("vaultstream: name the items: --id, --platform, --tag or --older-than");
        return ExitCode::from(EXIT_USAGE);
    }
    if let Some(p) = &args.platform
        && p.parse::<Platform>().is_err()
    {
        eprintln!("vaultstream: --platform `{p}` is not a platform");
        return ExitCode::from(EXIT_USAGE);
    }
    let older_than = match args.older_than.as_deref().map(parse_age) {
        None => None,
        Some(Ok(age)) => Some(age),
        Some(Err(m)) => {
            eprintln!("vaultstream: --older-than: {m}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let db = match super::serve::open_db(settings).await {
        Ok(d) => d,
        Err(code) => return code,
    };
    let sel = RefreshSelection {
        ids: args.ids.clone(),
        platform: args.platform.clone(),
        tag: args
            .tag
            .as_deref()
            .map(|t| t.trim_start_matches('#').to_lowercase()),
        older_than,
        limit: args.limit,
    };
    let ids = match request_many(&db, &sel).await {
        Ok(ids) => ids,
        Err(e) => {
            eprintln!("vaultstream: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    // Queue them now; if the queue is unreachable, any running worker's
    // reconciler queues them (their rows say they are due).
    match super::serve::open_queue(settings).await {
        Ok(queue) => {
            for &id in &ids {
                if let Err(e) = RefreshJob::for_row(id).enqueue(&queue, None).await {
                    eprintln!("vaultstream: could not queue item {id} ({e}); a worker will");
                    break;
                }
            }
        }
        Err(_) => eprintln!("warning: queue unreachable; running workers will pick the items up"),
    }
    for id in &ids {
        println!("{id}");
    }
    eprintln!("{} item(s) queued for a refresh", ids.len());
    ExitCode::SUCCESS
}

/// `7d`, `12h`, `30m`, `90s`, `2w`.
fn parse_age(v: &str) -> Result<std::time::Duration, String> {
    let d = vaultstream_core::settings::parse_refresh_policy(v)?;
    match d.as_slice() {
        [one] => Ok(*one),
        _ => Err(format!("`{v}` is not one age like 7d")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages() {
        let h = std::time::Duration::from_secs(3600);
        assert_eq!(super::parse_age("7d").unwrap(), 7 * 24 * h);
        assert_eq!(super::parse_age("12h").unwrap(), 12 * h);
        assert!(super::parse_age("7").is_err());
        assert!(super::parse_age("1d,2d").is_err());
    }
}
