#!/usr/bin/env python3
"""Drive the operator page (/admin) in headless Chromium, as a person would.

Usage: python3 tests/admin_browser.py BASE_URL CONTENT_ID SEARCHABLE_ID

The item CONTENT_ID must be `failed` with one open dead letter (tests/admin.rs
seeds it). The script opens BASE_URL/admin, checks the summary, sees the item
as failed in the items view, goes to the dead-letter view, clicks that dead
letter's Retry button, then re-renders the items view until the item shows
`unprocessed` (no worker runs, so it stays there). In the search view it
types a bad query (the error shows), then a Chinese word that the pulled
item SEARCHABLE_ID holds, and checks the hit is marked and that markup in the
item's text stays text. It also fails on any
Content-Security-Policy violation or script error in the browser console.

Exit 0 on success, 1 on a failed check, 2 when Chromium, chromedriver or
selenium are missing (`.ci/run` installs them).
"""

import os
import sys
import time

CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from browser_wait import wait_for
except ImportError as e:  # pragma: no cover - environment check
    print(f"admin_browser: selenium is missing ({e}); .ci/run installs it", file=sys.stderr)
    sys.exit(2)


def testid(value):
    return (By.CSS_SELECTOR, f'[data-testid="{value}"]')




def text_of(driver, tid):
    return driver.find_element(*testid(tid)).text.strip()


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    base, content_id, searchable = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    for path in (CHROMEDRIVER, CHROMIUM):
        if not os.access(path, os.X_OK):
            print(f"admin_browser: {path} is missing; .ci/run installs chromium and chromium-driver",
                  file=sys.stderr)
            return 2

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--no-first-run", "--disable-extensions"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    try:
        driver.get(f"{base}/admin")
        assert "VaultStream" in driver.title, driver.title

        # Summary: health and counts per status.
        wait_for("health status ok", lambda: text_of(driver, "health-status") == "ok")
        wait_for("one failed item counted", lambda: text_of(driver, "count-failed") == "1")
        assert text_of(driver, "count-dead-letters") == "1", text_of(driver, "count-dead-letters")

        # Items: the item is failed.
        driver.find_element(*testid("tab-items")).click()
        wait_for("item row", lambda: driver.find_element(*testid(f"item-row-{content_id}")))
        status = text_of(driver, f"item-status-{content_id}")
        assert status == "failed", f"before the retry the item is failed, not {status!r}"

        # Its detail shows the error and the source.
        driver.find_element(*testid(f"item-open-{content_id}")).click()
        wait_for("detail status", lambda: text_of(driver, "detail-status") == "failed")
        assert "gone" in text_of(driver, "detail-error"), text_of(driver, "detail-error")

        # Dead letters: find the item's row and press its Retry button.
        driver.find_element(*testid("tab-dead")).click()
        row = wait_for(
            "the item's dead letter",
            lambda: driver.find_element(
                By.CSS_SELECTOR, f'tr[data-testid^="dl-row-"][data-content-id="{content_id}"]'),
        )
        dl_id = row.get_attribute("data-id")
        assert text_of(driver, f"dl-state-{dl_id}") == "open"
        driver.find_element(*testid(f"dl-retry-{dl_id}")).click()
        wait_for("the retry to be confirmed",
                 lambda: f"Dead letter {dl_id} retried" in text_of(driver, "flash"))
        # The open list no longer has it.
        wait_for("the open list to drop it",
                 lambda: not driver.find_elements(*testid(f"dl-row-{dl_id}")))

        # Items again (re-rendered each time) until the item is unprocessed.
        def unprocessed():
            driver.find_element(*testid("tab-items")).click()
            time.sleep(0.2)
            return text_of(driver, f"item-status-{content_id}") == "unprocessed"

        wait_for("the item to be unprocessed", unprocessed)

        # Search: a bad query says where; a Chinese word finds the item,
        # marked, and the item's own markup stays text.
        driver.find_element(*testid("tab-search")).click()
        box = wait_for("search box", lambda: driver.find_element(*testid("s-q")))
        box.send_keys("platform:myspace")
        driver.find_element(*testid("search-go")).click()
        wait_for("the query error", lambda: "invalid_query" in text_of(driver, "flash"))
        box.clear()
        box.send_keys("故障")
        driver.find_element(*testid("search-go")).click()
        hit = wait_for("the hit", lambda: driver.find_element(*testid(f"hit-{searchable}")))
        marks = [m.text for m in hit.find_elements(By.TAG_NAME, "mark")]
        assert "故障" in marks, f"marked: {marks}"
        assert not hit.find_elements(By.TAG_NAME, "b"), "item text became markup"
        assert not hit.find_elements(By.TAG_NAME, "img"), "item text became markup"
        assert "<b>故障</b>" in hit.text, f"the markup should show as text: {hit.text}"
        assert not text_of(driver, "flash"), text_of(driver, "flash")
        box.clear()
        box.send_keys("nothingmatchesthis")
        driver.find_element(*testid("search-go")).click()
        wait_for("no hits", lambda: driver.find_element(*testid("search-none")))

        # The searchable item is gone upstream: badged in the list, and its
        # detail has the state, the stats chart and a refresh button.
        driver.find_element(*testid("tab-items")).click()
        # The list re-renders after the click: find the row again on every
        # try, never hold an element from an earlier render.
        wait_for("the searchable row's upstream badge", lambda: "deleted upstream on 2026-11-22" in driver
                 .find_element(*testid(f"item-row-{searchable}"))
                 .find_element(*testid("badge-upstream")).text)
        wait_for("the item to open", lambda: driver.find_element(*testid(f"item-open-{searchable}")).click() or True)
        wait_for("the upstream field", lambda: "deleted upstream on 2026-11-22" in text_of(driver, "detail-upstream"))
        chart = wait_for("the stats chart", lambda: driver.find_element(*testid("stats-chart")))
        assert chart.get_attribute("data-points") == "2", chart.get_attribute("data-points")
        assert "10 → 25" in text_of(driver, "stats-row-likes")
        driver.find_element(*testid("detail-refresh")).click()
        wait_for("the refresh to be queued", lambda: "will be fetched again" in text_of(driver, "flash")
                 or "being refreshed already" in text_of(driver, "flash"))

        # Push view: a Discord webhook (its token masked) and its failed
        # record with the receiver's HTTP status and a Resend button.
        driver.find_element(*testid("tab-push")).click()
        wait_for("push view", lambda: driver.find_element(*testid("view-push")).is_displayed())
        wait_for("the webhook target, its token masked", lambda: driver.find_element(
            By.CSS_SELECTOR, '[data-testid^="target-destination-"]').text.startswith(
                "discord webhook https://discord.com/api/webhooks/123/***"))
        assert "SeCrEtToKeN" not in driver.find_element(By.TAG_NAME, "body").text, "a webhook token is shown"
        wait_for("the failed record's HTTP status", lambda: driver.find_element(
            By.CSS_SELECTOR, '[data-testid^="record-delivery-"]').text == "HTTP 500")
        assert driver.find_elements(By.CSS_SELECTOR, '[data-testid^="record-resend-"]'), "no Resend button"

        problems = [
            entry["message"]
            for entry in driver.get_log("browser")
            if (entry.get("level") == "SEVERE"
                # The bad query's 400 was asked for (and its message shown).
                and "search?q=platform%3Amyspace" not in entry.get("message", ""))
            or "Content Security Policy" in entry.get("message", "")
        ]
        assert not problems, f"browser console: {problems}"
        flash = text_of(driver, "flash")
        assert not flash, f"the page reported an error: {flash}"
        print(f"admin_browser: ok (dead letter {dl_id}, item {content_id} unprocessed)")
        return 0
    except AssertionError as e:
        print(f"admin_browser: FAILED: {e}", file=sys.stderr)
        try:
            print(driver.find_element(By.TAG_NAME, "body").text[:4000], file=sys.stderr)
        except Exception:  # noqa: BLE001 - best effort diagnostics
            pass
        return 1
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
