//! Bilibili: videos (BV/av), dynamics, cv articles, bangumi episodes.
//!
//! One video has two public ids, the legacy numeric `av` and the `BV` string;
//! they convert into each other (bilibili-API-collect `docs/misc/bvid_desc.md`),
//! so we store the BV spelling and turn any av link into it.

use url::Url;
use vaultstream_core::{ContentKind, Platform};

use super::{Found, content, is, numeric_id, query_param, segments};

pub(crate) const HOSTS: &[&str] = &[
    "bilibili.com",
    "www.bilibili.com",
    "m.bilibili.com",
    "t.bilibili.com",
    "player.bilibili.com",
    "b23.tv",
    "www.b23.tv",
    "bili2233.cn",
];

const XOR_CODE: u64 = 23_442_827_791_579;
const MASK_CODE: u64 = (1 << 51) - 1;
const MAX_AID: u64 = 1 << 51;
const ALPHABET: &[u8; 58] = b"FcwAPNKTMug3GV5Lj7EJnHpWsx4tb8haYeviqBz6rkCy12mUSDQX9RdoZf";

/// `BV1` + 9 base58 digits, most significant first, then positions 3↔9 and
/// 4↔7 swapped (indices into the whole 12-char id).
///
/// Only av ids below 2^51 have a BV id; larger values wrap (as upstream's own
/// reference code does) and callers check the range first.
pub fn av_to_bv(av: u64) -> String {
    let mut bytes = *b"BV1000000000";
    let mut tmp = (MAX_AID | av) ^ XOR_CODE;
    let mut i = bytes.len() - 1;
    while tmp > 0 && i >= 3 {
        bytes[i] = ALPHABET[(tmp % 58) as usize];
        tmp /= 58;
        i -= 1;
    }
    bytes.swap(3, 9);
    bytes.swap(4, 7);
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// The av number of a `BV1…` id (`BV` prefix in any case), or `None` when the
/// string is not a BV id that some av number encodes to.
pub fn bv_to_av(bv: &str) -> Option<u64> {
    let body = strip_bv_prefix(bv)?;
    let mut chars: Vec<u8> = format!("BV{body}").into_bytes();
    if chars.len() != 12 || chars[2] != b'1' {
        return None;
    }
    chars.swap(3, 9);
    chars.swap(4, 7);
    let mut tmp: u64 = 0;
    for &c in &chars[3..] {
        let digit = ALPHABET.iter().position(|&a| a == c)? as u64;
        tmp = tmp.checked_mul(58)?.checked_add(digit)?;
    }
    // Every real id has the 2^51 marker bit set and nothing above it.
    if tmp >> 51 != 1 {
        return None;
    }
    let av = (tmp & MASK_CODE) ^ XOR_CODE;
    (av > 0).then_some(av)
}

/// `BV1GJ411x7h7` / `bv1GJ411x7h7` → `1GJ411x7h7` if the rest is 10 base58
/// characters (they are case-sensitive, the prefix is not).
fn strip_bv_prefix(s: &str) -> Option<&str> {
    let prefix = s.get(..2)?;
    let body = s.get(2..)?;
    (prefix.eq_ignore_ascii_case("bv")
        && body.len() == 10
        && body.bytes().all(|b| ALPHABET.contains(&b)))
    .then_some(body)
}

/// A video id segment (`BV…` or `av…`) in its canonical BV spelling.
fn video_id(segment: &str) -> Option<String> {
    if let Some(body) = strip_bv_prefix(segment) {
        return Some(format!("BV{body}"));
    }
    let (prefix, digits) = (segment.get(..2)?, segment.get(2..)?);
    if !prefix.eq_ignore_ascii_case("av") {
        return None;
    }
    let av = numeric_id(digits, 1, 16)?;
    (av < MAX_AID).then(|| av_to_bv(av))
}

fn video(bv: String) -> Option<Found> {
    let canonical = format!("https://www.bilibili.com/video/{bv}");
    content(Platform::Bilibili, bv, canonical, ContentKind::Video)
}

fn dynamic(id: &str) -> Option<Found> {
    let id = numeric_id(id, 1, 20)?;
    content(
        Platform::Bilibili,
        format!("dynamic:{id}"),
        format!("https://www.bilibili.com/opus/{id}"),
        ContentKind::Post,
    )
}

fn article(id: &str) -> Option<Found> {
    let id = numeric_id(id, 1, 20)?;
    content(
        Platform::Bilibili,
        format!("cv{id}"),
        format!("https://www.bilibili.com/read/cv{id}"),
        ContentKind::Article,
    )
}

/// `ep123` / `ss456`: an episode or a whole season of a bangumi.
fn bangumi(segment: &str) -> Option<Found> {
    let prefix = segment.get(..2)?.to_ascii_lowercase();
    if prefix != "ep" && prefix != "ss" {
        return None;
    }
    let id = numeric_id(segment.get(2..)?, 1, 20)?;
    content(
        Platform::Bilibili,
        format!("{prefix}{id}"),
        format!("https://www.bilibili.com/bangumi/play/{prefix}{id}"),
        ContentKind::Video,
    )
}

pub(crate) fn recognise(host: &str, url: &Url) -> Option<Found> {
    let seg = segments(url);
    match host {
        // b23.tv/BV… and b23.tv/av… carry the id itself; anything else is a
        // random code that only the redirect reveals.
        "b23.tv" | "www.b23.tv" | "bili2233.cn" => match seg.as_slice() {
            [] => None,
            [id, ..] => match video_id(id) {
                Some(bv) => video(bv),
                None => Some(Found::Short),
            },
        },
        "t.bilibili.com" => match seg.as_slice() {
            [id] => dynamic(id),
            ["h5", "dynamic", "detail", id] => dynamic(id),
            _ => None,
        },
        "player.bilibili.com" => {
            // Embeds: player.html?bvid=… or ?aid=…
            let bv = query_param(url, "bvid").and_then(|b| video_id(&b));
            let av = || query_param(url, "aid").and_then(|a| video_id(&format!("av{a}")));
            bv.or_else(av).and_then(video)
        }
        "bilibili.com" | "www.bilibili.com" | "m.bilibili.com" => recognise_main(url, &seg),
        _ => None,
    }
}

fn recognise_main(url: &Url, seg: &[&str]) -> Option<Found> {
    let first = seg.first();
    let at = |i: usize| seg.get(i).copied();
    if is(first, "video") {
        return video(video_id(at(1)?)?);
    }
    if is(first, "s") && is(seg.get(1), "video") {
        return video(video_id(at(2)?)?);
    }
    if is(first, "opus") || is(first, "dynamic") {
        return dynamic(at(1)?);
    }
    if is(first, "read") {
        let second = at(1)?;
        if second.eq_ignore_ascii_case("mobile") {
            // /read/mobile/123 and the older /read/mobile?id=123
            return match at(2) {
                Some(id) => article(id),
                None => article(&query_param(url, "id")?),
            };
        }
        let digits = second
            .get(..2)
            .filter(|p| p.eq_ignore_ascii_case("cv"))
            .and(second.get(2..))?;
        return article(digits);
    }
    if is(first, "bangumi") && is(seg.get(1), "play") {
        return bangumi(at(2)?);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bilibili-API-collect `docs/misc/bvid_desc.md`, checked in PROVENANCE.md.
    const VECTORS: [(u64, &str); 4] = [
        (85_440_373, "BV117411r7R1"),
        (99_999_999, "BV1y7411Q7Eq"),
        (80_433_022, "BV1GJ411x7h7"),
        (111_298_867_365_120, "BV1L9Uoa9EUx"),
    ];

    #[test]
    fn av_to_bv_vectors() {
        for (av, bv) in VECTORS {
            assert_eq!(av_to_bv(av), bv, "av{av}");
        }
    }

    #[test]
    fn bv_to_av_vectors() {
        for (av, bv) in VECTORS {
            assert_eq!(bv_to_av(bv), Some(av), "{bv}");
            // The prefix is case-insensitive, the body is not.
            assert_eq!(bv_to_av(&bv.replacen("BV", "bv", 1)), Some(av), "{bv}");
        }
    }

    #[test]
    fn round_trips() {
        for av in [1, 2, 170_001, 2_147_483_647, MAX_AID - 1] {
            assert_eq!(bv_to_av(&av_to_bv(av)), Some(av), "av{av}");
        }
    }

    #[test]
    fn rejects_non_bv() {
        for bad in [
            "",
            "BV",
            "BV1GJ411x7h",
            "BV1GJ411x7h7x",
            "BV1GJ411x7h0",
            "AV1GJ411x7h7",
            "BV2GJ411x7h7",
            "BV1GJ411x7h７",
        ] {
            assert_eq!(bv_to_av(bad), None, "{bad}");
        }
    }
}
