"""The JupyterLab extension in a real JupyterLab, driven by headless Chromium.

Runs written by separate Python processes show up in the "Runs" sidebar; a run started
while the page is open appears without a reload; the filter box narrows the list and shows
a malformed filter's error; a run panel opens and a tag edited there is what
``nt.get_run`` reads from Python; two ticked runs open the compare panel with one curve per
run. Screenshots go to ``test-artifacts/`` (gitignored, kept by CI).
"""

from __future__ import annotations

import json
import re
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._browser import ARTIFACTS, HEADLESS_ARGS, wait_for_kernel
from tests._jupyterlab import CHROMIUM, lab_api, require_chromium, run_python, running_lab
from tests._palette import run_from_palette

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


SWEEP = textwrap.dedent(
    """
    import math, nbtrack as nt
    nt.set_experiment("sweep")
    for i, lr in enumerate([0.1, 0.01, 0.001]):
        with nt.start_run(name=f"lr-{lr}", params={"lr": lr, "layers": 2 + i},
                          tags={"team": "vision"}) as run:
            for step in range(300):
                run.log_metric("loss", math.exp(-lr * 20 * step / 30) + 0.02 * math.sin(step), step=step)
                run.log_metric("acc", 1 - math.exp(-lr * 30 * step / 30), step=step)
            run.log_text("hello from " + run.name, "notes.txt")
    """
)

LATE = textwrap.dedent(
    """
    import sys, nbtrack as nt
    nt.set_experiment("sweep")
    with nt.start_run(name="late-run", params={"lr": 0.5, "layers": 9}) as run:
        run.log_metric("loss", 0.3)
        run.log_metric("acc", 0.7)
    print(run.run_id)
    """
)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    require_chromium()
    store = tmp_path / "store"
    run_python(SWEEP, store)  # written before the server starts, by another process
    root = tmp_path / "root"
    root.mkdir()
    with running_lab(root, tmp_path, store) as (url, token):
        yield url, token, store


def test_runs_sidebar_run_panel_and_compare(lab: tuple[str, str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, token, store = lab
    started = time.monotonic()

    def mark(what: str) -> None:
        print(f"[lab test] {time.monotonic() - started:5.1f} s  {what}")

    assert len(lab_api(url, token, "runs")["runs"]) == 3, "the server extension is enabled"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=HEADLESS_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            # `?nbtrack-runs` opens the sidebar, as `make demo` does
            page.goto(f"{url}/lab?token={token}&reset&nbtrack-runs")
            tab = page.locator('.lm-TabBar-tab[data-id="nbtrack-runs"]')
            expect(tab).to_be_visible(timeout=90_000)
            expect(tab).to_have_class(re.compile(r"\blm-mod-current\b"), timeout=30_000)
            rows = page.locator(".nbtl-sidebar .nbtl-run-row")
            expect(rows).to_have_count(3, timeout=30_000)
            mark("sidebar shows the 3 runs written by another process")
            expect(page.locator(".nbtl-sidebar .nbtl-status-finished")).to_have_count(3)
            page.screenshot(path=str(ARTIFACTS / "lab-sidebar.png"))

            # A run written now by another process appears without a reload.
            late_id = run_python(LATE, store).strip()
            written = time.monotonic()
            late = page.locator(f'.nbtl-run-row[data-run-id="{late_id}"]')
            expect(late).to_be_visible(timeout=30_000)
            latency = time.monotonic() - written
            mark(f"a new run appeared in the sidebar {latency:.2f} s after its writer exited")
            expect(rows).to_have_count(4)

            # The filter narrows the list; a malformed filter shows its error inline.
            box = page.locator(".nbtl-sidebar .nbtl-filter")
            box.fill("params.lr >= 0.01 AND metrics.acc > 0")
            box.press("Enter")
            expect(rows).to_have_count(3, timeout=30_000)
            names = set(page.locator(".nbtl-sidebar .nbtl-name").all_inner_texts())
            assert names == {"lr-0.1", "lr-0.01", "late-run"}
            box.fill("metrics.loss >")
            box.press("Enter")
            error = page.locator(".nbtl-sidebar .nbtl-filter-error")
            expect(error).to_be_visible(timeout=30_000)
            expect(error).to_contain_text("position 14")
            expect(page.locator(".nbtl-filter.nbtl-invalid")).to_have_count(1)
            page.screenshot(path=str(ARTIFACTS / "lab-filter-error.png"))
            box.fill("")
            box.press("Enter")
            expect(rows).to_have_count(4, timeout=30_000)
            expect(error).to_be_hidden()
            mark("filter and its inline error work")

            # The run panel: attributes, params, sparklines, artifacts, tags.
            target = page.locator(".nbtl-run-row", has_text="lr-0.01")
            run_id = target.get_attribute("data-run-id")
            target.locator(".nbtl-name").click()
            panel = page.locator(".nbtl-run-panel")
            expect(panel.locator(".nbtl-run-name")).to_have_text("lr-0.01", timeout=30_000)
            expect(panel.locator(".nbtl-params")).to_contain_text("layers")
            expect(panel.locator(".nbtl-sparkline path")).to_have_count(2, timeout=30_000)
            panel.get_by_role("button", name="Preview").click()
            expect(panel.locator(".nbtl-artifact-text")).to_have_text("hello from lr-0.01")
            panel.locator(".nbtl-tag-key").fill("verdict")
            panel.locator(".nbtl-tag-value").fill("best")
            panel.locator(".nbtl-tag-add").click()
            expect(panel.locator('[data-tag="verdict"]')).to_be_visible(timeout=30_000)
            read_back = run_python(
                f"import nbtrack as nt; print(nt.get_run({run_id!r}).tags.get('verdict'))", store
            ).strip()
            assert read_back == "best"
            mark("run panel shows the run; a tag set there is what nt.get_run reads")
            page.screenshot(path=str(ARTIFACTS / "lab-run-panel.png"))

            # Compare two ticked runs.
            for name in ("lr-0.1", "lr-0.001"):
                page.locator(".nbtl-run-row", has_text=name).locator(".nbtl-select").check()
            page.locator(".nbtl-compare-button").click()
            compare = page.locator(".nbtl-compare-panel.nbtl-loaded")
            expect(compare).to_be_visible(timeout=30_000)
            for metric in ("loss", "acc"):
                chart = compare.locator(f'.nbtl-chart-wrap[data-metric="{metric}"] svg')
                expect(chart.locator("path.nbtl-trace")).to_have_count(2)
                box_ = chart.bounding_box()
                assert box_ is not None and box_["height"] > 150, box_
            parallel = compare.locator("svg.nbtl-parallel")
            expect(parallel.locator("path.nbtl-trace")).to_have_count(2)
            expect(compare.locator(".nbtl-diff tr.nbtl-differs")).to_have_count(2)  # lr, layers
            # each trace has a drawn line, in the run's colour
            d = chart.locator("path.nbtl-trace").first.get_attribute("d") or ""
            assert d.count("L") > 50
            colours = {r["run_id"]: r["color"] for r in lab_api(url, token, "runs")["runs"]}
            for trace in chart.locator("path.nbtl-trace").all():
                assert trace.get_attribute("stroke") == colours[trace.get_attribute("data-run-id")]
            mark("compare panel: 2 curves per metric, parallel coordinates, params diff")
            page.screenshot(path=str(ARTIFACTS / "lab-compare.png"))

            # The dark theme: only JupyterLab's CSS variables, so everything follows it.
            page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
            page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
            page.locator(".lm-Menu-itemLabel").get_by_text("JupyterLab Dark", exact=True).click()
            expect(page.locator('body[data-jp-theme-light="false"]')).to_have_count(
                1, timeout=30_000
            )
            page.set_viewport_size({"width": 1200, "height": 800})  # and a resize
            page.screenshot(path=str(ARTIFACTS / "lab-compare-dark-resized.png"))
            for metric in ("loss", "acc"):
                chart_svg = compare.locator(f'.nbtl-chart-wrap[data-metric="{metric}"] svg')
                expect(chart_svg).to_be_visible(timeout=30_000)  # the relayout settles
                box_ = chart_svg.bounding_box()
                assert box_ is not None and box_["height"] > 150, box_
            background = page.evaluate(
                "getComputedStyle(document.querySelector('.nbtl-sidebar')).backgroundColor"
            )
            assert background not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"), background
            page.screenshot(path=str(ARTIFACTS / "lab-compare-dark.png"))
            print(f"[lab test] new-run latency {latency:.2f} s")
        finally:
            browser.close()


MANY = textwrap.dedent(
    """
    import nbtrack as nt
    nt.set_experiment("many")
    for i in range(1200):
        with nt.start_run(name=f"many-{i:04d}", params={"i": i}) as run:
            run.log_metric("loss", 1 / (i + 1))
    """
)


def test_long_lists_are_virtualized_and_the_palette_inserts_code(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    require_chromium()
    store = tmp_path / "store"
    run_python(MANY, store)
    root = tmp_path / "root"
    root.mkdir()
    with running_lab(root, tmp_path, store) as (url, token), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=HEADLESS_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/lab?token={token}&reset&nbtrack-runs")
            count = page.locator(".nbtl-sidebar .nbtl-count")
            expect(count).to_have_text("500+ runs", timeout=90_000)  # the first page
            # No model is registered in this store: the Models section says how to add one.
            expect(page.locator(".nbtl-models .nbtl-models-empty")).to_contain_text(
                "No registered models yet", timeout=30_000
            )
            expect(page.locator(".nbtl-models .nbtl-model-row")).to_have_count(0)
            rows = page.locator(".nbtl-sidebar .nbtl-run-row")
            assert rows.count() < 60  # only the rows in view (plus a few) are in the DOM
            # Scrolling to the end loads the next pages, until the last run.
            deadline = time.monotonic() + 60
            while count.inner_text() != "1200 runs" and time.monotonic() < deadline:
                page.locator(".nbtl-list").evaluate("el => el.scrollTop = el.scrollHeight")
                page.wait_for_timeout(300)
            expect(count).to_have_text("1200 runs")
            page.locator(".nbtl-list").evaluate("el => el.scrollTop = el.scrollHeight")
            expect(page.locator(".nbtl-run-row", has_text="many-0000")).to_be_visible()
            assert rows.count() < 60
            page.screenshot(path=str(ARTIFACTS / "lab-long-list.png"))

            # "Insert code to load this run" from the palette, into a new notebook.
            page.locator(".jp-LauncherCard", has_text="Python 3").first.click()
            expect(page.locator(".jp-NotebookPanel")).to_have_count(1, timeout=60_000)
            # Its kernel starting runs lab commands, which close an open palette: let it settle.
            wait_for_kernel(page, url, token, timeout=90)
            expect(
                page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
            ).to_have_count(1, timeout=60_000)
            target = page.locator(".nbtl-run-row", has_text="many-0007")
            run_id = target.get_attribute("data-run-id")
            target.locator(".nbtl-name").click()  # opens the run panel; the run is current
            expect(page.locator(".nbtl-run-panel .nbtl-run-name")).to_have_text("many-0007")
            run_from_palette(page, "Insert Code to Load This nbtrack Run")
            cell = page.locator(".jp-NotebookPanel .jp-Cell .jp-InputArea-editor", has_text=run_id)
            expect(cell).to_have_count(1, timeout=30_000)
            expect(cell).to_contain_text(f'nt.get_run("{run_id}")')
            page.screenshot(path=str(ARTIFACTS / "lab-insert-code.png"))

            # Delete from the row's context menu, then restore from the palette.
            victim = page.locator(".nbtl-run-row", has_text="many-0003")
            victim_id = victim.get_attribute("data-run-id")
            victim.locator(".nbtl-name").click(button="right")
            page.locator(".lm-Menu-itemLabel", has_text="Delete nbtrack Run").click()
            page.locator(".jp-Dialog-button.jp-mod-warn").click()
            expect(count).to_have_text("1199 runs", timeout=30_000)
            expect(page.locator(f'.nbtl-run-row[data-run-id="{victim_id}"]')).to_have_count(0)
            assert victim_id not in run_python(
                "import nbtrack as nt; print(list(nt.search_runs(experiment='*')['run_id']))", store
            )
            run_from_palette(page, "Restore Deleted nbtrack Run")
            expect(count).to_have_text("1200 runs", timeout=30_000)

            # A collapsed sidebar stops polling; shown again, it polls at once.
            polls: list[str] = []
            page.on(
                "request", lambda r: polls.append(r.url) if "/nbtrack/api/runs" in r.url else None
            )
            page.locator('.lm-TabBar-tab[data-id="nbtrack-runs"]').click()
            expect(page.locator(".nbtl-sidebar")).to_be_hidden()
            page.wait_for_timeout(500)
            polls.clear()
            page.wait_for_timeout(3000)  # three refresh intervals
            assert polls == []
            page.locator('.lm-TabBar-tab[data-id="nbtrack-runs"]').click()
            expect(page.locator(".nbtl-sidebar")).to_be_visible()
            page.wait_for_timeout(1500)
            assert polls, "polling resumes when the sidebar is shown"
        finally:
            browser.close()


def _notebook(cells: list[str]) -> dict:
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
             "outputs": [], "source": src}
            for i, src in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip


def test_the_run_panel_opens_the_notebook_at_the_tracked_cell(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    require_chromium()
    root = tmp_path / "root"
    (root / "work").mkdir(parents=True)
    cells = [
        "%load_ext nbtrack",
        "x = 1",
        "%%track --name jump-here --no-live\nimport nbtrack as nt\nnt.log_metric('loss', 0.5)",
        "y = 2",
    ]
    (root / "work" / "tracked.ipynb").write_text(json.dumps(_notebook(cells)))
    with running_lab(root, tmp_path, tmp_path / "store") as (url, token), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=HEADLESS_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/lab/tree/work/tracked.ipynb?token={token}&reset&nbtrack-runs")
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000
            )
            row = page.locator(".nbtl-run-row", has_text="jump-here")
            # Run All before the kernel's websocket is up is silently dropped: wait for it.
            wait_for_kernel(page, url, token, timeout=90)
            dialog = page.locator(".jp-Dialog")
            if dialog.count():  # e.g. a kernel picker on a slow start: say what it was
                page.screenshot(path=str(ARTIFACTS / "lab-jump-dialog.png"))
                print("[lab test] dialog:", dialog.inner_text())
                dialog.locator(".jp-mod-accept").click()
            page.click(".lm-MenuBar-itemLabel:text-is('Run')")
            page.click(".lm-Menu-item[data-command='runmenu:run-all']")
            expect(row).to_have_count(1, timeout=60_000)
            # Select the first cell, open the run, follow its notebook link.
            page.locator(".jp-Notebook .jp-Cell").first.click()
            row.locator(".nbtl-name").click()
            panel = page.locator(".nbtl-run-panel")
            link = panel.locator(".nbtl-notebook-link")
            expect(link).to_contain_text("tracked.ipynb", timeout=30_000)
            expect(panel).to_contain_text("cell [")
            link.click()
            active = page.locator(".jp-NotebookPanel .jp-Cell.jp-mod-active")
            expect(active).to_contain_text("jump-here", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "lab-jump-to-cell.png"))
        finally:
            browser.close()


def test_the_store_setting_picks_one_of_the_servers_stores(tmp_path: Path) -> None:
    """The JupyterLab setting "store" (nbtrack:plugin) makes the sidebar show another store
    the server is configured to serve (c.NbtrackApp.stores); a store the server does not
    list is refused and the sidebar says how to allow it (issue 12)."""
    from playwright.sync_api import expect, sync_playwright

    require_chromium()
    default, second = tmp_path / "store", tmp_path / "second"
    run_python(SWEEP, default)
    run_python("import nbtrack as nt\nwith nt.start_run(name='from-the-second-store'): pass", second)
    settings = tmp_path / "lab-settings" / "nbtrack"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"store": str(second)}))
    root = tmp_path / "root"
    root.mkdir()
    args = (f"--NbtrackApp.stores={second}",)  # repeat the option for more stores
    with running_lab(root, tmp_path, default, args) as (url, token), sync_playwright() as pw:
        assert len(lab_api(url, token, "runs")["runs"]) == 3  # no header: the default store
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=HEADLESS_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/lab?token={token}&reset&nbtrack-runs")
            rows = page.locator(".nbtl-sidebar .nbtl-run-row")
            expect(rows).to_have_count(1, timeout=90_000)
            expect(rows.first).to_contain_text("from-the-second-store")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "lab-store-setting.png"))
            # A store the server does not serve: refused, and the sidebar says why.
            req = urllib.request.Request(
                f"{url}/lab/api/settings/nbtrack:plugin?token={token}",
                data=json.dumps({"raw": json.dumps({"store": str(tmp_path / "nope")})}).encode(),
                method="PUT",
                headers={"Content-Type": "application/json"},
            )
            urllib.request.urlopen(req, timeout=10).close()
            page.reload()
            expect(page.locator(".nbtl-sidebar")).to_contain_text(
                "c.NbtrackApp.stores", timeout=90_000
            )
            expect(rows).to_have_count(0)
            page.screenshot(path=str(ARTIFACTS / "lab-store-refused.png"))
        finally:
            browser.close()
    assert not (tmp_path / "nope").exists()
