//! What a version records, and the merge that never makes a copy worse.

#[allow(unused_imports)]
use super::*;

/// What a version records of an item: what people read in it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    pub title: Option<String>,
    pub text: Option<String>,
    /// JSON list of parts (null: single-part).
    pub parts: Option<Value>,
    /// JSON object of the structured extras (null: none).
    pub fields: Option<Value>,
    /// The original URLs of its media files, in order.
    pub media: Vec<String>,
}

impl Snapshot {
    pub fn of_item(item: &content::Model, media: &[media::Model]) -> Self {
        Snapshot {
            title: item.title.clone(),
            text: item.text.clone(),
            parts: item
                .parts
                .clone()
                .filter(|p| p.as_array().is_some_and(|a| !a.is_empty())),
            fields: item
                .fields
                .clone()
                .filter(|f| f.as_object().is_some_and(|o| !o.is_empty())),
            media: media.iter().map(|m| m.original_url.clone()).collect(),
        }
    }

    pub fn of_parsed(p: &ParsedItem) -> Self {
        Snapshot {
            title: p.title.clone(),
            text: p.text.clone(),
            parts: (!p.parts.is_empty())
                .then(|| serde_json::to_value(&p.parts).ok())
                .flatten(),
            fields: (!p.fields.is_empty()).then(|| json!(p.fields)),
            media: super::super::media::plan(p)
                .into_iter()
                .map(|m| m.media.url)
                .collect(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "title": self.title,
            "text": self.text,
            "parts": self.parts,
            "fields": self.fields,
            "media": self.media,
        })
    }
}

/// The best copy from the stored one and a refetch, and what changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub snapshot: Snapshot,
    /// Field-level changes: `{"field", "change": "changed"|"added", "before", "after"}`.
    pub diff: Vec<Value>,
    /// What the refetch lacked and the stored copy kept.
    pub kept: Vec<String>,
}

fn blank(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(|s| s.trim().is_empty())
}

/// Never a worse copy: a field the refetch lacks (empty, absent) is kept
/// as stored; one it has and that differs is taken and recorded in the
/// diff. `fields` are compared key by key (a key missing from the refetch
/// is kept); media are a union (files the refetch no longer lists stay).
pub fn merge(stored: &Snapshot, fresh: &Snapshot) -> Merged {
    let mut out = stored.clone();
    let mut diff = Vec::new();
    let mut kept = Vec::new();
    for (name, old, new, slot) in [
        ("title", &stored.title, &fresh.title, &mut out.title),
        ("text", &stored.text, &fresh.text, &mut out.text),
    ] {
        if blank(new) {
            if !blank(old) {
                kept.push(name.to_owned());
            }
        } else if new != old {
            diff.push(change(name, old.as_ref().map(|s| json!(s)), json!(new)));
            *slot = new.clone();
        }
    }
    match (&stored.parts, &fresh.parts) {
        (Some(_), None) => kept.push("parts".to_owned()),
        (old, Some(new)) if old.as_ref() != Some(new) => {
            diff.push(change("parts", old.clone(), new.clone()));
            out.parts = Some(new.clone());
        }
        _ => {}
    }
    let old_fields = stored.fields.as_ref().and_then(Value::as_object);
    let new_fields = fresh.fields.as_ref().and_then(Value::as_object);
    let mut fields = old_fields.cloned().unwrap_or_default();
    for (k, v) in new_fields.into_iter().flatten() {
        if fields.get(k) != Some(v) {
            diff.push(change(
                &format!("fields.{k}"),
                fields.get(k).cloned(),
                v.clone(),
            ));
            fields.insert(k.clone(), v.clone());
        }
    }
    for k in old_fields.into_iter().flatten().map(|(k, _)| k) {
        if new_fields.is_none_or(|n| !n.contains_key(k)) {
            kept.push(format!("fields.{k}"));
        }
    }
    out.fields = (!fields.is_empty()).then_some(Value::Object(fields));
    let added: Vec<&String> = fresh
        .media
        .iter()
        .filter(|u| !stored.media.contains(u))
        .collect();
    if !added.is_empty() {
        diff.push(json!({"field": "media", "change": "added", "after": added}));
        out.media.extend(added.into_iter().cloned());
    }
    if stored.media.iter().any(|u| !fresh.media.contains(u)) {
        kept.push("media".to_owned());
    }
    Merged {
        snapshot: out,
        diff,
        kept,
    }
}

fn change(field: &str, before: Option<Value>, after: Value) -> Value {
    match before {
        Some(before) => {
            json!({"field": field, "change": "changed", "before": before, "after": after})
        }
        None => json!({"field": field, "change": "added", "after": after}),
    }
}

// -------------------------------------------------------------- reading --
