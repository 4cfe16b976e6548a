"""The %%track live view in a real JupyterLab, driven by headless Chromium.

Checks what a user sees: a live chart soon after the first metric (a short cell too),
in the run's colour, as wide as the output, that draws more points while the cell runs,
and the run summary in its place when the cell ends; no console error. Every wait is on
a state that stays once reached (a plot with N drawn points, the summary), never on the
transient "running · N points" title, which the summary may already have replaced on a
loaded machine. Screenshots go to ``test-artifacts/``. Needs ``/usr/bin/chromium``
(see TOOLCHAIN.md); skipped without it outside CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from nbtrack.tracking.colors import color_for
from tests._browser import HARNESS_ERRORS
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

# A cell of ~2 s: its live plot used to stay "loading" until the summary replaced it.
SHORT_CELL = """%%track -n short
import time
import nbtrack as nt
for step in range(8):
    nt.log_metric("loss", 1 / (step + 1), step=step)
    time.sleep(0.25)
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
        nbformat.v4.new_code_cell("%load_ext nbtrack"),
        nbformat.v4.new_code_cell(CELL),
        nbformat.v4.new_code_cell(SHORT_CELL),
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
            console: list[str] = []
            page.on(
                "console",
                lambda m: (
                    console.append(f"{m.text} at {m.location.get('url', '')}")
                    if m.type == "error"
                    else None
                ),
            )
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
            # (Run All runs the short cell too; it is run again on its own below.)

            cell = page.locator(".jp-CodeCell").nth(1)
            live = cell.locator(".nbtrack-live")
            count_js = """(n) => {
                const c = document.querySelectorAll('.jp-CodeCell')[1];
                const lines = [...c.querySelectorAll('.nbtrack-live polyline')];
                return c.querySelector('.nbtrack-run-summary') !== null || (lines.length === 2
                    && lines.every(l => l.getAttribute('points').split(' ').length >= n));
            }"""
            # while the cell runs: one chart per key (loss, acc) drawing its lines
            page.wait_for_function(count_js, arg=5, timeout=120_000)
            assert cell.locator(".nbtrack-run-summary").count() == 0, "no live plot was seen"
            box = live.bounding_box()
            output = cell.locator(".jp-OutputArea-output").first.bounding_box()
            assert box is not None and output is not None
            assert box["height"] > 150
            assert box["width"] >= 0.9 * output["width"]  # sized to the output, not 380 px
            strokes = live.locator("polyline").evaluate_all(
                "ls => ls.map(l => l.getAttribute('stroke'))"
            )
            assert set(strokes) == {color_for(_run_id(store, "live-demo"))}
            page.screenshot(path=str(ARTIFACTS / "track-live-running.png"))
            # it keeps drawing: more points later (a state that stays once reached; the
            # summary replacing the plot first would be a failure of the check above only)
            page.wait_for_function(count_js, arg=40, timeout=120_000)

            summary = cell.locator(".nbtrack-run-summary")
            expect(summary).to_have_count(1, timeout=120_000)
            expect(cell.locator(".nbtrack-live")).to_have_count(0)
            text = summary.inner_text()
            assert "live-demo" in text
            assert "FINISHED" in text
            assert "%track_compare" in text
            assert summary.locator("svg polyline").count() == 2  # sparklines
            page.screenshot(path=str(ARTIFACTS / "track-live-summary.png"))

            # a short cell shows its plot before its summary (the plot's last state stays
            # in the DOM's history only briefly, so record its first appearance in-page)
            page.evaluate(
                """() => {
                    window.__nbtLiveSeen = false;
                    new MutationObserver(() => {
                        const c = document.querySelectorAll('.jp-CodeCell')[2];
                        if (c && c.querySelector('.nbtrack-live polyline')) {
                            window.__nbtLiveSeen = true;
                        }
                    }).observe(document.body, {subtree: true, childList: true});
                }"""
            )
            short = page.locator(".jp-CodeCell").nth(2)
            # Run All ran it once already: wait for that summary, then run it again and
            # wait for a summary naming another run (a state that stays once reached).
            expect(short.locator(".nbtrack-run-summary")).to_have_count(1, timeout=120_000)
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000
            )
            first_summary = short.locator(".nbtrack-run-summary code").first.inner_text()
            page.evaluate("() => { window.__nbtLiveSeen = false; }")
            short.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            expect(short.locator(".nbtrack-run-summary code").first).not_to_have_text(
                first_summary, timeout=120_000
            )
            assert page.evaluate("() => window.__nbtLiveSeen"), "the short cell showed no plot"
            errors = [m for m in console if not any(h in m for h in HARNESS_ERRORS)]
            assert not errors, errors
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "track-live-failure.png"))
            print(
                "[live] plot state:",
                page.evaluate(
                    """() => [...document.querySelectorAll('.jp-CodeCell')].map(c => {
                    const svg = c.querySelector('.nbtrack-live');
                    return svg ? svg.innerText.slice(0, 80)
                              : c.querySelector('.jp-OutputArea') ?
                                c.querySelector('.jp-OutputArea').innerText.slice(0, 80) : null;
                })"""
                ),
            )
            raise
        finally:
            browser.close()

    import nbtrack as nt

    nt.set_store(str(store))
    df = nt.search_runs(experiment="*")
    assert sorted(df.name) == ["live-demo", "short", "short"]
    assert set(df.status) == {"FINISHED"}


def _run_id(store: Path, name: str) -> str:
    import nbtrack as nt

    nt.set_store(str(store))
    df = nt.search_runs(experiment="*", filter=f"attributes.name = '{name}'")
    assert len(df) == 1, df
    return str(df.run_id.iloc[0])
