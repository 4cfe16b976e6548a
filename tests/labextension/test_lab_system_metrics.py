"""System metrics in the JupyterLab sidebar and its panels, as a person sees them (issue 14).

A separate Python process writes two runs that sampled their machine (a real sampler
thread, real psutil readings, ``start_run(log_system_metrics=True)``) next to an ordinary
``loss`` curve, and a third run without system metrics. In headless Chromium: the run
panel of "sampled" draws a sparkline of real size for every ``system/...`` key beside
``loss``; the filter box narrows the list by a system metric; the compare panel of the two
sampled runs draws one curve per run for a system metric. No console error, no failed
request. The sidebar offers no metric sort order (its sort select has start time, name,
status and duration only), so ordering by a system metric is checked over REST
(tests/server/test_rest_system_metrics.py), not here. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._browser import ARTIFACTS, HEADLESS_ARGS, PageWatch
from tests._jupyterlab import CHROMIUM, lab_api, require_chromium, run_python, running_lab
from tests._system_keys import SYSTEM_KEYS

pytest.importorskip("psutil")

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SAMPLES = 3

# Sampling every 0.2 s; each run waits until the sampler has logged SAMPLES points (the
# state, not a fixed sleep), with a generous deadline for a loaded 2-core machine.
WRITE = textwrap.dedent(
    f"""
    import json, math, time, nbtrack as nt
    nt.set_experiment("hardware")
    ids = {{}}
    for name, lr in (("sampled", 0.1), ("sampled-2", 0.01)):
        with nt.start_run(name=name, params={{"lr": lr}}, log_system_metrics=True) as run:
            for step in range(30):
                run.log_metric("loss", math.exp(-lr * step) + 0.01 * math.sin(step), step=step)
            deadline = time.monotonic() + 90
            while len(nt.get_metric_history(run.run_id, "system/cpu_percent")) < {SAMPLES}:
                assert time.monotonic() < deadline, "the sampler logged < {SAMPLES} points in 90 s"
                time.sleep(0.05)
        ids[name] = run.run_id
    with nt.start_run(name="plain", params={{"lr": 0.5}}) as run:
        run.log_metric("loss", 0.9)
    ids["plain"] = run.run_id
    print(json.dumps(ids))
    """
)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    require_chromium()
    store = tmp_path / "store"
    ids = json.loads(run_python(WRITE, store, timeout=180, NBTRACK_SYSTEM_METRICS_INTERVAL="0.2"))
    root = tmp_path / "root"
    root.mkdir()
    with running_lab(root, tmp_path, store) as (url, token):
        yield url, token, ids


def test_system_metrics_show_in_the_run_panel_the_filter_and_compare(
    lab: tuple[str, str, dict[str, str]],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, token, ids = lab
    sampled = lab_api(url, token, f"runs/{ids['sampled']}")
    assert set(SYSTEM_KEYS) <= set(sampled["metrics"]), sorted(sampled["metrics"])
    ARTIFACTS.mkdir(exist_ok=True)
    watch = PageWatch()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=HEADLESS_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            watch.attach(page)
            page.goto(f"{url}/lab?token={token}&reset&nbtrack-runs")
            tab = page.locator('.lm-TabBar-tab[data-id="nbtrack-runs"]')
            expect(tab).to_have_class(re.compile(r"\blm-mod-current\b"), timeout=90_000)
            rows = page.locator(".nbtl-sidebar .nbtl-run-row")
            expect(rows).to_have_count(3, timeout=30_000)

            # The run panel: a sparkline for every system metric, beside loss.
            page.locator(f'.nbtl-run-row[data-run-id="{ids["sampled"]}"] .nbtl-name').click()
            panel = page.locator(".nbtl-run-panel")
            expect(panel.locator(".nbtl-run-name")).to_have_text("sampled", timeout=30_000)
            for key in ("loss", *SYSTEM_KEYS):
                row = panel.locator(f'.nbtl-metrics tr[data-metric="{key}"]')
                expect(row.locator(".nbtl-metric-key")).to_have_text(key)
                spark = row.locator("svg.nbtl-sparkline")
                expect(spark).to_be_visible(timeout=30_000)
                box = spark.bounding_box()
                assert box is not None and box["height"] >= 20 and box["width"] >= 100, (key, box)
                d = spark.locator("path").get_attribute("d") or ""
                assert d.startswith("M") and d.count("L") >= SAMPLES - 1, (key, d)
                points = int(row.locator("td.nbtl-num").nth(1).inner_text())
                assert points >= (30 if key == "loss" else SAMPLES), (key, points)
                # the key is readable: its cell is not squeezed to nothing nor cut off
                cell = row.locator(".nbtl-metric-key")
                assert cell.evaluate("el => el.scrollWidth <= el.clientWidth + 1"), key
            panel.locator(".nbtl-metrics").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "lab-system-metrics-panel.png"))

            # The filter box narrows the list by a system metric (a key with "/" needs
            # backticks in the filter grammar, as in search_runs).
            box_ = page.locator(".nbtl-sidebar .nbtl-filter")
            box_.fill("metrics.`system/memory_percent` > 0")
            box_.press("Enter")
            expect(rows).to_have_count(2, timeout=30_000)
            names = set(page.locator(".nbtl-sidebar .nbtl-name").all_inner_texts())
            assert names == {"sampled", "sampled-2"}
            expect(page.locator(".nbtl-sidebar .nbtl-filter-error")).to_be_hidden()

            # Compare the two sampled runs: one curve per run for every system metric.
            for name in ("sampled", "sampled-2"):
                page.locator(f'.nbtl-run-row[data-run-id="{ids[name]}"] .nbtl-select').check()
            page.locator(".nbtl-compare-button").click()
            compare = page.locator(".nbtl-compare-panel.nbtl-loaded")
            expect(compare).to_be_visible(timeout=30_000)
            for key in ("loss", *SYSTEM_KEYS):
                chart = compare.locator(f'.nbtl-chart-wrap[data-metric="{key}"] svg')
                traces = chart.locator("path.nbtl-trace")
                expect(traces).to_have_count(2, timeout=30_000)
                assert {t.get_attribute("data-run-id") for t in traces.all()} == {
                    ids["sampled"],
                    ids["sampled-2"],
                }
                for trace in traces.all():
                    d = trace.get_attribute("d") or ""
                    assert d.startswith("M") and d.count("L") >= SAMPLES - 1, (key, d)
                expect(chart.locator(".nbtl-chart-title")).to_have_text(key)
            memory = compare.locator('.nbtl-chart-wrap[data-metric="system/memory_percent"] svg')
            memory.scroll_into_view_if_needed()
            box = memory.bounding_box()
            assert box is not None and box["height"] > 150 and box["width"] > 300, box
            page.screenshot(path=str(ARTIFACTS / "lab-system-metrics-compare.png"))
        finally:
            browser.close()
    errors, _, failed = watch.take()
    assert errors == [], errors
    assert [f for f in failed if "/nbtrack/" in f] == [], failed
