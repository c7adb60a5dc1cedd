//! VaultStream search text processing: what both databases' full-text
//! indexes are fed with, and how queries are read. No database here: the
//! `core` crate stores [`render::Indexed`] documents and runs the rendered
//! queries; everything that decides *what matches* lives in this crate, so
//! SQLite and PostgreSQL answer the same.
//!
//! Layout:
//! - [`normalize`]: traditional → simplified Chinese, NFKC (full-width
//!   forms), lower case, accents folded — with offsets into the original.
//! - [`tokenize`]: the one tokenizer (Chinese characters + bigrams + jieba
//!   words, kana and hangul grams, folded and lightly stemmed words,
//!   `#tags` and `@names`), at index time and at query time.
//! - [`query`]: the query language (words, `"phrases"`, `-exclusions`,
//!   `OR`, `platform:` `tag:` `author:` `kind:` `status:` `before:`
//!   `after:` `has:` filters) with errors that say where.
//! - [`render`]: documents → FTS5 terms and `tsvector` literals; queries →
//!   FTS5 `MATCH` and `tsquery` expressions.
//! - [`snippet`]: highlighted, HTML-escaped snippets of the original text.

pub mod normalize;
pub mod query;
pub mod render;
pub mod snippet;
pub mod tokenize;

pub use query::{Query, QueryError, parse};
pub use render::{Field, Indexed, index};
