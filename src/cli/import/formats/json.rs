//! Reading the JSON exports (Karakeep, Linkwarden, Omnivore) with errors
//! that name the JSON path of what is wrong (`$.bookmarks[2].content.url:
//! expected a string`).

use chrono::{DateTime, Utc};
use serde_json::Value;

/// The member `key` of `v` (`null` when absent) and its path.
pub(super) fn at<'a>(v: &'a Value, path: &str, key: &str) -> (&'a Value, String) {
    (v.get(key).unwrap_or(&Value::Null), format!("{path}.{key}"))
}

pub(super) fn array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("{path}: expected an array, found {}", kind(v)))
}

pub(super) fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("{path}: expected a string, found {}", kind(v)))
}

/// A string or `null`/absent.
pub(super) fn opt_string<'a>(v: &'a Value, path: &str) -> Result<Option<&'a str>, String> {
    match v {
        Value::Null => Ok(None),
        _ => string(v, path).map(Some),
    }
}

/// A time: Unix seconds (a number) or an RFC 3339 string; `null`/absent
/// is none.
pub(super) fn time(v: &Value, path: &str) -> Result<Option<DateTime<Utc>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_f64()
            .and_then(|s| DateTime::from_timestamp(s as i64, 0))
            .map(Some)
            .ok_or_else(|| format!("{path}: `{n}` is not a time")),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| format!("{path}: `{s}` is not an RFC 3339 time")),
        other => Err(format!("{path}: expected a time, found {}", kind(other))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON syntax error, naming its line and column.
pub(super) fn syntax(e: &serde_json::Error) -> String {
    format!("line {} column {}: {e}", e.line(), e.column())
}
