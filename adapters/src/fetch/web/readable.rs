//! The readable part of a page: the block that holds its article, and the
//! pictures in it.
//!
//! A page that marks its content (`<article>`, `<main>`, `role="main"`)
//! is taken at its word. Otherwise the block with the most paragraph text
//! wins, scored the way Readability does in short: each paragraph of at
//! least [`MIN_PARAGRAPH_CHARS`] characters gives its parent a point, one
//! per comma (Chinese and Japanese ones too) and up to three for its
//! length, and half of that to its grandparent; a block's score shrinks
//! with the share of its text that is links, and its class/id nudges it
//! (`content`, `article`, `post` up; `comment`, `sidebar`, `footer` down).

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::super::html::{self, ImageRef};

/// Shorter paragraphs are captions, buttons and bylines.
const MIN_PARAGRAPH_CHARS: usize = 25;
/// A guessed block needs at least this score (about three real
/// paragraphs); below it the whole body is the text.
const MIN_SCORE: f64 = 5.0;
/// Declared sizes below this are icons, badges and avatars.
const MIN_IMAGE_SIDE: u32 = 32;

fn sel(s: &str) -> Option<Selector> {
    Selector::parse(s).ok()
}

static MARKED: LazyLock<Vec<Selector>> = LazyLock::new(|| {
    ["article", "main", r#"[role="main"]"#]
        .into_iter()
        .filter_map(sel)
        .collect()
});
static PARAGRAPHS: LazyLock<Option<Selector>> = LazyLock::new(|| sel("p, pre"));
static LINKS: LazyLock<Option<Selector>> = LazyLock::new(|| sel("a"));
static BODY: LazyLock<Option<Selector>> = LazyLock::new(|| sel("body"));
static NEGATIVE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)comment|footer|sidebar|nav|menu|\bads?\b|promo|related|share|social|sponsor|widget|banner|breadcrumb|masthead").ok()
});
static POSITIVE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)article|content|entry|main|post|story|text|body|blog").ok());
/// Paths of pictures that are never content: trackers, spacers, icons.
static NOT_CONTENT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)pixel|spacer|tracking|/beacon|favicon|/icons?/|/emoji|blank\.gif|transparent\.gif|1x1\.").ok()
});

/// The element with the page's main content, if the page has any text.
pub(crate) fn main_block(doc: &Html) -> Option<ElementRef<'_>> {
    let marked = MARKED
        .iter()
        .find_map(|s| doc.select(s).find(|e| !html::element_text(*e).is_empty()));
    marked.or_else(|| densest(doc)).or_else(|| {
        BODY.as_ref()
            .and_then(|s| doc.select(s).next())
            .filter(|e| !html::element_text(*e).is_empty())
    })
}

fn densest(doc: &Html) -> Option<ElementRef<'_>> {
    let mut scores = HashMap::new();
    for p in doc.select(PARAGRAPHS.as_ref()?) {
        let text = html::element_text(p);
        let chars = text.chars().count();
        if chars < MIN_PARAGRAPH_CHARS {
            continue;
        }
        let commas = text
            .chars()
            .filter(|c| matches!(c, ',' | '，' | '、' | '。' | '；'))
            .count();
        let score = 1.0 + commas as f64 + (chars / 100).min(3) as f64;
        let parent = p.parent().and_then(ElementRef::wrap);
        if let Some(parent) = parent {
            *scores.entry(parent.id()).or_insert(0.0) += score;
            if let Some(grand) = parent.parent().and_then(ElementRef::wrap) {
                *scores.entry(grand.id()).or_insert(0.0) += score / 2.0;
            }
        }
    }
    scores
        .into_iter()
        .filter_map(|(id, score)| {
            let el = doc.tree.get(id).and_then(ElementRef::wrap)?;
            if matches!(el.value().name(), "body" | "html") {
                return None;
            }
            let final_score = score * (1.0 - link_density(el)) + class_weight(el);
            (final_score >= MIN_SCORE).then_some((el, final_score))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(el, _)| el)
}

fn link_density(el: ElementRef<'_>) -> f64 {
    let total = html::element_text(el).chars().count();
    if total == 0 {
        return 1.0;
    }
    let Some(links) = LINKS.as_ref() else {
        return 0.0;
    };
    let linked: usize = el
        .select(links)
        .map(|a| html::element_text(a).chars().count())
        .sum();
    (linked as f64 / total as f64).min(1.0)
}

fn class_weight(el: ElementRef<'_>) -> f64 {
    let e = el.value();
    let names = format!(
        "{} {}",
        e.attr("class").unwrap_or_default(),
        e.attr("id").unwrap_or_default()
    );
    let hit = |r: &Option<Regex>| r.as_ref().is_some_and(|r| r.is_match(&names));
    let mut weight = 0.0;
    if hit(&NEGATIVE) {
        weight -= 25.0;
    }
    if hit(&POSITIVE) {
        weight += 25.0;
    }
    weight
}

/// The pictures of the main block in order, without trackers and icons.
pub(crate) fn images(main: ElementRef<'_>, base: &Url) -> Vec<ImageRef> {
    html::image_refs(main, Some(base))
        .into_iter()
        .filter(|i| {
            let small = |side: Option<u32>| side.is_some_and(|s| s < MIN_IMAGE_SIDE);
            let path = Url::parse(&i.url)
                .map(|u| u.path().to_owned())
                .unwrap_or_default();
            let tracker = NOT_CONTENT.as_ref().is_some_and(|r| r.is_match(&path));
            !(small(i.width) || small(i.height) || tracker)
        })
        .collect()
}

/// Sanitised HTML of the main block, without its navigation, asides and
/// forms (their text is never content).
pub(crate) fn clean_html(main: ElementRef<'_>) -> String {
    ammonia::Builder::default()
        .rm_tags(&["nav", "aside"])
        .add_clean_content_tags(&["nav", "aside", "form", "button", "select", "textarea"])
        .clean(&main.inner_html())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_densest_block_wins_over_navigation() {
        let para = "这是一段足够长的正文，用来测试正文的识别。它有逗号，也有句号。";
        let page = format!(
            r#"<html><body><div id="nav"><p><a href="/a">首页 首页 首页 首页 首页 首页 首页 首页 首页 首页</a></p></div>
            <div class="wrap"><div class="post-body"><p>{para}</p><p>{para}</p><p>{para}</p>
            <img src="/a.jpg" width="640"><img src="/icon.png" width="16"><img src="/pixel.gif?x=1"></div>
            <div class="comments"><p>{para}</p></div></div></body></html>"#
        );
        let doc = Html::parse_document(&page);
        let main = main_block(&doc).expect("main");
        assert_eq!(main.value().attr("class"), Some("post-body"));
        let base = Url::parse("https://example.cn/x").expect("url");
        let urls: Vec<String> = images(main, &base).into_iter().map(|i| i.url).collect();
        assert_eq!(urls, vec!["https://example.cn/a.jpg"]);
    }

    #[test]
    fn short_pages_fall_back_to_the_body() {
        let doc = Html::parse_document("<html><body><p>hi</p></body></html>");
        assert_eq!(main_block(&doc).map(|e| e.value().name()), Some("body"));
    }
}
