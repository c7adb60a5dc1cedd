use super::*;

fn item<'a>(title: &'a str, text: &'a str) -> Summary<'a> {
    Summary {
        id: 7,
        platform: "weibo",
        url: "https://weibo.com/1/AbC",
        title,
        text,
        author: Some("新浪新闻"),
        published_at: None,
    }
}

#[test]
fn discord_messages_keep_its_limits_and_never_ping() {
    let long = "字".repeat(5000);
    let title = "t".repeat(400);
    let v = discord(PushEvent::Item, &item(&title, &long));
    let embed = &v["embeds"][0];
    assert_eq!(
        embed["title"].as_str().unwrap().chars().count(),
        DISCORD_TITLE
    );
    assert_eq!(
        embed["description"].as_str().unwrap().chars().count(),
        DISCORD_DESCRIPTION
    );
    assert!(embed["description"].as_str().unwrap().ends_with('…'));
    assert_eq!(embed["url"], "https://weibo.com/1/AbC");
    assert_eq!(embed["author"]["name"], "新浪新闻");
    assert_eq!(v["allowed_mentions"], json!({"parse": []}));
    let total: usize = ["title", "description"]
        .iter()
        .map(|k| embed[k].as_str().unwrap().chars().count())
        .sum::<usize>()
        + embed["footer"]["text"].as_str().unwrap().chars().count()
        + embed["author"]["name"].as_str().unwrap().chars().count();
    assert!(total <= 6000, "{total}");
    let gone = discord(PushEvent::DeletedUpstream, &item("Hi @everyone", ""));
    assert!(
        gone["content"]
            .as_str()
            .unwrap()
            .contains("Deleted upstream")
    );
}

#[test]
fn slack_text_is_escaped_and_clipped_whole() {
    let v = slack(PushEvent::Item, &item("<b>&co</b>", "a < b && c > d"));
    let text = v["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("*<https://weibo.com/1/AbC|&lt;b&gt;&amp;co&lt;/b&gt;>*"),
        "{text}"
    );
    assert!(text.contains("a &lt; b &amp;&amp; c &gt; d"), "{text}");
    assert_eq!(v["blocks"][0]["text"]["type"], "mrkdwn");
    let long = "&".repeat(4000);
    let v = slack(PushEvent::Item, &item("x", &long));
    let text = v["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(text.chars().count() <= SLACK_SECTION);
    let body = text.trim_end_matches('…');
    assert!(
        body.ends_with("&amp;"),
        "an entity was cut: {}",
        &body[body.len() - 10..]
    );
}

#[test]
fn clip_counts_characters_not_bytes() {
    assert_eq!(clip("漢字かな", 10), "漢字かな");
    assert_eq!(clip("漢字かな", 3), "漢字…");
}

#[test]
fn links_on_this_server_become_absolute() {
    let base = Url::parse("https://vault.example.com/").unwrap();
    let mut v = json!({"media": [{"url": "/api/v1/blobs/sha256/ab/cd/x.webp"}, {"url": "https://cdn/x"}],
                       "parts": [{"media": [{"url": "/api/v1/blobs/y"}]}]});
    absolute_links(&mut v, &base);
    assert_eq!(
        v["media"][0]["url"],
        "https://vault.example.com/api/v1/blobs/sha256/ab/cd/x.webp"
    );
    assert_eq!(v["media"][1]["url"], "https://cdn/x");
    assert_eq!(
        v["parts"][0]["media"][0]["url"],
        "https://vault.example.com/api/v1/blobs/y"
    );
}
