//! The identity contract, as a table: every form a user can paste of the
//! same content maps to the same (platform, platform_id); different content
//! never merges; bad input gets the right error code.
//!
//! Pure: uses `recognise_text` (what `Linker::identify` does before any
//! network), so short links are expected as `short` with the link to follow.

use std::fmt::Write as _;

use url::Url;
use vaultstream_adapters::http::UpstreamOverrides;
use vaultstream_adapters::links::{LinkPolicy, Recognised, recognise, recognise_text};
use vaultstream_core::ContentKind;

/// (input text, expected platform | "short" | "error", expected id | short URL | error code)
#[rustfmt::skip]
const CASES: &[(&str, &str, &str)] = &[
    // ---- Bilibili videos: BV1GJ411x7h7 = av80433022 ------------------------------------
    ("https://www.bilibili.com/video/BV1GJ411x7h7", "bilibili", "BV1GJ411x7h7"),
    ("https://www.bilibili.com/video/BV1GJ411x7h7/", "bilibili", "BV1GJ411x7h7"),
    ("https://www.bilibili.com/video/BV1GJ411x7h7/?p=2&share_source=copy_web&vd_source=0f1e2d", "bilibili", "BV1GJ411x7h7"),
    ("https://m.bilibili.com/video/BV1GJ411x7h7?spm_id_from=333.1007.tianma.1-1-1.click", "bilibili", "BV1GJ411x7h7"),
    ("https://bilibili.com/video/bv1GJ411x7h7", "bilibili", "BV1GJ411x7h7"),
    ("https://www.bilibili.com/video/Bv1GJ411x7h7?t=30.5", "bilibili", "BV1GJ411x7h7"),
    ("https://www.bilibili.com/video/av80433022", "bilibili", "BV1GJ411x7h7"),
    ("https://www.bilibili.com/video/AV80433022/", "bilibili", "BV1GJ411x7h7"),
    ("https://m.bilibili.com/video/av80433022?share_medium=android", "bilibili", "BV1GJ411x7h7"),
    ("https://www.bilibili.com/s/video/BV1GJ411x7h7", "bilibili", "BV1GJ411x7h7"),
    ("https://b23.tv/BV1GJ411x7h7", "bilibili", "BV1GJ411x7h7"),
    ("https://b23.tv/av80433022", "bilibili", "BV1GJ411x7h7"),
    ("HTTPS://WWW.BILIBILI.COM/video/BV1GJ411x7h7", "bilibili", "BV1GJ411x7h7"),
    ("https://www.bilibili.com./video/BV1GJ411x7h7", "bilibili", "BV1GJ411x7h7"),
    ("https://www.bilibili.com/video/BV1GJ411x7h7#reply1234", "bilibili", "BV1GJ411x7h7"),
    ("http://www.bilibili.com/video/BV1GJ411x7h7", "bilibili", "BV1GJ411x7h7"),
    ("【【官方 MV】Never Gonna Give You Up - Rick Astley-哔哩哔哩】 https://b23.tv/BV1GJ411x7h7", "bilibili", "BV1GJ411x7h7"),
    ("b23.tv/BV1GJ411x7h7", "bilibili", "BV1GJ411x7h7"),
    ("看看 www.bilibili.com/video/av80433022 吧", "bilibili", "BV1GJ411x7h7"),
    ("https://player.bilibili.com/player.html?aid=80433022&page=1", "bilibili", "BV1GJ411x7h7"),
    ("https://player.bilibili.com/player.html?bvid=BV1GJ411x7h7&autoplay=0", "bilibili", "BV1GJ411x7h7"),
    ("https://www.bilibili.com/video/av85440373", "bilibili", "BV117411r7R1"),
    ("https://www.bilibili.com/video/BV117411r7R1", "bilibili", "BV117411r7R1"),
    ("https://www.bilibili.com/video/av99999999", "bilibili", "BV1y7411Q7Eq"),
    ("https://www.bilibili.com/video/av111298867365120", "bilibili", "BV1L9Uoa9EUx"),
    // ---- Bilibili dynamics, articles, bangumi ------------------------------------------
    ("https://t.bilibili.com/967717348014293017", "bilibili", "dynamic:967717348014293017"),
    ("https://t.bilibili.com/967717348014293017?share_source=pc_native&tab=2", "bilibili", "dynamic:967717348014293017"),
    ("https://www.bilibili.com/opus/967717348014293017", "bilibili", "dynamic:967717348014293017"),
    ("https://m.bilibili.com/dynamic/967717348014293017", "bilibili", "dynamic:967717348014293017"),
    ("https://m.bilibili.com/opus/967717348014293017/", "bilibili", "dynamic:967717348014293017"),
    ("https://t.bilibili.com/h5/dynamic/detail/967717348014293017", "bilibili", "dynamic:967717348014293017"),
    ("https://www.bilibili.com/read/cv12345678", "bilibili", "cv12345678"),
    ("https://www.bilibili.com/read/cv12345678/?from=search", "bilibili", "cv12345678"),
    ("https://www.bilibili.com/read/mobile/12345678", "bilibili", "cv12345678"),
    ("https://www.bilibili.com/read/mobile?id=12345678", "bilibili", "cv12345678"),
    ("https://www.bilibili.com/bangumi/play/ep123456", "bilibili", "ep123456"),
    ("https://www.bilibili.com/bangumi/play/ss12548?from=search", "bilibili", "ss12548"),
    ("https://b23.tv/abc1234", "short", "https://b23.tv/abc1234"),
    ("https://bili2233.cn/xYz9AbC", "short", "https://bili2233.cn/xYz9AbC"),
    ("【标题】 https://b23.tv/abc123 复制打开哔哩哔哩", "short", "https://b23.tv/abc123"),
    ("【标题】https://b23.tv/abc123复制打开哔哩哔哩", "short", "https://b23.tv/abc123"),
    // Bilibili hosts that are not one piece of content are plain pages.
    ("https://space.bilibili.com/123456", "web", "https://space.bilibili.com/123456"),
    ("https://space.bilibili.com/123456?spm_id_from=333.1007.0.0", "web", "https://space.bilibili.com/123456"),
    ("https://www.bilibili.com/", "web", "https://www.bilibili.com/"),
    ("https://www.bilibili.com/video/BV1GJ411x7h", "web", "https://www.bilibili.com/video/BV1GJ411x7h"),
    // ---- Twitter / X ---------------------------------------------------------------------
    ("https://twitter.com/jack/status/20", "twitter", "20"),
    ("https://x.com/jack/status/20?s=20&t=abcDEF123", "twitter", "20"),
    ("Check this out https://x.com/jack/status/20?s=20 via @someone", "twitter", "20"),
    ("https://mobile.twitter.com/jack/status/20", "twitter", "20"),
    ("https://www.twitter.com/jack/statuses/20", "twitter", "20"),
    ("https://twitter.com/i/web/status/20", "twitter", "20"),
    ("https://x.com/i/status/20", "twitter", "20"),
    ("https://x.com/jack/status/20/photo/1", "twitter", "20"),
    ("https://x.com/jack/status/20/video/1", "twitter", "20"),
    ("https://x.com/jack/status/20/analytics", "twitter", "20"),
    ("https://fxtwitter.com/jack/status/20", "twitter", "20"),
    ("https://vxtwitter.com/jack/status/20", "twitter", "20"),
    ("https://fixupx.com/jack/status/20", "twitter", "20"),
    ("https://fixvx.com/jack/status/20", "twitter", "20"),
    ("https://d.fxtwitter.com/jack/status/20", "twitter", "20"),
    ("https://X.COM./jack/status/20", "twitter", "20"),
    ("https://x.com/jack/status/020", "twitter", "20"),
    ("https://x.com/jack/status/20#m", "twitter", "20"),
    ("\"https://x.com/jack/status/20\".", "twitter", "20"),
    ("https://x.com/FxTwitter/status/1580661436132757506", "twitter", "1580661436132757506"),
    ("https://x.com/jack/status/123456789012345678901", "web", "https://x.com/jack/status/123456789012345678901"),
    ("https://x.com/jack", "web", "https://x.com/jack"),
    ("https://t.co/AbCdEf1234", "short", "https://t.co/AbCdEf1234"),
    // ---- Weibo: mid 4136245053838604 = bid FfcTLg6AY ---------------------------------------
    ("https://m.weibo.cn/detail/4136245053838604", "weibo", "4136245053838604"),
    ("https://m.weibo.cn/status/4136245053838604", "weibo", "4136245053838604"),
    ("https://m.weibo.cn/status/FfcTLg6AY", "weibo", "4136245053838604"),
    ("https://weibo.com/1307651590/FfcTLg6AY", "weibo", "4136245053838604"),
    ("https://www.weibo.com/1307651590/FfcTLg6AY?type=comment#_rnd1700000000000", "weibo", "4136245053838604"),
    ("https://weibo.com/1307651590/4136245053838604", "weibo", "4136245053838604"),
    ("https://m.weibo.cn/1307651590/4136245053838604", "weibo", "4136245053838604"),
    ("https://weibo.com/detail/4136245053838604", "weibo", "4136245053838604"),
    ("https://share.api.weibo.cn/share/123456789,4136245053838604.html", "weibo", "4136245053838604"),
    ("https://weibointl.api.weibo.cn/share/123456.html?weibo_id=4136245053838604", "weibo", "4136245053838604"),
    ("https://WEIBO.COM./1307651590/FfcTLg6AY", "weibo", "4136245053838604"),
    ("https://weibo.com/2803301701/QdGSDbsQI", "weibo", "5232630992732508"),
    ("https://m.weibo.cn/detail/5232630992732508", "weibo", "5232630992732508"),
    ("https://weibo.com/1234567890/K3fnuEfZK", "weibo", "4607741009594608"),
    ("https://weibo.com/1234567890/QathNq6DV", "weibo", "5224958596222067"),
    ("https://weibo.com/u/1307651590", "web", "https://weibo.com/u/1307651590"),
    ("https://weibo.com/1307651590", "web", "https://weibo.com/1307651590"),
    ("https://weibo.com/1307651590/follow", "web", "https://weibo.com/1307651590/follow"),
    ("https://t.cn/A6abcdEf", "short", "https://t.cn/A6abcdEf"),
    ("https://weibo.cn/sinaurl?u=https%3A%2F%2Fwww.bilibili.com%2Fvideo%2FBV1GJ411x7h7", "bilibili", "BV1GJ411x7h7"),
    // ---- Xiaohongshu -------------------------------------------------------------------------
    ("https://www.xiaohongshu.com/explore/6411cf99000000001300b6d9", "xiaohongshu", "6411cf99000000001300b6d9"),
    ("https://www.xiaohongshu.com/explore/6411cf99000000001300b6d9?xsec_token=ABxyz=&xsec_source=pc_share", "xiaohongshu", "6411cf99000000001300b6d9"),
    ("https://www.xiaohongshu.com/discovery/item/6411cf99000000001300b6d9?app_platform=ios&share_id=abc", "xiaohongshu", "6411cf99000000001300b6d9"),
    ("https://www.xiaohongshu.com/user/profile/5f1234567890abcdef123456/6411cf99000000001300b6d9", "xiaohongshu", "6411cf99000000001300b6d9"),
    ("https://xiaohongshu.com/explore/6411cf99000000001300b6d9", "xiaohongshu", "6411cf99000000001300b6d9"),
    ("https://m.xiaohongshu.com/discovery/item/6411CF99000000001300B6D9", "xiaohongshu", "6411cf99000000001300b6d9"),
    ("https://www.xiaohongshu.com/explore/64cca5ba000000001201e1af#comment", "xiaohongshu", "64cca5ba000000001201e1af"),
    ("88 【好看的笔记 - 小红书】 😆 AbCdEf 😆 http://xhslink.com/a/AbCdEf，复制本条信息，打开【小红书】App查看精彩内容！", "short", "http://xhslink.com/a/AbCdEf"),
    ("http://xhslink.com/AbCdEf", "short", "http://xhslink.com/AbCdEf"),
    ("https://xhslink.com/m/AbCdEf", "short", "https://xhslink.com/m/AbCdEf"),
    ("https://xhslink.com/o/AbCdEf", "short", "https://xhslink.com/o/AbCdEf"),
    ("https://www.xiaohongshu.com/user/profile/5f1234567890abcdef123456", "web", "https://www.xiaohongshu.com/user/profile/5f1234567890abcdef123456"),
    ("https://www.xiaohongshu.com/explore/6411cf99000000001300b6d", "web", "https://www.xiaohongshu.com/explore/6411cf99000000001300b6d"),
    // ---- Zhihu -----------------------------------------------------------------------------
    ("https://www.zhihu.com/question/58570383/answer/2076341989990319717", "zhihu", "answer:2076341989990319717"),
    ("https://www.zhihu.com/answer/2076341989990319717", "zhihu", "answer:2076341989990319717"),
    ("https://zhihu.com/answer/2076341989990319717", "zhihu", "answer:2076341989990319717"),
    ("https://m.zhihu.com/question/58570383/answer/2076341989990319717?utm_psn=1234&utm_source=wechat", "zhihu", "answer:2076341989990319717"),
    ("https://www.zhihu.com/question/58570383/answer/2076341989990319717/", "zhihu", "answer:2076341989990319717"),
    ("https://oia.zhihu.com/answers/2076341989990319717", "zhihu", "answer:2076341989990319717"),
    ("https://www.zhihu.com/appview/answer/100000803", "zhihu", "answer:100000803"),
    ("https://www.zhihu.com/question/58570383", "zhihu", "question:58570383"),
    ("https://www.zhihu.com/question/58570383/answers/updated", "zhihu", "question:58570383"),
    ("https://zhuanlan.zhihu.com/p/37931567", "zhihu", "article:37931567"),
    ("https://zhuanlan.zhihu.com/p/37931567?utm_source=wechat_session&utm_medium=social", "zhihu", "article:37931567"),
    ("https://www.zhihu.com/pin/1234567890123456789", "zhihu", "pin:1234567890123456789"),
    ("https://www.zhihu.com/zvideo/1234567890", "zhihu", "zvideo:1234567890"),
    ("https://link.zhihu.com/?target=https%3A%2F%2Fwww.youtube.com%2Fwatch%3Fv%3DYE7VzlLtp-4", "youtube", "YE7VzlLtp-4"),
    ("https://link.zhihu.com/?target=https%3A//example.com/page", "web", "https://example.com/page"),
    ("https://www.zhihu.com/people/someone", "web", "https://www.zhihu.com/people/someone"),
    // ---- Douyin ------------------------------------------------------------------------------
    ("https://www.douyin.com/video/7535852404919586100", "douyin", "7535852404919586100"),
    ("https://www.douyin.com/video/7535852404919586100?previous_page=app_code_link", "douyin", "7535852404919586100"),
    ("https://www.iesdouyin.com/share/video/7535852404919586100/?region=CN&mid=7535852410000000000&u_code=x&did=1&iid=2&with_sec_did=1&titleType=title&share_sign=abc&share_version=170400&ts=1&from_aid=6383&from_ssr=1&from=web_code_link", "douyin", "7535852404919586100"),
    ("https://m.douyin.com/share/video/7535852404919586100", "douyin", "7535852404919586100"),
    ("https://iesdouyin.com/share/video/7535852404919586100", "douyin", "7535852404919586100"),
    ("https://www.douyin.com/discover?modal_id=7535852404919586100", "douyin", "7535852404919586100"),
    ("https://www.douyin.com/jingxuan?modal_id=7535852404919586100", "douyin", "7535852404919586100"),
    ("https://www.douyin.com/user/MS4wLjABAAAA?modal_id=6961737553342991651", "douyin", "6961737553342991651"),
    ("https://www.douyin.com/note/7535852404919586101", "douyin", "7535852404919586101"),
    ("https://www.iesdouyin.com/share/note/7535852404919586101/", "douyin", "7535852404919586101"),
    ("7.94 复制打开抖音，看看【xxx的作品】今天也要开心 # 日常 https://v.douyin.com/iRNBho6u/ 3@5.com :9pm", "short", "https://v.douyin.com/iRNBho6u/"),
    ("https://v.douyin.com/iRNBho6u/", "short", "https://v.douyin.com/iRNBho6u/"),
    ("https://www.douyin.com/video/123", "web", "https://www.douyin.com/video/123"),
    ("https://www.douyin.com/user/MS4wLjABAAAA", "web", "https://www.douyin.com/user/MS4wLjABAAAA"),
    // ---- YouTube -------------------------------------------------------------------------------
    ("https://www.youtube.com/watch?v=YE7VzlLtp-4", "youtube", "YE7VzlLtp-4"),
    ("https://youtube.com/watch?v=YE7VzlLtp-4&t=42s&list=PL1234&index=2", "youtube", "YE7VzlLtp-4"),
    ("https://m.youtube.com/watch?feature=share&v=YE7VzlLtp-4", "youtube", "YE7VzlLtp-4"),
    ("https://music.youtube.com/watch?v=YE7VzlLtp-4&si=abc", "youtube", "YE7VzlLtp-4"),
    ("https://youtu.be/YE7VzlLtp-4", "youtube", "YE7VzlLtp-4"),
    ("https://youtu.be/YE7VzlLtp-4?si=AbCdEfGh&t=10", "youtube", "YE7VzlLtp-4"),
    ("https://www.youtube.com/shorts/YE7VzlLtp-4", "youtube", "YE7VzlLtp-4"),
    ("https://www.youtube.com/embed/YE7VzlLtp-4?autoplay=1", "youtube", "YE7VzlLtp-4"),
    ("https://www.youtube.com/v/YE7VzlLtp-4", "youtube", "YE7VzlLtp-4"),
    ("https://www.youtube.com/live/YE7VzlLtp-4?feature=share", "youtube", "YE7VzlLtp-4"),
    ("https://www.youtube-nocookie.com/embed/YE7VzlLtp-4", "youtube", "YE7VzlLtp-4"),
    ("https://WWW.YOUTUBE.COM./watch?v=YE7VzlLtp-4", "youtube", "YE7VzlLtp-4"),
    ("https://www.youtube.com/watch?v=YE7VzlLtp-4&v=dQw4w9WgXcQ", "youtube", "YE7VzlLtp-4"),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "youtube", "dQw4w9WgXcQ"),
    ("https://www.youtube.com/watch?v=ye7vzlltp-4", "youtube", "ye7vzlltp-4"),
    ("https://www.youtube.com/@channel", "web", "https://www.youtube.com/@channel"),
    ("https://www.youtube.com/embed/videoseries?list=PL1234", "web", "https://www.youtube.com/embed/videoseries?list=PL1234"),
    ("https://www.youtube.com/watch?v=short", "web", "https://www.youtube.com/watch?v=short"),
    // ---- Generic pages -------------------------------------------------------------------------
    ("https://example.com/article?id=5&utm_source=twitter&utm_medium=social", "web", "https://example.com/article?id=5"),
    ("HTTPS://Example.COM:443/Path/?b=2&a=1#section", "web", "https://example.com/Path/?a=1&b=2"),
    ("http://example.com:80/", "web", "http://example.com/"),
    ("http://example.com:8080/x", "web", "http://example.com:8080/x"),
    ("https://example.com/page?fbclid=IwAR123&gclid=abc&msclkid=def", "web", "https://example.com/page"),
    ("https://example.com/page?", "web", "https://example.com/page"),
    ("https://en.wikipedia.org/wiki/Rust_(programming_language)", "web", "https://en.wikipedia.org/wiki/Rust_(programming_language)"),
    ("(see https://example.com/x).", "web", "https://example.com/x"),
    ("<https://example.com/angle>", "web", "https://example.com/angle"),
    ("www.example.com/path", "web", "https://www.example.com/path"),
    ("https://user:pass@example.com/private", "web", "https://example.com/private"),
    ("https://example.com/a/../b", "web", "https://example.com/b"),
    ("https://example.com/search?q=rust+lang&page=2", "web", "https://example.com/search?page=2&q=rust+lang"),
    ("https://example.com./x", "web", "https://example.com/x"),
    ("https://例子.测试/路径", "web", "https://xn--fsqu00a.xn--0zwm56d/%E8%B7%AF%E5%BE%84"),
    ("Read this: https://blog.example.org/post/1, and https://youtu.be/YE7VzlLtp-4 too", "youtube", "YE7VzlLtp-4"),
    ("https://example.com/first and https://example.org/second", "web", "https://example.com/first"),
    ("https://bit.ly/3xYzAbC", "short", "https://bit.ly/3xYzAbC"),
    ("https://bit.ly/", "web", "https://bit.ly/"),
    ("see https://example.com/x then https://tinyurl.com/2p8abcde", "short", "https://tinyurl.com/2p8abcde"),
    // ---- Errors -------------------------------------------------------------------------------
    ("", "error", "empty_input"),
    ("   \n\t ", "error", "empty_input"),
    ("hello world, no link here", "error", "no_link_found"),
    ("Note: see above", "error", "no_link_found"),
    ("ftp://example.com/file.txt", "error", "unsupported_scheme"),
    ("file:///etc/passwd", "error", "unsupported_scheme"),
    ("javascript:alert(1)", "error", "unsupported_scheme"),
    ("data:text/html,<script>alert(1)</script>", "error", "unsupported_scheme"),
    ("mailto:someone@example.com", "error", "unsupported_scheme"),
    ("chrome://settings", "error", "unsupported_scheme"),
    ("about:blank", "error", "unsupported_scheme"),
    ("http://", "error", "invalid_url"),
    ("http://exa mple.com", "error", "invalid_url"),
    ("http://example.com:99999/", "error", "invalid_url"),
    ("https://[::1", "error", "invalid_url"),
    ("http://[fe80::1%25eth0]/", "error", "invalid_url"),
    // ---- SSRF: every notation of a private target ------------------------------------------------
    ("http://localhost/", "error", "forbidden_target"),
    ("http://localhost:8080/admin", "error", "forbidden_target"),
    ("http://LOCALHOST./", "error", "forbidden_target"),
    ("http://foo.localhost/", "error", "forbidden_target"),
    ("http://printer.local/", "error", "forbidden_target"),
    ("http://metadata.google.internal/computeMetadata/v1/", "error", "forbidden_target"),
    ("http://metadata/", "error", "forbidden_target"),
    ("http://127.0.0.1/", "error", "forbidden_target"),
    ("http://127.0.0.1./", "error", "forbidden_target"),
    ("http://127.1/", "error", "forbidden_target"),
    ("http://2130706433/", "error", "forbidden_target"),
    ("http://0x7f000001/", "error", "forbidden_target"),
    ("http://0x7f.0.0.1/", "error", "forbidden_target"),
    ("http://0177.0.0.1/", "error", "forbidden_target"),
    ("http://%31%32%37.0.0.1/", "error", "forbidden_target"),
    ("http://0/", "error", "forbidden_target"),
    ("http://0.0.0.0:8080/", "error", "forbidden_target"),
    ("http://10.0.0.1/", "error", "forbidden_target"),
    ("http://100.64.1.1/", "error", "forbidden_target"),
    ("http://169.254.169.254/latest/meta-data/", "error", "forbidden_target"),
    ("http://172.16.5.4/", "error", "forbidden_target"),
    ("http://192.168.1.1/", "error", "forbidden_target"),
    ("http://192.0.2.1/", "error", "forbidden_target"),
    ("http://198.18.0.1/", "error", "forbidden_target"),
    ("http://224.0.0.1/", "error", "forbidden_target"),
    ("http://255.255.255.255/", "error", "forbidden_target"),
    ("http://[::1]/", "error", "forbidden_target"),
    ("http://[::]/", "error", "forbidden_target"),
    ("http://[::ffff:127.0.0.1]/", "error", "forbidden_target"),
    ("http://[::ffff:7f00:1]/", "error", "forbidden_target"),
    ("http://[64:ff9b::a9fe:a9fe]/", "error", "forbidden_target"),
    ("http://[fd00::1]/", "error", "forbidden_target"),
    ("http://[fe80::1]/", "error", "forbidden_target"),
    ("http://[2002:c0a8:101::1]/", "error", "forbidden_target"),
    ("http://example.com@127.0.0.1/", "error", "forbidden_target"),
    ("http://user:pw@[::1]:8080/", "error", "forbidden_target"),
    ("看这个 http://169.254.169.254/ 吧", "error", "forbidden_target"),
    ("https://link.zhihu.com/?target=http%3A%2F%2F127.0.0.1%2Fadmin", "error", "forbidden_target"),
    ("https://example.com/?q=LONG", "error", "url_too_long"),
];

/// Pairs that must stay two items.
#[rustfmt::skip]
const MUST_NOT_MERGE: &[(&str, &str)] = &[
    ("https://www.youtube.com/watch?v=YE7VzlLtp-4", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
    ("https://www.youtube.com/watch?v=YE7VzlLtp-4", "https://www.youtube.com/watch?v=ye7vzlltp-4"),
    ("https://m.weibo.cn/detail/4136245053838604", "https://m.weibo.cn/detail/4136245053838605"),
    ("https://weibo.com/1/FfcTLg6AY", "https://weibo.com/1/QdGSDbsQI"),
    ("https://example.com/article?id=5", "https://example.com/article?id=6"),
    ("https://example.com/a", "https://example.com/b"),
    ("https://example.com/a", "https://example.com/a/"),
    ("http://example.com/a", "https://example.com/b"),
    ("https://example.com/?a=1&a=2", "https://example.com/?a=2&a=1"),
    ("https://www.zhihu.com/question/58570383/answer/2076341989990319717", "https://www.zhihu.com/question/58570383"),
    ("https://www.zhihu.com/answer/100000803", "https://www.zhihu.com/question/100000803"),
    ("https://www.zhihu.com/answer/100000803", "https://zhuanlan.zhihu.com/p/100000803"),
    ("https://www.bilibili.com/video/BV1GJ411x7h7", "https://www.bilibili.com/video/BV1gJ411x7h7"),
    ("https://www.bilibili.com/video/av80433022", "https://www.bilibili.com/video/av80433023"),
    ("https://t.bilibili.com/12345678", "https://www.bilibili.com/read/cv12345678"),
    ("https://www.bilibili.com/bangumi/play/ep12548", "https://www.bilibili.com/bangumi/play/ss12548"),
    ("https://x.com/jack/status/20", "https://x.com/jack/status/21"),
    ("https://www.douyin.com/video/7535852404919586100", "https://www.douyin.com/video/7535852404919586101"),
    ("https://www.xiaohongshu.com/explore/6411cf99000000001300b6d9", "https://www.xiaohongshu.com/explore/64cca5ba000000001201e1af"),
    ("https://x.com/jack", "https://x.com/jack/status/20"),
];

fn policy() -> LinkPolicy {
    LinkPolicy::default()
}

/// What a text turned into, spelled like the table.
fn outcome(text: &str) -> (String, String) {
    match recognise_text(text, &policy()) {
        Ok((_, Recognised::Content(id))) => (id.platform.as_str().to_owned(), id.platform_id),
        Ok((_, Recognised::ShortLink(url))) => ("short".to_owned(), url.into()),
        Err(e) => ("error".to_owned(), e.code.as_str().to_owned()),
    }
}

#[test]
fn identity_table() {
    assert!(CASES.len() >= 140, "only {} cases", CASES.len());
    let long = format!("https://example.com/?q={}", "a".repeat(3000));
    let mut failures = String::new();
    for (i, &(text, platform, id)) in CASES.iter().enumerate() {
        let text = if text.contains("?q=LONG") {
            long.as_str()
        } else {
            text
        };
        let got = outcome(text);
        if got != (platform.to_owned(), id.to_owned()) {
            let _ = writeln!(
                failures,
                "  #{i} {text:?}\n      expected {platform} {id}\n      got      {} {}",
                got.0, got.1
            );
            continue;
        }
        // The canonical URL must itself recognise as the same item, or
        // re-submitting what we display would create a duplicate.
        if let Ok((_, Recognised::Content(identity))) = recognise_text(text, &policy()) {
            let again = outcome(&identity.canonical_url);
            if again != got {
                let _ = writeln!(
                    failures,
                    "  #{i} {text:?}: canonical {} recognises as {} {}",
                    identity.canonical_url, again.0, again.1
                );
            }
        }
    }
    assert!(failures.is_empty(), "identity cases failed:\n{failures}");
}

#[test]
fn different_content_never_merges() {
    let mut failures = String::new();
    for &(a, b) in MUST_NOT_MERGE {
        let (oa, ob) = (outcome(a), outcome(b));
        if oa.0 == "error" || ob.0 == "error" || oa == ob {
            let _ = writeln!(failures, "  {a} -> {oa:?}\n  {b} -> {ob:?}\n");
        }
    }
    assert!(
        failures.is_empty(),
        "these must be two different items:\n{failures}"
    );
}

#[test]
fn kinds_and_canonical_urls() {
    let cases: &[(&str, ContentKind, &str)] = &[
        (
            "https://b23.tv/av80433022",
            ContentKind::Video,
            "https://www.bilibili.com/video/BV1GJ411x7h7",
        ),
        (
            "https://t.bilibili.com/967717348014293017",
            ContentKind::Post,
            "https://www.bilibili.com/opus/967717348014293017",
        ),
        (
            "https://www.bilibili.com/read/mobile/123",
            ContentKind::Article,
            "https://www.bilibili.com/read/cv123",
        ),
        (
            "https://www.bilibili.com/bangumi/play/ep5",
            ContentKind::Video,
            "https://www.bilibili.com/bangumi/play/ep5",
        ),
        (
            "https://twitter.com/jack/status/20",
            ContentKind::Post,
            "https://x.com/i/status/20",
        ),
        (
            "https://weibo.com/1/FfcTLg6AY",
            ContentKind::Post,
            "https://m.weibo.cn/detail/4136245053838604",
        ),
        (
            "https://www.xiaohongshu.com/discovery/item/6411CF99000000001300B6D9",
            ContentKind::Note,
            "https://www.xiaohongshu.com/explore/6411cf99000000001300b6d9",
        ),
        (
            "https://www.zhihu.com/question/1/answer/2",
            ContentKind::Answer,
            "https://www.zhihu.com/answer/2",
        ),
        (
            "https://www.zhihu.com/question/1",
            ContentKind::Question,
            "https://www.zhihu.com/question/1",
        ),
        (
            "https://zhuanlan.zhihu.com/p/3",
            ContentKind::Article,
            "https://zhuanlan.zhihu.com/p/3",
        ),
        (
            "https://www.zhihu.com/pin/4",
            ContentKind::Post,
            "https://www.zhihu.com/pin/4",
        ),
        (
            "https://www.zhihu.com/zvideo/5",
            ContentKind::Video,
            "https://www.zhihu.com/zvideo/5",
        ),
        (
            "https://www.iesdouyin.com/share/note/7535852404919586101/",
            ContentKind::Note,
            "https://www.douyin.com/note/7535852404919586101",
        ),
        (
            "https://www.douyin.com/discover?modal_id=7535852404919586100",
            ContentKind::Video,
            "https://www.douyin.com/video/7535852404919586100",
        ),
        (
            "https://youtu.be/YE7VzlLtp-4?t=3",
            ContentKind::Video,
            "https://www.youtube.com/watch?v=YE7VzlLtp-4",
        ),
        (
            "https://Example.com/x?utm_source=a",
            ContentKind::Page,
            "https://example.com/x",
        ),
    ];
    let mut failures = String::new();
    for &(text, kind, canonical) in cases {
        match recognise_text(text, &policy()) {
            Ok((_, Recognised::Content(id)))
                if id.kind == kind && id.canonical_url == canonical => {}
            other => {
                let _ = writeln!(
                    failures,
                    "  {text}: expected {kind} {canonical}, got {other:?}"
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "kind/canonical cases failed:\n{failures}"
    );
}

/// Notations the text extractor would cut (fullwidth digits end a link in
/// prose) still reach the guard when a URL is recognised directly.
#[test]
fn guard_sees_parsed_hosts() {
    for raw in [
        "http://１２７.０.０.１/",
        "http://[::ffff:169.254.169.254]/",
        "http://0xa9fea9fe/",
        "http://3232235777/",
    ] {
        let url = Url::parse(raw).expect("parses");
        let err = recognise(&url, &policy()).expect_err(raw);
        assert_eq!(err.code.as_str(), "forbidden_target", "{raw} -> {url}");
    }
}

#[test]
fn private_targets_allowed_when_configured_or_overridden() {
    let url = Url::parse("http://127.0.0.1:8080/page").expect("url");
    let open = LinkPolicy {
        allow_private_targets: true,
        ..LinkPolicy::default()
    };
    assert!(matches!(recognise(&url, &open), Ok(Recognised::Content(_))));
    // An overridden host is the operator's choice, whatever it is.
    let overridden = LinkPolicy {
        overrides: UpstreamOverrides::parse("localhost=http://127.0.0.1:9").expect("valid"),
        ..LinkPolicy::default()
    };
    let local = Url::parse("http://localhost/x").expect("url");
    assert!(recognise(&local, &overridden).is_ok());
    assert!(recognise(&url, &overridden).is_err());
}

/// Odd input never panics: random bytes, unicode, and URL-ish fragments glued
/// together, through extraction and recognition.
#[test]
fn odd_input_never_panics() {
    const PIECES: &[&str] = &[
        "http://",
        "https://",
        "HTTP://",
        "www.",
        "b23.tv/",
        "x.com/",
        "/status/",
        "/video/",
        "BV1",
        "av",
        "?",
        "&",
        "=",
        "#",
        "%",
        "%2",
        "%zz",
        "@",
        ":",
        "::",
        "[",
        "]",
        "(",
        ")",
        ".",
        "..",
        "/",
        " ",
        "\u{3000}",
        "，",
        "【",
        "】",
        "“",
        "中文",
        "😆",
        "\u{200b}",
        "\u{0}",
        "\u{feff}",
        "0x7f",
        "127.0.0.1",
        "[::1]",
        "xn--",
        "ⓔⓧⓐⓜⓟⓛⓔ",
        "ß",
        "İ",
        "\u{301}",
        "weibo.com/1/",
        "modal_id=",
        "target=",
        "link.zhihu.com/?target=",
        "javascript:",
        "ftp://",
        "99999999999999999999999",
        "FfcTLg6AY",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64*: deterministic, so a failure reproduces.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for _ in 0..20_000 {
        let mut text = String::new();
        for _ in 0..(next() % 12) {
            match next() % 4 {
                0 => {
                    let bytes: Vec<u8> = (0..next() % 8).map(|_| (next() & 0xff) as u8).collect();
                    text.push_str(&String::from_utf8_lossy(&bytes));
                }
                1 => text.push(char::from_u32((next() % 0x11_0000) as u32).unwrap_or('x')),
                _ => text.push_str(PIECES[(next() % PIECES.len() as u64) as usize]),
            }
        }
        let _ = recognise_text(&text, &policy());
        if let Ok(url) = Url::parse(&text) {
            let _ = recognise(&url, &policy());
        }
    }
}

#[test]
fn long_texts_stay_fast() {
    // Quadratic scanning would take seconds here.
    let started = std::time::Instant::now();
    let text = format!("https://e.com/{}", ")".repeat(200_000));
    assert_eq!(
        outcome(&text),
        ("web".to_owned(), "https://e.com/".to_owned())
    );
    let text = "http:// ".repeat(20_000)
        + &"(".repeat(100_000)
        + &" www.".repeat(20_000)
        + &"a://".repeat(20_000);
    let _ = recognise_text(&text, &policy());
    let text = format!("{} https://youtu.be/YE7VzlLtp-4", "中文，".repeat(50_000));
    assert_eq!(
        outcome(&text),
        ("youtube".to_owned(), "YE7VzlLtp-4".to_owned())
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
