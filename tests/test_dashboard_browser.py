"""The dashboard in a real browser: Debian's headless Chromium, driven by Playwright.

One server (``commsim dashboard``) and one browser serve every test here. The page must work
offline: requests that leave this machine are aborted and counted, and the server's CDN is an
address where nothing listens, so an asset missing from the cache fails the page instead of
being fetched quietly. Everything is checked through what the page shows.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright  # the 'browser' extra, which ./setup.sh installs

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "results" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As this machine needs them: no sandbox as root, and no background connections, which its closed
# network refuses in bulk. Playwright gives every launch a new empty --user-data-dir itself.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 60_000  # generous: a loaded CI machine is slow, and nothing here is timed against it


class Measurement(UserWarning):
    """A number the tests measure and report but do not assert (shown in pytest's summary)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """``commsim dashboard`` on a free port, until the module's tests are done; its URL."""
    port = free_port()
    env = {**os.environ, "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/npm/"}  # nothing listens there
    log = (SHOTS.mkdir(parents=True, exist_ok=True) or SHOTS) / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sim", "dashboard", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_http(url, proc, log)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def wait_for_http(url: str, proc: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"commsim dashboard exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"commsim dashboard did not answer at {url} in {seconds} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: .ci/run installs Debian's package 'chromium'")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Dashboard:
    """A page of the dashboard, with what it logged and what it tried to fetch from elsewhere."""

    def __init__(self, browser, url: str) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.failed: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}")
                     if r.status >= 400 else None)
        self.page.route("**/*", self._local_only)
        self.page.goto(url)
        self.page.locator(".commsim-view img").wait_for(timeout=WAIT_MS)

    def _local_only(self, route) -> None:
        if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def month(self) -> int:
        return int(self.page.locator(".commsim-month").inner_text().removeprefix("Month "))

    def figure(self) -> str:
        return self.page.locator(".commsim-view img").get_attribute("src")

    def table(self) -> dict[str, list[str]]:
        """The view's latest numbers: the header row under '', then each measure's cells."""
        rows = self.page.locator(".commsim-latest tr")
        cells = [rows.nth(i).locator("th, td").all_inner_texts() for i in range(rows.count())]
        return {row[0].strip(): [c.strip() for c in row[1:]] for row in cells}

    def wait_for_month(self, month: int) -> None:
        self.page.wait_for_function(
            f"document.querySelector('.commsim-month').textContent === 'Month {month}'",
            timeout=WAIT_MS)

    def button(self, text: str):
        return self.page.locator("button", has_text=re.compile(f"^\\s*{re.escape(text)}\\s*$"))

    def select(self, label: str, option: str) -> None:
        """Choose ``option`` in the drop-down list labelled ``label``."""
        self.page.locator(".v-select").filter(
            has=self.page.locator("label", has_text=re.compile(f"^{re.escape(label)}$"))).click()
        self.page.locator(".menuable__content__active .v-list-item",
                          has_text=re.compile(f"^{re.escape(option)}$")).click()

    def step(self) -> float:
        """Press Step; the milliseconds until the page shows the next month's figure (measured in
        the page, from the click to the new image being loaded).
        """
        return self.page.evaluate("""async (wait) => {
            const caption = () => document.querySelector('.commsim-month').textContent;
            const image = () => document.querySelector('.commsim-view img');
            const month = parseInt(caption().replace('Month ', ''));
            const before = image().src;
            const start = performance.now();
            [...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'Step').click();
            await new Promise((resolve, reject) => {
                const deadline = start + wait;
                const check = () => {
                    const img = image();
                    if (caption() === 'Month ' + (month + 1) && img && img.src !== before && img.complete) {
                        resolve();
                    } else if (performance.now() > deadline) {
                        reject(new Error('no new month after Step'));
                    } else {
                        requestAnimationFrame(check);
                    }
                };
                check();
            });
            return performance.now() - start;
        }""", WAIT_MS)

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def dashboard(browser, server):
    page = Dashboard(browser, server)
    yield page
    page.close()


def settled_month(dashboard: Dashboard, quiet: int = 8) -> int:
    """The month once it has stayed the same for ``quiet`` half-seconds.

    Mesa's controller may make one more step after Pause (a step its play loop had begun waiting
    for), and on a busy machine its figure can take a second or more to arrive.
    """
    month, same = dashboard.month(), 0
    for _ in range(240):
        dashboard.page.wait_for_timeout(500)
        same = same + 1 if dashboard.month() == month else 0
        if same == quiet:
            return month
        month = dashboard.month()
    pytest.fail("the month kept changing after Pause")


def test_page_loads_offline_with_no_console_errors(dashboard):
    assert dashboard.month() == 0
    assert dashboard.button("Step").is_enabled()
    dashboard.page.get_by_text("About this model").click()
    dashboard.page.locator(".commsim-about").get_by_text("Take a context-led approach").wait_for()
    assert dashboard.errors == []
    assert dashboard.outside == []
    assert dashboard.failed == []


def test_step_advances_the_plots(dashboard):
    figure = dashboard.figure()
    side_by_side = [dashboard.step() for _ in range(8)]
    assert dashboard.month() == 8
    assert dashboard.figure() != figure
    dashboard.page.locator(".v-tab", has_text="The system now").click()
    dashboard.page.wait_for_function(
        "document.querySelector('.commsim-view').textContent.includes('Who is where')", timeout=WAIT_MS)
    system = [dashboard.step() for _ in range(4)]
    assert dashboard.month() == 12
    for view, times in (("side by side", side_by_side), ("the system now", system)):
        warnings.warn(Measurement(
            f"dashboard, step to plot at the default size (1,000 citizens, two regimes), {view}: "
            f"median {statistics.median(times):.0f} ms, fastest {min(times):.0f}, slowest "
            f"{max(times):.0f} over {len(times)} steps"), stacklevel=1)


def test_changing_a_lever_changes_the_running_model(dashboard):
    for _ in range(3):
        dashboard.step()
    before = dashboard.table()
    dashboard.page.get_by_text("4. Develop legitimate measures").click()
    threshold = dashboard.page.get_by_role("slider", name="measure threshold (need)")
    threshold.press("End")  # a case counts as met only with no need left on the measure
    dashboard.page.get_by_text("B: learning_oriented, 1 field changed").first.wait_for(timeout=WAIT_MS)
    after = dashboard.table()
    assert dashboard.month() == 3  # the running pair, not a new one at month 0
    assert after[""][1] == "B: learning_oriented, 1 field changed"
    numbers = [name for name in after if name]
    assert any(after[name][1] != before[name][1] for name in numbers)  # B is judged on another bar
    assert all(after[name][0] == before[name][0] for name in numbers)  # A is untouched

    dashboard.page.get_by_text("7. Take a nuanced approach to evidence").click()
    weight = dashboard.page.get_by_label("prior weight")
    weight.fill("0.001")  # below the schema's 0.01
    weight.press("Enter")
    refused = dashboard.page.locator(".commsim-refused")
    refused.wait_for(timeout=WAIT_MS)
    assert "allowed: a number in [0.01, 100.0]" in refused.inner_text()
    assert dashboard.table()[""][1] == "B: learning_oriented, 1 field changed"  # not applied

    dashboard.button("Reset").click()  # Mesa's Reset: month 0, with the levers as they are now
    dashboard.wait_for_month(0)
    assert dashboard.table()[""][1] == "B: learning_oriented, 1 field changed"

    dashboard.select("regime B", "none")  # A alone: one panel per view, one column of numbers
    dashboard.page.wait_for_function(
        "document.querySelectorAll('.commsim-latest tr:first-child th').length === 2", timeout=WAIT_MS)
    dashboard.step()
    assert dashboard.table()[""] == ["A: target_driven"] and dashboard.month() == 1
    assert dashboard.errors == []


def test_side_by_side_runs_and_shows_a_difference(dashboard):
    dashboard.button("▶").click()
    dashboard.page.wait_for_function(
        "parseInt(document.querySelector('.commsim-month').textContent.replace('Month ', '')) >= 24",
        timeout=WAIT_MS * 3)
    dashboard.button("❚❚").click()
    dashboard.button("Step").wait_for(state="visible", timeout=WAIT_MS)
    dashboard.page.wait_for_function("[...document.querySelectorAll('button')].find("
                                     "b => b.textContent.trim() === 'Step').disabled === false",
                                     timeout=WAIT_MS)  # Step is disabled while playing
    month = settled_month(dashboard)
    dashboard.page.wait_for_timeout(2000)
    assert dashboard.month() == month >= 24  # paused
    table = dashboard.table()
    assert table[""] == ["A: target_driven", "B: learning_oriented", "B − A"]
    differences = [float(cells[2].replace(",", "")) for label, cells in table.items() if label]
    assert any(abs(d) > 0.001 for d in differences), table
    SHOTS.mkdir(parents=True, exist_ok=True)
    dashboard.page.screenshot(path=SHOTS / "side_by_side.png", full_page=False)
    assert (SHOTS / "side_by_side.png").stat().st_size > 10_000
    assert dashboard.errors == []
