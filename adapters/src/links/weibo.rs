//! Weibo: one status per numeric `mid`.
//!
//! Desktop links usually carry the base62 `bid` (`FfcTLg6AY`), mobile links
//! the decimal mid; both spell the same number, so every form is turned into
//! the mid.

use url::Url;
use vaultstream_core::{ContentKind, Platform};

use super::{Found, content, is, numeric_id, query_param, segments};

pub(crate) const HOSTS: &[&str] = &[
    "weibo.com",
    "www.weibo.com",
    "m.weibo.com",
    "weibo.cn",
    "www.weibo.cn",
    "m.weibo.cn",
    "share.api.weibo.cn",
    "weibointl.api.weibo.cn",
    "t.cn",
];

const BASE62: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The bid of a mid: the decimal digits in groups of 7 from the right, each
/// group in base62, every group but the leftmost padded to 4 characters.
pub fn mid_to_bid(mid: u64) -> String {
    let digits = mid.to_string();
    let mut groups = Vec::new();
    let mut end = digits.len();
    while end > 0 {
        let start = end.saturating_sub(7);
        groups.push(&digits[start..end]);
        end = start;
    }
    groups.reverse();
    let mut bid = String::new();
    for (i, group) in groups.iter().enumerate() {
        // Groups are at most 7 ASCII digits, so this cannot fail.
        let mut value: u64 = group.parse().unwrap_or(0);
        let mut chars = Vec::new();
        while value > 0 {
            chars.push(BASE62[(value % 62) as usize]);
            value /= 62;
        }
        let width = if i == 0 { 1 } else { 4 };
        while chars.len() < width {
            chars.push(b'0');
        }
        bid.extend(chars.iter().rev().map(|&b| char::from(b)));
    }
    bid
}

/// The mid of a bid (the reverse of [`mid_to_bid`]), or `None` if the string
/// is not base62 or does not decode to a mid.
pub fn bid_to_mid(bid: &str) -> Option<u64> {
    if bid.is_empty() || bid.len() > 12 || !bid.is_ascii() {
        return None;
    }
    let bytes = bid.as_bytes();
    let mut groups = Vec::new();
    let mut end = bytes.len();
    while end > 0 {
        let start = end.saturating_sub(4);
        groups.push(&bytes[start..end]);
        end = start;
    }
    groups.reverse();
    let mut digits = String::new();
    for (i, group) in groups.iter().enumerate() {
        let mut value: u64 = 0;
        for &c in *group {
            let d = BASE62.iter().position(|&a| a == c)? as u64;
            value = value * 62 + d;
        }
        // Four base62 digits reach 14.7 million; a 7-digit group cannot.
        if value >= 10_000_000 {
            return None;
        }
        if i == 0 {
            digits.push_str(&value.to_string());
        } else {
            digits.push_str(&format!("{value:07}"));
        }
    }
    digits.parse::<u64>().ok().filter(|m| *m > 0)
}

/// A status id segment: a decimal mid or a bid.
fn status_id(s: &str) -> Option<u64> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return numeric_id(s, 10, 20);
    }
    // Real bids are 8-10 characters and mixed case; the length and case rules
    // keep profile sub-pages (`/<uid>/follow`) from decoding into a bogus mid.
    let plausible = (8..=10).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric())
        && s.bytes()
            .any(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if plausible { bid_to_mid(s) } else { None }
}

fn status(mid: u64) -> Option<Found> {
    content(
        Platform::Weibo,
        mid.to_string(),
        format!("https://m.weibo.cn/detail/{mid}"),
        ContentKind::Post,
    )
}

pub(crate) fn recognise(host: &str, url: &Url) -> Option<Found> {
    if !HOSTS.contains(&host) {
        return None;
    }
    let seg = segments(url);
    match host {
        "t.cn" => (!seg.is_empty()).then_some(Found::Short),
        // share.api.weibo.cn/share/<share id>,<mid>.html
        "share.api.weibo.cn" => match seg.as_slice() {
            [share, page] if is(Some(share), "share") => {
                let stem = page.strip_suffix(".html").unwrap_or(page);
                status(numeric_id(stem.rsplit(',').next()?, 10, 20)?)
            }
            _ => None,
        },
        "weibointl.api.weibo.cn" => status(numeric_id(&query_param(url, "weibo_id")?, 10, 20)?),
        _ => match seg.as_slice() {
            // weibo.cn/sinaurl?u=<url>: Weibo's outbound-link interstitial.
            [sinaurl] if is(Some(sinaurl), "sinaurl") => {
                let target = query_param(url, "u").or_else(|| query_param(url, "toasturl"))?;
                Url::parse(&target).ok().map(Found::Unwrap)
            }
            [kind, id] if is(Some(kind), "detail") || is(Some(kind), "status") => {
                status(status_id(id)?)
            }
            // /<uid>/<bid|mid>; /u/<uid> and /<uid> alone are profiles.
            [uid, id] if uid.bytes().all(|b| b.is_ascii_digit()) => status(status_id(id)?),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PROVENANCE.md; the first pair is in
    /// fixtures/upstream/weibo/statuses_show_4136245053838604.json (`mid`, `bid`).
    const VECTORS: [(u64, &str); 4] = [
        (4_136_245_053_838_604, "FfcTLg6AY"),
        (5_232_630_992_732_508, "QdGSDbsQI"),
        (4_607_741_009_594_608, "K3fnuEfZK"),
        (5_224_958_596_222_067, "QathNq6DV"),
    ];

    #[test]
    fn vectors_both_ways() {
        for (mid, bid) in VECTORS {
            assert_eq!(mid_to_bid(mid), bid, "mid {mid}");
            assert_eq!(bid_to_mid(bid), Some(mid), "bid {bid}");
        }
    }

    #[test]
    fn fixture_pair_matches() {
        // The shared fixtures sit next to the workspace, not inside the crate.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/upstream/weibo/statuses_show_4136245053838604.json"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("skipped: {path} not present (the same pair is in VECTORS)");
            return;
        };
        let json: serde_json::Value = serde_json::from_str(&text).expect("fixture is JSON");
        let mid: u64 = json["data"]["mid"]
            .as_str()
            .and_then(|m| m.parse().ok())
            .expect("mid");
        let bid = json["data"]["bid"].as_str().expect("bid");
        assert_eq!(mid_to_bid(mid), bid);
        assert_eq!(bid_to_mid(bid), Some(mid));
    }

    #[test]
    fn round_trips() {
        // Groups with inner zeros must keep their padding both ways.
        for mid in [
            1,
            61,
            62,
            10_000_000,
            1_000_000_000_000_001,
            4_100_000_000_000_000,
            9_999_999_999_999_999,
            u64::MAX,
        ] {
            assert_eq!(bid_to_mid(&mid_to_bid(mid)), Some(mid), "mid {mid}");
        }
    }

    #[test]
    fn rejects_non_bids() {
        for bad in [
            "",
            "FfcTLg6A!",
            "ZZZZ",
            "ＦfcTLg6AY",
            "1234567890123",
            "zzzzzzzzzzzz",
        ] {
            assert_eq!(bid_to_mid(bad), None, "{bad}");
        }
    }
}
