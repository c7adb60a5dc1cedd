//! Lenient readers for upstream JSON.
//!
//! Platforms change types under us (Zhihu ids are numbers in old answers and
//! strings in new ones, Xiaohongshu counts are strings like "1.2万"), so each
//! reader accepts every spelling seen and answers `None` for anything else
//! instead of failing the whole item over one optional field.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A non-empty string at a JSON pointer (`/data/title`).
pub(crate) fn str_at(v: &Value, ptr: &str) -> Option<String> {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The first of several pointers that holds a non-empty string.
pub(crate) fn first_str(v: &Value, ptrs: &[&str]) -> Option<String> {
    ptrs.iter().find_map(|p| str_at(v, p))
}

/// An integer given as a number, a float or a (possibly abbreviated) string.
pub(crate) fn int_at(v: &Value, ptr: &str) -> Option<i64> {
    as_int(v.pointer(ptr)?)
}

pub(crate) fn first_int(v: &Value, ptrs: &[&str]) -> Option<i64> {
    ptrs.iter().find_map(|p| int_at(v, p))
}

pub(crate) fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => parse_count(s),
        _ => None,
    }
}

pub(crate) fn u32_at(v: &Value, ptr: &str) -> Option<u32> {
    int_at(v, ptr)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n > 0)
}

pub(crate) fn f64_at(v: &Value, ptr: &str) -> Option<f64> {
    match v.pointer(ptr)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite() && *f > 0.0)
}

/// An id given as a number or a string (ids above 2^53 come as strings).
pub(crate) fn id_at(v: &Value, ptr: &str) -> Option<String> {
    match v.pointer(ptr)? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// Counters as Chinese platforms print them: `"117"`, `"1.2万"` (10^4),
/// `"3亿"` (10^8), `"10+"`, `"1,234"`, `"2.5w"`.
pub(crate) fn parse_count(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('+').replace(',', "");
    let (num, factor) = if let Some(n) = s.strip_suffix('万').or(s.strip_suffix('w')) {
        (n, 10_000.0)
    } else if let Some(n) = s.strip_suffix('亿') {
        (n, 100_000_000.0)
    } else if let Some(n) = s.strip_suffix('k').or(s.strip_suffix('K')) {
        (n, 1_000.0)
    } else {
        (s.as_str(), 1.0)
    };
    let num = num.trim();
    if let Ok(i) = num.parse::<i64>() {
        return Some(i.saturating_mul(factor as i64));
    }
    let f: f64 = num.parse().ok()?;
    f.is_finite().then(|| (f * factor).round() as i64)
}

pub(crate) fn unix_secs(secs: i64) -> Option<DateTime<Utc>> {
    (secs > 0)
        .then(|| DateTime::from_timestamp(secs, 0))
        .flatten()
}

pub(crate) fn unix_millis(ms: i64) -> Option<DateTime<Utc>> {
    (ms > 0)
        .then(|| DateTime::from_timestamp_millis(ms))
        .flatten()
}

/// RFC 3339 / ISO 8601, with or without a zone; a bare date is midnight UTC.
pub(crate) fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Put `value` under `key` in the stats when the upstream gave it.
pub(crate) fn stat(
    stats: &mut std::collections::BTreeMap<String, i64>,
    key: &str,
    value: Option<i64>,
) {
    if let Some(v) = value.filter(|v| *v >= 0) {
        stats.insert(key.to_owned(), v);
    }
}

/// The items of a JSON array at `ptr` (nothing if absent or not an array).
pub(crate) fn array_at<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(parse_count("117"), Some(117));
        assert_eq!(parse_count("1.2万"), Some(12_000));
        assert_eq!(parse_count("3亿"), Some(300_000_000));
        assert_eq!(parse_count("10+"), Some(10));
        assert_eq!(parse_count("1,234"), Some(1234));
        assert_eq!(parse_count(""), None);
        assert_eq!(parse_count("赞"), None);
    }

    #[test]
    fn iso_dates() {
        let t = parse_iso("2017-06-14T20:10:29.000Z").map(|t| t.timestamp());
        assert_eq!(t, Some(1_497_471_029));
        assert_eq!(
            parse_iso("2024-01-02").map(|t| t.timestamp()),
            Some(1_704_153_600)
        );
        assert_eq!(parse_iso("yesterday"), None);
    }

    #[test]
    fn ids_as_numbers_or_strings() {
        let v: Value = serde_json::json!({"a": 1, "b": "2076341989990319717", "c": ""});
        assert_eq!(id_at(&v, "/a").as_deref(), Some("1"));
        assert_eq!(id_at(&v, "/b").as_deref(), Some("2076341989990319717"));
        assert_eq!(id_at(&v, "/c"), None);
    }
}
