//! Linkwarden's JSON export (its "Backup": the user with `collections`,
//! each `{id, name, parentId, links: [...]}`, read back by linkwarden's
//! `importFromLinkwarden`): each link's `url`; the collection and its
//! parents, and the link's `tags` (`{name}`), become tags; `description`
//! the note; `createdAt` (RFC 3339) the original time.

use std::collections::HashMap;

use serde_json::Value;

use super::json::{array, at, opt_string, string, time};
use super::{Entry, tag_of};

pub fn parse_linkwarden(doc: &Value) -> Result<Vec<Entry>, String> {
    let (collections, path) = at(doc, "$", "collections");
    let collections = array(collections, &path)?;
    // id → (name, parent id), for the folder path of each collection.
    let mut tree: HashMap<i64, (&str, Option<i64>)> = HashMap::new();
    for (i, c) in collections.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let (name, name_path) = at(c, &p, "name");
        let (id, _) = at(c, &p, "id");
        if let Some(id) = id.as_i64() {
            tree.insert(id, (string(name, &name_path)?, c["parentId"].as_i64()));
        }
    }
    let folders = |mut id: Option<i64>| {
        let mut names = Vec::new();
        while let Some((name, parent)) = id.and_then(|i| tree.get(&i)) {
            if names.len() > 64 {
                break; // a cycle: enough
            }
            names.push(*name);
            id = *parent;
        }
        names.reverse();
        names
    };
    let mut out = Vec::new();
    for (i, c) in collections.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let (links, links_path) = at(c, &p, "links");
        if links.is_null() {
            continue;
        }
        let folder_tags: Vec<String> = folders(c["id"].as_i64())
            .into_iter()
            .filter_map(tag_of)
            .collect();
        for (j, l) in array(links, &links_path)?.iter().enumerate() {
            let lp = format!("{links_path}[{j}]");
            let (url, url_path) = at(l, &lp, "url");
            let mut tags = folder_tags.clone();
            let (tags_v, tags_path) = at(l, &lp, "tags");
            if !tags_v.is_null() {
                for (k, t) in array(tags_v, &tags_path)?.iter().enumerate() {
                    let (name, name_path) = at(t, &format!("{tags_path}[{k}]"), "name");
                    tags.extend(tag_of(string(name, &name_path)?));
                }
            }
            tags.dedup();
            let (desc, desc_path) = at(l, &lp, "description");
            let (created, created_path) = at(l, &lp, "createdAt");
            out.push(Entry {
                line: out.len() + 1,
                text: opt_string(url, &url_path)?.unwrap_or("").trim().to_owned(),
                tags,
                note: opt_string(desc, &desc_path)?
                    .filter(|n| !n.trim().is_empty())
                    .map(str::to_owned),
                added_at: time(created, &created_path)?,
            });
        }
    }
    Ok(out)
}
