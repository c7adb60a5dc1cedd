//! Platforms and the identity of one piece of content.
//!
//! Every link a user pastes is reduced to an [`Identity`]: the pair
//! `(platform, platform_id)` is unique in the database, so the same content is
//! stored once however it was pasted.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A source platform. `Web` is any page no platform adapter claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Bilibili,
    Twitter,
    Weibo,
    Xiaohongshu,
    Zhihu,
    Douyin,
    Youtube,
    Web,
}

impl Platform {
    pub const ALL: [Platform; 8] = [
        Platform::Bilibili,
        Platform::Twitter,
        Platform::Weibo,
        Platform::Xiaohongshu,
        Platform::Zhihu,
        Platform::Douyin,
        Platform::Youtube,
        Platform::Web,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Bilibili => "bilibili",
            Platform::Twitter => "twitter",
            Platform::Weibo => "weibo",
            Platform::Xiaohongshu => "xiaohongshu",
            Platform::Zhihu => "zhihu",
            Platform::Douyin => "douyin",
            Platform::Youtube => "youtube",
            Platform::Web => "web",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == lower)
            // Users say "x" for Twitter and "generic" for plain pages.
            .or(match lower.as_str() {
                "x" => Some(Platform::Twitter),
                "generic" => Some(Platform::Web),
                _ => None,
            })
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// What kind of thing a piece of content is. Decided from the link at
/// submission time and refined by the adapter when it parses the item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ContentKind {
    /// A video page (Bilibili video, YouTube, Douyin video).
    Video,
    /// A short post: tweet, Weibo status, Bilibili dynamic, Zhihu pin.
    Post,
    /// A Xiaohongshu note or a Douyin photo post.
    Note,
    /// A Zhihu answer.
    Answer,
    /// A Zhihu question.
    Question,
    /// A long-form article (Zhihu column article, Bilibili cv article).
    Article,
    /// Any other web page.
    Page,
    /// An author's self-thread (a tweet and its continuations), one item
    /// with ordered parts.
    Thread,
    /// A season of a series (Bilibili bangumi/PGC): its episodes as parts.
    Season,
    /// A Zhihu pin (想法).
    Pin,
}

impl ContentKind {
    pub const ALL: [ContentKind; 10] = [
        ContentKind::Video,
        ContentKind::Post,
        ContentKind::Note,
        ContentKind::Answer,
        ContentKind::Question,
        ContentKind::Article,
        ContentKind::Page,
        ContentKind::Thread,
        ContentKind::Season,
        ContentKind::Pin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ContentKind::Video => "video",
            ContentKind::Post => "post",
            ContentKind::Note => "note",
            ContentKind::Answer => "answer",
            ContentKind::Question => "question",
            ContentKind::Article => "article",
            ContentKind::Page => "page",
            ContentKind::Thread => "thread",
            ContentKind::Season => "season",
            ContentKind::Pin => "pin",
        }
    }
}

impl fmt::Display for ContentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContentKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ContentKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// A name that is not one of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name `{0}`")]
pub struct UnknownName(pub String);

/// The identity of one piece of content: what a link reduces to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub platform: Platform,
    /// The platform's own id, in one canonical spelling (e.g. a Bilibili BV id,
    /// a numeric tweet id, `answer:123` on Zhihu, the normalised URL for `Web`).
    pub platform_id: String,
    /// The link we would hand a person to open this content.
    pub canonical_url: String,
    pub kind: ContentKind,
}
