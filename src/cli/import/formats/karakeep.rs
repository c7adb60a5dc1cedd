//! Karakeep's JSON export (`{"bookmarks": [...], "lists": [...]}`, written
//! by `toExportFormat` in karakeep's `packages/shared/import-export`):
//! each bookmark's `content` is `{"type": "link", "url"}` or `{"type":
//! "text", "text"}`; `tags` (names) and the names of its `lists` become
//! tags, `note` the note, `createdAt` (Unix seconds) the original time.

use std::collections::HashMap;

use serde_json::Value;

use super::json::{array, at, opt_string, string, time};
use super::{Entry, tag_of};

pub fn parse_karakeep(doc: &Value) -> Result<Vec<Entry>, String> {
    let (lists, lists_path) = at(doc, "$", "lists");
    let mut list_names: HashMap<&str, &str> = HashMap::new();
    if !lists.is_null() {
        for (i, l) in array(lists, &lists_path)?.iter().enumerate() {
            let p = format!("{lists_path}[{i}]");
            let (id, id_path) = at(l, &p, "id");
            let (name, name_path) = at(l, &p, "name");
            list_names.insert(string(id, &id_path)?, string(name, &name_path)?);
        }
    }
    let (bookmarks, path) = at(doc, "$", "bookmarks");
    let mut out = Vec::new();
    for (i, b) in array(bookmarks, &path)?.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let (content, content_path) = at(b, &p, "content");
        let text = if content.is_null() {
            // An asset (an uploaded file): no link to archive.
            String::new()
        } else {
            let (kind, kind_path) = at(content, &content_path, "type");
            let field = match string(kind, &kind_path)? {
                "link" => "url",
                "text" => "text",
                other => return Err(format!("{kind_path}: unknown content type `{other}`")),
            };
            let (v, v_path) = at(content, &content_path, field);
            string(v, &v_path)?.trim().to_owned()
        };
        let (tags_v, tags_path) = at(b, &p, "tags");
        let mut tags = Vec::new();
        if !tags_v.is_null() {
            for (j, t) in array(tags_v, &tags_path)?.iter().enumerate() {
                tags.extend(tag_of(string(t, &format!("{tags_path}[{j}]"))?));
            }
        }
        let (in_lists, in_lists_path) = at(b, &p, "lists");
        if !in_lists.is_null() {
            for (j, l) in array(in_lists, &in_lists_path)?.iter().enumerate() {
                let id = string(l, &format!("{in_lists_path}[{j}]"))?;
                tags.extend(list_names.get(id).and_then(|n| tag_of(n)));
            }
        }
        tags.dedup();
        let (note, note_path) = at(b, &p, "note");
        let (created, created_path) = at(b, &p, "createdAt");
        out.push(Entry {
            line: i + 1,
            text,
            tags,
            note: opt_string(note, &note_path)?
                .filter(|n| !n.trim().is_empty())
                .map(str::to_owned),
            added_at: time(created, &created_path)?,
        });
    }
    Ok(out)
}
