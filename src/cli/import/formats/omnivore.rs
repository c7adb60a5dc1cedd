//! Omnivore's export (the `metadata_*.json` files of the zip it gave
//! before it shut down: an array of `{id, slug, title, description,
//! author, url, state, labels, savedAt, updatedAt, publishedAt}`, as read
//! by karakeep's Omnivore importer): `url`; `labels` (names) become tags;
//! `savedAt` (RFC 3339) the original time. Omnivore's metadata carries no
//! user note (highlights and notes were separate files).

use serde_json::Value;

use super::json::{array, at, string, time};
use super::{Entry, tag_of};

pub fn parse_omnivore(doc: &Value) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    for (i, a) in array(doc, "$")?.iter().enumerate() {
        let p = format!("$[{i}]");
        let (url, url_path) = at(a, &p, "url");
        let (labels, labels_path) = at(a, &p, "labels");
        let mut tags = Vec::new();
        if !labels.is_null() {
            for (j, l) in array(labels, &labels_path)?.iter().enumerate() {
                let lp = format!("{labels_path}[{j}]");
                // Older exports wrote labels as objects with a name.
                let name = match l {
                    Value::Object(_) => {
                        let (n, np) = at(l, &lp, "name");
                        string(n, &np)?
                    }
                    _ => string(l, &lp)?,
                };
                tags.extend(tag_of(name));
            }
        }
        let (saved, saved_path) = at(a, &p, "savedAt");
        out.push(Entry {
            line: i + 1,
            text: string(url, &url_path)?.trim().to_owned(),
            tags,
            note: None,
            added_at: time(saved, &saved_path)?,
        });
    }
    Ok(out)
}
