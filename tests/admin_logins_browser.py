#!/usr/bin/env python3
"""Drive the operator page's Logins tab (/admin#logins) in headless Chromium.

Usage: python3 tests/admin_logins_browser.py BASE_URL

tests/admin_logins.rs stores a Bilibili login whose last check said
`expired` and points Bilibili at a fake of it. The script checks that the
summary shows the expired login as a card, that the Logins tab lists it as
`expired` (and shows no cookie), then clicks "Log in to Bilibili with a QR
code", sees the code as an image, and waits (the Rust side confirms the
login on the fake meanwhile) until the page reports the login and lists it
as `valid` for the QR account. It fails on any Content-Security-Policy
violation or script error in the browser console.

Exit 0 on success, 1 on a failed check, 2 when Chromium, chromedriver or
selenium are missing (`.ci/run` installs them).
"""

import os
import sys

CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from browser_wait import wait_for
except ImportError as e:  # pragma: no cover - environment check
    print(f"admin_logins_browser: selenium is missing ({e}); .ci/run installs it", file=sys.stderr)
    sys.exit(2)


def testid(value):
    return (By.CSS_SELECTOR, f'[data-testid="{value}"]')


def text_of(driver, tid):
    return driver.find_element(*testid(tid)).text.strip()


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    base = sys.argv[1].rstrip("/")
    for path in (CHROMEDRIVER, CHROMIUM):
        if not os.access(path, os.X_OK):
            print(f"admin_logins_browser: {path} is missing", file=sys.stderr)
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
        wait_for("the expired login's card",
                 lambda: text_of(driver, "login-card-bilibili") == "expired")

        driver.find_element(*testid("tab-logins")).click()
        wait_for("the login row", lambda: driver.find_element(*testid("login-row-bilibili")))
        assert text_of(driver, "login-state-bilibili") == "expired", text_of(driver, "login-state-bilibili")
        row = text_of(driver, "login-row-bilibili")
        assert "vault" in row and "alice" in row, row
        assert "SESSDATA" not in driver.page_source and "browser-sess" not in driver.page_source

        driver.find_element(*testid("qr-bilibili")).click()
        img = wait_for("the QR code", lambda: driver.find_element(*testid("qr-img")).is_displayed()
                       and driver.find_element(*testid("qr-img")))
        src = img.get_attribute("src")
        assert src.startswith("data:image/svg+xml;base64,"), src[:60]
        wait_for("the code drawn", lambda: driver.execute_script(
            "const i = arguments[0]; return i.complete && i.naturalWidth > 0;", img))
        wait_for("the login reported", lambda: "Logged in to bilibili" in text_of(driver, "flash"), timeout=30)
        wait_for("the row valid", lambda: text_of(driver, "login-state-bilibili") == "valid")
        assert "qr_user" in text_of(driver, "login-row-bilibili"), text_of(driver, "login-row-bilibili")
        assert not driver.find_element(*testid("qr-box")).is_displayed()

        problems = [
            entry["message"]
            for entry in driver.get_log("browser")
            if entry.get("level") == "SEVERE" or "Content Security Policy" in entry.get("message", "")
        ]
        assert not problems, f"browser console: {problems}"
        print("admin_logins_browser: ok")
        return 0
    except AssertionError as e:
        print(f"admin_logins_browser: FAILED: {e}", file=sys.stderr)
        try:
            print(driver.find_element(By.TAG_NAME, "body").text[:4000], file=sys.stderr)
        except Exception:  # noqa: BLE001 - best effort diagnostics
            pass
        return 1
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
