"""Every demo notebook and every view, run in a real JupyterLab and measured as a user sees it.

One JupyterLab (headless Chromium, Debian's package) serves a copy of ``notebooks/`` and
a views notebook written here; the notebooks run in order into one store, as a user
walks through them (05's dashboard shows what 01-04 logged). For each notebook, in the
light and the dark theme, and after each layout change that used to collapse plots
(opening and closing the file browser, a smaller window, the window restored), every
plotly plot must be visible, at least 150 px tall and 200 px wide, and draw lines or
points; the page must log no console error and request nothing off the machine (no
CDN). The dashboard's Compare tab is opened and measured too. Screenshots of every
state go to ``test-artifacts/`` (CI keeps them).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests._browser import (
    CHROMIUM_ARGS,
    PageWatch,
    layout_states,
    measure_plots,
    plot_problems,
    run_notebook,
    screenshot,
    set_theme,
    settle_plots,
    shut_down_sessions,
)
from tests._jupyterlab import CHROMIUM, REPO, require_chromium, running_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1800)]

DEMOS = sorted(p.name for p in (REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))
VIEWPORT = (1400, 1000)

# Every view with the data that broke it: families with disjoint params (empty parallel
# coordinates), a one-point series (invisible as a line), ten runs (colours, legend).
VIEWS_CELLS = [
    "%load_ext nbtrack",
    """import math, os
import nbtrack as nt
nt.set_store(os.environ["NBTRACK_STORE"])
nt.set_experiment("views")
ids = []
for i in range(10):
    family = ["svc", "forest", "knn"][i % 3]
    params = {"family": family, "seed": i}
    params.update({"svc": {"C": 10 ** (i % 4)}, "forest": {"n_estimators": 50 * (i + 1)},
                   "knn": {"k": i + 1}}[family])
    with nt.start_run(name=f"{family}-{i}", params=params, tags={"family": family}) as run:
        if i == 9:
            run.log_metric("loss", 0.5)  # one point only
        else:
            for step in range(40):
                run.log_metric("loss", math.exp(-step / (10 + i)) + 0.01 * i, step=step)
                run.log_metric("accuracy", 1 - math.exp(-step / (12 + i)), step=step)
        ids.append(run.id)""",
    'nt.plot_metrics(ids, ["loss", "accuracy"])',
    "nt.compare(ids[:5])",
    "nt.dashboard()",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """JupyterLab over a copy of the demo notebooks plus the views notebook."""
    require_chromium()
    pytest.importorskip("playwright")
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    shutil.copytree(REPO / "notebooks", root, ignore=shutil.ignore_patterns(".nbtrack", "*.py"))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(c) for c in VIEWS_CELLS]
    nbformat.write(nb, root / "views.ipynb")
    with running_lab(root, tmp, tmp / "store") as (url, token):
        yield url, token


def _walk(page: Any, stem: str) -> list[str]:
    """Measure the open notebook in every layout state, in both themes."""
    problems: list[str] = []
    for dark in (False, True):
        theme = "dark" if dark else "light"
        set_theme(page, dark)
        for state in layout_states(page, VIEWPORT):
            where = f"{stem} [{theme}, {state}]"
            settle_plots(page)
            plots = measure_plots(page)
            problems += plot_problems(plots, where)
            print(
                f"[browser] {where}: "
                + ", ".join(f"{p['width']}x{p['height']}" for p in plots if p["shown"])
            )
            screenshot(page, f"{stem}-{theme}-{state}")
        problems += _dashboard_compare(page, f"{stem} [{theme}]")
    set_theme(page, False)
    return problems


def _dashboard_compare(page: Any, where: str) -> list[str]:
    """Open each dashboard's Compare tab, measure it, and go back to Curves."""
    problems: list[str] = []
    dashboards = page.locator(".nbt-dashboard")
    for i in range(dashboards.count()):
        # Filter, table and curves on screen together at 1400x1000: the rows scroll in a
        # fixed-height box (a 35-row page made the dashboard 1,662 px tall).
        span = page.evaluate(
            """(i) => {
                const d = document.querySelectorAll('.nbt-dashboard')[i];
                d.scrollIntoView({block: 'start'});
                const plot = d.querySelector('.nbt-curves .js-plotly-plot');
                const top = d.getBoundingClientRect().top;
                const rows = [...d.querySelectorAll('.nbt-run-table .nbt-row')]
                    .map(r => r.getBoundingClientRect().height);
                return [plot ? plot.getBoundingClientRect().bottom - top : null,
                        rows.length ? Math.min(...rows) : 0];
            }""",
            i,
        )
        span, row_height = span
        room = VIEWPORT[1] - 130  # JupyterLab's menu, toolbars and status bar
        if span is None or span > room:
            problems.append(f"{where} dashboard {i}: filter to curves is {span} px, > {room}")
        if row_height < 26:  # rows scroll in their box, they are not squeezed
            problems.append(f"{where} dashboard {i}: table rows squeezed to {row_height} px")
        problems += _selected_rows_readable(page, i, where)
        screenshot(page, f"{where.split(' ')[0]}-{where.split('[')[1][:-1]}-dashboard{i}-top")
        tabs = dashboards.nth(i).locator(".nbt-tabs .lm-TabBar-tab")
        tabs.filter(has_text="Compare").click()
        page.wait_for_function(
            """(i) => {
                const d = document.querySelectorAll('.nbt-dashboard')[i];
                const plots = [...d.querySelectorAll('.nbt-compare .js-plotly-plot')];
                return plots.length >= 3 && plots.every(gd => gd._fullLayout && gd.offsetParent);
            }""",
            arg=i,
            timeout=60_000,
        )
        settle_plots(page)
        plots = [p for p in measure_plots(page) if p["inDashboard"]]
        problems += plot_problems(plots, f"{where} dashboard {i} Compare tab")
        dashboards.nth(i).locator(".nbt-compare").first.scroll_into_view_if_needed()
        screenshot(page, f"{where.split(' ')[0]}-{where.split('[')[1][:-1]}-dashboard{i}-compare")
        tabs.filter(has_text="Curves").click()
        settle_plots(page)
    return problems


# WCAG contrast of each selected row's text on what is really behind it (translucent
# backgrounds composited up to the page), in the theme on screen.
_SELECTED_CONTRAST = """(i) => {
    const d = document.querySelectorAll('.nbt-dashboard')[i];
    const rgba = (c) => {
        const m = c.match(/rgba?\\(([^)]+)\\)/);
        if (!m) return [0, 0, 0, 0];
        const p = m[1].split(',').map(Number);
        return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    };
    const behind = (el) => {
        const layers = [];
        for (let e = el; e; e = e.parentElement) layers.push(rgba(getComputedStyle(e).backgroundColor));
        let bg = [255, 255, 255];
        for (const [r, g, b, a] of layers.reverse()) bg = [r * a + bg[0] * (1 - a), g * a + bg[1] * (1 - a), b * a + bg[2] * (1 - a)];
        return bg;
    };
    const lum = ([r, g, b]) => {
        const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const plain = (row, e) => {  // text drawn on the row itself, not on a badge
        for (let x = e; x && x !== row; x = x.parentElement)
            if (rgba(getComputedStyle(x).backgroundColor)[3] > 0) return false;
        return true;
    };
    return [...d.querySelectorAll('.nbt-row.nbt-selected')].map((row) => {
        const text = [...row.querySelectorAll('*')].find((e) => e.childElementCount === 0
            && e.textContent.trim().length > 2 && plain(row, e)) || row;
        const fg = rgba(getComputedStyle(text).color), bg = behind(text);
        const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
        return {text: text.textContent.trim(), ratio: (hi + 0.05) / (lo + 0.05)};
    });
}"""


def _selected_rows_readable(page: Any, i: int, where: str) -> list[str]:
    """Tick two runs of dashboard ``i`` (once) and check that selected rows are readable
    (text contrast >= 4.5, WCAG AA): white on pale blue in the dark theme was not."""
    dashboard = page.locator(".nbt-dashboard").nth(i)
    boxes = dashboard.locator(".nbt-run-table .nbt-row input[type=checkbox]")
    if dashboard.locator(".nbt-row.nbt-selected").count() == 0:
        for k in range(min(2, boxes.count())):
            boxes.nth(k).check()
        page.wait_for_function(
            "([i, n]) => document.querySelectorAll('.nbt-dashboard')[i]"
            ".querySelectorAll('.nbt-row.nbt-selected').length >= n",
            arg=[i, min(2, boxes.count())],
            timeout=60_000,
        )
    rows = page.evaluate(_SELECTED_CONTRAST, i)
    if not rows:
        return [f"{where} dashboard {i}: ticking runs selected no row"]
    print(
        f"[browser] {where} dashboard {i} selected rows: "
        + ", ".join(f"{r['text']!r} {r['ratio']:.1f}:1" for r in rows)
    )
    return [
        f"{where} dashboard {i}: selected row {r['text']!r} has contrast {r['ratio']:.1f}:1 < 4.5"
        for r in rows
        if r["ratio"] < 4.5
    ]


@pytest.mark.parametrize("name", [*DEMOS, "views.ipynb"])
def test_notebook_plots_render_in_every_layout_and_theme(lab: tuple[str, str], name: str) -> None:
    from playwright.sync_api import sync_playwright

    url, token = lab
    stem = Path(name).stem
    watch = PageWatch()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]})
            watch.attach(page)
            run_notebook(page, url, token, name, timeout_s=600)
            problems = _walk(page, stem)
            errors, offsite, failed = watch.take()
            print(f"[browser] failed responses: {failed}")
        except Exception:
            screenshot(page, f"{stem}-failure")
            raise
        finally:
            browser.close()
            shut_down_sessions(url, token)
    assert not offsite, f"{name} requested off-machine URLs (must work offline): {offsite}"
    assert not errors, f"{name} logged console errors: {errors}"
    assert not problems, "\n".join(problems)
