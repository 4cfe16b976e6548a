"""Build the demo notebooks from their sources in ``notebooks/_src/``.

Each ``_src/NN-name.py`` is a Python file in the "percent" format (``# %%`` starts a code
cell, ``# %% tags=["raises-exception"]`` one with cell tags, ``# %% [markdown]`` a markdown
cell whose lines start with ``# ``), so a notebook is reviewed as a plain diff. This script turns every source into ``NN-name.ipynb``, executes
the notebooks in order with nbclient (all of them in one fresh, temporary store, so the
dashboard of 05 shows the runs of 01–04 and the saved outputs do not depend on older runs),
and saves them with their outputs, minus anything that only a live kernel can draw:

- ``metadata.widgets`` (ipywidgets state; a plotly ``FigureWidget`` would put ~5 MB of
  plotly.js there) is dropped;
- the ``application/vnd.jupyter.widget-view+json`` part of an output is dropped; the view's
  static fallback (HTML, plotly JSON, text) stays, so a reader sees tables and figures
  on GitHub, in nbviewer and in JupyterLab before running anything.

Usage (from the repository root)::

    python notebooks/_build.py                 # build + execute every notebook
    python notebooks/_build.py 03 04           # only these (by number or name)
    python notebooks/_build.py --no-execute    # sources only, no outputs (fast)
    python notebooks/_build.py --check         # exit 1 if a notebook's cells differ from its source
    python notebooks/_build.py --html build    # run the saved notebooks in $NBTRACK_STORE,
                                               # write HTML copies to build/ (notebooks untouched)

``--html`` is ``make demo-headless``: it executes every ``notebooks/*.ipynb`` as a reader
would (into the store of ``$NBTRACK_STORE``, else ``notebooks/.nbtrack``), drops the widget
views the same way, and writes ``build/NN-name.html`` next to a copy of plotly.js, so the
figures in the HTML copies draw offline too.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "_src"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
KERNEL = {"display_name": "Python 3 (nbtrack)", "language": "python", "name": "python3"}
_CELL_RE = re.compile(r"^# %%(?P<kind> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?[ \t]*$")


def parse_source(text: str) -> list[nbformat.NotebookNode]:
    """Cells of a percent-format source (text before the first ``# %%`` is ignored)."""
    cells: list[nbformat.NotebookNode] = []
    kind: str | None = None
    tags: list[str] = []
    lines: list[str] = []

    def flush() -> None:
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(
                line[2:] if line.startswith("# ") else line.lstrip("#")
                for line in body.splitlines()
            )
            cells.append(nbformat.v4.new_markdown_cell(body))
        else:
            cell = nbformat.v4.new_code_cell(body)
            if tags:
                # e.g. "raises-exception": nbclient, nbval and JupyterLab's "Run All" go on
                # past this cell's error.
                cell.metadata["tags"] = tags
            cells.append(cell)

    for line in text.splitlines():
        match = _CELL_RE.match(line)
        if match:
            flush()
            kind = "markdown" if match.group("kind") else "code"
            tags = json.loads(match.group("tags")) if match.group("tags") else []
            lines = []
        else:
            lines.append(line)
    flush()
    return cells


def build_notebook(source: Path) -> nbformat.NotebookNode:
    """A fresh notebook (no outputs) from ``source``."""
    nb = nbformat.v4.new_notebook()
    nb.cells = parse_source(source.read_text(encoding="utf-8"))
    # Stable cell ids (nbformat would make random ones): the diff of a rebuild stays small.
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"{source.stem[:2]}-{index:02d}"
    nb.metadata = {
        "kernelspec": KERNEL,
        "language_info": {"name": "python"},
    }
    return nb


def strip_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop widget state and widget views; keep every static output."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        kept = []
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data is not None and WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                output.get("metadata", {}).pop(WIDGET_VIEW, None)
                # A widget with no static fallback leaves only its repr ("VBox(...)"):
                # nothing a reader can use.
                if set(data) <= {"text/plain"}:
                    continue
            if (
                output.output_type == "stream"
                and kept
                and kept[-1].output_type == "stream"
                and kept[-1].name == output.name
            ):
                # one block per stream, as a live frontend shows it
                kept[-1].text += output.text
                continue
            kept.append(output)
        cell.outputs = kept
    return nb


def slow_cells(nb: nbformat.NotebookNode, *, over_s: float = 2.0) -> list[str]:
    """One line per cell that took longer than ``over_s`` (from nbclient's timing metadata)."""
    from datetime import datetime

    lines = []
    for index, cell in enumerate(nb.cells):
        timing = cell.metadata.get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if start and end:
            seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
            if seconds > over_s:
                first = cell.source.splitlines()[0] if cell.source else ""
                lines.append(f"    cell {index:2d}: {seconds:5.1f} s  {first[:60]}")
    return lines


def execute(nb: nbformat.NotebookNode, *, timeout: int = 300) -> nbformat.NotebookNode:
    """Run every cell in a kernel whose working directory is ``notebooks/``."""
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL["name"],
        resources={"metadata": {"path": str(HERE)}},
        store_widget_state=False,
        record_timing=True,
    )
    client.execute()
    return nb


def _local_plotly(html: str) -> str:
    """Point plotly's CDN ``<script>`` at the ``plotly.min.js`` copied next to the HTML."""
    return re.sub(
        r'<script[^>]*src="https://cdn\.plot\.ly/plotly-[0-9.]+\.min\.js"[^>]*>',
        '<script charset="utf-8" src="plotly.min.js">',
        html,
    )


def plotly_html(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Give each plotly JSON output without HTML an HTML twin that uses the local plotly.js.

    nbconvert's HTML does not draw ``application/vnd.plotly.v1+json``; the notebooks keep
    plain plotly figures as that JSON only, so JupyterLab never loads plotly.js from a CDN.
    """
    import plotly.io as pio

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            spec = data.get("application/vnd.plotly.v1+json")
            if spec is not None and "text/html" not in data:
                data["text/html"] = pio.to_html(
                    spec, include_plotlyjs="cdn", full_html=False, validate=False
                )
    return nb


def write_html(names: list[str], out_dir: Path) -> int:
    """Execute the saved notebooks (not the sources) and write HTML copies to ``out_dir``."""
    import shutil

    import plotly
    from nbconvert import HTMLExporter

    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(
        Path(plotly.__file__).parent / "package_data" / "plotly.min.js", out_dir / "plotly.min.js"
    )
    paths = sorted(HERE.glob("[0-9][0-9]-*.ipynb"))
    if names:
        paths = [p for p in paths if any(p.stem.startswith(n) for n in names)]
    exporter = HTMLExporter()
    for path in paths:
        started = time.perf_counter()
        nb = plotly_html(strip_widgets(execute(nbformat.read(path, as_version=4))))
        body, _ = exporter.from_notebook_node(nb)
        target = out_dir / f"{path.stem}.html"
        target.write_text(_local_plotly(body), encoding="utf-8")
        print(f"{target}  {time.perf_counter() - started:5.1f} s")
    return 0


def selected(names: list[str]) -> list[Path]:
    sources = sorted(SOURCES.glob("[0-9][0-9]-*.py"))
    if not names:
        return sources
    chosen = [s for s in sources if any(s.stem == n or s.stem.startswith(n) for n in names)]
    missing = [n for n in names if not any(s.stem.startswith(n) for s in sources)]
    if missing:
        raise SystemExit(f"_build.py: no source for {', '.join(missing)} in {SOURCES}")
    return chosen


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    return [(c.cell_type, c.source, list(c.metadata.get("tags", []))) for c in nb.cells]


def check(sources: list[Path]) -> int:
    """Exit status 1 when a saved notebook's cells are not exactly its source's cells."""
    stale = []
    for source in sources:
        target = HERE / f"{source.stem}.ipynb"
        if not target.exists():
            stale.append(f"{target.name}: missing")
            continue
        saved = nbformat.read(target, as_version=4)
        built = build_notebook(source)
        if _cells(saved) != _cells(built):
            stale.append(f"{target.name}: cells differ from _src/{source.name}")
    for line in stale:
        print(line, file=sys.stderr)
    if stale:
        print("rebuild with: python notebooks/_build.py", file=sys.stderr)
    return 1 if stale else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="numbers or names (default: all)")
    parser.add_argument("--no-execute", action="store_true", help="write cells, no outputs")
    parser.add_argument("--check", action="store_true", help="compare saved cells to sources")
    parser.add_argument(
        "--html",
        metavar="DIR",
        type=Path,
        help="execute the saved notebooks in $NBTRACK_STORE, HTML copies to DIR",
    )
    args = parser.parse_args(argv)
    if args.html:
        return write_html(args.notebooks, args.html.resolve())
    sources = selected(args.notebooks)
    if args.check:
        return check(sources)
    with tempfile.TemporaryDirectory(prefix="nbtrack-build-") as tmp:
        # One store for the whole build: 05-dashboard shows what 01–04 logged.
        os.environ["NBTRACK_STORE"] = str(Path(tmp) / "store")
        for source in sources:
            nb = build_notebook(source)
            started = time.perf_counter()
            if not args.no_execute:
                execute(nb)
                for line in slow_cells(nb):
                    print(line)
                strip_widgets(nb)
            target = HERE / f"{source.stem}.ipynb"
            nbformat.validate(nb)
            nbformat.write(nb, target)
            size = target.stat().st_size / 1024
            print(
                f"{target.name:<32} {len(nb.cells):3d} cells  {size:7.1f} KiB  "
                f"{time.perf_counter() - started:5.1f} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
