"""Read a feed with Python's feedparser (a real, widely used feed parser)
and print what it understood as JSON, for api/tests/feeds.rs.

Usage: python3 feed_parse.py FILE
"""

import json
import sys

import feedparser


def main() -> None:
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    d = feedparser.parse(data)
    feed = d.feed
    out = {
        "bozo": bool(d.bozo),
        "bozo_exception": str(d.get("bozo_exception", "")),
        "version": d.version,
        "feed": {
            "id": feed.get("id"),
            "title": feed.get("title"),
            "link": feed.get("link"),
            "subtitle": feed.get("subtitle"),
            "updated": feed.get("updated"),
            "links": [
                {"rel": l.get("rel"), "href": l.get("href")} for l in feed.get("links", [])
            ],
        },
        "entries": [
            {
                "id": e.get("id"),
                "title": e.get("title"),
                "link": e.get("link"),
                "updated": e.get("updated"),
                "published": e.get("published"),
                "author": e.get("author"),
                "summary": e.get("summary"),
                "content": [c.get("value") for c in e.get("content", [])],
                "tags": [t.get("term") for t in e.get("tags", [])],
                "enclosures": [
                    {"href": x.get("href"), "type": x.get("type"), "length": x.get("length")}
                    for x in e.get("enclosures", [])
                ],
            }
            for e in d.entries
        ],
    }
    print(json.dumps(out))


main()
