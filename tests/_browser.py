"""Drive a notebook in a real JupyterLab page and measure what a user sees (one harness).

Used by the browser tests with :func:`tests._jupyterlab.running_lab`. Every wait is on a
state (a prompt number, a plot's rendered height), never on a fixed delay or on a
transient label, with timeouts generous enough for a loaded 2-core machine.

What "a user sees" means here, per plotly plot in the notebook: its rendered width and
height (after scrolling it into view, as a reader would), whether it is visible, and
what it draws: SVG line paths with a real ``d``, markers and bars, and for parallel
coordinates the runs whose values are finite on every axis (plotly drops the others).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tests._jupyterlab import REPO

ARTIFACTS = REPO / "test-artifacts"
#: Flags every headless Chromium of the browser tests takes (a container, no GPU, nothing
#: running in the background).
HEADLESS_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHROMIUM_ARGS = [
    # Offline as in CI: no host but loopback resolves (a CDN request fails at once).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    *HEADLESS_ARGS,
]
#: Console errors that come from the test harness, not from what is tested: running_lab
#: turns off the jupyter_lsp server extension (seconds of start-up), and JupyterLab's
#: LSP front end then logs the 404 of its status probe.
HARNESS_ERRORS = ("/lsp/status",)
#: Smallest rendered plot height a user can read (the collapsed plots were 0-29 px).
MIN_PLOT_HEIGHT = 150
MIN_PLOT_WIDTH = 200

# Every plotly plot in the notebook area, scrolled into view one by one (as a reader would),
# measured after two animation frames (plotly's resize handlers run on the next frame).
_MEASURE_JS = """
async () => {
  const frame = () => new Promise(r => requestAnimationFrame(() => r()));
  const out = [];
  const plots = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .js-plotly-plot')];
  for (const gd of plots) {
    const shown = gd.offsetParent !== null && getComputedStyle(gd).visibility !== 'hidden';
    if (shown) { gd.scrollIntoView({block: 'center'}); await frame(); await frame(); }
    const r = gd.getBoundingClientRect();
    const lines = [...gd.querySelectorAll('.scatterlayer path.js-line')]
      .filter(p => (p.getAttribute('d') || '').length > 4).length;
    const markers = gd.querySelectorAll('.scatterlayer path.point, .barlayer path').length;
    let parcoords = 0;
    for (const t of (gd._fullData || [])) {
      if (t.type !== 'parcoords' || !t.dimensions.length) continue;
      const n = t.dimensions[0].values.length;
      for (let i = 0; i < n; i++) {
        if (t.dimensions.every(d => Number.isFinite(Number(d.values[i])))) parcoords++;
      }
    }
    const cell = gd.closest('.jp-Cell');
    const cells = cell ? [...cell.parentElement.querySelectorAll(':scope > .jp-Cell')] : [];
    const annotation = gd.querySelector('.annotation-text');
    const bar = gd.querySelector('.legend .scrollbar');
    const legendScrolls = !!bar && bar.getBoundingClientRect().height > 0;
    out.push({
      cell: cell ? cells.indexOf(cell) : -1,
      width: Math.round(r.width), height: Math.round(r.height), shown,
      traces: (gd._fullData || []).filter(t => t.visible !== false).length,
      lines, markers, parcoords,
      label: annotation ? annotation.textContent.slice(0, 60) : '',
      inDashboard: !!gd.closest('.nbt-dashboard'), legendScrolls,
    });
  }
  return out;
}
"""

# True once every shown plot has been drawn by plotly and is at least MIN height tall.
_PLOTS_SETTLED_JS = """
([minHeight]) => {
  const plots = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .js-plotly-plot')]
    .filter(gd => gd.offsetParent !== null);
  return plots.every(gd => gd._fullLayout && gd.getBoundingClientRect().height >= minHeight);
}
"""


@dataclass
class PageWatch:
    """Console errors, uncaught page errors and requests that left the machine."""

    errors: list[str] = field(default_factory=list)
    offsite: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        """Record from ``page`` on: console errors, page errors, requests off loopback.

        (Recorded, not intercepted: a sync Playwright route handler runs only while the
        test is inside a Playwright call, so interception stalls the page during waits.
        Chromium is launched with :data:`CHROMIUM_ARGS`, which resolve no other host.)
        """

        def on_console(msg: Any) -> None:
            if msg.type == "error" and not any(
                h in f"{msg.text} {msg.location.get('url', '')}" for h in HARNESS_ERRORS
            ):
                self.errors.append(f"{msg.text} at {msg.location.get('url', '')}")

        def on_request(request: Any) -> None:
            host = urlparse(request.url).hostname or ""
            if not request.url.startswith(("data:", "blob:")) and host not in (
                "127.0.0.1",
                "localhost",
            ):
                self.offsite.append(request.url)

        def on_response(response: Any) -> None:
            if response.status >= 400:
                self.failed.append(f"{response.status} {response.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("request", on_request)
        page.on("response", on_response)

    def take(self) -> tuple[list[str], list[str], list[str]]:
        """Console errors, off-site requests and failed responses since the last call."""
        taken = self.errors[:], self.offsite[:], self.failed[:]
        self.errors.clear()
        self.offsite.clear()
        self.failed.clear()
        return taken


def shut_down_sessions(url: str, token: str) -> None:
    """Delete every notebook session (its kernel stops): frees the CPU between notebooks."""
    with urllib.request.urlopen(f"{url}/api/sessions?token={token}", timeout=10) as r:
        sessions = json.load(r)
    for session in sessions:
        request = urllib.request.Request(
            f"{url}/api/sessions/{session['id']}?token={token}", method="DELETE"
        )
        urllib.request.urlopen(request, timeout=30).close()


def wait_for_kernel(page: Any, url: str, token: str, timeout: float = 120) -> None:
    """Wait until a kernel is idle with a websocket connected (Run All before is lost)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/kernels?token={token}", timeout=5) as r:
                kernels = json.load(r)
        except OSError:  # a 500 while the kernel is still starting
            kernels = []
        if any(k["connections"] > 0 and k["execution_state"] == "idle" for k in kernels):
            return
        page.wait_for_timeout(250)  # (a Playwright wait: the page's events keep flowing)
    raise AssertionError(f"no kernel became idle and connected within {timeout} s")


def run_notebook(page: Any, url: str, token: str, name: str, *, timeout_s: float = 300) -> None:
    """Open ``name`` fresh, Run All, and wait until every code cell has its prompt number."""
    page.goto(f"{url}/lab/tree/{name}?token={token}&reset")
    wait_for_kernel(page, url, token)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-item[data-command='runmenu:run-all']")
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=timeout_s * 1000,
    )
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=timeout_s * 1000
    )


def settle_plots(page: Any, timeout_ms: int = 15_000) -> bool:
    """Wait until every shown plot is drawn and tall enough; False if that never happens."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(_PLOTS_SETTLED_JS, arg=[MIN_PLOT_HEIGHT], timeout=timeout_ms)
    except PlaywrightTimeout:
        return False
    page.wait_for_timeout(300)  # plotly's transition after a relayout, before a picture
    return True


def measure_plots(page: Any) -> list[dict[str, Any]]:
    """One record per plotly plot of the notebook shown (see the module docstring)."""
    return list(page.evaluate(_MEASURE_JS))


def plot_problems(plots: list[dict[str, Any]], where: str) -> list[str]:
    """What is wrong with the shown plots, one line each (empty: all good)."""
    problems = []
    for p in plots:
        if not p["shown"]:
            continue  # a hidden tab: measured when opened
        at = f"{where}: plot in cell {p['cell']}"
        if p["height"] < MIN_PLOT_HEIGHT or p["width"] < MIN_PLOT_WIDTH:
            problems.append(f"{at} is {p['width']}x{p['height']} px")
        if p["legendScrolls"]:
            problems.append(f"{at}: its legend needs scrolling")
        if p["traces"] == 0:
            problems.append(f"{at} draws nothing ({p['label'] or 'no traces'})")
        elif p["lines"] + p["markers"] + p["parcoords"] == 0:
            problems.append(f"{at} has {p['traces']} traces but no visible line or point")
    return problems


def set_theme(page: Any, dark: bool) -> None:
    """Pick JupyterLab's light or dark theme from the Settings menu and wait for it."""
    name = "JupyterLab Dark" if dark else "JupyterLab Light"
    page.click(".lm-MenuBar-itemLabel:text-is('Settings')")
    page.hover(".lm-Menu-itemLabel:text-is('Theme')")
    page.click(f".lm-Menu-itemLabel:text-is('{name}')")
    light = "false" if dark else "true"
    page.wait_for_selector(f"body[data-jp-theme-light='{light}']", state="attached", timeout=30_000)


def toggle_file_browser(page: Any) -> None:
    """Open or close the left file-browser sidebar (its tab in the left side bar)."""
    page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='filebrowser']")


def layout_states(page: Any, size: tuple[int, int]) -> Iterator[str]:
    """Walk a page through the layout changes that collapsed plots; yield each state's name.

    Before each yield the page is in that state; the caller measures it.
    """
    width, height = size
    yield "first-render"
    toggle_file_browser(page)
    yield "sidebar-toggled"
    toggle_file_browser(page)
    yield "sidebar-back"
    page.set_viewport_size({"width": width - 380, "height": height - 300})
    yield "window-smaller"
    page.set_viewport_size({"width": width, "height": height})
    yield "window-restored"


def screenshot(page: Any, name: str) -> Path:
    """A viewport screenshot in ``test-artifacts/`` (CI keeps the folder)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
