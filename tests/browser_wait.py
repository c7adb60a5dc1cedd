"""The one wait the browser tests share (tests/*_browser.py)."""

import time

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException


def wait_for(what, fn, timeout=20.0):
    """Poll fn until it returns a truthy value; fail with `what` on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = fn()
            if value:
                return value
        except (NoSuchElementException, StaleElementReferenceException) as e:
            last = e
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")
