//! Pocket's CSV export: `title,url,time_added,tags,status`, tags separated
//! by `|`, `time_added` in Unix seconds.

use super::{Entry, tag_of, unix_time};

/// Split one CSV record (RFC 4180 quoting) into fields.
pub(crate) fn csv_fields(line: &str) -> Option<Vec<String>> {
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

/// One CSV cell, quoted when it must be (RFC 4180): the report's writer's.
pub use crate::cli::import_submit::csv_cell;

/// Pocket's CSV export. A malformed row is an error naming its line.
pub fn parse_pocket(text: &str) -> Result<Vec<Entry>, String> {
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, h)| h).unwrap_or("");
    let cols = csv_fields(header.trim_start_matches('\u{feff}')).unwrap_or_default();
    let col = |name: &str| cols.iter().position(|c| c.trim() == name);
    let url_at = col("url").ok_or("line 1: a Pocket CSV header names a `url` column")?;
    let tags_at = col("tags");
    let time_at = col("time_added");
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
            added_at: time_at.and_then(|i| unix_time(&fields[i])),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes() {
        assert_eq!(
            csv_fields(r#"a,"b, c","say ""hi""",d"#).unwrap(),
            vec!["a", "b, c", "say \"hi\"", "d"]
        );
        assert!(csv_fields(r#"a,"open"#).is_none());
        assert_eq!(csv_cell("x,y"), "\"x,y\"");
        assert_eq!(csv_cell("x"), "x");
    }

    #[test]
    fn rows_have_their_time() {
        let e = parse_pocket(
            "title,url,time_added,tags,status\nT,https://e.org/,1700000100,a|b,unread\n",
        )
        .unwrap();
        assert_eq!(e[0].added_at.map(|t| t.timestamp()), Some(1_700_000_100));
        assert_eq!(e[0].tags, ["a", "b"]);
        assert!(
            parse_pocket("title,url\nx\n")
                .unwrap_err()
                .starts_with("line 2")
        );
    }
}
