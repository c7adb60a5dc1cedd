//! The header policy of media requests: the Referer each CDN checks, and
//! which of an adapter's headers a media request may carry.

use std::collections::BTreeMap;

use url::Url;

/// Headers a media host needs when the adapter gave none: the Referer of
/// its platform for the CDNs that check it (a desktop User-Agent is sent
/// anyway, which is all they want of it). Explicit headers from the caller
/// win.
pub fn default_media_headers(url: &Url) -> Vec<(&'static str, &'static str)> {
    const REFERERS: &[(&str, &str)] = &[
        ("hdslb.com", "https://www.bilibili.com/"),
        ("bilivideo.com", "https://www.bilibili.com/"),
        ("bilivideo.cn", "https://www.bilibili.com/"),
        ("sinaimg.cn", "https://weibo.com/"),
        ("weibocdn.com", "https://weibo.com/"),
        ("xhscdn.com", "https://www.xiaohongshu.com/"),
        ("douyinpic.com", "https://www.douyin.com/"),
        ("douyinvod.com", "https://www.douyin.com/"),
        ("zjcdn.com", "https://www.douyin.com/"),
        ("zhimg.com", "https://www.zhihu.com/"),
    ];
    let Some(host) = url.host_str() else {
        return Vec::new();
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    REFERERS
        .iter()
        .find(|(domain, _)| {
            host == *domain
                || host
                    .strip_suffix(domain)
                    .is_some_and(|rest| rest.ends_with('.'))
        })
        .map(|(_, referer)| vec![("Referer", *referer)])
        .unwrap_or_default()
}

/// The caller's headers we pass on (others are dropped: a media request
/// carries no credentials, and the client owns Accept/Range/encoding).
const CALLER_HEADERS: [&str; 3] = ["referer", "user-agent", "origin"];

/// [`default_media_headers`] with the caller's Referer/User-Agent/Origin on
/// top (names compared case-insensitively), in a stable order.
pub(super) fn merged_headers(
    url: &Url,
    explicit: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = default_media_headers(url)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    for (name, value) in explicit {
        let lower = name.trim().to_ascii_lowercase();
        if !CALLER_HEADERS.contains(&lower.as_str()) {
            tracing::debug!(header = %lower, "media request header ignored");
            continue;
        }
        out.retain(|(k, _)| !k.eq_ignore_ascii_case(&lower));
        out.push((canonical_name(&lower).to_owned(), value.clone()));
    }
    out
}

fn canonical_name(lower: &str) -> &'static str {
    match lower {
        "referer" => "Referer",
        "user-agent" => "User-Agent",
        _ => "Origin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test URL")
    }

    #[test]
    fn default_headers_per_cdn() {
        let referer = |u: &str| {
            default_media_headers(&url(u))
                .into_iter()
                .find(|(k, _)| *k == "Referer")
                .map(|(_, v)| v)
        };
        assert_eq!(
            referer("https://i0.hdslb.com/bfs/a.jpg"),
            Some("https://www.bilibili.com/")
        );
        assert_eq!(
            referer("https://upos-sz-mirrorcos.bilivideo.com/v.m4s"),
            Some("https://www.bilibili.com/")
        );
        assert_eq!(
            referer("https://wx1.SINAIMG.cn./large/x.jpg"),
            Some("https://weibo.com/")
        );
        assert_eq!(
            referer("https://sns-webpic-qc.xhscdn.com/x"),
            Some("https://www.xiaohongshu.com/")
        );
        assert_eq!(
            referer("https://p3-pc-sign.douyinpic.com/x"),
            Some("https://www.douyin.com/")
        );
        assert_eq!(
            referer("https://v26-web.douyinvod.com/x"),
            Some("https://www.douyin.com/")
        );
        assert_eq!(
            referer("https://v3-dy-o.zjcdn.com/x"),
            Some("https://www.douyin.com/")
        );
        assert_eq!(
            referer("https://pic1.zhimg.com/x.jpg"),
            Some("https://www.zhihu.com/")
        );
        assert_eq!(referer("https://pbs.twimg.com/media/x.jpg"), None);
        // A suffix match needs a label boundary.
        assert_eq!(referer("https://evilhdslb.com/x.jpg"), None);
    }

    #[test]
    fn explicit_headers_win_and_others_are_dropped() {
        let mut explicit = BTreeMap::new();
        explicit.insert("referer".to_owned(), "https://example.com/".to_owned());
        explicit.insert("Cookie".to_owned(), "a=b".to_owned());
        explicit.insert("User-Agent".to_owned(), "UA/1".to_owned());
        let mut merged = merged_headers(&url("https://i0.hdslb.com/x.jpg"), &explicit);
        merged.sort();
        assert_eq!(
            merged,
            vec![
                ("Referer".to_owned(), "https://example.com/".to_owned()),
                ("User-Agent".to_owned(), "UA/1".to_owned()),
            ]
        );
    }
}
