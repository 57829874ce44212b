"""The pages in Debian's Chromium (Playwright, no downloaded browser): edit a size, see the API's figure."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from crossmargin.web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).with_name("artifacts")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not installed at /usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        if time.monotonic() > deadline:
            pytest.fail("uvicorn did not start within 20 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=10)


def _assert_liquidation_prices(page: Any, expected: dict[str, Any]) -> None:
    """Hold the ETH short's liquidation price shown for each book to the API's figure."""
    for book, cell in (("as_given", "as-given"), ("cross", "cross"), ("isolated", "isolated")):
        figure = next(p for p in expected[book]["positions"] if p["symbol"] == "ETHUSDT")["liquidation_price"]
        shown = page.inner_text(f"#liq-{cell}-ETHUSDT")
        assert float(shown) == pytest.approx(figure, abs=0.005), book


def test_pages_and_editor(server: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(server + "/")
        page.wait_for_selector("#status:has-text('ready')", timeout=20_000)
        assert page.evaluate("typeof Plotly") == "object"
        page.screenshot(path=str(ARTIFACTS / "editor.png"), full_page=True)

        page.fill("#size-ETHUSDT", "8")
        page.wait_for_function("document.body.dataset.check === 'done'", timeout=10_000)
        page.wait_for_timeout(600)  # the debounce, then the answer
        page.wait_for_function("document.body.dataset.check === 'done'", timeout=10_000)
        portfolio = httpx.get(server + "/api/example").json()["portfolio"]
        portfolio.pop("name", None)
        eth = next(p for p in portfolio["positions"] if p["symbol"] == "ETHUSDT")
        eth["size"] = 8
        _assert_liquidation_prices(page, httpx.post(server + "/api/check", json=portfolio).json())
        page.screenshot(path=str(ARTIFACTS / "editor-edited.png"), full_page=True)

        page.select_option("#mode-ETHUSDT", "isolated")  # the book as given: the ETH short on 2,300 of its own
        page.fill("#margin-ETHUSDT", "2300")
        page.wait_for_timeout(600)
        page.wait_for_function("document.body.dataset.check === 'done'", timeout=10_000)
        eth |= {"margin_mode": "isolated", "isolated_margin": 2300}
        _assert_liquidation_prices(page, httpx.post(server + "/api/check", json=portfolio).json())
        assert page.inner_text("#account-as-given").startswith("as given")

        page.click("#stress-run")
        page.wait_for_selector("#stress-chart .main-svg", timeout=20_000)
        page.click("#bt-run")
        page.wait_for_selector("#bt-chart .main-svg", timeout=60_000)
        page.fill("#mc-paths", "1000")
        page.click("#mc-run")
        page.wait_for_selector("#mc-odds tbody tr", timeout=60_000)
        page.wait_for_selector("#mc-chart .main-svg", timeout=20_000)
        page.click("#live-run")
        page.wait_for_selector("#live-last:has-text('margin ratio')", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        browser.close()
