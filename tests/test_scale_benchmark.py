"""``benchmarks/scale.py --quick`` runs end to end and reports every phase (a smoke test).

The benchmark itself (1k to 100k runs, 100M points) is run by hand; its numbers are in
docs/scaling.md. Here it builds two tiny stores and checks the table's shape, not times.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_scale_benchmark_quick_reports_every_phase(tmp_path: Path) -> None:
    script = ROOT / "benchmarks" / "scale.py"
    sys.path.insert(0, str(script.parent))
    try:
        import scale
    finally:
        sys.path.remove(str(script.parent))
    plot = tmp_path / "curves.png"
    out = subprocess.run(
        [
            sys.executable,
            str(script),
            "--quick",
            "--stores",
            str(tmp_path / "stores"),
            "--plot",
            str(plot),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert lines[0].startswith("load average ")
    header = next(line for line in lines if line.startswith("| |"))
    assert "101 runs" in header and "301 runs" in header
    for label, _key in scale.PHASES:
        row = next((line for line in lines if line.startswith(f"| {label} |")), None)
        assert row is not None, f"no row for {label!r}:\n{out.stdout}"
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        assert len(cells) == 2 and all(c.endswith(" ms") for c in cells), row
    for label in ("search rows matched", "metrics bytes per point", "files (metrics files)"):
        assert any(line.startswith(f"| {label} |") for line in lines), label
    matched = next(line for line in lines if line.startswith("| search rows matched |"))
    assert all(int(c.strip().replace(",", "")) > 0 for c in matched.strip("|").split("|")[1:])
    # the stores are kept: a second run reuses them (the marker of a finished build)
    assert len(list((tmp_path / "stores").glob("*/built.json"))) == 2
    assert (tmp_path / "stores" / "results.json").exists()
    if importlib.util.find_spec("matplotlib") is not None:  # the plot is optional
        assert plot.stat().st_size > 10_000
    else:
        assert "plot: no matplotlib" in out.stdout
