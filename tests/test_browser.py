"""The analytics page in a real headless Chromium, against `mfastats serve` running as a subprocess.

Every request to anything but the local server is blocked and recorded; the test fails if one happened.
Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import webfixture
from dbservers import ci_mode

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TOKEN = "browser-test-token-0123456789abcdef"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def _unavailable(message: str) -> None:
    if ci_mode():
        pytest.fail(message, pytrace=False)
    pytest.skip(f"{message} (or set CI=true to make this a failure)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("browser")
    fixture = webfixture.build(folder)
    port = _free_port()
    command = [sys.executable, "-c", "from mfastats.cli import main; main()", "serve", *fixture.cli_args(),
               "--as-of", webfixture.AS_OF_TEXT, "--store", str(folder / "no-store.sqlite"),
               "--port", str(port), "--refresh-seconds", "3600"]
    env = {**os.environ, "MFASTATS_TOKEN": TOKEN}
    log = (folder / "serve.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mfastats serve did not start:\n{(folder / 'serve.log').read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        _unavailable("chromium not found (Debian package `chromium`: apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright; no browser download needed)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, args=ARGS, headless=True,
            viewport={"width": 1280, "height": 900})
        try:
            yield context
        finally:
            context.close()


def _report(base: str) -> dict:
    request = urllib.request.Request(f"{base}/api/report", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def _int(text: str) -> int:
    return int(text.strip().replace(",", ""))


def test_pages_in_chromium(server: str, browser_context) -> None:  # noqa: ANN001 - playwright type is optional
    ARTIFACTS.mkdir(exist_ok=True)
    outside: list[str] = []
    problems: list[str] = []

    def route(route, request) -> None:  # noqa: ANN001
        host = urlsplit(request.url).hostname
        if request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(request.url)
            route.abort()

    browser_context.route("**/*", route)
    page = browser_context.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    document = _report(server)

    # Not logged in: the page sends the browser to the login form.
    page.goto(f"{server}/domains/iam")
    assert page.url.startswith(f"{server}/login")
    page.fill("#token", "not-the-token")
    page.click("button[type=submit]")
    assert page.locator(".banner.error").inner_text() == "That token is not valid."
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/domains/iam")
    cookie = next(c for c in browser_context.cookies() if c["name"] == "mfastats_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # HttpOnly: invisible to scripts
    assert problems == ["console error: Failed to load resource: the server responded with a status of 401 "
                        "(Unauthorized)"]  # the refused login
    problems.clear()

    views = [("all", "/", document["all_domains"]["enrollment"])]
    views += [(b["name"], f"/domains/{b['name']}", b["enrollment"]) for b in document["domains"]]
    for name, path, enrollment in views:
        page.goto(f"{server}{path}")
        page.wait_for_selector(".chart .main-svg")
        page.wait_for_load_state("networkidle")
        metric = lambda key: page.locator(f'[data-metric="{key}"]').first.inner_text()  # noqa: E731
        assert float(metric("percent")) == enrollment["percent"], name
        for key in ("enrolled", "total", "aal2_capable", "seed_enrolled", "inactive_total"):
            assert _int(metric(key)) == enrollment[key], (name, key)
        # The CIAM/IAM breakdown table equals each domain's block of the JSON report.
        for block in document["domains"]:
            row = page.locator(f'#breakdown tr[data-domain="{block["name"]}"]')
            e = block["enrollment"]
            assert _int(row.locator('[data-col="enrolled"]').inner_text()) == e["enrolled"]
            assert _int(row.locator('[data-col="total"]').inner_text()) == e["total"]
            assert float(row.locator('[data-col="percent"]').inner_text()) == e["percent"]
            assert float(row.locator('[data-col="target_percent"]').inner_text()) == e["target_percent"]
        # Every chart is drawn as SVG with at least one trace that has visible marks.
        charts = page.locator(".chart")
        assert charts.count() >= 4
        for index in range(charts.count()):
            chart = charts.nth(index)
            chart_id = chart.get_attribute("id")
            assert chart.locator("svg.main-svg").count() > 0, chart_id
            assert chart.locator("g.trace").count() > 0, chart_id
            assert chart.locator("g.trace path").count() > 0, chart_id
            box = chart.bounding_box()
            assert box and box["width"] > 200 and box["height"] > 200, chart_id
        page.screenshot(path=str(ARTIFACTS / f"page-{name}.png"), full_page=True)

    # Hovering a bar shows its value (Plotly's hover layer).
    page.goto(f"{server}/domains/ciam")
    page.wait_for_selector("#stepups-ciam g.trace.bars path", state="attached")
    page.locator("#stepups-ciam").scroll_into_view_if_needed()
    plot_area = page.locator("#stepups-ciam .nsewdrag").bounding_box()
    assert plot_area is not None
    middle = plot_area["y"] + plot_area["height"] / 2
    hover = ""
    for _ in range(20):  # Plotly throttles hover events: move until the label shows the as-of date
        page.mouse.move(plot_area["x"] + plot_area["width"] / 2, middle, steps=2)
        page.mouse.move(plot_area["x"] + plot_area["width"] - 2, middle, steps=4)
        page.wait_for_timeout(150)
        hover = page.locator("#stepups-ciam .hoverlayer").text_content() or ""
        if "May 10" in hover:
            break
    assert "May 10, 2024" in hover and "ciam: 1" in hover, hover

    # The numbers of every chart are in a table too.
    page.locator("#methods-ciam ~ details summary").click()
    table = page.locator("#methods-ciam ~ details table")
    webauthn_row = table.locator("tr", has_text="WebAuthn key (2nd factor)")
    assert _int(webauthn_row.locator("td").inner_text()) == document["domains"][0]["methods"]["webauthn_users"]

    # A phone-sized screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server}/domains/iam")
    page.wait_for_selector(".chart .main-svg")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "page-iam-phone.png"), full_page=True)

    assert outside == [], f"requests left localhost: {outside}"
    assert problems == [], problems
