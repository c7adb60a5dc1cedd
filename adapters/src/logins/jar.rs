//! Cookie strings as a `Cookie` header holds them (`a=1; b=2`), and what a
//! platform's `Set-Cookie` answers do to them.
//!
//! Only cookies already in a login's jar are refreshed from `Set-Cookie`:
//! platforms set tracking cookies on every answer, and the login is the
//! set of cookies the operator (or the QR login) gave.

use chrono::{DateTime, Duration, Utc};

/// `a=1; b=2` → `[("a","1"), ("b","2")]`, in order; pieces without `=`
/// are dropped.
pub(crate) fn parse(cookie: &str) -> Vec<(String, String)> {
    cookie
        .split(';')
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_owned(), v.trim().to_owned()))
        })
        .collect()
}

pub(crate) fn render(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// One `Set-Cookie` header, as far as a jar needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SetCookie {
    pub name: String,
    pub value: String,
    pub expires: Option<DateTime<Utc>>,
    /// `Max-Age` ≤ 0, or an `Expires` in the past: the platform removes it.
    pub removed: bool,
}

/// `Expires` dates: RFC 1123 (`Wed, 21 Oct 2026 07:28:00 GMT`) and the
/// older dashed form (`Wed, 21-Oct-2026 07:28:00 GMT`).
fn parse_date(v: &str) -> Option<DateTime<Utc>> {
    let v = v.trim();
    DateTime::parse_from_rfc2822(v)
        .or_else(|_| DateTime::parse_from_rfc2822(&v.replace('-', " ")))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

pub(crate) fn parse_set_cookie(header: &str, now: DateTime<Utc>) -> Option<SetCookie> {
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let mut expires = None;
    let mut max_age = None;
    for attr in parts {
        let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "expires" => expires = parse_date(v),
            "max-age" => max_age = v.trim().parse::<i64>().ok(),
            _ => {}
        }
    }
    // Max-Age wins over Expires (RFC 6265 5.3).
    if let Some(secs) = max_age {
        expires = Some(now + Duration::seconds(secs.clamp(-1, 400 * 86_400)));
    }
    let removed = expires.is_some_and(|e| e <= now);
    Some(SetCookie {
        name: name.to_owned(),
        value: value.trim().to_owned(),
        expires,
        removed,
    })
}

/// The jar with these `Set-Cookie`s applied to the cookies it already
/// holds, and the latest expiry among them; `None` when nothing changed.
pub(crate) fn merge(jar: &str, set: &[SetCookie]) -> Option<(String, Option<DateTime<Utc>>)> {
    let mut pairs = parse(jar);
    let mut changed = false;
    let mut expires: Option<DateTime<Utc>> = None;
    for c in set {
        let Some(i) = pairs.iter().position(|(k, _)| *k == c.name) else {
            continue;
        };
        if c.removed {
            pairs.remove(i);
            changed = true;
            continue;
        }
        if pairs[i].1 != c.value {
            pairs[i].1 = c.value.clone();
            changed = true;
        }
        if let Some(e) = c.expires {
            expires = Some(expires.map_or(e, |x| x.max(e)));
        }
    }
    changed.then(|| (render(&pairs), expires))
}

/// A jar made of every cookie these answers set (a QR login's cookies),
/// with the expiry of the one named `session` when it has one.
pub(crate) fn from_set_cookies(
    set: &[SetCookie],
    session: &str,
) -> (String, Option<DateTime<Utc>>) {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for c in set.iter().filter(|c| !c.removed) {
        match pairs.iter_mut().find(|(k, _)| *k == c.name) {
            Some(p) => p.1 = c.value.clone(),
            None => pairs.push((c.name.clone(), c.value.clone())),
        }
    }
    let expires = set
        .iter()
        .find(|c| c.name == session)
        .and_then(|c| c.expires);
    (render(&pairs), expires)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn parses_and_renders() {
        let p = parse(" SESSDATA=abc%2C1 ; bili_jct=x;junk; =y");
        assert_eq!(render(&p), "SESSDATA=abc%2C1; bili_jct=x");
    }

    #[test]
    fn set_cookie_dates_and_removal() {
        let c = parse_set_cookie(
            "SESSDATA=new; Path=/; Domain=bilibili.com; Expires=Wed, 02 Jun 2027 10:00:00 GMT; HttpOnly",
            now(),
        )
        .unwrap();
        assert_eq!(c.value, "new");
        assert_eq!(c.expires.unwrap().to_rfc3339(), "2027-06-02T10:00:00+00:00");
        assert!(!c.removed);
        let dashed = parse_set_cookie("a=b; expires=Wed, 02-Jun-2027 10:00:00 GMT", now()).unwrap();
        assert!(dashed.expires.is_some());
        let gone = parse_set_cookie("a=deleted; Max-Age=0", now()).unwrap();
        assert!(gone.removed);
    }

    #[test]
    fn merge_touches_only_known_cookies() {
        let set: Vec<SetCookie> = [
            "SESSDATA=two; Max-Age=3600",
            "tracker=1",
            "old=x; Max-Age=0",
        ]
        .iter()
        .filter_map(|h| parse_set_cookie(h, now()))
        .collect();
        let (jar, exp) = merge("SESSDATA=one; bili_jct=j; old=o", &set).unwrap();
        assert_eq!(jar, "SESSDATA=two; bili_jct=j");
        assert_eq!(exp, Some(now() + Duration::seconds(3600)));
        assert_eq!(merge("bili_jct=j", &set), None, "nothing it holds changed");
    }

    #[test]
    fn jar_from_answers() {
        let set: Vec<SetCookie> = ["SESSDATA=s; Max-Age=60", "bili_jct=j", "DedeUserID=7"]
            .iter()
            .filter_map(|h| parse_set_cookie(h, now()))
            .collect();
        let (jar, exp) = from_set_cookies(&set, "SESSDATA");
        assert_eq!(jar, "SESSDATA=s; bili_jct=j; DedeUserID=7");
        assert_eq!(exp, Some(now() + Duration::seconds(60)));
    }
}
