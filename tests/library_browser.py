#!/usr/bin/env python3
"""Drive the library (/) in headless Chromium, as a person would, at 1280
and 360 px wide.

Usage: python3 tests/library_browser.py BASE_URL GALLERY_ID HOSTILE_ID SHOT_DIR

tests/library.rs seeds the archive: more than two pages of items, the
newest (GALLERY_ID) a Weibo post with four archived pictures and a video,
HOSTILE_ID an item whose title and text hold markup. At each width the
script loads the library, scrolls to the second page, filters by platform
(and checks the filter survives a reload: it is in the URL), searches for
the hostile item and checks its markup shows as text (here and on its
page), opens the gallery item, steps through its pictures with the keys,
the buttons and a swipe, seeks its video (a Range request answered 206
must show in Chromium's network log), edits its tags (1280 px), submits a
share text and follows the link to the item. A screenshot of every step
goes to SHOT_DIR; with LIBRARY_DOCS_SCREENSHOTS set, one per width is
copied there. Any script error or Content-Security-Policy violation in the
console fails the run.

Exit 0 on success, 1 on a failed check, 2 when Chromium, chromedriver or
selenium are missing (`scripts/test` installs them).
"""

import json
import os
import shutil
import sys

CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PAGE_SIZE = 24
SHARE_TEXT = "【千本樱】 https://m.bilibili.com/video/av80433022?share_source=copy_web 复制链接"

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from browser_wait import wait_for
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select
except ImportError as e:  # pragma: no cover - environment check
    print(f"library_browser: selenium is missing ({e}); scripts/test installs it", file=sys.stderr)
    sys.exit(2)


def testid(value):
    return (By.CSS_SELECTOR, f'[data-testid="{value}"]')




class Run:
    def __init__(self, driver, base, shots, width):
        self.d = driver
        self.base = base
        self.shots = shots
        self.width = width
        self.step = 0

    def find(self, tid):
        return self.d.find_element(*testid(tid))

    def text(self, tid):
        return self.find(tid).text.strip()

    def cards(self):
        return self.d.find_elements(By.CSS_SELECTOR, "#cards > li.card")

    def images_loaded(self):
        return self.d.execute_script(
            "return [...document.images].filter(i => i.getBoundingClientRect().top < innerHeight"
            " && i.offsetParent).every(i => i.complete && i.naturalWidth > 0)")

    def shot(self, name):
        self.step += 1
        try:
            wait_for("pictures in view to load", self.images_loaded, timeout=10)
        except AssertionError:
            pass
        path = os.path.join(self.shots, f"{self.width}-{self.step:02d}-{name}.png")
        self.d.save_screenshot(path)
        return path


def check_console(driver):
    problems = [
        e["message"] for e in driver.get_log("browser")
        if e.get("level") == "SEVERE" or "Content Security Policy" in e.get("message", "")
    ]
    assert not problems, f"browser console: {problems}"


def range_responses(driver):
    """Responses with status 206 for .mp4 files, from the performance log
    (since the last call: each read empties it)."""
    found = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.responseReceived":
            r = msg["params"]["response"]
            if r["url"].endswith(".mp4") and r["status"] == 206:
                found.append(r.get("headers", {}).get("content-range") or r.get("headers", {}).get("Content-Range"))
    return found


def flow(driver, base, gallery, hostile, shots, width, docs):
    r = Run(driver, base, shots, width)
    d = driver
    d.set_window_size(width, 900 if width > 400 else 780)
    range_responses(d)  # empty the network log: this width's requests only
    d.get(f"{base}/")
    assert "VaultStream" in d.title, d.title

    # The first page of cards: pictures lazily loaded, sized, described.
    wait_for("the first page", lambda: len(r.cards()) >= PAGE_SIZE)
    first = d.find_element(*testid(f"card-{gallery}"))
    img = first.find_element(By.TAG_NAME, "img")
    assert img.get_attribute("loading") == "lazy"
    assert int(img.get_attribute("width")) > 0 and int(img.get_attribute("height")) > 0
    assert img.get_attribute("alt"), "a card's picture has alt text"
    assert first.find_elements(*testid("badge-video")), "the gallery item is badged video"
    wait_for("the card picture", lambda: d.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", img))
    list_shot = r.shot("library")

    # Infinite scroll: the second page arrives at the bottom.
    def scrolled():
        d.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        return len(r.cards()) > PAGE_SIZE

    wait_for("the second page", scrolled)
    assert int(r.find("cards").get_attribute("data-pages")) >= 2
    r.shot("second-page")
    # Keep going to the end: the failed item is there, badged.
    wait_for("the end of the list", lambda: scrolled() and r.find("end").is_displayed())
    assert d.find_elements(*testid("badge-failed")), "the failed item is badged"

    # Filter by platform: every card is Weibo, and the URL says so.
    d.execute_script("window.scrollTo(0, 0)")
    Select(r.find("f-platform")).select_by_value("weibo")
    wait_for("the filter in the URL", lambda: "platform=weibo" in d.current_url)
    wait_for("weibo cards", lambda: r.cards() and all(
        c.get_attribute("data-platform") == "weibo" for c in r.cards()))
    d.refresh()
    wait_for("the filter after a reload", lambda: r.cards() and all(
        c.get_attribute("data-platform") == "weibo" for c in r.cards()))
    assert Select(r.find("f-platform")).first_selected_option.get_attribute("value") == "weibo"
    r.shot("filtered-weibo")

    # Search for the hostile item: its markup is text.
    Select(r.find("f-platform")).select_by_value("")
    box = r.find("q")
    box.clear()
    box.send_keys("Bold", Keys.ENTER)
    wait_for("the search in the URL", lambda: "q=Bold" in d.current_url)
    card = wait_for("the hostile card", lambda: d.find_element(*testid(f"card-{hostile}")))
    title = r.text(f"card-title-{hostile}")
    assert "<script>" in title and "<b>Bold</b>" in title, title
    assert not d.find_elements(By.CSS_SELECTOR, "#cards script, #cards b, #cards img[src='x']")
    r.shot("search")
    card.find_element(*testid(f"card-link-{hostile}")).click()
    wait_for("the hostile item", lambda: "<script>alert('x')</script>" in r.text("item-title"))
    assert "<p>Markup in a page's text stays text.</p>" in r.text("item-text")
    assert "<i>someone</i>" in r.text("item-meta")
    assert not d.find_elements(By.CSS_SELECTOR, "#view-item script, #view-item b, #view-item i, #view-item p > p")
    r.shot("markup-as-text")

    # Back to the list, open the gallery item from its card.
    d.back()
    d.back()
    wait_for("the list again", lambda: r.cards())
    # The original's state filters the list.
    d.get(f"{base}/?upstream=deleted")
    wait_for("only the item deleted upstream", lambda: [c.get_attribute("data-id") for c in r.cards()] == [str(gallery)])
    assert r.find("f-upstream").get_attribute("value") == "deleted"
    d.get(f"{base}/?platform=weibo")
    gallery_card = wait_for("the gallery card", lambda: d.find_element(*testid(f"card-{gallery}")))
    # (Badges are shown in capitals: read the text itself.)
    badge = gallery_card.find_element(*testid("badge-upstream")).get_attribute("textContent")
    assert "deleted upstream on 2026-11-22" in badge, badge
    wait_for("the gallery card", lambda: d.find_element(*testid(f"card-link-{gallery}"))).click()
    wait_for("the item page", lambda: d.current_url.endswith(f"/items/{gallery}"))
    wait_for("the item title", lambda: r.text("item-title"))
    assert "动物园" in r.text("item-text")
    assert len(d.find_elements(By.CSS_SELECTOR, '[data-testid="gallery"] button')) == 4
    assert all(i.get_attribute("alt") for i in d.find_elements(By.CSS_SELECTOR, '[data-testid="gallery"] img'))
    assert "archived" in r.text("item-files")
    assert "weekend" in r.text("item-tags")
    assert "via api" in r.text("item-sources")
    # Deleted upstream: the badge, the history, the stats chart.
    badge = r.find("badge-upstream").get_attribute("textContent")
    assert "deleted upstream on 2026-11-22" in badge, badge
    wait_for("the history", lambda: d.find_elements(*testid("history")))
    assert "deleted upstream on 2026-11-22" in r.text("history-state")
    assert "live → deleted" in r.text("history-states")
    assert "404" in r.text("history-states")
    assert "text changed" in r.text("version-2")
    chart = r.find("stats-chart")
    assert chart.get_attribute("data-points") == "3"
    likes = r.find("stats-row-likes")
    assert "120 → 205" in likes.text, likes.text
    assert len(likes.find_elements(By.CSS_SELECTOR, "svg circle")) == 3
    assert likes.find_elements(By.CSS_SELECTOR, "svg polyline")
    item_shot = r.shot("item")

    # The gallery: open, step with keys, buttons and a swipe, close.
    d.find_element(*testid("gallery-0")).click()
    wait_for("the viewer", lambda: r.find("viewer").is_displayed())
    assert r.text("viewer-pos") == "1 / 4"
    viewer = r.find("viewer")
    viewer.send_keys(Keys.ARROW_RIGHT)
    wait_for("picture 2", lambda: r.text("viewer-pos") == "2 / 4")
    r.find("viewer-next").click()
    wait_for("picture 3", lambda: r.text("viewer-pos") == "3 / 4")
    d.execute_script("""
        const v = document.getElementById('viewer');
        v.dispatchEvent(new PointerEvent('pointerdown', {clientX: 300, bubbles: true}));
        v.dispatchEvent(new PointerEvent('pointerup', {clientX: 60, bubbles: true}));""")
    wait_for("picture 4 after a swipe", lambda: r.text("viewer-pos") == "4 / 4")
    r.find("viewer").send_keys(Keys.ARROW_LEFT)
    wait_for("picture 3 again", lambda: r.text("viewer-pos") == "3 / 4")
    wait_for("the full picture", lambda: d.execute_script(
        "const i = document.getElementById('viewer-img'); return i.complete && i.naturalWidth > 0"))
    assert r.find("viewer-img").get_attribute("alt").startswith("Picture 3 of 4")
    r.shot("viewer")
    r.find("viewer").send_keys(Keys.ESCAPE)
    wait_for("the viewer to close", lambda: not r.find("viewer").is_displayed())

    # The video seeks through Range requests.
    video = d.find_element(By.CSS_SELECTOR, 'video[data-testid^="video-"]')
    d.execute_script("arguments[0].scrollIntoView()", video)
    wait_for("video metadata", lambda: d.execute_script("return arguments[0].readyState >= 1", video))
    d.execute_script("arguments[0].currentTime = 5.0", video)
    wait_for("the seek", lambda: d.execute_script(
        "const v = arguments[0]; return !v.seeking && Math.abs(v.currentTime - 5) < 0.5 && v.readyState >= 2", video))
    assert d.execute_script("return arguments[0].error", video) is None
    ranges = range_responses(d)
    assert ranges, "the video was fetched with a Range request answered 206"
    r.shot("video-seeked")

    if width > 400:
        # Edit the tags: add one.
        d.execute_script("arguments[0].scrollIntoView({block: 'center'})", r.find("tags-edit"))
        r.find("tags-edit").click()
        box = wait_for("the tag box", lambda: r.find("tags-input"))
        box.send_keys(" zoo")
        r.find("tags-save").click()
        wait_for("the new tag", lambda: "#zoo" in r.text("item-tags"))
        r.shot("tags-edited")

    # Submit a share text; follow the link to the item.
    d.execute_script("window.scrollTo(0, 0)")
    r.find("submit-open").click()
    area = wait_for("the submit box", lambda: r.find("share-text"))
    area.send_keys(SHARE_TEXT)
    r.find("share-go").click()
    link = wait_for("the result link", lambda: r.find("submit-result-link"))
    result = r.text("submit-result")
    assert ("new item" in result) if width > 400 else ("Already archived" in result), result
    r.shot("submitted")
    new_id = link.get_attribute("href").rsplit("/", 1)[1]
    link.click()
    wait_for("the new item", lambda: d.current_url.endswith(f"/items/{new_id}"))
    wait_for("its page", lambda: "bilibili" in r.text("item-meta"))
    assert "BV1GJ411x7h7" in r.find("item-original").get_attribute("href")
    r.shot("new-item")

    # Keyboard: the first card is reachable with Tab.
    d.get(f"{base}/")
    wait_for("cards", lambda: r.cards())
    for _ in range(40):
        d.switch_to.active_element.send_keys(Keys.TAB)
        tid = d.switch_to.active_element.get_attribute("data-testid") or ""
        if tid.startswith("card-link-"):
            break
    else:
        raise AssertionError("Tab never reached a card")
    d.switch_to.active_element.send_keys(Keys.ENTER)
    wait_for("an item opened with the keyboard", lambda: "/items/" in d.current_url)

    check_console(d)
    if docs:
        os.makedirs(docs, exist_ok=True)
        src, dst = (list_shot if width > 400 else item_shot), os.path.join(docs, f"library-{width}.png")
        try:  # smaller for the repository: 256 colours are plenty here
            from PIL import Image
            Image.open(src).convert("RGB").quantize(256, dither=Image.Dither.FLOYDSTEINBERG).save(dst, optimize=True)
        except ImportError:
            shutil.copyfile(src, dst)
    print(f"library_browser: {width} px ok ({len(ranges)} range responses, new item {new_id})")


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    base, gallery, hostile, shots = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3], sys.argv[4]
    for path in (CHROMEDRIVER, CHROMIUM):
        if not os.access(path, os.X_OK):
            print(f"library_browser: {path} is missing; scripts/test installs chromium and chromium-driver",
                  file=sys.stderr)
            return 2
    os.makedirs(shots, exist_ok=True)
    docs = os.environ.get("LIBRARY_DOCS_SCREENSHOTS")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions", "--hide-scrollbars", "--lang=en-GB",
                "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    try:
        for width in (1280, 360):
            flow(driver, base, gallery, hostile, shots, width, docs)
        return 0
    except AssertionError as e:
        print(f"library_browser: FAILED: {e}", file=sys.stderr)
        try:
            driver.save_screenshot(os.path.join(shots, "failure.png"))
            print(driver.find_element(By.TAG_NAME, "body").text[:4000], file=sys.stderr)
        except Exception:  # noqa: BLE001 - best effort diagnostics
            pass
        return 1
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
