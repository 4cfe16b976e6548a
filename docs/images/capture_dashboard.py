"""Re-take docs/images/dashboard.png: ``nt.dashboard()`` over the demo store in JupyterLab.

Usage (from the repository root, after ``make demo-headless`` filled ``./.nbtrack``)::

    .venv/bin/python docs/images/capture_dashboard.py [--store .nbtrack]

Starts JupyterLab on loopback (the browser tests' harness, tests/_jupyterlab.py) with a
one-cell notebook showing the dashboard of a demo experiment (training-curves), runs it in headless
Chromium (/usr/bin/chromium) and saves the dashboard element as a PNG. Look at the picture
before committing it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests._jupyterlab import CHROMIUM, running_lab  # noqa: E402

CELL = "import nbtrack as nt\nnt.dashboard({experiment!r})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=str(REPO / ".nbtrack"))
    parser.add_argument("--out", default=str(Path(__file__).parent / "dashboard.png"))
    parser.add_argument("--experiment", default="training-curves")
    args = parser.parse_args()
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        root = tmp / "root"
        root.mkdir()
        store = tmp / "store"
        shutil.copytree(args.store, store)  # the lab's kernel must not change the demo store
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL.format(experiment=args.experiment))])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (nbtrack)",
                                     "language": "python"}
        nbformat.write(nb, root / "dashboard.ipynb")
        with running_lab(root, tmp, store) as (url, token), sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1600, "height": 1300})
            page.goto(f"{url}/lab/tree/dashboard.ipynb?token={token}&reset")
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                                   timeout=120_000)
            page.wait_for_timeout(2000)  # the kernel's websocket (Run All is dropped before it)
            page.click(".lm-MenuBar-itemLabel:text-is('Run')")
            page.click(".lm-Menu-item[data-command='runmenu:run-all']")
            dashboard = page.locator(".nbt-dashboard")
            expect(dashboard).to_be_visible(timeout=120_000)
            expect(dashboard.locator(".nbt-curves .js-plotly-plot")).to_be_visible(
                timeout=120_000)
            page.wait_for_timeout(1500)  # plotly's transitions
            dashboard.screenshot(path=args.out)
            browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
