//! A page's bytes as text, in the charset it is written in.
//!
//! Where the charset comes from, first found wins (the order browsers use):
//! a byte-order mark, the `Content-Type` header's `charset`, a `<meta
//! charset>` or `<meta http-equiv="Content-Type" content="…; charset=…">`
//! near the top, else a guess from the bytes themselves (`chardetng`,
//! helped by the host's country domain: `.jp` favours Shift_JIS/EUC-JP,
//! `.tw` Big5, `.cn` GBK…). Labels follow the WHATWG Encoding Standard
//! (`encoding_rs`): `gb2312` and `gbk` decode as GBK, which is read as
//! GB18030, so four-byte GB18030 characters come out right whatever the
//! label says.

use std::sync::LazyLock;

use encoding_rs::{Encoding, UTF_8};
use regex::bytes::Regex;

/// Where a page's charset came from (kept in the item's raw metadata).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    Bom,
    Header,
    Meta,
    Sniffed,
}

impl Source {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Source::Bom => "bom",
            Source::Header => "header",
            Source::Meta => "meta",
            Source::Sniffed => "sniffed",
        }
    }
}

/// How far into the page a `<meta>` charset is looked for. The HTML spec's
/// prescan stops at 1024 bytes; real heads put scripts and styles first.
const META_SCAN_BYTES: usize = 8 * 1024;

static META_CHARSET: LazyLock<Option<Regex>> = LazyLock::new(|| {
    // Both `<meta charset="x">` and the `charset=x` inside an http-equiv
    // content attribute.
    Regex::new(r#"(?i)<meta\s[^>]*?charset\s*=\s*["']?\s*([a-z0-9_:.\-]+)"#).ok()
});

/// The page as text, the encoding used and where it came from.
pub(crate) fn decode(
    body: &[u8],
    content_type: &str,
    host: Option<&str>,
) -> (String, &'static Encoding, Source) {
    let (encoding, source) = detect(body, content_type, host);
    // `decode` lets a BOM override the label, as browsers do; with the
    // label from a BOM that is the same encoding.
    let (text, used, _) = encoding.decode(body);
    (text.into_owned(), used, source)
}

fn detect(body: &[u8], content_type: &str, host: Option<&str>) -> (&'static Encoding, Source) {
    if let Some((enc, _)) = Encoding::for_bom(body) {
        return (enc, Source::Bom);
    }
    if let Some(enc) = header_charset(content_type) {
        return (enc, Source::Header);
    }
    if let Some(enc) = meta_charset(body) {
        return (enc, Source::Meta);
    }
    (sniff(body, host), Source::Sniffed)
}

/// `text/html; charset=GBK` → GBK. An unknown label counts as none.
fn header_charset(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("charset"))
            .then(|| Encoding::for_label(v.trim().trim_matches(['"', '\'']).as_bytes()))
            .flatten()
    })
}

fn meta_charset(body: &[u8]) -> Option<&'static Encoding> {
    let head = &body[..body.len().min(META_SCAN_BYTES)];
    let label = META_CHARSET.as_ref()?.captures(head)?.get(1)?.as_bytes();
    let enc = Encoding::for_label(label)?;
    // A page that is bytes on the wire cannot be UTF-16 by its own
    // declaration (the spec reads such a meta as UTF-8).
    Some(if enc.is_single_byte() || enc.output_encoding() == enc {
        enc
    } else {
        UTF_8
    })
}

fn sniff(body: &[u8], host: Option<&str>) -> &'static Encoding {
    // ISO-2022-JP only when declared (its escapes can hide markup, which is
    // why browsers never guess it); UTF-8 may be guessed: unlike a
    // browser, nothing comes to depend on it.
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(body, true);
    let tld = host
        .and_then(|h| h.rsplit('.').next())
        .filter(|t| t.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(str::to_ascii_lowercase);
    detector.guess(
        tld.as_deref().map(str::as_bytes),
        chardetng::Utf8Detection::Allow,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_wins_over_meta() {
        let page = b"<meta charset=\"gb2312\"><p>\xa4\xa4\xa4\xe5</p>";
        let (text, enc, source) = decode(page, "text/html; charset=Big5", None);
        assert_eq!((enc.name(), source), ("Big5", Source::Header));
        assert!(text.contains("中文"), "{text}");
    }

    #[test]
    fn meta_forms() {
        let (_, enc, source) = decode(b"<meta charset='shift_jis'>", "text/html", None);
        assert_eq!((enc.name(), source), ("Shift_JIS", Source::Meta));
        let http_equiv =
            b"<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=euc-kr\">";
        assert_eq!(decode(http_equiv, "", None).1.name(), "EUC-KR");
        // UTF-16 declared in a meta is read as UTF-8.
        assert_eq!(decode(b"<meta charset=utf-16le>", "", None).1, UTF_8);
    }

    #[test]
    fn bom_wins() {
        let (text, enc, source) = decode(b"\xef\xbb\xbfhi", "text/html; charset=gbk", None);
        assert_eq!((text.as_str(), enc, source), ("hi", UTF_8, Source::Bom));
    }

    #[test]
    fn unknown_labels_are_ignored() {
        assert_eq!(header_charset("text/html; charset=klingon"), None);
        assert_eq!(header_charset("text/html"), None);
        assert_eq!(
            header_charset("text/html; Charset=\"utf-8\"").map(Encoding::name),
            Some("UTF-8")
        );
    }
}
