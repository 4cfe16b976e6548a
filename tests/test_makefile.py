"""``make demo`` shows progress while it installs (issue 11): it was silent for minutes.

``make -n`` prints the commands a fresh checkout would run (a virtualenv path that does not
exist yet forces every install step), without running them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_demo_announces_each_step_and_lets_pip_report_progress(tmp_path: Path) -> None:
    done = subprocess.run(
        ["make", "-n", "demo", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    )
    commands = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    installs = [i for i, c in enumerate(commands) if " install " in c and "/pip " in c]
    assert installs, commands
    for i in installs:
        assert "--quiet" not in commands[i].split() and " -q" not in commands[i], commands[i]
        assert commands[i - 1].startswith("echo") and "installing" in commands[i - 1]
    steps = [c for c in commands if c.startswith('echo "==> [')]
    assert [s.split("]")[0][-3:] for s in steps] == ["1/3", "2/3", "3/3"]
