//! `import FILE`: bring links from elsewhere. The format is detected:
//!
//! - **Browser bookmarks**: the Netscape bookmark file every browser
//!   exports (`<!DOCTYPE NETSCAPE-Bookmark-file-1>`; each `<A HREF>` is a
//!   link, its `TAGS` attribute and the folders (`<H3>`) around it become
//!   tags, a `<DD>` after it its note).
//! - **Pocket's CSV export**: `title,url,time_added,tags,status`, tags
//!   separated by `|`.
//! - **A plain list**: one link or share text per line (`#` comments and
//!   blank lines skipped).
//!
//! Every entry goes through the same intake as a share (identity dedups
//! it; the link guard refuses private addresses), so nothing is fetched
//! beyond what a share does; new items are queued for the workers. The end
//! is a summary (new, already archived, refused) and a CSV report of every
//! entry with its outcome, next to the input unless `--report` says where.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use vaultstream_core::Settings;

use super::import_submit::{Failed, Link, Tally, submit_all};
use super::progress::Progress;
use super::{EXIT_RUNTIME, EXIT_USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file: browser bookmarks (HTML), Pocket's CSV, or a list of links.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Where to write the per-entry report (CSV); default FILE.report.csv.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Tag every imported link with this too (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
}

/// One link to import, with where it came from in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub line: usize,
    pub text: String,
    pub tags: Vec<String>,
    pub note: Option<String>,
    /// When the user saved the link, where the file says.
    pub added_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Bookmarks,
    Pocket,
    List,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Bookmarks => "browser bookmarks",
            Format::Pocket => "Pocket CSV",
            Format::List => "list of links",
        }
    }
}

pub fn detect(text: &str) -> Format {
    let head = text.trim_start_matches('\u{feff}').trim_start();
    let first = head.lines().next().unwrap_or("").to_ascii_lowercase();
    if first.contains("netscape-bookmark-file") || head.to_ascii_lowercase().contains("<dt><a ") {
        Format::Bookmarks
    } else if first.starts_with("title,url,") {
        Format::Pocket
    } else {
        Format::List
    }
}

/// A tag from a folder name or a tag word: lower-cased, spaces as `-`.
fn tag_of(s: &str) -> Option<String> {
    let t: String = s
        .trim()
        .trim_start_matches('#')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
        .to_lowercase();
    (!t.is_empty()).then_some(t)
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of `name="…"` in a tag's attributes (case-insensitive name).
fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let at = lower.find(&format!("{name}=\""))? + name.len() + 2;
    let end = tag[at..].find('"')? + at;
    Some(unescape(&tag[at..end]))
}

/// Netscape bookmark file: links with their folders and tags as tags.
pub fn parse_bookmarks(text: &str) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let mut folders: Vec<String> = Vec::new();
    let mut pending_folder: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let l = line.trim();
        let lower = l.to_ascii_lowercase();
        if let Some(at) = lower.find("<h3") {
            let name = l[at..]
                .split_once('>')
                .map(|(_, rest)| rest.split("</").next().unwrap_or(rest))
                .unwrap_or("");
            pending_folder = Some(unescape(name));
        } else if lower.starts_with("<dl") {
            folders.push(pending_folder.take().unwrap_or_default());
        } else if lower.starts_with("</dl") {
            folders.pop();
        } else if let Some(at) = lower.find("<a ") {
            let tag = &l[at..];
            let Some(href) = attr(tag, "href") else {
                continue;
            };
            let mut tags: Vec<String> = folders.iter().filter_map(|f| tag_of(f)).collect();
            if let Some(t) = attr(tag, "tags") {
                tags.extend(t.split(',').filter_map(tag_of));
            }
            tags.dedup();
            // ADD_DATE: seconds since the epoch.
            let added_at = attr(tag, "add_date")
                .and_then(|s| s.trim().parse::<i64>().ok())
                .and_then(|secs| DateTime::from_timestamp(secs, 0));
            out.push(Entry {
                line: n + 1,
                text: href,
                tags,
                note: None,
                added_at,
            });
        } else if let Some(rest) = l.strip_prefix("<DD>").or_else(|| l.strip_prefix("<dd>"))
            && let Some(last) = out.last_mut().filter(|e| e.note.is_none())
        {
            let note = unescape(rest.trim());
            last.note = (!note.is_empty()).then_some(note);
        }
    }
    out
}

/// Split one CSV record (RFC 4180 quoting) into fields.
fn csv_fields(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    if quoted {
        return None;
    }
    fields.push(cur);
    Some(fields)
}

/// Pocket's CSV export. A malformed row is an error naming its line.
pub fn parse_pocket(text: &str) -> Result<Vec<Entry>, String> {
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, h)| h).unwrap_or("");
    let cols = csv_fields(header.trim_start_matches('\u{feff}')).unwrap_or_default();
    let col = |name: &str| cols.iter().position(|c| c.trim() == name);
    let url_at = col("url").ok_or("line 1: a Pocket CSV header names a `url` column")?;
    let tags_at = col("tags");
    let mut out = Vec::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields =
            csv_fields(line).ok_or_else(|| format!("line {}: a quote is never closed", n + 1))?;
        if fields.len() != cols.len() {
            return Err(format!(
                "line {}: {} fields where the header has {}",
                n + 1,
                fields.len(),
                cols.len()
            ));
        }
        let tags = tags_at
            .map(|i| fields[i].split('|').filter_map(tag_of).collect())
            .unwrap_or_default();
        out.push(Entry {
            line: n + 1,
            text: fields[url_at].trim().to_owned(),
            tags,
            note: None,
            added_at: None,
        });
    }
    Ok(out)
}

/// One link or share text per line.
pub fn parse_list(text: &str) -> Vec<Entry> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(n, l)| Entry {
            line: n + 1,
            text: l.trim().to_owned(),
            tags: Vec::new(),
            note: None,
            added_at: None,
        })
        .collect()
}

fn default_report(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".report.csv");
    file.with_file_name(name)
}

pub async fn run(settings: &Settings, args: &Args) -> ExitCode {
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("vaultstream: cannot read {}: {e}", args.file.display());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let Ok(text) = String::from_utf8(bytes) else {
        eprintln!(
            "vaultstream: {} is not UTF-8 text (bookmarks HTML, a CSV or a list of links)",
            args.file.display()
        );
        return ExitCode::from(EXIT_USAGE);
    };
    let format = detect(&text);
    let entries = match format {
        Format::Bookmarks => Ok(parse_bookmarks(&text)),
        Format::Pocket => parse_pocket(&text),
        Format::List => Ok(parse_list(&text)),
    };
    let entries = match entries {
        Ok(e) => e,
        Err(message) => {
            eprintln!("vaultstream: {}: {message}", args.file.display());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Err(e) = vaultstream_core::content::normalise_tags(&args.tags) {
        eprintln!("vaultstream: --tag: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    let db = match super::serve::open_db(settings).await {
        Ok(d) => d,
        Err(code) => return code,
    };
    let linker = super::serve::linker(settings);
    let queue = super::serve::open_queue(settings).await.ok();
    eprintln!(
        "importing {} links from {} ({})",
        entries.len(),
        args.file.display(),
        format.name()
    );
    let report_path = args
        .report
        .clone()
        .unwrap_or_else(|| default_report(&args.file));
    let mut report =
        String::from("line,outcome,content_id,platform,platform_id,code,message,text\n");
    let mut progress = Progress::new("links imported");
    let total = entries.len() as u64;
    let links = entries
        .into_iter()
        .map(|e| {
            let mut tags = e.tags;
            tags.extend(args.tags.iter().cloned());
            // A folder name that is not a valid tag must not refuse the link:
            // keep the tags that pass on their own.
            tags.retain(|t| {
                vaultstream_core::content::normalise_tags(std::slice::from_ref(t)).is_ok()
            });
            Link {
                line: e.line,
                text: e.text,
                tags,
                note: e.note,
                added_at: e.added_at,
            }
        })
        .collect();
    let tally = match submit_all(
        &linker,
        &db,
        queue
            .as_ref()
            .map(|q| q as &dyn vaultstream_core::queue::JobQueue),
        links,
        &format!("import:{}", format.name()),
        &mut report,
        &mut progress,
    )
    .await
    {
        Ok(t) => t,
        Err(Failed { line, error }) => {
            eprintln!("vaultstream: the database failed at the batch from line {line}: {error}");
            let _ = std::fs::write(&report_path, &report);
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let Tally {
        new,
        known,
        refused,
        deferred,
        ..
    } = tally;
    if let Err(e) = std::fs::write(&report_path, &report) {
        eprintln!("vaultstream: cannot write {}: {e}", report_path.display());
        return ExitCode::from(EXIT_RUNTIME);
    }
    eprintln!(
        "imported {total} links: {new} new, {known} already archived, {refused} refused; report: {}",
        report_path.display()
    );
    if deferred > 0 {
        eprintln!(
            "{deferred} new items wait in the database for the workers; they are queued as the queue drains"
        );
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::import_submit::csv_cell;

    #[test]
    fn csv_quotes() {
        assert_eq!(
            csv_fields(r#"a,"b, c","say ""hi""",d"#).unwrap(),
            vec!["a", "b, c", "say \"hi\"", "d"]
        );
        assert!(csv_fields(r#"a,"open"#).is_none());
        assert_eq!(csv_cell("x,y"), "\"x,y\"");
    }

    #[test]
    fn formats_are_detected() {
        assert_eq!(
            detect("<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL>"),
            Format::Bookmarks
        );
        assert_eq!(detect("title,url,time_added,tags,status\n"), Format::Pocket);
        assert_eq!(detect("https://x.com/jack/status/20\n"), Format::List);
    }
}
