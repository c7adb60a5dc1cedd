//! Find the links in a pasted share text.
//!
//! Apps wrap links in prose: `【标题】 https://b23.tv/abc123 复制打开…`,
//! `http://xhslink.com/a/AbCdEf，复制本条信息…`, `… https://x.com/jack/status/20?s=20 via @someone`.
//! A link ends where URLs never continue in such texts (white space, quotes,
//! angle brackets, CJK punctuation, fullwidth forms); trailing sentence
//! punctuation is trimmed. Everything here is a single left-to-right pass, so
//! long texts cost linear time.

use url::Url;
use vaultstream_core::{ErrorCode, UserError};

use super::is_known_host;

/// More candidates than this is not a share text; the first ones decide anyway.
const MAX_CANDIDATES: usize = 32;

/// Schemes users paste that we refuse by name (when no http link is
/// present), for a clearer error than "no link".
const COLON_SCHEMES: &[&str] = &[
    "javascript:",
    "data:",
    "mailto:",
    "about:",
    "file:",
    "ftp:",
    "tel:",
    "sms:",
    "magnet:",
    "blob:",
    "view-source:",
    "chrome:",
    "vbscript:",
];

/// Pure: find link candidates in text.
///
/// `http(s)://` links first; if there are none, bare `www.…` links and bare
/// links on known platform hosts (`b23.tv/BV…`), read as https. Errors:
/// blank text → `empty_input`; only unparseable http links → `invalid_url`;
/// only links with another scheme → `unsupported_scheme`; nothing →
/// `no_link_found`.
pub fn extract(text: &str) -> Result<Vec<Url>, UserError> {
    if text.trim().is_empty() {
        return Err(UserError::new(ErrorCode::EmptyInput, "the text is empty"));
    }

    let mut found = Vec::new();
    let mut first_error: Option<UserError> = None;
    for (start, raw) in scheme_links(text) {
        match parse_candidate(text, start, raw, "") {
            Ok(url) => found.push(url),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
        if found.len() == MAX_CANDIDATES {
            break;
        }
    }
    if !found.is_empty() {
        return Ok(found);
    }
    if let Some(e) = first_error {
        return Err(e);
    }

    for (start, raw) in bare_links(text) {
        if let Ok(url) = parse_candidate(text, start, raw, "https://") {
            found.push(url);
            if found.len() == MAX_CANDIDATES {
                break;
            }
        }
    }
    if !found.is_empty() {
        return Ok(found);
    }

    if let Some(scheme) = other_scheme(text) {
        return Err(UserError::new(
            ErrorCode::UnsupportedScheme,
            format!("only http and https links can be archived, not `{scheme}` links"),
        ));
    }
    Err(UserError::new(
        ErrorCode::NoLinkFound,
        "the text holds no http or https link",
    ))
}

/// Characters that never belong to a link inside prose.
fn ends_link(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(c, '<' | '>' | '"' | '\'' | '`' | '“' | '”' | '‘' | '’' | '…')
        // CJK symbols and punctuation: 、。〈〉《》「」『』【】〔〕〖〗 ...
        || ('\u{3000}'..='\u{303F}').contains(&c)
        // Fullwidth forms: ，！？；：（）［］ ...
        || ('\u{FF00}'..='\u{FFEF}').contains(&c)
        // Vertical and small CJK forms.
        || ('\u{FE10}'..='\u{FE1F}').contains(&c)
        || ('\u{FE30}'..='\u{FE6F}').contains(&c)
}

/// Byte offset where the link starting at `start` ends.
fn link_end(text: &str, start: usize) -> usize {
    text[start..]
        .char_indices()
        .find(|&(_, c)| ends_link(c))
        .map_or(text.len(), |(i, _)| start + i)
}

/// Drop sentence punctuation after a link, and a closing bracket that has no
/// opening one inside the link (`(see https://e.com/x)`), but keep balanced
/// ones (`https://en.wikipedia.org/wiki/Rust_(programming_language)`).
fn trim_trailing(mut s: &str) -> &str {
    // Counted once and updated as characters go, so a link ending in
    // thousands of `)` is still trimmed in linear time.
    let mut parens = s.matches('(').count() as isize - s.matches(')').count() as isize;
    let mut brackets = s.matches('[').count() as isize - s.matches(']').count() as isize;
    while let Some(last) = s.chars().next_back() {
        let drop = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '"' => true,
            ')' if parens < 0 => {
                parens += 1;
                true
            }
            ']' if brackets < 0 => {
                brackets += 1;
                true
            }
            _ => false,
        };
        if !drop {
            break;
        }
        s = &s[..s.len() - last.len_utf8()];
    }
    s
}

/// Every `http://` / `https://` link (scheme in any case), as (offset, text).
fn scheme_links(text: &str) -> Vec<(usize, &str)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() && out.len() < MAX_CANDIDATES * 2 {
        let rest = &bytes[i..];
        let scheme_len = if starts_with_ignore_case(rest, b"https://") {
            8
        } else if starts_with_ignore_case(rest, b"http://") {
            7
        } else {
            i += 1;
            continue;
        };
        // `i` sits on an ASCII byte, hence on a char boundary.
        let end = link_end(text, i + scheme_len);
        out.push((i, trim_trailing(&text[i..end])));
        i = end.max(i + scheme_len);
    }
    out
}

/// Links pasted without a scheme: `www.example.com/…` or a known platform
/// host followed by a path (`b23.tv/BV1GJ411x7h7`). They must start a word,
/// so the `www.` inside `ftp://www.x.org` or an e-mail domain is not one.
fn bare_links(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut at_boundary = true;
    // Past the end of the last link found: nothing inside a link starts another.
    let mut resume_at = 0;
    for (i, c) in text.char_indices() {
        let boundary_here = at_boundary;
        at_boundary = ends_link(c) || matches!(c, '(' | '[');
        if i < resume_at || !boundary_here || !c.is_ascii_alphanumeric() {
            continue;
        }
        let host_len = text[i..]
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
            .count();
        let host = &text[i..i + host_len];
        let next = text[i + host_len..].chars().next();
        let www = host.len() > 4
            && host[..4].eq_ignore_ascii_case("www.")
            && host[4..].trim_end_matches('.').contains('.');
        let known = next == Some('/') && is_known_host(host);
        if www || known {
            let end = link_end(text, i);
            out.push((i, trim_trailing(&text[i..end])));
            resume_at = end;
            if out.len() == MAX_CANDIDATES {
                break;
            }
        }
    }
    out
}

fn parse_candidate(text: &str, start: usize, raw: &str, prefix: &str) -> Result<Url, UserError> {
    let invalid = |why: String| UserError::new(ErrorCode::InvalidUrl, why);
    let raw = truncate_platform_link(raw, prefix.is_empty());
    if broken_by_space(text, start, raw) {
        return Err(invalid(format!(
            "`{raw}` is cut by a space inside its host name"
        )));
    }
    let url = Url::parse(&format!("{prefix}{raw}"))
        .map_err(|e| invalid(format!("`{raw}` is not a valid link: {e}")))?;
    Ok(url)
}

/// Platform links are plain ASCII; app texts sometimes glue words straight
/// onto them (`https://b23.tv/abc123复制打开`), so on a known host the link
/// stops at the first non-ASCII character.
fn truncate_platform_link(raw: &str, has_scheme: bool) -> &str {
    let after_scheme = if has_scheme {
        raw.find("://").map_or(0, |i| i + 3)
    } else {
        0
    };
    let authority = raw[after_scheme..]
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = host_port.split(':').next().unwrap_or_default();
    if !is_known_host(host) {
        return raw;
    }
    match raw.char_indices().find(|(_, c)| !c.is_ascii()) {
        Some((i, _)) => trim_trailing(&raw[..i]),
        None => raw,
    }
}

/// `http://exa mple.com`: the host was split by a space. Parsing `http://exa`
/// alone would "succeed" on the wrong host, so this is reported as invalid.
fn broken_by_space(text: &str, start: usize, raw: &str) -> bool {
    let Some(authority) = raw.find("://").map(|i| &raw[i + 3..]) else {
        return false;
    };
    if authority.is_empty() || authority.contains(['/', '?', '#', '.', ':', '@', '[']) {
        return false;
    }
    let after = &text[start + raw.len()..];
    if !after.starts_with(' ') {
        return false;
    }
    let next_word = after.trim_start_matches(' ');
    let host_part = next_word
        .split(|c: char| c.is_whitespace() || c == '/')
        .next()
        .unwrap_or_default();
    let host_part = trim_trailing(host_part);
    host_part.contains('.')
        && host_part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
}

/// A non-http scheme present in the text (`ftp://…`, `javascript:…`), for the
/// error message.
fn other_scheme(text: &str) -> Option<String> {
    // `<scheme>://` anywhere, e.g. ftp://, chrome://, bilibili://
    let mut search = 0;
    while let Some(pos) = text[search..].find("://") {
        let at = search + pos;
        let scheme_start = text[..at]
            .bytes()
            .rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
            .map_or(0, |p| p + 1);
        let scheme = &text[scheme_start..at];
        if scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
        {
            return Some(format!("{}:", scheme.to_ascii_lowercase()));
        }
        search = at + 3;
    }
    // `javascript:alert(1)`, `mailto:a@b.c`: only well-known names, because
    // "Note:" in prose is not a scheme.
    let mut at_boundary = true;
    for (i, c) in text.char_indices() {
        let boundary_here = at_boundary;
        at_boundary = ends_link(c) || matches!(c, '(' | '[');
        if !boundary_here || !c.is_ascii_alphabetic() {
            continue;
        }
        let rest = &text.as_bytes()[i..];
        if let Some(scheme) = COLON_SCHEMES
            .iter()
            .find(|s| starts_with_ignore_case(rest, s.as_bytes()))
        {
            return Some((*scheme).to_owned());
        }
    }
    None
}

fn starts_with_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.len() >= needle.len() && haystack[..needle.len()].eq_ignore_ascii_case(needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(text: &str) -> Vec<String> {
        extract(text)
            .map(|v| v.into_iter().map(String::from).collect())
            .unwrap_or_default()
    }

    #[test]
    fn trims_and_balances() {
        assert_eq!(links("see (https://e.com/x)."), ["https://e.com/x"]);
        assert_eq!(
            links("https://en.wikipedia.org/wiki/Rust_(programming_language)!"),
            ["https://en.wikipedia.org/wiki/Rust_(programming_language)"]
        );
        assert_eq!(links("[a](https://e.com/a_(b))"), ["https://e.com/a_(b)"]);
        assert_eq!(links("\"https://e.com/q?a=1\","), ["https://e.com/q?a=1"]);
    }

    #[test]
    fn several_links_in_order() {
        assert_eq!(
            links("a https://one.example/ b HTTP://two.example/x c"),
            ["https://one.example/", "http://two.example/x"]
        );
    }

    #[test]
    fn platform_links_stop_at_cjk() {
        assert_eq!(
            links("https://b23.tv/abc123复制打开"),
            ["https://b23.tv/abc123"]
        );
        // Other hosts may have non-ASCII paths.
        assert_eq!(
            links("https://zh.wikipedia.org/wiki/中文 x"),
            ["https://zh.wikipedia.org/wiki/%E4%B8%AD%E6%96%87"]
        );
    }

    #[test]
    fn bare_links_need_a_word_start() {
        assert_eq!(
            links("看 b23.tv/BV1GJ411x7h7 吧"),
            ["https://b23.tv/BV1GJ411x7h7"]
        );
        assert_eq!(links("www.example.com"), ["https://www.example.com/"]);
        assert!(links("mail me at a@www.example.com").is_empty());
        assert!(links("I use x.com a lot").is_empty());
    }

    #[test]
    fn error_codes() {
        let code = |t: &str| extract(t).err().map(|e| e.code);
        assert_eq!(code("  \n\t "), Some(ErrorCode::EmptyInput));
        assert_eq!(code("hello there"), Some(ErrorCode::NoLinkFound));
        assert_eq!(code("Note: nothing here"), Some(ErrorCode::NoLinkFound));
        assert_eq!(
            code("ftp://www.example.com/f"),
            Some(ErrorCode::UnsupportedScheme)
        );
        assert_eq!(
            code("JavaScript:alert(1)"),
            Some(ErrorCode::UnsupportedScheme)
        );
        assert_eq!(code("http://"), Some(ErrorCode::InvalidUrl));
        assert_eq!(code("http://exa mple.com"), Some(ErrorCode::InvalidUrl));
        assert_eq!(
            code("http://example.com:99999/"),
            Some(ErrorCode::InvalidUrl)
        );
    }
}
