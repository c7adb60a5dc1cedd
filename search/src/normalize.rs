//! Normalisation shared by indexing and querying, so both sides see the
//! same characters:
//!
//! - traditional Chinese → simplified (OpenCC's tables through `hanconv`),
//!   so 臺灣/台湾 and 資料/资料 match each other;
//! - NFKC: full-width Latin and digits (ＡＢＣ１２３), half-width kana,
//!   ligatures and circled digits fold to their plain forms;
//! - lower case, and accents dropped (NFD, combining marks removed), so
//!   "Café" and "cafe" match.
//!
//! Every output character remembers the byte range of the input it came
//! from, so matches found in normalised text can be highlighted in the
//! original.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// A normalised character and the input bytes it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NChar {
    pub c: char,
    pub start: usize,
    pub end: usize,
}

/// Whether `c` is a Chinese ideograph (the CJK blocks and 〇).
pub fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x3007
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0x20000..=0x2FFFF
        | 0x30000..=0x3134F)
}

/// Latin, Greek and Cyrillic letters, whose diacritics are folded away.
fn accented_script(c: char) -> bool {
    matches!(c as u32, 0x00C0..=0x052F | 0x1E00..=0x1FFF)
}

fn has_han(text: &str) -> bool {
    text.chars().any(is_han)
}

/// The input's characters, traditional Chinese made simplified where the
/// conversion keeps one character per character (it almost always does;
/// otherwise each character is converted on its own, so offsets stay
/// exact).
fn simplified(text: &str) -> Vec<char> {
    if !has_han(text) {
        return text.chars().collect();
    }
    let converted: Vec<char> = hanconv::t2s(text).chars().collect();
    if converted.len() == text.chars().count() {
        return converted;
    }
    text.chars()
        .map(|c| {
            if is_han(c) {
                hanconv::t2s(c.encode_utf8(&mut [0; 4]))
                    .chars()
                    .next()
                    .unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

/// Normalise `text` character by character (see the module doc).
pub fn normalize_chars(text: &str) -> Vec<NChar> {
    let mut out = Vec::with_capacity(text.len());
    let simple = simplified(text);
    for ((start, orig), conv) in text.char_indices().zip(simple) {
        let end = start + orig.len_utf8();
        if conv.is_ascii() {
            out.push(NChar {
                c: conv.to_ascii_lowercase(),
                start,
                end,
            });
            continue;
        }
        for k in std::iter::once(conv).nfkc() {
            for l in k.to_lowercase() {
                if accented_script(l) {
                    for d in std::iter::once(l).nfd().filter(|d| !is_combining_mark(*d)) {
                        out.push(NChar { c: d, start, end });
                    }
                } else {
                    // Hangul syllables and kana with voicing marks must not
                    // be taken apart: their marks are not accents.
                    out.push(NChar { c: l, start, end });
                }
            }
        }
    }
    out
}

/// The normalised text as one string, whitespace runs collapsed to one
/// space and dropped between two Chinese characters (which never use
/// spaces), for exact-phrase matching: a phrase broken across lines in the
/// original still matches.
pub fn normalize_for_phrase(text: &str) -> String {
    let chars = normalize_chars(text);
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    let mut last: Option<char> = None;
    for n in &chars {
        if n.c.is_whitespace() {
            pending_space = last.is_some();
            continue;
        }
        if pending_space {
            let next_han = is_han(n.c);
            let prev_han = last.is_some_and(is_han);
            if !(prev_han && next_han) {
                out.push(' ');
            }
            pending_space = false;
        }
        out.push(n.c);
        last = Some(n.c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        normalize_chars(s).iter().map(|n| n.c).collect()
    }

    #[test]
    fn folds_width_case_accents_and_script() {
        assert_eq!(norm("ＡＢＣ１２３"), "abc123");
        assert_eq!(norm("Café Noël"), "cafe noel");
        assert_eq!(norm("臺灣資料"), "台湾资料");
        assert_eq!(norm("ﾃｽﾄ"), "テスト");
        assert_eq!(norm("ガ한국"), "ガ한국");
    }

    #[test]
    fn offsets_point_into_the_original() {
        let text = "A臺b";
        let n = normalize_chars(text);
        assert_eq!(n[1].c, '台');
        assert_eq!(&text[n[1].start..n[1].end], "臺");
        assert_eq!(&text[n[2].start..n[2].end], "b");
    }

    #[test]
    fn phrases_ignore_line_breaks() {
        assert_eq!(normalize_for_phrase("hello \n  World"), "hello world");
        assert_eq!(normalize_for_phrase("中文\n文本"), "中文文本");
        assert_eq!(normalize_for_phrase("中文 rust"), "中文 rust");
        assert_eq!(normalize_for_phrase("  lead"), "lead");
    }
}
