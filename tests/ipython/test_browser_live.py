"""The %%track live view in a real JupyterLab, driven by headless Chromium.

Checks what a user sees: a placeholder at the first metric, plotly figures that update
while the cell runs, and the run summary in their place when the cell ends. Screenshots
go to ``test-artifacts/``. Needs ``/usr/bin/chromium`` (see TOOLCHAIN.md); skipped
without it outside CI.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from tests._jupyterlab import CHROMIUM, REPO, require_chromium, running_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

ARTIFACTS = REPO / "test-artifacts"

CELL = """%%track -n live-demo -t stage=browser
import math, time
import nbtrack as nt
lr = 0.01
for step in range(300):
    nt.log_metrics({"loss": math.exp(-step / 40), "acc": 1 - math.exp(-step / 50)}, step=step)
    time.sleep(0.1)
print("done")
"""


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """JupyterLab on 127.0.0.1 serving one notebook; yields (url, token, store)."""
    require_chromium()
    pytest.importorskip("playwright")
    root = tmp_path / "root"
    root.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        # plotly's first FigureWidget takes 3-15 s (imports); pay it before the timed cell
        nbformat.v4.new_code_cell(
            "%load_ext nbtrack\nimport plotly.graph_objects as go\ngo.FigureWidget().close()"
        ),
        nbformat.v4.new_code_cell(CELL),
    ]
    nbformat.write(nb, root / "live.ipynb")
    store = tmp_path / "store"
    with running_lab(root, tmp_path, store) as (url, token):
        yield url, token, store


def test_live_view_then_summary_in_jupyterlab(lab: tuple[str, str, Path]) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    url, token, store = lab
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.goto(f"{url}/lab/tree/live.ipynb?token={token}&reset")
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000
            )
            try:  # "select kernel", should JupyterLab ask anyway
                page.wait_for_selector(".jp-Dialog .jp-mod-accept", timeout=3_000)
                page.locator(".jp-Dialog .jp-mod-accept").first.click()
            except PlaywrightTimeout:
                pass
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
            page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()

            cell = page.locator(".jp-CodeCell").nth(1)
            plots = cell.locator(".js-plotly-plot")
            expect(plots).to_have_count(2, timeout=90_000)  # loss and acc, while running
            assert cell.locator(".nbtrack-run-summary").count() == 0
            page.screenshot(path=str(ARTIFACTS / "track-live-running.png"))
            header = cell.locator("text=/running · \\d+ points/")
            first = header.inner_text(timeout=30_000)
            later, deadline = first, time.monotonic() + 15
            while later == first and time.monotonic() < deadline:
                time.sleep(0.3)
                later = header.inner_text(timeout=30_000)
            assert later != first, f"the live view did not update: {first!r}"
            assert plots.first.locator(".scatterlayer .trace").count() == 1

            summary = cell.locator(".nbtrack-run-summary")
            expect(summary).to_have_count(1, timeout=90_000)
            expect(cell.locator(".js-plotly-plot")).to_have_count(0)
            text = summary.inner_text()
            assert "live-demo" in text
            assert "FINISHED" in text
            assert "%track_compare" in text
            assert summary.locator("svg polyline").count() == 2  # sparklines
            page.screenshot(path=str(ARTIFACTS / "track-live-summary.png"))
        finally:
            browser.close()

    import nbtrack as nt

    nt.set_store(str(store))
    df = nt.search_runs(experiment="*")
    assert list(df.name) == ["live-demo"]
    assert list(df.status) == ["FINISHED"]
