"""The dashboard in a real JupyterLab, driven by headless Chromium (Debian's package).

Starts JupyterLab on loopback with a random port and token, opens a notebook that logs
three runs with different tags and shows ``nt.dashboard()``, runs it and checks the
page: 3 table rows, 3 curves per metric, a tag value narrowing the rows, and the inline
error of a malformed filter. Screenshots go to ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._browser import (
    ARTIFACTS,
    HEADLESS_ARGS,
    MIN_PLOT_HEIGHT,
    PageWatch,
    measure_plots,
    settle_plots,
    wait_for_kernel,
)
from tests._jupyterlab import CHROMIUM, require_chromium, running_lab

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

NOTEBOOK = Path(__file__).parent / "notebooks" / "dashboard.ipynb"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A JupyterLab server on 127.0.0.1 serving a copy of the notebook; yields (url, token)."""
    require_chromium()
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    with running_lab(root, tmp_path, tmp_path / "store") as (url, token):
        yield url, token


def _rows(page) -> list[str]:
    return page.locator(".nbt-dashboard .nbt-run-table .nbt-tr").all_inner_texts()


def test_dashboard_in_jupyterlab(lab: tuple[str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, token = lab
    started = time.monotonic()

    def mark(what: str) -> None:
        print(f"[browser test] {time.monotonic() - started:5.1f} s  {what}")

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=HEADLESS_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2600})
            watch = PageWatch()
            watch.attach(page)
            page.goto(f"{url}/lab/tree/{NOTEBOOK.name}?token={token}&reset")
            # Run All before the kernel's websocket is up is silently dropped: wait for it.
            wait_for_kernel(page, url, token, timeout=60)
            mark("kernel idle")
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000
            )
            page.click(".lm-MenuBar-itemLabel:text-is('Run')")
            page.click(".lm-Menu-item[data-command='runmenu:run-all']")
            mark("run all clicked")
            page.wait_for_function(
                """() => {
                    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
                    return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
                }""",
                timeout=60_000,
            )
            mark("cells executed")
            dashboard = page.locator(".nbt-dashboard")
            expect(dashboard).to_be_visible(timeout=30_000)
            rows = dashboard.locator(".nbt-run-table .nbt-tr")
            expect(rows).to_have_count(3, timeout=30_000)
            curves = dashboard.locator(".nbt-curves .js-plotly-plot")
            expect(curves).to_be_visible(timeout=30_000)
            # One line per run in each metric's subplot, and one legend entry per run.
            expect(curves.locator(".subplot.xy .scatterlayer .trace")).to_have_count(3)
            expect(curves.locator(".legend .traces")).to_have_count(3)
            page.wait_for_timeout(500)  # let plotly finish its transitions before the picture
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"))
            mark("dashboard checked")

            # The Compare tab draws when opened: params diff, bars, parallel coordinates, scatter.
            tab = dashboard.locator(".nbt-tabs .lm-TabBar-tab")
            tab.filter(has_text="Compare").click()
            compare = dashboard.locator(".nbt-compare")
            expect(compare.locator(".js-plotly-plot")).to_have_count(3, timeout=30_000)
            # Parallel coordinates (the second plot): one SVG line per run, no WebGL.
            parallel = compare.locator(".js-plotly-plot").nth(1)
            expect(parallel.locator(".scatterlayer .trace .js-line")).to_have_count(3)
            expect(compare.locator("canvas.gl-canvas")).to_have_count(0)
            expect(compare).to_contain_text("all 3 params differ")
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "dashboard-compare.png"))
            tab.filter(has_text="Curves").click()
            expect(curves).to_be_visible()
            mark("compare tab checked")

            # Choosing a tag value leaves only the runs with that value.
            page.select_option(".nbt-tag-key select", label="team")
            page.select_option(".nbt-tag-value select", label="vision")
            expect(rows).to_have_count(2, timeout=20_000)
            names = _rows(page)
            assert all("resnet" in r for r in names), names
            expect(dashboard.locator(".nbt-chip")).to_have_count(1)
            expect(dashboard.locator(".nbt-filter-count")).to_contain_text("2 of 3 runs")
            expect(curves.locator(".subplot.xy .scatterlayer .trace")).to_have_count(
                2, timeout=20_000
            )
            assert settle_plots(page), measure_plots(page)  # drawn, ≥ 150 px tall
            assert all(p["height"] >= MIN_PLOT_HEIGHT for p in measure_plots(page) if p["shown"])
            page.screenshot(path=str(ARTIFACTS / "dashboard-tag-filter.png"))
            mark("tag filter checked")

            # Clicking a header sorts; ticking a row redraws the curves with that run only.
            dashboard.locator(".nbt-run-table .nbt-th", has_text="loss").click()
            expect(rows.first).to_contain_text("resnet-lr0.1", timeout=20_000)
            expect(dashboard.locator(".nbt-run-table .nbt-th", has_text="loss")).to_contain_text(
                "▲"
            )
            dashboard.locator(".nbt-run-table .nbt-row input[type=checkbox]").first.check()
            expect(curves.locator(".subplot.xy .scatterlayer .trace")).to_have_count(
                1, timeout=20_000
            )
            expect(curves.locator(".legend .traces")).to_contain_text("resnet-lr0.1")
            expect(dashboard.locator(".nbt-run-table")).to_contain_text("1 selected")
            mark("sort and selection checked")

            # A malformed filter shows the reason inline, under the box, not a traceback.
            box = dashboard.locator(".nbt-filter-text input")
            box.fill("metrics.loss < AND")
            box.press("Enter")
            error = dashboard.locator(".nbt-filter-error .nbt-error")
            expect(error).to_be_visible(timeout=20_000)
            expect(error).to_contain_text("at character")
            assert (
                page.locator(
                    ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                ).count()
                == 0
            )
            expect(rows).to_have_count(2)  # the table keeps the last valid filter
            dashboard.locator(".nbt-filter-text").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "dashboard-filter-error.png"))
            mark("filter error checked")
            # Picking a tag, sorting, ticking and a bad filter log no console error (picking
            # a tag used to log "Error setting state: Cannot set properties of undefined").
            errors, offsite, _failed = watch.take()
            assert not errors, errors
            assert not offsite, offsite
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "dashboard-failure.png"))
            raise
        finally:
            browser.close()
