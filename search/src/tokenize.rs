//! The one tokenizer, used at index time and at query time.
//!
//! On normalised text ([`crate::normalize`]) it emits terms by script:
//!
//! - **Chinese** runs: every character, every overlapping pair of
//!   characters (bigrams), and the words of three or more characters that
//!   jieba finds (search mode). A query for a word of any length becomes its
//!   bigrams (or its character), which every text containing the word has —
//!   so a two-character word inside a long sentence is found, where SQLite's
//!   `unicode61` (one token per run) and `trigram` (three characters at
//!   least) both fail. Whole words add weight to texts that use them.
//! - **Japanese kana**: characters and bigrams (no dictionary needed for
//!   recall). **Korean** hangul: the word as written (Korean separates
//!   words with spaces), its bigrams, and its syllable when it has one.
//! - **Other letters and digits** (Latin, Cyrillic, Greek, numbers):
//!   words, lower-cased and accent-folded by the normaliser, with a light
//!   English plural stemmer ("cats" → "cat", "stories" → "story"), nothing
//!   more aggressive: names and code words stay recognisable.
//! - `#hashtags` (also Weibo's `#话题#`) and `@names` are kept as terms of
//!   their own (`#rust`, `@jack`), besides the words inside them.
//!
//! Terms never contain spaces; `#`, `@` and `_` are the only
//! non-alphanumeric characters they can hold (the SQLite index is told to
//! keep those inside tokens).

use std::sync::OnceLock;

use jieba_rs::{Jieba, TokenizeMode};

use crate::normalize::{NChar, is_han, normalize_chars};

/// A term and the byte range of the original text it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub term: String,
    pub start: usize,
    pub end: usize,
}

/// Longest word kept (a base64 blob or a URL-ish run is not a word).
const MAX_WORD_CHARS: usize = 48;

fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Han,
    Kana,
    Hangul,
    Word,
    Other,
}

fn class(c: char) -> Class {
    if is_han(c) {
        Class::Han
    } else if matches!(c as u32, 0x3040..=0x309F | 0x30A0..=0x30FF | 0x31F0..=0x31FF) {
        Class::Kana
    } else if matches!(c as u32, 0xAC00..=0xD7AF | 0x1100..=0x11FF | 0x3130..=0x318F) {
        Class::Hangul
    } else if c.is_alphanumeric() || c == '_' {
        Class::Word
    } else {
        Class::Other
    }
}

/// Index-time tokens of `text`, in text order.
pub fn tokenize(text: &str) -> Vec<Token> {
    let chars = normalize_chars(text);
    let mut out = Vec::new();
    hashtags(&chars, &mut out);
    let mut i = 0;
    while i < chars.len() {
        let cls = class(chars[i].c);
        let mut j = i + 1;
        while j < chars.len() && class(chars[j].c) == cls {
            j += 1;
        }
        let run = &chars[i..j];
        match cls {
            Class::Han => han(run, &mut out),
            Class::Kana => grams(run, true, &mut out),
            Class::Hangul => {
                push(&mut out, run, word_of(run));
                grams(run, run.len() == 1, &mut out);
            }
            Class::Word => {
                if run.len() <= MAX_WORD_CHARS {
                    push(&mut out, run, stem(&word_of(run)));
                }
            }
            Class::Other => {}
        }
        i = j;
    }
    out.sort_by_key(|t| (t.start, t.end));
    out.dedup();
    out
}

/// Query-time terms of one word typed by a user: what every text that
/// contains the word has. A Chinese word becomes its bigrams (or its one
/// character), never its jieba words (a text may have segmented
/// differently); a hashtag stays a hashtag.
pub fn query_terms(word: &str) -> Vec<String> {
    let chars = normalize_chars(word);
    let mut out: Vec<String> = Vec::new();
    let mut tags = Vec::new();
    hashtags(&chars, &mut tags);
    if let Some(t) = tags.first()
        && t.start == chars.first().map_or(0, |c| c.start)
        && t.end == chars.last().map_or(0, |c| c.end)
    {
        return vec![t.term.clone()];
    }
    let mut i = 0;
    while i < chars.len() {
        let cls = class(chars[i].c);
        let mut j = i + 1;
        while j < chars.len() && class(chars[j].c) == cls {
            j += 1;
        }
        let run = &chars[i..j];
        match cls {
            Class::Han | Class::Kana | Class::Hangul => {
                if run.len() == 1 {
                    out.push(run[0].c.to_string());
                } else {
                    out.extend(run.windows(2).map(|w| [w[0].c, w[1].c].iter().collect()));
                }
            }
            Class::Word => {
                if run.len() <= MAX_WORD_CHARS {
                    out.push(stem(&word_of(run)));
                }
            }
            Class::Other => {}
        }
        i = j;
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|t| seen.insert(t.clone()));
    out
}

fn word_of(run: &[NChar]) -> String {
    run.iter().map(|n| n.c).collect()
}

fn push(out: &mut Vec<Token>, run: &[NChar], term: String) {
    if let (Some(first), Some(last)) = (run.first(), run.last()) {
        out.push(Token {
            term,
            start: first.start,
            end: last.end,
        });
    }
}

/// Characters (when `unigrams`) and overlapping pairs of a run.
fn grams(run: &[NChar], unigrams: bool, out: &mut Vec<Token>) {
    if unigrams {
        for n in run {
            push(out, std::slice::from_ref(n), n.c.to_string());
        }
    }
    for w in run.windows(2) {
        push(out, w, [w[0].c, w[1].c].iter().collect());
    }
}

fn han(run: &[NChar], out: &mut Vec<Token>) {
    grams(run, true, out);
    if run.len() < 3 {
        return;
    }
    let text = word_of(run);
    // jieba's offsets count characters of `text`, which are `run`'s.
    for t in jieba().tokenize(&text, TokenizeMode::Search, true) {
        if t.end.saturating_sub(t.start) >= 3 && t.end <= run.len() {
            push(out, &run[t.start..t.end], t.word.to_owned());
        }
    }
}

/// `#tag`, `#话题#` and `@name` as terms of their own.
fn hashtags(chars: &[NChar], out: &mut Vec<Token>) {
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].c;
        let at_word_start = i == 0 || class(chars[i - 1].c) == Class::Other && chars[i - 1].c != c;
        if (c == '#' || c == '@') && at_word_start {
            let mut j = i + 1;
            while j < chars.len() && class(chars[j].c) != Class::Other {
                j += 1;
            }
            let len = j - i - 1;
            if len > 0 && len <= MAX_WORD_CHARS {
                let term: String = std::iter::once(c)
                    .chain(chars[i + 1..j].iter().map(|n| n.c))
                    .collect();
                // Weibo closes a topic with a second `#`.
                let end = if c == '#' && chars.get(j).is_some_and(|n| n.c == '#') {
                    chars[j].end
                } else {
                    chars[j - 1].end
                };
                out.push(Token {
                    term,
                    start: chars[i].start,
                    end,
                });
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
}

/// A light English plural stemmer (Harman's S-stemmer), for plain ASCII
/// words longer than three letters.
fn stem(word: &str) -> String {
    if word.len() <= 3 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return word.to_owned();
    }
    if let Some(base) = word.strip_suffix("ies")
        && !base.ends_with(['e', 'a'])
    {
        return format!("{base}y");
    }
    if let Some(base) = word.strip_suffix("es")
        && !base.ends_with(['a', 'e', 'o'])
    {
        return format!("{base}e");
    }
    if let Some(base) = word.strip_suffix('s')
        && !base.ends_with(['u', 's'])
    {
        return base.to_owned();
    }
    word.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(s: &str) -> Vec<String> {
        tokenize(s).into_iter().map(|t| t.term).collect()
    }

    #[test]
    fn chinese_has_characters_bigrams_and_words() {
        let t = terms("我们今天讨论数据库设计");
        for want in ["数", "数据", "据库", "数据库", "设计"] {
            assert!(t.contains(&want.to_owned()), "{want} in {t:?}");
        }
    }

    #[test]
    fn a_two_character_word_in_a_long_sentence_is_a_term() {
        let text = "这是一个很长的句子其中有一个词是地铁然后继续写下去";
        let t = terms(text);
        for q in query_terms("地铁") {
            assert!(t.contains(&q), "{q} in {t:?}");
        }
    }

    #[test]
    fn traditional_and_simplified_meet() {
        let t = terms("臺灣的資料庫");
        for q in query_terms("台湾数据库").iter().take(1) {
            assert!(t.contains(q), "{q}");
        }
        for q in query_terms("資料") {
            assert!(t.contains(&q), "{q} in {t:?}");
        }
    }

    #[test]
    fn latin_is_folded_and_lightly_stemmed() {
        assert_eq!(
            terms("Cats and STORIES, Café!"),
            ["cat", "and", "story", "cafe"]
        );
        assert_eq!(query_terms("Ｃａｔｓ"), ["cat"]);
        assert_eq!(stem("bus"), "bus");
        assert_eq!(stem("class"), "class");
    }

    #[test]
    fn hashtags_and_names_are_kept() {
        let t = terms("hi @jack_dorsey see #Rust and #新闻# today");
        for want in [
            "@jack_dorsey",
            "jack_dorsey",
            "#rust",
            "rust",
            "#新闻",
            "新闻",
        ] {
            assert!(t.contains(&want.to_owned()), "{want} in {t:?}");
        }
        assert_eq!(query_terms("#Rust"), ["#rust"]);
        assert!(!terms("a#b").contains(&"#b".to_owned()));
    }

    #[test]
    fn kana_and_hangul() {
        let t = terms("カタカナのテスト 한국어 텍스트");
        for want in ["テス", "スト", "한국어", "한국"] {
            assert!(t.contains(&want.to_owned()), "{want} in {t:?}");
        }
    }

    #[test]
    fn offsets_cover_the_original() {
        let text = "Ａ臺灣";
        for tok in tokenize(text) {
            assert!(text.is_char_boundary(tok.start) && text.is_char_boundary(tok.end));
        }
        let t = tokenize("x 臺灣 y");
        let tw = t.iter().find(|t| t.term == "台湾").expect("bigram");
        assert_eq!(&"x 臺灣 y"[tw.start..tw.end], "臺灣");
    }
}
