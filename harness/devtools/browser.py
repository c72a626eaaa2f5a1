"""Pages in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

For the report tests and `make demo`'s screenshots: every request that is not for the
page itself (file://, or the one local server named) is blocked and counted, and every
console error is kept, so "opens offline with no error" can be checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

CHROMIUM = "/usr/bin/chromium"
# As the machine's own probe starts it: no sandbox as root, no background network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: Any = {"width": 1280, "height": 900}  # playwright's ViewportSize


@dataclass
class PageLog:
    """What a page did: console errors, and requests it tried beyond what was allowed."""

    console_errors: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)


@contextmanager
def browser_page(allowed_prefix: str = "file://") -> Iterator[tuple[Any, PageLog]]:
    """A fresh Chromium page; requests not starting with allowed_prefix (or data:) are aborted and logged."""
    from playwright.sync_api import sync_playwright

    log = PageLog()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.on(
                "console", lambda message: log.console_errors.append(message.text) if message.type == "error" else None
            )
            page.on("pageerror", lambda error: log.console_errors.append(str(error)))

            def route(request_route: Any) -> None:
                url = request_route.request.url
                if url.startswith((allowed_prefix, "data:")):
                    request_route.continue_()
                else:
                    log.blocked_requests.append(url)
                    request_route.abort()

            page.route("**/*", route)
            yield page, log
        finally:
            browser.close()


# An <audio>'s length once Chromium has decoded its source (-1: none there, or it cannot play it).
_AUDIO_SECONDS_JS = """selector => new Promise(done => {
    const audio = document.querySelector(selector);
    if (!audio) { done(-1); return; }
    audio.addEventListener('loadedmetadata', () => done(audio.duration));
    audio.addEventListener('error', () => done(-1));
    audio.preload = 'metadata';
    audio.load();
})"""


def audio_seconds(page: Any, selector: str) -> float:
    """The seconds of audio the first element matching `selector` plays, as Chromium decodes it (-1: it cannot)."""
    return float(page.evaluate(_AUDIO_SECONDS_JS, selector))
