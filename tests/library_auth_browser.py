#!/usr/bin/env python3
"""The library with auth on, in headless Chromium.

Usage: python3 tests/library_auth_browser.py BASE_URL SUBMITTER_KEY OPERATOR_KEY ITEM_ID

The page asks for a key once (the data routes answer 401), keeps it for the
tab, loads the item's archived picture with it (a blob: URL, fetched with
the key), and shows the link to /admin only to an operator key; the share
target (/share?text=&url=, as the system share sheet opens it) archives the
link at once with the tab's key. Exit 0 on
success, 1 on a failed check, 2 when Chromium or selenium are missing.
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
    print(f"library_auth_browser: selenium is missing ({e}); scripts/test installs it", file=sys.stderr)
    sys.exit(2)


def find(driver, tid):
    return driver.find_element(By.CSS_SELECTOR, f'[data-testid="{tid}"]')




def give_key(driver, key):
    wait_for("the key prompt", lambda: find(driver, "auth").is_displayed())
    assert "key" in find(driver, "auth-msg").text.lower(), find(driver, "auth-msg").text
    box = find(driver, "auth-key")
    box.clear()
    box.send_keys(key)
    find(driver, "auth-save").click()
    wait_for("the prompt to close", lambda: not find(driver, "auth").is_displayed())


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    base, submitter, operator, item = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3], sys.argv[4]
    for path in (CHROMEDRIVER, CHROMIUM):
        if not os.access(path, os.X_OK):
            print(f"library_auth_browser: {path} is missing", file=sys.stderr)
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
        driver.get(f"{base}/")
        # A submitter key: the library shows the item, no operator link.
        give_key(driver, submitter)
        card = wait_for("the item's card", lambda: find(driver, f"card-link-{item}"))
        img = wait_for("its picture, fetched with the key",
                       lambda: next((i for i in card.find_elements(By.TAG_NAME, "img")
                                     if (i.get_attribute("src") or "").startswith("blob:")), None))
        wait_for("the picture to decode",
                 lambda: driver.execute_script("return arguments[0].naturalWidth", img) > 0)
        time.sleep(0.5)
        assert not find(driver, "admin-link").is_displayed(), "a submitter key sees the operator link"
        # Kept for the tab: a reload asks for nothing.
        driver.refresh()
        wait_for("the card after a reload", lambda: find(driver, f"card-link-{item}"))
        assert not find(driver, "auth").is_displayed(), "the key was asked for again"
        # Forget it; an operator key also sees the link to /admin.
        find(driver, "key-forget").click()
        driver.refresh()
        give_key(driver, operator)
        wait_for("the operator link", lambda: find(driver, "admin-link").is_displayed())
        wait_for("the card", lambda: find(driver, f"card-link-{item}"))
        # The thread's page: its parts in order, each with its own picture,
        # the shared one marked.
        driver.get(f"{base}/items/{item}")
        wait_for("the parts", lambda: find(driver, "item-parts"))
        assert "1/2" in find(driver, "part-text-0").text, find(driver, "part-text-0").text
        assert "窗台上的猫" in find(driver, "part-text-1").text, find(driver, "part-text-1").text
        assert "shared" in (find(driver, "part-1").get_attribute("class") or "")
        for i in (0, 1):
            wait_for(f"part {i}'s picture", lambda: find(driver, f"part-{i}").find_elements(By.TAG_NAME, "img"))
        # The share sheet's way in (the installed page's share target): a
        # navigation of its own submits at once, with the tab's key.
        driver.get(f"{base}/share?title=jack&text=%E7%9C%8B%E7%9C%8B&url=https%3A%2F%2Fx.com%2Fjack%2Fstatus%2F20")
        link = wait_for("the share's result", lambda: find(driver, "submit-result-link"))
        assert "twitter" in link.text, link.text
        assert find(driver, "submit-result").get_attribute("data-created") == "true"
        assert driver.current_url.rstrip("/") == base, driver.current_url
        problems = [e["message"] for e in driver.get_log("browser")
                    if e.get("level") == "SEVERE" and " 401 " not in e.get("message", "")
                    and "status of 401" not in e.get("message", "")
                    and "status of 403" not in e.get("message", "")]
        assert not problems, f"browser console: {problems}"
        print("library_auth_browser: ok")
        return 0
    except AssertionError as e:
        print(f"library_auth_browser: FAILED: {e}", file=sys.stderr)
        try:
            print(driver.find_element(By.TAG_NAME, "body").text[:3000], file=sys.stderr)
        except Exception:  # noqa: BLE001 - best effort diagnostics
            pass
        return 1
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
