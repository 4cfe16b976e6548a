"""How fast the JupyterLab Runs sidebar paints a big store (issue 12: ≤ 1 s after the API answers).

    python benchmarks/lab_sidebar.py [--runs 100000] [--store DIR]

Builds a store with ``--runs`` runs (unless --store names one this script built), starts
JupyterLab on 127.0.0.1 with the nbtrack extensions, opens it in headless Chromium
(/usr/bin/chromium) with the sidebar open, and reports:

- the time from the first ``GET nbtrack/api/runs`` answer to the first run row painted;
- how many row elements the DOM holds (the list is virtualized);
- the time to scroll to the end of the loaded page and paint those rows.

Run by hand; not part of the test suite.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def build(store: Path, runs: int) -> None:
    import nbtrack as nt

    nt.set_store(str(store))
    for i in range(runs):
        with nt.start_run(
            name=f"run-{i}", params={"i": i}, tags={"team": "a" if i % 2 else "b"}
        ) as r:
            r.log_metric("loss", 1.0 / (i + 1))
    nt.search_runs(experiment="*", max_results=1)


def main() -> None:
    from playwright.sync_api import sync_playwright

    from tests._jupyterlab import CHROMIUM, running_lab

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--store", type=Path)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nbtrack-lab-bench-"))
    store = args.store or tmp / "store"
    if not (store / ".bench-built").exists():
        t0 = time.perf_counter()
        build(store, args.runs)
        (store / ".bench-built").write_text(str(args.runs))
        print(f"built {args.runs} runs in {time.perf_counter() - t0:.1f} s")
    root = tmp / "root"
    root.mkdir(exist_ok=True)
    with running_lab(root, tmp, store) as (url, token), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        answered: list[float] = []

        def on_response(response) -> None:
            if "/nbtrack/api/runs" in response.url and not answered:
                response.finished()
                answered.append(time.perf_counter())

        page.on("response", on_response)
        page.goto(f"{url}/lab?token={token}&reset&nbtrack-runs")
        page.wait_for_selector(".nbtl-run-row", timeout=120_000)
        painted = time.perf_counter()
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(null)))")
        rows = page.locator(".nbtl-run-row").count()
        print(f"first rows painted {1000 * (painted - answered[0]):.0f} ms after the runs answer")
        print(f"row elements in the DOM: {rows} ({page.locator('.nbtl-count').inner_text()})")
        t0 = time.perf_counter()
        page.locator(".nbtl-list").evaluate("el => el.scrollTop = el.scrollHeight")
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(null)))")
        print(
            f"scroll to the end of the loaded page and paint: {1000 * (time.perf_counter() - t0):.0f} ms"
        )
        browser.close()


if __name__ == "__main__":
    main()
